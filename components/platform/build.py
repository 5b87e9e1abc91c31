"""The platform layer's builder: validated config and the cloud layer in, what workloads need out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.cloud import CloudLayer
from components.common import labels
from components.kube import redis_client
from components.kube.charts import ChartPin
from components.kube.credentials import Credentials, CredentialsArgs, Wanted
from components.kube.values import ChartContext, PinnedImage
from components.platform import keda
from components.platform.backup import Backup, BackupArgs
from components.platform.binauthz import Exemption
from components.platform.certs import CertManager, CertManagerArgs, zone_name
from components.platform.flagger import Flagger, FlaggerArgs
from components.platform.grants import generated_migrations
from components.platform.guardrails import Guardrails, GuardrailsArgs
from components.platform.issuers import LETSENCRYPT
from components.platform.mesh import Mesh, MeshArgs
from components.platform.migrate import PgVectorArgs, PgVectorMigration
from components.platform.namespaces import Namespaces, NamespacesArgs
from components.platform.secrets import ExternalSecrets, ExternalSecretsArgs
from components.platform.signing import Signing, SigningArgs
from components.platform.values.flagger import NAMESPACE as FLAGGER_NAMESPACE
from components.platform.values.istio import INGRESS_NAMESPACE
from components.platform.values.keda import NAMESPACE as KEDA_NAMESPACE
from stacks import images
from stacks import secret_keys as keys
from stacks.config_automation import N8N_PORT, sign_in, smoke_test
from stacks.config_harbor import signed_globs
from stacks.config_observability import (
    collector_namespace,
    keda_reads_metrics,
    prometheus_url,
    scraped_namespaces,
    tracing_service,
)
from stacks.model import EstateConfig
from stacks.naming import cluster_location, cluster_name
from stacks.rules_cells import cells_namespaces, harbor_pull_namespaces, namespace_secrets

MIGRATION_SECRET = keys.DB_ADMIN_PASSWORD
SECRET_VALUE_KEY = keys.SECRET_VALUE_KEY


@dataclass(frozen=True)
class PlatformLayer:
    namespaces: Namespaces
    certs: CertManager
    secrets: ExternalSecrets
    credentials: Credentials
    mesh: Mesh
    signing: Signing
    backup: Backup
    migration: PgVectorMigration
    guardrails: Guardrails  # pods of application namespaces are admitted only if they pass it
    keda: keda.Keda  # event-driven autoscaling: ScaledObjects wait for its chart
    flagger: Flagger | None  # the cells' releases, when a cell is released by canary or blue/green
    # What later layers install charts with: the chart context (images, cluster) and the pins.
    ctx: ChartContext
    pins: Mapping[str, ChartPin]


def pinned_images(cfg: EstateConfig, refs: Mapping[str, pulumi.Output[str]]) -> dict[str, PinnedImage]:
    """Each configured image as repository (from config, known at preview) and digest (the lookup's)."""
    out = {}
    for key, img in cfg.registry.images.items():
        ref = images.resolve(img.image, img.tag, cfg.region, cfg.project)
        repository = images.repository_path(ref, cfg.region, cfg.project)
        out[key] = PinnedImage(repository=repository, digest=refs[key].apply(lambda r: r.split("@", 1)[1]), tag=img.tag)
    return out


def chart_context(cfg: EstateConfig, cloud: CloudLayer) -> ChartContext:
    return ChartContext(
        environment=cfg.environment,
        project=cfg.project,
        region=cfg.region,
        cluster_name=cluster_name(cfg.prefix),
        cluster_location=cluster_location(cfg.region, cfg.cluster.regional, cfg.cluster.zones),
        images=pinned_images(cfg, cloud.registry.images),
    )


def image_exemptions(cfg: EstateConfig, pinned: Mapping[str, PinnedImage]) -> dict[str, Exemption]:
    """What Binary Authorization admits without an attestation: each configured upstream image that
    comes through a pull-through cache, exactly, at the digest the registry lookup resolved. They
    are upstream releases we cannot sign; anything else written through a cache is refused."""
    caches = images.remote_repositories(img.image for img in cfg.registry.images.values())
    out: dict[str, Exemption] = {}
    for key, img in sorted(cfg.registry.images.items()):
        ref = images.resolve(img.image, img.tag, cfg.region, cfg.project)
        if ref.repository in caches:
            image = pinned[key]  # the chart context's: repository path and the lookup's digest
            reason = f"upstream release through our {ref.repository} pull-through cache ({caches[ref.repository]})"
            tagged = pulumi.Output.concat(image.repository, ":", image.tag, "@", image.digest)
            out[image.repository] = Exemption(reason=reason, refs=(image.ref, tagged))
    return out


def guarded_namespaces(cfg: EstateConfig) -> tuple[list[str], list[str]]:
    """(refused, audited): the application namespaces where the admission guardrails deny a failing
    pod, and those where operators make pods from templates no gate here has seen (Kafka, Harbor,
    the metrics stack), where they warn and audit (components.platform.guardrails)."""
    operated = {cfg.kafka.namespace, cfg.harbor.namespace, cfg.observability.namespace}
    # The sandbox's Jobs are the orchestrator's: held to the same images and security contexts.
    sandbox = {cfg.sandbox.namespace} if cfg.sandbox.enabled else set()
    return sorted((set(cfg.namespaces) - operated) | sandbox), sorted(set(cfg.namespaces) & operated)


def mesh_callers(cfg: EstateConfig) -> dict[str, dict[str, tuple[str, str]]]:
    """Application namespace -> caller name -> (namespace, service account); "ingress" is the gateway.
    A namespace that holds cells admits the gateway cell by cell (components.cells), only to those
    with public routes, so not here."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    with_cells = cells_namespaces(cfg.cells)
    for ns, spec in scraped_namespaces(cfg.observability, cfg.namespaces).items():
        callers = {name: (c.namespace, c.service_account) for name, c in spec.callers.items()}
        if spec.ingress and ns not in with_cells:
            callers["ingress"] = ("istio-ingress", "istio-ingressgateway")
        out[ns] = callers
    return out


def redis_clients(cfg: EstateConfig) -> list[str]:
    """The platform namespaces that get the Redis client Secret (components.kube.redis_client):
    KEDA's when a cell scales on a Redis Streams lag, the gateway's when a route is rate-limited."""
    out = []
    if any(c.queue is not None for c in cfg.cells.values()):
        out.append(KEDA_NAMESPACE)
    if any(r.rate_limit is not None for c in cfg.cells.values() for r in c.routes.values()):
        out.append(INGRESS_NAMESPACE)
    return out


def wanted_credentials(cfg: EstateConfig) -> Wanted:
    """Each secret a workload names reaches its namespace as a Kubernetes Secret of the same name
    (`identity.workloads.<w>.secrets`), holding the value under `value`; KEDA's namespace gets the
    Redis client Secret where KEDA or the gateway's rate limiter reads Redis (`redis_clients`)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for ns in sorted({wl.namespace for wl in cfg.identity.workloads.values()}):
        # The same list the cells' rules check a cell's secrets against.
        if synced := namespace_secrets(cfg, ns):
            out[ns] = {key: {SECRET_VALUE_KEY: keys.secret_id(cfg.prefix, key)} for key in synced}
    for ns in redis_clients(cfg):
        out[ns] = redis_client.data(lambda key: keys.secret_id(cfg.prefix, key))
    return out


def build_platform(cfg: EstateConfig, cloud: CloudLayer) -> PlatformLayer:
    prefix, env, prod = cfg.prefix, cfg.environment, cfg.environment == "prod"
    provider = cloud.kube.provider
    ctx = chart_context(cfg, cloud)
    pins = cfg.pins
    domain = cfg.dns.domain or ""
    keda_reads = keda_reads_metrics(cfg.observability, cfg.inference)
    smoke = smoke_test(cfg.automation, cfg.identity.workloads)
    # Charts wait for their pods to be ready, so they need nodes: the pools, not just the cluster.
    nodes = cloud.pools
    namespaces = Namespaces(
        f"{prefix}-namespaces",
        NamespacesArgs(
            # Each application namespace admits the metrics stack's Prometheus (its scraper).
            namespaces=scraped_namespaces(cfg.observability, cfg.namespaces),
            private_services_range=cloud.cidrs.private_services,
            provider=provider,
            protect_data=prod,
            pins=pins,
            control_plane_ranges=cloud.cluster.control_plane_ranges,
            scraper=cfg.observability.namespace if cfg.observability.enabled else None,
            collector=collector_namespace(cfg.observability),
            keda_reads_metrics=keda_reads,
            smoke_test=(smoke.namespace, N8N_PORT) if smoke and cfg.observability.enabled else None,
        ),
    )
    ns = namespaces.namespaces
    certs = CertManager(
        f"{prefix}-certs",
        CertManagerArgs(
            ctx=ctx,
            pins=pins,
            provider=provider,
            cluster=nodes,
            apis=cloud.apis,
            namespaces=ns,
            dns=cfg.dns,
            certificates=cfg.certificates,
        ),
    )
    secrets = ExternalSecrets(
        f"{prefix}-external-secrets",
        ExternalSecretsArgs(ctx=ctx, pins=pins, provider=provider, namespaces=ns, nodes=nodes),
    )
    credentials = Credentials(
        f"{prefix}-credentials",
        CredentialsArgs(
            project=cfg.project,
            environment=env,
            wanted=wanted_credentials(cfg),
            provider=provider,
            cluster=cloud.cluster,
            apis=cloud.apis,
            namespaces=ns,
            secrets_operator=secrets,
            sources={keys.secret_id(prefix, key): secret for key, secret in cloud.secrets.items()},
            templates={ns: redis_client.templates() for ns in redis_clients(cfg)},
            # Harbor's pull Secret: the data layer grants and syncs it (components/data/harbor_pull).
            identities_for=frozenset(harbor_pull_namespaces(cfg)),
        ),
    )
    mesh = Mesh(
        f"{prefix}-mesh",
        MeshArgs(
            ctx=ctx,
            config=cfg.mesh,
            domain=domain,
            pins=pins,
            provider=provider,
            cluster=nodes,
            apis=cloud.apis,
            namespaces=ns,
            dns_zone_name=zone_name(domain),
            dns_zone=certs,
            issuer=LETSENCRYPT,
            cert_manager=certs,
            app_namespaces=mesh_callers(cfg),
            tracing=tracing_service(cfg.observability),
            sign_in=sign_in(cfg.automation),
        ),
    )
    signing = Signing(
        f"{prefix}-signing",
        SigningArgs(
            ctx=ctx,
            config=cfg.signing,
            prefix=prefix,
            key_ring_id=cloud.keys.ring_id,
            pins=pins,
            provider=provider,
            cluster=nodes,
            apis=cloud.apis,
            namespaces=ns,
            exempt_images=image_exemptions(cfg, ctx.images),
            # Harbor's projects (the data layer serves them; their names are config).
            verified_globs=signed_globs(cfg.harbor, domain),
            labels=labels(env, "signing"),
            registry=cloud.registry,
        ),
    )
    backup = Backup(
        f"{prefix}-backup",
        BackupArgs(
            project=cfg.project,
            region=cfg.region,
            prefix=prefix,
            cluster_id=cloud.cluster.cluster.id,
            kms_key_id=cloud.keys.key_ids["backup"],
            key_grant=cloud.keys.grants["backup"],
            namespaces=sorted(n for n, spec in cfg.namespaces.items() if spec.holds_data),
            config=cfg.backup,
            labels=labels(env, "backup"),
            protect=prod,
            cluster=nodes,
            apis=cloud.apis,
        ),
    )
    autoscaler = keda.Keda(
        f"{prefix}-keda",
        keda.KedaArgs(
            ctx=ctx,
            pins=pins,
            provider=provider,
            internal_issuer=certs.internal_issuer,
            # In the ambient mesh when it reads Prometheus: ztunnel runs first.
            depends_on=[ns[KEDA_NAMESPACE], nodes, certs, *(mesh.data_plane if keda_reads else [])],
            ambient_operator=keda_reads,
            redis_secret=credentials.secrets[KEDA_NAMESPACE][redis_client.SECRET]
            if KEDA_NAMESPACE in redis_clients(cfg)
            else None,
        ),
    )
    releases = None
    if any(c.release.strategy != "rolling" for c in cfg.cells.values()):
        releases = Flagger(
            f"{prefix}-flagger",
            FlaggerArgs(
                ctx=ctx,
                pins=pins,
                provider=provider,
                prometheus=prometheus_url(cfg.observability.namespace),
                depends_on=[ns[FLAGGER_NAMESPACE], nodes, *mesh.data_plane],
            ),
        )
    enforced, audited = guarded_namespaces(cfg)
    guardrails = Guardrails(
        f"{prefix}-guardrails",
        GuardrailsArgs(
            registries=[images.registry_host(cfg.region, cfg.project)],
            enforced=enforced,
            audited=audited,
            provider=provider,
            depends_on=[cloud.cluster],
        ),
    )
    migrator = cfg.identity.workloads["db-migrate"]
    migration = PgVectorMigration(
        f"{prefix}-pgvector",
        PgVectorArgs(
            namespace=migrator.namespace,
            service_account=migrator.service_account,
            gcp_service_account=cloud.workloads.emails["db-migrate"],
            connection_name=cloud.database.connection_name,
            database=cfg.database.migration_database,
            admin_user=cloud.database.admin_user,
            credentials_secret=MIGRATION_SECRET,
            credentials_key=SECRET_VALUE_KEY,
            generated=generated_migrations(cfg),
            proxy_image=cloud.registry.images["cloud-sql-proxy"],
            psql_image=cloud.registry.images["postgres-client"],
            provider=provider,
            environment=env,
            depends_on=(
                *cloud.database.ready,
                nodes,
                cloud.workloads,
                ns[migrator.namespace],
                credentials.secrets[migrator.namespace][MIGRATION_SECRET],
                guardrails,
            ),
        ),
    )
    return PlatformLayer(
        namespaces=namespaces,
        certs=certs,
        secrets=secrets,
        credentials=credentials,
        mesh=mesh,
        signing=signing,
        backup=backup,
        migration=migration,
        guardrails=guardrails,
        keda=autoscaler,
        flagger=releases,
        ctx=ctx,
        pins=pins,
    )
