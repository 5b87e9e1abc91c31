"""Exporters for what Prometheus cannot scrape directly.

Redis (Memorystore): redis_exporter, written with the estate's pod builder rather than installed from
its chart (prometheus-redis-exporter), whose image reference is `repository:tag` and whose version
label repeats the tag, so it cannot run an image by digest. It reaches the instance over TLS,
verified against the instance's own CA, with its AUTH string, and checks seed 001's work-queue
streams: each stream's length and each consumer group's lag and pending entries. Its address,
password and CA come from one Secret External Secrets writes (`SECRET`: keys address, password, ca).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.kube.custom import custom_objects
from components.kube.netpol import REDIS_TLS_PORT, Allow, Peer, allow_policies, tcp
from components.kube.pods import SYSTEM_NODES, container_security, pod_security, resources
from components.kube.values import PinnedImage
from components.observability import monitors

core, apps, meta = k8s.core.v1, k8s.apps.v1, k8s.meta.v1

NAME = "redis-exporter"
SECRET = "redis-exporter"
PORT = 9121
UID = 59000  # the image's user
CA_DIR = "/tls"


def redis_secret_keys(address: str, password: str, ca: str) -> dict[str, str]:
    """The Secret's keys -> Secret Manager ids (what the namespace's credentials sync writes)."""
    return {"address": address, "password": password, "ca": ca}


def redis_container(image: pulumi.Input[str], streams: str) -> core.ContainerArgs:
    def from_secret(var: str, key: str) -> core.EnvVarArgs:
        ref = core.SecretKeySelectorArgs(name=SECRET, key=key)
        return core.EnvVarArgs(name=var, value_from=core.EnvVarSourceArgs(secret_key_ref=ref))

    probe = core.HTTPGetActionArgs(path="/health", port="metrics")
    return core.ContainerArgs(
        name=NAME,
        image=image,
        env=[
            from_secret("REDIS_ADDR", "address"),  # rediss://<host>:6378: TLS
            from_secret("REDIS_PASSWORD", "password"),
            core.EnvVarArgs(name="REDIS_EXPORTER_TLS_CA_CERT_FILE", value=f"{CA_DIR}/ca.crt"),
            core.EnvVarArgs(name="REDIS_EXPORTER_CHECK_STREAMS", value=streams),
        ],
        ports=[core.ContainerPortArgs(name="metrics", container_port=PORT)],
        volume_mounts=[core.VolumeMountArgs(name="ca", mount_path=CA_DIR, read_only=True)],
        readiness_probe=core.ProbeArgs(http_get=probe, period_seconds=10),
        liveness_probe=core.ProbeArgs(http_get=probe, period_seconds=30, failure_threshold=3),
        security_context=container_security(UID),
        resources=resources("100m", "128Mi"),
    )


@dataclass(frozen=True)
class RedisExporterArgs:
    namespace: str
    image: PinnedImage
    streams: str  # redis_exporter's check-streams patterns
    private_services: str  # the Private Service Access range Memorystore is on
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]  # the namespace, nodes, mesh node agents, the synced Secret
    monitors_after: pulumi.Resource  # the metrics stack's chart: the ServiceMonitor CRD


class RedisExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: RedisExporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:RedisExporter", name, None, opts)
        ns = args.namespace
        labels = {**K8S_LABELS, "app": NAME}
        opts_ = child(self, provider=args.provider, depends_on=list(args.depends_on))
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            [
                Allow(
                    "allow-redis-exporter-redis",
                    "Egress",
                    (Peer(cidr=args.private_services),),
                    tcp(REDIS_TLS_PORT),
                    pods=(("app", NAME),),
                )
            ],
            provider=args.provider,
            depends_on=args.depends_on,
        )
        sa = core.ServiceAccount(
            f"{name}-sa",
            core.ServiceAccountInitArgs(
                metadata=meta.ObjectMetaArgs(name=NAME, namespace=ns, labels=K8S_LABELS),
                automount_service_account_token=False,
            ),
            opts=opts_,
        )
        ca = core.VolumeArgs(
            name="ca",
            secret=core.SecretVolumeSourceArgs(secret_name=SECRET, items=[core.KeyToPathArgs(key="ca", path="ca.crt")]),
        )
        apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=NAME, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=1,
                    selector=meta.LabelSelectorArgs(match_labels={"app": NAME}),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=core.PodSpecArgs(
                            service_account_name=sa.metadata.name,
                            automount_service_account_token=False,
                            node_selector=dict(SYSTEM_NODES),
                            security_context=pod_security(UID),
                            containers=[redis_container(args.image.ref, args.streams)],
                            volumes=[ca],
                        ),
                    ),
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=[*args.depends_on, sa]),
        )
        core.Service(
            f"{name}-service",
            core.ServiceInitArgs(
                metadata=meta.ObjectMetaArgs(name=NAME, namespace=ns, labels=labels),
                spec=core.ServiceSpecArgs(
                    type="ClusterIP",
                    selector={"app": NAME},
                    ports=[core.ServicePortArgs(name="metrics", port=PORT, target_port="metrics")],
                ),
            ),
            opts=opts_,
        )
        custom_objects(self, name, [monitors.redis(ns)], provider=args.provider, depends_on=[args.monitors_after])
        self.register_outputs({"name": NAME})
