"""Prometheus Operator monitors (monitoring.coreos.com/v1) every layer that wants its pods scraped
builds from: PodMonitor and ServiceMonitor specs, typed and checked against the CRDs in tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from components.kube.custom import Spec

API_VERSION = "monitoring.coreos.com/v1"


class SecretKey(Spec):
    name: str
    key: str


class Authorization(Spec):
    type: Literal["Bearer"] = "Bearer"
    credentials: SecretKey  # a Secret in the monitor's namespace


class Endpoint(Spec):
    port: str
    path: str = "/metrics"
    interval: str = "30s"
    honor_labels: bool | None = None
    authorization: Authorization | None = None


class NamespaceSelector(Spec):
    match_names: list[str] = Field(min_length=1)


class Requirement(Spec):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(Spec):
    match_labels: dict[str, str] = Field(min_length=1)
    match_expressions: list[Requirement] | None = None


class PodMonitorSpec(Spec):
    job_label: str | None = None
    pod_target_labels: list[str] | None = None  # pod labels copied onto every series (`.` and `/` become `_`)
    namespace_selector: NamespaceSelector
    selector: LabelSelector
    pod_metrics_endpoints: list[Endpoint] = Field(min_length=1)


class ServiceMonitorSpec(Spec):
    job_label: str | None = None
    namespace_selector: NamespaceSelector
    selector: LabelSelector
    endpoints: list[Endpoint] = Field(min_length=1)


def monitor(kind: str, name: str, namespace: str, spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.dump(),
    }
