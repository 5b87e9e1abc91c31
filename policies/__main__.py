"""The ai-estate CrossGuard pack. Constructing PolicyPack serves the analyzer over gRPC
until the engine stops it, so nothing else happens here and tests never import this file."""

from estate_policies import ALL_POLICIES
from estate_policies.decoding import share_property_decoding
from pulumi_policy import EnforcementLevel, PolicyPack

share_property_decoding()
PolicyPack(
    name="ai-estate-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    description="Guardrails for the ai-estate platform on Google Cloud.",
)
