"""The workflow platforms of seed 000 (`ai-estate:automation`): Windmill, behind a sign-in at the gateway."""

from components.automation.build import AutomationLayer, build_automation

__all__ = ["AutomationLayer", "build_automation"]
