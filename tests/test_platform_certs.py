"""cert-manager and External Secrets: values against the charts, custom resources against their
CRDs, and the `ai-estate:dns` / `ai-estate:certificates` checks. Pure: no Pulumi runtime."""

from __future__ import annotations

import json

import pytest

from components.kube import api_token
from components.kube.external_secret import ExternalSecretSpec, Remote, manifest
from components.kube.values import CONTAINER_SECURITY, ChartContext, PinnedImage
from components.platform import issuers
from components.platform.certs import zone_name
from components.platform.secrets import secret_store
from components.platform.values import cert_manager as cm
from components.platform.values import external_secrets as eso
from stacks.config_certs import ACME_SERVERS, CertificatesConfig, DnsConfig, check, host_problem
from tests.upstream import crd_problems, unknown_value_keys, values_schema_problems

GSA = "dev-cert-manager@proj-123456.iam.gserviceaccount.com"
HOSTS = ("quay.io", "ghcr.io", "docker.io", "registry.k8s.io")


def _ctx(env: str) -> ChartContext:
    images = {
        key: PinnedImage(
            repository=f"europe-west4-docker.pkg.dev/proj-123456/cache/{spec['image'].split('/', 1)[1]}",
            digest="sha256:" + format(i, "x") * 64,
            tag=spec["tag"],
        )
        for i, (key, spec) in enumerate({**cm.IMAGES, **eso.IMAGES}.items(), start=1)
    }
    return ChartContext(env, "proj-123456", "europe-west4", f"estate-{env}-gke", "europe-west4", images)


@pytest.fixture(params=["dev", "prod"])
def ctx(request: pytest.FixtureRequest) -> ChartContext:
    return _ctx(request.param)


# ---------------------------------------------------------------- cert-manager values
def test_cert_manager_values_are_known_to_the_chart(ctx: ChartContext) -> None:
    values = cm.cert_manager_values(ctx, gsa_email=GSA).dump()
    assert unknown_value_keys("cert-manager", values) == []
    assert values_schema_problems("cert-manager", values) == []


def test_cert_manager_images_by_digest_from_our_registry(ctx: ChartContext) -> None:
    values = cm.cert_manager_values(ctx, gsa_email=GSA).dump()
    blocks = {
        "controller": values,
        "webhook": values["webhook"],
        "cainjector": values["cainjector"],
        "acmesolver": values["acmesolver"],
    }
    for part, block in blocks.items():
        pinned = ctx.images[f"cert-manager-{part}"]
        assert block["image"] == {"repository": pinned.repository, "digest": pinned.digest}, part
    assert not any(host in json.dumps(values) for host in HOSTS)


