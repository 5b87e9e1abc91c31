"""Kubernetes access built from the cluster's outputs: DNS endpoint and exec auth.

The DNS endpoint is served with a publicly trusted certificate and authorized by IAM, so
CI runners need neither a bastion nor a CA bundle; `gke-gcloud-auth-plugin` mints tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.common import child


def kubeconfig(cluster_name: str, endpoint: str) -> str:
    """A kubeconfig for the DNS endpoint that authenticates through gke-gcloud-auth-plugin."""
    context = cluster_name
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        "installHint": "gcloud components install gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True)
class KubeAccessArgs:
    cluster_name: pulumi.Input[str]
    dns_endpoint: pulumi.Input[str]


class KubeAccess(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: KubeAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cluster:KubeAccess", name, None, opts)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(args.cluster_name, args.dns_endpoint).apply(lambda a: kubeconfig(str(a[0]), str(a[1])))
        )
        self.provider = k8s.Provider(
            f"{name}-provider",
            k8s.ProviderArgs(kubeconfig=self.kubeconfig, enable_server_side_apply=True, delete_unreachable=False),
            opts=child(self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
