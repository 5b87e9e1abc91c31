"""The metrics stack: kube-prometheus-stack (the Prometheus Operator, Prometheus, Alertmanager,
kube-state-metrics), the estate's alert rules, Alertmanager's configuration with its credentials
from Secret Manager, and what its namespace lets in and out.

Prometheus runs in the ambient mesh and scrapes every application namespace, which admits it by
identity (stacks.config_observability.scraped_namespaces); it reaches the kubelets and the API
server directly. Alertmanager's peers gossip on 9094 over TCP and UDP (UDP bypasses ztunnel) and
page through HTTPS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common import K8S_LABELS, child
from components.kube import authz
from components.kube.authz import principal
from components.kube.charts import ChartPin, Release, install
from components.kube.credentials import Credentials, CredentialsArgs
from components.kube.custom import custom_object, custom_objects
from components.kube.netpol import (
    CONTROL_PLANE,
    HBONE_PORT,
    Allow,
    Peer,
    allow_policies,
    api_server,
    for_pods,
    public_internet,
    tcp,
)
from components.kube.values import ChartContext
from components.observability import alerting, dashboards, grafana, monitors, slo
from components.observability.agents import NodeAgents
from components.observability.rules import rules
from components.observability.transforms import rules_after_admission
from components.observability.values_kps import NODE_EXPORTER_PORT, RELEASE, kps_values
from components.secret_manager import SecretArgs, secret
from stacks import secret_keys as keys
from stacks.config_harbor import DB_PROXY as HARBOR_DB_PROXY
from stacks.config_observability import ALERTMANAGER_PORT, PROMETHEUS_PODS, ObservabilityConfig, prometheus_url

KUBELET_PORT = 10250
WEBHOOK_PORT = 10250  # the operator's (prometheusOperator.tls.internalPort)
GOSSIP_PORT = 9094
PROMETHEUS_PORT = 9090


@dataclass(frozen=True)
class MetricsArgs:
    ctx: ChartContext
    config: ObservabilityConfig
    prefix: str
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    nodes: pulumi.Resource
    cluster: pulumi.Resource
    apis: pulumi.Resource
    cert_manager: pulumi.Resource
    internal_issuer: str
    secrets_operator: pulumi.Resource
    mesh_data_plane: Sequence[pulumi.Resource]
    mesh_control_plane: pulumi.Resource  # istiod: the Istio CRDs
    node_range: str  # the nodes' subnet: the kubelets Prometheus scrapes
    grafana_host: str  # Grafana's full name (the mesh.hosts entry's)
    gateway_namespace: str  # the ingress gateway's: the SLOs are measured on its requests
    gateway_selector: Mapping[str, str]
    control_plane_ranges: pulumi.Input[Sequence[str]]
    labels: dict[str, str]
    pools: Mapping[str, int] = field(default_factory=dict)  # node pool -> its maximum per zone
    kafka_namespace: str | None = None  # the data layer's, when it runs Kafka
    harbor_namespace: str | None = None  # and Harbor
    node_agents: NodeAgents | None = None  # their namespace: the node exporter runs there
    gpus: bool = False  # the cluster has GPU pools: GKE's DCGM exporter runs on them
    # Controllers that query Prometheus' API, by name: (namespace, service account). Flagger judges
    # canaries on it, KEDA scales the model servers on it.
    readers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Workloads that post alerts to Alertmanager's API, by name: (namespace, service account). n8n's
    # release smoke test reports there.
    alert_senders: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Further Secrets the namespace's one credentials sync writes for the layer's other workloads
    # (Kubernetes Secret -> key -> Secret Manager id), and those secrets' resources.
    extra_credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extra_sources: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    loki_url: str | None = None  # Grafana's datasources, where the stack runs them
    loki_tenant: str = ""
    tempo_url: str | None = None


def allows() -> list[Allow]:
    """Beyond the namespace's defaults (DNS, metadata server, istiod, probes, and egress to every
    namespace that admits Prometheus): the operator's webhook from the control plane, the API server
    (the operator and Prometheus' discovery), the kubelets, the peers' gossip, and paging."""
    alertmanager = (("app.kubernetes.io/name", "alertmanager"),)
    peers = (Peer(same_namespace=True),)
    gossip = (("TCP", GOSSIP_PORT), ("UDP", GOSSIP_PORT))
    return [
        Allow("allow-operator-webhook", "Ingress", (CONTROL_PLANE,), tcp(WEBHOOK_PORT)),
        api_server(),
        Allow("allow-same-namespace-in", "Ingress", peers),
        Allow("allow-same-namespace-out", "Egress", peers),
        Allow("allow-alertmanager-gossip", "Ingress", peers, gossip, pods=alertmanager),
        for_pods(public_internet("allow-alertmanager-paging", tcp(443)), alertmanager),
    ]


def dcgm(node_range: str) -> Allow:
    """Prometheus to GKE's DCGM exporters on 9400. Whether GKE runs them on the host network is not
    documented, so both of their possible addresses are admitted, on that port only: the exporter's
    pods in their namespace, and the nodes."""
    return Allow(
        "allow-dcgm-exporters",
        "Egress",
        (Peer(namespace=monitors.DCGM_NAMESPACE, pods=(monitors.DCGM_POD,)), Peer(cidr=node_range)),
        tcp(monitors.DCGM_PORT),
        pods=PROMETHEUS_PODS,
    )


ALERTMANAGER_PODS = (("app.kubernetes.io/name", "alertmanager"),)


@dataclass(frozen=True)
class ApiCaller:
    """A workload outside the namespace that calls Prometheus' or Alertmanager's API: admitted by
    its identity and from its namespace, on that API's port and HBONE only."""

    name: str  # the policies' `allow-<name>`
    identity: tuple[str, str]  # (namespace, service account)
    port: int
    pods: tuple[tuple[str, str], ...]  # the API's pods

    def allow(self) -> Allow:
        return Allow(
            f"allow-{self.name}",
            "Ingress",
            (Peer(namespace=self.identity[0]),),
            tcp(HBONE_PORT, self.port),
            pods=self.pods,
        )


def api_callers(readers: Mapping[str, tuple[str, str]], senders: Mapping[str, tuple[str, str]]) -> list[ApiCaller]:
    """Prometheus' readers, then Alertmanager's senders."""
    return [ApiCaller(r, i, PROMETHEUS_PORT, PROMETHEUS_PODS) for r, i in sorted(readers.items())] + [
        ApiCaller(f"{s}-alerts", i, ALERTMANAGER_PORT, ALERTMANAGER_PODS) for s, i in sorted(senders.items())
    ]


class Metrics(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart  # the monitoring CRDs' chart: monitors and rules of other components wait for it
    synced: dict[str, pulumi.Resource]  # Kubernetes Secret -> the ExternalSecret writing it
    prometheus_url: str
    alertmanager_url: str
    grafana_url: str | None

    def __init__(self, name: str, args: MetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:Metrics", name, None, opts)
        cfg, ctx = args.config, args.ctx
        ns = cfg.namespace
        # The kubelets (cAdvisor, probes' metrics) and the node exporters, on the nodes' addresses.
        kubelets = Allow(
            "allow-kubelets",
            "Egress",
            (Peer(cidr=args.node_range),),
            tcp(KUBELET_PORT, NODE_EXPORTER_PORT) if args.node_agents else tcp(KUBELET_PORT),
            pods=PROMETHEUS_PODS,
        )
        callers = api_callers(args.readers, args.alert_senders)
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            [*allows(), kubelets, *([dcgm(args.node_range)] if args.gpus else []), *(c.allow() for c in callers)],
            provider=args.provider,
            depends_on=[args.namespaces[ns]],
            control_plane=args.control_plane_ranges,
        )

        # The namespace denies every caller but those its entry names: the stack's own pods (Prometheus,
        # Alertmanager's peers, the operator, kube-state-metrics) call each other, by identity.
        custom_object(
            self,
            f"{name}-authz-same-namespace",
            authz.allow_principals("allow-same-namespace", ns, [principal(ns, "*")]),
            provider=args.provider,
            depends_on=[args.namespaces[ns], args.mesh_control_plane],
        )
        # Prometheus' readers and Alertmanager's senders: each identity, on its API's port only.
        for c in callers:
            custom_object(
                self,
                f"{name}-authz-{c.name}",
                authz.allow_principals(
                    f"allow-{c.name}", ns, [principal(*c.identity)], ports=[c.port], selector=dict(c.pods)
                ),
                provider=args.provider,
                depends_on=[args.namespaces[ns], args.mesh_control_plane],
            )

        # ------------------------------------------------ paging: the key's container, set by a person
        def secret_id(key: str) -> str:
            return keys.secret_id(args.prefix, key)

        sources: dict[str, pulumi.Resource] = {}
        data = alerting.secret_data(cfg.paging, secret_id)
        for key, sid in sorted(data.items()):
            # No version: the operator adds the value (README, "Observability"); Alertmanager runs
            # with the operator's empty configuration until External Secrets can sync it.
            sources[sid] = self._secret(name, key, sid, None, args)
        wanted: dict[str, dict[str, str]] = {alerting.CONFIG_SECRET: data}
        templates = {alerting.CONFIG_SECRET: alerting.secret_templates(cfg.paging)}
        if cfg.grafana.enabled:
            # Grafana's admin password, generated once; its OAuth client's id and secret, set by a
            # person (made by hand in the console) before Google sign-in is turned on.
            password = random.RandomPassword(
                f"{name}-grafana-admin-password",
                random.RandomPasswordArgs(length=32, special=False, min_upper=2, min_lower=2, min_numeric=2),
                opts=child(self, protect=ctx.prod),
            )
            sid = secret_id(grafana.ADMIN_PASSWORD)
            sources[sid] = self._secret(name, grafana.ADMIN_PASSWORD, sid, password.result, args)
            for key in (grafana.OAUTH_CLIENT_ID, grafana.OAUTH_CLIENT_SECRET):
                sources[secret_id(key)] = self._secret(name, key, secret_id(key), None, args)
            grafana_data, grafana_templates = grafana.wanted(secret_id, cfg.grafana)
            wanted |= grafana_data
            templates |= grafana_templates
        wanted |= {k: dict(v) for k, v in args.extra_credentials.items()}
        sources |= dict(args.extra_sources)
        target = alerting.CONFIG_SECRET
        synced = Credentials(
            f"{name}-sync",
            CredentialsArgs(
                project=ctx.project,
                environment=ctx.environment,
                wanted={ns: wanted},
                provider=args.provider,
                cluster=args.cluster,
                apis=args.apis,
                namespaces=args.namespaces,
                secrets_operator=args.secrets_operator,
                sources=sources,
                templates={ns: templates},
                unwaited=frozenset({(ns, target)}),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # ------------------------------------------------ the stack and the estate's rules
        chart = install(
            self,
            f"{name}-chart",
            Release(
                args.pins["kube-prometheus-stack"],
                ns,
                kps_values(
                    ctx,
                    cfg,
                    internal_issuer=args.internal_issuer,
                    node_agents=args.node_agents.name if args.node_agents else None,
                    grafana=grafana.grafana_values(
                        ctx,
                        cfg.grafana,
                        host=args.grafana_host,
                        namespace=ns,
                        loki=args.loki_url,
                        tenant=args.loki_tenant,
                        tempo=args.tempo_url,
                    ),
                ),
                release_name=RELEASE,
                transforms=(rules_after_admission,),
            ),
            provider=args.provider,
            # Its Certificate needs cert-manager's CRDs and the CA issuer; its pods need nodes and,
            # in the ambient mesh, the node agents.
            # Grafana's pod mounts its admin Secret (External Secrets writes it first).
            depends_on=[
                args.namespaces[ns],
                args.nodes,
                args.cert_manager,
                *args.mesh_data_plane,
                *([args.node_agents] if args.node_agents else []),
                *(s for t, s in synced.secrets[ns].items() if t != target),
            ],
        )
        self.chart = chart
        self.synced = dict(synced.secrets[ns])
        scraped = [monitors.gateway(ns, args.gateway_namespace, args.gateway_selector), monitors.cert_manager(ns)]
        if args.gpus:
            scraped.append(monitors.gpus(ns))
        if args.kafka_namespace:
            scraped.append(monitors.kafka(ns, args.kafka_namespace))
        if args.harbor_namespace:
            scraped.append(monitors.harbor(ns, args.harbor_namespace))
            scraped.append(monitors.cloud_sql_proxy(ns, args.harbor_namespace, HARBOR_DB_PROXY))
        estate = rules(
            ns,
            cfg.thresholds,
            pools=args.pools,
            kafka=args.kafka_namespace,
            harbor=args.harbor_namespace,
            redis=cfg.exporters.redis,
        )
        custom_objects(
            self, name, [*estate, *slo.slo_rules(ns, cfg.slos), *scraped], provider=args.provider, depends_on=[chart]
        )
        if cfg.grafana.enabled:
            # Dashboards as code: one ConfigMap each, which Grafana's sidecar loads.
            for file, model in sorted(
                dashboards.dashboards(
                    cfg.slos, with_kafka=bool(args.kafka_namespace), with_queue=cfg.exporters.redis
                ).items()
            ):
                k8s.core.v1.ConfigMap(
                    f"{name}-dashboard-{model['uid']}",
                    k8s.core.v1.ConfigMapInitArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            name=f"dashboard-{model['uid']}",
                            namespace=ns,
                            labels={**K8S_LABELS, **dashboards.LABEL},
                        ),
                        data={file: json.dumps(model, sort_keys=True)},
                    ),
                    opts=child(self, provider=args.provider, depends_on=[args.namespaces[ns]]),
                )
        self.prometheus_url = prometheus_url(ns)
        self.alertmanager_url = f"http://kps-alertmanager.{ns}.svc:9093"
        self.grafana_url = f"https://{args.grafana_host}" if cfg.grafana.enabled else None
        self.register_outputs(
            {"prometheus": self.prometheus_url, "alertmanager": self.alertmanager_url, "grafana": self.grafana_url}
        )

    def _secret(
        self, name: str, key: str, secret_id: str, data: pulumi.Input[str] | None, args: MetricsArgs
    ) -> pulumi.Resource:
        ctx = args.ctx
        return secret(
            self,
            f"{name}-{key.replace('_', '-')}",
            SecretArgs(
                secret_id=secret_id,
                region=ctx.region,
                labels=args.labels,
                data=data,
                protect=ctx.prod,
                depends_on=[args.apis],
            ),
        )
