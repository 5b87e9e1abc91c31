"""Workload and image rules, for every pod-bearing kind, through the real analyzer."""

from __future__ import annotations

from typing import Any

import pytest

from tests import policy_fixtures as fx
from tests.policy_fixtures import found
from tools.analyzer import Analyzer

# ------------------------------------------------------------------ workloads, every pod-bearing kind
WORKLOAD_FAILURES: dict[str, list[fx.Mutation]] = {
    "estate-workloads-run-as-non-root": [
        lambda s: (s["securityContext"].pop("runAsNonRoot"), fx.sc(s).pop("runAsNonRoot")),
        lambda s: fx.sc(s).update(runAsUser=0.0),
        lambda s: s["initContainers"][0]["securityContext"].update(runAsNonRoot=False),
    ],
    "estate-workloads-no-privilege-escalation": [
        lambda s: fx.sc(s).update(allowPrivilegeEscalation=True),
        lambda s: fx.sc(s).update(privileged=True),
    ],
    "estate-workloads-capabilities": [
        lambda s: fx.sc(s).update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        lambda s: fx.sc(s).pop("capabilities"),
    ],
    "estate-workloads-host-namespaces": [
        lambda s: s.update(hostNetwork=True),
        lambda s: fx.main(s)["ports"][0].update(hostPort=8080.0),
    ],
    "estate-workloads-volume-types": [lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/var"}})],
    "estate-workloads-seccomp": [
        lambda s: (s["securityContext"].pop("seccompProfile"), fx.sc(s).pop("seccompProfile")),
        lambda s: fx.sc(s).update(seccompProfile={"type": "Unconfined"}),
    ],
    "estate-workloads-read-only-root": [lambda s: fx.sc(s).update(readOnlyRootFilesystem=False)],
    "estate-workloads-resources": [
        lambda s: fx.main(s)["resources"].pop("limits"),
        lambda s: s["initContainers"][0].pop("resources"),
    ],
    "estate-workloads-gpu": [
        lambda s: fx.main(s)["resources"]["limits"].update({"nvidia.com/gpu": "1"}),
        lambda s: s.update(nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-l4"}),
    ],
    "estate-workloads-service-account": [
        lambda s: s.update(serviceAccountName="default"),
        lambda s: s.pop("automountServiceAccountToken"),
    ],
    "estate-workloads-secret-env": [lambda s: fx.main(s)["env"].append({"name": "API_TOKEN", "value": "abc123"})],
    "estate-images-digest": [
        lambda s: fx.main(s).update(image=f"{fx.REGISTRY}/images/cells/api:latest"),
        lambda s: s["initContainers"][0].update(image=f"{fx.REGISTRY}/images/x:1.0"),
    ],
    "estate-images-registry-allowlist": [
        lambda s: fx.main(s).update(image=f"docker.io/library/nginx@sha256:{'b' * 64}")
    ],
}
WORKLOAD_CASES = [
    (rule, i, kind) for rule, muts in WORKLOAD_FAILURES.items() for i in range(len(muts)) for kind in fx.POD_KINDS
]


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_a_hardened_workload_passes_every_rule(pack: Analyzer, kind: str) -> None:
    result = found(pack, fx.workload(kind))
    expected = {"estate-workloads-no-bare-pods"} if kind == "kubernetes:core/v1:Pod" else set()
    assert set(result) == expected, result


@pytest.mark.parametrize(("rule", "index", "kind"), WORKLOAD_CASES)
def test_workload_rules_fail(pack: Analyzer, rule: str, index: int, kind: str) -> None:
    res = fx.workload(kind, fx.mutated(WORKLOAD_FAILURES[rule][index]))
    assert rule in found(pack, res)


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_gpu_workloads_pass_with_limit_and_toleration(pack: Analyzer, kind: str) -> None:
    def gpu(spec: dict[str, Any]) -> None:
        fx.main(spec)["resources"]["limits"]["nvidia.com/gpu"] = "1"
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        spec["nodeSelector"] = {"cloud.google.com/gke-accelerator": "nvidia-l4"}

    assert "estate-workloads-gpu" not in found(pack, fx.workload(kind, fx.mutated(gpu)))


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_probes_are_required_on_long_running_kinds_only(pack: Analyzer, kind: str) -> None:
    res = fx.workload(kind, fx.mutated(lambda s: fx.main(s).pop("livenessProbe")))
    reported = found(pack, res)
    if kind.startswith("kubernetes:batch/"):
        assert "estate-workloads-probes" not in reported
    else:
        assert "no livenessProbe" in reported["estate-workloads-probes"][0]


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_default_namespace_fails(pack: Analyzer, kind: str) -> None:
    assert "estate-workloads-namespace" in found(pack, fx.workload(kind, namespace="default"))
    no_ns = fx.workload(kind)
    del no_ns["inputs"]["metadata"]["namespace"]
    assert "estate-workloads-namespace" in found(pack, no_ns)


def test_bare_pods_fail_and_controllers_pass(pack: Analyzer) -> None:
    assert "estate-workloads-no-bare-pods" in found(pack, fx.workload("kubernetes:core/v1:Pod"))
    for kind in fx.CONTROLLED:
        assert "estate-workloads-no-bare-pods" not in found(pack, fx.workload(kind))


@pytest.mark.parametrize(
    ("labels", "name", "fails"),
    [
        ({"pod-security.kubernetes.io/enforce": "restricted"}, "cells", False),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, "cells", True),
        ({}, "cells", True),
        ({}, "kube-system", False),
        ({}, "gke-managed-cim", False),
    ],
)
def test_namespaces_enforce_restricted(pack: Analyzer, labels: dict[str, str], name: str, fails: bool) -> None:
    ns = fx.resource("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})
    assert ("estate-workloads-namespace-pod-security" in found(pack, ns)) is fails
