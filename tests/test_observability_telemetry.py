"""Logs, traces and their collectors: config rules, the pure collector configurations, the dev and
prod plans (identities, buckets, network, mesh tracing, Grafana's datasources), and where the chart
cache is filled the rendered Loki, Tempo and collector charts wired to each other."""

from __future__ import annotations

from typing import Any

import yaml

from components.kube.authz import principal
from components.observability.values_otel import agent_config, gateway_config
from stacks.config_telemetry import GATEWAY_PODS, OTLP_GRPC_PORT, TRACING_PROVIDER
from tests.conftest import config_problems, config_with, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

CHART = "kubernetes:helm.sh/v4:Chart"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
GCP_SA = "gcp:serviceaccount/account:Account"


def _chart(plan: Plan, suffix: str) -> dict[str, Any]:
    (chart,) = [c for c in plan.by_type(CHART) if c["name"].endswith(suffix)]
    return chart


def _values(plan: Plan, suffix: str) -> dict[str, Any]:
    values: dict[str, Any] = _chart(plan, suffix)["inputs"]["values"]
    return values


def _gsa(plan: Plan, workload: str) -> str:
    (sa,) = [
        r for r in plan.by_type(GCP_SA) if r["name"].endswith(f"-{workload}") and "-wl-" in r["inputs"]["accountId"]
    ]
    return f"{sa['inputs']['accountId']}@{stack_cfg(plan.stack).project}.iam.gserviceaccount.com"


# ---------------------------------------------------------------- bad input
def test_prod_keeps_three_copies_of_logs_and_traces_and_two_gateways() -> None:
    found = config_problems(
        "prod",
        observability={"logs": {"replicas": 2}, "traces": {"ingesters": 1}, "collectors": {"gatewayReplicas": 1}},
    )
    assert found == [
        "observability.logs.replicas = 2: at least 3 in prod (replication factor 3)",
        "observability.collectors.gatewayReplicas = 1: at least 2 in prod",
        "observability.traces.ingesters = 1: at least 3 in prod (replication factor 3)",
    ]


def test_a_backend_must_write_its_bucket_as_its_own_identity() -> None:
    (wrong,) = config_problems("dev", observability={"logs": {"workload": "cells"}})
    assert wrong.startswith("observability.logs.workload = 'cells': must be an ai-estate:identity.workloads entry")
    bucket, workload = config_problems("dev", observability={"traces": {"bucket": "nope"}})
    assert bucket.startswith("observability.traces.bucket = 'nope': must be an ai-estate:storage.buckets entry")
    assert workload.startswith("observability.traces.workload = 'tempo': ") and "'nope': 'writer'" in workload


def test_the_agent_namespace_cannot_be_an_application_namespace() -> None:
    (message,) = config_problems("dev", observability={"collectors": {"agentNamespace": "cells"}})
    assert message.startswith("observability.collectors.agentNamespace = 'cells': must not be an ai-estate:namespaces")


def test_a_bad_retention_stops_the_program_before_any_resource() -> None:
    plan = run_plan("dev", config=config_with("dev", observability={"logs": {"retentionDays": 0}}))
    assert plan.resources == [] and plan.error is not None
    assert "observability.logs.retentionDays = 0" in plan.error and "Traceback" not in plan.error


# ---------------------------------------------------------------- the collectors' configurations (pure)
def test_the_gateway_sends_each_signal_to_its_backend_and_metrics_to_every_replica() -> None:
    proms = ["http://p-0:9090", "http://p-1:9090"]
    config = gateway_config(tempo="t:4317", loki="http://l:3100/otlp", tenant="acme", prometheus=proms)
    pipes = config["service"]["pipelines"]
    assert pipes["traces"]["exporters"] == ["otlp/tempo"] and pipes["logs"]["exporters"] == ["otlphttp/loki"]
    assert pipes["metrics"]["exporters"] == ["otlphttp/prometheus-0", "otlphttp/prometheus-1"]
    assert config["exporters"]["otlphttp/prometheus-1"]["endpoint"] == "http://p-1:9090/api/v1/otlp"
    assert config["exporters"]["otlphttp/loki"]["headers"] == {"X-Scope-OrgID": "acme"}
    assert all(p["processors"] == ["memory_limiter", "batch"] for p in pipes.values())
    # No receiver of the chart's defaults (jaeger, zipkin, prometheus): OTLP only.
    assert set(config["receivers"]) == {"otlp"} and "health_check" in config["service"]["extensions"]
    # Without Tempo and Loki the gateway takes metrics only.
    bare = gateway_config(tempo=None, loki=None, tenant="", prometheus=proms)
    assert set(bare["service"]["pipelines"]) == {"metrics"}


