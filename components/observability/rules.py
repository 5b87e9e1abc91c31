"""The estate's alert rules as PrometheusRule objects (monitoring.coreos.com/v1): typed, built from
config by pure functions, checked against the Prometheus Operator's CRD in the tests.

Seed 004's four alerts keep their thresholds (from config) and durations; two of their
expressions are rewritten to metrics that exist: GPU utilisation is DCGM's
`DCGM_FI_DEV_GPU_UTIL` (no exporter emits the seed's `nvidia_gpu_utilization`), and a node's
memory comes from the kubelet's cAdvisor (the root cgroup against the machine's memory), which
Prometheus scrapes on every node without a node agent. Each alert says where its series come from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.kube.rules import RecordGroup, RuleGroup, alert, prometheus_rule
from components.observability.rules_data import harbor_alerts, kafka_alerts, redis_alerts
from stacks.config_observability import Thresholds

# Cloud SQL's `database/postgresql/num_backends` as the Cloud Monitoring bridge (stackdriver_exporter)
# names it: `stackdriver_<monitored resource>_<metric type>`, per database of an instance.
CLOUD_SQL_BACKENDS = "stackdriver_cloudsql_database_cloudsql_googleapis_com_database_postgresql_num_backends"
# Namespaces whose Deployments are the estate's own controllers and services (platform and data).
CONTROLLER_NAMESPACES = ("cert-manager", "external-secrets", "istio-system", "istio-ingress", "cosign-system")


# Seed 002's runbooks, as the steps an on-call engineer takes.
INCIDENT = (
    "Declare an incident; check the latest release of the service (roll back to the previous tag if it "
    "started with it); look at its logs and traces for the failing requests; write the post-mortem."
)
HIGH_LATENCY = (
    "Check the service's saturation (CPU, memory, queue length) and its dependencies (database, cache, "
    "Kafka); scale out if saturated; roll back if a release started it."
)
DB_RECOVERY = (
    "Find who holds the connections (pg_stat_activity); restart a leaking client; if the database is "
    "damaged, restore a backup or a point in time to a staging instance, verify, then promote."
)


def seed_alerts(t: Thresholds) -> RuleGroup:
    """Seed 004's alerts, with their thresholds and durations."""
    return RuleGroup(
        name="estate-seed-alerts",
        rules=[
            alert(
                "HighErrorRate",
                f'sum by (namespace, service) (rate(http_requests_total{{status=~"5.."}}[5m])) > {t.error_rate:g}',
                "5m",
                "critical",
                "High error rate on {{ $labels.namespace }}/{{ $labels.service }}",
                "{{ $value | humanize }} 5xx responses per second.",
                "the services' own /metrics (http_requests_total), through their ServiceMonitors",
                INCIDENT,
            ),
            alert(
                "HighMemoryUsage",
                'sum by (node) (container_memory_working_set_bytes{id="/"}) / sum by (node) (machine_memory_bytes)'
                f" > {t.memory_ratio:g}",
                "5m",
                "warning",
                "High memory usage on node {{ $labels.node }}",
                f"Memory in use is above {t.memory_ratio:.0%} of the node's memory.",
                "the kubelet's cAdvisor on every node",
                HIGH_LATENCY,
            ),
            alert(
                "GPUUtilizationHigh",
                f"DCGM_FI_DEV_GPU_UTIL > {t.gpu_utilization_percent:g}",
                "10m",
                "warning",
                "GPU utilization very high",
                "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is at {{ $value }}%.",
                "GKE's managed NVIDIA DCGM exporter (DCGM_FI_DEV_GPU_UTIL)",
                "Check the model servers' queue and batch sizes; add replicas or a larger GPU pool if sustained.",
            ),
            alert(
                "DatabaseConnectionsHigh",
                f"max by (database_id, database) ({CLOUD_SQL_BACKENDS}) > {t.database_connections}",
                "5m",
                "warning",
                "High database connections on {{ $labels.database }}",
                "{{ $value }} connections to {{ $labels.database_id }}.",
                "Cloud SQL's own num_backends metric (the seed's pg_stat_database_numbackends, as Cloud "
                "Monitoring reports it), through the Cloud Monitoring bridge",
                DB_RECOVERY,
            ),
        ],
    )


