"""The sandbox for generated code (ai-estate:sandbox): its admission policy's CEL evaluated against
pods and Jobs, the config's rules, and the objects in both plans."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from celpy import celtypes

from components.inference.sandbox_policy import checks, variables
from tests.conftest import config_problems, stack_cfg
from tools.plan import Plan

MAX = 900


def refusals(obj: dict[str, Any]) -> list[str]:
    env = celpy.Environment()
    activation: dict[str, Any] = {"object": celpy.json_to_cel(obj)}
    values: dict[str, Any] = {}
    for name, expr in variables().items():
        values[name] = env.program(env.compile(expr)).evaluate({**activation, "variables": celtypes.MapType(values)})
    scope = {**activation, "variables": celtypes.MapType(values)}
    return [m for e, m in checks(MAX) if not env.program(env.compile(e)).evaluate(scope)]


def pod_spec() -> dict[str, Any]:
    return {
        "runtimeClassName": "gvisor",
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "containers": [{"name": "run", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
    }


def job(**spec: Any) -> dict[str, Any]:
    body = {"activeDeadlineSeconds": 300, "ttlSecondsAfterFinished": 600, "template": {"spec": pod_spec()}, **spec}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": body}


def pod(owned: bool = True, **changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if owned:
        meta["ownerReferences"] = [{"kind": "Job", "name": "j", "apiVersion": "batch/v1", "uid": "1"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {**pod_spec(), **changes}}


def test_a_gvisor_job_with_limits_and_a_time_limit_and_its_pods_are_admitted() -> None:
    assert refusals(job()) == [] and refusals(pod()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("runtimeClassName"), "gVisor"),
        (lambda s: s.update(runtimeClassName="runc"), "gVisor"),
        (lambda s: s.pop("automountServiceAccountToken"), "token"),
        (
            lambda s: s.update(
                volumes=[{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]
            ),
            "token",
        ),
        (lambda s: s.update(volumes=[{"name": "s", "secret": {"secretName": "x"}}]), "Secret"),
        (
            lambda s: s["containers"][0].update(
                env=[{"name": "K", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]
            ),
            "Secret",
        ),
        (lambda s: s["containers"][0].update(envFrom=[{"secretRef": {"name": "x"}}]), "Secret"),
        (lambda s: s["containers"][0]["resources"]["limits"].pop("memory"), "limits"),
    ],
)
def test_each_rule_refuses_the_job_and_the_pod(change: Any, message: str) -> None:
    bad_job = job()
    change(bad_job["spec"]["template"]["spec"])
    (found,) = refusals(bad_job)
    assert message in found
    bad_pod = pod()
    change(bad_pod["spec"])
    assert [m for m in refusals(bad_pod) if message in m]


def test_jobs_carry_the_time_limit_and_pods_belong_to_a_job() -> None:
    assert refusals(job(activeDeadlineSeconds=MAX + 1)) == [
        f"a Job sets activeDeadlineSeconds (at most {MAX}) and ttlSecondsAfterFinished"
    ]
    no_ttl = job()
    del no_ttl["spec"]["ttlSecondsAfterFinished"]
    assert len(refusals(no_ttl)) == 1
    assert refusals(pod(owned=False)) == ["only a Job's pods run here (the Job carries the time limit)"]


@pytest.mark.parametrize(
    ("sandbox", "expected"),
    [
        (
            {"limits": {"maxCpu": "8"}},
            "sandbox.limits.maxCpu = '8': above what a e2-standard-4 node allocates to pods (3.92 cores)",
        ),
        (
            {"limits": {"maxMemory": "15Gi"}},
            "sandbox.limits.maxMemory = '15Gi': above what a e2-standard-4 node allocates",
        ),
        ({"pool": "burst"}, "sandbox.pool = 'burst': must be a cluster.nodePools entry with sandbox: true"),
        ({"orchestrator": "chat"}, "sandbox.orchestrator = 'chat': must be a cell with kubernetesApi: true"),
        ({"limits": {"cpu": "4", "maxCpu": "2"}}, "sandbox.limits.cpu = '4': above its maximum (2)"),
    ],
)
def test_bad_sandboxes_name_their_key(sandbox: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", sandbox=sandbox)
    assert any(p.startswith(expected) for p in problems), problems


def _one(plan: Plan, typ: str, name: str) -> dict[str, Any]:
    (found,) = [r["inputs"] for r in plan.by_type(typ) if r["inputs"]["metadata"]["name"] == name]
    return found


def test_the_plans_hold_the_sandbox_closed(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    s = cfg.sandbox
    (pool,) = [
        r["inputs"] for r in plan.by_type("gcp:container/nodePool:NodePool") if r["inputs"]["name"].endswith(s.pool)
    ]
    assert pool["nodeConfig"]["sandboxConfig"] == {"type": "GVISOR"} and not pool["nodeConfig"].get("taints")
    ns = _one(plan, "kubernetes:core/v1:Namespace", s.namespace)["metadata"]["labels"]
    assert ns["istio.io/dataplane-mode"] == "none" and ns["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = [
        r["inputs"]
        for r in plan.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r["inputs"]["metadata"]["namespace"] == s.namespace
    ]
    assert [p["metadata"]["name"] for p in policies] == ["default-deny"]
    assert policies[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (quota,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:core/v1:ResourceQuota")
        if r["inputs"]["metadata"]["namespace"] == s.namespace
    ]
    hard = quota["spec"]["hard"]
    assert hard["limits.ephemeral-storage"] == s.quota.ephemeral_storage and hard["count/jobs.batch"] == str(
        s.quota.jobs
    )
    role = _one(plan, "kubernetes:rbac.authorization.k8s.io/v1:Role", "orchestrator")
    assert copy.deepcopy(role["rules"]) == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
    ]
    binding = _one(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "orchestrator")
    orchestrator = cfg.cells[s.orchestrator]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": s.orchestrator, "namespace": orchestrator.namespace}
    ]
    vap = _one(plan, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "estate-sandbox")
    assert vap["spec"]["validationActions"] == ["Deny"]
    # The orchestrator reaches the API with a declared token, from its pods only.
    (deployment,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:apps/v1:Deployment")
        if r["inputs"]["metadata"]["name"] == s.orchestrator
    ]
    template = deployment["spec"]["template"]["spec"]
    assert template["automountServiceAccountToken"] is False
    assert any(v["name"] == "kube-api-access" for v in template["volumes"])
