"""A typed Sigstore ClusterImagePolicy (policy.sigstore.dev/v1beta1): which images need whose signature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict

API_VERSION = "policy.sigstore.dev/v1beta1"
KIND = "ClusterImagePolicy"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ImagePattern(_Spec):
    glob: str


class KeyRef(_Spec):
    # `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`; the controller
    # fetches the public key from KMS when it reconciles the policy.
    kms: str | pulumi.Output[str]


class Authority(_Spec):
    name: str
    key: KeyRef
    # No `ctlog`: for a key authority without one the controller skips transparency-log checks
    # (pkg/webhook/validator.go: no Rekor client and no keys -> IgnoreTlog), so signatures made with
    # `cosign sign --tlog-upload=false` verify: our private images' digests stay off public Rekor.


class ClusterImagePolicySpec(_Spec):
    images: list[ImagePattern]
    authorities: list[Authority]
    mode: Literal["enforce", "warn"] = "enforce"


def signed_by_key(globs: Sequence[str], kms_uri: str | pulumi.Output[str]) -> ClusterImagePolicySpec:
    """Every image matching `globs` must carry a cosign signature made with the KMS key `kms_uri`."""
    if not globs:
        raise ValueError("a ClusterImagePolicy needs at least one image glob")
    return ClusterImagePolicySpec(
        images=[ImagePattern(glob=g) for g in globs],
        authorities=[Authority(name="estate-kms-key", key=KeyRef(kms=kms_uri))],
    )


def cosign_kms_uri(key_id: str, version: int = 1) -> str:
    """cosign's reference to one key version. With the version explicit, the signer and the verifier
    need no `cryptoKeyVersions.list` (sigstore's gcpkms client lists versions only without one)."""
    return f"gcpkms://{key_id}/cryptoKeyVersions/{version}"
