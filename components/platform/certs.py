"""cert-manager with Cloud DNS DNS-01 through Workload Identity, the estate's public DNS zone,
a Let's Encrypt ClusterIssuer and an internal CA issuer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.common import child, labels
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import Manifest, custom_resource
from components.kube.values import ChartContext
from components.platform import issuers
from components.platform.values.cert_manager import NAMESPACE, RELEASE, cert_manager_values
from stacks.config_certs import CertificatesConfig, DnsConfig

# What cert-manager's Cloud DNS solver calls once `hostedZoneName` is set (pkg/issuer/acme/dns/
# clouddns/clouddns.go: ResourceRecordSets.List, Changes.Create, Changes.Get) and the record-set
# permissions a change needs. Nothing that reads, edits or deletes the zone itself, which the
# predefined roles/dns.admin would also allow on it.
DNS01_PERMISSIONS = (
    "dns.changes.create",
    "dns.changes.get",
    "dns.resourceRecordSets.create",
    "dns.resourceRecordSets.delete",
    "dns.resourceRecordSets.list",
    "dns.resourceRecordSets.update",
)
ZONE_NAME_MAX = 63


def zone_name(domain: str) -> str:
    """A Cloud DNS zone name for `domain`: dots become dashes, a hash keeps long names unique."""
    name = domain.replace(".", "-")
    if not name[0].isalpha():
        name = f"zone-{name}"
    if len(name) > ZONE_NAME_MAX:
        digest = hashlib.sha256(domain.encode()).hexdigest()[:8]
        name = f"{name[: ZONE_NAME_MAX - 9].rstrip('-')}-{digest}"
    return name


def service_account_id(environment: str) -> str:
    return f"{environment}-cert-manager"


def dns01_role_id(environment: str) -> str:
    return f"estate.{environment}.dns01Solver"


def ksa_member(project: str) -> str:
    """The controller's Kubernetes service account as a Workload Identity principal."""
    return f"serviceAccount:{project}.svc.id.goog[{NAMESPACE}/{RELEASE}]"


@dataclass(frozen=True)
class CertManagerArgs:
    ctx: ChartContext
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    cluster: pulumi.Resource  # the identity pool exists once the cluster does
    apis: pulumi.Resource  # dns, iam, iamcredentials and sts must be enabled first
    namespaces: Mapping[str, pulumi.Resource]
    dns: DnsConfig
    certificates: CertificatesConfig


