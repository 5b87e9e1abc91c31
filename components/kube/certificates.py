"""cert-manager Certificates (cert-manager.io/v1) for serving TLS: the spec every layer issues
from a ClusterIssuer (the estate's ACME issuer for public names, its internal CA inside)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.kube.custom import Spec

API_VERSION = "cert-manager.io/v1"


class IssuerRef(Spec):
    name: str
    kind: Literal["ClusterIssuer"] = "ClusterIssuer"
    group: Literal["cert-manager.io"] = "cert-manager.io"


class PrivateKey(Spec):
    algorithm: Literal["ECDSA"] = "ECDSA"
    size: Literal[256] = 256
    # A new key at every renewal: a leaked key is worth one certificate's lifetime.
    rotation_policy: Literal["Always"] = "Always"


class CertificateSpec(Spec):
    secret_name: str
    dns_names: list[str] = Field(min_length=1)
    ip_addresses: list[str] | None = None
    usages: list[str] | None = None
    issuer_ref: IssuerRef
    private_key: PrivateKey = PrivateKey()
