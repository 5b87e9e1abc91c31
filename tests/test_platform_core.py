"""The platform core in the dev and prod plans: namespaces, their guards, the schema migration Job."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.platform.app_network import allows
from components.platform.grants import generated_migrations
from components.platform.migrate import migrations, migrations_hash
from components.platform.namespaces import PLATFORM_NAMESPACES
from stacks.config_namespaces import Caller, Egress, NamespaceConfig
from stacks.load import load
from tests.conftest import children_of, config_with, registry, stack_cfg
from tools.plan import Plan, run_plan, stack_config

PSA = "pod-security.kubernetes.io/"


def _in_ns(plan: Plan, type_: str, ns: str) -> list[dict[str, Any]]:
    return [r for r in plan.by_type(type_) if r["inputs"]["metadata"].get("namespace") == ns]


def _agent_namespace(stack: str) -> str:
    """The observability layer's node-agent namespace: privileged, made by that layer (not an
    application namespace)."""
    return stack_cfg(stack).observability.collectors.agent_namespace


def _app_namespaces(plan: Plan) -> list[str]:
    names = [r["inputs"]["metadata"]["name"] for r in plan.by_type("kubernetes:core/v1:Namespace")]
    # Not the node agents' or the sandbox's: the layers that make them hold them otherwise (their tests).
    others = {_agent_namespace(plan.stack), stack_cfg(plan.stack).sandbox.namespace}
    return [n for n in names if n not in PLATFORM_NAMESPACES and n not in others]


def test_every_namespace_carries_pod_security_labels(plan: Plan) -> None:
    namespaces = plan.by_type("kubernetes:core/v1:Namespace")
    assert {r["inputs"]["metadata"]["name"] for r in namespaces} >= {*PLATFORM_NAMESPACES, "cells", "estate-data"}
    for res in namespaces:
        labels = res["inputs"]["metadata"]["labels"]
        name = res["inputs"]["metadata"]["name"]
        level = PLATFORM_NAMESPACES.get(name, ("restricted", ""))[0]
        if name == _agent_namespace(plan.stack):
            level = "privileged"
        assert {labels[f"{PSA}{m}"] for m in ("enforce", "audit", "warn")} == {level}, res["name"]


def test_only_reasoned_namespaces_are_above_restricted() -> None:
    for name, (level, reason) in PLATFORM_NAMESPACES.items():
        assert level in ("restricted", "baseline", "privileged")
        assert (level == "restricted") == (reason == ""), name


def test_application_namespaces_deny_by_default_with_quota_and_limits(plan: Plan) -> None:
    apps = _app_namespaces(plan)
    assert set(apps) == set(stack_cfg(plan.stack).namespaces)
    for ns in apps:
        policies = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in _in_ns(plan, NETPOL, ns)}
        deny = policies["default-deny"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert {"allow-dns", "allow-metadata-server", "allow-mesh-control-plane"} <= set(policies)
        (quota,) = _in_ns(plan, "kubernetes:core/v1:ResourceQuota", ns)
        assert {"requests.cpu", "limits.memory", "pods"} <= set(quota["inputs"]["spec"]["hard"])
        (limits,) = _in_ns(plan, "kubernetes:core/v1:LimitRange", ns)
        assert limits["inputs"]["spec"]["limits"][0]["type"] == "Container"
        labels = next(r for r in plan.by_type("kubernetes:core/v1:Namespace") if r["inputs"]["metadata"]["name"] == ns)[
            "inputs"
        ]["metadata"]["labels"]
        # In the mesh unless the namespace's entry keeps it out (Kafka: its own mutual TLS).
        mesh = stack_cfg(plan.stack).namespaces[ns].mesh
        assert labels["istio.io/dataplane-mode"] == mesh and labels["policy.sigstore.dev/include"] == "true"


NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def test_callers_open_both_sides(plan: Plan) -> None:
    kafka = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in _in_ns(plan, NETPOL, "kafka")}
    peers = kafka["allow-callers"]["ingress"][0]["from"]
    # cells by its entry; the metrics stack's Prometheus in every application namespace.
    assert peers == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in ("cells", "observability")
    ]
    cells = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"] for r in _in_ns(plan, NETPOL, "cells")}
    # The model servers admit their caller cells one by one (tests/test_inference_servers.py), not by namespace.
    assert cells["allow-callees"]["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
    ]
    assert cells["allow-callers"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "istio-ingress"
    }


def test_data_namespaces_are_protected_in_prod(prod_plan: Plan, dev_plan: Plan) -> None:
    for plan, protected in ((prod_plan, True), (dev_plan, False)):
        data = [
            r
            for r in plan.by_type("kubernetes:core/v1:Namespace")
            if r["inputs"]["metadata"]["labels"].get("estate.io/holds-data") == "true"
        ]
        holding = {n for n, spec in stack_cfg(plan.stack).namespaces.items() if spec.holds_data}
        assert holding >= {"estate-data", "observability", "kafka", "harbor"}
        assert {r["inputs"]["metadata"]["name"] for r in data} == holding
        assert all(r["options"]["protect"] is protected for r in data)


# ---------------------------------------------------------------- pure decisions
def test_allows_follow_the_config() -> None:
    spaces = {
        "api": NamespaceConfig(ingress=True, egress=Egress(cloud_sql=True, redis=True)),
        "llm": NamespaceConfig(callers={"api": Caller(namespace="api", service_account="api")}),
    }
    api = {a.name: a for a in allows("api", spaces["api"], spaces, "10.90.0.0/20")}
    assert api["allow-cloud-sql"].ports == (("TCP", 3307),) and api["allow-cloud-sql"].peers[0].cidr == "10.90.0.0/20"
    assert api["allow-redis"].ports == (("TCP", 6378),)
    assert [p.namespace for p in api["allow-callers"].peers] == ["istio-ingress"]
    assert [p.namespace for p in api["allow-callees"].peers] == ["llm"]
    assert "allow-google-apis" not in api
    llm = {a.name: a for a in allows("llm", spaces["llm"], spaces, "10.90.0.0/20")}
    assert [p.namespace for p in llm["allow-callers"].peers] == ["api"]
    assert not {"allow-callees", "allow-cloud-sql", "allow-redis"} & set(llm)


def test_unknown_namespace_references_are_refused() -> None:
    config = config_with(
        "dev",
        identity={"workloads": {"db-migrate": {"namespace": "nowhere", "serviceAccount": "db-migrate"}}},
        namespaces={"cells": {"callers": {"x": {"namespace": "ghost", "serviceAccount": "x"}}}},
    )
    plan = run_plan("dev", config=config)
    assert plan.error and not plan.resources
    assert "identity.workloads.db-migrate.namespace = 'nowhere': unknown namespace; must be one of namespaces:" in (
        plan.error
    )
    assert "namespaces.cells.callers.x.namespace = 'ghost': unknown namespace" in plan.error


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"istiod": {"version": "^1.30"}}, "charts.istiod.version = '^1.30': must be an exact chart version"),
        ({"istiod": {"version": "latest"}}, "charts.istiod.version = 'latest': must be an exact chart version"),
        ({"nginx": {"version": "1.0.0"}}, "charts.nginx = 'nginx': unknown chart; allowed:"),
        ({"istiod": {"repository": "http://x"}}, "charts.istiod.repository = 'http://x': must be an https://"),
    ],
)
def test_chart_overrides_are_exact(override: dict[str, Any], message: str) -> None:
    plan = run_plan("dev", config=config_with("dev", charts=override))
    assert plan.error and message in plan.error and not plan.resources


# ---------------------------------------------------------------- the schema migration Job
def test_pgvector_migration_job(plan: Plan) -> None:
    k8s = children_of(plan, "estate:migrations:PgVectorMigration")
    provider = plan.by_type("pulumi:providers:kubernetes")[0]
    assert all(r["provider"].startswith(provider["urn"]) for r in k8s)
    assert any("Cluster" in d for d in provider["propertyDependencies"]["kubeconfig"])
    cm = next(r for r in k8s if r["type"] == "kubernetes:core/v1:ConfigMap")["inputs"]
    cfg = load(plan.stack, stack_config(plan.stack))
    files = {**migrations(), **generated_migrations(cfg)}
    assert cm["data"] == files and cm["immutable"] is True
    # pgaudit is created in every configured database, after the repository's own migrations.
    generated = sorted(set(files) - set(migrations()))
    assert generated and sorted(files)[-len(generated) :] == generated
    for db in cfg.database.databases:
        body = next(files[f] for f in generated if f.endswith(f"_{db}.sql"))
        assert f"\\connect {db}" in body and "CREATE EXTENSION IF NOT EXISTS pgaudit;" in body
    job_res = next(r for r in k8s if r["type"] == "kubernetes:batch/v1:Job")
    job = job_res["inputs"]
    ns_urn = next(
        r["urn"]
        for r in plan.by_type("kubernetes:core/v1:Namespace")
        if r["inputs"]["metadata"]["name"] == job["metadata"]["namespace"]
    )
    assert ns_urn in job_res["dependencies"]
    assert job["metadata"]["name"] == f"pgvector-migrate-{migrations_hash(files)}"
    pod = job["spec"]["template"]["spec"]
    (proxy,) = pod["initContainers"]
    assert proxy["restartPolicy"] == "Always" and "cloud-sql-proxy@sha256:" in proxy["image"]
    instance = plan.one("gcp:sql/databaseInstance:DatabaseInstance", f"estate-{plan.stack}-db-instance")
    cfg = stack_cfg(plan.stack)
    assert f"{cfg.project}:{cfg.region}:{instance['inputs']['name']}" in proxy["args"]
    (migrate,) = pod["containers"]
    assert "psql" in migrate["command"][-1] and "postgres@sha256:" in migrate["image"]
    for container in (proxy, migrate):
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] > 0 and sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"]
    env = {e["name"]: e for e in migrate["env"]}
    assert "valueFrom" in env["PGPASSWORD"] and "value" not in env["PGPASSWORD"]
    assert pod["automountServiceAccountToken"] is False


# ---------------------------------------------------------------- exemptions
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_exemptions_are_scoped_to_platform_objects_with_reasons(stack: str) -> None:
    import json
    import sys

    from tools.plan import ROOT

    sys.path.insert(0, str(ROOT / "policies"))
    from estate_policies import ALL_POLICIES

    names = {p.name for p in ALL_POLICIES}
    config = json.loads((ROOT / "policies" / f"{stack}.json").read_text())
    exempted = []
    for policy, entry in config.items():
        assert policy in names, policy
        for ex in entry.get("exemptions", []) if isinstance(entry, dict) else []:
            resource = ex["resource"]
            # One named object, never a glob, and only in a platform namespace (or the namespace
            # itself), or the ones where the data layer installs Strimzi's operators and Harbor.
            cfg = stack_cfg(stack)
            assert not set(resource) & set("*?[]"), resource
            layers = {
                cfg.kafka.namespace,
                cfg.harbor.namespace,
                cfg.observability.namespace,
                cfg.observability.collectors.agent_namespace,
                cfg.sandbox.namespace,  # out of the mesh on purpose (gVisor)
            }
            assert resource.split("/")[0] in {*PLATFORM_NAMESPACES, *layers}, resource
            assert len(ex["reason"]) > 40, ex
            exempted.append((policy, resource))
    # The mesh's TLS rules and the image rules for application namespaces are never exempted; the one
    # network exemption is the sandbox's from the mesh's deny-all (it is outside the mesh: gVisor).
    sandbox = ("estate-network-authz-default-deny", stack_cfg(stack).sandbox.namespace)
    assert not any(p.startswith(("estate-tls-", "estate-network-")) for p, r in exempted if (p, r) != sandbox)
    assert ("estate-workloads-run-as-non-root", "istio-system/ztunnel") in exempted


def test_binary_authorization_admits_exactly_the_configured_upstream_images(plan: Plan) -> None:
    (policy,) = plan.by_type("gcp:binaryauthorization/policy:Policy")
    admitted = {p["namePattern"] for p in policy["inputs"]["admissionWhitelistPatterns"]}
    caches = {
        r["inputs"]["repositoryId"]
        for r in plan.by_type("gcp:artifactregistry/repository:Repository")
        if r["inputs"]["mode"] == "REMOTE_REPOSITORY"
    }
    # Each configured image that comes through a pull-through cache, at its digest, and nothing
    # else: no wildcard that would admit whatever anyone writes through a cache, never our own images.
    upstream = {ref for ref in plan.outputs["images"].values() if ref.split("/")[2] in caches}
    # ...each also as `path:tag@digest`, the form charts that always print a tag render (one digest).
    assert upstream and upstream <= admitted
    assert {p.split(":", 1)[0] + "@" + p.split("@", 1)[1] for p in admitted - upstream} <= upstream
    assert all("*" not in p and "@sha256:" in p for p in admitted)
    assert any("/gcr-cloud-sql-connectors/" in p for p in admitted) and not any("/images/" in p for p in admitted)
    rule = policy["inputs"]["defaultAdmissionRule"]
    assert rule["evaluationMode"] == "REQUIRE_ATTESTATION"
    assert rule["enforcementMode"] == "ENFORCED_BLOCK_AND_AUDIT_LOG"


# ---------------------------------------------------------------- charts and bad input
PUBLIC_REGISTRIES = ("docker.io/", "quay.io/", "ghcr.io/", "registry.k8s.io/", "gcr.io/", "registry.istio.io/")


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _image_prefixes(values: object) -> list[str]:
    """References charts assemble from parts (Strimzi's: registry / repository / name)."""
    out = []
    if isinstance(values, dict):
        if "defaultImageRegistry" in values:
            out.append(f"{values['defaultImageRegistry']}/{values['defaultImageRepository']}/")
        if {"registry", "repository", "name"} <= set(values):
            out.append(f"{values['registry']}/{values['repository']}/{values['name']}")
        elif {"registry", "repository", "sha"} <= set(values):
            # kube-prometheus-stack's: the digest as `sha`, bare hex or whole.
            sha = str(values["sha"])
            out.append(f"{values['registry']}/{values['repository']}@sha256:{sha.removeprefix('sha256:')}")
        elif {"registry", "repository", "digest"} <= set(values):
            # Loki's: `registry/repository@digest`.
            out.append(f"{values['registry']}/{values['repository']}@{values['digest']}")
        elif {"registry", "repository", "tag"} <= set(values) and "@sha256:" in str(values["tag"]):
            # Tempo's (no digest key): the digest rides on the tag.
            out.append(f"{values['registry']}/{values['repository']}:{values['tag']}")
        out += [p for v in values.values() for p in _image_prefixes(v)]
    return out


def test_every_chart_is_pinned_and_runs_only_our_images_by_digest(plan: Plan) -> None:
    charts = plan.by_type("kubernetes:helm.sh/v4:Chart")
    # the platform's 10 (KEDA and Flagger among them), the data layer's two Strimzi operators and
    # Harbor, the observability layer's metrics stack, Loki, Tempo and the two collectors
    assert len(charts) == 20
    ours = f"{registry(plan.stack)}/"
    for chart in charts:
        inputs = chart["inputs"]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", inputs["version"]), chart["name"]
        values = inputs.get("values", {})
        strings = _strings(values) + _image_prefixes(values)
        assert not [s for s in strings if s.startswith(PUBLIC_REGISTRIES)], chart["name"]
        refs = [s for s in strings if s.startswith(ours)]
        digests = [s for s in strings if s.startswith("sha256:") or "@sha256:" in s]
        # istio's base chart runs no container; the gateway's image is injected by istiod from
        # global.proxy.image, our proxyv2 by digest (asserted in test_platform_mesh.py).
        if inputs["chart"] not in ("base", "gateway"):
            assert refs and digests, chart["name"]
        assert all("@sha256:" in r or r.count("/") >= 3 for r in refs), chart["name"]


@pytest.mark.parametrize(
    ("areas", "message"),
    [
        (
            {"registry": {"images": {"x": {"image": "evil.example.com/miner", "tag": "1"}}}},
            "registry.images.x.image = 'evil.example.com/miner': registry 'evil.example.com' has no pull-through cache",
        ),
        (
            {"mesh": {"hosts": {"api": {"host": "api.example.org"}}}},
            "mesh.hosts.api.host = 'api.example.org': must be inside the DNS domain dns.domain "
            f"({stack_cfg('dev').dns.domain!r})",
        ),
        ({"dns": {}}, "dns.domain = None: required"),
    ],
)
def test_bad_platform_input_stops_before_any_resource(areas: dict[str, Any], message: str) -> None:
    stack = config_with("dev", **areas)
    if "registry" in areas:  # keep the images the estate needs, add the bad one
        stack = config_with("dev", registry={"images": {**_defaults_images(), **areas["registry"]["images"]}})
    plan = run_plan("dev", config=stack)
    assert plan.error and message in plan.error and not plan.resources, plan.error


def _defaults_images() -> dict[str, Any]:
    from stacks.defaults import DEFAULTS

    images: dict[str, Any] = DEFAULTS["dev"]["registry"]["images"]
    return images


def test_a_namespace_too_long_for_its_sync_account_is_refused() -> None:
    long_ns = "retrieval-augmented-gen"  # 23 characters: prod-sync-<it> would be 33
    config = config_with(
        "prod",
        namespaces={long_ns: {}},
        identity={
            "workloads": {
                "db-migrate": {"namespace": "estate-data", "serviceAccount": "db-migrate", "cloudSql": True},
                "rag": {"namespace": long_ns, "serviceAccount": "rag", "secrets": ["redis-auth"]},
            }
        },
    )
    plan = run_plan("prod", config=config)
    assert plan.error and not plan.resources
    assert (
        f"namespaces.{long_ns} = '{long_ns}': name too long for a namespace that receives secrets: its sync "
        f"service account 'prod-sync-{long_ns}' must be at most 30 characters"
    ) in plan.error


def test_a_host_routed_to_a_namespace_closed_to_the_gateway_is_refused() -> None:
    backend = {"namespace": "inference", "service": "llm", "port": 8080}
    plan = run_plan("dev", config=config_with("dev", mesh={"hosts": {"llm": {"host": "llm", "backend": backend}}}))
    assert plan.error and not plan.resources
    assert (
        "mesh.hosts.llm.backend.namespace = 'inference': namespace 'inference' does not admit the ingress gateway; "
        "set namespaces.inference.ingress: true"
    ) in plan.error
    backend["namespace"] = "cells"  # cells admits the gateway
    assert run_plan("dev", config=config_with("dev", mesh={"hosts": {"llm": {"host": "llm", "backend": backend}}})).ok
