"""cert-manager's issuers for the estate, as typed manifests (cert-manager.io/v1).

- `letsencrypt`: ACME (staging in dev, production in prod), DNS-01 through Cloud DNS with the
  controller's ambient Workload Identity credentials (no `serviceAccountSecretRef`: no key file).
- `estate-internal-ca`: a private CA for in-cluster TLS the mesh does not cover, bootstrapped by a
  self-signed ClusterIssuer that signs nothing but the CA certificate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.kube.custom import Manifest, Spec
from components.platform.values.cert_manager import NAMESPACE

API = "cert-manager.io/v1"
LETSENCRYPT = "letsencrypt"
INTERNAL_CA = "estate-internal-ca"
BOOTSTRAP = "estate-selfsigned-bootstrap"
CA_SECRET = "estate-internal-ca"  # read by the CA issuer from the cluster resource namespace (cert-manager's)


class SecretRef(Spec):
    name: str


class CloudDns(Spec):
    project: str
    # Set, so the solver never lists the project's zones (clouddns.go getHostedZone returns it as is).
    hosted_zone_name: str


class Dns01(Spec):
    cloud_dns: CloudDns = Field(alias="cloudDNS")


class Selector(Spec):
    dns_zones: list[str]


class Solver(Spec):
    dns01: Dns01
    selector: Selector


class Acme(Spec):
    server: str
    email: str
    private_key_secret_ref: SecretRef
    solvers: list[Solver]


class AcmeIssuerSpec(Spec):
    acme: Acme


class Empty(Spec):
    pass


class SelfSignedIssuerSpec(Spec):
    self_signed: Empty = Empty()


class CaRef(Spec):
    secret_name: str


class CaIssuerSpec(Spec):
    ca: CaRef


class IssuerRef(Spec):
    name: str
    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    group: str = "cert-manager.io"


class PrivateKey(Spec):
    algorithm: Literal["ECDSA", "RSA", "Ed25519"]
    size: int
    # The CA keeps its key across renewals, so certificates it already signed keep chaining to
    # the renewed CA certificate (cert-manager's default since v1.18 is Always).
    rotation_policy: Literal["Never", "Always"]


class Subject(Spec):
    organizations: list[str]


class CertificateSpec(Spec):
    is_ca: bool = Field(alias="isCA")
    common_name: str
    subject: Subject
    secret_name: str
    duration: str
    renew_before: str
    private_key: PrivateKey
    issuer_ref: IssuerRef


def letsencrypt(*, server: str, email: str, project: str, zone_name: str, domain: str) -> Manifest:
    """The Let's Encrypt ClusterIssuer, solving DNS-01 only for `domain` and its subdomains."""
    solver = Solver(
        dns01=Dns01(cloud_dns=CloudDns(project=project, hosted_zone_name=zone_name)),
        selector=Selector(dns_zones=[domain]),
    )
    spec = AcmeIssuerSpec(
        acme=Acme(
            server=server,
            email=email,
            private_key_secret_ref=SecretRef(name=f"{LETSENCRYPT}-account-key"),
            solvers=[solver],
        )
    )
    return Manifest(API, "ClusterIssuer", LETSENCRYPT, spec)


def bootstrap_issuer() -> Manifest:
    return Manifest(API, "ClusterIssuer", BOOTSTRAP, SelfSignedIssuerSpec())


def internal_ca_certificate(environment: str) -> Manifest:
    """The internal CA: ECDSA P-256, ten years, renewed a year ahead with the same key."""
    spec = CertificateSpec(
        is_ca=True,
        common_name=f"ai-estate {environment} internal CA",
        subject=Subject(organizations=["ai-estate"]),
        secret_name=CA_SECRET,
        duration="87600h",
        renew_before="8760h",
        private_key=PrivateKey(algorithm="ECDSA", size=256, rotation_policy="Never"),
        issuer_ref=IssuerRef(name=BOOTSTRAP),
    )
    # Waited for, so the CA issuer is created once its key pair exists.
    return Manifest(API, "Certificate", INTERNAL_CA, spec, namespace=NAMESPACE, wait_for_condition="Ready")


def internal_ca_issuer() -> Manifest:
    return Manifest(API, "ClusterIssuer", INTERNAL_CA, CaIssuerSpec(ca=CaRef(secret_name=CA_SECRET)))
