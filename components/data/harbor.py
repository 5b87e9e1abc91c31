"""Harbor, the estate's own registry: its chart with nothing left to chance (values_harbor), its
credentials generated and synced from Secret Manager (harbor_secrets), the Cloud SQL Auth Proxy it
reaches its database through, its certificates, the gateway's TLS passthrough and DNS name, who may
reach which of its pods (harbor_objects), and its projects, policies and robots (harbor_projects).

Data is never lost by an ordinary `up`: blobs live in the protected `registry` bucket, metadata in
the Cloud SQL instance (deletion protection, backups, point-in-time recovery), projects are
protected in prod and refuse deletion while they hold repositories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumiverse_harbor

from components.common import K8S_LABELS, child
from components.data import harbor_objects as objects
from components.data import harbor_projects, harbor_pull, harbor_secrets
from components.data.values_harbor import RELEASE, harbor_values, service_account
from components.kube.charts import ChartPin, Release, install
from components.kube.credentials import Credentials, CredentialsArgs, SyncIdentity
from components.kube.custom import custom_object, custom_resource
from components.kube.netpol import allow_policies
from components.kube.pods import PROXY_UID, PodArgs, cloud_sql_proxy, pod_spec
from components.kube.transforms import drop_empty_secret_data
from components.kube.values import ChartContext
from stacks.config_harbor import HarborConfig

core, apps, policy, meta = k8s.core.v1, k8s.apps.v1, k8s.policy.v1, k8s.meta.v1
DNS_TTL = 300


@dataclass(frozen=True)
class HarborArgs:
    ctx: ChartContext
    config: HarborConfig
    prefix: str
    host: str  # the full name, inside the DNS domain
    bucket: str  # the registry bucket's name (known from config)
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    nodes: pulumi.Resource
    apis: pulumi.Resource
    cluster: pulumi.Resource
    secrets_operator: pulumi.Resource  # the ExternalSecrets component: CRDs and the store
    database_secret: pulumi.Resource  # the Cloud SQL user's password in Secret Manager
    connection_name: pulumi.Input[str]
    registry_gsa: pulumi.Input[str]  # the registry workload's Google service account (email)
    registry_ksa: str
    proxy_gsa: pulumi.Input[str]
    proxy_ksa: str
    private_services: str  # the Private Service Access range (Cloud SQL's address)
    control_plane_ranges: pulumi.Input[Sequence[str]]
    cert_manager: pulumi.Resource
    acme_issuer: str
    internal_issuer: str
    mesh_control_plane: pulumi.Resource  # istiod: the Istio CRDs
    mesh_data_plane: Sequence[pulumi.Resource]  # ambient pods need the CNI agent and ztunnel first
    gateway_namespace: str
    gateway_selector: Mapping[str, str]
    address: pulumi.Input[str]  # the ingress gateway's reserved address
    dns_zone_name: pulumi.Input[str]
    labels: dict[str, str]
    # Outside prod with storage.forceDestroy only: destroy deletes projects with their repositories.
    force_destroy: bool = False
    # Namespaces where a cell runs a Harbor image -> their sync identity (the pull robot's Secret).
    pull_identities: Mapping[str, SyncIdentity] = field(default_factory=dict)


class Harbor(pulumi.ComponentResource):
    url: str
    projects: list[str]
    api: pulumiverse_harbor.Provider
    project_resources: dict[str, pulumiverse_harbor.Project]
    pull_secrets: dict[str, pulumi.Resource]  # namespace -> its `harbor-pull` ExternalSecret
    stored: dict[str, pulumi.Resource]
    webhook_pods: tuple[tuple[str, str], ...]
    webhook_account: str
    robot_secrets: dict[str, str]  # robot -> Secret Manager id of its secret

    @staticmethod
    def robot_user(robot: str) -> str:
        """The name a robot logs in to the registry with."""
        return harbor_pull.robot_user(robot)

    def __init__(self, name: str, args: HarborArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:harbor:Harbor", name, None, opts)
        cfg, ctx, prod = args.config, args.ctx, args.ctx.prod
        ns, host = cfg.namespace, args.host
        in_ns = [args.namespaces[ns], args.cluster]
        kube = child(self, provider=args.provider, depends_on=in_ns)

        # ------------------------------------------------ credentials: generated, stored, synced
        generated = harbor_secrets.generate(
            self,
            f"{name}-credentials",
            prefix=args.prefix,
            region=ctx.region,
            labels=args.labels,
            robots=sorted(cfg.robots),
            protect=prod,
            apis=args.apis,
        )
        wanted = harbor_secrets.wanted(args.prefix, cfg.database_user)
        db_secret_id = wanted[harbor_secrets.DATABASE_SECRET]["password"]
        synced = Credentials(
            f"{name}-sync",
            CredentialsArgs(
                project=ctx.project,
                environment=ctx.environment,
                wanted={ns: wanted},
                provider=args.provider,
                cluster=args.cluster,
                apis=args.apis,
                namespaces=args.namespaces,
                secrets_operator=args.secrets_operator,
                sources={**generated.stored, db_secret_id: args.database_secret},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # ------------------------------------------------ identities: one account per component
        accounts = [
            self._account(name, ns, service_account(c), None, kube) for c in objects.COMPONENTS if c != "registry"
        ]
        accounts.append(self._account(name, ns, args.registry_ksa, args.registry_gsa, kube))
        proxy_sa = self._account(name, ns, args.proxy_ksa, args.proxy_gsa, kube)

        # ------------------------------------------------ certificates
        cert_deps = [args.namespaces[ns], args.cert_manager]
        certificates = [
            custom_resource(self, f"{name}-cert-{m.name}", m, provider=args.provider, depends_on=cert_deps)
            for m in objects.internal_certificates(ns, args.internal_issuer)
        ]
        public_cert = custom_object(
            self,
            f"{name}-cert-public",
            objects.public_certificate(ns, host, args.acme_issuer),
            provider=args.provider,
            depends_on=cert_deps,
        )

        # ------------------------------------------------ who may reach what
        mesh_crds = [args.mesh_control_plane, args.namespaces[ns]]
        for obj in objects.authorization_policies(ns, args.registry_ksa):
            custom_object(
                self, f"{name}-authz-{obj['metadata']['name']}", obj, provider=args.provider, depends_on=mesh_crds
            )
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            objects.network_allows(ns, args.private_services),
            provider=args.provider,
            depends_on=[args.namespaces[ns]],
            control_plane=args.control_plane_ranges,
        )

        # ------------------------------------------------ the database, through the Auth Proxy
        proxy = self._proxy(name, args, proxy_sa, [*in_ns, args.nodes, *args.mesh_data_plane])

        # ------------------------------------------------ the chart
        names = harbor_secrets.secret_names(objects.CA_BUNDLE, objects.PUBLIC_TLS, objects.INTERNAL_TLS)
        values = harbor_values(
            ctx,
            cfg,
            host=host,
            bucket=args.bucket,
            db_host=objects.PROXY,
            registry_service_account=args.registry_ksa,
            names=names,
        )
        chart = install(
            self,
            f"{name}-chart",
            Release(args.pins["harbor"], ns, values, release_name=RELEASE, transforms=(drop_empty_secret_data,)),
            provider=args.provider,
            depends_on=[
                *in_ns,
                args.nodes,
                *args.mesh_data_plane,
                *accounts,
                *synced.secrets[ns].values(),
                *certificates,
                public_cert,
                proxy,
            ],
        )

        # ------------------------------------------------ its name, through the gateway untouched
        record = gcp.dns.RecordSet(
            f"{name}-dns",
            gcp.dns.RecordSetArgs(
                managed_zone=args.dns_zone_name, name=f"{host}.", type="A", ttl=DNS_TTL, rrdatas=[args.address]
            ),
            opts=child(self, depends_on=[args.apis]),
        )
        gateway_deps = [args.mesh_control_plane]
        gateway = custom_resource(
            self,
            f"{name}-gateway",
            objects.passthrough_gateway(args.gateway_namespace, args.gateway_selector, host),
            provider=args.provider,
            depends_on=gateway_deps,
        )
        route = custom_resource(
            self,
            f"{name}-route",
            objects.passthrough_route(args.gateway_namespace, host, ns),
            provider=args.provider,
            depends_on=gateway_deps,
        )

        # ------------------------------------------------ projects, policies, robots: Harbor's API
        self.url = f"https://{host}"
        api = harbor_projects.provider(self, f"{name}-api", self.url, generated.admin_password)
        made = harbor_projects.projects(
            self,
            name,
            config=cfg.projects,
            robots=cfg.robots,
            robot_secrets=generated.robot_secrets,
            api=api,
            depends_on=[chart, public_cert, record, gateway, route],
            protect=prod,
            force_destroy=args.force_destroy and not prod,
        )
        self.projects = sorted(made)
        # What a later layer adds in Harbor's API (the release flow's webhooks): the provider and projects.
        self.api, self.project_resources = api, made
        self.robot_secrets = {r: harbor_secrets.robot_secret_id(args.prefix, r) for r in sorted(cfg.robots)}
        self.stored = generated.stored  # Secret Manager id -> the secret (a sync elsewhere waits for it)
        # Who sends Harbor's webhooks (jobservice), for a receiver's NetworkPolicy and AuthorizationPolicy.
        self.webhook_pods = objects.JOBSERVICE_POD
        self.webhook_account = service_account("jobservice")
        self.pull_secrets = {}
        if args.pull_identities and cfg.pull_robot is not None:
            pull_id = harbor_secrets.robot_secret_id(args.prefix, cfg.pull_robot)
            self.pull_secrets = harbor_pull.pull_secrets(
                self,
                f"{name}-pull",
                identities=args.pull_identities,
                host=host,
                robot=cfg.pull_robot,
                secret_id=pull_id,
                source=generated.stored[pull_id],
                project=ctx.project,
                provider=args.provider,
                depends_on=[args.secrets_operator],
            )
        self.register_outputs({"url": self.url, "projects": self.projects, "robotSecrets": self.robot_secrets})

    def _account(
        self, name: str, ns: str, ksa: str, gsa: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
    ) -> core.ServiceAccount:
        annotations = {"iam.gke.io/gcp-service-account": gsa} if gsa is not None else None
        return core.ServiceAccount(
            f"{name}-sa-{ksa}",
            core.ServiceAccountInitArgs(
                metadata=meta.ObjectMetaArgs(name=ksa, namespace=ns, labels=K8S_LABELS, annotations=annotations),
                # None of Harbor's pods talks to the Kubernetes API.
                automount_service_account_token=False,
            ),
            opts=opts,
        )

    def _proxy(
        self, name: str, args: HarborArgs, sa: core.ServiceAccount, deps: list[pulumi.Resource]
    ) -> apps.Deployment:
        ns, prod, replicas = args.config.namespace, args.ctx.prod, args.config.replicas
        labels = {**K8S_LABELS, "app": objects.PROXY}
        opts = child(self, provider=args.provider, depends_on=[*deps, sa])
        container = cloud_sql_proxy(
            args.ctx.images["cloud-sql-proxy"].ref,
            args.connection_name,
            port=objects.PROXY_PORT,
            listen_all=True,
            # Bounded per replica: Harbor's pools open at most maxOpenConns each.
            extra_args=["--max-connections=200"],
            cpu="250m",
            memory="256Mi",
        )
        deployment = apps.Deployment(
            f"{name}-db-proxy",
            apps.DeploymentInitArgs(
                metadata=meta.ObjectMetaArgs(name=objects.PROXY, namespace=ns, labels=labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=replicas,
                    selector=meta.LabelSelectorArgs(match_labels={"app": objects.PROXY}),
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=labels),
                        spec=pod_spec(
                            PodArgs(
                                containers=[container],
                                service_account=sa.metadata.name,
                                fs_group=PROXY_UID,
                                spread={"app": objects.PROXY} if prod else None,
                            )
                        ),
                    ),
                ),
            ),
            opts=opts,
        )
        core.Service(
            f"{name}-db-proxy-service",
            core.ServiceInitArgs(
                metadata=meta.ObjectMetaArgs(name=objects.PROXY, namespace=ns, labels=labels),
                spec=core.ServiceSpecArgs(
                    type="ClusterIP",
                    selector={"app": objects.PROXY},
                    ports=[core.ServicePortArgs(name="tcp-postgres", port=objects.PROXY_PORT, target_port="postgres")],
                ),
            ),
            opts=opts,
        )
        if prod:
            policy.PodDisruptionBudget(
                f"{name}-db-proxy-pdb",
                policy.PodDisruptionBudgetInitArgs(
                    metadata=meta.ObjectMetaArgs(name=objects.PROXY, namespace=ns, labels=labels),
                    spec=policy.PodDisruptionBudgetSpecArgs(
                        min_available=1, selector=meta.LabelSelectorArgs(match_labels={"app": objects.PROXY})
                    ),
                ),
                opts=opts,
            )
        return deployment
