"""Harbor's images in the cells' namespaces: the pull robot's secret, synced from Secret Manager as
a docker-registry Secret (`harbor-pull`) into each namespace where a cell runs a Harbor image.

The namespace's own sync identity (made by the platform's credentials, which know these namespaces
from config) is granted the robot's secret here, where the secret is made; nodes pull through the
gateway's TLS passthrough with it, and policy-controller verifies the signature at admission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.kube.credentials import SyncIdentity
from components.kube.external_secret import ExternalSecretSpec, Remote, external_secret, grant_secret_access
from components.kube.registry_login import DOCKER_CONFIG_KEY, DOCKER_CONFIG_TYPE, docker_config_template

PULL_SECRET = "harbor-pull"
# Harbor's default `robot_name_prefix` (the program does not change it): a system robot logs in
# as `robot$<name>`.
ROBOT_PREFIX = "robot$"


def robot_user(robot: str) -> str:
    return ROBOT_PREFIX + robot


def pull_spec(namespace: str, host: str, robot: str, secret_id: str) -> ExternalSecretSpec:
    return ExternalSecretSpec(
        namespace=namespace,
        target=PULL_SECRET,
        data={"password": Remote(secret_id)},
        template={DOCKER_CONFIG_KEY: docker_config_template(host, robot_user(robot))},
        secret_type=DOCKER_CONFIG_TYPE,
    )


def pull_secrets(
    parent: pulumi.Resource,
    name: str,
    *,
    identities: Mapping[str, SyncIdentity],
    host: str,
    robot: str,
    secret_id: str,
    source: pulumi.Resource,
    project: str,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
) -> dict[str, pulumi.Resource]:
    """Namespace -> its `harbor-pull` ExternalSecret (Pulumi waits for its first sync)."""
    out: dict[str, pulumi.Resource] = {}
    for ns, identity in sorted(identities.items()):
        grant = grant_secret_access(
            parent, f"{name}-{ns}-grant", secret_id, identity.member, project=project, depends_on=[source]
        )
        out[ns] = external_secret(
            parent,
            f"{name}-{ns}",
            PULL_SECRET,
            pull_spec(ns, host, robot, secret_id),
            provider=provider,
            depends_on=[*depends_on, *identity.ready, grant],
        )
    return out
