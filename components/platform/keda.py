"""KEDA: event-driven autoscaling for the layers above (the cells' agent workers scale on their Redis
Streams lag), from its pinned chart, with cert-manager's certificates and the control plane admitted
to its metrics API server and webhooks (on the ports declared with its pin).

Scalers authenticate through ClusterTriggerAuthentications whose Secrets live in KEDA's own
namespace, the only one whose Secrets the operator may read: the Redis one reads the namespace's
Redis client Secret (components.kube.redis_client). KEDA reaches Memorystore by its IP address, which the
server certificate carries as a subject alternative name, so the CA is verified and the name with
it; nothing turns verification off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from components.kube import redis_client
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import Spec, custom_object
from components.kube.values import ChartContext
from components.platform.values.keda import NAMESPACE, OPERATOR, RELEASE, keda_values

API = "keda.sh/v1alpha1"
REDIS_AUTH = "redis-streams"  # the ClusterTriggerAuthentication cells' Redis triggers name


class SecretTargetRef(Spec):
    parameter: Literal["address", "password", "tls", "ca"]
    name: str
    key: str


class TriggerAuthenticationSpec(Spec):
    secret_target_ref: list[SecretTargetRef] = Field(min_length=1)


def redis_trigger_authentication() -> dict[str, Any]:
    spec = TriggerAuthenticationSpec(
        secret_target_ref=[
            SecretTargetRef(parameter=k, name=redis_client.SECRET, key=k) for k in redis_client.SCALER_KEYS
        ]
    )
    return {
        "apiVersion": API,
        "kind": "ClusterTriggerAuthentication",
        "metadata": {"name": REDIS_AUTH},
        "spec": spec.dump(),
    }


@dataclass(frozen=True)
class KedaArgs:
    ctx: ChartContext
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    internal_issuer: str  # the platform's CA ClusterIssuer: KEDA's serving certificates
    depends_on: Sequence[pulumi.Resource]  # its namespace, the nodes, cert-manager
    redis_secret: pulumi.Resource | None = None  # the Redis scaler's Secret, when a cell scales on Redis
    # The operator reads Prometheus (the model servers' queues) as a mesh identity: outbound through
    # ztunnel, inbound left alone (components.platform.values.keda).
    ambient_operator: bool = False


class Keda(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart  # its CRDs and webhooks: ScaledObjects wait for it
    operator: tuple[str, str]  # the operator's (namespace, service account): what Prometheus admits
    redis_auth: str | None  # the ClusterTriggerAuthentication for Redis triggers

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:platform:Keda", name, None, opts)
        self.operator = (NAMESPACE, OPERATOR)
        self.chart = install(
            self,
            f"{name}-chart",
            Release(
                args.pins["keda"],
                NAMESPACE,
                keda_values(args.ctx, issuer=args.internal_issuer, ambient_operator=args.ambient_operator),
                release_name=RELEASE,
            ),
            provider=args.provider,
            depends_on=args.depends_on,
        )
        self.redis_auth = None
        if args.redis_secret is not None:
            custom_object(
                self,
                f"{name}-redis-auth",
                redis_trigger_authentication(),
                provider=args.provider,
                depends_on=[self.chart, args.redis_secret],
            )
            self.redis_auth = REDIS_AUTH
        self.register_outputs({"redisAuth": self.redis_auth})