class CertManager(pulumi.ComponentResource):
    zone_name: pulumi.Output[str]
    name_servers: pulumi.Output[Sequence[str]]
    ds_records: pulumi.Output[list[str]]  # for the parent zone: DNSSEC validates only once they are there
    dns_service_account: pulumi.Output[str]
    chart: k8s.helm.v4.Chart
    issuers: dict[str, k8s.apiextensions.CustomResource]  # ClusterIssuer name -> resource
    acme_issuer: str  # publicly trusted certificates for names in the domain (DNS-01)
    internal_issuer: str  # the estate's internal CA: in-cluster TLS

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:certs:CertManager", name, None, opts)
        ctx, domain = args.ctx, args.dns.domain
        if domain is None or args.certificates.acme_email is None:
            raise ValueError("dns.domain and certificates.acmeEmail are required (stacks.config_certs.check)")
        env = ctx.environment

        # Protected in prod: a recreated zone gets new name servers and DNSSEC keys, so the parent's
        # NS and DS records would point at nothing and the whole domain, gateway included, goes dark.
        zone = gcp.dns.ManagedZone(
            f"{name}-zone",
            gcp.dns.ManagedZoneArgs(
                name=zone_name(domain),
                dns_name=f"{domain}.",
                description=f"ai-estate {env}: public names of the estate and DNS-01 challenges",
                visibility="public",
                dnssec_config=gcp.dns.ManagedZoneDnssecConfigArgs(state="on" if args.dns.dnssec else "off"),
                # Outside prod a destroy must not stop on records left behind (an ACME challenge
                # cert-manager did not clean up); in prod the zone is protected and keeps them.
                force_destroy=not ctx.prod,
                labels=labels(env, "certs"),
                project=ctx.project,
            ),
            opts=child(self, depends_on=[args.apis], protect=ctx.prod),
        )
        gsa = gcp.serviceaccount.Account(
            f"{name}-gsa",
            gcp.serviceaccount.AccountArgs(
                account_id=service_account_id(env),
                display_name=f"cert-manager DNS-01 ({NAMESPACE}/{RELEASE})",
                project=ctx.project,
            ),
            opts=child(self, depends_on=[args.apis]),
        )
        role_id = dns01_role_id(env)
        role = gcp.projects.IAMCustomRole(
            f"{name}-dns01-role",
            gcp.projects.IAMCustomRoleArgs(
                role_id=role_id,
                title=f"ai-estate {env} DNS-01 solver",
                description="Create and remove ACME challenge records in one zone (granted on the zone only).",
                permissions=list(DNS01_PERMISSIONS),
                project=ctx.project,
            ),
            opts=child(self, depends_on=[args.apis]),
        )
        zone_grant = gcp.dns.DnsManagedZoneIamMember(
            f"{name}-dns01",
            gcp.dns.DnsManagedZoneIamMemberArgs(
                managed_zone=zone.name,
                role=f"projects/{ctx.project}/roles/{role_id}",
                member=gsa.member,
                project=ctx.project,
            ),
            opts=child(self, depends_on=[role]),
        )
        identity = gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            gcp.serviceaccount.IAMMemberArgs(
                service_account_id=gsa.name, role="roles/iam.workloadIdentityUser", member=ksa_member(ctx.project)
            ),
            opts=child(self, depends_on=[args.cluster]),
        )

        values = cert_manager_values(ctx, gsa_email=ctx.gsa_email(service_account_id(env)))
        self.chart = install(
            self,
            f"{name}-chart",
            Release(args.pins["cert-manager"], NAMESPACE, values, release_name=RELEASE),
            provider=args.provider,
            # The first challenge should find its identity and permission already in place.
            depends_on=[args.namespaces[NAMESPACE], identity, zone_grant],
        )

        def cr(role_name: str, manifest: Manifest, *after: pulumi.Resource) -> k8s.apiextensions.CustomResource:
            return custom_resource(
                self, f"{name}-{role_name}", manifest, provider=args.provider, depends_on=[self.chart, *after]
            )

        acme = cr(
            "letsencrypt",
            issuers.letsencrypt(
                server=args.certificates.acme_server(env),
                email=args.certificates.acme_email,
                project=ctx.project,
                zone_name=zone_name(domain),
                domain=domain,
            ),
            zone,
        )
        bootstrap = cr("ca-bootstrap", issuers.bootstrap_issuer())
        ca_cert = cr("ca-certificate", issuers.internal_ca_certificate(env), bootstrap)
        ca = cr("internal-ca", issuers.internal_ca_issuer(), ca_cert)

        if args.dns.dnssec:
            keys = gcp.dns.get_keys_output(
                managed_zone=zone.id, project=ctx.project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.ds_records = keys.key_signing_keys.apply(lambda ksks: [k.ds_record for k in ksks])
        else:
            self.ds_records = pulumi.Output.from_input([])
        self.zone_name = zone.name
        self.name_servers = zone.name_servers
        self.dns_service_account = gsa.email
        self.issuers = {issuers.LETSENCRYPT: acme, issuers.INTERNAL_CA: ca}
        self.acme_issuer, self.internal_issuer = issuers.LETSENCRYPT, issuers.INTERNAL_CA
        self.register_outputs(
            {
                "zoneName": self.zone_name,
                "nameServers": self.name_servers,
                "dsRecords": self.ds_records,
                "dnsServiceAccount": gsa.email,
            }
        )
