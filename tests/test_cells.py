"""The cells layer: the config's rules (bad input names its key), the pure cell-to-objects mapping,
and every reference cell in the dev and prod plans with the objects and settings it becomes."""

from __future__ import annotations

from typing import Any

import pytest

from components.cells import spec
from components.cells.routes import virtual_services
from components.kube.authz import principal
from components.kube.netpol import HBONE_PORT
from stacks.config_automation import smoke_test
from stacks.config_cells import REFERENCE, CellConfig
from stacks.config_mesh import fqdn
from tests.conftest import config_problems, registry, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
INGRESS = "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"


def cell(**fields: Any) -> CellConfig:
    return CellConfig.model_validate({"image": {"name": "x", "tag": "1"}, **fields})


# ---------------------------------------------------------------- bad input, each naming its key
@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"web-app": {"callers": ["nobody"]}}, "cells.web-app.callers[0] = 'nobody': not another cell; allowed: "),
        (
            {"web-app": {"routes": {"web": {"host": "www.example.org"}}}},
            "cells.web-app.routes.web.host = 'www.example.org': 'www.example.org' is outside the DNS domain",
        ),
        (
            {"web-app": {"routes": {"web": {"host": "shop"}}}},
            "cells.web-app.routes.web.host = 'shop': no mesh.hosts entry serves",
        ),
        (
            {"web-app": {"routes": {"web": {"host": "app", "pathPrefix": "/api/"}}}},
            "cells.web-app.web.pathPrefix = '/api/': ",
        ),
        ({"chat": {"replicas": {"min": 5, "max": 3}}}, "cells.chat.replicas.min = 5: must not exceed replicas.max (3)"),
        (
            {"chat": {"resources": {"memory": "1Gi", "memoryLimit": "512Mi"}}},
            "cells.chat.resources.memory = '1Gi': the request is above its limit (512Mi)",
        ),
        (
            {"chat": {"secrets": {"API_KEY": "stripe-key"}}},
            "cells.chat.secrets.API_KEY = 'stripe-key': no ExternalSecret provides it in namespace cells",
        ),
        ({"chat": {"nodeClass": "fast"}}, "cells.chat.nodeClass = 'fast': no node pool has it as workload-class"),
        ({"chat": {"workload": "ghost"}}, "cells.chat.workload = 'ghost': must be an identity.workloads key"),
        ({"web-app": {"namespace": "kafka"}}, "cells.web-app.namespace = 'kafka': must be in the ambient mesh"),
        ({"web-app": {"cloudSql": True}}, "cells.web-app.cloudSql = True: needs a workload"),
        (
            {"chat": {"routes": {"ws": {"host": "chat", "pathPrefix": "/ws", "timeout": "10s"}}}},
            "cells.chat.routes.ws.timeout = '10s': a WebSocket cell's connections live long",
        ),
    ],
)
def test_bad_cells_name_their_key(cells: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", cells=cells)
    assert any(p.startswith(expected) for p in problems), problems


def test_the_domain_in_the_message_is_the_stacks() -> None:
    domain = stack_cfg("dev").dns.domain
    (problem,) = config_problems("dev", cells={"web-app": {"routes": {"web": {"host": "www.example.org"}}}})
    assert problem.endswith(f"outside the DNS domain {domain!r}")


# ---------------------------------------------------------------- pure mapping
def test_the_environment_names_secrets_never_values() -> None:
    c = cell(env={"MODE": "fast"}, secrets={"TOKEN": "redis-auth"}, cloudSql=True, workload="w", redis=True)
    env = {e.name: e for e in spec.environment("x", c, iam_user="dev-wl-w@p.iam", database="app")}
    assert env["MODE"].value == "fast" and env["TOKEN"] == spec.EnvVar("TOKEN", secret="redis-auth")
    assert (env["PGHOST"].value, env["PGPORT"].value, env["PGUSER"].value, env["PGDATABASE"].value) == (
        "127.0.0.1",
        "5432",
        "dev-wl-w@p.iam",
        "app",
    )
    assert env["REDIS_PASSWORD"].secret == "redis-auth" and env["REDIS_URL"].secret == "redis-address"
    with pytest.raises(ValueError, match="PGHOST set twice"):
        spec.environment("x", cell(env={"PGHOST": "db"}, cloudSql=True), iam_user="u", database="app")


def test_callers_are_exactly_the_caller_cells_and_the_gateway_for_public_ones() -> None:
    cells = {
        "a": cell(routes={"r": {"host": "app"}}),
        "b": cell(callers=["a", "c"]),
        "c": cell(namespace="other"),
    }
    assert spec.callers("b", cells, ingress=INGRESS) == [principal("cells", "a"), principal("other", "c")]
    assert spec.callers("a", cells, ingress=INGRESS) == [INGRESS]
    assert spec.callers("c", cells, ingress=INGRESS) == []


def test_network_allows_pair_each_caller_with_its_callee_on_hbone_and_the_port() -> None:
    cells = {"a": cell(), "b": cell(callers=["a"], port=9000)}
    (into_b,) = spec.allows("b", cells)
    assert (into_b.direction, into_b.ports, into_b.pods) == (
        "Ingress",
        (("TCP", HBONE_PORT), ("TCP", 9000)),
        ((spec.CELL, "b"),),
    )
    assert [p.pods for p in into_b.peers] == [((spec.CELL, "a"),)] and into_b.peers[0].same_namespace
    (out_of_a,) = spec.allows("a", cells)
    assert (out_of_a.direction, out_of_a.pods, out_of_a.peers[0].pods) == (
        "Egress",
        ((spec.CELL, "a"),),
        ((spec.CELL, "b"),),
    )


def test_routes_take_the_longest_prefix_first_and_websockets_no_timeout() -> None:
    cells = {
        "web": cell(routes={"r": {"host": "app"}}, port=3000),
        "api": cell(routes={"r": {"host": "app", "pathPrefix": "/api/", "timeout": "5s"}}),
        "chat": cell(protocol="websocket", routes={"r": {"host": "chat", "pathPrefix": "/ws"}}),
    }
    hosts = spec.host_routes(cells, "example.org")
    assert [(t.prefix, t.cell, t.timeout) for t in hosts["app.example.org"]] == [
        ("/api/", "api", "5s"),
        ("/", "web", "30s"),
    ]
    assert [(t.prefix, t.timeout) for t in hosts["chat.example.org"]] == [("/ws", None)]
    for vs in virtual_services(hosts, gateway="istio-ingress/public", namespace="istio-ingress"):
        assert crd_problems(vs) == []


# ---------------------------------------------------------------- the plans
def _by_name(plan: Plan, typ: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["inputs"]["metadata"]["namespace"], r["inputs"]["metadata"]["name"]): r["inputs"] for r in plan.by_type(typ)
    }


