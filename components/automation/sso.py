"""Sign-in at the gateway for the automation platforms: oauth2-proxy in the `sso` namespace, which
istiod names as the mesh's external authorization provider (components.platform.values.istio), and
a CUSTOM AuthorizationPolicy on the ingress gateway that asks it for every request to the
platforms' hosts (but the paths a platform must leave public).

oauth2-proxy answers each check itself (`--upstream=static://200`): 200 with the user's
`X-Auth-Request-*` headers for a signed-in Google account of the allowed domains or addresses, else
a redirect to Google, or 401 for an API call. Envoy counts only 200 as allowed, which is why its
`/oauth2/auth` endpoint (202) is not used. Sessions are cookies, encrypted with a key the program
generates once (Secret Manager); the OAuth client is made by hand in the console (Google offers no
API for it) and its id and secret are added to Secret Manager by a person (README, "Automation").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.automation.estate import Estate
from components.common import K8S_LABELS, child
from components.kube.authz import API_VERSION as AUTHZ_API
from components.kube.custom import custom_object
from components.kube.pods import (
    PodArgs,
    cluster_service,
    container_security,
    disruption_budget,
    http_probe,
    limited,
    pod_spec,
    scratch,
    service_account,
)
from components.secret_manager import SecretArgs, secret
from stacks import secret_keys as keys
from stacks.config_automation import SSO_NAMESPACE, SSO_PORT, SSO_PROVIDER, SSO_SERVICE, SsoConfig

core, apps, meta, policy = k8s.core.v1, k8s.apps.v1, k8s.meta.v1, k8s.policy.v1

UID = 65532  # the distroless image's nonroot user
METRICS_PORT = 44180
SECRET = "oauth2-proxy"  # keys client-id, client-secret, cookie-secret
CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET = "sso-client-id", "sso-client-secret", "sso-cookie-secret"


def proxy_args(cfg: SsoConfig, domain: str) -> list[str]:
    """oauth2-proxy's flags: Google sign-in for the allowed accounts, one session cookie for every
    host of the estate's domain, the gateway's own checks answered with 200 or a redirect."""
    return [
        "--provider=google",
        f"--http-address=0.0.0.0:{SSO_PORT}",
        f"--metrics-address=0.0.0.0:{METRICS_PORT}",
        "--upstream=static://200",
        "--reverse-proxy",
        "--skip-provider-button",
        "--set-xauthrequest",
        "--code-challenge-method=S256",
        "--cookie-secure=true",
        "--cookie-samesite=lax",
        "--cookie-expire=12h",
        "--cookie-refresh=1h",
        f"--cookie-domain=.{domain}",
        f"--whitelist-domain=.{domain}",
        *(f"--email-domain={d}" for d in cfg.email_domains),
        *(["--authenticated-emails-file=/etc/oauth2-proxy/emails"] if cfg.emails else []),
    ]


def custom_policy(namespace: str, selector: Mapping[str, str], hosts: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """The gateway asks the sign-in service for each host's requests but the public paths listed
    for it (one rule per host: a path left public on one host stays behind sign-in on the others)."""
    rules = []
    for host, public in sorted(hosts.items()):
        operation: dict[str, object] = {"hosts": [host]}
        if public:
            operation["notPaths"] = list(public)
        rules.append({"to": [{"operation": operation}]})
    return {
        "apiVersion": AUTHZ_API,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "sign-in", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "action": "CUSTOM",
            "provider": {"name": SSO_PROVIDER},
            "rules": rules,
        },
    }


@dataclass(frozen=True)
class SignInArgs:
    estate: Estate
    config: SsoConfig
    domain: str
    hosts: Mapping[str, Sequence[str]]  # full host name -> paths that stay public
    image: pulumi.Input[str]
    labels: dict[str, str]
    gateway_namespace: str
    gateway_selector: Mapping[str, str]
    depends_on: Sequence[pulumi.Resource]  # nodes, the mesh's data plane and control plane (CRDs)


class SignIn(pulumi.ComponentResource):
    def __init__(self, name: str, args: SignInArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:automation:SignIn", name, None, opts)
        ns = SSO_NAMESPACE
        cookie = random.RandomPassword(
            f"{name}-cookie-secret",
            random.RandomPasswordArgs(length=32, special=False),
            opts=child(self, protect=args.estate.ctx.prod),
        )
        sources: dict[str, pulumi.Resource] = {}
        for key, data in ((CLIENT_ID, None), (CLIENT_SECRET, None), (COOKIE_SECRET, cookie.result)):
            sid = keys.secret_id(args.estate.prefix, key)
            # No version for the client's id and secret: a person adds them (README, "Automation").
            sources[sid] = secret(
                self,
                f"{name}-{key}",
                SecretArgs(
                    secret_id=sid,
                    region=args.estate.region,
                    labels=args.labels,
                    data=data,
                    protect=args.estate.ctx.prod,
                    depends_on=[args.estate.apis],
                ),
            )
        prefix = args.estate.prefix
        client = {
            k: keys.secret_id(prefix, key) for k, key in (("client-id", CLIENT_ID), ("client-secret", CLIENT_SECRET))
        }
        synced = args.estate.credentials(
            self,
            f"{name}-sync",
            ns,
            {SECRET: {**client, "cookie-secret": keys.secret_id(prefix, COOKIE_SECRET)}},
            sources=sources,
            # Until a person sets the client, the sign-in answers nothing and the gateway refuses
            # (it fails closed); `up` does not wait for that.
            unwaited=frozenset({SECRET}),
        )
        labels = {**K8S_LABELS, "app.kubernetes.io/name": SSO_SERVICE}
        selector = {"app.kubernetes.io/name": SSO_SERVICE}
        deps = [args.estate.namespaces[ns], *args.depends_on]
        opts_ = child(self, provider=args.estate.provider, depends_on=deps)
        sa = core.ServiceAccount(f"{name}-sa", service_account(SSO_SERVICE, ns, labels), opts=opts_)
        env = [
            core.EnvVarArgs(
                name=var,
                value_from=core.EnvVarSourceArgs(secret_key_ref=core.SecretKeySelectorArgs(name=SECRET, key=key)),
            )
            for var, key in (
                ("OAUTH2_PROXY_CLIENT_ID", "client-id"),
                ("OAUTH2_PROXY_CLIENT_SECRET", "client-secret"),
                ("OAUTH2_PROXY_COOKIE_SECRET", "cookie-secret"),
            )
        ]
        mounts = [core.VolumeMountArgs(name="tmp", mount_path="/tmp")]
        volumes = [scratch()]
        if args.config.emails:
            emails = core.ConfigMap(
                f"{name}-emails",
                core.ConfigMapInitArgs(
                    metadata=meta.ObjectMetaArgs(name="oauth2-proxy-emails", namespace=ns, labels=labels),
                    data={"emails": "".join(f"{e}\n" for e in args.config.emails)},
                ),
                opts=opts_,
            )
            deps.append(emails)
            mounts.append(core.VolumeMountArgs(name="emails", mount_path="/etc/oauth2-proxy", read_only=True))
            volumes.append(
                core.VolumeArgs(name="emails", config_map=core.ConfigMapVolumeSourceArgs(name="oauth2-proxy-emails"))
            )
        container = core.ContainerArgs(
            name=SSO_SERVICE,
            image=args.image,
            args=proxy_args(args.config, args.domain),
            env=env,
            ports=[
                core.ContainerPortArgs(name="http", container_port=SSO_PORT),
                core.ContainerPortArgs(name="metrics", container_port=METRICS_PORT),
            ],
            volume_mounts=mounts,
            security_context=container_security(UID),
            resources=limited("50m", "500m", "64Mi", "128Mi"),
            liveness_probe=http_probe("/ping", "http", period=10),
            readiness_probe=http_probe("/ready", "http", period=5),
        )
        apps.Deployment(
            f"{name}-deployment",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=SSO_SERVICE, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=2 if args.estate.ctx.prod else 1,
                    selector=meta.LabelSelectorArgs(match_labels=selector),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=pod_spec(
                            PodArgs(
                                containers=[container],
                                service_account=sa.metadata.name,
                                fs_group=UID,
                                volumes=volumes,
                                spread=selector if args.estate.ctx.prod else None,
                            )
                        ),
                    ),
                ),
            ),
            opts=child(self, provider=args.estate.provider, depends_on=[*deps, sa, synced.secrets[ns][SECRET]]),
        )
        core.Service(
            f"{name}-service", cluster_service(SSO_SERVICE, ns, labels, selector, "http", SSO_PORT), opts=opts_
        )
        if args.estate.ctx.prod:
            policy.PodDisruptionBudget(f"{name}-pdb", disruption_budget(SSO_SERVICE, ns, labels, selector), opts=opts_)
        custom_object(
            self,
            f"{name}-gateway-policy",
            custom_policy(args.gateway_namespace, args.gateway_selector, args.hosts),
            provider=args.estate.provider,
            depends_on=deps,
        )
        self.register_outputs({"hosts": sorted(args.hosts)})
