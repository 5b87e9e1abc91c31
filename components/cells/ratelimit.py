"""Global rate limiting at the ingress gateway: Envoy's rate-limit service (envoyproxy/ratelimit, by
digest from our cache) in the gateway's namespace with its counters in Memorystore, and the
EnvoyFilter on the gateway only that asks it (components.cells.ratelimit_config says how seed 004's
limits map onto it).

Cloud Armor cannot serve here: the gateway sits behind a passthrough network load balancer, which
has no L7 rules. The gateway keeps client addresses (`externalTrafficPolicy: Local`), so the limits
are per client. The service runs in the ambient mesh (its pod's own label; the namespace is not),
so the gateway reaches it over HBONE with mutual TLS and an AuthorizationPolicy admits the gateway
alone; it reaches Redis with AUTH and TLS, verifying the instance's CA and its IP address (the
server certificate carries it; nothing skips the check).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.cells import ratelimit_config as rl
from components.cells.spec import RouteTarget
from components.common import K8S_LABELS, child
from components.kube import authz, redis_client
from components.kube.custom import custom_objects
from components.kube.netpol import HBONE_PORT, REDIS_TLS_PORT, Allow, Peer, allow_policies, for_pods, probes, tcp
from components.kube.pods import (
    PodArgs,
    cluster_service,
    container_security,
    http_probe,
    limited,
    pod_spec,
    scratch,
    service_account,
)

core, apps, meta, policy = k8s.core.v1, k8s.apps.v1, k8s.meta.v1, k8s.policy.v1

UID = 65532  # distroless "nonroot", which the image runs as
CONFIG_DIR = "/data/ratelimit/config"
CA_DIR = "/etc/redis-ca"
SECRET = redis_client.SECRET  # address (host:port), password, ca: the platform's credentials sync writes it


def container(image: pulumi.Input[str]) -> core.ContainerArgs:
    def secret(name: str, key: str) -> core.EnvVarArgs:
        return core.EnvVarArgs(
            name=name, value_from=core.EnvVarSourceArgs(secret_key_ref=core.SecretKeySelectorArgs(name=SECRET, key=key))
        )

    plain = {
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
        "USE_STATSD": "false",
        "GRPC_PORT": str(rl.GRPC_PORT),
        "PORT": str(rl.HTTP_PORT),
        "REDIS_SOCKET_TYPE": "tcp",
        "REDIS_TYPE": "SINGLE",
        "REDIS_TLS": "true",
        "REDIS_TLS_CACERT": f"{CA_DIR}/ca.crt",
        # The config is a ConfigMap mounted at RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/config; a new one
        # rolls the pods (its hash is in the pod template), so the directory is not watched.
        "RUNTIME_ROOT": "/data",
        "RUNTIME_SUBDIRECTORY": "ratelimit",
        "RUNTIME_WATCH_ROOT": "false",
        "RUNTIME_IGNOREDOTFILES": "true",
    }
    return core.ContainerArgs(
        name=rl.NAME,
        image=image,
        command=["/bin/ratelimit"],
        env=[
            *(core.EnvVarArgs(name=k, value=v) for k, v in plain.items()),
            secret("REDIS_URL", "address"),
            secret("REDIS_AUTH", "password"),
        ],
        ports=[
            core.ContainerPortArgs(name="grpc", container_port=rl.GRPC_PORT),
            core.ContainerPortArgs(name="http", container_port=rl.HTTP_PORT),
        ],
        volume_mounts=[
            core.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True),
            core.VolumeMountArgs(name="redis-ca", mount_path=CA_DIR, read_only=True),
            core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
        readiness_probe=http_probe("/healthcheck", rl.HTTP_PORT, period=5),
        liveness_probe=http_probe("/healthcheck", rl.HTTP_PORT, period=10),
        security_context=container_security(UID),
        resources=limited("100m", "500m", "128Mi"),
    )


@dataclass(frozen=True)
class RateLimiterArgs:
    hosts: Mapping[str, Sequence[RouteTarget]]  # the cells' routes by host (spec.host_routes)
    image: pulumi.Input[str]
    namespace: str  # the ingress gateway's
    gateway_selector: Mapping[str, str]
    gateway_principal: str
    private_services: str  # Memorystore's range
    provider: k8s.Provider
    prod: bool
    depends_on: Sequence[pulumi.Resource]  # the namespace, nodes, the mesh, its Redis Secret
    gateway_after: Sequence[pulumi.Resource]  # what the EnvoyFilter waits for: the service, istiod


class RateLimiter(pulumi.ComponentResource):
    routes: list[str]  # `<host>/<route>` of each limited route

    def __init__(self, name: str, args: RateLimiterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cells:RateLimiter", name, None, opts)
        ns, app = args.namespace, rl.NAME
        route_limits = rl.limits(args.hosts)
        pods = {"app": app}
        labels = {**K8S_LABELS, **pods}
        deps = list(args.depends_on)
        opts_ = child(self, provider=args.provider, depends_on=deps)
        config_text = yaml.safe_dump(rl.service_config(route_limits), sort_keys=False)
        config = core.ConfigMap(
            f"{name}-config",
            core.ConfigMapInitArgs(
                metadata=meta.ObjectMetaArgs(name=f"{app}-config", namespace=ns, labels=labels),
                data={"config.yaml": config_text},
            ),
            opts=opts_,
        )
        sa = core.ServiceAccount(f"{name}-sa", service_account(app, ns, labels), opts=opts_)
        replicas = 2 if args.prod else 1
        deployment = apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=replicas,
                    selector=meta.LabelSelectorArgs(match_labels=pods),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(
                            # In the ambient mesh by its own label: the namespace is not.
                            labels={**labels, "istio.io/dataplane-mode": "ambient"},
                            annotations={"estate.io/config-hash": _digest(config_text)},
                        ),
                        spec=pod_spec(
                            PodArgs(
                                containers=[container(args.image)],
                                service_account=sa.metadata.name,
                                fs_group=UID,
                                volumes=_volumes(config.metadata.name),
                                spread=pods if args.prod else None,
                            )
                        ),
                    ),
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=[*deps, sa, config]),
        )
        service = core.Service(
            f"{name}-service", cluster_service(app, ns, labels, pods, "grpc", rl.GRPC_PORT), opts=opts_
        )
        if args.prod:
            policy.PodDisruptionBudget(
                f"{name}-pdb",
                policy.PodDisruptionBudgetInitArgs(
                    metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                    spec=policy.PodDisruptionBudgetSpecArgs(
                        min_available=1, selector=meta.LabelSelectorArgs(match_labels=pods)
                    ),
                ),
                opts=opts_,
            )
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            allows(dict(args.gateway_selector), args.private_services),
            provider=args.provider,
            depends_on=deps,
        )
        custom_objects(
            self,
            name,
            [
                authz.allow_principals(
                    f"{app}-from-gateway", ns, [args.gateway_principal], ports=[rl.GRPC_PORT], selector=pods
                ),
                rl.envoy_filter(route_limits, namespace=ns, selector=args.gateway_selector),
            ],
            provider=args.provider,
            depends_on=[*args.gateway_after, deployment, service],
        )
        self.routes = [f"{limit.host}/{limit.route}" for limit in route_limits]
        self.register_outputs({"routes": self.routes})


def allows(gateway: dict[str, str], private_services: str) -> list[Allow]:
    """In the gateway's namespace (default-deny): the gateway to the service and back in, over HBONE
    and on its gRPC port; the service to Redis; the kubelet's probes of an ambient pod."""
    service = (("app", rl.NAME),)
    ports = tcp(HBONE_PORT, rl.GRPC_PORT)
    return [
        Allow(
            "allow-gateway-to-ratelimit",
            "Egress",
            (Peer(same_namespace=True, pods=service),),
            ports,
            pods=tuple(gateway.items()),
        ),
        Allow(
            "allow-ratelimit-from-gateway",
            "Ingress",
            (Peer(same_namespace=True, pods=tuple(gateway.items())),),
            ports,
            pods=service,
        ),
        Allow("allow-ratelimit-redis", "Egress", (Peer(cidr=private_services),), tcp(REDIS_TLS_PORT), pods=service),
        for_pods(probes(), service),
    ]


def _volumes(config_map: pulumi.Input[str]) -> list[core.VolumeArgs]:
    return [
        core.VolumeArgs(name="config", config_map=core.ConfigMapVolumeSourceArgs(name=config_map)),
        core.VolumeArgs(
            name="redis-ca",
            secret=core.SecretVolumeSourceArgs(secret_name=SECRET, items=[core.KeyToPathArgs(key="ca", path="ca.crt")]),
        ),
        scratch("tmp"),
    ]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
