"""KEDA: event-driven autoscaling for the layers above (the cells' agent workers scale on their Redis
Streams lag), from its pinned chart, with cert-manager's certificates and the control plane admitted
to its metrics API server and webhooks (on the ports declared with its pin).

Scalers authenticate through ClusterTriggerAuthentications whose Secrets live in KEDA's own
namespace, the only one whose Secrets the operator may read: the Redis one holds the instance's
address (`host:port`, the scheme dropped), its AUTH string, its CA and `tls: enable`, written by
External Secrets from the cache's secrets. KEDA reaches Memorystore by its IP address, which the
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

from components.kube.charts import ChartPin, Release, install
from components.kube.custom import Spec, custom_object
from components.kube.values import ChartContext
from components.platform.values.keda import NAMESPACE, RELEASE, keda_values
from stacks import secret_keys as keys

API = "keda.sh/v1alpha1"
REDIS_AUTH = "redis-streams"  # the ClusterTriggerAuthentication cells' Redis triggers name
REDIS_SECRET = "redis-scaler"  # its Secret in KEDA's namespace
# The Secret's keys as External Secrets templates over the cache's three secrets.
REDIS_TEMPLATES = {
    "address": '{{ .address | trimPrefix "rediss://" }}',
    "password": "{{ .password }}",
    "ca": "{{ .ca }}",
    "tls": "enable",
}
REDIS_SOURCES = {"address": keys.REDIS_ADDRESS, "password": keys.REDIS_AUTH, "ca": keys.REDIS_CA}


class SecretTargetRef(Spec):
    parameter: Literal["address", "password", "tls", "ca"]
    name: str
    key: str


class TriggerAuthenticationSpec(Spec):
    secret_target_ref: list[SecretTargetRef] = Field(min_length=1)


def redis_trigger_authentication() -> dict[str, Any]:
    spec = TriggerAuthenticationSpec(
        secret_target_ref=[SecretTargetRef(parameter=k, name=REDIS_SECRET, key=k) for k in REDIS_TEMPLATES]
    )
    return {
        "apiVersion": API,
        "kind": "ClusterTriggerAuthentication",
        "metadata": {"name": REDIS_AUTH},
        "spec": spec.dump(),
    }


def wanted(secret_id: Any) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(data, templates) of KEDA's namespace for the platform's credentials sync."""
    return (
        {REDIS_SECRET: {k: secret_id(v) for k, v in REDIS_SOURCES.items()}},
        {REDIS_SECRET: dict(REDIS_TEMPLATES)},
    )


@dataclass(frozen=True)
class KedaArgs:
    ctx: ChartContext
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    internal_issuer: str  # the platform's CA ClusterIssuer: KEDA's serving certificates
    depends_on: Sequence[pulumi.Resource]  # its namespace, the nodes, cert-manager
    redis_secret: pulumi.Resource | None = None  # the Redis scaler's Secret, when a cell scales on Redis


class Keda(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart  # its CRDs and webhooks: ScaledObjects wait for it
    redis_auth: str | None  # the ClusterTriggerAuthentication for Redis triggers

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:platform:Keda", name, None, opts)
        self.chart = install(
            self,
            f"{name}-chart",
            Release(
                args.pins["keda"], NAMESPACE, keda_values(args.ctx, issuer=args.internal_issuer), release_name=RELEASE
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
