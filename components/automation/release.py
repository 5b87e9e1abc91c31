"""The release flow's wiring (ai-estate:automation.release): what Windmill's committed flow
(`flows/f/release/harbor_push__flow`) reads in the release group's pods, and what calls it.

- Harbor: a `PUSH_ARTIFACT` webhook on each release project to the flow's HTTP route, inside the
  mesh, with `Authorization: Bearer <key>`; the key is generated once and kept in Secret Manager.
- The release group's pods: the flow's config (a ConfigMap), the webhook key, the GitHub token (a
  person adds it: the pods start without it and the pull-request step says what is missing) and
  the pull robot's registry login, each a file; cosign copied from its pinned image by an init
  container. No secret is in Windmill's database, its values, or the flow's files.
- Who may call: Harbor's jobservice reaches Windmill's server by identity and NetworkPolicy; the
  workload's Google account may read the signing key's public half (cosign's `gcpkms://` check).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumiverse_harbor as harbor
import yaml

from components.automation.estate import Estate
from components.automation.values_windmill import APP_SELECTOR
from components.common import K8S_LABELS, child
from components.kube import authz
from components.kube.custom import custom_object
from components.kube.netpol import HBONE_PORT, Allow, Peer, allow_policies, tcp
from components.kube.registry_login import docker_config_template
from components.kube.values import CONTAINER_SECURITY, PinnedImage
from components.kube.values import resources as limits
from components.platform import KEY_VERIFIER_ROLES
from components.secret_manager import SecretArgs, secret
from stacks import secret_keys as keys
from stacks.config_automation import WINDMILL_PORT, WINDMILL_SERVICE
from stacks.config_release import Release

FLOWS = Path(__file__).parent / "flows"  # the `wmill sync` root (README, "The release flow")
TRIGGER = FLOWS / "f" / "release" / "harbor_push.http_trigger.yaml"

# Where the flow's scripts read what they need (constants in each script; a test keeps them equal).
CONFIG_DIR, CONFIG_FILE = "/etc/estate/release/config", "config.json"
KEY_DIR, KEY_FILE = "/etc/estate/release/webhook", "key"
TOKEN_DIR, TOKEN_FILE = "/etc/estate/release/github", "token"
REGISTRY_DIR, REGISTRY_FILE = "/etc/estate/release/registry", "config.json"
BIN_DIR, COSIGN = "/opt/estate/bin", "/opt/estate/bin/cosign"

CONFIGMAP = "windmill-release"
WEBHOOK_SECRET = "windmill-release-webhook"
GITHUB_SECRET = "windmill-release-github"
REGISTRY_SECRET = "windmill-release-registry"


def route_url(namespace: str) -> str:
    """The flow's HTTP route on Windmill's server inside the mesh (its path from the committed trigger)."""
    route = yaml.safe_load(TRIGGER.read_text())["route_path"]
    return f"http://{WINDMILL_SERVICE}.{namespace}.svc.cluster.local:{WINDMILL_PORT}/api/r/{route}"


def flow_config(release: Release, *, stack: str, registry: str, cosign_key: str) -> dict[str, Any]:
    """The flow's config.json: where to propose, what to verify, which cells run which repository."""
    return {
        "stack": stack,
        "stackFile": f"Pulumi.{stack}.yaml",
        "repository": release.repository,
        "baseBranch": release.base_branch,
        "projects": list(release.projects),
        "registry": registry,
        "cells": release.cells,
        "cosignKey": cosign_key,
    }


def wanted(prefix: str, robot_secret_id: str) -> dict[str, dict[str, str]]:
    """The release group's Secrets (Kubernetes Secret -> key -> Secret Manager id)."""
    return {
        WEBHOOK_SECRET: {KEY_FILE: keys.secret_id(prefix, keys.RELEASE_WEBHOOK_KEY)},
        GITHUB_SECRET: {TOKEN_FILE: keys.secret_id(prefix, keys.RELEASE_GITHUB_TOKEN)},
        REGISTRY_SECRET: {"password": robot_secret_id},
    }