def test_cert_manager_hardening_and_no_hooks(ctx: ChartContext) -> None:
    values = cm.cert_manager_values(ctx, gsa_email=GSA).dump()
    assert values["startupapicheck"] == {"enabled": False}  # the chart's only hook objects
    assert values["crds"] == {"enabled": True, "keep": True}
    for block in (values, values["webhook"], values["cainjector"]):
        assert block["containerSecurityContext"] == CONTAINER_SECURITY
        assert block["securityContext"]["runAsNonRoot"] is True
        assert set(block["resources"]) == {"requests", "limits"}
        assert block["automountServiceAccountToken"] is False
        assert block["serviceAccount"]["automountServiceAccountToken"] is False
        assert block["volumes"] == [api_token.volume()] and block["volumeMounts"] == [api_token.mount()]
        ha = block["replicaCount"] >= 2 and block["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
        assert ha is ctx.prod
        zones = [c["topologyKey"] for c in block.get("topologySpreadConstraints", [])]
        assert ("topology.kubernetes.io/zone" in zones) is ctx.prod
    assert values["global"]["leaderElection"]["namespace"] == "cert-manager"
    assert values["serviceAccount"]["annotations"] == {"iam.gke.io/gcp-service-account": GSA}
    assert values["prometheus"]["servicemonitor"]["enabled"] is False
    assert values["dns01RecursiveNameserversOnly"] is True
    assert all(ns.startswith("https://") for ns in values["dns01RecursiveNameservers"].split(","))


def test_cert_manager_spread_selects_the_chart_pods() -> None:
    values = cm.cert_manager_values(_ctx("prod"), gsa_email=GSA).dump()
    for block, component in ((values, "controller"), (values["webhook"], "webhook")):
        for constraint in block["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component


# ---------------------------------------------------------------- External Secrets values


def test_external_secrets_values_are_known_to_the_chart(ctx: ChartContext) -> None:
    values = eso.external_secrets_values(ctx).dump()
    assert unknown_value_keys("external-secrets", values) == []
    assert values_schema_problems("external-secrets", values) == []


def test_external_secrets_unknown_keys_are_caught() -> None:
    values = eso.external_secrets_values(_ctx("dev")).dump()
    values["webhook"]["certManagr"] = {"enabled": True}
    assert unknown_value_keys("external-secrets", values) == ["webhook.certManagr.enabled"]


def test_external_secrets_images_hardening_ha(ctx: ChartContext) -> None:
    values = eso.external_secrets_values(ctx).dump()
    pinned = ctx.images["external-secrets"]
    ref = f"{pinned.tag}@{pinned.digest}"
    assert values["installCRDs"] is True and values["bitwarden-sdk-server"] == {"enabled": False}
    assert values["webhook"]["certManager"] == {"enabled": False}  # cert-controller keeps the certs
    assert values["leaderElect"] is ctx.prod
    for block in (values, values["webhook"], values["certController"]):
        assert block["image"] == {"repository": pinned.repository, "tag": ref}
        assert block["securityContext"] == {"enabled": True, **CONTAINER_SECURITY}
        assert block["podSecurityContext"]["runAsNonRoot"] is True
        assert block["serviceAccount"]["automount"] is False
        assert block["livenessProbe"] == block["readinessProbe"] == {"enabled": True}
        assert block["extraVolumeMounts"] == [api_token.mount()]
        assert set(block["resources"]) == {"requests", "limits"}
        assert (block["replicaCount"] >= 2 and block["podDisruptionBudget"]["enabled"]) is ctx.prod
    assert not any(host in json.dumps(values) for host in HOSTS)


# ---------------------------------------------------------------- custom resources vs CRDs
def _letsencrypt(env: str) -> issuers.Manifest:
    return issuers.letsencrypt(
        server=ACME_SERVERS["production" if env == "prod" else "staging"],
        email="platform@ai-estate.io",
        project="proj-123456",
        zone_name="dev-ai-estate-io",
        domain="dev.ai-estate.io",
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_custom_resources_match_their_crds(env: str) -> None:
    sync = ExternalSecretSpec("cells", "db", {"password": Remote("estate-dev-sql-admin", "3")})
    built = [
        _letsencrypt(env),
        issuers.bootstrap_issuer(),
        issuers.internal_ca_certificate(env),
        issuers.internal_ca_issuer(),
        secret_store(_ctx(env)),
        manifest("db", sync),
    ]
    for m in built:
        assert crd_problems(m.obj()) == [], m.name


def test_crd_check_catches_a_misspelt_field() -> None:
    obj = _letsencrypt("dev").obj()
    obj["spec"]["acme"]["solvers"][0]["dns01"]["cloudDNS"]["hostedZone"] = "x"
    assert crd_problems(obj) == ["pruned: spec.acme.solvers[0].dns01.cloudDNS.hostedZone"]


def test_letsencrypt_issuer() -> None:
    acme = _letsencrypt("prod").obj()["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    solver = acme["solvers"][0]
    assert solver["dns01"]["cloudDNS"] == {"project": "proj-123456", "hostedZoneName": "dev-ai-estate-io"}
    assert solver["selector"] == {"dnsZones": ["dev.ai-estate.io"]}
    assert "staging" in _letsencrypt("dev").obj()["spec"]["acme"]["server"]


def test_internal_ca() -> None:
    cert = issuers.internal_ca_certificate("prod").obj()
    assert cert["metadata"]["namespace"] == "cert-manager"
    assert cert["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert cert["spec"]["isCA"] is True
    assert cert["spec"]["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"}
    assert cert["spec"]["issuerRef"]["name"] == issuers.bootstrap_issuer().name
    ca = issuers.internal_ca_issuer().obj()
    assert ca["metadata"]["name"] == "estate-internal-ca"
    assert ca["spec"] == {"ca": {"secretName": cert["spec"]["secretName"]}}


def test_secret_store_uses_referent_workload_identity() -> None:
    spec = secret_store(_ctx("prod")).obj()["spec"]["provider"]["gcpsm"]
    assert spec["projectID"] == "proj-123456"
    assert spec["auth"]["workloadIdentity"] == {
        "serviceAccountRef": {"name": "secret-sync"},  # no namespace: the ExternalSecret's own
        "clusterLocation": "europe-west4",
        "clusterName": "estate-prod-gke",
        "clusterProjectID": "proj-123456",
    }


def test_external_secret_manifest() -> None:
    spec = ExternalSecretSpec("cells", "db-credentials", {"password": Remote("sql-admin"), "ca": Remote("ca", "2")})
    obj = manifest("db", spec).obj()
    assert obj["metadata"] == {
        "name": "db",
        "namespace": "cells",
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},
    }
    assert obj["spec"] == {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "gcp-secret-manager"},
        "target": {"name": "db-credentials", "creationPolicy": "Owner", "deletionPolicy": "Retain"},
        "data": [
            {"secretKey": "ca", "remoteRef": {"key": "ca", "version": "2"}},
            {"secretKey": "password", "remoteRef": {"key": "sql-admin", "version": "latest"}},
        ],
    }
    with pytest.raises(ValueError, match="data is empty"):
        manifest("db", ExternalSecretSpec("cells", "db", {}))


# ---------------------------------------------------------------- config
def _check(domain: str | None, email: str | None) -> list[str]:
    return [p.render() for p in check(DnsConfig(domain=domain), CertificatesConfig(acme_email=email))]


def test_config_passes() -> None:
    assert _check("dev.ai-estate.io", "platform@ai-estate.io") == []


def test_config_missing_values_name_their_keys() -> None:
    assert _check(None, None) == [
        "dns.domain = None: required: the DNS name the estate serves under, e.g. dev.example.com",
        "certificates.acmeEmail = None: required: the Let's Encrypt account's contact e-mail address",
    ]


@pytest.mark.parametrize(
    ("domain", "why"),
    [
        ("Dev.ai-estate.io", "must be lowercase"),
        ("dev.ai-estate.io.", "write it without the trailing dot"),
        ("localhost", "must be a fully qualified name with at least two labels (e.g. dev.ai-estate.example.com)"),
        (
            "dev.-estate.io",
            "label '-estate' must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ),
        (
            "dev.ai_estate.io",
            "label 'ai_estate' must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ),
        ("10.0.0.1", "the top-level label must not be numeric"),
    ],
)
def test_config_bad_domain(domain: str, why: str) -> None:
    assert _check(domain, "platform@ai-estate.io") == [f"dns.domain = {domain!r}: {why}"]


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("platform", "must be an e-mail address (name@domain.tld)"),
        ("platform@localhost", "must be an e-mail address (name@domain.tld)"),
        ("ops@example.com", "Let's Encrypt refuses contact addresses at example.com, example.net and example.org"),
    ],
)
def test_config_bad_email(email: str, why: str) -> None:
    assert _check("dev.ai-estate.io", email) == [f"certificates.acmeEmail = {email!r}: {why}"]


def test_zone_name() -> None:
    assert zone_name("dev.ai-estate.example.com") == "dev-ai-estate-example-com"
    assert zone_name("1.example.com") == "zone-1-example-com"
    long = zone_name(".".join(["a" * 20] * 5))
    assert len(long) <= 63 and long[0].isalpha() and not long.endswith("-")
    assert long != zone_name(".".join(["a" * 20] * 4 + ["b" * 20]))


def test_hosts_under_the_domain() -> None:
    domain = "dev.ai-estate.io"
    assert [host_problem(h, domain) for h in (domain, "api.dev.ai-estate.io", "*.dev.ai-estate.io")] == [None] * 3
    assert host_problem("api.ai-estate.io", domain) == "must be dev.ai-estate.io or a name under it (dns.domain)"
    assert host_problem("xdev.ai-estate.io", domain) == "must be dev.ai-estate.io or a name under it (dns.domain)"
    assert host_problem("API.dev.ai-estate.io", domain) == "must be lowercase"


def test_acme_server_follows_the_environment_unless_set() -> None:
    unset = CertificatesConfig(acme_email="platform@ai-estate.io")
    assert unset.acme_server("dev") == ACME_SERVERS["staging"]
    assert unset.acme_server("prod") == ACME_SERVERS["production"]
    pinned = CertificatesConfig(acme_email="platform@ai-estate.io", issuer="staging")
    assert pinned.acme_server("prod") == ACME_SERVERS["staging"]
