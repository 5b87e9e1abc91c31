"""The admission guardrails: their CEL evaluated against pods (a CEL interpreter, with Kubernetes'
`join` string extension), the namespaces each binding covers, and the objects in both plans."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from celpy import celtypes

from components.platform.build import guarded_namespaces
from components.platform.guardrails import CHECKS, NAME, validations, variables
from tests.conftest import registry, stack_cfg
from tools.plan import Plan

REGISTRY = "europe-west4-docker.pkg.dev/some-project"
IMAGE = f"{REGISTRY}/images/cells/api:1.0.0@sha256:{'a' * 64}"


def _join(items: celtypes.ListType, sep: celtypes.StringType) -> celtypes.StringType:
    """Kubernetes' CEL strings extension: `list.join(separator)`."""
    return celtypes.StringType(str(sep).join(str(i) for i in items))


def admit(pod: dict[str, Any], registries: tuple[str, ...] = (REGISTRY,)) -> list[str]:
    """What the API server would answer: the message of each failing validation, in order."""
    env = celpy.Environment()
    activation: dict[str, Any] = {"object": celpy.json_to_cel(pod)}
    values: dict[str, Any] = {}
    for name, expr in variables(registries).items():
        program = env.program(env.compile(expr), functions={"join": _join})
        values[name] = program.evaluate({**activation, "variables": celtypes.MapType(values)})
    out = []
    for expression, message in validations():
        scope = {**activation, "variables": celtypes.MapType(values)}
        if not env.program(env.compile(expression), functions={"join": _join}).evaluate(scope):
            out.append(str(env.program(env.compile(message), functions={"join": _join}).evaluate(scope)))
    return out


def container(name: str = "app", **changes: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"limits": {"cpu": "1", "memory": "256Mi"}},
    }
    c.update(changes)
    return c


def pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers) or [container()], **spec}
    if init is not None:
        body["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": body}


def test_a_hardened_pod_of_our_image_is_admitted() -> None:
    assert admit(pod()) == []
    # The pod's own security context may carry non-root and seccomp for every container.
    bare = container()
    del bare["securityContext"]["runAsNonRoot"], bare["securityContext"]["seccompProfile"]
    assert admit(pod(bare, securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})) == []


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda c: c["securityContext"].update(allowPrivilegeEscalation=True), "insecure"),
        (lambda c: c["securityContext"].update(privileged=True), "insecure"),
        (lambda c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "insecure"),
        (lambda c: c["securityContext"].pop("runAsNonRoot"), "insecure"),
        (lambda c: c["securityContext"].update(seccompProfile={"type": "Unconfined"}), "insecure"),
        (lambda c: c.pop("securityContext"), "insecure"),
        (lambda c: c["resources"]["limits"].pop("memory"), "unlimited"),
        (lambda c: c.pop("resources"), "unlimited"),
        (lambda c: c.update(image=f"{REGISTRY}/images/cells/api:1.0.0"), "foreign"),  # a tag, no digest
        (lambda c: c.update(image=f"docker.io/library/nginx@sha256:{'b' * 64}"), "foreign"),
        (lambda c: c.update(image=f"{REGISTRY}-evil/x@sha256:{'b' * 64}"), "foreign"),  # a prefix, not a path
    ],
)
def test_each_rule_refuses_and_names_the_container(change: Any, check: str) -> None:
    bad = container("worker")
    change(bad)
    (message,) = admit(pod(container(), bad))
    expected = next(c.message for c in CHECKS if c.variable == check)
    assert message == f"{expected}worker"


def test_init_containers_and_native_sidecars_are_checked_too() -> None:
    sidecar = container("proxy", restartPolicy="Always")
    sidecar["securityContext"]["allowPrivilegeEscalation"] = True
    assert admit(pod(init=[sidecar])) == [f"{CHECKS[0].message}proxy"]
    assert admit(pod(container("a"), init=[container("b", image="gcr.io/x/y:1")])) == [f"{CHECKS[2].message}b"]


def test_gkes_fuse_sidecar_is_the_named_exception_for_images_and_limits_only() -> None:
    fuse = container("gke-gcsfuse-sidecar", image="gke.gcr.io/gcs-fuse-csi-driver-sidecar-mounter:v1")
    del fuse["resources"]
    assert admit(pod(container(), init=[fuse])) == []
    insecure = copy.deepcopy(fuse)
    insecure["securityContext"]["allowPrivilegeEscalation"] = True
    assert admit(pod(container(), init=[insecure])) == [f"{CHECKS[0].message}gke-gcsfuse-sidecar"]


def test_several_failing_containers_are_listed_in_one_message() -> None:
    a, b = container("a"), container("b")
    a.pop("resources")
    b.pop("resources")
    assert admit(pod(a, b)) == [f"{CHECKS[1].message}a, b"]


def test_operator_run_namespaces_are_audited_the_rest_refused() -> None:
    cfg = stack_cfg("prod")
    enforced, audited = guarded_namespaces(cfg)
    assert set(audited) == {cfg.kafka.namespace, cfg.harbor.namespace, cfg.observability.namespace}
    # ... and the sandbox, whose Jobs are the orchestrator's.
    assert set(enforced) | set(audited) == {*cfg.namespaces, cfg.sandbox.namespace}
    assert not set(enforced) & set(audited)
    assert {"cells", "inference"} <= set(enforced)


def test_the_plans_carry_the_policy_and_its_bindings(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    (policy,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
        if r["inputs"]["metadata"]["name"] == NAME
    ]
    assert policy["metadata"]["name"] == NAME and policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == ["pods"]
    foreign = next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "foreign")
    assert f"'{registry(plan.stack)}/'" in foreign
    bindings = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
        for r in plan.by_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding")
        if r["inputs"]["spec"]["policyName"] == NAME
    }
    enforced, audited = guarded_namespaces(cfg)
    assert bindings[NAME]["validationActions"] == ["Deny"]
    assert bindings[f"{NAME}-audit"]["validationActions"] == ["Warn", "Audit"]
    for name, names in ((NAME, enforced), (f"{NAME}-audit", audited)):
        (expr,) = bindings[name]["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert expr == {"key": "kubernetes.io/metadata.name", "operator": "In", "values": names}
