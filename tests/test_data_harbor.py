"""Harbor: its config rules, the pure decisions (certificates, passthrough, who reaches what, the
chart's secrets), and the dev and prod plans; against the chart and the CRDs where they are here."""

from __future__ import annotations

import json
from typing import Any

from components.data import harbor_objects as ho
from components.data import harbor_secrets as hs
from components.data.values_harbor import REGISTRY_USER, SERVICE
from components.kube.authz import principal
from components.kube.netpol import HBONE_PORT
from components.kube.transforms import without_empty_data
from stacks import load
from stacks.config_harbor import signed_globs
from stacks.config_mesh import fqdn
from tests.conftest import config_problems, config_with, stack_cfg
from tests.upstream import crd_problems, unknown_value_keys
from tools.plan import SECRET_SIG, UNKNOWN, Plan, run_plan

CHART = "kubernetes:helm.sh/v4:Chart"
PROJECT = "harbor:index/project:Project"
ROBOT = "harbor:index/robotAccount:RobotAccount"


def problems(stack: str, **harbor: Any) -> list[str]:
    return config_problems(stack, harbor=harbor)


def _harbor_chart(plan: Plan) -> dict[str, Any]:
    (chart,) = [c for c in plan.by_type(CHART) if c["name"].endswith("-harbor-chart")]
    return chart


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(x for v in value.values() for x in _walk(v))]
    if isinstance(value, list):
        return [value, *(x for v in value for x in _walk(v))]
    return [value]


# ---------------------------------------------------------------- bad input, each one message
def test_a_project_policy_with_an_unknown_severity() -> None:
    (message,) = problems("dev", projects={"estate": {"blockSeverity": "severe"}})
    assert message.startswith("harbor.projects.estate.blockSeverity = 'severe': ")
    for allowed in ("none", "low", "medium", "high", "critical"):
        assert allowed in message


def test_an_unknown_severity_stops_the_program_before_any_resource() -> None:
    plan = run_plan("dev", config=config_with("dev", harbor={"projects": {"estate": {"blockSeverity": "severe"}}}))
    assert plan.resources == [] and plan.error is not None
    assert "harbor.projects.estate.blockSeverity = 'severe'" in plan.error and "Traceback" not in plan.error


def test_a_robot_on_an_unknown_project() -> None:
    (message,) = problems("dev", robots={"ci": {"projects": {"estat": "push"}}})
    assert message == "harbor.robots.ci.projects.estat = 'estat': no such project: ['estate']"


def test_prod_runs_harbor_with_replicas() -> None:
    assert problems("prod", replicas=1) == ["harbor.replicas = 1: at least 2 in prod"]


def test_harbors_host_may_not_be_a_gateway_host() -> None:
    mesh = stack_cfg("dev").mesh.model_dump(by_alias=True, exclude_none=True)
    mesh["hosts"] = {**mesh.get("hosts", {}), "reg": {"host": "registry"}}
    (message,) = config_problems("dev", mesh=mesh)
    assert message.startswith("harbor.host = 'registry': is mesh.hosts.reg: Harbor is served in TLS passthrough")


def test_harbor_needs_its_namespace_database_user_and_identities() -> None:
    found = problems("dev", namespace="cells", databaseUser="estate_admin", registryWorkload="cells")
    assert "harbor.namespace = 'cells': its ai-estate:namespaces entry must set ['holdsData'] to true" in found
    assert "harbor.databaseUser = 'estate_admin': must be a database.users entry of type BUILT_IN" in found
    assert "identity.workloads.cells.buckets.registry = None: must be writer" in found


def test_harbor_can_be_left_out() -> None:
    cfg = load("dev", config_with("dev", harbor={"enabled": False}))
    assert signed_globs(cfg.harbor, "example.org") == []


