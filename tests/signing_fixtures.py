"""What the signing tests share: a test project, a pinned policy-controller image, signers, exemptions."""

from __future__ import annotations

from components.kube.values import ChartContext, PinnedImage
from components.platform.binauthz import Exemption

PROJECT, REGION = "ai-estate-test", "europe-west4"
DIGEST = "sha256:" + "ab" * 32
CACHE = f"{REGION}-docker.pkg.dev/{PROJECT}"
KEY_ID = f"projects/{PROJECT}/locations/{REGION}/keyRings/estate-dev/cryptoKeys/estate-dev-images"
SIGNERS = {
    "cells-ci": "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/attribute.repository/org/cells",
    "release": f"serviceAccount:release-ci@{PROJECT}.iam.gserviceaccount.com",
}
EXEMPT = {
    f"{CACHE}/dockerhub/istio/pilot": Exemption(
        "upstream release through our dockerhub pull-through cache", (f"{CACHE}/dockerhub/istio/pilot@{DIGEST}",)
    ),
    f"{CACHE}/ghcr/sigstore/policy-controller/policy-controller": Exemption(
        "upstream release through our ghcr pull-through cache",
        (f"{CACHE}/ghcr/sigstore/policy-controller/policy-controller@{DIGEST}",),
    ),
}
# Sub-trees the chart renders whole (`omit . "enabled" | toYaml`, templates/webhook/deployment_webhook.yaml),
# so every key under them reaches the pod even though the chart's defaults do not list it.


def ctx(env: str) -> ChartContext:
    image = PinnedImage(f"{CACHE}/ghcr/sigstore/policy-controller/policy-controller", DIGEST, "v0.13.1")
    return ChartContext(env, PROJECT, REGION, f"estate-{env}", REGION, {"policy-controller": image})
