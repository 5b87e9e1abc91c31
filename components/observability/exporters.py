"""Exporters for what Prometheus cannot scrape directly.

Both run as the estate's own Deployments (`Exporter`: the pod builder, a Service, a ServiceMonitor).

Redis (Memorystore): redis_exporter, written with the estate's pod builder rather than installed from
its chart (prometheus-redis-exporter), whose image reference is `repository:tag` and whose version
label repeats the tag, so it cannot run an image by digest. It reaches the instance over TLS,
verified against the instance's own CA, with its AUTH string, and checks seed 001's work-queue
streams: each stream's length and each consumer group's lag and pending entries. Its address,
password and CA come from one Secret External Secrets writes (`SECRET`: keys address, password, ca).

Cloud SQL: Google's own metrics of the instance are in Cloud Monitoring, not in Prometheus;
stackdriver_exporter (the "Cloud Monitoring bridge") reads them with its own Google identity
(`roles/monitoring.viewer`, Workload Identity) and serves them to Prometheus, so the estate's
database alert needs no database login.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.kube.custom import custom_objects
from components.kube.netpol import REDIS_TLS_PORT, Allow, Peer, allow_policies, tcp
from components.kube.pods import PodArgs, cluster_service, container_security, pod_spec, resources, service_account
from components.kube.values import PinnedImage
from components.observability import monitors
from stacks import secret_keys as keys

core, apps, meta = k8s.core.v1, k8s.apps.v1, k8s.meta.v1

NAME = "redis-exporter"
SECRET = "redis-exporter"
PORT = 9121
UID = 59000  # the image's user
CA_DIR = "/tls"
BRIDGE = "cloud-monitoring-exporter"  # stackdriver_exporter: Cloud SQL's metrics from Cloud Monitoring
BRIDGE_PORT = 9255
BRIDGE_UID = 65534  # the image's user (nobody)
# Cloud SQL for PostgreSQL's metrics the bridge reads (connections per database among them).
CLOUD_SQL_PREFIXES = ("cloudsql.googleapis.com/database/postgresql/num_backends",)


# The Secret's keys -> the estate secrets they hold (stacks.secret_keys), which the namespace's
# credentials sync writes.
SECRET_KEYS = {"address": keys.REDIS_ADDRESS, "password": keys.REDIS_AUTH, "ca": keys.REDIS_CA}


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


def bridge_container(image: pulumi.Input[str], project: str, prefixes: Sequence[str]) -> core.ContainerArgs:
    """stackdriver_exporter: Cloud Monitoring's metrics of the project (`prefixes`) as Prometheus
    metrics, read with its own Google identity (Workload Identity, `roles/monitoring.viewer`)."""
    probe = core.HTTPGetActionArgs(path="/", port="metrics")
    return core.ContainerArgs(
        name=BRIDGE,
        image=image,
        args=[
            f"--google.project-ids={project}",
            f"--monitoring.metrics-prefixes={','.join(prefixes)}",
            # Cloud SQL samples every 60 s and publishes within minutes: read the last 5.
            "--monitoring.metrics-interval=5m",
            "--monitoring.metrics-offset=0s",
            f"--web.listen-address=:{BRIDGE_PORT}",
        ],
        ports=[core.ContainerPortArgs(name="metrics", container_port=BRIDGE_PORT)],
        readiness_probe=core.ProbeArgs(http_get=probe, period_seconds=10),
        liveness_probe=core.ProbeArgs(http_get=probe, period_seconds=30, failure_threshold=3),
        security_context=container_security(BRIDGE_UID),
        resources=resources("50m", "64Mi"),
    )


@dataclass(frozen=True)
class ExporterArgs:
    name: str  # its Deployment, Service, service account and pod label `app`
    namespace: str
    container: core.ContainerArgs  # serving `metrics` on `port`
    port: int
    uid: int
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]  # the namespace, nodes, mesh node agents, what it mounts
    monitors_after: pulumi.Resource  # the metrics stack's chart: the ServiceMonitor CRD
    volumes: Sequence[core.VolumeArgs] = ()
    allows: Sequence[Allow] = ()  # beyond the namespace's own (its own egress)
    gsa: str | None = None  # a Google service account to act as (Workload Identity)


class Exporter(pulumi.ComponentResource):
    """One exporter: its service account, a Deployment of one pod from the estate's pod builder, a
    Service and the ServiceMonitor that scrapes it."""

    def __init__(self, name: str, args: ExporterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:Exporter", name, None, opts)
        ns, app = args.namespace, args.name
        labels = {**K8S_LABELS, "app": app}
        opts_ = child(self, provider=args.provider, depends_on=list(args.depends_on))
        if args.allows:
            allow_policies(
                self, f"{name}-netpol", ns, list(args.allows), provider=args.provider, depends_on=args.depends_on
            )
        sa = core.ServiceAccount(f"{name}-sa", service_account(app, ns, K8S_LABELS, args.gsa), opts=opts_)
        apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=1,
                    selector=meta.LabelSelectorArgs(match_labels={"app": app}),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=pod_spec(
                            PodArgs(
                                containers=[args.container],
                                service_account=sa.metadata.name,
                                fs_group=args.uid,
                                volumes=args.volumes,
                            )
                        ),
                    ),
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=[*args.depends_on, sa]),
        )
        core.Service(
            f"{name}-service", cluster_service(app, ns, labels, {"app": app}, "metrics", args.port), opts=opts_
        )
        custom_objects(
            self, name, [monitors.exporter(ns, app)], provider=args.provider, depends_on=[args.monitors_after]
        )
        self.register_outputs({"name": app})


def redis_exporter(
    namespace: str, image: PinnedImage, streams: str, private_services: str
) -> tuple[core.ContainerArgs, list[core.VolumeArgs], list[Allow]]:
    """The Redis exporter's container, its CA volume and its egress to Memorystore (its pods only)."""
    ca = core.VolumeArgs(
        name="ca",
        secret=core.SecretVolumeSourceArgs(secret_name=SECRET, items=[core.KeyToPathArgs(key="ca", path="ca.crt")]),
    )
    egress = Allow(
        "allow-redis-exporter-redis",
        "Egress",
        (Peer(cidr=private_services),),
        tcp(REDIS_TLS_PORT),
        pods=(("app", NAME),),
    )
    return redis_container(image.ref, streams), [ca], [egress]
