"""The ai-estate CrossGuard pack. Constructing PolicyPack serves the analyzer over gRPC
until the engine stops it, so nothing else happens here and tests never import this file.

What depends on the stack comes from the stack. The engine starts a policy pack with the stack's
config in its environment (`PULUMI_CONFIG`, read here through `pulumi.Config`), and applies the
pack's initial config before the `--policy-pack-config` file (defaults, then the initial config,
then the file). So `estate-images-registry-allowlist` starts with the stack's own Artifact
Registry host, `<gcp:region>-docker.pkg.dev/<gcp:project>` (the host components/platform/build.py
pins every image to), and `policies/<stack>.json` names no project or region. An
`allowedRegistries` in the file replaces this list: name the stack's host there too. Without the
stack's config (`pulumi policy publish`) there is no initial config and the list stays empty.
"""

from typing import Any

import pulumi
from estate_policies import ALL_POLICIES
from estate_policies.decoding import share_property_decoding
from pulumi_policy import EnforcementLevel, PolicyPack

LEVEL = EnforcementLevel.MANDATORY
REGISTRY_ALLOWLIST = "estate-images-registry-allowlist"


def stack_initial_config() -> dict[str, Any] | None:
    gcp = pulumi.Config("gcp")
    project, region = gcp.get("project"), gcp.get("region")
    if not project or not region:
        return None
    policy = next(p for p in ALL_POLICIES if p.name == REGISTRY_ALLOWLIST)
    return {
        REGISTRY_ALLOWLIST: {
            # The engine reads a missing level as advisory: repeat the rule's own.
            "enforcementLevel": policy.enforcement_level or LEVEL,
            "allowedRegistries": [f"{region}-docker.pkg.dev/{project}"],
        }
    }


share_property_decoding()
PolicyPack(
    name="ai-estate-policies",
    enforcement_level=LEVEL,
    policies=ALL_POLICIES,
    initial_config=stack_initial_config(),
    description="Guardrails for the ai-estate platform on Google Cloud.",
)
