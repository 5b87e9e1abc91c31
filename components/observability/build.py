"""The observability layer's builder: validated config and the layers below in, what later
layers need out. Like the others, it reads the layers below only through their exported objects.

Order: the metrics stack first (its chart brings the monitoring CRDs every monitor waits for), then
Loki and Tempo, then the collectors that send to all three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.cloud import CloudLayer
from components.common import labels
from components.kube.charts import Release
from components.kube.netpol import MESH_NAMESPACE as MESH_ROOT
from components.kube.transforms import no_api_token
from components.kube.values import Values
from components.observability import exporters, monitors
from components.observability.agents import NodeAgents, NodeAgentsArgs
from components.observability.backend import Backend, BackendArgs
from components.observability.collectors import Collectors, CollectorsArgs
from components.observability.metrics import Metrics, MetricsArgs
from components.observability.values_kps import prometheus_replica_urls
from components.observability.values_loki import HTTP_PORT as LOKI_PORT
from components.observability.values_loki import RELEASE as LOKI
from components.observability.values_loki import SERVICE as LOKI_SERVICE
from components.observability.values_loki import loki_values
from components.observability.values_tempo import DISTRIBUTOR, QUERY_FRONTEND, tempo_values
from components.observability.values_tempo import HTTP_PORT as TEMPO_PORT
from components.observability.values_tempo import RELEASE as TEMPO
from components.platform import PlatformLayer
from stacks import secret_keys as keys
from stacks.config_automation import smoke_test
from stacks.config_mesh import fqdn
from stacks.config_observability import keda_reads_metrics
from stacks.config_telemetry import OTLP_GRPC_PORT
from stacks.model import EstateConfig
from stacks.naming import bucket_name, workload_account_id


@dataclass(frozen=True)
class ObservabilityLayer:
    metrics: Metrics | None
    logs: Backend | None = None
    traces: Backend | None = None
    collectors: Collectors | None = None
    agents: NodeAgents | None = None


def build_observability(cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer) -> ObservabilityLayer:
    o = cfg.observability
    if not o.enabled:
        return ObservabilityLayer(metrics=None)
    ns = o.namespace
    # The node agents' namespace first: the metrics stack's node exporter and the log agents run there.
    agents = NodeAgents(
        f"{cfg.prefix}-node-agents",
        NodeAgentsArgs(
            name=o.collectors.agent_namespace,
            observability=ns,
            provider=cloud.kube.provider,
            mesh_control_plane=platform.mesh.control_plane,
        ),
    )
    loki_url = f"http://{LOKI_SERVICE}.{ns}.svc:{LOKI_PORT}" if o.logs.enabled else None
    tempo_url = f"http://{QUERY_FRONTEND}.{ns}.svc:{TEMPO_PORT}" if o.traces.enabled else None
    # The Redis exporter's address, password and CA, written by the namespace's one credentials sync.
    redis = o.exporters.redis
    redis_ids = {field: keys.secret_id(cfg.prefix, key) for field, key in exporters.SECRET_KEYS.items()}
    # n8n's release smoke test reports to Alertmanager (ai-estate:automation).
    smoke = smoke_test(cfg.automation, cfg.identity.workloads) if platform.flagger is not None else None
    metrics = Metrics(
        f"{cfg.prefix}-metrics",
        MetricsArgs(
            ctx=platform.ctx,
            config=o,
            prefix=cfg.prefix,
            pins=platform.pins,
            provider=cloud.kube.provider,
            namespaces=platform.namespaces.namespaces,
            nodes=cloud.pools,
            cluster=cloud.cluster,
            apis=cloud.apis,
            cert_manager=platform.certs,
            internal_issuer=platform.certs.internal_issuer,
            secrets_operator=platform.secrets,
            mesh_data_plane=platform.mesh.data_plane,
            mesh_control_plane=platform.mesh.control_plane,
            gateway_namespace=platform.mesh.gateway_namespace,
            gateway_selector=platform.mesh.gateway_selector,
            pools={name: pool.max_nodes for name, pool in cfg.cluster.node_pools.items()},
            kafka_namespace=cfg.kafka.namespace if cfg.kafka.enabled else None,
            harbor_namespace=cfg.harbor.namespace if cfg.harbor.enabled else None,
            node_range=cloud.cidrs.nodes,
            grafana_host=fqdn(cfg.mesh.hosts[o.grafana.host].host, cfg.dns.domain or "") if o.grafana.enabled else "",
            control_plane_ranges=cloud.cluster.control_plane_ranges,
            labels=labels(cfg.environment, "observability"),
            loki_url=loki_url,
            loki_tenant=o.logs.tenant,
            tempo_url=tempo_url,
            node_agents=agents,
            gpus=any(pool.gpu for pool in cfg.cluster.node_pools.values()),
            readers={
                **({"flagger": platform.flagger.identity} if platform.flagger else {}),
                **({"keda": platform.keda.operator} if keda_reads_metrics(o, cfg.inference) else {}),
            },
            alert_senders={"smoke-test": (smoke.namespace, smoke.service_account)} if smoke else {},
            extra_credentials={exporters.SECRET: redis_ids} if redis else {},
            extra_sources={redis_ids[f]: cloud.secrets[k] for f, k in exporters.SECRET_KEYS.items()} if redis else {},
        ),
    )
    common = [platform.namespaces.namespaces[ns], cloud.pools, *platform.mesh.data_plane]
    if redis:
        container, volumes, allows = exporters.redis_exporter(
            ns, platform.ctx.images["redis-exporter"], o.exporters.redis_streams, cloud.cidrs.private_services
        )
        exporters.Exporter(
            f"{cfg.prefix}-redis-exporter",
            exporters.ExporterArgs(
                name=exporters.NAME,
                namespace=ns,
                container=container,
                port=exporters.PORT,
                uid=exporters.UID,
                provider=cloud.kube.provider,
                depends_on=[*common, metrics.synced[exporters.SECRET]],
                monitors_after=metrics.chart,
                volumes=volumes,
                allows=allows,
            ),
        )
    if o.exporters.cloud_sql:
        workload = o.exporters.cloud_monitoring_workload
        exporters.Exporter(
            f"{cfg.prefix}-cloud-monitoring-exporter",
            exporters.ExporterArgs(
                name=cfg.identity.workloads[workload].service_account,
                namespace=ns,
                container=exporters.bridge_container(
                    platform.ctx.images["stackdriver-exporter"].ref, cfg.project, exporters.CLOUD_SQL_PREFIXES
                ),
                port=exporters.BRIDGE_PORT,
                uid=exporters.BRIDGE_UID,
                provider=cloud.kube.provider,
                # Its Google identity and role exist before it asks (Workload Identity).
                depends_on=[*common, cloud.workloads],
                monitors_after=metrics.chart,
                gsa=platform.ctx.gsa_email(workload_account_id(cfg.environment, workload)),
            ),
        )
    # What a backend's pods need before they start: their namespace, nodes, the mesh's node agents,
    # and their Google identity with its bucket grant.
    ready = [
        platform.namespaces.namespaces[ns],
        cloud.pools,
        cloud.workloads,
        cloud.buckets,
        *platform.mesh.data_plane,
    ]
    ctx, pins, provider = platform.ctx, platform.pins, cloud.kube.provider

    def backend(role: str, pin: str, release: str, values: Values, monitor: dict[str, Any]) -> Backend:
        return Backend(
            f"{cfg.prefix}-{role}",
            BackendArgs(
                # Neither Loki nor Tempo calls the Kubernetes API (their charts set it on the accounts only).
                release=Release(pins[pin], ns, values, release_name=release, transforms=(no_api_token,)),
                provider=provider,
                depends_on=ready,
                monitors=[monitor],
                monitors_after=metrics.chart,
            ),
        )

    logs = traces = None
    if o.logs.enabled:
        loki = loki_values(ctx, o.logs, bucket=bucket_name(cfg.project, o.logs.bucket))
        logs = backend("logs", "loki", LOKI, loki, monitors.loki(ns))
    if o.traces.enabled:
        tempo = tempo_values(ctx, o.traces, bucket=bucket_name(cfg.project, o.traces.bucket))
        traces = backend("traces", "tempo-distributed", TEMPO, tempo, monitors.tempo(ns))
    collectors = None
    if o.collectors.enabled:
        collectors = Collectors(
            f"{cfg.prefix}-collectors",
            CollectorsArgs(
                ctx=ctx,
                config=o.collectors,
                namespace=ns,
                pin=pins["opentelemetry-collector"],
                provider=provider,
                # Every workload identity of the estate, and the ingress gateway's spans.
                senders=sorted(
                    {(w.namespace, w.service_account) for w in cfg.identity.workloads.values() if w.namespace != ns}
                    | {platform.mesh.gateway_identity}
                ),
                tempo=f"{DISTRIBUTOR}.{ns}.svc:{OTLP_GRPC_PORT}" if traces else None,
                loki=f"{loki_url}/otlp" if loki_url else None,
                tenant=o.logs.tenant,
                prometheus=prometheus_replica_urls(ns, o.prometheus.replicas),
                depends_on=[*ready, *(b.chart for b in (logs, traces) if b is not None)],
                mesh_control_plane=platform.mesh.control_plane,
                mesh_root=MESH_ROOT,
                sampling_percent=o.traces.sampling_percent,
                monitors_after=metrics.chart,
                agents=agents,
            ),
        )
    return ObservabilityLayer(metrics=metrics, logs=logs, traces=traces, collectors=collectors, agents=agents)
