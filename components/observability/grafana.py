"""Grafana, from kube-prometheus-stack's grafana subchart: reached only over HTTPS through the
gateway on its own name, never anonymously (its admin account, and Google sign-in once its OAuth
client exists), its secrets from Secret Manager, its own database on a persistent volume, and no
calls home. The chart's datasources (Prometheus, Alertmanager) and dashboards load through its
sidecar.
"""

from __future__ import annotations

from typing import Any

from components.kube.values import CONTAINER_SECURITY, SSD_STORAGE_CLASS, SYSTEM_NODES, ChartContext, resources
from components.observability.values_kps import image
from stacks.config_observability import GRAFANA_SERVICE, Grafana

ADMIN_SECRET = "grafana-admin"  # admin.existingSecret: keys admin-user, admin-password
OAUTH_SECRET = "grafana-google-oauth"  # mounted as files: client_id, client_secret
OAUTH_DIR = "/etc/secrets/google-oauth"
ADMIN_PASSWORD = "grafana-admin-password"  # Secret Manager keys (with the stack prefix)
OAUTH_CLIENT_ID = "grafana-oauth-client-id"
OAUTH_CLIENT_SECRET = "grafana-oauth-client-secret"


def wanted(secret_id: Any, cfg: Grafana) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Kubernetes Secret -> key -> Secret Manager id, and the templates that shape them."""
    data = {ADMIN_SECRET: {"password": secret_id(ADMIN_PASSWORD)}}
    templates = {ADMIN_SECRET: {"admin-user": "admin", "admin-password": "{{ .password }}"}}
    if cfg.google_sign_in.enabled:
        data[OAUTH_SECRET] = {"client_id": secret_id(OAUTH_CLIENT_ID), "client_secret": secret_id(OAUTH_CLIENT_SECRET)}
    return data, templates


def grafana_ini(host: str, cfg: Grafana) -> dict[str, Any]:
    ini: dict[str, Any] = {
        "server": {"root_url": f"https://{host}", "domain": host},
        "auth.anonymous": {"enabled": False},
        "users": {"allow_sign_up": False},
        # No calls home: the namespace lets nothing out but what it needs.
        "analytics": {"reporting_enabled": False, "check_for_updates": False, "check_for_plugin_updates": False},
        "security": {"cookie_secure": True, "disable_gravatar": True},
    }
    g = cfg.google_sign_in
    if g.enabled:
        ini["auth.google"] = {
            "enabled": True,
            "client_id": f"$__file{{{OAUTH_DIR}/client_id}}",
            "client_secret": f"$__file{{{OAUTH_DIR}/client_secret}}",
            "scopes": "openid email profile",
            "allowed_domains": " ".join(g.allowed_domains),
            "allow_sign_up": True,
        }
    return ini


PROMETHEUS_UID, LOKI_UID, TEMPO_UID = "prometheus", "loki", "tempo"


def datasources(*, loki: str | None, tenant: str, tempo: str | None) -> list[dict[str, Any]]:
    """Loki and Tempo beside the chart's Prometheus, linked both ways: a log line's `trace_id`
    (structured metadata of OTLP logs) opens its trace, a span opens its service's logs around it
    and its metrics; Prometheus' exemplars open their traces (`exemplars` below)."""
    out: list[dict[str, Any]] = []
    if loki:
        link = {"name": "TraceID", "matcherType": "label", "matcherRegex": "trace_id", "url": "${__value.raw}"}
        out.append(
            {
                "name": "Loki",
                "uid": LOKI_UID,
                "type": "loki",
                "access": "proxy",
                "url": loki,
                # Loki is multi-tenant: every query names the estate's tenant.
                "jsonData": {
                    "httpHeaderName1": "X-Scope-OrgID",
                    "derivedFields": [{**link, "datasourceUid": TEMPO_UID}] if tempo else [],
                },
                "secureJsonData": {"httpHeaderValue1": tenant},
            }
        )
    if tempo:
        json_data: dict[str, Any] = {
            "nodeGraph": {"enabled": True},
            "serviceMap": {"datasourceUid": PROMETHEUS_UID},
            "tracesToMetrics": {"datasourceUid": PROMETHEUS_UID},
        }
        if loki:
            json_data["tracesToLogsV2"] = {
                "datasourceUid": LOKI_UID,
                "spanStartTimeShift": "-5m",
                "spanEndTimeShift": "5m",
                "filterByTraceID": True,
            }
            json_data["lokiSearch"] = {"datasourceUid": LOKI_UID}
        out.append(
            {"name": "Tempo", "uid": TEMPO_UID, "type": "tempo", "access": "proxy", "url": tempo, "jsonData": json_data}
        )
    return out


def grafana_values(
    ctx: ChartContext,
    cfg: Grafana,
    *,
    host: str,
    namespace: str,
    loki: str | None = None,
    tenant: str = "",
    tempo: str | None = None,
) -> dict[str, Any]:
    """The subchart's values (under `grafana` in kube-prometheus-stack's); `loki`/`tempo`: their
    query URLs where the stack runs them."""
    if not cfg.enabled:
        return {"enabled": False}
    hardened = dict(CONTAINER_SECURITY)
    out: dict[str, Any] = {
        "enabled": True,
        "fullnameOverride": GRAFANA_SERVICE,
        "image": image(ctx.images["grafana"]),
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        # No chart hooks and no root init container: the pod's fsGroup owns the volume.
        "testFramework": {"enabled": False},
        "initChownData": {"enabled": False},
        "persistence": {
            "enabled": True,
            "type": "pvc",
            "storageClassName": SSD_STORAGE_CLASS,
            "size": f"{cfg.storage_gb}Gi",
            "lookupVolumeName": False,
        },
        # One ReadWriteOnce volume: the old pod lets go of it before the new one starts.
        "deploymentStrategy": {"type": "Recreate"},
        "containerSecurityContext": hardened,
        "extraEmptyDirMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "sidecar": {
            "image": image(ctx.images["grafana-sidecar"]),
            "securityContext": hardened,
            "resources": resources("50m", "128Mi", cpu_limit="200m"),
            # Its own namespace's ConfigMaps only (kube-prometheus-stack's default watches every
            # namespace's ConfigMaps and Secrets, through a ClusterRole that can read all Secrets).
            "dashboards": {"searchNamespace": namespace, "resource": "configmap"},
            "datasources": {
                "resource": "configmap",
                "uid": PROMETHEUS_UID,
                **(
                    {
                        "exemplarTraceIdDestinations": {
                            "datasourceUid": TEMPO_UID,
                            "traceIdLabelName": "trace_id",
                            "urlDisplayLabel": "Trace",
                        }
                    }
                    if tempo
                    else {}
                ),
            },
        },
        "rbac": {"namespaced": True},
        "grafana.ini": grafana_ini(host, cfg),
        "resources": resources("200m", "512Mi", cpu_limit="1"),
        "nodeSelector": dict(SYSTEM_NODES),
    }
    if sources := datasources(loki=loki, tenant=tenant, tempo=tempo):
        out["additionalDataSources"] = sources
    if cfg.google_sign_in.enabled:
        out["extraSecretMounts"] = [
            {"name": "google-oauth", "secretName": OAUTH_SECRET, "mountPath": OAUTH_DIR, "readOnly": True}
        ]
    return out
