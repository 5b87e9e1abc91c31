"""One cell in its namespace: its service account (bound to its Google identity by Workload
Identity), a Deployment from the estate's hardened pod builder, its Service, the HPA, a VPA in
recommendation mode, a PodDisruptionBudget in prod, the AuthorizationPolicy that admits exactly
its callers, the NetworkPolicies for its calls, and its PodMonitor when the metrics stack runs.

The Deployment leaves `replicas` to the HPA (Pulumi would otherwise set it back on every `up`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.cells import alerts, release, scaling, spec
from components.common import K8S_LABELS, child
from components.kube import api_token, authz
from components.kube.custom import custom_objects
from components.kube.keda import ScalingRules
from components.kube.monitoring import Endpoint, LabelSelector, NamespaceSelector, PodMonitorSpec, monitor
from components.kube.netpol import Allow, allow_policies, api_server, for_pods
from components.kube.pods import (
    PodArgs,
    cloud_sql_proxy,
    cluster_service,
    container_security,
    disruption_budget,
    http_probe,
    limited,
    pod_spec,
    scratch,
    service_account,
    workload_identity,
)
from stacks import secret_keys as keys
from stacks.config_cells import CellConfig

core, apps, meta, policy, autoscaling = k8s.core.v1, k8s.apps.v1, k8s.meta.v1, k8s.policy.v1, k8s.autoscaling.v2


@dataclass(frozen=True)
class CellArgs:
    name: str
    config: CellConfig
    image: str  # `path:tag@sha256:...` in Artifact Registry or Harbor
    env: Sequence[spec.EnvVar]
    callers: Sequence[str]  # principals the AuthorizationPolicy admits
    allows: Sequence[Allow]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]  # the namespace, nodes, the mesh's data plane, synced secrets
    prod: bool
    node_selector: Mapping[str, str] | None
    gsa_email: pulumi.Input[str] | None = None  # the workload's Google account
    project: str = ""
    workload_pool: str = ""
    proxy_image: pulumi.Input[str] | None = None  # the Cloud SQL Auth Proxy, with cloudSql
    connection_name: pulumi.Input[str] | None = None
    monitors_after: pulumi.Resource | None = None  # the metrics stack's chart: its CRDs
    kafka_secret: str | None = None  # its Kafka user's access Secret, with kafka
    control_plane: pulumi.Input[Sequence[str]] | None = None  # the API server's ranges, with kubernetesApi
    keda: pulumi.Resource | None = None  # KEDA's chart (CRDs, webhook), for a queue-scaled cell
    flagger: pulumi.Resource | None = None  # Flagger's chart (CRDs), for a cell it releases
    release_after: Sequence[pulumi.Resource] = ()  # what its Canary waits for: the metric templates
    timeout: str | None = None  # its routes' request timeout, which a gateway canary's Service carries
    redis_auth: str | None = None  # its Redis ClusterTriggerAuthentication
    smoke_test: release.Webhook | None = None  # the post-rollout smoke test Flagger calls, when one runs
    pull_secrets: Sequence[str] = ()  # Harbor's docker-registry Secret, for a Harbor image


class Cell(pulumi.ComponentResource):
    service: str | None  # `<name>.<namespace>.svc.cluster.local`, when it serves
    identity: tuple[str, str]  # (namespace, service account): what its callees admit
    pods: dict[str, str]  # the labels of every pod of the cell (a release's copies included)

    def __init__(self, name: str, args: CellArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cells:Cell", name, None, opts)
        cell, app, ns = args.config, args.name, args.config.namespace
        selector = {spec.APP: app}  # the Deployment's (Flagger renames it in a primary copy)
        cell_pods = spec.pods(app)  # every pod of the cell, copies included
        self.identity = (ns, app)  # each cell runs as its own account, named after it
        self.pods = dict(cell_pods)
        labels = {**K8S_LABELS, **spec.labels(app)}
        deps = list(args.depends_on)
        sa = core.ServiceAccount(
            f"{name}-sa",
            service_account(app, ns, labels, args.gsa_email),
            opts=child(self, provider=args.provider, depends_on=deps),
        )
        waits: list[pulumi.Resource] = [sa]
        if args.gsa_email is not None:
            # The workload's Google account accepts this cell's Kubernetes account (several cells may share one).
            waits.append(
                gcp.serviceaccount.IAMMember(
                    f"{name}-workload-identity",
                    workload_identity(
                        pulumi.Output.concat("projects/", args.project, "/serviceAccounts/", args.gsa_email),
                        args.workload_pool,
                        ns,
                        app,
                    ),
                    opts=child(self),
                )
            )
        apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    selector=meta.LabelSelectorArgs(match_labels=selector),
                    revision_history_limit=5,  # the previous tags a rollback may name
                    strategy=apps.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=apps.RollingUpdateDeploymentArgs(max_surge="25%", max_unavailable=0),
                    ),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=pod_spec(self._pod(args, sa)),
                    ),
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=[*deps, *waits]),
        )
        self.service = None
        released = cell.release.strategy != "rolling"
        if cell.port is not None and not released:
            port_name = spec.PORT_NAMES[cell.protocol]
            core.Service(
                f"{name}-service",
                cluster_service(app, ns, labels, selector, port_name, cell.port),
                opts=child(self, provider=args.provider, depends_on=deps),
            )
        if cell.port is not None:
            # Flagger makes `<cell>` (and its -primary and -canary) for a cell it releases.
            self.service = f"{app}.{ns}.svc.cluster.local"
        scaling_objects = self._scaling(name, args, labels)
        if released:
            if args.flagger is None:
                raise ValueError(f"cells.{app}.release: Flagger is not installed")
            custom_objects(
                self,
                f"{name}-release",
                [release.canary(app, cell, timeout=args.timeout, smoke_test=args.smoke_test)],
                provider=args.provider,
                depends_on=[args.flagger, *args.release_after, *scaling_objects],
            )
        if args.callers and cell.port is not None:
            custom_objects(
                self,
                name,
                [authz.allow_principals(f"cell-{app}", ns, list(args.callers), ports=[cell.port], selector=cell_pods)],
                provider=args.provider,
                depends_on=deps,
            )
        allows = list(args.allows)
        if cell.kubernetes_api:
            # The Kubernetes API (the orchestrator starts the sandbox's Jobs), from its pods only.
            allows.append(for_pods(api_server(f"cell-{app}-api-server"), tuple(cell_pods.items())))
        if allows:
            allow_policies(
                self,
                f"{name}-netpol",
                ns,
                allows,
                provider=args.provider,
                depends_on=deps,
                control_plane=args.control_plane,
            )
        if args.monitors_after is not None:
            # Its alert, and its own metrics (seed 002's /metrics) where it serves.
            watched = [alerts.cell_rule(app, ns)]
            if cell.port is not None:
                scraped = PodMonitorSpec(
                    namespace_selector=NamespaceSelector(match_names=[ns]),
                    selector=LabelSelector(match_labels=cell_pods),
                    pod_metrics_endpoints=[Endpoint(port=spec.PORT_NAMES[cell.protocol])],
                )
                watched.append(monitor("PodMonitor", f"cell-{app}", ns, scraped))
            custom_objects(self, f"{name}-scraped", watched, provider=args.provider, depends_on=[args.monitors_after])
        self.register_outputs({"service": self.service, "identity": list(self.identity), "pods": self.pods})

    def _pod(self, args: CellArgs, sa: core.ServiceAccount) -> PodArgs:
        cell = args.config
        res = cell.resources
        ports = []
        if cell.port is not None:
            ports = [core.ContainerPortArgs(name=spec.PORT_NAMES[cell.protocol], container_port=cell.port)]
        # Startup gives a slow start its time; liveness then restarts a stuck process, readiness takes a
        # busy one out of the Service. A worker without a port has none (its queue is its health).
        startup = liveness = readiness = None
        if cell.port is not None:
            checks = cell.probes
            startup = http_probe(checks.liveness, cell.port, period=5, failures=checks.startup_seconds // 5)
            liveness = http_probe(checks.liveness, cell.port, period=10)
            readiness = http_probe(checks.readiness, cell.port, period=5)
        mounts = [core.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        volumes = [scratch("tmp", "64Mi")]
        if cell.redis:
            mounts.append(core.VolumeMountArgs(name="redis-ca", mount_path=spec.REDIS_CA_DIR, read_only=True))
            volumes.append(
                core.VolumeArgs(
                    name="redis-ca",
                    secret=core.SecretVolumeSourceArgs(
                        secret_name=keys.REDIS_CA, items=[core.KeyToPathArgs(key=keys.SECRET_VALUE_KEY, path="ca.crt")]
                    ),
                )
            )
        if cell.kubernetes_api:
            # Declared, not automounted: the token the kubelet would mount, in the container that needs it.
            mounts.append(api_token.mount_args())
            volumes.append(api_token.volume_args())
        if args.kafka_secret is not None:
            mounts.append(core.VolumeMountArgs(name="kafka", mount_path=spec.KAFKA_DIR, read_only=True))
            volumes.append(
                core.VolumeArgs(name="kafka", secret=core.SecretVolumeSourceArgs(secret_name=args.kafka_secret))
            )
        container = core.ContainerArgs(
            name=args.name,
            image=args.image,
            command=list(cell.command) or None,
            args=list(cell.args) or None,
            env=[_env(e) for e in args.env] or None,
            ports=ports or None,
            volume_mounts=mounts,
            security_context=container_security(cell.uid),
            resources=limited(res.cpu, res.cpu_limit, res.memory, res.memory_limit),
            startup_probe=startup,
            liveness_probe=liveness,
            readiness_probe=readiness,
        )
        sidecars = []
        if cell.cloud_sql and args.proxy_image is not None and args.connection_name is not None:
            sidecars.append(
                cloud_sql_proxy(
                    args.proxy_image,
                    args.connection_name,
                    port=spec.DB_PORT,
                    sidecar=True,
                    extra_args=("--auto-iam-authn",),
                )
            )
        return PodArgs(
            containers=[container],
            init_containers=sidecars,
            service_account=sa.metadata.name,
            fs_group=cell.uid,
            volumes=volumes,
            node_selector=args.node_selector,
            spread=spec.pods(args.name),
            image_pull_secrets=args.pull_secrets,
        )

    def _scaling(self, name: str, args: CellArgs, labels: Mapping[str, str]) -> list[pulumi.Resource]:
        """The autoscaler (an HPA, or KEDA's ScaledObject), the VPA and the PDB; returns the autoscaler."""
        cell, app, ns = args.config, args.name, args.config.namespace
        target = autoscaling.CrossVersionObjectReferenceArgs(api_version="apps/v1", kind="Deployment", name=app)
        opts = child(self, provider=args.provider, depends_on=list(args.depends_on))

        def utilisation(resource: str, percent: int) -> autoscaling.MetricSpecArgs:
            return autoscaling.MetricSpecArgs(
                type="Resource",
                resource=autoscaling.ResourceMetricSourceArgs(
                    name=resource,
                    target=autoscaling.MetricTargetArgs(type="Utilization", average_utilization=percent),
                ),
            )

        def rules(r: ScalingRules) -> autoscaling.HPAScalingRulesArgs:
            return autoscaling.HPAScalingRulesArgs(
                stabilization_window_seconds=r.stabilization_window_seconds,
                select_policy=r.select_policy,
                policies=[
                    autoscaling.HPAScalingPolicyArgs(type=p.type, value=p.value, period_seconds=p.period_seconds)
                    for p in r.policies
                ],
            )

        if cell.queue is not None:
            # KEDA makes and owns the cell's HPA from this; a second one would fight it.
            if args.keda is None or args.redis_auth is None:
                raise ValueError(f"cells.{app}.queue: KEDA and its Redis authentication are not installed")
            scaler: list[pulumi.Resource] = list(
                custom_objects(
                    self,
                    name,
                    [scaling.scaled_object(app, cell, args.redis_auth)],
                    provider=args.provider,
                    depends_on=[*args.depends_on, args.keda],
                )
            )
        else:
            behaviour = scaling.BEHAVIOR
            hpa = autoscaling.HorizontalPodAutoscaler(
                f"{name}-hpa",
                autoscaling.HorizontalPodAutoscalerInitArgs(
                    metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=dict(labels)),
                    spec=autoscaling.HorizontalPodAutoscalerSpecArgs(
                        scale_target_ref=target,
                        min_replicas=cell.replicas.min,
                        max_replicas=cell.replicas.max,
                        metrics=[
                            utilisation("cpu", cell.replicas.cpu_percent),
                            utilisation("memory", cell.replicas.memory_percent),
                        ],
                        behavior=autoscaling.HorizontalPodAutoscalerBehaviorArgs(
                            scale_up=rules(behaviour.scale_up), scale_down=rules(behaviour.scale_down)
                        ),
                    ),
                ),
                opts=opts,
            )
            scaler = [hpa]
        vpa = scaling.vertical_pod_autoscaler(app, ns)
        custom_objects(self, name, [vpa], provider=args.provider, depends_on=list(args.depends_on))
        if args.prod:
            policy.PodDisruptionBudget(f"{name}-pdb", disruption_budget(app, ns, labels, spec.pods(app)), opts=opts)
        return scaler


def _env(e: spec.EnvVar) -> core.EnvVarArgs:
    if e.secret is not None:
        return core.EnvVarArgs(
            name=e.name,
            value_from=core.EnvVarSourceArgs(
                secret_key_ref=core.SecretKeySelectorArgs(name=e.secret, key=keys.SECRET_VALUE_KEY)
            ),
        )
    return core.EnvVarArgs(name=e.name, value=e.value)
