"""The sandbox namespace's admission policy, as plain data (CEL) evaluated against pods and Jobs in
the tests: generated code runs only as Jobs, under gVisor, with no service account token, no Secret,
CPU and memory limits, and a time limit (`activeDeadlineSeconds` at most the configured maximum,
and `ttlSecondsAfterFinished` so a finished Job and its pods go away).

A pod is checked as the Job's template is (both are, so a Job is refused before its pods are
tried); a pod that no Job owns is refused, since its time limit lives on the Job.
"""

from __future__ import annotations

SANDBOX_RUNTIME = "gvisor"  # GKE Sandbox's RuntimeClass: it tolerates the sandbox nodes' taint and selects them
_SPEC = "object.kind == 'Job' ? object.spec.template.spec : object.spec"


def variables() -> dict[str, str]:
    return {
        "spec": _SPEC,
        "containers": "variables.spec.containers"
        " + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])",
        "volumes": "has(variables.spec.volumes) ? variables.spec.volumes : []",
    }


def checks(max_deadline: int) -> list[tuple[str, str]]:
    """(CEL expression, message) per rule."""
    token_volume = "v.projected.sources.exists(s, has(s.serviceAccountToken))"
    secret_volume = "has(v.secret) || (has(v.projected) && v.projected.sources.exists(s, has(s.secret)))"
    env_secrets = (
        "(!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef)))"
        " && (!has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef)))"
    )
    limits = (
        "has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits"
    )
    return [
        (
            f"has(variables.spec.runtimeClassName) && variables.spec.runtimeClassName == '{SANDBOX_RUNTIME}'",
            f"generated code runs under gVisor only: set runtimeClassName: {SANDBOX_RUNTIME}",
        ),
        (
            "has(variables.spec.automountServiceAccountToken) && variables.spec.automountServiceAccountToken == false"
            f" && !variables.volumes.exists(v, has(v.projected) && {token_volume})",
            "no service account token: set automountServiceAccountToken: false and project none",
        ),
        (
            f"!variables.volumes.exists(v, {secret_volume}) && variables.containers.all(c, {env_secrets})",
            "no Secret, as a volume or in the environment",
        ),
        (f"variables.containers.all(c, {limits})", "every container sets CPU and memory limits"),
        (
            "object.kind != 'Job' || (has(object.spec.activeDeadlineSeconds)"
            f" && object.spec.activeDeadlineSeconds <= {max_deadline} && has(object.spec.ttlSecondsAfterFinished))",
            f"a Job sets activeDeadlineSeconds (at most {max_deadline}) and ttlSecondsAfterFinished",
        ),
        (
            "object.kind != 'Pod' || (has(object.metadata.ownerReferences)"
            " && object.metadata.ownerReferences.exists(o, o.kind == 'Job'))",
            "only a Job's pods run here (the Job carries the time limit)",
        ),
    ]
