"""What the mesh's chart objects cannot do by design, as `policies/<stack>.json` exemptions.

Found by rendering the five pinned charts with the estate's values and sending every object
through the pack's resource rules: these are exactly the violations left, none of which a
values key can remove (the templates fix them). Advisory rules (probes) are not listed.
Merged into the per-stack policy config by the platform builder's owner.
"""

from __future__ import annotations

CNI = "istio-system/istio-cni-node"  # DaemonSet, chart `cni`
ZTUNNEL = "istio-system/ztunnel"  # DaemonSet, chart `ztunnel`
ISTIOD = "istio-system/istiod"  # Deployment, chart `istiod`
GATEWAY = "istio-ingress/istio-ingressgateway"  # Deployment, chart `gateway`

_NODE_AGENT = (
    "Istio ambient node agent: enters every meshed pod's network namespace on the node to redirect "
    "its traffic through ztunnel (istio-cni) or to terminate it (ztunnel); the chart fixes this "
    "security context and Istio documents no unprivileged mode"
)

EXEMPTIONS: dict[str, list[dict[str, str]]] = {
    "estate-workloads-run-as-non-root": [
        {"resource": CNI, "reason": f"{_NODE_AGENT}: runs as uid/gid 0 to write the host's CNI config"},
        {"resource": ZTUNNEL, "reason": f"{_NODE_AGENT}: runs as uid 0 to open other pods' network namespaces"},
    ],
    "estate-workloads-no-privilege-escalation": [
        {"resource": CNI, "reason": f"{_NODE_AGENT}: SYS_ADMIN implies privilege escalation"},
        {"resource": ZTUNNEL, "reason": f"{_NODE_AGENT}: SYS_ADMIN implies privilege escalation (set true)"},
    ],
    "estate-workloads-capabilities": [
        {
            "resource": CNI,
            "reason": f"{_NODE_AGENT}: NET_ADMIN, NET_RAW (iptables/ipset), SYS_ADMIN, SYS_PTRACE (setns), "
            "DAC_OVERRIDE (host CNI dirs)",
        },
        {"resource": ZTUNNEL, "reason": f"{_NODE_AGENT}: NET_ADMIN, NET_RAW (TPROXY), SYS_ADMIN (setns)"},
    ],
    "estate-workloads-volume-types": [
        {
            "resource": CNI,
            "reason": f"{_NODE_AGENT}: hostPath CNI bin and conf dirs, /proc, netns dir, the ztunnel and CNI sockets",
        },
        {"resource": ZTUNNEL, "reason": f"{_NODE_AGENT}: hostPath /var/run/ztunnel, the socket shared with istio-cni"},
    ],
    "estate-workloads-read-only-root": [
        {"resource": CNI, "reason": f"{_NODE_AGENT}: the chart offers no readOnlyRootFilesystem for install-cni"},
    ],
    "estate-workloads-seccomp": [
        {"resource": ZTUNNEL, "reason": f"{_NODE_AGENT}: the ztunnel chart offers no seccompProfile value"},
    ],
    "estate-workloads-service-account": [
        {"resource": ISTIOD, "reason": "istiod watches the Kubernetes API (its own service account, token needed)"},
        {"resource": CNI, "reason": "istio-cni watches pods and namespaces to enrol them in the mesh"},
        {
            "resource": ZTUNNEL,
            "reason": "the ztunnel chart exposes no automountServiceAccountToken (ztunnel itself uses the projected "
            "istio-token for istiod)",
        },
        {"resource": GATEWAY, "reason": "the gateway chart exposes no automountServiceAccountToken"},
    ],
    "estate-images-digest": [
        {
            "resource": GATEWAY,
            "reason": "the chart renders image: auto; istiod's injector sets global.proxy.image, our proxyv2 by "
            "digest (tests/test_platform_mesh.py asserts it)",
        },
    ],
    "estate-images-registry-allowlist": [
        {
            "resource": GATEWAY,
            "reason": "the chart renders image: auto; istiod's injector sets global.proxy.image, from our "
            "registry (tests/test_platform_mesh.py asserts it)",
        },
    ],
}
