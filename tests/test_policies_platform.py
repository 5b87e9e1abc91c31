"""RBAC, Secret, Helm chart and gateway TLS rules through the real analyzer, one good and one bad case per kind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import policy_fixtures as fx
from tests.policy_fixtures import TEST_CONFIG, found, k8s, skipped
from tools.analyzer import Analyzer
from tools.gate import PACK_DIR, check, render
from tools.plan import Plan

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE, CLUSTER_ROLE = f"{RBAC}:Role", f"{RBAC}:ClusterRole"
BINDING, CLUSTER_BINDING = f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding"
SECRET = "kubernetes:core/v1:Secret"
CHART, RELEASE = "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release"
CHART_URN = "urn:pulumi:dev::ai-estate::estate:platform:Mesh$kubernetes:helm.sh/v4:Chart::estate-dev-istiod"
GATEWAY_API = (
    "kubernetes:gateway.networking.k8s.io/v1:Gateway",
    "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway",
)
ISTIO_GATEWAY = tuple(f"kubernetes:networking.istio.io/{v}:Gateway" for v in ("v1", "v1beta1", "v1alpha3"))
READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


def _role(type_: str, *rules: dict[str, Any], **body: Any) -> dict[str, Any]:
    namespace = "cells" if type_ == ROLE else None
    return k8s(type_, "reader", {"rules": list(rules), **body}, namespace)


# ------------------------------------------------------------------ RBAC
@pytest.mark.parametrize("type_", [ROLE, CLUSTER_ROLE])
@pytest.mark.parametrize("field", ["verbs", "resources", "apiGroups"])
def test_roles_refuse_wildcards(pack: Analyzer, type_: str, field: str) -> None:
    assert "estate-rbac-no-wildcards" not in found(pack, _role(type_, READ_PODS))
    messages = found(pack, _role(type_, READ_PODS, {**READ_PODS, field: ["*"]}))["estate-rbac-no-wildcards"]
    assert any(f"rules[1].{field} contains '*'" in m for m in messages)


def test_aggregated_cluster_roles(pack: Analyzer) -> None:
    aggregated = {
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"estate.io/aggregate-to-reader": "true"}}]}
    }
    assert "estate-rbac-no-wildcards" not in found(pack, _role(CLUSTER_ROLE, **aggregated))
    everything: dict[str, Any] = {"aggregationRule": {"clusterRoleSelectors": [{}]}}
    assert (
        "aggregates every ClusterRole" in found(pack, _role(CLUSTER_ROLE, **everything))["estate-rbac-no-wildcards"][0]
    )
    spreading = _role(CLUSTER_ROLE, {**READ_PODS, "verbs": ["*"]})
    spreading["inputs"]["metadata"]["labels"] = {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
    assert "into the built-in ['edit'] roles" in found(pack, spreading)["estate-rbac-no-wildcards"][0]


def test_allowed_wildcards_are_scoped_to_their_fields(pack: Analyzer) -> None:
    reason = "istiod watches every resource of the Istio API groups"
    config = {
        **TEST_CONFIG,
        "estate-rbac-no-wildcards": {
            "allowedWildcards": [{"resource": "istiod-*", "fields": ["resources"], "reason": reason}]
        },
    }
    istio = {"apiGroups": ["networking.istio.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]}
    allowed = k8s(CLUSTER_ROLE, "istiod-clusterrole-istio-system", {"rules": [istio]})
    too_much = k8s(CLUSTER_ROLE, "istiod-clusterrole-istio-system", {"rules": [{**istio, "verbs": ["*"]}]})
    other = k8s(CLUSTER_ROLE, "operator", {"rules": [istio]})
    try:
        pack.configure(config)
        assert "estate-rbac-no-wildcards" not in found(pack, allowed)
        assert reason in skipped(pack, allowed)["estate-rbac-no-wildcards"]
        [message] = found(pack, too_much)["estate-rbac-no-wildcards"]
        assert message.endswith("rules[0].verbs contains '*'; list what the role needs")
        assert "estate-rbac-no-wildcards" in found(pack, other)
        allowed["inputs"]["metadata"]["labels"] = {"rbac.authorization.k8s.io/aggregate-to-view": "true"}
        assert "estate-rbac-no-wildcards" in found(pack, allowed)
    finally:
        pack.configure(TEST_CONFIG)


def _binding(type_: str, role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    body = {
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"} for kind, name in subjects],
    }
    return k8s(type_, "grant", body, "cells" if type_ == BINDING else None)


@pytest.mark.parametrize("type_", [BINDING, CLUSTER_BINDING])
def test_no_cluster_admin_bindings(pack: Analyzer, type_: str) -> None:
    team = ("Group", "platform@example.org")
    assert "estate-rbac-no-cluster-admin" not in found(pack, _binding(type_, "view", team))
    assert "estate-rbac-no-cluster-admin" in found(pack, _binding(type_, "cluster-admin", team))


@pytest.mark.parametrize("type_", [BINDING, CLUSTER_BINDING])
@pytest.mark.parametrize(
    "subject", [("User", "system:anonymous"), ("Group", "system:unauthenticated"), ("Group", "system:authenticated")]
)
def test_no_bindings_to_public_subjects(pack: Analyzer, type_: str, subject: tuple[str, str]) -> None:
    sa = ("ServiceAccount", "cells")
    assert "estate-rbac-no-public-subjects" not in found(pack, _binding(type_, "view", sa))
    assert "estate-rbac-no-public-subjects" in found(pack, _binding(type_, "view", sa, subject))


# ------------------------------------------------------------------ Secrets
@pytest.mark.parametrize(
    ("body", "fails"),
    [
        ({"type": "Opaque", "data": {"password": "c2VjcmV0"}}, True),
        ({"type": "Opaque", "stringData": {"password": "secret"}}, True),
        ({"type": "Opaque"}, False),
        ({"type": "Opaque", "data": {}}, False),
        ({"type": "kubernetes.io/service-account-token"}, False),
    ],
)
def test_program_secrets_hold_no_material(pack: Analyzer, body: dict[str, Any], fails: bool) -> None:
    secret = k8s(SECRET, "db", body, "cells")
    if body["type"] == "kubernetes.io/service-account-token":
        secret["inputs"]["metadata"]["annotations"] = {"kubernetes.io/service-account.name": "cells"}
    assert ("estate-secrets-external-only" in found(pack, secret)) is fails


def test_chart_rendered_secrets_may_be_empty_but_not_filled(pack: Analyzer) -> None:
    empty = k8s(SECRET, "istio-webhook-certs", {"type": "Opaque"}, "istio-system", parent=CHART_URN)
    assert "estate-secrets-external-only" not in found(pack, empty)
    filled = k8s(SECRET, "istio-webhook-certs", {"data": {"key.pem": "LS0t"}}, "istio-system", parent=CHART_URN)
    assert "rendered by chart estate-dev-istiod" in found(pack, filled)["estate-secrets-external-only"][0]


def test_the_plans_hold_no_secret_material_and_a_masked_one_is_flagged(pack: Analyzer, dev_plan: Plan) -> None:
    # Credentials reach Kubernetes through ExternalSecrets only: the program registers no Secret.
    assert dev_plan.by_type(SECRET) == []
    assert dev_plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    masked = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "[secret]"}
    secret = k8s(SECRET, "db-credentials", {"stringData": masked}, "estate-data")
    assert "registered by the program holds stringData" in found(pack, secret)["estate-secrets-external-only"][0]


# ------------------------------------------------------------------ Helm charts
def _chart(
    type_: str, version: str | None, repo: str | None = fx.CHART_REPOS[1], chart: str = "istiod"
) -> dict[str, Any]:
    inputs: dict[str, Any] = {"chart": chart, "namespace": "istio-system", "name": "istiod", "values": {}}
    if version is not None:
        inputs["version"] = version
    if repo is not None:
        inputs["repositoryOpts"] = {"repo": repo}
    return fx.resource(type_, "estate-dev-istiod", inputs)


@pytest.mark.parametrize("type_", [CHART, RELEASE])
@pytest.mark.parametrize("version", ["1.30.3", "v1.21.1", "2.0.0-rc.1", "1.2.3+build.5"])
def test_exact_chart_versions_pass(pack: Analyzer, type_: str, version: str) -> None:
    assert found(pack, _chart(type_, version)) == {}


@pytest.mark.parametrize("type_", [CHART, RELEASE])
@pytest.mark.parametrize(
    "version", [None, "", "latest", "^1.30.0", "~1.30", ">=1.30.0", "1.30.x", "1.30.*", "*", "1.30"]
)
def test_chart_version_ranges_fail(pack: Analyzer, type_: str, version: str | None) -> None:
    assert "estate-charts-exact-version" in found(pack, _chart(type_, version))


@pytest.mark.parametrize("type_", [CHART, RELEASE])
def test_chart_repositories_come_from_the_allowlist(pack: Analyzer, type_: str) -> None:
    assert "estate-charts-repository-allowlist" not in found(pack, _chart(type_, "1.30.3", fx.CHART_REPOS[1] + "/"))
    oci = _chart(type_, "0.4.2", None, chart="oci://ghcr.io/estate/charts/tenant")
    assert "estate-charts-repository-allowlist" not in found(pack, oci)
    for repo in ("https://charts.bitnami.com/bitnami", "http://charts.jetstack.io", None):
        assert "estate-charts-repository-allowlist" in found(pack, _chart(type_, "1.30.3", repo)), repo
    rogue_oci = _chart(type_, "0.4.2", None, chart="oci://registry-1.docker.io/bitnamicharts/redis")
    assert "estate-charts-repository-allowlist" in found(pack, rogue_oci)


def test_no_chart_repository_is_allowed_by_default(pack: Analyzer) -> None:
    try:
        pack.configure({k: v for k, v in TEST_CONFIG.items() if k != "estate-charts-repository-allowlist"})
        assert "estate-charts-repository-allowlist" in found(pack, _chart(CHART, "1.30.3"))
    finally:
        pack.configure(TEST_CONFIG)


def test_a_chart_without_inputs_is_not_applicable(pack: Analyzer) -> None:
    """What the engine sends for a helm.v4.Chart: the provider registers it inside Construct, without inputs."""
    empty = fx.resource(CHART, "estate-dev-istiod", {})
    assert found(pack, empty) == {}
    reasons = skipped(pack, empty)
    assert "pulumi/pulumi#10533" in reasons["estate-charts-exact-version"]
    assert "pulumi/pulumi#10533" in reasons["estate-charts-repository-allowlist"]
    assert "estate-charts-exact-version" in found(pack, fx.resource(RELEASE, "r", {"chart": "istiod"}))


# ------------------------------------------------------------------ gateway TLS
def _listener(name: str, protocol: str, port: float, **tls: Any) -> dict[str, Any]:
    return {"name": name, "protocol": protocol, "port": port, **({"tls": tls} if tls else {})}


CERT = [{"kind": "Secret", "name": "app-tls"}]
GOOD_LISTENERS = [
    _listener("https", "HTTPS", 443.0, mode="Terminate", certificateRefs=CERT),
    _listener("https-default-mode", "HTTPS", 8443.0, certificateRefs=CERT),
    _listener("tls", "TLS", 9443.0, mode="Passthrough"),
    _listener("http", "HTTP", 80.0),
]
BAD_LISTENERS = [
    _listener("https", "HTTPS", 443.0, mode="Terminate"),
    _listener("https", "HTTPS", 443.0, mode="Passthrough", certificateRefs=CERT),
    _listener("tls", "TLS", 9443.0, mode="Terminate"),
    _listener("tcp", "TCP", 5432.0),
]


@pytest.mark.parametrize("type_", GATEWAY_API)
def test_gateway_api_listeners(pack: Analyzer, type_: str) -> None:
    good = k8s(type_, "web", {"spec": {"gatewayClassName": "istio", "listeners": GOOD_LISTENERS}}, "istio-ingress")
    assert "estate-tls-gateway-api-listeners" not in found(pack, good)
    for listener in BAD_LISTENERS:
        bad = k8s(type_, "web", {"spec": {"gatewayClassName": "istio", "listeners": [listener]}}, "istio-ingress")
        assert "estate-tls-gateway-api-listeners" in found(pack, bad), listener


def _server(protocol: str, **tls: Any) -> dict[str, Any]:
    return {"port": {"number": 443.0, "name": "https", "protocol": protocol}, "hosts": ["app.example.org"], "tls": tls}


@pytest.mark.parametrize("type_", ISTIO_GATEWAY)
@pytest.mark.parametrize(
    ("server", "fails"),
    [
        (_server("HTTPS", mode="SIMPLE", credentialName="app-tls", minProtocolVersion="TLSV1_2"), False),
        (_server("HTTPS", mode="SIMPLE", credentialName="app-tls", minProtocolVersion="TLSV1_3"), False),
        (_server("TLS", mode="PASSTHROUGH"), False),
        (_server("HTTPS", mode="SIMPLE", credentialName="app-tls"), True),
        (_server("HTTPS", mode="SIMPLE", credentialName="app-tls", minProtocolVersion="TLSV1_1"), True),
        (_server("HTTPS", mode="SIMPLE", minProtocolVersion="TLSV1_2", maxProtocolVersion="TLSV1_1"), True),
    ],
)
def test_istio_gateways_require_tls_1_2(pack: Analyzer, type_: str, server: dict[str, Any], fails: bool) -> None:
    gateway = k8s(type_, "web", {"spec": {"servers": [server]}}, "istio-ingress")
    assert ("estate-tls-gateway" in found(pack, gateway)) is fails


def test_the_gate_prints_wildcard_allowances_with_their_reason(
    stack_pack: Callable[[str], Analyzer], dev_plan: Plan, tmp_path: Path
) -> None:
    reason = "cert-manager's controller reads every resource of its own API group"
    role = k8s(
        CLUSTER_ROLE,
        "cert-manager-controller",
        {"rules": [{"apiGroups": ["cert-manager.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]},
    )
    config = {
        **json.loads((PACK_DIR / "dev.json").read_text()),
        "estate-rbac-no-wildcards": {
            "allowedWildcards": [{"resource": "cert-manager-*", "fields": ["resources"], "reason": reason}]
        },
    }
    plan = Plan(stack="dev", preview=True, resources=[*dev_plan.resources, role])
    result = check(stack_pack("dev"), plan, config, charts_cache=tmp_path)  # the program's resources only
    assert result.mandatory == []
    line = f"estate-rbac-no-wildcards on cert-manager-*: {reason} [applied to {role['name']}]"
    assert line in render(result, "x", verbose=True) and line not in render(result, "x")


def test_the_gate_sends_component_resources_through_analyze(
    stack_pack: Callable[[str], Analyzer], dev_plan: Plan
) -> None:
    """A Chart is a component (custom false) and still reaches the resource rules, as in the engine."""
    component = next(r for r in dev_plan.resources if not r["custom"])
    cert_manager = _chart(CHART, "^1.21.0", fx.CHART_REPOS[0], chart="cert-manager")
    chart = {**cert_manager, "name": "estate-dev-cert-manager", "custom": False, "parent": component["urn"]}
    plan = Plan(stack="dev", preview=True, resources=[*dev_plan.resources, chart])
    result = check(stack_pack("dev"), plan, json.loads((PACK_DIR / "dev.json").read_text()))
    assert [(f.policy, f.resource) for f in result.mandatory] == [("estate-charts-exact-version", chart["name"])]
