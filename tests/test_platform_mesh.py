"""The mesh: Istio chart values vs upstream, custom resources vs their CRDs, `ai-estate:mesh`
checks, and the Mesh component under the mock runtime."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from components.kube.values import ChartContext, PinnedImage, Values
from components.platform import mesh_objects as objects
from components.platform.values.istio import IMAGES, INGRESS_PRINCIPAL, base_values, istiod_values
from components.platform.values.istio_gateway import IP_ANNOTATION, gateway_values
from components.platform.values.istio_nodes import cni_values, ztunnel_values
from stacks.config_mesh import DEFAULTS, MeshConfig, check, resolved_hosts
from tests.upstream import crd_problems, unknown_value_keys, values_schema_problems

DOMAIN = "dev.example.com"
REGISTRY = "europe-west4-docker.pkg.dev/ai-estate-dev/dockerhub"


def mesh_context(env: str) -> ChartContext:
    images = {
        key: PinnedImage(f"{REGISTRY}/{spec['image'].split('/', 1)[1]}", f"sha256:{i:064x}", spec["tag"])
        for i, (key, spec) in enumerate(sorted(IMAGES.items()), start=1)
    }
    return ChartContext(env, f"ai-estate-{env}", "europe-west4", "c", "europe-west4", images)


def mesh_config(env: str, **over: Any) -> MeshConfig:
    return MeshConfig.model_validate({**DEFAULTS[env], **over})


def _charts(env: str) -> dict[str, Values]:
    ctx, cfg = mesh_context(env), mesh_config(env)
    return {
        "istio-base": base_values(ctx),
        "istiod": istiod_values(ctx, cfg),
        "istio-cni": cni_values(ctx),
        "ztunnel": ztunnel_values(ctx),
        "istio-gateway": gateway_values(ctx, cfg),
    }


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


ENVS = pytest.mark.parametrize("env", ["dev", "prod"])


# ---------------------------------------------------------------- values
@ENVS
@pytest.mark.parametrize("chart", ["istio-base", "istiod", "istio-cni", "ztunnel", "istio-gateway"])
def test_values_keys_are_known_upstream(env: str, chart: str) -> None:
    values = _charts(env)[chart].dump()
    assert unknown_value_keys(chart, values) == []
    assert values_schema_problems(chart, values) == []


def test_unknown_key_is_caught() -> None:
    values = {**_charts("dev")["ztunnel"].dump(), "imageDigest": "sha256:0"}
    assert unknown_value_keys("ztunnel", values) == ["imageDigest"]


@ENVS
def test_every_image_is_ours_by_digest(env: str) -> None:
    ctx, charts = mesh_context(env), _charts(env)
    ref = {key: f"{img.repository}@{img.digest}" for key, img in ctx.images.items()}
    istiod = charts["istiod"].dump()
    assert istiod["image"] == ref["istio-pilot"]
    assert istiod["global"]["proxy"]["image"] == ref["istio-proxyv2"]  # the gateway's image: auto
    assert istiod["global"]["proxy_init"]["image"] == ref["istio-proxyv2"]
    assert istiod["global"]["hub"] == f"{REGISTRY}/istio"  # where waypoints would be built from later
    assert charts["istio-cni"].dump()["image"] == ref["istio-install-cni"]
    assert charts["ztunnel"].dump()["image"] == ref["istio-ztunnel"]
    for chart, values in charts.items():
        for s in _strings(values.dump()):
            assert not s.startswith(("docker.io", "gcr.io", "quay.io", "registry.istio.io")), (chart, s)


@ENVS
def test_profiles_select_ambient_on_gke(env: str) -> None:
    charts = _charts(env)
    for chart in ("istiod", "istio-cni", "ztunnel"):
        values = charts[chart].dump()
        assert values["profile"] == "ambient"
        assert values["global"]["platform"] == "gke"
    for chart in ("istio-cni", "ztunnel"):  # the ResourceQuota GKE wants for system-node-critical pods
        assert charts[chart].dump()["resourceQuotas"]["enabled"] is True


@ENVS
def test_gateway_is_hardened_and_on_the_reserved_address(env: str) -> None:
    gw = _charts(env)["istio-gateway"].dump()
    assert gw["service"]["type"] == "LoadBalancer"
    assert gw["service"]["annotations"][IP_ANNOTATION] == f"estate-{env}-ingress"
    assert {p["port"]: p["targetPort"] for p in gw["service"]["ports"]} == {80: 8080, 443: 8443}
    pod, container = gw["securityContext"], gw["containerSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 1337 and "sysctls" not in pod
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]} and container["privileged"] is False
    assert set(gw["resources"]) == {"requests", "limits"}
    assert gw["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021}
    # istiod's injection template writes the pod security too: it must say the same.
    assert _charts(env)["istiod"].dump()["gateways"]["securityContext"] == pod


def test_prod_runs_replicated_spread_and_protected() -> None:
    prod = _charts("prod")
    gw, istiod = prod["istio-gateway"].dump(), prod["istiod"].dump()
    assert gw["autoscaling"]["minReplicas"] >= 2 and gw["podDisruptionBudget"] == {"minAvailable": 1}
    assert gw["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert istiod["autoscaleEnabled"] is True and istiod["autoscaleMin"] >= 2 and istiod["pdb"] == {"minAvailable": 1}
    assert istiod["topologySpreadConstraints"][0]["labelSelector"] == {"matchLabels": {"app": "istiod"}}
    dev = _charts("dev")["istiod"].dump()
    assert dev["autoscaleEnabled"] is False and "topologySpreadConstraints" not in dev


# ---------------------------------------------------------------- custom resources
def _objects(env: str) -> list[dict[str, Any]]:
    hosts = resolved_hosts(mesh_config(env), DOMAIN)
    out = [objects.peer_authentication(), objects.gateway(hosts, "TLSV1_2")]
    out += [objects.certificate(name, host, "letsencrypt") for name, host in hosts.items()]
    out += objects.authorization_policies("inference", {"ingress": ("", ""), "cells": ("cells", "cells")})
    out.append(objects.virtual_service("api", hosts["api"], "inference", "inference", 8080))
    return out


@ENVS
def test_custom_resources_match_their_crds(env: str) -> None:
    for obj in _objects(env):
        assert crd_problems(obj) == [], obj


def test_crd_check_catches_a_pruned_field() -> None:
    bad = objects.peer_authentication()
    bad["spec"]["mtls"]["strict"] = True
    assert crd_problems(bad) == ["pruned: spec.mtls.strict"]


def test_gateway_serves_https_only_with_a_tls_floor() -> None:
    spec = objects.gateway({"api": "api.x.org", "web": "web.x.org"}, "TLSV1_3")["spec"]
    https = [s for s in spec["servers"] if s["port"]["protocol"] == "HTTPS"]
    assert [(s["hosts"], s["tls"]["credentialName"]) for s in https] == [
        (["api.x.org"], "ingress-api-tls"),
        (["web.x.org"], "ingress-web-tls"),
    ]
    assert {s["tls"]["minProtocolVersion"] for s in https} == {"TLSV1_3"}
    [plain] = [s for s in spec["servers"] if s["port"]["protocol"] == "HTTP"]
    assert plain["tls"] == {"httpsRedirect": True} and plain["port"]["number"] == 80


def test_authorization_is_deny_by_default_with_l4_allows() -> None:
    policies = objects.authorization_policies("inference", {"ingress": ("x", "y"), "cells": ("cells", "worker")})
    by_name = {p["metadata"]["name"]: p["spec"] for p in policies}
    assert by_name["deny-all"] == {}
    principals = {n: s["rules"][0]["from"][0]["source"]["principals"] for n, s in by_name.items() if s}
    assert principals == {
        "allow-cells": ["cluster.local/ns/cells/sa/worker"],
        "allow-ingress": [INGRESS_PRINCIPAL],
    }
    assert INGRESS_PRINCIPAL == "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
    for spec in by_name.values():  # L4 only: nothing a waypoint would be needed for
        assert "to" not in str(spec) and "when" not in str(spec)


# ---------------------------------------------------------------- config
def _problems(cfg: MeshConfig, *, prod: bool = False) -> list[str]:
    return [p.render() for p in check(cfg, DOMAIN, prod=prod, app_namespaces={"inference", "cells"})]


@ENVS
def test_defaults_pass(env: str) -> None:
    assert _problems(mesh_config(env), prod=env == "prod") == []
    # The cells' hosts (stacks.config_cells.REFERENCE): the web app and its API, the chat.
    assert resolved_hosts(mesh_config(env), DOMAIN) == {h: f"{h}.{DOMAIN}" for h in ("api", "app", "chat")}


def test_host_outside_the_domain() -> None:
    cfg = mesh_config("dev", hosts={"api": {"host": "api.example.org"}, "www": {"host": "www.dev.example.com"}})
    assert _problems(cfg) == [
        "mesh.hosts.api.host = 'api.example.org': must be inside the DNS domain dns.domain ('dev.example.com')"
    ]


def test_duplicate_hosts() -> None:
    cfg = mesh_config("dev", hosts={"api": {"host": "api"}, "api2": {"host": "api.dev.example.com"}})
    assert _problems(cfg) == [
        "mesh.hosts.api2.host = 'api.dev.example.com': 'api.dev.example.com' is already served by mesh.hosts.api"
    ]


def test_backend_in_an_unknown_namespace() -> None:
    backend = {"namespace": "nope", "service": "s", "port": 80}
    cfg = mesh_config("dev", hosts={"api": {"host": "api", "backend": backend}})
    assert _problems(cfg) == [
        "mesh.hosts.api.backend.namespace = 'nope': must be an application namespace (['cells', 'inference'])"
    ]


def test_replica_rules() -> None:
    cfg = mesh_config("prod", gateway={"minReplicas": 1, "maxReplicas": 3}, istiod={"minReplicas": 4, "maxReplicas": 3})
    assert _problems(cfg, prod=True) == [
        "mesh.gateway.minReplicas = 1: prod needs 2 or more, spread over zones",
        "mesh.istiod.minReplicas = 4: must be <= mesh.istiod.maxReplicas (3)",
    ]


def test_tls_floor_cannot_go_below_1_2() -> None:
    with pytest.raises(ValueError, match="TLSV1_2"):
        mesh_config("dev", minTlsVersion="TLSV1_1")
