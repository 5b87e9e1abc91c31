"""Rootless workloads: Pod Security Standards (restricted) and the estate's hardening on top."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from estate_policies.common import (
    SYSTEM_NAMESPACES_SCHEMA,
    get,
    is_system_namespace,
    items,
    of_types,
    resource_policy,
    rules,
)
from estate_policies.pods import LONG_RUNNING, containers, is_pod_kind, long_running_containers, pod_spec

PSS = "Pod Security Standards (restricted)"
NSA = "NSA/CISA Kubernetes Hardening Guidance"
ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)", re.IGNORECASE)
GPU = "nvidia.com/gpu"


def _pod(check: Any) -> Any:
    """Adapt a `check(type, spec, config)` over the pod spec of any pod-bearing kind."""

    def run(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
        return check(type_, pod_spec(type_, props), config)

    return run


def _non_root(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    pod_sc = spec.get("securityContext") or {}
    for label, c in containers(spec):
        sc = c.get("securityContext") or {}
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            yield f"{label}: set securityContext.runAsNonRoot: true (pod or container)"
        for key in ("runAsUser", "runAsGroup"):
            if sc.get(key, pod_sc.get(key)) == 0:
                yield f"{label}: {key} is 0 (root)"
    if pod_sc.get("fsGroup") == 0 or 0 in items(pod_sc.get("supplementalGroups")):
        yield "pod: fsGroup/supplementalGroups include 0 (root)"


def _escalation(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(spec):
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{label}: set securityContext.allowPrivilegeEscalation: false"
        if sc.get("privileged") is True:
            yield f"{label}: privileged containers are not allowed"


def _capabilities(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(spec):
        caps = get(c, "securityContext", "capabilities", default={}) or {}
        if "ALL" not in items(caps.get("drop")):
            yield f"{label}: drop ALL capabilities"
        extra = sorted(set(items(caps.get("add"))) - {"NET_BIND_SERVICE"})
        if extra:
            yield f"{label}: may add only NET_BIND_SERVICE, adds {extra}"


def _host(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            yield f"pod: {key} is not allowed"
    for label, c in containers(spec):
        for port in items(c.get("ports")):
            if port.get("hostPort"):
                yield f"{label}: hostPort {port['hostPort']} is not allowed"


def _volumes(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for vol in items(spec.get("volumes")):
        kinds = [k for k in vol if k != "name"]
        bad = [k for k in kinds if k not in ALLOWED_VOLUMES]
        if bad:
            yield f"volume {vol.get('name', '?')!r}: type {bad[0]} is not in the restricted set {list(ALLOWED_VOLUMES)}"


def _seccomp(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    pod_type = get(spec, "securityContext", "seccompProfile", "type")
    for label, c in containers(spec):
        kind = get(c, "securityContext", "seccompProfile", "type", default=pod_type)
        if kind not in ("RuntimeDefault", "Localhost"):
            yield f"{label}: seccompProfile.type must be RuntimeDefault or Localhost (is {kind})"


def _read_only(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(spec):
        if get(c, "securityContext", "readOnlyRootFilesystem") is not True:
            yield f"{label}: set securityContext.readOnlyRootFilesystem: true (mount an emptyDir where it writes)"


def _resources(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(spec):
        if label.startswith("ephemeral"):
            continue
        for section in ("requests", "limits"):
            present = get(c, "resources", section, default={}) or {}
            missing = [r for r in ("cpu", "memory") if r not in present]
            if missing:
                yield f"{label}: resources.{section} lacks {', '.join(missing)}"


def _gpu(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    wants_gpu = False
    for label, c in containers(spec):
        requests = get(c, "resources", "requests", default={}) or {}
        limits = get(c, "resources", "limits", default={}) or {}
        if GPU in requests or GPU in limits:
            wants_gpu = True
            if GPU not in limits:
                yield f"{label}: GPUs are requested through resources.limits[{GPU}]"
    accelerator = get(spec, "nodeSelector", "cloud.google.com/gke-accelerator")
    if accelerator and not wants_gpu:
        yield f"pod: selects {accelerator} nodes but no container sets a {GPU} limit"
    if wants_gpu and not any(t.get("key") == GPU for t in items(spec.get("tolerations"))):
        yield f"pod: GPU pods need a toleration for the {GPU} taint GKE puts on GPU nodes"


def _probes(type_: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if type_ not in LONG_RUNNING:
        return
    for label, c in long_running_containers(spec):
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.get(probe):
                yield f"{label}: no {probe}"


def _namespace(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if get(props, "metadata", "namespace") in (None, "", "default"):
        yield "set metadata.namespace to an application namespace; the default namespace is not used"


def _service_account(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if spec.get("serviceAccountName") in (None, "", "default"):
        yield "pod: set serviceAccountName to the workload's own service account (not default)"
    if spec.get("automountServiceAccountToken") is not False:
        yield "pod: set automountServiceAccountToken: false (exempt the workload if it calls the Kubernetes API)"


def _secret_env(_t: str, spec: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(spec):
        for env in items(c.get("env")):
            value = env.get("value")
            if not value:
                continue
            if SECRET_NAME.search(str(env.get("name", ""))) or "PRIVATE KEY-----" in str(value):
                yield f"{label}: env {env.get('name')!r} holds a literal secret; use valueFrom.secretKeyRef"


def _bare_pod(_t: str, _p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    yield "bare Pods are not rescheduled; run it under a Deployment, StatefulSet, DaemonSet or Job"


def _pss_label(_t: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    name = get(props, "metadata", "name")
    if is_system_namespace(str(name), config):
        return
    label = get(props, "metadata", "labels", "pod-security.kubernetes.io/enforce")
    if label != "restricted":
        yield f"namespace {name!r}: label pod-security.kubernetes.io/enforce must be 'restricted' (is {label!r})"


_r = rules("estate-workloads-")

POLICIES = [
    resource_policy(
        _r(
            "run-as-non-root",
            "Containers run as a non-root user.",
            Severity.HIGH,
            f"{PSS}: Running as Non-root",
            "Set runAsNonRoot: true and a non-zero runAsUser.",
        ),
        is_pod_kind,
        _pod(_non_root),
    ),
    resource_policy(
        _r(
            "no-privilege-escalation",
            "Containers are not privileged and cannot escalate.",
            Severity.CRITICAL,
            f"{PSS}: Privilege Escalation; Privileged Containers",
            "Set allowPrivilegeEscalation: false and never privileged: true.",
        ),
        is_pod_kind,
        _pod(_escalation),
    ),
    resource_policy(
        _r(
            "capabilities",
            "Containers drop ALL capabilities and add at most NET_BIND_SERVICE.",
            Severity.HIGH,
            f"{PSS}: Capabilities",
            "capabilities: {drop: [ALL]}.",
        ),
        is_pod_kind,
        _pod(_capabilities),
    ),
    resource_policy(
        _r(
            "host-namespaces",
            "No host network, PID, IPC namespaces or host ports.",
            Severity.CRITICAL,
            f"{PSS}: Host Namespaces; Host Ports",
            "Remove hostNetwork/hostPID/hostIPC and hostPort; expose through a Service.",
        ),
        is_pod_kind,
        _pod(_host),
    ),
    resource_policy(
        _r(
            "volume-types",
            "Volumes are limited to the restricted set (no hostPath).",
            Severity.HIGH,
            f"{PSS}: Volume Types",
            "Use PVCs, emptyDir, configMap, secret, projected or CSI volumes.",
        ),
        is_pod_kind,
        _pod(_volumes),
    ),
    resource_policy(
        _r(
            "seccomp",
            "Containers run under the RuntimeDefault or a Localhost seccomp profile.",
            Severity.HIGH,
            f"{PSS}: Seccomp",
            "securityContext.seccompProfile.type: RuntimeDefault.",
        ),
        is_pod_kind,
        _pod(_seccomp),
    ),
    resource_policy(
        _r(
            "read-only-root",
            "Containers have a read-only root filesystem.",
            Severity.MEDIUM,
            f"{NSA}: immutable container file systems",
            "readOnlyRootFilesystem: true; mount emptyDir volumes for scratch space.",
        ),
        is_pod_kind,
        _pod(_read_only),
    ),
    resource_policy(
        _r(
            "resources",
            "Containers set CPU and memory requests and limits.",
            Severity.MEDIUM,
            f"{NSA}: resource policies",
            "Set resources.requests and resources.limits for cpu and memory.",
        ),
        is_pod_kind,
        _pod(_resources),
    ),
    resource_policy(
        _r(
            "gpu",
            "GPU containers set nvidia.com/gpu limits and tolerate the GPU taint.",
            Severity.MEDIUM,
            "GKE GPU guidance: request GPUs through limits",
            "Set resources.limits['nvidia.com/gpu'] and tolerate nvidia.com/gpu:NoSchedule.",
        ),
        is_pod_kind,
        _pod(_gpu),
    ),
    resource_policy(
        _r(
            "probes",
            "Long-running containers have liveness and readiness probes.",
            Severity.LOW,
            "Kubernetes production best practices: health probes",
            "Add livenessProbe and readinessProbe (and a startupProbe for slow starts).",
            EnforcementLevel.ADVISORY,
        ),
        is_pod_kind,
        _pod(_probes),
    ),
    resource_policy(
        _r(
            "namespace",
            "Workloads do not run in the default namespace.",
            Severity.MEDIUM,
            f"{NSA}: namespace separation",
            "Create an application namespace and deploy into it.",
        ),
        is_pod_kind,
        _namespace,
    ),
    resource_policy(
        _r(
            "service-account",
            "Pods use their own service account without an automounted token.",
            Severity.MEDIUM,
            "CIS Kubernetes Benchmark: 5.1.5 / 5.1.6 (default service account, token mounts)",
            "Create a ServiceAccount per workload; automountServiceAccountToken: false.",
        ),
        is_pod_kind,
        _pod(_service_account),
    ),
    resource_policy(
        _r(
            "secret-env",
            "No secret values in plain environment variables.",
            Severity.HIGH,
            "CIS Kubernetes Benchmark: 5.4.1 (secrets as files or references)",
            "Reference a Secret with valueFrom.secretKeyRef, or mount it.",
        ),
        is_pod_kind,
        _pod(_secret_env),
    ),
    resource_policy(
        _r(
            "no-bare-pods",
            "Pods are managed by a controller.",
            Severity.LOW,
            "Kubernetes production best practices: controllers",
            "Wrap the Pod in a Deployment or Job.",
        ),
        of_types("kubernetes:core/v1:Pod"),
        _bare_pod,
    ),
    resource_policy(
        _r(
            "namespace-pod-security",
            "Application namespaces enforce the restricted Pod Security Standard.",
            Severity.HIGH,
            f"{PSS}: Pod Security Admission",
            "Label the namespace pod-security.kubernetes.io/enforce: restricted.",
            config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
        ),
        of_types("kubernetes:core/v1:Namespace"),
        _pss_label,
    ),
]
