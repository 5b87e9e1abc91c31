"""Windmill in its namespace: its accounts (bound to the workload's Google account, which the Cloud
SQL Auth Proxy authenticates as), the instance's name for the proxies, its secrets (the database URL
templated over its user's password, the superadmin secret generated once), the chart with typed
values, and what the chart leaves out: the server's PodDisruptionBudget in prod, the calls between
its workers and its server (by identity and NetworkPolicy), the worker groups' egress as config
allows it, and, for the groups that start sandbox Jobs, the sandbox's Role and the API server.

Generated or untrusted code never runs in a worker: a flow on a `sandbox` group creates a Job in
the sandbox namespace (gVisor, no network, no secrets; ai-estate:sandbox) and reads its result,
with exactly the orchestrator's rights there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.automation import release
from components.automation.cloud_sql import instance_configmap
from components.automation.estate import Estate
from components.automation.release import ReleaseFlow
from components.automation.values_windmill import (
    APP_SELECTOR,
    DATABASE_SECRET,
    RELEASE,
    SANDBOX_ACCOUNT,
    SUPERADMIN_SECRET,
    database_url_template,
    windmill_values,
)
from components.common import K8S_LABELS, child
from components.kube import authz
from components.kube.charts import Release, install
from components.kube.custom import custom_object
from components.kube.netpol import HBONE_PORT, Allow, Peer, allow_policies, api_server, for_pods, public_internet, tcp
from components.kube.pods import disruption_budget, service_account, workload_identity
from components.kube.transforms import no_api_token
from components.secret_manager import generated_secret
from stacks import secret_keys as keys
from stacks.config_automation import WINDMILL_PORT, WindmillConfig

core, meta, rbac, policy = k8s.core.v1, k8s.meta.v1, k8s.rbac.v1, k8s.policy.v1

SUPERADMIN_KEY = "windmill-superadmin"  # the Secret Manager key of the generated superadmin secret


def group_pods(group: str) -> tuple[tuple[str, str], ...]:
    return (("estate.io/worker-group", group),)


def worker_allows(cfg: WindmillConfig) -> list[Allow]:
    """Each group's egress beyond the namespace's own (DNS, Cloud SQL, Google APIs): public HTTPS
    where config allows it, the API server for the groups that start sandbox Jobs; and the server's
    callers inside the namespace (the workers' and its own pods, on its port and HBONE)."""
    out = [
        Allow(
            "windmill-app-in",
            "Ingress",
            (Peer(same_namespace=True),),
            tcp(HBONE_PORT, WINDMILL_PORT),
            pods=tuple(APP_SELECTOR.items()),
        ),
        Allow(
            "windmill-app-out",
            "Egress",
            (Peer(same_namespace=True, pods=tuple(APP_SELECTOR.items())),),
            tcp(HBONE_PORT, WINDMILL_PORT),
        ),
    ]
    for name, group in sorted(cfg.worker_groups.items()):
        if group.public_https:
            out.append(for_pods(public_internet(f"workers-{name}-public-https", tcp(443)), group_pods(name)))
        if group.sandbox:
            out.append(for_pods(api_server(f"workers-{name}-api-server"), group_pods(name)))
    return out


@dataclass(frozen=True)
class WindmillArgs:
    estate: Estate
    config: WindmillConfig
    host: str  # its full name on the gateway
    labels: dict[str, str]
    account: str  # its workload's Kubernetes service account
    gsa_email: pulumi.Input[str]  # the workload's Google account
    workload_pool: str
    connection_name: pulumi.Input[str]
    db_password: pulumi.Resource  # the user's password in Secret Manager
    control_plane: pulumi.Input[Sequence[str]]
    # The nodes, the mesh's data plane and control plane, the guardrails, and the migration that
    # made its roles (Windmill's first start needs them).
    depends_on: Sequence[pulumi.Resource]
    sandbox: str | None = None  # the sandbox namespace, with its `orchestrator` Role
    sandbox_after: pulumi.Resource | None = None
    release: ReleaseFlow | None = None  # the release flow (automation.release): its Secrets and files


class Windmill(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart
    url: str

    def __init__(self, name: str, args: WindmillArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:automation:Windmill", name, None, opts)
        cfg, ctx = args.config, args.estate.ctx
        ns = cfg.namespace
        deps = [args.estate.namespaces[ns], *args.depends_on]
        opts_ = child(self, provider=args.estate.provider, depends_on=deps)
        accounts = [args.account]
        if any(g.sandbox for g in cfg.worker_groups.values()):
            accounts.append(SANDBOX_ACCOUNT)
        made: list[pulumi.Resource] = []
        for account in accounts:
            made.append(
                core.ServiceAccount(
                    f"{name}-sa-{account}", service_account(account, ns, K8S_LABELS, args.gsa_email), opts=opts_
                )
            )
        if SANDBOX_ACCOUNT in accounts:
            # The workload's Google account accepts the sandbox groups' account too (the Auth Proxy in
            # their pods); components.cloud.identity binds the workload's own.
            made.append(
                gcp.serviceaccount.IAMMember(
                    f"{name}-sandbox-workload-identity",
                    workload_identity(
                        pulumi.Output.concat("projects/", ctx.project, "/serviceAccounts/", args.gsa_email),
                        args.workload_pool,
                        ns,
                        SANDBOX_ACCOUNT,
                    ),
                    opts=child(self),
                )
            )
        made.append(core.ConfigMap(f"{name}-instance", instance_configmap(ns, args.connection_name), opts=opts_))
        superadmin_id = keys.secret_id(args.estate.prefix, SUPERADMIN_KEY)
        stored = generated_secret(
            self,
            f"{name}-superadmin",
            random.RandomPasswordArgs(length=40, special=False),
            secret_id=superadmin_id,
            region=args.estate.region,
            labels=args.labels,
            protect=ctx.prod,
            depends_on=[args.estate.apis],
        )
        password_id = keys.secret_id(args.estate.prefix, keys.db_user_password(cfg.database_user))
        wanted: dict[str, dict[str, str]] = {
            DATABASE_SECRET: {"password": password_id},
            SUPERADMIN_SECRET: {"value": superadmin_id},
        }
        sources: dict[str, pulumi.Resource] = {password_id: args.db_password, superadmin_id: stored}
        templates = {DATABASE_SECRET: {"url": database_url_template(cfg.database_user, cfg.database)}}
        unwaited: frozenset[str] = frozenset()
        pods = None
        if args.release is not None:
            wanted |= args.release.secrets
            sources |= args.release.sources
            templates |= args.release.templates
            unwaited = args.release.unwaited
            pods = release.pod_parts(ctx.images["cosign"])
            made += args.release.ready
        synced = args.estate.credentials(
            self, f"{name}-sync", ns, wanted, sources=sources, templates=templates, unwaited=unwaited
        )
        internal = f"http://windmill-app.{ns}.svc.cluster.local:{WINDMILL_PORT}"
        self.chart = install(
            self,
            f"{name}-chart",
            Release(
                args.estate.pins["windmill"],
                ns,
                windmill_values(ctx, cfg, host=args.host, account=args.account, internal_url=internal, release=pods),
                release_name=RELEASE,
                # No pod of the chart automounts a token; the sandbox groups mount theirs explicitly.
                transforms=(no_api_token,),
            ),
            provider=args.estate.provider,
            depends_on=[*deps, *made, *synced.secrets[ns].values()],
        )
        self.url = f"https://{args.host}"
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            worker_allows(cfg),
            provider=args.estate.provider,
            depends_on=deps,
            control_plane=args.control_plane,
        )
        # The server admits its own pods and the workers by identity, on its port.
        custom_object(
            self,
            f"{name}-authz-workers",
            authz.allow_principals(
                "windmill-app-workers",
                ns,
                [authz.principal(ns, a) for a in accounts],
                ports=[WINDMILL_PORT],
                selector=APP_SELECTOR,
            ),
            provider=args.estate.provider,
            depends_on=deps,
        )
        if ctx.prod:
            policy.PodDisruptionBudget(
                f"{name}-pdb", disruption_budget("windmill-app", ns, K8S_LABELS, APP_SELECTOR), opts=opts_
            )
        if args.sandbox is not None and SANDBOX_ACCOUNT in accounts:
            rbac.RoleBinding(
                f"{name}-sandbox-binding",
                rbac.RoleBindingInitArgs(
                    metadata=meta.ObjectMetaArgs(
                        name=f"windmill-{SANDBOX_ACCOUNT}", namespace=args.sandbox, labels=K8S_LABELS
                    ),
                    role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name="orchestrator"),
                    subjects=[rbac.SubjectArgs(kind="ServiceAccount", name=SANDBOX_ACCOUNT, namespace=ns)],
                ),
                opts=child(
                    self,
                    provider=args.estate.provider,
                    depends_on=[*([args.sandbox_after] if args.sandbox_after else []), *made],
                ),
            )
        self.register_outputs({"url": self.url})