# ---------------------------------------------------------------- pure decisions
def test_internal_certificates_name_what_components_call_and_match_the_crd() -> None:
    certs = {m.name: m.obj() for m in ho.internal_certificates("harbor", "estate-internal-ca")}
    assert set(certs) == {*ho.INTERNAL_TLS.values(), ho.CA_BUNDLE}
    core = certs[ho.INTERNAL_TLS["core"]]["spec"]
    # Core calls itself on https://127.0.0.1:8443 (CORE_LOCAL_URL), the others call harbor-core.
    assert core["ipAddresses"] == ["127.0.0.1"] and {"localhost", "harbor-core"} <= set(core["dnsNames"])
    for component, secret in ho.INTERNAL_TLS.items():
        spec = certs[secret]["spec"]
        assert f"harbor-{component}" in spec["dnsNames"] and {"server auth", "client auth"} <= set(spec["usages"])
        assert spec["issuerRef"] == {"name": "estate-internal-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    public = ho.public_certificate("harbor", "registry.example.org", "letsencrypt")
    assert public["spec"]["dnsNames"] == ["registry.example.org"] and public["spec"]["secretName"] == ho.PUBLIC_TLS
    assert public["metadata"]["annotations"]["pulumi.com/deletionPropagationPolicy"] == "foreground"
    assert [crd_problems(c) for c in [*certs.values(), public]] == [[]] * (len(certs) + 1)


def test_the_gateway_passes_harbors_name_through_to_its_nginx() -> None:
    gateway = ho.passthrough_gateway("istio-ingress", {"istio": "ingressgateway"}, "registry.example.org").obj()
    (server,) = gateway["spec"]["servers"]
    assert server == {
        "port": {"number": 443, "name": "tls-harbor", "protocol": "TLS"},
        "hosts": ["registry.example.org"],
        "tls": {"mode": "PASSTHROUGH"},
    }
    route = ho.passthrough_route("istio-ingress", "registry.example.org", "harbor").obj()
    (tls,) = route["spec"]["tls"]
    assert tls["match"] == [{"port": 443, "sniHosts": ["registry.example.org"]}]
    assert tls["route"][0]["destination"] == {
        "host": f"{SERVICE}.harbor.svc.cluster.local",
        "port": {"number": 443},
    }
    assert route["spec"]["gateways"] == [f"istio-ingress/{ho.GATEWAY}"]
    assert crd_problems(gateway) == [] and crd_problems(route) == []


def test_only_the_database_clients_reach_the_proxy() -> None:
    policies = {p["metadata"]["name"]: p for p in ho.authorization_policies("harbor", "harbor-registry")}
    proxy = policies["allow-harbor-db-proxy"]["spec"]
    assert proxy["selector"] == {"matchLabels": {"app": ho.PROXY}}
    (rule,) = proxy["rules"]
    assert rule["from"][0]["source"]["principals"] == [
        principal("harbor", f"harbor-{c}") for c in ("core", "jobservice", "exporter")
    ]
    assert rule["to"] == [{"operation": {"ports": ["5432"]}}]
    chart = policies["allow-harbor-components"]["spec"]
    # The chart's pods only: the proxy's pods are not behind this namespace-wide ALLOW.
    assert chart["selector"] == {"matchLabels": {"app": "harbor"}}
    assert principal("harbor", "harbor-registry") in chart["rules"][0]["from"][0]["source"]["principals"]
    assert [crd_problems(p) for p in policies.values()] == [[], []]
    allows = {a.name: a for a in ho.network_allows("harbor", "10.90.0.0/20")}
    db_in = allows["allow-harbor-db-proxy-in"]
    assert db_in.pods == (("app", ho.PROXY),) and db_in.ports == (("TCP", 5432), ("TCP", HBONE_PORT))
    assert sorted(dict(p.pods)["component"] for p in db_in.peers) == ["core", "exporter", "jobservice"]
    assert allows["allow-harbor-db-proxy-cloud-sql"].ports == (("TCP", 3307),)


def test_only_trivy_and_the_registry_and_proxy_leave_the_cluster() -> None:
    egress = [a for a in ho.network_allows("harbor", "10.90.0.0/20") if a.direction == "Egress"]
    public = {a.name: dict(a.pods) for a in egress if any(p.cidr == "0.0.0.0/0" for p in a.peers)}
    assert public == {
        "allow-harbor-db-proxy-google-apis": {"app": ho.PROXY},
        "allow-harbor-registry-google-apis": {"app": "harbor", "component": "registry"},
        "allow-harbor-trivy-databases": {"app": "harbor", "component": "trivy"},
    }
    assert all(a.ports == (("TCP", 443),) for a in egress if a.name in public)


def test_the_chart_reads_exactly_the_keys_the_program_syncs() -> None:
    wanted = hs.wanted("estate-dev", "harbor")
    # The chart's existing-secret options and the keys its templates read from them (1.19.1).
    assert wanted["estate-harbor-admin"].keys() == {"HARBOR_ADMIN_PASSWORD"}
    assert wanted["estate-harbor-secret-key"].keys() == {"secretKey"}
    assert wanted["estate-harbor-core"].keys() == {"secret"}
    assert wanted["estate-harbor-token"].keys() == {"tls.key", "tls.crt"}
    assert wanted["estate-harbor-registry-credentials"].keys() == {"REGISTRY_PASSWD", "REGISTRY_HTPASSWD"}
    assert wanted[hs.DATABASE_SECRET] == {"password": "estate-dev-db-harbor-password"}
    # Harbor requires a 16-character secretKey and a 32-character XSRF key.
    assert hs.PASSWORDS["secret-key"] == 16 and hs.PASSWORDS["csrf-key"] == 32


def test_empty_secret_data_is_dropped_and_real_data_kept() -> None:
    assert without_empty_data({"kind": "Secret", "data": None}) == {"kind": "Secret"}
    assert without_empty_data({"kind": "Secret", "data": {"A": "", "B": "eA=="}}) == {
        "kind": "Secret",
        "data": {"B": "eA=="},
    }
    assert without_empty_data({"kind": "Secret", "data": {"B": "eA=="}}) is None


def test_a_misspelt_chart_value_is_caught() -> None:
    assert unknown_value_keys("harbor", {"core": {"existingSecrt": "x"}, "expose": {"tls": {"enabled": True}}}) == [
        "core.existingSecrt"
    ]


# ---------------------------------------------------------------- the plans
def test_the_chart_takes_nothing_from_chance(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    host = fqdn(cfg.harbor.host, cfg.dns.domain or "")
    values = _harbor_chart(plan)["inputs"]["values"]
    assert UNKNOWN not in json.dumps(values) and SECRET_SIG not in json.dumps(values)
    assert values["externalURL"] == f"https://{host}"
    assert values["expose"]["tls"] == {"enabled": True, "certSource": "secret", "secret": {"secretName": ho.PUBLIC_TLS}}
    assert values["internalTLS"]["certSource"] == "secret" and values["internalTLS"]["enabled"] is True
    assert {c: values["internalTLS"][c]["secretName"] for c in ho.INTERNAL_TLS} == ho.INTERNAL_TLS
    synced = {
        es["inputs"]["spec"]["target"]["name"]: {d["secretKey"] for d in es["inputs"]["spec"]["data"]}
        for es in plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if es["inputs"]["metadata"]["namespace"] == cfg.harbor.namespace
    }
    assert synced == {name: set(keys) for name, keys in hs.wanted(cfg.prefix, cfg.harbor.database_user).items()}
    named = {
        values["existingSecretAdminPassword"],
        values["existingSecretSecretKey"],
        values["core"]["existingSecret"],
        values["core"]["existingXsrfSecret"],
        values["core"]["secretName"],
        values["jobservice"]["existingSecret"],
        values["registry"]["existingSecret"],
        values["registry"]["credentials"]["existingSecret"],
        values["database"]["external"]["existingSecret"],
    }
    assert named == set(synced)
    assert values["registry"]["credentials"]["username"] == REGISTRY_USER
    assert values["database"]["external"] | {"existingSecret": None} == {
        "host": ho.PROXY,
        "port": "5432",
        "username": cfg.harbor.database_user,
        "coreDatabase": cfg.harbor.database,
        "existingSecret": None,
        "sslmode": "disable",
    }
    assert values["redis"]["type"] == "internal"


def test_blobs_go_to_the_registry_bucket_through_workload_identity(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    storage = _harbor_chart(plan)["inputs"]["values"]["persistence"]["imageChartStorage"]
    assert storage["type"] == "gcs" and storage["disableredirect"] is True
    assert storage["gcs"]["bucket"] == f"{cfg.project}-{cfg.harbor.bucket}" and storage["gcs"]["useWorkloadIdentity"]
    workload = cfg.identity.workloads[cfg.harbor.registry_workload]
    (ksa,) = [
        s
        for s in plan.by_type("kubernetes:core/v1:ServiceAccount")
        if s["inputs"]["metadata"]["name"] == workload.service_account
        and s["inputs"]["metadata"]["namespace"] == cfg.harbor.namespace
    ]
    gsa = ksa["inputs"]["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert gsa.startswith(f"{cfg.environment}-wl-{cfg.harbor.registry_workload}@")
    assert _harbor_chart(plan)["inputs"]["values"]["registry"]["serviceAccountName"] == workload.service_account
    grants = {
        (g["inputs"]["bucket"], g["inputs"]["role"])
        for g in plan.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if g["inputs"]["member"] == f"serviceAccount:{gsa}"
    }
    assert grants == {(f"{cfg.project}-{cfg.harbor.bucket}", "roles/storage.objectAdmin")}


def test_every_harbor_image_is_ours_by_digest(plan: Plan) -> None:
    values = _harbor_chart(plan)["inputs"]["values"]
    images = [v for v in _walk(values) if isinstance(v, dict) and "repository" in v and "tag" in v]
    assert len(images) == 9
    for image in images:
        assert image["repository"].startswith(f"{stack_cfg(plan.stack).region}-docker.pkg.dev/")
        assert image["tag"].startswith("v2.15.1@sha256:")


def test_the_database_proxy_is_hardened_and_sized_by_environment(plan: Plan) -> None:
    prod = plan.stack == "prod"
    (proxy,) = [d for d in plan.by_type("kubernetes:apps/v1:Deployment") if d["name"].endswith("-harbor-db-proxy")]
    spec = proxy["inputs"]["spec"]
    assert spec["replicas"] == stack_cfg(plan.stack).harbor.replicas
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert "--address=0.0.0.0" in container["args"] and "--private-ip" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert pod["automountServiceAccountToken"] is False
    pdbs = [p for p in plan.by_type("kubernetes:policy/v1:PodDisruptionBudget") if "harbor" in p["name"]]
    assert len(pdbs) == (1 if prod else 0)
    assert bool(pod.get("topologySpreadConstraints")) is prod


def test_projects_policies_and_robots_come_from_config(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    prod = plan.stack == "prod"
    projects = {p["inputs"]["name"]: p for p in plan.by_type(PROJECT)}
    assert set(projects) == set(cfg.harbor.projects)
    for name, project in projects.items():
        want = cfg.harbor.projects[name]
        inputs = project["inputs"]
        assert inputs["vulnerabilityScanning"] is want.scan_on_push
        assert inputs["deploymentSecurity"] == want.block_severity
        assert inputs["enableContentTrustCosign"] is want.require_signature and inputs["public"] is False
        # Dev opted into destroying data with its buckets (storage.forceDestroy); prod never.
        assert inputs["forceDestroy"] is (not prod and cfg.storage.force_destroy)
        assert project["options"]["protect"] is prod
    rules = plan.by_type("harbor:index/immutableTagRule:ImmutableTagRule")
    assert {r["inputs"]["tagMatching"] for r in rules} == {"**"}
    (retention,) = plan.by_type("harbor:index/retentionPolicy:RetentionPolicy")
    assert retention["inputs"]["rules"][0]["mostRecentlyPushed"] == cfg.harbor.projects["estate"].retention.keep_last
    robots = {r["inputs"]["name"]: r["inputs"] for r in plan.by_type(ROBOT)}
    assert set(robots) == set(cfg.harbor.robots) and all(r["level"] == "system" for r in robots.values())
    actions = {name: {a["action"] for p in r["permissions"] for a in p["accesses"]} for name, r in robots.items()}
    assert "push" in actions["ci"] and "push" not in actions["cluster"]
    # Their secrets are the program's, kept in Secret Manager, protected in prod.
    stored = {s["inputs"]["secretId"]: s for s in plan.by_type("gcp:secretmanager/secret:Secret")}
    for robot in cfg.harbor.robots:
        secret = stored[hs.robot_secret_id(cfg.prefix, robot)]
        assert secret["options"]["protect"] is prod
    assert plan.outputs["harborRobotSecrets"] == {r: hs.robot_secret_id(cfg.prefix, r) for r in cfg.harbor.robots}


def test_harbors_images_are_admitted_only_signed(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    host = fqdn(cfg.harbor.host, cfg.dns.domain or "")
    (cip,) = plan.by_type("kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy")
    globs = {i["glob"] for i in cip["inputs"]["spec"]["images"]}
    assert {f"{host}/{p}/**" for p in cfg.harbor.projects} <= globs
    # Binary Authorization: no allowlist entry for Harbor, so only an attestation admits its images.
    (policy,) = plan.by_type("gcp:binaryauthorization/policy:Policy")
    assert not [p for p in policy["inputs"]["admissionWhitelistPatterns"] if p["namePattern"].startswith(host)]
    assert policy["inputs"]["defaultAdmissionRule"]["evaluationMode"] == "REQUIRE_ATTESTATION"


def test_harbors_name_points_at_the_gateway(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    host = fqdn(cfg.harbor.host, cfg.dns.domain or "")
    (record,) = [r for r in plan.by_type("gcp:dns/recordSet:RecordSet") if r["name"].endswith("-harbor-dns")]
    assert record["inputs"]["name"] == f"{host}." and record["inputs"]["type"] == "A"
    (gateway,) = [
        g for g in plan.by_type("kubernetes:networking.istio.io/v1:Gateway") if g["name"].endswith("-harbor-gateway")
    ]
    assert gateway["inputs"]["spec"]["servers"][0]["tls"] == {"mode": "PASSTHROUGH"}


def test_harbors_namespace_is_in_the_mesh_and_backed_up(plan: Plan) -> None:
    ns_name = stack_cfg(plan.stack).harbor.namespace
    (ns,) = [n for n in plan.by_type("kubernetes:core/v1:Namespace") if n["inputs"]["metadata"]["name"] == ns_name]
    assert ns["inputs"]["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    (bp,) = plan.by_type("gcp:gkebackup/backupPlan:BackupPlan")
    assert ns_name in bp["inputs"]["backupConfig"]["selectedNamespaces"]["namespaces"]


def test_the_rendered_chart_reads_only_keys_the_program_syncs(dev_plan: Plan) -> None:
    """Every Secret key the rendered pods read from the program's Secrets is one it syncs; every
    Secret they mount exists (synced, or a cert-manager certificate's)."""
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("harbor")
    chart = _harbor_chart(dev_plan)
    (outcome,) = [o for o in render_charts([chart], cache)]
    objects = [c["inputs"] for c in outcome.children]
    cfg = stack_cfg("dev")
    synced = hs.wanted(cfg.prefix, cfg.harbor.database_user)
    certificates = {*ho.INTERNAL_TLS.values(), ho.CA_BUNDLE, ho.PUBLIC_TLS}
    rendered = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    read: dict[str, set[str]] = {}
    mounted: set[str] = set()
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = obj["spec"]["template"]["spec"]
        for item in _walk(pod):
            if isinstance(item, dict) and "secretKeyRef" in item:
                ref = item["secretKeyRef"]
                read.setdefault(ref["name"], set()).add(ref["key"])
            if isinstance(item, dict) and "secretName" in item and isinstance(item["secretName"], str):
                mounted.add(item["secretName"])
                for it in item.get("items") or []:
                    read.setdefault(item["secretName"], set()).add(it["key"])
    ours = {name: keys for name, keys in read.items() if name in synced}
    assert ours and all(keys <= synced[name].keys() for name, keys in ours.items()), ours
    assert mounted <= set(synced) | certificates | rendered, mounted - set(synced) - certificates - rendered
    assert ho.PUBLIC_TLS in mounted and ho.CA_BUNDLE in mounted
