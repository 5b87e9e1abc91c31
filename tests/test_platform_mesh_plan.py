"""The Mesh component under the mock runtime: what it registers, in which order, with what."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest

from components.common import K8S_LABELS
from components.kube.charts import PINS
from components.kube.values import ChartContext
from components.platform.mesh import Mesh, MeshArgs
from tests.test_platform_mesh import mesh_config, mesh_context
from tools.plan import Plan, record

DOMAIN = "prod.example.com"
CHART = "kubernetes:helm.sh/v4:Chart"
CR_PREFIX = "kubernetes:"
STUB = "random:index/randomId:RandomId"
CONFIG = {"gcp:project": "ai-estate-prod", "gcp:region": "europe-west4"}
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for a value unknown at preview


def _output_digests(ctx: ChartContext) -> ChartContext:
    """Digests as the registry lookup gives them in the real program: Outputs of an invoke."""
    images = {k: replace(v, digest=pulumi.Output.from_input(v.digest)) for k, v in ctx.images.items()}
    return replace(ctx, images=images)


def _program(outputs: bool = False) -> None:
    # Stand-ins for what the lead's builder passes in (cluster, APIs, namespaces, DNS zone, cert-manager).
    def stub(name: str) -> pulumi.Resource:
        return random.RandomId(name, random.RandomIdArgs(byte_length=4))

    namespaces = {n: stub(f"ns-{n}") for n in ("istio-system", "istio-ingress", "inference", "cells")}
    cfg = mesh_config(
        "prod",
        hosts={"api": {"host": "api", "backend": {"namespace": "inference", "service": "gateway", "port": 8080}}},
    )
    Mesh(
        "mesh",
        MeshArgs(
            ctx=_output_digests(mesh_context("prod")) if outputs else mesh_context("prod"),
            config=cfg,
            domain=DOMAIN,
            pins=PINS,
            provider=k8s.Provider("k8s", k8s.ProviderArgs(kubeconfig="{}")),
            cluster=stub("cluster"),
            apis=stub("apis"),
            namespaces=namespaces,
            dns_zone_name="estate-prod",
            dns_zone=stub("zone"),
            issuer="letsencrypt",
            cert_manager=stub("cert-manager"),
            app_namespaces={"inference": {"ingress": ("", ""), "cells": ("cells", "cells")}, "cells": {}},
        ),
    )


@pytest.fixture(scope="module")
def plan() -> Plan:
    result = record(_program, stack="prod", config=CONFIG)
    assert result.ok, result.error
    return result


def test_digests_from_the_registry_lookup_reach_the_values_resolved() -> None:
    result = record(lambda: _program(outputs=True), stack="prod", config=CONFIG)
    assert result.ok, result.error
    istiod = result.one(CHART, "mesh-istiod")["inputs"]["values"]
    images = mesh_context("prod").images
    pilot, proxy = images["istio-pilot"], images["istio-proxyv2"]
    assert istiod["image"] == f"{pilot.repository}@{pilot.digest}"
    assert istiod["global"]["proxy"]["image"] == f"{proxy.repository}@{proxy.digest}"


def _urn(plan: Plan, type_: str, name: str) -> str:
    return str(plan.one(type_, name)["urn"])


def _crs(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [r for r in plan.resources if r["type"].startswith(CR_PREFIX) and r["type"].endswith(f":{kind}")]


def test_component_and_children(plan: Plan) -> None:
    [mesh] = plan.by_type("estate:mesh:Mesh")
    mine = [r for r in plan.resources if r["parent"] == mesh["urn"]]
    assert {r["type"] for r in mine} >= {"gcp:compute/address:Address", "gcp:dns/recordSet:RecordSet", CHART}
    assert all(r["name"].startswith("mesh-") for r in mine)


def test_charts_install_in_order_with_known_values(plan: Plan) -> None:
    charts = {r["name"]: r for r in plan.by_type(CHART)}
    assert {n: (c["inputs"]["chart"], c["inputs"]["version"], c["inputs"]["namespace"]) for n, c in charts.items()} == {
        "mesh-istio-base": ("base", "1.30.3", "istio-system"),
        "mesh-istiod": ("istiod", "1.30.3", "istio-system"),
        "mesh-istio-cni": ("cni", "1.30.3", "istio-system"),
        "mesh-ztunnel": ("ztunnel", "1.30.3", "istio-system"),
        "mesh-istio-gateway": ("gateway", "1.30.3", "istio-ingress"),
    }
    assert charts["mesh-istio-gateway"]["inputs"]["name"] == "istio-ingressgateway"
    base, istiod = charts["mesh-istio-base"]["urn"], charts["mesh-istiod"]["urn"]
    assert base in charts["mesh-istiod"]["dependencies"]
    # Ordered only by data: the node agents need base's CRDs, the gateway istiod's injector.
    for node_agent in ("mesh-istio-cni", "mesh-ztunnel"):
        assert base in charts[node_agent]["dependencies"] and istiod not in charts[node_agent]["dependencies"]
    gateway_deps = charts["mesh-istio-gateway"]["dependencies"]
    assert istiod in gateway_deps
    assert not {charts["mesh-istio-cni"]["urn"], charts["mesh-ztunnel"]["urn"]} & set(gateway_deps)
    assert _urn(plan, "gcp:compute/address:Address", "mesh-address") in gateway_deps
    for chart in charts.values():  # Chart v4 registers no children in preview when a value is unknown
        assert UNKNOWN not in json.dumps(chart["inputs"]["values"])


def test_address_and_dns(plan: Plan) -> None:
    address = plan.one("gcp:compute/address:Address", "mesh-address")
    assert address["inputs"]["name"] == "estate-prod-ingress"
    assert address["inputs"]["addressType"] == "EXTERNAL" and address["inputs"]["region"] == "europe-west4"
    assert address["options"]["protect"] is True
    assert _urn(plan, STUB, "apis") in address["dependencies"]
    [record_set] = plan.by_type("gcp:dns/recordSet:RecordSet")
    inputs = record_set["inputs"]
    assert (inputs["name"], inputs["type"], inputs["ttl"], inputs["managedZone"]) == (
        "api.prod.example.com.",
        "A",
        300,
        "estate-prod",
    )
    assert inputs["rrdatas"][0].startswith("203.0.113.")  # the mock address, i.e. the reserved one
    assert _urn(plan, STUB, "zone") in record_set["dependencies"]


def test_custom_resources(plan: Plan) -> None:
    base = _urn(plan, CHART, "mesh-istio-base")
    [peer] = _crs(plan, "PeerAuthentication")
    assert peer["inputs"]["metadata"] == {"name": "default", "namespace": "istio-system", "labels": K8S_LABELS}
    assert peer["inputs"]["spec"] == {"mtls": {"mode": "STRICT"}}
    [gateway] = _crs(plan, "Gateway")
    assert [s["port"]["protocol"] for s in gateway["inputs"]["spec"]["servers"]] == ["HTTPS", "HTTP"]
    [cert] = _crs(plan, "Certificate")
    assert cert["inputs"]["spec"]["dnsNames"] == ["api.prod.example.com"]
    assert _urn(plan, STUB, "cert-manager") in cert["dependencies"]
    [vs] = _crs(plan, "VirtualService")
    assert vs["inputs"]["spec"]["gateways"] == ["istio-ingress/public"]
    policies = {
        (p["inputs"]["metadata"]["namespace"], p["inputs"]["metadata"]["name"])
        for p in _crs(plan, "AuthorizationPolicy")
    }
    assert policies == {
        ("inference", "deny-all"),
        ("inference", "allow-cells"),
        ("inference", "allow-ingress"),
        ("cells", "deny-all"),
    }
    for cr in [peer, gateway, vs, *_crs(plan, "AuthorizationPolicy")]:
        assert base in cr["dependencies"], cr["name"]
    for policy in _crs(plan, "AuthorizationPolicy"):
        ns = policy["inputs"]["metadata"]["namespace"]
        assert _urn(plan, STUB, f"ns-{ns}") in policy["dependencies"]
