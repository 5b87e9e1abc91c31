"""Values for the opentelemetry-collector chart 0.170.0 (collector 0.158.0, its Kubernetes
distribution `otelcol-k8s`), installed twice:

- the gateway (a Deployment, `otel-gateway`): receives OTLP from the workloads and the node agents,
  and sends traces to Tempo over OTLP/gRPC, logs to Loki's OTLP endpoint with the tenant header
  (the contrib `loki` exporter is gone) and metrics over OTLP/HTTP to each Prometheus replica (an
  HA pair does not share what it ingests);
- the node agent (a DaemonSet, `otel-agent`): reads every pod's log files on its node (the chart's
  `logsCollection` preset: the `filelog` receiver with the container parser, which takes the
  namespace, pod and container from the file's path, so no Kubernetes API access is needed) and
  sends them to the gateway.

Each configuration is written whole (`alternateConfig`, no jaeger/zipkin/prometheus receivers of
the chart's default); the exporters are the distribution's `otlp` and `otlphttp` (present in
0.158.0, whose newer names are aliases of the same components). Traffic between them rides the
ambient mesh (mTLS by ztunnel), so the exporters speak plain gRPC/HTTP to their peers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.kube.values import CONTAINER_SECURITY, POD_SECURITY, SYSTEM_NODES, ChartContext, Values, resources
from stacks.config_telemetry import AGENT, GATEWAY, OTLP_GRPC_PORT, OTLP_HTTP_PORT

HEALTH_PORT = 13133
METRICS_PORT = 8888
COMMAND = "otelcol-k8s"  # the distribution's binary (the chart's default names the core one)
PORT_NAMES = ("otlp", "otlp-http", "jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin", "metrics")


class CollectorValues(Values):
    mode: str
    fullname_override: str
    image: dict[str, Any]
    command: dict[str, Any]
    alternate_config: dict[str, Any]
    presets: dict[str, Any]
    service_account: dict[str, Any]
    cluster_role: dict[str, Any]
    pod_security_context: dict[str, Any]
    security_context: dict[str, Any]
    ports: dict[str, Any]
    resources: dict[str, Any]
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    topology_spread_constraints: list[dict[str, Any]] | None = None
    replica_count: int | None = None
    pod_disruption_budget: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    network_policy: dict[str, Any]


def _telemetry() -> dict[str, Any]:
    """The collector's own metrics on 8888 for Prometheus."""
    reader = {"pull": {"exporter": {"prometheus": {"host": "${env:MY_POD_IP}", "port": METRICS_PORT}}}}
    return {"metrics": {"readers": [reader]}}


PROCESSORS = {
    # The chart sets GOMEMLIMIT to 80% of the memory limit; the limiter refuses data before that.
    "memory_limiter": {"check_interval": "5s", "limit_percentage": 75, "spike_limit_percentage": 20},
    "batch": {},
}
HEALTH = {"health_check": {"endpoint": f"${{env:MY_POD_IP}}:{HEALTH_PORT}"}}


def gateway_config(*, tempo: str | None, loki: str | None, tenant: str, prometheus: Sequence[str]) -> dict[str, Any]:
    """`tempo`: host:port of its OTLP/gRPC receiver; `loki`: its OTLP base URL (…/otlp);
    `prometheus`: each replica's base URL (…:9090). A signal whose backend the stack does not run
    has no pipeline (the gateway refuses it)."""
    exporters: dict[str, Any] = {
        f"otlphttp/prometheus-{i}": {"endpoint": f"{url}/api/v1/otlp"} for i, url in enumerate(prometheus)
    }
    chain = ["memory_limiter", "batch"]
    pipelines: dict[str, Any] = {
        "metrics": {"receivers": ["otlp"], "processors": chain, "exporters": sorted(exporters)}
    }
    if tempo:
        exporters["otlp/tempo"] = {"endpoint": tempo, "tls": {"insecure": True}}
        pipelines["traces"] = {"receivers": ["otlp"], "processors": chain, "exporters": ["otlp/tempo"]}
    if loki:
        exporters["otlphttp/loki"] = {"endpoint": loki, "headers": {"X-Scope-OrgID": tenant}}
        pipelines["logs"] = {"receivers": ["otlp"], "processors": chain, "exporters": ["otlphttp/loki"]}
    return {
        "extensions": HEALTH,
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": PROCESSORS,
        "exporters": exporters,
        "service": {"extensions": ["health_check"], "telemetry": _telemetry(), "pipelines": pipelines},
    }


