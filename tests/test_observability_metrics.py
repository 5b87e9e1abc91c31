"""The metrics stack: config rules, the alert rules and Alertmanager's configuration (pure), the
chart's values, and the dev and prod plans; the rendered chart where the cache is filled."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.kube.authz import principal
from components.observability import alerting
from components.observability.rules import CLOUD_SQL_BACKENDS, rules
from components.observability.transforms import DEPENDS_ON
from stacks.cidr import plan_cidrs
from stacks.config_observability import PROMETHEUS_SERVICE_ACCOUNT, Paging, Thresholds
from tests.conftest import config_problems, config_with, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

CHART = "kubernetes:helm.sh/v4:Chart"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def problems(stack: str, **observability: Any) -> list[str]:
    return config_problems(stack, observability=observability)


def _values(plan: Plan) -> dict[str, Any]:
    (chart,) = [c for c in plan.by_type(CHART) if c["name"].endswith("-metrics-chart")]
    values: dict[str, Any] = chart["inputs"]["values"]
    return values


def _alerts(thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    (obj,) = rules("observability", thresholds)
    return {r["alert"]: r for g in obj["spec"]["groups"] for r in g["rules"]}


# ---------------------------------------------------------------- bad input
def test_a_threshold_out_of_range_names_its_key() -> None:
    (message,) = problems("dev", thresholds={"memoryRatio": 1.5})
    assert message.startswith("observability.thresholds.memoryRatio = 1.5: ")


def test_a_bad_receiver_names_its_key() -> None:
    (message,) = problems("dev", paging={"pagerdutySecret": "PagerDuty Key"})
    assert message.startswith("observability.paging.pagerdutySecret = 'PagerDuty Key': ")
    same = problems("dev", paging={"warningWebhookSecret": "pagerduty-routing-key"})
    assert same == [
        "observability.paging.warningWebhookSecret = 'pagerduty-routing-key': must differ from pagerdutySecret"
    ]


def test_a_bad_threshold_stops_the_program_before_any_resource() -> None:
    plan = run_plan("dev", config=config_with("dev", observability={"thresholds": {"gpuUtilizationPercent": 120}}))
    assert plan.resources == [] and plan.error is not None
    assert "observability.thresholds.gpuUtilizationPercent = 120" in plan.error and "Traceback" not in plan.error


def test_prod_runs_an_ha_pair_and_three_alertmanagers() -> None:
    found = problems("prod", prometheus={"replicas": 1}, alertmanager={"replicas": 2})
    assert found == [
        "observability.prometheus.replicas = 1: at least 2 in prod (an HA pair)",
        "observability.alertmanager.replicas = 2: 3 in prod",
    ]


# ---------------------------------------------------------------- rules and routing (pure)
def test_the_seed_alerts_keep_their_thresholds_and_durations() -> None:
    alerts = _alerts(Thresholds(error_rate=0.5, memory_ratio=0.8, gpu_utilization_percent=90, database_connections=70))
    assert {a: (r["for"], r["labels"]["severity"]) for a, r in alerts.items() if a in _alerts(Thresholds())} == {
        "HighErrorRate": ("5m", "critical"),
        "HighMemoryUsage": ("5m", "warning"),
        "GPUUtilizationHigh": ("10m", "warning"),
        "DatabaseConnectionsHigh": ("5m", "warning"),
        "EstateControllerDown": ("5m", "critical"),
        "GPUPodPending": ("15m", "warning"),
        "CertificateExpiringSoon": ("1h", "warning"),
        "CertificateExpiringVerySoon": ("10m", "critical"),
        "CertificateNotReady": ("30m", "warning"),
    }
    assert alerts["HighErrorRate"]["expr"].endswith("> 0.5")
    assert alerts["HighMemoryUsage"]["expr"].endswith("> 0.8")
    # The metric DCGM really emits, not the seed's nvidia_gpu_utilization.
    assert alerts["GPUUtilizationHigh"]["expr"] == "DCGM_FI_DEV_GPU_UTIL > 90"
    # Cloud SQL's own connection count, through the Cloud Monitoring bridge.
    assert alerts["DatabaseConnectionsHigh"]["expr"] == f"max by (database_id, database) ({CLOUD_SQL_BACKENDS}) > 70"
    for rule in alerts.values():
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        assert "Source: " in rule["annotations"]["description"]
    assert crd_problems(rules("observability", Thresholds())[0]) == []


def test_critical_alerts_page_and_silence_their_warnings() -> None:
    cfg = alerting.config(Paging())
    (page, default_route) = cfg["route"]["routes"][1], cfg["route"]["receiver"]
    assert page == {"matchers": ['severity = "critical"'], "receiver": "pagerduty"} and default_route == "warnings"
    receivers = {r["name"]: r for r in cfg["receivers"]}
    (pd,) = receivers["pagerduty"]["pagerduty_configs"]
    assert pd["routing_key_file"] == f"{alerting.CONFIG_DIR}/{alerting.ROUTING_KEY}"
    assert "webhook_configs" not in receivers["warnings"]
    assert cfg["inhibit_rules"][0]["source_matchers"] == ['severity = "critical"']
    assert cfg["route"]["repeat_interval"] == "4h"
    with_webhook = alerting.config(Paging(warning_webhook_secret="alerts-webhook"))
    (hook,) = {r["name"]: r for r in with_webhook["receivers"]}["warnings"]["webhook_configs"]
    assert hook["url_file"] == f"{alerting.CONFIG_DIR}/{alerting.WARNING_URL}"


def test_the_config_secret_holds_the_configuration_and_the_keys_as_files() -> None:
    paging = Paging(warning_webhook_secret="alerts-webhook")
    templates = alerting.secret_templates(paging)
    assert yaml.safe_load(templates[alerting.CONFIG_KEY]) == alerting.config(paging)
    assert templates[alerting.ROUTING_KEY] == "{{ .pagerduty_routing_key }}"
    assert alerting.secret_data(paging, lambda k: f"estate-dev-{k}") == {
        alerting.ROUTING_KEY: "estate-dev-pagerduty-routing-key",
        alerting.WARNING_URL: "estate-dev-alerts-webhook",
    }


# ---------------------------------------------------------------- the plans
def test_the_stack_fits_gke_and_takes_nothing_from_hooks(plan: Plan) -> None:
    values = _values(plan)
    hooks = values["prometheusOperator"]["admissionWebhooks"]
    assert hooks["failurePolicy"] == "Fail" and hooks["patch"] == {"enabled": False}
    assert hooks["certManager"]["enabled"] is True and hooks["certManager"]["issuerRef"]["kind"] == "ClusterIssuer"
    for off in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy", "coreDns"):
        assert values[off] == {"enabled": False}, off
    assert values["kubeDns"] == {"enabled": True} and values["crds"]["upgradeJob"] == {"enabled": False}
    spec = values["prometheus"]["prometheusSpec"]
    for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    cfg = stack_cfg(plan.stack).observability
    assert spec["replicas"] == cfg.prometheus.replicas and spec["retention"] == f"{cfg.prometheus.retention_days}d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{cfg.prometheus.storage_gb}Gi"
    assert spec["enableOTLPReceiver"] is True
    am = values["alertmanager"]["alertmanagerSpec"]
    assert am["replicas"] == cfg.alertmanager.replicas
    assert am["useExistingSecret"] is True and am["configSecret"] == alerting.CONFIG_SECRET
    assert values["prometheus"]["podDisruptionBudget"]["enabled"] is (plan.stack == "prod")


def test_the_paging_key_is_a_container_a_person_fills(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    secret_id = f"{cfg.prefix}-{cfg.observability.paging.pagerduty_secret}"
    (secret,) = [s for s in plan.by_type("gcp:secretmanager/secret:Secret") if s["inputs"]["secretId"] == secret_id]
    assert secret["options"]["protect"] is (plan.stack == "prod")
    versions = plan.by_type("gcp:secretmanager/secretVersion:SecretVersion")
    assert not [v for v in versions if secret_id in str(v["inputs"].get("secret"))]
    (es,) = [
        e
        for e in plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e["inputs"]["spec"]["target"]["name"] == alerting.CONFIG_SECRET
    ]
    # Not waited for: the first `up` does not hang until someone sets the key.
    assert "pulumi.com/waitFor" not in (es["inputs"]["metadata"].get("annotations") or {})
    assert set(es["inputs"]["spec"]["target"]["template"]["data"]) == {alerting.CONFIG_KEY, alerting.ROUTING_KEY}
    assert es["inputs"]["spec"]["data"] == [
        {"secretKey": alerting.ROUTING_KEY, "remoteRef": {"key": secret_id, "version": "latest"}}
    ]
    assert crd_problems(es["inputs"]) == []


def test_every_application_namespace_admits_prometheus(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.observability.namespace
    prom = principal(ns, PROMETHEUS_SERVICE_ACCOUNT)
    admitted = {
        p["inputs"]["metadata"]["namespace"]
        for p in plan.by_type(AUTHZ)
        if p["inputs"]["metadata"]["name"] == "allow-prometheus"
        and p["inputs"]["spec"]["rules"][0]["from"][0]["source"]["principals"] == [prom]
    }
    # ... and the node agents' namespace, which the observability layer makes (its agents' metrics)
    assert admitted == set(cfg.namespaces) - {ns} | {cfg.observability.collectors.agent_namespace}
    own = {p["inputs"]["metadata"]["name"] for p in plan.by_type(NETPOL) if p["inputs"]["metadata"]["namespace"] == ns}
    assert {"allow-operator-webhook", "allow-kubelets", "allow-alertmanager-gossip", "allow-callees"} <= own
    (gossip,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == ns and p["inputs"]["metadata"]["name"] == "allow-alertmanager-gossip"
    ]
    assert {(q["protocol"], q["port"]) for q in gossip["ingress"][0]["ports"]} == {("TCP", 9094), ("UDP", 9094)}


def test_the_rendered_rules_wait_for_the_operators_webhook(dev_plan: Plan) -> None:
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("kube-prometheus-stack")
    (chart,) = [c for c in dev_plan.by_type(CHART) if c["name"].endswith("-metrics-chart")]
    (outcome,) = render_charts([chart], cache)
    objects = [c["inputs"] for c in outcome.children]
    rules_ = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert rules_ and all(DEPENDS_ON in o["metadata"]["annotations"] for o in rules_)
    hooks = [o for o in objects if o["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")]
    assert len(hooks) == 2 and all(w["failurePolicy"] == "Fail" for h in hooks for w in h["webhooks"])
    needed = set(rules_[0]["metadata"]["annotations"][DEPENDS_ON].split(","))
    names = {f"admissionregistration.k8s.io/{h['kind']}/{h['metadata']['name']}" for h in hooks}
    assert names <= needed
    (cert,) = [o for o in objects if o["kind"] == "Certificate"]
    assert cert["spec"]["issuerRef"]["kind"] == "ClusterIssuer" and not [o for o in objects if o["kind"] == "Issuer"]
    assert not [o for o in objects if o["kind"] == "Job"]
    # The one DaemonSet is the node exporter, in the node agents' namespace.
    (ds,) = [o for o in objects if o["kind"] == "DaemonSet"]
    agents = stack_cfg("dev").observability.collectors.agent_namespace
    assert (ds["metadata"]["name"], ds["metadata"]["namespace"]) == ("node-exporter", agents)


# ---------------------------------------------------------------- Grafana
def test_grafana_is_reached_over_the_gateway_and_never_anonymously(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    host = f"grafana.{cfg.dns.domain}"
    g = _values(plan)["grafana"]
    assert g["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert g["testFramework"] == {"enabled": False} and g["initChownData"] == {"enabled": False}
    assert g["persistence"]["lookupVolumeName"] is False and g["deploymentStrategy"] == {"type": "Recreate"}
    assert g["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    ini = g["grafana.ini"]
    assert ini["server"]["root_url"] == f"https://{host}" and ini["auth.anonymous"] == {"enabled": False}
    assert ini["analytics"]["reporting_enabled"] is False and "auth.google" not in ini
    (route,) = [
        v for v in plan.by_type("kubernetes:networking.istio.io/v1:VirtualService") if v["name"].endswith("-grafana")
    ]
    dest = route["inputs"]["spec"]["http"][0]["route"][0]["destination"]
    assert dest == {"host": f"grafana.{cfg.observability.namespace}.svc.cluster.local", "port": {"number": 80}}
    (admin,) = [
        e
        for e in plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e["inputs"]["spec"]["target"]["name"] == "grafana-admin"
    ]
    assert admin["inputs"]["spec"]["target"]["template"]["data"]["admin-user"] == "admin"
    assert admin["inputs"]["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_google_sign_in_needs_its_domains_and_reads_its_client_from_files() -> None:
    (message,) = problems("dev", grafana={"googleSignIn": {"enabled": True}})
    assert message.startswith("observability.grafana.googleSignIn.allowedDomains = []: name at least one domain")
    from components.observability.grafana import OAUTH_DIR, grafana_values
    from stacks.config_observability import Grafana

    cfg = Grafana.model_validate({"googleSignIn": {"enabled": True, "allowedDomains": ["example.org"]}})
    values = grafana_values(stack_ctx("dev"), cfg, host="grafana.example.org", namespace="observability")
    google = values["grafana.ini"]["auth.google"]
    assert (
        google["client_secret"] == f"$__file{{{OAUTH_DIR}/client_secret}}"
        and google["allowed_domains"] == "example.org"
    )
    assert values["extraSecretMounts"][0]["mountPath"] == OAUTH_DIR


def test_grafanas_host_must_route_to_grafana() -> None:
    mesh = stack_cfg("dev").mesh.model_dump(by_alias=True, exclude_none=True)
    mesh["hosts"]["grafana"]["backend"]["port"] = 3000
    (message,) = config_problems("dev", mesh=mesh)
    assert message.startswith("observability.grafana.host = 'grafana': must be a mesh.hosts entry with backend")


def stack_ctx(stack: str) -> Any:
    """A chart context with placeholder digests, for value builders called outside a plan."""
    from components.kube.values import ChartContext, PinnedImage

    cfg = stack_cfg(stack)
    images = {
        k: PinnedImage(repository=f"r.example/{k}", digest="sha256:" + "0" * 64, tag=v.tag)
        for k, v in cfg.registry.images.items()
    }
    return ChartContext(cfg.environment, cfg.project, cfg.region, "c", "l", images)


# ---------------------------------------------------------------- SLOs and PromQL
def test_every_promql_expression_of_the_plan_parses(plan: Plan) -> None:
    import promql_parser

    exprs = [
        r["expr"]
        for obj in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        for g in obj["inputs"]["spec"]["groups"]
        for r in g["rules"]
    ]
    assert len(exprs) >= 20  # the estate alerts, and the SLO records and alerts
    for expr in exprs:
        promql_parser.parse(expr)
    with pytest.raises(ValueError):
        promql_parser.parse("sum by (namespace (rate(x[5m]))")


def test_every_promql_expression_the_chart_renders_parses(dev_plan: Plan) -> None:
    import promql_parser

    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("kube-prometheus-stack")
    (chart,) = [c for c in dev_plan.by_type(CHART) if c["name"].endswith("-metrics-chart")]
    (outcome,) = render_charts([chart], cache)
    exprs = [
        r["expr"]
        for o in outcome.children
        if o["inputs"]["kind"] == "PrometheusRule"
        for g in o["inputs"]["spec"]["groups"]
        for r in g["rules"]
    ]
    assert len(exprs) > 100
    for expr in exprs:
        promql_parser.parse(expr)


def test_slos_burn_their_budget_over_two_windows_each(plan: Plan) -> None:
    from components.observability.slo import BURNS, WINDOWS

    cfg = stack_cfg(plan.stack).observability
    (slo_rule,) = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r["name"].endswith("slo-api-gateway")
    ]
    records, alerts = slo_rule["inputs"]["spec"]["groups"]
    assert {r["record"] for r in records["rules"]} == {
        f"slo:api_gateway:{kind}_ratio:rate{w}" for kind in ("error", "slow") for w in WINDOWS
    }
    slow = next(r["expr"] for r in records["rules"] if r["record"] == "slo:api_gateway:slow_ratio:rate5m")
    # Prometheus 3 stores `le` as a float: 200 ms is "200.0"
    assert f'le="{cfg.slos["api-gateway"].latency_ms}.0"' in slow and 'source_workload="istio-ingressgateway"' in slow
    assert len(alerts["rules"]) == 2 * len(BURNS)
    page = alerts["rules"][0]
    assert page["labels"]["severity"] == "critical" and "(14.4 * 0.001)" in page["expr"]
    assert crd_problems(slo_rule["inputs"]) == []


def test_an_slo_latency_must_be_a_gateway_bucket() -> None:
    (message,) = problems("dev", slos={"api-gateway": {"latencyMs": 180}})
    assert message.startswith(
        "observability.slos.api-gateway.latencyMs = 180: must be one of the gateway's histogram buckets"
    )


def test_the_gateway_measures_the_slo_edge_and_lets_prometheus_read_it(plan: Plan) -> None:
    import json

    from stacks.config_observability import GATEWAY_BUCKETS_MS

    (gw,) = [c for c in plan.by_type(CHART) if c["name"].endswith("-mesh-istio-gateway")]
    buckets = json.loads(gw["inputs"]["values"]["podAnnotations"]["sidecar.istio.io/statsHistogramBuckets"])
    assert buckets == {"istiocustom": list(GATEWAY_BUCKETS_MS)} and 200 in buckets["istiocustom"]
    (scrape,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == "istio-ingress"
        and p["inputs"]["metadata"]["name"] == "allow-metrics-scrape"
    ]
    assert scrape["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 15090}]
    (monitor,) = [
        m
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
        if m["name"].endswith("ingress-gateway")
    ]
    assert monitor["inputs"]["spec"]["podMetricsEndpoints"][0]["port"] == "http-envoy-prom"
    assert crd_problems(monitor["inputs"]) == []


def test_kafka_and_harbor_are_scraped_and_alerted_on(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    monitors = {
        m["inputs"]["metadata"]["name"]: m["inputs"]
        for t in ("PodMonitor", "ServiceMonitor")
        for m in plan.by_type(f"kubernetes:monitoring.coreos.com/v1:{t}")
    }
    assert monitors["kafka"]["spec"]["namespaceSelector"] == {"matchNames": [cfg.kafka.namespace]}
    assert monitors["kafka"]["spec"]["podMetricsEndpoints"][0]["port"] == "tcp-prometheus"
    assert monitors["harbor"]["spec"]["endpoints"][0]["port"] == "https-metrics"
    assert [crd_problems(m) for m in monitors.values()] == [[]] * len(monitors)
    (rule,) = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r["name"].endswith("estate-alerts")
    ]
    alerts = {r["alert"]: r for g in rule["inputs"]["spec"]["groups"] for r in g["rules"]}
    assert {
        "KafkaUnderReplicatedPartitions",
        "KafkaOfflinePartitions",
        "KafkaConsumerLagHigh",
        "HarborComponentDown",
    } <= set(alerts)
    assert alerts["KafkaConsumerLagHigh"]["expr"].endswith(f"> {cfg.observability.thresholds.kafka_consumer_lag}")
    assert f"{cfg.kafka.namespace}|{cfg.harbor.namespace}" in alerts["EstateControllerDown"]["expr"]


def test_the_gpus_are_scraped_from_gkes_dcgm_exporter(plan: Plan) -> None:
    """Both stacks have GPU pools: Prometheus scrapes GKE's managed DCGM exporter across in its own
    namespace, and may reach it on 9400 only, as a pod there or on the nodes' addresses."""
    from components.observability.monitors import DCGM_NAMESPACE

    cfg = stack_cfg(plan.stack)
    ns = cfg.observability.namespace
    assert any(pool.gpu for pool in cfg.cluster.node_pools.values())
    (monitor,) = [
        m["inputs"]
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
        if (m["inputs"]["metadata"]["name"], m["inputs"]["metadata"]["namespace"]) == ("gpus", ns)
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [DCGM_NAMESPACE]}
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "gke-managed-dcgm-exporter"}
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert crd_problems(monitor) == []
    (egress,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == ns and p["inputs"]["metadata"]["name"] == "allow-dcgm-exporters"
    ]
    assert egress["policyTypes"] == ["Egress"]
    (rule,) = egress["egress"]
    assert [(q["protocol"], q["port"]) for q in rule["ports"]] == [("TCP", 9400)]
    nodes = plan_cidrs(cfg.network.supernet, cfg.network.prefixes.model_dump(by_alias=True), {}).nodes
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DCGM_NAMESPACE}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "gke-managed-dcgm-exporter"}},
        },
        {"ipBlock": {"cidr": nodes}},
    ]