def pod_parts(cosign: PinnedImage) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The release group's init container, volumes and mounts (chart values)."""
    copy = {
        "name": "cosign",
        "image": cosign.ref,
        # The image's busybox copies its own binary out; the worker runs it (verify.py).
        "command": ["/busybox/cp", "/ko-app/cosign", COSIGN],
        "securityContext": dict(CONTAINER_SECURITY),
        "resources": limits("50m", "64Mi", cpu_limit="200m"),
        "volumeMounts": [{"name": "estate-bin", "mountPath": BIN_DIR}],
    }

    def files(name: str, source: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"name": name, **source}, {"name": name, "mountPath": path, "readOnly": True}

    pairs = [
        (
            {"name": "estate-bin", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "estate-bin", "mountPath": BIN_DIR, "readOnly": True},
        ),
        files("release-config", {"configMap": {"name": CONFIGMAP}}, CONFIG_DIR),
        files("release-webhook", {"secret": {"secretName": WEBHOOK_SECRET}}, KEY_DIR),
        # Optional: a person adds the token after the first `up`; the kubelet fills it in then.
        files("release-github", {"secret": {"secretName": GITHUB_SECRET, "optional": True}}, TOKEN_DIR),
        files("release-registry", {"secret": {"secretName": REGISTRY_SECRET}}, REGISTRY_DIR),
    ]
    return [copy], [v for v, _ in pairs], [m for _, m in pairs]


@dataclass(frozen=True)
class ReleaseArgs:
    estate: Estate
    release: Release
    namespace: str  # Windmill's
    labels: dict[str, str]
    stack: str
    registry: str  # Harbor's host
    # The pull robot cosign reads signatures with: its login name, its secret's id and the secret.
    robot_user: str
    robot_secret_id: str
    robot_secret: pulumi.Resource
    cosign_key: pulumi.Input[str]  # `gcpkms://...`
    signing_key_id: pulumi.Input[str]
    gsa_email: pulumi.Input[str]  # Windmill's workload's Google account
    harbor_namespace: str
    harbor_sender: tuple[tuple[tuple[str, str], ...], str]  # the pods that send Harbor's webhooks, their account
    harbor_api: harbor.Provider
    harbor_projects: Mapping[str, harbor.Project]
    depends_on: Sequence[pulumi.Resource]