def test_the_agent_sends_only_logs_and_only_to_the_gateway() -> None:
    config = agent_config(gateway="gw:4317")
    assert set(config["service"]["pipelines"]) == {"logs"}
    assert config["exporters"] == {"otlp/gateway": {"endpoint": "gw:4317", "tls": {"insecure": True}}}


# ---------------------------------------------------------------- the plans
def test_loki_writes_its_bucket_as_its_own_identity_and_keeps_copies(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    logs = cfg.observability.logs
    values = _values(plan, "-logs-chart")
    assert values["deploymentMode"] == "Monolithic"
    assert values["loki"]["storage"] == {"type": "gcs", "bucketNames": {"chunks": f"{cfg.project}-{logs.bucket}"}}
    assert values["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"] == _gsa(plan, logs.workload)
    assert values["singleBinary"]["replicas"] == logs.replicas
    assert values["loki"]["commonConfig"]["replication_factor"] == min(logs.replicas, 3)
    assert values["loki"]["limits_config"]["retention_period"] == f"{logs.retention_days * 24}h"
    assert values["loki"]["compactor"]["retention_enabled"] is True
    assert values["loki"]["auth_enabled"] is True
    (schema,) = values["loki"]["schemaConfig"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "gcs")
    # Caches sized from config, not the chart's 8 GB.
    assert values["chunksCache"]["allocatedMemory"] == logs.chunks_cache_mb
    assert values["singleBinary"]["persistence"]["storageClass"] == "premium-rwo"
    off = ("gateway", "lokiCanary", "test", "ruler")
    assert all(values[k]["enabled"] is False for k in off)


def test_tempo_writes_its_bucket_and_keeps_copies(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    traces = cfg.observability.traces
    values = _values(plan, "-traces-chart")
    assert values["storage"]["trace"] == {"backend": "gcs", "gcs": {"bucket_name": f"{cfg.project}-{traces.bucket}"}}
    assert values["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"] == _gsa(plan, traces.workload)
    assert values["ingester"]["replicas"] == traces.ingesters
    assert values["ingester"]["config"]["replication_factor"] == min(traces.ingesters, 3)
    assert values["ingester"]["persistence"]["enabled"] is True
    assert values["compactor"]["config"]["compaction"]["block_retention"] == f"{traces.retention_hours}h"
    assert values["traces"]["otlp"]["grpc"]["enabled"] is True
    assert values["metricsGenerator"]["enabled"] is False and values["gateway"]["enabled"] is False


def test_every_namespace_may_send_otlp_to_the_gateway_only(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.observability.namespace
    egress = {
        p["inputs"]["metadata"]["namespace"]: p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["name"] == "allow-otlp"
    }
    assert set(egress) == (set(cfg.namespaces) - {ns}) | {"istio-ingress"}
    for spec in egress.values():
        (rule,) = spec["egress"]
        (peer,) = rule["to"]
        assert peer["podSelector"]["matchLabels"] == dict(GATEWAY_PODS)
        assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": ns}
        assert {p["port"] for p in rule["ports"]} == {4317, 4318, 15008}
    (authz,) = [
        p
        for p in plan.by_type(AUTHZ)
        if p["inputs"]["metadata"]["name"] == "allow-otlp" and p["inputs"]["metadata"]["namespace"] == ns
    ]
    spec = authz["inputs"]["spec"]
    assert spec["selector"]["matchLabels"] == dict(GATEWAY_PODS)
    principals = set(spec["rules"][0]["from"][0]["source"]["principals"])
    workloads = {
        principal(w.namespace, w.service_account) for w in cfg.identity.workloads.values() if w.namespace != ns
    }
    agent = principal(cfg.observability.collectors.agent_namespace, "otel-agent")
    assert principals == workloads | {principal("istio-ingress", "istio-ingressgateway"), agent}


def test_the_agents_namespace_is_privileged_closed_and_scraped_only(plan: Plan) -> None:
    agent_ns = stack_cfg(plan.stack).observability.collectors.agent_namespace
    (namespace,) = [
        r for r in plan.by_type("kubernetes:core/v1:Namespace") if r["inputs"]["metadata"]["name"] == agent_ns
    ]
    labels = namespace["inputs"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["istio.io/dataplane-mode"] == "ambient"
    policies = {
        p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]
        for p in plan.by_type(AUTHZ)
        if p["inputs"]["metadata"]["namespace"] == agent_ns
    }
    assert policies["deny-all"] == {} and set(policies) == {"deny-all", "allow-prometheus"}
    netpols = {
        p["inputs"]["metadata"]["name"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == agent_ns
    }
    assert {"default-deny", "allow-otlp-to-gateway", "allow-prometheus", "allow-dns"} <= netpols


def test_the_mesh_traces_through_the_collector_at_the_configured_rate(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack).observability
    mesh = _values(plan, "-mesh-istiod")["meshConfig"]
    (provider,) = [p for p in mesh["extensionProviders"] if "opentelemetry" in p]
    assert provider == {
        "name": TRACING_PROVIDER,
        "opentelemetry": {"service": f"otel-gateway.{cfg.namespace}.svc.cluster.local", "port": OTLP_GRPC_PORT},
    }
    (telemetry,) = plan.by_type("kubernetes:telemetry.istio.io/v1:Telemetry")
    assert telemetry["inputs"]["metadata"]["namespace"] == "istio-system"
    (tracing,) = telemetry["inputs"]["spec"]["tracing"]
    assert tracing == {
        "providers": [{"name": TRACING_PROVIDER}],
        "randomSamplingPercentage": cfg.traces.sampling_percent,
    }
    assert crd_problems(telemetry["inputs"]) == []


def test_grafana_reads_logs_as_the_tenant_and_links_logs_traces_and_metrics(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack).observability
    grafana = _values(plan, "-metrics-chart")["grafana"]
    sources = {d["uid"]: d for d in grafana["additionalDataSources"]}
    loki, tempo = sources["loki"], sources["tempo"]
    assert loki["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert loki["secureJsonData"]["httpHeaderValue1"] == cfg.logs.tenant
    assert loki["url"] == f"http://loki.{cfg.namespace}.svc:3100"
    assert loki["jsonData"]["derivedFields"][0]["datasourceUid"] == "tempo"
    assert tempo["url"] == f"http://tempo-query-frontend.{cfg.namespace}.svc:3200"
    assert tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert tempo["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"
    exemplars = grafana["sidecar"]["datasources"]["exemplarTraceIdDestinations"]
    assert exemplars["datasourceUid"] == "tempo" and grafana["sidecar"]["datasources"]["uid"] == "prometheus"


# ---------------------------------------------------------------- rendered charts, wired to each other
_RENDERED: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
KEYS = {"-logs-chart": "loki", "-traces-chart": "tempo-distributed"}


def _rendered(plan: Plan, suffix: str) -> tuple[dict[str, Any], ...]:
    """The plan's chart ending in `suffix`, rendered (once per stack); skips without the cache."""
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache_dir = require_charts(KEYS.get(suffix, "opentelemetry-collector"))
    if (plan.stack, suffix) not in _RENDERED:
        (outcome,) = render_charts([_chart(plan, suffix)], cache_dir)
        _RENDERED[plan.stack, suffix] = tuple(o["inputs"] for o in outcome.children)
    return _RENDERED[plan.stack, suffix]


def _services(objects: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}


def test_the_gateway_sends_to_services_the_backends_render(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack).observability
    gateway = _rendered(plan, "-collectors-gateway")
    (relay,) = [o for o in gateway if o["kind"] == "ConfigMap"]
    exporters = yaml.safe_load(relay["data"]["relay"])["exporters"]
    loki = _services(_rendered(plan, "-logs-chart"))
    tempo = _services(_rendered(plan, "-traces-chart"))

    host, port = exporters["otlp/tempo"]["endpoint"].split(":")
    assert host == f"tempo-distributor.{cfg.namespace}.svc"
    assert int(port) in {p["port"] for p in tempo["tempo-distributor"]["spec"]["ports"]}
    url = exporters["otlphttp/loki"]["endpoint"]
    assert url == f"http://loki.{cfg.namespace}.svc:3100/otlp"
    assert 3100 in {p["port"] for p in loki["loki"]["spec"]["ports"]}
    proms = [k for k in exporters if k.startswith("otlphttp/prometheus-")]
    assert len(proms) == cfg.prometheus.replicas
    # What Grafana queries exists too.
    assert 3200 in {p["port"] for p in tempo["tempo-query-frontend"]["spec"]["ports"]}


def test_the_agent_alone_reads_the_nodes_and_only_their_logs(plan: Plan) -> None:
    agent = _rendered(plan, "-collectors-agent")
    (ds,) = [o for o in agent if o["kind"] == "DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["runAsUser"] == 0 and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False
    paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert paths == {"/var/log/pods", "/var/lib/docker/containers", "/var/lib/otelcol"}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts["/var/log/pods"] and mounts["/var/lib/docker/containers"] and not mounts["/var/lib/otelcol"]
    assert not any(p.get("hostPort") for p in container.get("ports", []))
    assert pod["tolerations"] == [{"operator": "Exists"}] and pod["automountServiceAccountToken"] is False
    # The gateway is an ordinary restricted pod.
    (deploy,) = [o for o in _rendered(plan, "-collectors-gateway") if o["kind"] == "Deployment"]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True


def _selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector["matchLabels"].items() <= labels.items():
        return False
    return all(labels.get(e["key"]) not in e["values"] for e in selector.get("matchExpressions", []))


def test_the_monitors_scrape_each_component_once(plan: Plan) -> None:
    """Each ServiceMonitor reaches every component's metrics port once: not the headless twins, not
    a port that names an exporter the estate does not run."""
    monitors = {
        m["inputs"]["metadata"]["name"]: m["inputs"]["spec"]
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    }
    expected = {
        "loki": ("-logs-chart", {"single-binary"}),
        "tempo": ("-traces-chart", {"compactor", "distributor", "ingester", "querier", "query-frontend"}),
    }
    for name, (suffix, components) in expected.items():
        spec = monitors[name]
        port = spec["endpoints"][0]["port"]
        scraped = [
            s["metadata"]["labels"]["app.kubernetes.io/component"]
            for s in _services(_rendered(plan, suffix)).values()
            if _selected(spec["selector"], s["metadata"]["labels"]) and port in {p["name"] for p in s["spec"]["ports"]}
        ]
        assert sorted(scraped) == sorted(components), name


def test_the_node_exporter_runs_beside_the_agents_and_prometheus_reaches_the_nodes(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    agents = cfg.observability.collectors.agent_namespace
    values = _values(plan, "-metrics-chart")
    assert values["nodeExporter"]["enabled"] is True
    exporter = values["prometheus-node-exporter"]
    assert exporter["namespaceOverride"] == agents
    assert exporter["securityContext"]["runAsNonRoot"] is True and exporter["securityContext"]["runAsUser"] == 65534
    assert exporter["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    (kubelets,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["name"] == "allow-kubelets"
        and p["inputs"]["metadata"]["namespace"] == cfg.observability.namespace
    ]
    assert {p["port"] for p in kubelets["egress"][0]["ports"]} == {10250, 9100}


def test_only_the_node_agents_are_exempted_from_the_node_rules(plan: Plan) -> None:
    """The host's namespaces and paths are exempted for the two node agents, by name, and nothing
    else of their namespace."""
    import json
    from pathlib import Path

    agents = stack_cfg(plan.stack).observability.collectors.agent_namespace
    config = json.loads((Path(__file__).resolve().parent.parent / "policies" / f"{plan.stack}.json").read_text())
    exempted = {
        (policy, e["resource"])
        for policy, entry in config.items()
        for e in entry.get("exemptions", [])
        if e["resource"].split("/")[0] == agents
    }
    assert exempted == {
        ("estate-workloads-namespace-pod-security", agents),
        # The admission guardrails would refuse exactly what the per-workload exemptions allow.
        ("estate-workloads-admission-guardrails", agents),
        ("estate-workloads-run-as-non-root", f"{agents}/otel-agent"),
        ("estate-workloads-volume-types", f"{agents}/otel-agent"),
        ("estate-workloads-volume-types", f"{agents}/node-exporter"),
        ("estate-workloads-host-namespaces", f"{agents}/node-exporter"),
    }