def test_harbors_metrics_services_carry_the_port_the_monitor_names(dev_plan: Plan) -> None:
    """Against the rendered Harbor chart: the ServiceMonitor's selector and port exist."""
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("harbor")
    (chart,) = [c for c in dev_plan.by_type(CHART) if c["name"].endswith("-harbor-chart")]
    (outcome,) = render_charts([chart], cache)
    services = [c["inputs"] for c in outcome.children if c["inputs"]["kind"] == "Service"]
    matched = [s for s in services if {"app": "harbor", "release": "harbor"}.items() <= s["metadata"]["labels"].items()]
    with_port = [
        s["metadata"]["name"] for s in matched if any(p.get("name") == "https-metrics" for p in s["spec"]["ports"])
    ]
    assert {"harbor-core", "harbor-exporter", "harbor-jobservice", "harbor-registry"} <= set(with_port)


# ---------------------------------------------------------------- dashboards as code
def test_dashboards_are_code_with_the_seeds_panels_and_parse(plan: Plan) -> None:
    import json

    import promql_parser

    from components.observability import dashboards

    maps = [
        c["inputs"]
        for c in plan.by_type("kubernetes:core/v1:ConfigMap")
        if c["inputs"]["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    models = {name: json.loads(text) for m in maps for name, text in m["data"].items()}
    assert set(models) == {
        f"estate-{uid}.json" for uid in ("overview", "slo-burn", "red", "gpu-inference", "kafka", "work-queue")
    }
    red = models["estate-red.json"]
    assert [p["title"] for p in red["panels"]] == [
        "Requests per second",
        "Errors (5xx share)",
        "Latency p50 / p95 / p99",
        "CPU against limits",
        "Memory against limits",
    ]
    overview = models["estate-overview.json"]
    assert [p["title"] for p in overview["panels"]] == [
        "Request rate",
        "Response time (p95)",
        "Active WebSocket connections",
        "GPU utilization",
        "Model inference time",
    ]
    assert all(t["refId"] for p in overview["panels"] for t in p["targets"])
    assert all(p["datasource"] == {"type": "prometheus", "uid": "prometheus"} for p in overview["panels"])
    for model in models.values():
        exprs = dashboards.expressions(model)
        assert exprs and not [e for e in exprs if "$" in e]
        for expr in exprs:
            promql_parser.parse(expr)
    assert "DCGM_FI_DEV_GPU_UTIL" in json.dumps(overview) and "nvidia_gpu_utilization" not in json.dumps(overview)


def test_grafana_reads_only_its_own_namespaces_configmaps(dev_plan: Plan) -> None:
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("kube-prometheus-stack")
    (chart,) = [c for c in dev_plan.by_type(CHART) if c["name"].endswith("-metrics-chart")]
    (outcome,) = render_charts([chart], cache)
    objects = [c["inputs"] for c in outcome.children]
    assert not [o for o in objects if o["kind"] == "ClusterRole" and "grafana" in o["metadata"]["name"]]
    # Only the operator, which writes Prometheus' and Alertmanager's configuration, touches Secrets
    # cluster-wide; kube-state-metrics' secrets collector is off.
    secret_readers = {
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "ClusterRole" and any("secrets" in r.get("resources", []) for r in o["rules"])
    }
    assert secret_readers == {"kps-operator"}
    (deployment,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if container["name"].startswith("grafana-sc-"):
            assert env["RESOURCE"] == "configmap" and env.get("NAMESPACE") in (None, "observability")


def test_each_node_pool_alerts_at_its_maximum_per_zone(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    values = _values(plan)
    assert values["kube-state-metrics"]["metricLabelsAllowlist"] == [
        "nodes=[cloud.google.com/gke-nodepool,topology.kubernetes.io/zone]"
    ]
    (rule,) = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r["name"].endswith("estate-alerts")
    ]
    (group,) = [g for g in rule["inputs"]["spec"]["groups"] if g["name"] == "estate-node-pools"]
    by_pool = {r["labels"]["pool"]: r["expr"] for r in group["rules"]}
    assert set(by_pool) == set(cfg.cluster.node_pools)
    for pool, spec in cfg.cluster.node_pools.items():
        assert by_pool[pool].startswith("count by (label_topology_kubernetes_io_zone) (kube_node_labels{")
        assert f"'{pool}'" in by_pool[pool] and by_pool[pool].endswith(f">= {spec.max_nodes}")


def test_certificates_are_watched_through_cert_managers_metrics(plan: Plan) -> None:
    monitors = {
        m["inputs"]["metadata"]["name"]: m["inputs"]
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    }
    cm = monitors["cert-manager"]["spec"]
    assert cm["namespaceSelector"] == {"matchNames": ["cert-manager"]} and cm["endpoints"][0]["port"] == "http-metrics"
    (scrape,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == "cert-manager"
        and p["inputs"]["metadata"]["name"] == "allow-metrics-scrape"
    ]
    assert scrape["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9402}]
    (rule,) = [
        r
        for r in plan.by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r["name"].endswith("estate-alerts")
    ]
    alerts = {r["alert"] for g in rule["inputs"]["spec"]["groups"] for r in g["rules"]}
    assert {"CertificateExpiringSoon", "CertificateExpiringVerySoon", "CertificateNotReady"} <= alerts


def test_cert_managers_controller_service_carries_the_monitors_labels_and_port(dev_plan: Plan) -> None:
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("cert-manager")
    (chart,) = [c for c in dev_plan.by_type(CHART) if c["name"].endswith("-certs-chart")]
    (outcome,) = render_charts([chart], cache)
    wanted = {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
    (service,) = [
        c["inputs"]
        for c in outcome.children
        if c["inputs"]["kind"] == "Service" and wanted.items() <= c["inputs"]["metadata"]["labels"].items()
    ]
    assert {("http-metrics", 9402)} <= {(p.get("name"), p["port"]) for p in service["spec"]["ports"]}