def test_every_reference_cell_is_a_hardened_deployment_of_our_image(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    deployments = _by_name(plan, DEPLOYMENT)
    assert set(cfg.cells) == set(REFERENCE)
    for name, c in cfg.cells.items():
        d = deployments[(c.namespace, name)]
        assert "replicas" not in d["spec"]  # the HPA's
        pod = d["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == name
        (main,) = pod["containers"]
        assert main["image"].startswith(f"{registry(plan.stack)}/images/{c.image.name}:{c.image.tag}@sha256:")
        sc = main["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
        assert not sc["allowPrivilegeEscalation"] and sc["seccompProfile"] == {"type": "RuntimeDefault"}
        res = main["resources"]
        assert res["requests"]["memory"] == res["limits"]["memory"] and {"cpu", "memory"} <= set(res["limits"])
        assert main["livenessProbe"]["httpGet"]["path"] == c.probes.liveness
        assert main["readinessProbe"]["httpGet"]["path"] == c.probes.readiness
        (spread,) = pod["topologySpreadConstraints"]
        assert spread["topologyKey"] == "topology.kubernetes.io/zone"
        # The cell's stable label: a release's primary and canary copies keep it (Flagger renames `app`).
        assert spread["labelSelector"]["matchLabels"] == {spec.CELL: name}
        assert d["spec"]["selector"]["matchLabels"] == {"app": name}
        sidecars = {s["name"]: s for s in pod.get("initContainers", [])}
        assert ("cloud-sql-proxy" in sidecars) == c.cloud_sql
        if c.cloud_sql:
            assert sidecars["cloud-sql-proxy"]["restartPolicy"] == "Always"
            assert "--auto-iam-authn" in sidecars["cloud-sql-proxy"]["args"]
    # Seed 001: the orchestrator's three replicas and its /health and /ready.
    orchestrator = deployments[("cells", "orchestrator")]["spec"]["template"]["spec"]["containers"][0]
    assert (orchestrator["livenessProbe"]["httpGet"]["path"], orchestrator["readinessProbe"]["httpGet"]["path"]) == (
        "/health",
        "/ready",
    )


def test_cells_scale_on_cpu_and_memory_with_a_vpa_that_only_recommends(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    hpas = _by_name(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    vpas = _by_name(plan, "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler")
    pdbs = _by_name(plan, "kubernetes:policy/v1:PodDisruptionBudget")
    for name, c in cfg.cells.items():
        if c.queue is not None:  # KEDA makes its HPA (test below)
            assert (c.namespace, name) not in hpas
            continue
        hpa = hpas[(c.namespace, name)]["spec"]
        targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
        assert targets == {"cpu": 70, "memory": 80}
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (c.replicas.min, c.replicas.max)
        assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    for name, c in cfg.cells.items():
        vpa = vpas[(c.namespace, name)]
        assert vpa["spec"]["updatePolicy"] == {"updateMode": "Off"} and crd_problems(vpa) == []
        assert ((c.namespace, name) in pdbs) == (plan.stack == "prod")
    assert hpas[("cells", "orchestrator")]["spec"]["minReplicas"] == 3


def test_each_cell_admits_exactly_its_callers(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    policies = _by_name(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy")
    # n8n's release smoke test calls every cell that serves (tests/test_automation_smoke.py).
    smoke = smoke_test(cfg.automation, cfg.identity.workloads)
    for name, c in cfg.cells.items():
        extra = [principal(smoke.namespace, smoke.service_account)] if smoke and c.port else []
        expected = sorted(
            [principal(cfg.cells[x].namespace, x) for x in c.callers] + ([INGRESS] if c.routes else []) + extra
        )
        found = policies.get((c.namespace, f"cell-{name}"))
        if not expected:
            assert found is None
            continue
        assert found is not None and crd_problems(found) == []
        assert found["spec"]["selector"] == {"matchLabels": {spec.CELL: name}}
        (rule,) = found["spec"]["rules"]
        assert sorted(rule["from"][0]["source"]["principals"]) == expected
        assert rule["to"] == [{"operation": {"ports": [str(c.port)]}}]
    # The namespace no longer admits the gateway to every pod: only the public cells do.
    assert not [
        k
        for k, p in policies.items()
        if k[0] == "cells" and k[1] != "deny-all" and not k[1].startswith("cell-") and INGRESS in str(p)
    ]


def test_public_routes_are_one_virtual_service_per_host(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    domain = cfg.dns.domain or ""
    services = {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type("kubernetes:networking.istio.io/v1:VirtualService")
        if r["inputs"]["metadata"]["name"].startswith("cells-")
    }
    assert set(services) == {f"cells-{fqdn(h, domain)}" for h in ("api", "app", "chat")}
    # The public cells are released by canary: each prefix goes to the delegate Flagger owns for it.
    app = services[f"cells-{fqdn('app', domain)}"]["spec"]
    assert [(r["match"][0]["uri"]["prefix"], r["delegate"]) for r in app["http"]] == [
        ("/api/", {"name": "api-gateway", "namespace": "cells"}),
        ("/", {"name": "web-app", "namespace": "cells"}),
    ]
    assert all("route" not in r and "timeout" not in r for r in app["http"])
    assert all(crd_problems(v) == [] for v in services.values())


def test_a_cell_released_rolling_is_routed_to_its_own_service_with_its_timeout() -> None:
    cells = {
        "web": cell(routes={"r": {"host": "app"}}, port=3000),
        "api": cell(
            routes={"r": {"host": "app", "pathPrefix": "/api/", "timeout": "5s"}}, release={"strategy": "canary"}
        ),
    }
    (vs,) = virtual_services(
        spec.host_routes(cells, "example.org"), gateway="istio-ingress/public", namespace="istio-ingress"
    )
    api, web = vs["spec"]["http"]
    assert api["delegate"] == {"name": "api", "namespace": "cells"} and "timeout" not in api
    assert web["route"][0]["destination"] == {"host": "web.cells.svc.cluster.local", "port": {"number": 3000}}
    assert web["timeout"] == "30s" and crd_problems(vs) == []


def test_cells_are_scraped_and_their_monitors_fit_the_crd(plan: Plan) -> None:
    monitors = _by_name(plan, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    for name, c in stack_cfg(plan.stack).cells.items():
        rule = _by_name(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")[(c.namespace, f"cell-{name}")]
        (alert,) = rule["spec"]["groups"][0]["rules"]
        assert alert["alert"] == "CellUnavailable" and alert["labels"] == {"severity": "critical", "cell": name}
        assert crd_problems(rule) == []
        m = monitors[(c.namespace, f"cell-{name}")]
        assert m["spec"]["selector"]["matchLabels"] == {spec.CELL: name} and crd_problems(m) == []


def test_a_tag_the_repository_lacks_stops_the_program_naming_the_cell() -> None:
    cfg = stack_cfg("dev")
    missing = f"{cfg.cells['chat'].image.name}:{cfg.cells['chat'].image.tag}"
    plan = run_plan("dev", missing_images=frozenset({missing}))
    assert plan.error is not None
    assert plan.error.startswith(f"cells.chat.image.tag = {cfg.cells['chat'].image.tag!r}: ")
    assert "cannot be found" in plan.error and "push that tag" in plan.error
    assert not [r for r in plan.resources if r["type"].startswith("estate:cells:")]


def test_the_agent_workers_scale_on_their_streams_lag_through_keda(plan: Plan) -> None:
    """Seed 001: more workers when the queue grows, from zero in dev; KEDA's own HPA, no second one."""
    cfg = stack_cfg(plan.stack)
    workers = cfg.cells["agent-workers"]
    assert workers.queue is not None
    (scaled,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
        if r["inputs"]["metadata"]["namespace"] == workers.namespace
    ]
    assert crd_problems(scaled) == []
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"name": "agent-workers"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (workers.replicas.min, workers.replicas.max)
    assert spec["minReplicaCount"] == (0 if plan.stack == "dev" else 1)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis-streams"
    assert trigger["metadata"] == {
        "stream": workers.queue.stream,
        "consumerGroup": workers.queue.consumer_group,
        "lagCount": str(workers.queue.lag_per_replica),
        "activationLagCount": "0",
        "databaseIndex": "0",
    }
    # Address, AUTH, TLS and CA come from the platform's ClusterTriggerAuthentication, never the trigger.
    assert trigger["authenticationRef"] == {"name": "redis-streams", "kind": "ClusterTriggerAuthentication"}
    (auth,) = [r["inputs"] for r in plan.by_type("kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication")]
    assert auth["metadata"]["name"] == "redis-streams" and crd_problems(auth) == []
    assert {(r["parameter"], r["name"]) for r in auth["spec"]["secretTargetRef"]} == {
        (p, "redis-client") for p in ("address", "password", "tls", "ca")
    }


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"chat": {"replicas": {"min": 0}}}, "cells.chat.replicas.min = 0: 0 only for a cell scaled on its queue"),
        (
            {"web-app": {"queue": {"stream": "s", "consumerGroup": "g"}}},
            "cells.web-app.queue = 's': a queue on Redis Streams needs redis: true",
        ),
    ],
)
def test_queue_scaling_rules_name_their_key(cells: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in config_problems("dev", cells=cells))


# ---------------------------------------------------------------- rate limits at the gateway
def test_seed_limits_become_a_per_second_and_a_per_minute_window() -> None:
    from components.cells import ratelimit_config as rl

    cells = {
        "api": cell(
            routes={"r": {"host": "app", "pathPrefix": "/api/", "rateLimit": {"requestsPerSecond": 10, "burst": 20}}}
        ),
        "web": cell(routes={"r": {"host": "app", "rateLimit": {"requestsPerSecond": 5}}}),
        "free": cell(routes={"r": {"host": "free"}}),
    }
    found = rl.limits(spec.host_routes(cells, "example.org"))
    assert found == [
        # 10 + 20 at once, 10 a second sustained
        rl.RouteLimit("app.example.org", "api-api", "/api/", (), 30, 600),
        # no burst: the second's window alone; `/` is not charged for `/api/`
        rl.RouteLimit("app.example.org", "web-root", "/", ("/api/",), 5, None),
    ]
    config = rl.service_config(found)
    assert config["domain"] == rl.DOMAIN
    windows = {
        d["value"]: (d["descriptors"][0]["key"], d["descriptors"][0]["rate_limit"]) for d in config["descriptors"]
    }
    assert windows == {
        "app.example.org/api-api/second": ("remote_address", {"unit": "second", "requests_per_unit": 30}),
        "app.example.org/api-api/minute": ("remote_address", {"unit": "minute", "requests_per_unit": 600}),
        "app.example.org/web-root/second": ("remote_address", {"unit": "second", "requests_per_unit": 5}),
    }
    (vhost,) = [
        p
        for p in rl.envoy_filter(found, namespace="istio-ingress", selector={"istio": "x"})["spec"]["configPatches"]
        if p["applyTo"] == "VIRTUAL_HOST"
    ]
    assert vhost["match"]["routeConfiguration"]["vhost"]["name"] == "app.example.org:443"
    web_second = vhost["patch"]["value"]["rate_limits"][2]["actions"][0]["header_value_match"]
    assert web_second["headers"] == [
        {"name": ":path", "string_match": {"prefix": "/"}},
        {"name": ":path", "string_match": {"prefix": "/api/"}, "invert_match": True},
    ]


def test_the_gateway_filter_fails_open_and_limits_each_host_by_path(plan: Plan) -> None:
    import yaml

    cfg = stack_cfg(plan.stack)
    domain = cfg.dns.domain or ""
    (envoy_filter,) = [r["inputs"] for r in plan.by_type("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter")]
    assert envoy_filter["metadata"]["namespace"] == "istio-ingress" and crd_problems(envoy_filter) == []
    assert envoy_filter["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    patches = envoy_filter["spec"]["configPatches"]
    (http_filter,) = [p for p in patches if p["applyTo"] == "HTTP_FILTER"]
    filter_config = http_filter["patch"]["value"]["typed_config"]
    assert filter_config["failure_mode_deny"] is False and filter_config["domain"] == "ingress"
    assert filter_config["rate_limit_service"]["grpc_service"]["envoy_grpc"]["cluster_name"] == (
        "outbound|8081||ratelimit.istio-ingress.svc.cluster.local"
    )
    vhosts = {
        p["match"]["routeConfiguration"]["vhost"]["name"]: p["patch"]["value"]["rate_limits"]
        for p in patches
        if p["applyTo"] == "VIRTUAL_HOST"
    }
    # Each limited host has one entry per window: app's /api/ (second, minute), api's / and chat's /ws.
    assert {h: len(r) for h, r in vhosts.items()} == {f"{fqdn(h, domain)}:443": 2 for h in ("api", "app", "chat")}
    ws = vhosts[f"{fqdn('chat', domain)}:443"][0]["actions"]
    assert ws[0]["header_value_match"]["headers"] == [{"name": ":path", "string_match": {"prefix": "/ws"}}]
    assert ws[1] == {"remote_address": {}}
    (hcm,) = [p for p in patches if p["applyTo"] == "NETWORK_FILTER"]
    assert hcm["patch"]["value"]["typed_config"]["stream_idle_timeout"] == "3600s"
    # The service's counters: seed 004's api (10 r/s, burst 20) and chat (50 r/s, burst 100).
    (config_map,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:core/v1:ConfigMap")
        if r["inputs"]["metadata"]["name"] == "ratelimit-config"
    ]
    counts = {
        d["value"]: d["descriptors"][0]["rate_limit"]["requests_per_unit"]
        for d in yaml.safe_load(config_map["data"]["config.yaml"])["descriptors"]
    }
    assert counts[f"{fqdn('app', domain)}/api-gateway-api/second"] == 30
    assert counts[f"{fqdn('app', domain)}/api-gateway-api/minute"] == 600
    assert counts[f"{fqdn('chat', domain)}/chat-ws/second"] == 150
    assert counts[f"{fqdn('chat', domain)}/chat-ws/minute"] == 3000


def test_the_rate_limit_service_reaches_redis_over_verified_tls_and_admits_only_the_gateway(plan: Plan) -> None:
    (deployment,) = [r["inputs"] for r in plan.by_type(DEPLOYMENT) if r["inputs"]["metadata"]["name"] == "ratelimit"]
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    (main,) = template["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in main["env"]}
    assert env["REDIS_TLS"] == "true" and env["REDIS_TLS_CACERT"] == "/etc/redis-ca/ca.crt"
    assert "REDIS_TLS_SKIP_HOSTNAME_VERIFICATION" not in env
    assert env["REDIS_AUTH"] == {"secretKeyRef": {"name": "redis-client", "key": "password"}}
    assert main["image"].startswith(f"{registry(plan.stack)}/") and "@sha256:" in main["image"]
    policies = _by_name(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy")
    rule = policies[("istio-ingress", "ratelimit-from-gateway")]["spec"]["rules"][0]
    assert rule["from"][0]["source"]["principals"] == [INGRESS] and rule["to"] == [{"operation": {"ports": ["8081"]}}]


# ---------------------------------------------------------------- releases (Flagger)
@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (
            {"ai-service": {"release": {"strategy": "canary"}}},
            "cells.ai-service.release.strategy = 'canary': an in-mesh canary needs a waypoint",
        ),
        ({"chat": {"release": {"maxWeight": 120}}}, "cells.chat.release.maxWeight = 120: "),
        (
            {"chat": {"release": {"stepWeight": 60, "maxWeight": 50}}},
            "cells.chat.release.stepWeight = 60: must not exceed maxWeight (50)",
        ),
        (
            {"agent-workers": {"release": {"strategy": "blue-green"}}},
            "cells.agent-workers.release.strategy = 'blue-green': a queue-scaled cell is released rolling",
        ),
    ],
)
def test_release_rules_name_their_key(cells: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in config_problems("prod", cells=cells)), config_problems(
        "prod", cells=cells
    )


def test_public_cells_canary_at_the_gateway_and_internal_ones_go_blue_green(plan: Plan) -> None:
    from tests.upstream import require_charts

    cfg = stack_cfg(plan.stack)
    canaries = _by_name(plan, "kubernetes:flagger.app/v1beta1:Canary")
    for name, c in cfg.cells.items():
        found = canaries.get((c.namespace, name))
        if c.release.strategy == "rolling":
            assert found is None
            continue
        assert found is not None
        body = found["spec"]
        assert body["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert body["autoscalerRef"]["kind"] == "HorizontalPodAutoscaler"
        assert body["skipAnalysis"] is (plan.stack == "dev")  # dev has no traffic to judge by
        if c.release.strategy == "canary":
            assert body["provider"] == "istio" and body["service"]["delegation"] is True
            assert (body["analysis"]["stepWeight"], body["analysis"]["maxWeight"]) == (5, 50)  # 5% first
            assert {m["templateRef"]["name"] for m in body["analysis"]["metrics"]} == {
                "gateway-error-rate",
                "gateway-latency-p95",
            }
        else:
            assert body["provider"] == "kubernetes" and "metrics" not in body["analysis"]
            assert body["analysis"]["iterations"] == c.release.iterations
    assert {n for n, c in cfg.cells.items() if c.release.strategy == "canary"} == {"web-app", "api-gateway", "chat"}
    # Flagger makes the Services of the cells it releases; the estate makes the others'.
    services = _by_name(plan, "kubernetes:core/v1:Service")
    assert ("cells", "chat") not in services and ("cells", "ai-service") not in services
    assert ("cells", "agent-workers") in services
    require_charts("flagger")  # the CRDs come with Flagger's chart
    assert [crd_problems(c) for c in canaries.values()] == [[]] * len(canaries)


def test_canaries_are_judged_on_the_gateways_requests_to_them(plan: Plan) -> None:
    import promql_parser

    templates = _by_name(plan, "kubernetes:flagger.app/v1beta1:MetricTemplate")
    assert set(templates) == {("cells", "gateway-error-rate"), ("cells", "gateway-latency-p95")}
    for t in templates.values():
        query = t["spec"]["query"]
        assert 'reporter="source"' in query and 'source_workload="istio-ingressgateway"' in query
        assert 'destination_service_name="{{ target }}-canary"' in query
        # Flagger's variables filled as it would, then parsed.
        promql_parser.parse(
            query.replace("{{ namespace }}", "cells").replace("{{ target }}", "chat").replace("{{ interval }}", "1m")
        )
        assert t["spec"]["provider"] == {
            "type": "prometheus",
            "address": f"http://kps-prometheus.{stack_cfg(plan.stack).observability.namespace}.svc:9090",
        }


def test_the_pod_builder_hardens_every_pod_the_same_way() -> None:
    """components.kube.pods: the one builder of the estate's own pods (cells, jobs, exporters, proxies)."""
    import pulumi_kubernetes as k8s

    from components.kube.pods import PodArgs, container_security, pod_spec

    app = k8s.core.v1.ContainerArgs(name="app", image="x", security_context=container_security(10001))
    # The provider's Args types are unions of inputs; read them as the plain values they hold here.
    plain: Any = pod_spec(PodArgs(containers=[app], service_account="app", fs_group=10001))
    assert plain.automount_service_account_token is False and plain.enable_service_links is False
    assert plain.security_context.run_as_non_root is True and plain.security_context.fs_group == 10001
    assert plain.security_context.seccomp_profile.type == "RuntimeDefault"
    assert plain.node_selector == {"workload-class": "system"} and plain.topology_spread_constraints is None
    job: Any = pod_spec(
        PodArgs(
            containers=[app],
            service_account="app",
            fs_group=1,
            spread={spec.CELL: "x"},
            restart_policy="Never",
            api_token=True,
        )
    )
    (spread,) = job.topology_spread_constraints
    assert (spread.topology_key, spread.when_unsatisfiable, spread.max_skew) == (
        "topology.kubernetes.io/zone",
        "DoNotSchedule",
        1,
    )
    assert job.restart_policy == "Never" and job.automount_service_account_token is True
    sc: Any = app.security_context
    assert (sc.allow_privilege_escalation, sc.read_only_root_filesystem, sc.capabilities.drop) == (False, True, ["ALL"])


def test_cells_on_kafka_mount_their_users_access_as_files(plan: Plan) -> None:
    from stacks.config_kafka import access_secret, users_of

    cfg = stack_cfg(plan.stack)
    deployments = _by_name(plan, DEPLOYMENT)
    on_kafka = {n for n, c in cfg.cells.items() if c.kafka}
    assert on_kafka == {"analytics-service", "orchestrator"}
    for name in on_kafka:
        c = cfg.cells[name]
        pod = deployments[(c.namespace, name)]["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka"]
        assert volume["secret"]["secretName"] == access_secret(users_of(cfg.kafka, c.workload or "")[0])
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "kafka"]
        assert mount == {"name": "kafka", "mountPath": spec.KAFKA_DIR, "readOnly": True}
    problems = config_problems("dev", cells={"web-app": {"kafka": True}})
    assert any(
        p.startswith("cells.web-app.kafka = True: needs Kafka enabled and exactly one kafka.users entry")
        for p in problems
    )
