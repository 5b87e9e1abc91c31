"""One model server in the servers' namespace: a Deployment on its GPU pool from the estate's
hardened pod builder, reading its weights read-only through the Cloud Storage FUSE CSI driver; its
Service; the AuthorizationPolicy and NetworkPolicies that admit exactly its caller cells; KEDA's
ScaledObject on its own queue; a PodDisruptionBudget in prod; and its PodMonitor.

The Deployment leaves `replicas` to KEDA's HPA. The runtime's flags come from stacks.serving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.inference.gpu_pods import (
    FUSE_CACHE,
    GPU,
    HOME,
    POOL_LABEL,
    UID,
    bucket_volume,
    fuse_annotations,
    gpu_tolerations,
    memory_dir,
)
from components.inference.staging import StagingArgs, staging_jobs
from components.kube import authz
from components.kube import keda as scaling
from components.kube.custom import custom_objects
from components.kube.monitoring import (
    Authorization,
    Endpoint,
    LabelSelector,
    NamespaceSelector,
    PodMonitorSpec,
    SecretKey,
    monitor,
)
from components.kube.netpol import HBONE_PORT, Allow, Peer, allow_policies, tcp
from components.kube.pods import PodArgs, container_security, disruption_budget, pod_spec
from stacks import secret_keys as keys
from stacks import serving
from stacks.config_inference import ServerConfig
from stacks.model import Taint

core, apps, meta, policy = k8s.core.v1, k8s.apps.v1, k8s.meta.v1, k8s.policy.v1


def pods(name: str) -> dict[str, str]:
    return {serving.SERVER_LABEL: name}


@dataclass(frozen=True)
class Caller:
    namespace: str
    service_account: str
    pods: Mapping[str, str]  # its pods' labels


@dataclass(frozen=True)
class ModelServerArgs:
    name: str
    config: ServerConfig
    namespace: str
    image: pulumi.Input[str]  # the runtime's image by digest
    service_account: str  # the servers' account (identity.workloads.inference): reads the bucket
    bucket: pulumi.Input[str]  # the `models` bucket's name
    taints: Mapping[str, Taint]  # the pool's own taints
    callers: Mapping[str, Caller]  # the cells that may call it, by name
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]  # the namespace, account, pools, mesh, synced key
    staging: StagingArgs  # its weights' staging Jobs, which the Deployment waits for
    prod: bool
    keda: pulumi.Resource | None  # KEDA's chart (CRDs)
    prometheus: str | None  # where KEDA reads the queue; None: no metrics stack, fixed at scaling.min
    monitors_after: pulumi.Resource | None = None  # the metrics stack's chart: its CRDs


class ModelServer(pulumi.ComponentResource):
    url: str  # the OpenAI-compatible API's base, inside the mesh

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:inference:ModelServer", name, None, opts)
        server, app, ns = args.config, args.name, args.namespace
        port = serving.PORTS[server.runtime]
        selector = pods(app)
        labels = {
            **K8S_LABELS,
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/component": server.runtime,
            **selector,
        }
        deps = list(args.depends_on)
        jobs = staging_jobs(self, name, args.staging)
        opts_ = child(self, provider=args.provider, depends_on=deps)
        sidecar_memory = serving.gib(serving.sidecar_memory(server))
        apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    selector=meta.LabelSelectorArgs(match_labels=selector),
                    revision_history_limit=3,
                    # A new replica loads before an old one goes: one GPU more for the length of a load.
                    strategy=apps.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                    ),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(
                            labels=labels,
                            annotations=fuse_annotations(
                                serving.FUSE.cpu_request,
                                serving.FUSE.cpu_limit,
                                sidecar_memory,
                                serving.FUSE.ephemeral_storage,
                            ),
                        ),
                        spec=pod_spec(self._pod(args, port)),
                    ),
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=[*deps, *jobs]),
        )
        core.Service(
            f"{name}-service",
            core.ServiceInitArgs(
                metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                spec=core.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=selector,
                    ports=[core.ServicePortArgs(name=serving.PORT_NAME, port=port, target_port=serving.PORT_NAME)],
                ),
            ),
            opts=opts_,
        )
        self.url = f"http://{app}.{ns}.svc.cluster.local:{port}/v1"
        objects = []
        if args.callers:
            principals = [authz.principal(c.namespace, c.service_account) for _, c in sorted(args.callers.items())]
            objects.append(authz.allow_principals(f"server-{app}", ns, principals, ports=[port], selector=selector))
        if args.keda is not None and args.prometheus is not None:
            objects.append(scaled_object(app, server, ns, args.prometheus))
        if objects:
            custom_objects(
                self,
                name,
                objects,
                provider=args.provider,
                depends_on=[*deps, *([args.keda] if args.keda is not None else [])],
            )
        self._network(name, args, port)
        if args.prod:
            policy.PodDisruptionBudget(f"{name}-pdb", disruption_budget(app, ns, labels, selector), opts=opts_)
        if args.monitors_after is not None:
            custom_objects(
                self,
                f"{name}-scraped",
                [pod_monitor(app, server, ns)],
                provider=args.provider,
                depends_on=[args.monitors_after],
            )
        self.register_outputs({"url": self.url})

    def _network(self, name: str, args: ModelServerArgs, port: int) -> None:
        """Its callers in (on HBONE and its port), and, in each caller's namespace, their calls out."""
        if not args.callers:
            return
        server_pods = tuple(pods(args.name).items())
        ports = tcp(HBONE_PORT, port)
        peers = tuple(Peer(namespace=c.namespace, pods=tuple(c.pods.items())) for _, c in sorted(args.callers.items()))
        allow_policies(
            self,
            f"{name}-netpol",
            args.namespace,
            [Allow(f"server-{args.name}-callers", "Ingress", peers, ports, pods=server_pods)],
            provider=args.provider,
            depends_on=list(args.depends_on),
        )
        target = (Peer(namespace=args.namespace, pods=server_pods),)
        for cell, c in sorted(args.callers.items()):
            allow_policies(
                self,
                f"{name}-netpol-{cell}",
                c.namespace,
                [
                    Allow(
                        f"cell-{cell}-to-server-{args.name}",
                        "Egress",
                        target,
                        ports,
                        pods=tuple(c.pods.items()),
                    )
                ],
                provider=args.provider,
                depends_on=list(args.depends_on),
            )

    def _pod(self, args: ModelServerArgs, port: int) -> PodArgs:
        server = args.config
        cache = serving.file_cache_bytes(server)
        mounts = [
            core.VolumeMountArgs(name="weights", mount_path=serving.MODEL_DIR, read_only=True),
            core.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
            core.VolumeMountArgs(name="home", mount_path=HOME),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ]
        volumes = [
            bucket_volume(
                "weights",
                args.bucket,
                serving.mount_options(serving.model_prefix(server.model), UID, UID, cache_bytes=cache),
                read_only=True,
            ),
            memory_dir(FUSE_CACHE, serving.gib(cache + serving.CACHE_HEADROOM)),
            memory_dir("dshm", server.shared_memory),
            # Caches the runtime writes (vLLM's compiled graphs, Triton's kernels) on the node's disk.
            core.VolumeArgs(name="home", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="20Gi")),
            core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="4Gi")),
        ]
        for adapter, spec in sorted(server.adapters.items()):
            mounts.append(
                core.VolumeMountArgs(
                    name=f"adapter-{adapter}", mount_path=f"{serving.ADAPTERS_DIR}/{adapter}", read_only=True
                )
            )
            volumes.append(
                bucket_volume(
                    f"adapter-{adapter}",
                    args.bucket,
                    serving.mount_options(serving.model_prefix(spec, "adapters"), UID, UID, cache_bytes=cache),
                    read_only=True,
                )
            )
        if server.runtime == "llamacpp":
            mounts.append(core.VolumeMountArgs(name="api-key", mount_path=serving.API_KEY_DIR, read_only=True))
            volumes.append(
                core.VolumeArgs(
                    name="api-key",
                    secret=core.SecretVolumeSourceArgs(
                        secret_name=keys.INFERENCE_API_KEY,
                        items=[core.KeyToPathArgs(key=keys.SECRET_VALUE_KEY, path="api-key")],
                    ),
                )
            )
        env = {
            "HOME": HOME,
            # torch asks for the user's name; the image has no passwd entry for an arbitrary uid.
            "USER": "server",
            "LOGNAME": "server",
            "XDG_CACHE_HOME": f"{HOME}/.cache",
            "HF_HOME": f"{HOME}/.cache/huggingface",
            "HF_HUB_OFFLINE": "1",  # the weights are staged; a server never reaches the Hub
            "VLLM_CACHE_ROOT": f"{HOME}/.cache/vllm",
            "VLLM_CONFIG_ROOT": f"{HOME}/.config/vllm",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
        resources = {"cpu": server.cpu, "memory": server.memory, GPU: str(server.gpus)}
        # The runtime answers /health once the weights are loaded (vLLM opens its port then; llama.cpp
        # answers 503 until then): the startup probe gives the load its time, then the others take over.
        startup = core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/health", port=serving.PORT_NAME),
            period_seconds=10,
            failure_threshold=max(1, server.load_seconds // 10),
        )
        readiness = core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/health", port=serving.PORT_NAME),
            period_seconds=5,
            timeout_seconds=3,
            failure_threshold=3,
        )
        liveness = core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/health", port=serving.PORT_NAME),
            period_seconds=15,
            timeout_seconds=5,
            failure_threshold=4,
        )
        container = core.ContainerArgs(
            name=server.runtime,
            image=args.image,
            args=serving.runtime_args(args.name, server),
            env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
            ports=[core.ContainerPortArgs(name=serving.PORT_NAME, container_port=port)],
            volume_mounts=mounts,
            security_context=container_security(UID),
            resources=core.ResourceRequirementsArgs(requests=resources, limits=resources),
            startup_probe=startup,
            readiness_probe=readiness,
            liveness_probe=liveness,
        )
        return PodArgs(
            containers=[container],
            service_account=args.service_account,
            fs_group=UID,
            volumes=volumes,
            node_selector={POOL_LABEL: server.pool},
            tolerations=gpu_tolerations(args.taints),
            # No hard spread over zones: GPUs are scarce, and the pool takes them in whichever zone has them.
            spread=None,
            grace_seconds=60,
        )