def agent_config(*, gateway: str) -> dict[str, Any]:
    """The node agent: the preset adds the `filelog` receiver (and its checkpoint storage) to the
    logs pipeline; everything goes to the gateway (`gateway`: host:port of its OTLP/gRPC receiver)."""
    return {
        "extensions": HEALTH,
        "receivers": {},
        "processors": PROCESSORS,
        "exporters": {"otlp/gateway": {"endpoint": gateway, "tls": {"insecure": True}}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": _telemetry(),
            "pipelines": {
                "logs": {"receivers": [], "processors": ["memory_limiter", "batch"], "exporters": ["otlp/gateway"]}
            },
        },
    }


def _ports(*, otlp: bool, agent: bool) -> dict[str, Any]:
    out: dict[str, Any] = {name: {"enabled": False} for name in PORT_NAMES}
    if otlp:
        out["otlp"] = {"enabled": True}
        out["otlp-http"] = {"enabled": True}
    out["metrics"] = {"enabled": True}
    if agent:
        # The chart gives a DaemonSet's ports host ports (Pod Security baseline forbids them).
        out = {name: {**spec, "hostPort": 0} for name, spec in out.items()}
    return out


def _image(ctx: ChartContext) -> dict[str, Any]:
    pinned = ctx.images["otel-collector"]
    return {"repository": pinned.repository, "digest": pinned.digest}


def gateway_values(ctx: ChartContext, *, replicas: int, config: dict[str, Any]) -> CollectorValues:
    prod = ctx.prod
    pods = {"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": GATEWAY}
    return CollectorValues(
        mode="deployment",
        fullname_override=GATEWAY,
        image=_image(ctx),
        command={"name": COMMAND},
        alternate_config=config,
        presets={},
        service_account={"create": True, "name": GATEWAY, "automountServiceAccountToken": False},
        cluster_role={"create": False},
        pod_security_context=dict(POD_SECURITY),
        security_context=dict(CONTAINER_SECURITY),
        ports=_ports(otlp=True, agent=False),
        resources=resources("200m", "512Mi", cpu_limit="1") if not prod else resources("500m", "1Gi", cpu_limit="2"),
        node_selector=dict(SYSTEM_NODES),
        replica_count=replicas,
        pod_disruption_budget={"enabled": True, "minAvailable": 1} if replicas > 1 else None,
        topology_spread_constraints=(
            [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": pods},
                }
            ]
            if replicas > 1
            else None
        ),
        service={"type": "ClusterIP"},
        network_policy={"enabled": False},
    )


def agent_values(ctx: ChartContext, *, config: dict[str, Any]) -> CollectorValues:
    return CollectorValues(
        mode="daemonset",
        # The chart suffixes a DaemonSet's name with `-agent`: the DaemonSet is `otel-agent`.
        fullname_override=AGENT.removesuffix("-agent"),
        image=_image(ctx),
        command={"name": COMMAND},
        alternate_config=config,
        # Checkpoints on the node (/var/lib/otelcol): a restarted agent resumes where it stopped
        # instead of skipping (start_at: end) or re-sending lines.
        presets={"logsCollection": {"enabled": True, "storeCheckpoints": True}},
        service_account={"create": True, "name": AGENT, "automountServiceAccountToken": False},
        cluster_role={"create": False},
        # Root: the kubelet writes pod logs as root, mode 0640 (README, "Observability"). Nothing
        # else is granted: no capability, no privilege escalation, a read-only root filesystem.
        pod_security_context={"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}},
        security_context={
            **{k: v for k, v in CONTAINER_SECURITY.items() if k != "runAsNonRoot"},
            "runAsUser": 0,
            "runAsGroup": 0,
        },
        ports=_ports(otlp=False, agent=True),
        resources=resources("100m", "256Mi", cpu_limit="500m"),
        # Every node's pods log, whatever the node's taints (GPU, spot, system).
        tolerations=[{"operator": "Exists"}],
        network_policy={"enabled": False},
    )
