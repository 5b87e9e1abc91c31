"""CertManager, ExternalSecrets and the ExternalSecret pattern under the mock runtime: what they register."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest

from components.kube.charts import PINS
from components.kube.external_secret import (
    ExternalSecretSpec,
    Remote,
    external_secret,
    grant_secret_access,
    sync_identity,
)
from components.platform.certs import DNS01_PERMISSIONS, CertManager, CertManagerArgs
from components.platform.secrets import ExternalSecrets, ExternalSecretsArgs
from stacks.config_certs import CertificatesConfig, DnsConfig
from tests.test_platform_certs import _ctx
from tools.plan import Plan, record

PROJECT = "proj-123456"
CR_GROUPS = (
    "cert-manager.io/v1",
    "external-secrets.io/v1",
)  # a CustomResource registers as kubernetes:<apiVersion>:<kind>
CHART = "kubernetes:helm.sh/v4:Chart"


class Stub(pulumi.CustomResource):
    """Stands in for what the lead's layers hand over (cluster, project APIs, a namespace)."""

    def __init__(self, name: str) -> None:
        super().__init__("test:stub:Stub", name, {}, None)


class Layer(pulumi.ComponentResource):
    """A later layer's component, copying the ExternalSecret pattern."""

    def __init__(self, name: str) -> None:
        super().__init__("test:stub:Layer", name, None, None)


def _program(env: str) -> None:
    ctx = _ctx(env)
    provider = k8s.Provider("k8s", kubeconfig="{}")
    namespaces = {ns: Stub(f"ns-{ns}") for ns in ("cert-manager", "external-secrets", "cells")}
    cluster, apis = Stub("cluster"), Stub("apis")
    certs = CertManager(
        f"estate-{env}-certs",
        CertManagerArgs(
            ctx=ctx,
            pins=PINS,
            provider=provider,
            cluster=cluster,
            apis=apis,
            namespaces=namespaces,
            dns=DnsConfig(domain=f"{env}.ai-estate.io"),
            certificates=CertificatesConfig(acme_email="platform@ai-estate.io"),
        ),
    )
    secrets = ExternalSecrets(
        f"estate-{env}-secrets",
        ExternalSecretsArgs(ctx=ctx, pins=PINS, provider=provider, namespaces=namespaces, nodes=cluster),
    )
    # A later layer, copying the pattern for one credential in the `cells` namespace.
    layer = Layer("cells-layer")
    gsa = gcp.serviceaccount.Account("cells-gsa", account_id=f"{env}-wl-cells")
    ksa, binding = sync_identity(
        layer,
        "cells-sync",
        namespace="cells",
        google_service_account=gsa.name,
        gsa_email=ctx.gsa_email(f"{env}-wl-cells"),
        project=PROJECT,
        provider=provider,
        depends_on=[namespaces["cells"], cluster],
    )
    grant = grant_secret_access(layer, "cells-db-read", "estate-sql-admin", gsa.member, project=PROJECT)
    external_secret(
        layer,
        "cells-db",
        "db",
        ExternalSecretSpec("cells", "db-credentials", {"password": Remote("estate-sql-admin")}),
        provider=provider,
        depends_on=[secrets, ksa, binding, grant],
    )
    pulumi.export("zone", certs.zone_name)
    pulumi.export("ds", certs.ds_records)


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    env = request.param
    result = record(lambda: _program(env), stack=env, config={"gcp:project": PROJECT, "gcp:region": "europe-west4"})
    assert result.ok, result.error
    return result


def _urn(plan: Plan, type_: str, name: str) -> str:
    return str(plan.one(type_, name)["urn"])


def _crs(plan: Plan) -> dict[str, dict[str, Any]]:
    return {
        f"{r['inputs']['metadata']['name']}/{r['type'].rpartition(':')[2]}": r
        for r in plan.resources
        if r["type"].split(":")[1] in CR_GROUPS
    }


def test_zone(plan: Plan) -> None:
    zone = plan.one("gcp:dns/managedZone:ManagedZone", f"estate-{plan.stack}-certs-zone")
    assert zone["inputs"]["name"] == f"{plan.stack}-ai-estate-io"
    assert zone["inputs"]["dnsName"] == f"{plan.stack}.ai-estate.io."
    assert zone["inputs"]["visibility"] == "public"
    assert zone["inputs"]["dnssecConfig"] == {"state": "on"}
    assert zone["inputs"]["labels"]["component"] == "certs"
    assert zone["options"]["protect"] is (plan.stack == "prod")
    # dev's destroy empties the zone; prod's zone is protected and never force-destroyed.
    assert zone["inputs"]["forceDestroy"] is (plan.stack != "prod")
    assert _urn(plan, "test:stub:Stub", "apis") in zone["dependencies"]
    assert plan.outputs["zone"] == f"{plan.stack}-ai-estate-io"
    assert [ds.split()[:3] for ds in plan.outputs["ds"]] == [["2371", "13", "2"]]  # mock key tag, ECDSA, SHA-256