def scaled_object(name: str, server: ServerConfig, namespace: str, prometheus: str) -> dict[str, object]:
    """KEDA scales the server on its queue, from Prometheus: at least one replica always runs (it
    exports the very queue it is scaled on), one more for every `waitingPerReplica` queued requests."""
    trigger = scaling.Trigger(
        type="prometheus",
        metadata={
            "serverAddress": prometheus,
            "query": serving.queue_query(name, server, namespace),
            "threshold": str(server.scaling.waiting_per_replica),
        },
    )
    spec = scaling.ScaledObjectSpec(
        scale_target_ref=scaling.ScaleTargetRef(name=name),
        min_replica_count=server.scaling.min,
        max_replica_count=server.scaling.max,
        cooldown_period=600,
        advanced=scaling.Advanced(horizontal_pod_autoscaler_config=scaling.HpaConfig(behavior=SERVER_BEHAVIOR)),
        triggers=[trigger],
    )
    return {
        "apiVersion": scaling.API,
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.dump(),
    }


# Up by one replica a minute (each needs a GPU and a load), down after 10 quiet minutes.
SERVER_BEHAVIOR = scaling.Behavior(
    scale_up=scaling.ScalingRules(
        stabilization_window_seconds=60,
        select_policy="Max",
        policies=[scaling.ScalingPolicy(type="Pods", value=1, period_seconds=60)],
    ),
    scale_down=scaling.ScalingRules(
        stabilization_window_seconds=600,
        select_policy="Min",
        policies=[scaling.ScalingPolicy(type="Pods", value=1, period_seconds=300)],
    ),
)


def pod_monitor(name: str, server: ServerConfig, namespace: str) -> dict[str, object]:
    """Its metrics, with the server's name on every series; llama.cpp's need its key."""
    auth = None
    if server.runtime == "llamacpp":
        auth = Authorization(credentials=SecretKey(name=keys.INFERENCE_API_KEY, key=keys.SECRET_VALUE_KEY))
    spec = PodMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[namespace]),
        selector=LabelSelector(match_labels=pods(name)),
        pod_target_labels=[serving.SERVER_LABEL],
        pod_metrics_endpoints=[Endpoint(port=serving.PORT_NAME, interval="15s", authorization=auth)],
    )
    return monitor("PodMonitor", f"server-{name}", namespace, spec)
