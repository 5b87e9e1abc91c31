"""Values for Harbor's chart (goharbor/harbor-helm 1.19.1, Harbor 2.15.1): nothing left to the chart's
randomness, TLS from cert-manager, state outside the cluster, images from our cache by digest.

Chart v4 renders a fresh install on every `up`, so each value the chart would generate (`randAlphaNum`
secrets, `genCA` token and internal certificates, an `htpasswd` with a new salt) would change each
time and roll the pods: every one comes from an existing Secret instead (components.data.harbor_secrets),
and the internal and public certificates from cert-manager (`certSource: secret`).

- Blobs in the `registry` bucket through Workload Identity; `disableredirect`, so clients never get
  signed URLs (which under Workload Identity need `signBlob` on the registry's account).
- The database on the estate's Cloud SQL instance through our Auth Proxy Service, `sslmode: disable`
  (the proxy does mTLS to the instance; the mesh encrypts the hop to the proxy).
- The chart's own Redis, not Memorystore: Harbor needs database index 0 and writes an external
  Redis' password into ConfigMaps and its registry config in clear; the estate's work-queue
  instance is never shared. The in-cluster Redis has no password: only Harbor's components reach
  it (AuthorizationPolicy by identity and NetworkPolicy), over the mesh's mTLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import Field

from components.kube.values import CONTAINER_SECURITY, SYSTEM_NODES, ChartContext, Values, resources
from stacks.charts import chart_images
from stacks.config_harbor import HarborConfig

RELEASE = "harbor"  # contains "harbor": the chart's full name is the release name (harbor-core, ...)
SERVICE = "harbor"  # expose.clusterIP.name: nginx's Service, the gateway's backend
HTTPS_PORT = 443
REGISTRY_USER = "harbor_registry_user"  # registry.credentials.username: the user in the htpasswd
IMAGES = chart_images("harbor-")
# component -> key in CHART_IMAGES; "registry" has two images (registry and its controller).
COMPONENT_IMAGES = {
    "core": "harbor-core",
    "portal": "harbor-portal",
    "jobservice": "harbor-jobservice",
    "trivy": "harbor-trivy",
    "exporter": "harbor-exporter",
    "nginx": "harbor-nginx",
}
# Components that run with a replica count, a PDB and zone spread in prod (the chart's own list).
SCALED = ("core", "portal", "registry", "nginx", "jobservice", "exporter", "trivy")
# Harbor's images rewrite the system CA bundle at start (install_cert.sh) and nginx and the portal
# write under /tmp on the root filesystem, and the chart has no extra volumes to move them to: the
# root filesystem stays writable; everything else of the estate's container hardening applies.
HARBOR_CONTAINER_SECURITY = {k: v for k, v in CONTAINER_SECURITY.items() if k != "readOnlyRootFilesystem"}


@dataclass(frozen=True)
class SecretNames:
    """The Kubernetes Secrets (written by External Secrets or cert-manager) the chart reads."""

    admin: str
    secret_key: str
    core: str
    xsrf: str
    token: str
    jobservice: str
    registry_http: str
    registry_credentials: str
    database: str
    public_tls: str
    ca_bundle: str
    internal_tls: Mapping[str, str]  # component -> its certificate's Secret


class HarborValues(Values):
    external_url: str = Field(alias="externalURL")
    expose: dict[str, Any]
    internal_tls: dict[str, Any] = Field(alias="internalTLS")
    ip_family: dict[str, Any]
    persistence: dict[str, Any]
    existing_secret_admin_password: str
    existing_secret_admin_password_key: str
    existing_secret_secret_key: str
    ca_secret_name: str
    ca_bundle_secret_name: str
    container_security_context: dict[str, Any]
    update_strategy: dict[str, Any]
    metrics: dict[str, Any]
    cache: dict[str, Any]
    core: dict[str, Any]
    portal: dict[str, Any]
    jobservice: dict[str, Any]
    registry: dict[str, Any]
    trivy: dict[str, Any]
    exporter: dict[str, Any]
    nginx: dict[str, Any]
    database: dict[str, Any]
    redis: dict[str, Any]


def image(ctx: ChartContext, key: str) -> dict[str, Any]:
    """`repository:tag` as the templates print it, the tag carrying the digest (`v2.15.1@sha256:...`)."""
    pinned = ctx.images[key]
    return {"repository": pinned.repository, "tag": pulumi.Output.concat(pinned.tag, "@", pinned.digest)}


def _spread(prod: bool) -> list[dict[str, Any]]:
    # The chart appends each component's own label selector.
    if not prod:
        return []
    return [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
    ]


def _component(
    ctx: ChartContext, name: str, cfg: HarborConfig, service_account: str, cpu: str, memory: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "resources": resources(cpu, memory, cpu_limit=None),
        "nodeSelector": dict(SYSTEM_NODES),
    }
    if name in COMPONENT_IMAGES:
        out["image"] = image(ctx, COMPONENT_IMAGES[name])
    if name in SCALED:
        out["replicas"] = 1 if name == "trivy" else cfg.replicas
        out["podDisruptionBudget"] = {"enabled": ctx.prod}
        out["topologySpreadConstraints"] = _spread(ctx.prod)
    return out


def service_account(component: str) -> str:
    """Each component runs as its own Kubernetes service account (created by the program: the chart
    creates none), so mesh AuthorizationPolicies can name it."""
    return f"harbor-{component}"


def harbor_values(
    ctx: ChartContext,
    cfg: HarborConfig,
    *,
    host: str,
    bucket: str,
    db_host: str,
    registry_service_account: str,
    names: SecretNames,
) -> HarborValues:
    sa = service_account
    core = _component(ctx, "core", cfg, sa("core"), "500m", "1Gi")
    core |= {
        "existingSecret": names.core,
        "existingXsrfSecret": names.xsrf,
        "existingXsrfSecretKey": "CSRF_KEY",
        "secretName": names.token,
    }
    jobservice = _component(ctx, "jobservice", cfg, sa("jobservice"), "250m", "512Mi")
    # Job logs in the database: no ReadWriteOnce volume pins jobservice to one replica.
    jobservice |= {
        "existingSecret": names.jobservice,
        "existingSecretKey": "JOBSERVICE_SECRET",
        "jobLoggers": ["database"],
    }
    registry = _component(ctx, "registry", cfg, registry_service_account, "500m", "1Gi")
    # Two containers, each with its image and resources under its own key.
    del registry["resources"]
    registry |= {
        "registry": {"image": image(ctx, "harbor-registry"), "resources": resources("500m", "1Gi")},
        "controller": {"image": image(ctx, "harbor-registryctl"), "resources": resources("100m", "256Mi")},
        "existingSecret": names.registry_http,
        "existingSecretKey": "REGISTRY_HTTP_SECRET",
        "credentials": {"username": REGISTRY_USER, "existingSecret": names.registry_credentials},
    }
    trivy = _component(ctx, "trivy", cfg, sa("trivy"), "500m", "1Gi")
    trivy |= {
        "enabled": cfg.trivy.enabled,
        "dbRepository": [cfg.trivy.db_repository],
        "javaDBRepository": [cfg.trivy.java_db_repository],
        "ignoreUnfixed": cfg.trivy.ignore_unfixed,
        # No API calls to resolve Java dependencies: the databases' host is Trivy's only egress.
        "offlineScan": True,
        "insecure": False,
    }
    internal = {
        "enabled": True,
        "strong_ssl_ciphers": True,
        "certSource": "secret",
        **{component: {"secretName": secret} for component, secret in sorted(names.internal_tls.items())},
    }
    return HarborValues(
        external_url=f"https://{host}",
        expose={
            "type": "clusterIP",
            "tls": {"enabled": True, "certSource": "secret", "secret": {"secretName": names.public_tls}},
            "clusterIP": {"name": SERVICE, "ports": {"httpPort": 80, "httpsPort": HTTPS_PORT}},
        },
        internal_tls=internal,
        # The cluster is IPv4: nginx and the portal listen on no IPv6 socket.
        ip_family={"ipv6": {"enabled": False}, "ipv4": {"enabled": True}},
        persistence={
            "enabled": True,
            "persistentVolumeClaim": {"redis": {"size": "2Gi"}, "trivy": {"size": "5Gi"}},
            "imageChartStorage": {
                "disableredirect": True,
                "type": "gcs",
                "gcs": {"bucket": bucket, "rootdirectory": "/harbor", "useWorkloadIdentity": True},
            },
        },
        existing_secret_admin_password=names.admin,
        existing_secret_admin_password_key="HARBOR_ADMIN_PASSWORD",
        existing_secret_secret_key=names.secret_key,
        # The chart renders core's CA-download volume with no source unless this is set; Trivy
        # trusts the internal CA through the bundle (it pulls from core over internal TLS).
        ca_secret_name=names.ca_bundle,
        ca_bundle_secret_name=names.ca_bundle,
        container_security_context=dict(HARBOR_CONTAINER_SECURITY),
        update_strategy={"type": "RollingUpdate"},
        # The exporter and each component's metrics endpoint; the ServiceMonitor is the
        # observability layer's (its CRD is not installed here).
        metrics={"enabled": True, "serviceMonitor": {"enabled": False}},
        cache={"enabled": True, "expireHours": 24},
        core=core,
        portal=_component(ctx, "portal", cfg, sa("portal"), "100m", "256Mi"),
        jobservice=jobservice,
        registry=registry,
        trivy=trivy,
        exporter=_component(ctx, "exporter", cfg, sa("exporter"), "100m", "256Mi"),
        nginx=_component(ctx, "nginx", cfg, sa("nginx"), "250m", "256Mi"),
        database={
            "type": "external",
            "external": {
                "host": db_host,
                "port": "5432",
                "username": cfg.database_user,
                "coreDatabase": cfg.database,
                "existingSecret": names.database,
                "sslmode": "disable",
            },
            # Per pod: Cloud SQL's connection limit is shared by every replica and the estate's apps.
            "maxIdleConns": 20,
            "maxOpenConns": 50,
        },
        redis={
            "type": "internal",
            "internal": {
                "image": image(ctx, "harbor-redis"),
                "serviceAccountName": sa("redis"),
                "automountServiceAccountToken": False,
                "resources": resources("100m", "512Mi"),
                "nodeSelector": dict(SYSTEM_NODES),
            },
        },
    )