def test_dns01_identity_is_scoped_to_the_zone(plan: Plan) -> None:
    env = plan.stack
    role = plan.one("gcp:projects/iAMCustomRole:IAMCustomRole", f"estate-{env}-certs-dns01-role")["inputs"]
    assert sorted(role["permissions"]) == sorted(DNS01_PERMISSIONS)
    grant = plan.one("gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember", f"estate-{env}-certs-dns01")
    assert grant["inputs"]["role"] == f"projects/{PROJECT}/roles/{role['roleId']}"
    assert grant["inputs"]["managedZone"] == f"{env}-ai-estate-io"
    assert grant["inputs"]["member"] == f"serviceAccount:{env}-cert-manager@{PROJECT}.iam.gserviceaccount.com"
    assert plan.by_type("gcp:projects/iAMMember:IAMMember") == []  # nothing project-wide
    wi = plan.one("gcp:serviceaccount/iAMMember:IAMMember", f"estate-{env}-certs-workload-identity")
    assert wi["inputs"]["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[cert-manager/cert-manager]"
    assert _urn(plan, "test:stub:Stub", "cluster") in wi["dependencies"]


def test_charts(plan: Plan) -> None:
    env = plan.stack
    cm = plan.one(CHART, f"estate-{env}-certs-chart")
    assert (cm["inputs"]["chart"], cm["inputs"]["version"]) == ("cert-manager", "v1.21.1")
    assert cm["inputs"]["namespace"] == "cert-manager" and cm["inputs"]["name"] == "cert-manager"
    sa = cm["inputs"]["values"]["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert sa == f"{env}-cert-manager@{PROJECT}.iam.gserviceaccount.com"
    assert {
        _urn(plan, "test:stub:Stub", "ns-cert-manager"),
        _urn(plan, "gcp:serviceaccount/iAMMember:IAMMember", f"estate-{env}-certs-workload-identity"),
    } <= set(cm["dependencies"])
    eso = plan.one(CHART, f"estate-{env}-secrets-chart")
    assert (eso["inputs"]["chart"], eso["inputs"]["version"]) == ("external-secrets", "2.9.0")
    assert eso["inputs"]["namespace"] == "external-secrets"
    assert _urn(plan, "test:stub:Stub", "ns-external-secrets") in eso["dependencies"]


def test_issuers_wait_for_the_chart(plan: Plan) -> None:
    env = plan.stack
    crs = _crs(plan)
    chart = _urn(plan, CHART, f"estate-{env}-certs-chart")
    for key in (
        "letsencrypt/ClusterIssuer",
        "estate-selfsigned-bootstrap/ClusterIssuer",
        "estate-internal-ca/Certificate",
        "estate-internal-ca/ClusterIssuer",
    ):
        assert chart in crs[key]["dependencies"], key
    assert crs["estate-internal-ca/Certificate"]["inputs"]["metadata"]["namespace"] == "cert-manager"
    assert (
        crs["estate-selfsigned-bootstrap/ClusterIssuer"]["urn"] in crs["estate-internal-ca/Certificate"]["dependencies"]
    )
    assert crs["estate-internal-ca/Certificate"]["urn"] in crs["estate-internal-ca/ClusterIssuer"]["dependencies"]
    acme = crs["letsencrypt/ClusterIssuer"]["inputs"]["spec"]["acme"]
    assert ("staging" in acme["server"]) is (env == "dev")
    assert "serviceAccountSecretRef" not in acme["solvers"][0]["dns01"]["cloudDNS"]


def test_secret_sync_pattern(plan: Plan) -> None:
    env = plan.stack
    crs = _crs(plan)
    store = crs["gcp-secret-manager/ClusterSecretStore"]
    assert _urn(plan, CHART, f"estate-{env}-secrets-chart") in store["dependencies"]
    es = crs["db/ExternalSecret"]
    assert es["inputs"]["metadata"]["namespace"] == "cells"
    assert es["inputs"]["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert es["inputs"]["spec"]["target"]["creationPolicy"] == "Owner"
    ksa = plan.one("kubernetes:core/v1:ServiceAccount", "cells-sync-ksa")
    grant = plan.one("gcp:secretmanager/secretIamMember:SecretIamMember", "cells-db-read")
    assert {ksa["urn"], grant["urn"]} <= set(es["dependencies"])
    assert grant["inputs"]["role"] == "roles/secretmanager.secretAccessor"
    assert grant["inputs"]["secretId"] == "estate-sql-admin"
    assert ksa["inputs"]["metadata"]["name"] == "secret-sync"
    assert ksa["inputs"]["automountServiceAccountToken"] is False
    assert ksa["inputs"]["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": f"{env}-wl-cells@{PROJECT}.iam.gserviceaccount.com"
    }
    wi = plan.one("gcp:serviceaccount/iAMMember:IAMMember", "cells-sync-workload-identity")
    assert wi["inputs"]["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[cells/secret-sync]"
    # Secret material never passes through Pulumi into Kubernetes.
    assert plan.by_type("kubernetes:core/v1:Secret") == []


def test_components(plan: Plan) -> None:
    types = {r["type"] for r in plan.resources if not r["custom"]}
    assert {"estate:certs:CertManager", "estate:secrets:ExternalSecrets"} <= types