def estate_alerts(data_namespaces: Sequence[str] = ()) -> RuleGroup:
    """What kube-state-metrics tells about the estate's own workloads (the platform's controllers,
    and the data layer's operators and services in `data_namespaces`)."""
    namespaces = "|".join((*CONTROLLER_NAMESPACES, *data_namespaces))
    return RuleGroup(
        name="estate-workloads",
        rules=[
            alert(
                "EstateControllerDown",
                f'kube_deployment_spec_replicas{{namespace=~"{namespaces}"}} > 0'
                f' and kube_deployment_status_replicas_available{{namespace=~"{namespaces}"}} == 0',
                "5m",
                "critical",
                "{{ $labels.namespace }}/{{ $labels.deployment }} has no available replica",
                "A platform controller is down: webhooks it serves refuse or let through what they guard.",
                "kube-state-metrics",
                "Look at the Deployment's events and pods (image pull, admission, nodes); its chart's last change; "
                "roll it back if a release started it.",
            ),
            alert(
                "GPUPodPending",
                'sum by (namespace, pod) (kube_pod_status_phase{phase="Pending"})'
                " * on (namespace, pod) group_left () (sum by (namespace, pod)"
                ' (kube_pod_container_resource_requests{resource="nvidia_com_gpu"}) > 0) > 0',
                "15m",
                "warning",
                "GPU pod {{ $labels.namespace }}/{{ $labels.pod }} pending",
                "A pod that asks for a GPU has waited 15 minutes: the GPU pools are at their maximum or out of quota.",
                "kube-state-metrics",
                "Check the GPU pools' node counts against their maximum and the project's GPU quota; raise "
                "either, or lower the pod's request.",
            ),
        ],
    )


def pool_alerts(pools: Mapping[str, int]) -> RuleGroup:
    """A node pool at its maximum in a zone (GKE's autoscaler maximum is per zone): nothing more
    can be scheduled there. `pools`: pool name -> its maximum per zone (cluster.nodePools)."""
    zone = "label_topology_kubernetes_io_zone"
    return RuleGroup(
        name="estate-node-pools",
        rules=[
            alert(
                "NodePoolAtMaxSize",
                f"count by ({zone}) (kube_node_labels{{label_cloud_google_com_gke_nodepool={pool!r}}}) >= {maximum}",
                "15m",
                "warning",
                f"Node pool {pool} is at its maximum ({maximum}) in {{{{ $labels.{zone} }}}}",
                "Pods that need this pool wait until a node frees up.",
                "kube-state-metrics (kube_node_labels with the pool and zone labels)",
                "Raise the pool's maxNodes (and the project's quota, for GPUs), or lower what runs on it.",
            ).model_copy(update={"labels": {"severity": "warning", "pool": pool}})
            for pool, maximum in sorted(pools.items())
        ],
    )


def certificate_alerts() -> RuleGroup:
    source = "cert-manager's controller"
    renew = (
        "Look at the Certificate's events and its CertificateRequest/Order (`kubectl describe`); for ACME, "
        "the DNS-01 challenge in the estate's zone; for the internal CA, the CA Certificate."
    )
    return RuleGroup(
        name="estate-certificates",
        rules=[
            alert(
                "CertificateExpiringSoon",
                "certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 86400",
                "1h",
                "warning",
                "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires within 14 days",
                "cert-manager renews 30 days ahead (Let's Encrypt's 90-day certificates): renewal is failing.",
                source,
                renew,
            ),
            alert(
                "CertificateExpiringVerySoon",
                "certmanager_certificate_expiration_timestamp_seconds - time() < 3 * 86400",
                "10m",
                "critical",
                "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires within 3 days",
                "Clients will refuse the name it serves once it expires.",
                source,
                renew,
            ),
            alert(
                "CertificateNotReady",
                'certmanager_certificate_ready_status{condition="False"} == 1',
                "30m",
                "warning",
                "Certificate {{ $labels.namespace }}/{{ $labels.name }} is not ready",
                "Its Secret is missing or stale.",
                source,
                renew,
            ),
        ],
    )


def rules(
    namespace: str,
    thresholds: Thresholds,
    *,
    pools: Mapping[str, int] | None = None,
    kafka: str | None = None,
    harbor: str | None = None,
    redis: bool = False,
) -> list[dict[str, Any]]:
    """The estate's rules; `pools`: node pools and their per-zone maxima; `kafka`/`harbor`: their
    namespaces, when the data layer runs them; `redis`: whether its exporter runs."""

    data = [ns for ns in (kafka, harbor) if ns]
    groups: list[RuleGroup | RecordGroup] = [seed_alerts(thresholds), estate_alerts(data), certificate_alerts()]
    if pools:
        groups.append(pool_alerts(pools))
    if kafka:
        groups.append(kafka_alerts(thresholds))
    if harbor:
        groups.append(harbor_alerts())
    if redis:
        groups.append(redis_alerts(thresholds))
    return [prometheus_rule("estate-alerts", namespace, groups)]
