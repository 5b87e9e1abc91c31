"""Stack rules for the platform: default-deny per application namespace, Gateway API redirects, and the
admission verifier with both Binary Authorization and policy-controller in the plan."""

from __future__ import annotations

from typing import Any

import pytest

from tests import policy_fixtures as fx
from tests.policy_fixtures import k8s, stack
from tests.test_policies_stack import BINAUTHZ_OK, CIP, ISTIOD, _ns
from tools.analyzer import Analyzer

NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
AP = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
GW = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
GRPC = "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute"
CHART_URN = "urn:pulumi:dev::ai-estate::estate:platform:Tenants$kubernetes:helm.sh/v4:Chart::estate-dev-tenant"
BOTH = ["Ingress", "Egress"]


def _np(namespace: str, spec: dict[str, Any], name: str = "default-deny", parent: str | None = None) -> dict[str, Any]:
    return k8s(NP, name, {"spec": spec}, namespace, parent)


def _ap(namespace: str, spec: dict[str, Any] | None = None, name: str = "allow-nothing") -> dict[str, Any]:
    return k8s(AP, name, {"spec": spec or {}}, namespace)


DENY_ALL = {"podSelector": {}, "policyTypes": BOTH}
CELLS = _ns("cells")
SYSTEM = [_ns("istio-system"), _ns("gke-managed-cim"), _ns("kube-system")]

DEFAULT_DENY_CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("one policy closing both directions", [CELLS, _np("cells", DENY_ALL)], False),
    (
        "matchLabels absent counts as empty",
        [CELLS, _np("cells", {"podSelector": {"matchLabels": {}}, "policyTypes": BOTH})],
        False,
    ),
    (
        "a deny-ingress and a deny-egress policy",
        [
            CELLS,
            _np("cells", {"podSelector": {}}, "deny-in"),
            _np("cells", {"podSelector": {}, "policyTypes": ["Egress"]}, "deny-out"),
        ],
        False,
    ),
    ("rendered by a chart", [CELLS, _np("cells", DENY_ALL, parent=CHART_URN)], False),
    ("system namespaces need none", [CELLS, _np("cells", DENY_ALL), *SYSTEM], False),
    ("no policy", [CELLS], True),
    ("policy in another namespace", [CELLS, _np("other", DENY_ALL)], True),
    (
        "selects some pods only",
        [CELLS, _np("cells", {**DENY_ALL, "podSelector": {"matchLabels": {"app": "api"}}})],
        True,
    ),
    ("ingress only (policyTypes absent)", [CELLS, _np("cells", {"podSelector": {}})], True),
    ("an allow-all ingress rule", [CELLS, _np("cells", {**DENY_ALL, "ingress": [{}]})], True),
]


@pytest.mark.parametrize(("case", "resources", "fails"), DEFAULT_DENY_CASES, ids=[c[0] for c in DEFAULT_DENY_CASES])
def test_application_namespaces_have_a_default_deny_network_policy(
    pack: Analyzer, case: str, resources: list[dict[str, Any]], fails: bool
) -> None:
    reported, not_applicable = stack(pack, resources)
    assert "estate-network-default-deny" not in not_applicable
    assert ("estate-network-default-deny" in reported) is fails, reported.get("estate-network-default-deny")


def test_default_deny_is_not_applicable_before_a_namespace_exists(pack: Analyzer) -> None:
    _, not_applicable = stack(pack, [_np("cells", DENY_ALL)])
    assert not_applicable["estate-network-default-deny"] == "no Namespace in the plan yet"


AUTHZ_CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("allow-nothing in the namespace", [ISTIOD, CELLS, _ap("cells")], False),
    ("explicit ALLOW action", [ISTIOD, CELLS, _ap("cells", {"action": "ALLOW"})], False),
    ("allow-nothing in the mesh root", [ISTIOD, CELLS, _ap("istio-system")], False),
    ("none", [ISTIOD, CELLS], True),
    ("only for some workloads", [ISTIOD, CELLS, _ap("cells", {"selector": {"matchLabels": {"app": "api"}}})], True),
    ("allows everything", [ISTIOD, CELLS, _ap("cells", {"rules": [{}]})], True),
    ("a DENY policy", [ISTIOD, CELLS, _ap("cells", {"action": "DENY", "rules": [{}]})], True),
    ("in another namespace", [ISTIOD, CELLS, _ap("other")], True),
]


@pytest.mark.parametrize(("case", "resources", "fails"), AUTHZ_CASES, ids=[c[0] for c in AUTHZ_CASES])
def test_application_namespaces_deny_by_default_in_the_mesh(
    pack: Analyzer, case: str, resources: list[dict[str, Any]], fails: bool
) -> None:
    reported, not_applicable = stack(pack, resources)
    assert "estate-network-authz-default-deny" not in not_applicable
    assert ("estate-network-authz-default-deny" in reported) is fails


def test_authz_default_deny_is_not_applicable_before_the_mesh(pack: Analyzer) -> None:
    reported, not_applicable = stack(pack, [CELLS])
    assert "estate-network-authz-default-deny" not in reported
    assert not_applicable["estate-network-authz-default-deny"] == "no Istio mesh in the plan yet"


# ------------------------------------------------------------------ Gateway API: plain HTTP only redirects
GATEWAY = k8s(
    GW,
    "web",
    {
        "spec": {
            "gatewayClassName": "istio",
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443.0,
                    "tls": {"certificateRefs": [{"name": "web-tls"}]},
                },
                {"name": "http", "protocol": "HTTP", "port": 80.0},
            ],
        }
    },
    "istio-ingress",
)
REDIRECT = {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301.0}}]}
BACKEND = {"backendRefs": [{"name": "api", "port": 8080.0}]}


