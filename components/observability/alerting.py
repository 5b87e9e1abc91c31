"""Where alerts go: Alertmanager's configuration, built from config by a pure function.

Critical alerts page through PagerDuty, warnings go to a webhook when one is configured, and a
critical alert silences the warning of the same name and namespace. Neither the routing key nor
the webhook URL is in the configuration: each is a file (`routing_key_file`, `url_file`) that
External Secrets writes from Secret Manager into the same Secret as the configuration, which the
Prometheus Operator mounts under /etc/alertmanager/config/.
"""

from __future__ import annotations

from typing import Any

import yaml

from stacks.config_observability import Paging

CONFIG_SECRET = "estate-alertmanager"  # alertmanagerSpec.configSecret
CONFIG_KEY = "alertmanager.yaml"
CONFIG_DIR = "/etc/alertmanager/config"  # where the operator mounts the configSecret's other keys
ROUTING_KEY = "pagerduty_routing_key"
WARNING_URL = "warning_webhook_url"


def config(paging: Paging) -> dict[str, Any]:
    warnings: dict[str, Any] = {"name": "warnings"}
    if paging.warning_webhook_secret:
        warnings["webhook_configs"] = [{"url_file": f"{CONFIG_DIR}/{WARNING_URL}", "send_resolved": True}]
    return {
        "route": {
            "receiver": "warnings",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": f"{paging.repeat_hours}h",
            "routes": [
                # kube-prometheus-stack's always-firing dead man's switch: no one is paged for it.
                {"matchers": ['alertname = "Watchdog"'], "receiver": "none"},
                {"matchers": ['severity = "critical"'], "receiver": "pagerduty"},
            ],
        },
        "receivers": [
            {
                "name": "pagerduty",
                "pagerduty_configs": [{"routing_key_file": f"{CONFIG_DIR}/{ROUTING_KEY}", "send_resolved": True}],
            },
            warnings,
            {"name": "none"},
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity = "warning"'],
                "equal": ["alertname", "namespace"],
            }
        ],
    }


def secret_templates(paging: Paging) -> dict[str, str]:
    """The configSecret's keys as External Secrets templates: the configuration as written (it holds
    no template braces of its own) and each credential as its own file."""
    text = yaml.safe_dump(config(paging), sort_keys=False)
    if "{{" in text:
        raise ValueError("Alertmanager's configuration would be read as an External Secrets template")
    out = {CONFIG_KEY: text, ROUTING_KEY: "{{ ." + ROUTING_KEY + " }}"}
    if paging.warning_webhook_secret:
        out[WARNING_URL] = "{{ ." + WARNING_URL + " }}"
    return out


def secret_data(paging: Paging, secret_id: Any) -> dict[str, str]:
    """Key in the template's data -> Secret Manager id (`secret_id(key)` names it with the stack prefix)."""
    out = {ROUTING_KEY: secret_id(paging.pagerduty_secret)}
    if paging.warning_webhook_secret:
        out[WARNING_URL] = secret_id(paging.warning_webhook_secret)
    return out