class ReleaseFlow(pulumi.ComponentResource):
    # What Windmill syncs into its namespace for the release group: Kubernetes Secret -> key ->
    # Secret Manager id, their templates, the sources to wait for, and those nothing waits for.
    secrets: dict[str, dict[str, str]]
    templates: dict[str, dict[str, str]]
    sources: dict[str, pulumi.Resource]
    unwaited: frozenset[str]
    ready: list[pulumi.Resource]  # what the release group's pods mount before they start

    def __init__(self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:automation:ReleaseFlow", name, None, opts)
        e, ns, prod = args.estate, args.namespace, args.estate.ctx.prod
        key = random.RandomPassword(
            f"{name}-webhook-key", random.RandomPasswordArgs(length=48, special=False), opts=child(self, protect=prod)
        )
        self.sources = {}
        for sm_key, data in ((keys.RELEASE_WEBHOOK_KEY, key.result), (keys.RELEASE_GITHUB_TOKEN, None)):
            sid = keys.secret_id(e.prefix, sm_key)
            # No version for the GitHub token: a person adds it (README, "The release flow").
            self.sources[sid] = secret(
                self,
                f"{name}-{sm_key.removeprefix('release-')}",
                SecretArgs(
                    secret_id=sid, region=e.region, labels=args.labels, data=data, protect=prod, depends_on=[e.apis]
                ),
            )
        self.sources[args.robot_secret_id] = args.robot_secret
        self.secrets = wanted(e.prefix, args.robot_secret_id)
        self.templates = registry_template(args.registry, args.robot_user)
        # The GitHub token is a person's to add: nothing waits for it.
        self.unwaited = frozenset({GITHUB_SECRET})
        config = pulumi.Output.from_input(args.cosign_key).apply(
            lambda uri: json.dumps(
                flow_config(args.release, stack=args.stack, registry=args.registry, cosign_key=uri), sort_keys=True
            )
        )
        kube = child(self, provider=e.provider, depends_on=[e.namespaces[ns], *args.depends_on])
        configmap = k8s.core.v1.ConfigMap(
            f"{name}-config",
            k8s.core.v1.ConfigMapInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=CONFIGMAP, namespace=ns, labels=K8S_LABELS),
                data={CONFIG_FILE: config},
            ),
            opts=kube,
        )
        self.ready = [configmap]
        # cosign resolves `gcpkms://` with GetCryptoKey, GetCryptoKeyVersion and GetPublicKey: the
        # same two roles as the admission verifier, on this one key.
        for role in KEY_VERIFIER_ROLES:
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{role.rsplit('.', 1)[-1]}",
                gcp.kms.CryptoKeyIAMMemberArgs(
                    crypto_key_id=args.signing_key_id,
                    role=role,
                    member=pulumi.Output.concat("serviceAccount:", args.gsa_email),
                ),
                opts=child(self),
            )
        url = route_url(ns)
        bearer: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.concat("Bearer ", key.result))
        for project in args.release.projects:
            harbor.ProjectWebhook(
                f"{name}-webhook-{project}",
                harbor.ProjectWebhookArgs(
                    name="estate-release",
                    description="Windmill's release flow (ai-estate:automation.release)",
                    project_id=args.harbor_projects[project].id,
                    notify_type="http",
                    events_types=["PUSH_ARTIFACT"],
                    address=url,
                    auth_header=bearer,
                    # The provider's default is true; the route is plain HTTP inside the mesh (ztunnel's
                    # mutual TLS), and a later https:// address must be verified.
                    skip_cert_verify=False,
                    enabled=True,
                ),
                opts=child(self, provider=args.harbor_api, depends_on=[args.harbor_projects[project]]),
            )
        self._reach(name, args)
        self.register_outputs({"route": url, "projects": list(args.release.projects)})

    def _reach(self, name: str, args: ReleaseArgs) -> None:
        """Harbor's jobservice -> Windmill's server on its port: both namespaces' NetworkPolicies
        and the server's AuthorizationPolicy (ALLOW policies add up: the workers' stays as it is)."""
        e, ns, harbor_ns = args.estate, args.namespace, args.harbor_namespace
        sender_pods, sender_account = args.harbor_sender
        ports = tcp(HBONE_PORT, WINDMILL_PORT)
        app = tuple(APP_SELECTOR.items())
        deps = [e.namespaces[ns], e.namespaces[harbor_ns], *args.depends_on]
        sender, server = Peer(namespace=harbor_ns, pods=sender_pods), Peer(namespace=ns, pods=app)
        for namespace, allow in (
            (ns, Allow("release-from-harbor", "Ingress", (sender,), ports, pods=app)),
            (harbor_ns, Allow("release-to-windmill", "Egress", (server,), ports, pods=sender_pods)),
        ):
            allow_policies(self, f"{name}-netpol-{namespace}", namespace, [allow], provider=e.provider, depends_on=deps)
        custom_object(
            self,
            f"{name}-authz",
            authz.allow_principals(
                "windmill-app-harbor",
                ns,
                [authz.principal(harbor_ns, sender_account)],
                ports=[WINDMILL_PORT],
                selector=APP_SELECTOR,
            ),
            provider=e.provider,
            depends_on=deps,
        )


def registry_template(host: str, user: str) -> dict[str, dict[str, str]]:
    """The registry Secret's `config.json`: the pull robot's docker login, as cosign reads it."""
    return {REGISTRY_SECRET: {REGISTRY_FILE: docker_config_template(host, user)}}