def _route(kind: str, parent: dict[str, Any], *rules: dict[str, Any], name: str = "api") -> dict[str, Any]:
    ref = {"name": "web", "namespace": "istio-ingress", **parent}
    return k8s(
        kind, name, {"spec": {"parentRefs": [ref], "hostnames": ["app.example.org"], "rules": list(rules)}}, "cells"
    )


REDIRECT_ROUTE = _route(ROUTE, {"sectionName": "http"}, REDIRECT, name="to-https")
REDIRECT_CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    (
        "redirect on http, app on https",
        [GATEWAY, REDIRECT_ROUTE, _route(ROUTE, {"sectionName": "https"}, BACKEND)],
        False,
    ),
    ("app attached by port 443", [GATEWAY, REDIRECT_ROUTE, _route(ROUTE, {"port": 443.0}, BACKEND)], False),
    ("route for another gateway", [GATEWAY, _route(ROUTE, {"name": "other"}, BACKEND)], False),
    ("app on every listener", [GATEWAY, REDIRECT_ROUTE, _route(ROUTE, {}, BACKEND)], True),
    ("app on http by port", [GATEWAY, _route(ROUTE, {"port": 80.0}, BACKEND)], True),
    (
        "redirect to http",
        [
            GATEWAY,
            _route(
                ROUTE,
                {"sectionName": "http"},
                {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "http"}}]},
            ),
        ],
        True,
    ),
    ("one rule redirects, one serves", [GATEWAY, _route(ROUTE, {"sectionName": "http"}, REDIRECT, BACKEND)], True),
    ("gRPC on http", [GATEWAY, _route(GRPC, {"sectionName": "http"}, BACKEND)], True),
]


@pytest.mark.parametrize(("case", "resources", "fails"), REDIRECT_CASES, ids=[c[0] for c in REDIRECT_CASES])
def test_http_listeners_only_redirect(pack: Analyzer, case: str, resources: list[dict[str, Any]], fails: bool) -> None:
    reported, not_applicable = stack(pack, resources)
    assert "estate-tls-gateway-api-redirect" not in not_applicable
    assert ("estate-tls-gateway-api-redirect" in reported) is fails


def test_gateway_api_redirect_is_not_applicable_before_a_gateway(pack: Analyzer) -> None:
    _, not_applicable = stack(pack, [_route(ROUTE, {}, BACKEND)])
    assert not_applicable["estate-tls-gateway-api-redirect"] == "no Gateway API Gateway in the plan yet"


# ------------------------------------------------------------------ admission verifier: both verifiers
LABELLED = _ns("cells", **{"policy.sigstore.dev/include": "true"})
UNLABELLED_SYSTEM = [_ns("cosign-system"), _ns("kube-system"), _ns("gke-gmp-system")]


def _weakened(res: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = fx.deep(res)
    for path, value in changes.items():
        node = out["inputs"]
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return out


VERIFIER_CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("both, namespace labelled", [BINAUTHZ_OK, CIP, LABELLED, *UNLABELLED_SYSTEM], False),
    (
        "both, GKE images exempt by path",
        [_weakened(BINAUTHZ_OK, admissionWhitelistPatterns=[{"namePattern": "gcr.io/gke-release/*"}]), CIP, LABELLED],
        False,
    ),
    ("both, namespace not labelled", [BINAUTHZ_OK, CIP, _ns("cells")], True),
    (
        "binauthz allows all",
        [_weakened(BINAUTHZ_OK, defaultAdmissionRule__evaluationMode="ALWAYS_ALLOW"), CIP, LABELLED],
        True,
    ),
    (
        "binauthz dry run",
        [_weakened(BINAUTHZ_OK, defaultAdmissionRule__enforcementMode="DRYRUN_AUDIT_LOG_ONLY"), CIP, LABELLED],
        True,
    ),
    (
        "binauthz cluster rule allows all",
        [
            _weakened(
                BINAUTHZ_OK,
                clusterAdmissionRules=[
                    {
                        "cluster": "europe-west4.estate",
                        "evaluationMode": "ALWAYS_ALLOW",
                        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                    }
                ],
            ),
            CIP,
            LABELLED,
        ],
        True,
    ),
    (
        "binauthz exempts a registry",
        [_weakened(BINAUTHZ_OK, admissionWhitelistPatterns=[{"namePattern": "docker.io/*"}]), CIP, LABELLED],
        True,
    ),
    ("policy-controller only warns", [BINAUTHZ_OK, _weakened(CIP, spec__mode="warn"), LABELLED], True),
    (
        "policy-controller passes anything",
        [BINAUTHZ_OK, _weakened(CIP, spec__authorities=[{"static": {"action": "pass"}}]), LABELLED],
        True,
    ),
]


@pytest.mark.parametrize(("case", "resources", "fails"), VERIFIER_CASES, ids=[c[0] for c in VERIFIER_CASES])
def test_admission_verifier_with_both_verifiers(
    pack: Analyzer, case: str, resources: list[dict[str, Any]], fails: bool
) -> None:
    reported, not_applicable = stack(pack, resources)
    assert "estate-images-admission-verifier" not in not_applicable
    assert ("estate-images-admission-verifier" in reported) is fails, reported.get("estate-images-admission-verifier")
