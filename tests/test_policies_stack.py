"""Stack rules, unknown values, policy config and exemptions, and whole plans through the gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import policy_fixtures as fx
from tests.conftest import registry, stack_cfg
from tests.policy_fixtures import BUCKET, CLUSTER, KEY, PA, POOL, TEST_CONFIG, first, found, stack
from tools.analyzer import LEVEL_NAMES, LEVELS, Analyzer, PolicyConfigError, initial_config, reconcile
from tools.gate import PACK_DIR, check, render
from tools.gate import main as gate_main
from tools.plan import Plan


# ------------------------------------------------------------------ stack rules: not applicable until their part exists
def _ns(name: str, **labels: str) -> dict[str, Any]:
    return fx.resource("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})


STRICT_PA = fx.resource(
    PA,
    "mesh-default",
    {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
)
ISTIOD = fx.resource("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod", "namespace": "istio-system"})
KAFKA_OK = fx.resource(
    "kubernetes:kafka.strimzi.io/v1beta2:Kafka",
    "events",
    {"spec": {"kafka": {"listeners": [{"name": "tls", "port": 9093.0, "type": "internal", "tls": True}]}}},
)
KAFKA_BAD = fx.resource(
    "kubernetes:kafka.strimzi.io/v1beta2:Kafka",
    "events",
    {"spec": {"kafka": {"listeners": [{"name": "plain", "port": 9092.0, "type": "internal", "tls": False}]}}},
)


def _harbor(*, exposed_tls: bool, url: str, internal_tls: bool | None) -> dict[str, Any]:
    values: dict[str, Any] = {"expose": {"type": "clusterIP", "tls": {"enabled": exposed_tls}}, "externalURL": url}
    if internal_tls is not None:
        values["internalTLS"] = {"enabled": internal_tls}
    return fx.resource("kubernetes:helm.sh/v3:Release", "harbor", {"chart": "harbor", "values": values})


HARBOR_OK = _harbor(exposed_tls=True, url="https://harbor.example.org", internal_tls=True)
# Exposed over TLS, but its components talk in the clear to each other.
HARBOR_PLAIN_INSIDE = _harbor(exposed_tls=True, url="https://harbor.example.org", internal_tls=False)
HARBOR_BAD = _harbor(exposed_tls=False, url="http://harbor.example.org", internal_tls=None)
CIP = fx.resource(
    "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy",
    "signed",
    {
        "spec": {
            "images": [{"glob": "europe-west4-docker.pkg.dev/**"}],
            "authorities": [{"key": {"data": "-----BEGIN PUBLIC KEY"}}],
        }
    },
)
BINAUTHZ_OK = fx.resource(
    "gcp:binaryauthorization/policy:Policy",
    "signed",
    {
        "defaultAdmissionRule": {
            "evaluationMode": "REQUIRE_ATTESTATION",
            "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
            "requireAttestationsBies": ["projects/p/attestors/cosign"],
        }
    },
)
BINAUTHZ_ALLOW = fx.resource(
    "gcp:binaryauthorization/policy:Policy",
    "open",
    {"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}},
)


def _vap(failure: str = "Fail") -> dict[str, Any]:
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}
    spec = {
        "failurePolicy": failure,
        "matchConstraints": {"resourceRules": [rule]},
        "validations": [{"expression": "size(variables.foreign) == 0"}],
    }
    return fx.resource(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        "guardrails",
        {"metadata": {"name": "guardrails"}, "spec": spec},
    )


def _binding(actions: list[str], *namespaces: str) -> dict[str, Any]:
    selector = {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(namespaces)}]
    }
    return fx.resource(
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
        f"guardrails-{actions[0].lower()}",
        {
            "metadata": {"name": f"guardrails-{actions[0].lower()}"},
            "spec": {
                "policyName": "guardrails",
                "validationActions": actions,
                "matchResources": {"namespaceSelector": selector},
            },
        },
    )


def _sandbox_ns() -> dict[str, Any]:
    return _ns("sandbox", **{"estate.io/class": "sandbox"})


GVISOR_POOL = fx.resource(POOL, "sandbox", {"nodeConfig": {"sandboxConfig": {"type": "GVISOR"}}})
PLAIN_POOL = fx.resource(POOL, "sandbox", {"nodeConfig": {}})


def _sandbox_policy(actions: list[str]) -> list[dict[str, Any]]:
    policy = _vap()
    policy["inputs"]["metadata"]["name"] = "sandbox"
    policy["inputs"]["spec"]["validations"] = [{"expression": "variables.spec.runtimeClassName == 'gvisor'"}]
    binding = _binding(actions, "sandbox")
    binding["inputs"]["spec"]["policyName"] = "sandbox"
    return [policy, binding]


SANDBOX_OK = [_sandbox_ns(), GVISOR_POOL, *_sandbox_policy(["Deny"])]
GUARDED = [_ns("cells"), _ns("kafka"), _vap(), _binding(["Deny"], "cells"), _binding(["Warn", "Audit"], "kafka")]
STACK_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    # A gVisor pool and a Deny binding of a policy on the runtime; then: a plain pool, a Warn binding.
    ("estate-workloads-sandbox", SANDBOX_OK, [_sandbox_ns(), PLAIN_POOL, *_sandbox_policy(["Deny"])]),
    ("estate-workloads-sandbox", SANDBOX_OK, [_sandbox_ns(), GVISOR_POOL, *_sandbox_policy(["Warn"])]),
    # Every application namespace covered, one binding denying; then: none denies, one uncovered, failing open.
    ("estate-workloads-admission-guardrails", GUARDED, [_ns("cells"), _vap(), _binding(["Warn", "Audit"], "cells")]),
    (
        "estate-workloads-admission-guardrails",
        GUARDED,
        [_ns("cells"), _ns("kafka"), _vap(), _binding(["Deny"], "cells")],
    ),
    ("estate-workloads-admission-guardrails", GUARDED, [_ns("cells"), _vap("Ignore"), _binding(["Deny"], "cells")]),
    ("estate-tls-mesh-strict", [ISTIOD, STRICT_PA], [ISTIOD]),
    (
        "estate-tls-mesh-strict",
        [ISTIOD, STRICT_PA],
        [
            ISTIOD,
            fx.resource(
                PA,
                "mesh-default",
                {
                    "metadata": {"name": "default", "namespace": "istio-system"},
                    "spec": {"mtls": {"mode": "PERMISSIVE"}},
                },
            ),
        ],
    ),
    ("estate-tls-kafka", [KAFKA_OK], [KAFKA_BAD]),
    ("estate-tls-harbor", [HARBOR_OK], [HARBOR_BAD]),
    ("estate-tls-harbor", [HARBOR_OK], [HARBOR_PLAIN_INSIDE]),
    (
        "estate-images-admission-verifier",
        [CIP, _ns("cells", **{"policy.sigstore.dev/include": "true"})],
        [CIP, _ns("cells")],
    ),
    ("estate-images-admission-verifier", [BINAUTHZ_OK, _ns("cells")], [BINAUTHZ_ALLOW, _ns("cells")]),
]


@pytest.mark.parametrize(("rule", "good", "bad"), STACK_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STACK_CASES)])
def test_stack_rules_fire_once_their_part_is_in_the_plan(
    pack: Analyzer, rule: str, good: list[dict[str, Any]], bad: list[dict[str, Any]]
) -> None:
    reported, not_applicable = stack(pack, good)
    assert rule not in reported and rule not in not_applicable
    reported, not_applicable = stack(pack, bad)
    assert rule in reported and rule not in not_applicable


def test_stack_rules_are_not_applicable_before_their_part_exists(pack: Analyzer, dev_plan: Plan) -> None:
    platform = (
        "kubernetes:security.istio.io/",
        "kubernetes:networking.istio.io/",
        "kubernetes:policy.sigstore.dev/",
        "kubernetes:core/v1:Namespace",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:kafka.strimzi.io/",
        "gcp:binaryauthorization/",
    )
    cloud_only = [r for r in dev_plan.resources if not r["type"].startswith(platform)]
    reported, not_applicable = stack(pack, cloud_only)
    assert reported == {}
    assert set(not_applicable) == {
        "estate-tls-mesh-strict",
        "estate-tls-kafka",
        "estate-tls-harbor",
        "estate-tls-gateway-api-redirect",
        "estate-images-admission-verifier",
        "estate-network-authz-default-deny",
        "estate-network-default-deny",
        "estate-workloads-admission-guardrails",
        "estate-workloads-sandbox",
    }
    assert "no Strimzi Kafka" in not_applicable["estate-tls-kafka"]


def test_stack_rules_apply_and_pass_once_the_platform_is_in_the_plan(pack: Analyzer, dev_plan: Plan) -> None:
    reported, not_applicable = stack(pack, dev_plan.resources)
    # Only the node agents' privileged namespace, which the stack's policy config exempts with its
    # reason (TEST_CONFIG carries no exemptions; the gate applies policies/<stack>.json).
    agents = stack_cfg("dev").observability.collectors.agent_namespace
    sandbox = stack_cfg("dev").sandbox.namespace
    assert reported == {
        "estate-workloads-admission-guardrails": [
            "The cluster itself refuses failing pods in every application namespace.\n"
            f"application namespaces no binding of the pod guardrails covers: [{agents!r}]"
        ],
        # The sandbox is outside the mesh on purpose (gVisor): the stack's config exempts it too.
        "estate-network-authz-default-deny": [
            "Every application namespace has a deny-by-default Istio AuthorizationPolicy.\n"
            f"namespace {sandbox!r} has no allow-nothing AuthorizationPolicy (spec: {{}})"
        ],
    }
    exempted = json.loads((PACK_DIR / "dev.json").read_text())
    assert [e["resource"] for e in exempted["estate-workloads-admission-guardrails"]["exemptions"]] == [agents]
    # Kafka and Harbor are in the plan now (the data layer): their TLS rules apply and pass.
    assert set(not_applicable) == {"estate-tls-gateway-api-redirect"}


# ------------------------------------------------------------------ unknown values, config, exemptions
def test_unknown_values_are_reported_not_crashed_or_passed(pack: Analyzer, prod_plan: Plan) -> None:
    cluster = first(prod_plan, CLUSTER)
    cluster["inputs"]["privateClusterConfig"] = fx.UNKNOWN
    diags = {d.policyName: d for d in pack.analyze(cluster).diagnostics}
    assert "during preview" in diags["estate-gke-private-nodes"].message
    assert LEVEL_NAMES[diags["estate-gke-private-nodes"].enforcementLevel] == "advisory"
    spec = fx.pod_spec()
    fx.main(spec)["securityContext"] = fx.UNKNOWN
    diags = {d.policyName: d for d in pack.analyze(fx.workload("kubernetes:apps/v1:Deployment", spec)).diagnostics}
    assert "during preview" in diags["estate-workloads-read-only-root"].message


def test_exemptions_apply_to_the_named_resource_with_their_reason(pack: Analyzer) -> None:
    reason = "istio-cni needs the host network to program pod routing"
    config = {
        **TEST_CONFIG,
        "estate-workloads-host-namespaces": {"exemptions": [{"resource": "kube-system/istio-cni-*", "reason": reason}]},
    }
    spec = fx.mutated(lambda s: s.update(hostNetwork=True))
    exempt = fx.workload("kubernetes:apps/v1:DaemonSet", spec, namespace="kube-system", name="istio-cni-node")
    other = fx.workload("kubernetes:apps/v1:DaemonSet", spec, namespace="cells", name="agent")
    try:
        pack.configure(config)
        response = pack.analyze(exempt)
        assert "estate-workloads-host-namespaces" not in {d.policyName for d in response.diagnostics}
        reasons = {na.policy_name: na.reason for na in response.not_applicable}
        assert reason in reasons["estate-workloads-host-namespaces"]
        assert "estate-workloads-host-namespaces" in found(pack, other)
    finally:
        pack.configure(TEST_CONFIG)


def test_config_changes_levels_and_allowlists(pack: Analyzer) -> None:
    docker_hub = fx.workload(
        "kubernetes:apps/v1:Deployment",
        fx.mutated(lambda s: fx.main(s).update(image=f"docker.io/library/nginx@sha256:{'b' * 64}")),
    )
    try:
        pack.configure({**TEST_CONFIG, "all": "advisory"})
        levels = {LEVEL_NAMES[d.enforcementLevel] for d in pack.analyze(docker_hub).diagnostics}
        assert levels == {"advisory"}
        pack.configure(
            {**TEST_CONFIG, "estate-images-registry-allowlist": {"allowedRegistries": ["docker.io", fx.REGISTRY]}}
        )
        assert "estate-images-registry-allowlist" not in found(pack, docker_hub)
        pack.configure({**TEST_CONFIG, "estate-images-registry-allowlist": "disabled"})
        assert "estate-images-registry-allowlist" not in found(pack, docker_hub)
    finally:
        pack.configure(TEST_CONFIG)
    assert "estate-images-registry-allowlist" in found(pack, docker_hub)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"estate-workloads-nope": "advisory"}, "does not have: ['estate-workloads-nope']"),
        ({"all": "sometimes"}, "enforcement level 'sometimes'"),
        ({"estate-workloads-host-namespaces": {"exemptions": [{"resource": "x"}]}}, "'reason' is a required property"),
        ({"estate-images-registry-allowlist": {"allowedRegistrys": []}}, "Additional properties are not allowed"),
    ],
)
def test_bad_policy_config_is_refused(pack: Analyzer, config: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        pack.configure(config)
    pack.configure(TEST_CONFIG)


# ------------------------------------------------------------------ what depends on the stack comes from the stack
ALLOWLIST = "estate-images-registry-allowlist"


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_the_registry_allowlist_comes_from_the_stack_config(
    pack: Analyzer, stack_pack: Callable[[str], Analyzer], which: str
) -> None:
    # Started with the stack's config (the engine's PULUMI_CONFIG), the pack offers the stack's
    # registry as initial config, at the rule's own level (the engine reads a missing one as advisory).
    info = stack_pack(which).info()
    assert initial_config(info) == {
        ALLOWLIST: {"enforcementLevel": "mandatory", "allowedRegistries": [registry(which)]}
    }
    assert initial_config(pack.info()) == {}  # no stack config (`pulumi policy publish`): nothing
    # The committed policy config names no project, region or registry host ...
    text = (PACK_DIR / f"{which}.json").read_text()
    cfg = stack_cfg(which)
    assert cfg.project not in text and cfg.region not in text and "docker.pkg.dev" not in text
    # ... and the engine's order applies it: defaults, the pack's initial config, then the file.
    level, props = reconcile(info, json.loads(text))[ALLOWLIST]
    assert level == LEVELS["mandatory"] and props["allowedRegistries"] == [registry(which)]
    assert props["exemptions"]  # the file's own entries are kept
    replaced = reconcile(info, {ALLOWLIST: {"allowedRegistries": ["harbor.example.com"]}})
    assert replaced[ALLOWLIST][1]["allowedRegistries"] == ["harbor.example.com"]
    assert reconcile(info, {"all": "advisory"})[ALLOWLIST][0] == LEVELS["advisory"]


# ------------------------------------------------------------------ whole plans
@pytest.mark.parametrize("which", ["dev", "prod"])
def test_the_plans_pass_the_gate(
    stack_pack: Callable[[str], Analyzer], dev_plan: Plan, prod_plan: Plan, which: str, tmp_path: Path
) -> None:
    plan = dev_plan if which == "dev" else prod_plan
    config = json.loads((PACK_DIR / f"{which}.json").read_text())
    # The program's own resources; the charts' objects (advisory probes) are the gate's to show.
    result = check(stack_pack(which), plan, config, charts_cache=tmp_path)
    assert result.mandatory == [] and result.findings == []
    assert result.resources == len(plan.resources) and result.policies >= 45
    assert result.initial_config[ALLOWLIST]["allowedRegistries"] == [registry(which)]


def test_a_broken_plan_fails_with_the_expected_policies(stack_pack: Callable[[str], Analyzer], dev_plan: Plan) -> None:
    resources = fx.deep({"r": dev_plan.resources})["r"]
    for res in resources:
        inputs = res["inputs"]
        if res["type"] == CLUSTER:
            inputs["binaryAuthorization"] = {"evaluationMode": "DISABLED"}
        elif res["type"] == BUCKET and inputs["labels"]["bucket"] == "models":
            inputs["publicAccessPrevention"] = "inherited"
        elif res["type"] == "kubernetes:batch/v1:Job" and res["name"].endswith("pgvector-job"):
            inputs["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0.0
    broken = Plan(stack="dev", preview=True, resources=resources)
    result = check(stack_pack("dev"), broken, json.loads((PACK_DIR / "dev.json").read_text()))
    assert {f.policy for f in result.mandatory} == {
        "estate-images-binary-authorization",
        "estate-storage-bucket-access",
        "estate-workloads-run-as-non-root",
    }
    assert {f.resource for f in result.mandatory} == {
        "estate-dev-cluster-gke",
        "estate-dev-buckets-models",
        "estate-dev-pgvector-job",
    }


def test_the_gate_prints_exemptions_with_their_reason(
    stack_pack: Callable[[str], Analyzer], dev_plan: Plan, tmp_path: Path
) -> None:
    reason = "the migration Job's limits are sized by the Cloud SQL proxy docs"
    config = {
        **json.loads((PACK_DIR / "dev.json").read_text()),
        "estate-workloads-resources": {
            "exemptions": [{"resource": "estate-data/pgvector-migrate-*", "reason": reason}]
        },
    }
    result = check(stack_pack("dev"), dev_plan, config, charts_cache=tmp_path)
    text = render(result, "policies/dev.json", verbose=True)
    assert text.startswith(f"policy gate: ai-estate/dev: {len(dev_plan.resources)} resources and the stack through ")
    assert f"{ALLOWLIST} {{'allowedRegistries': ['{registry('dev')}']}}" in text
    assert f"estate-workloads-resources on estate-data/pgvector-migrate-*: {reason}" in text
    assert "[applied to estate-dev-pgvector-job]" in text
    # Harbor is in the plan: its rule applies (and passes), it is not among the not-applicable ones.
    assert "estate-tls-gateway-api-redirect: " in text and "no Harbor in the plan yet" not in text
    assert text.splitlines()[-1].startswith("gate dev: PASS — 0 mandatory, 0 advisory violations, ")
    # By default: no violation, so only the summary (and the charts it could not render, if any).
    brief = render(result, "policies/dev.json")
    assert brief.splitlines()[-1] == text.splitlines()[-1]
    assert "exemptions" not in brief and "not applicable" not in brief and "policy gate:" not in brief
    assert len(brief.splitlines()) <= 2


def test_the_gate_command_exits_non_zero_on_a_mandatory_violation(
    dev_plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = fx.deep(dev_plan.to_json())
    for res in doc["resources"]:
        if res["type"] == KEY:
            res["inputs"]["rotationPeriod"] = "31536000s"
    path = tmp_path / "plan-dev.json"
    path.write_text(json.dumps(doc))
    no_charts = ["--charts-cache", str(tmp_path / "no-charts")]  # the program's resources only
    assert gate_main(["--stack", "dev", "--plan", str(path), *no_charts]) == 1
    out = capsys.readouterr().out
    lines = out.rstrip().splitlines()
    # Every symmetric key: gke, sql, redis, storage, backup and pubsub (the signing key cannot
    # rotate), under its rule, then the rule's remediation from the pack's metadata, then the summary.
    start = lines.index("estate-data-kms-rotation [mandatory]")
    keys = lines[start + 1 : start + 7]
    assert len(keys) == 6 and all(line.startswith("  - estate-dev-keys-") for line in keys)
    assert any(line.startswith("  - estate-dev-keys-gke: ") for line in keys)
    assert lines[start + 7].startswith("  remediation: ") and len(lines[start + 7]) > len("  remediation: ") + 10
    assert lines[-1].startswith(
        f"gate dev: FAIL — 6 mandatory, 0 advisory violations, {len(dev_plan.resources)} resources"
    )
    assert "exemptions (from the policy config):" not in out and "policy gate:" not in out
    assert gate_main(["--stack", "dev", "--plan", str(path), *no_charts, "-v"]) == 1
    verbose = capsys.readouterr().out
    assert verbose.startswith("policy gate: ai-estate/dev: ") and "exemptions (from the policy config):" in verbose
    assert "estate-tls-gateway-api-redirect: " in verbose and "no Harbor in the plan yet" not in verbose
    assert verbose.rstrip().splitlines()[-1] == lines[-1]
    path.write_text(json.dumps(dev_plan.to_json()))
    assert gate_main(["--stack", "dev", "--plan", str(path), *no_charts]) == 0
