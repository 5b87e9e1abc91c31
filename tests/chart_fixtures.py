"""A plan with Charts of the test chart (tests/charts/gated), and chart caches holding it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pulumi
import pulumi_kubernetes as k8s

from tests.conftest import registry
from tools.plan import Plan, record

TEST_CHART = Path(__file__).resolve().parent / "charts" / "gated"
REPO = "https://charts.example.com/stable"
OCI_REPO = "oci://registry.example.com/charts"
VERSION = "0.3.0"
# From the dev stack's registry, which the policy tests allow: the pack finds only the root Deployment.
IMAGE = f"{registry('dev')}/images/gated@sha256:" + "2" * 64


def fill_cache(cache: Path) -> Path:
    """The packaged test chart where the cache looks for both of its pins."""
    for key in ("charts.example.com_stable", "registry.example.com_charts"):
        (cache / key).mkdir(parents=True, exist_ok=True)
        helm_python.package(TEST_CHART, destination=cache / key)
    return cache


def chart_program() -> None:
    """Charts as a component of the program would declare them (the real SDK records the inputs)."""
    provider = k8s.Provider("kube", k8s.ProviderArgs(kubeconfig="unused"))
    scoped = k8s.Provider("kube-scoped", k8s.ProviderArgs(kubeconfig="unused", namespace="team"))
    platform = pulumi.ComponentResource("estate:platform:Platform", "platform")
    k8s.helm.v4.Chart(
        "gated",
        k8s.helm.v4.ChartArgs(
            chart="gated",
            version=VERSION,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=REPO),
            namespace="apps",
            values={"image": IMAGE},
        ),
        opts=pulumi.ResourceOptions(parent=platform, provider=provider),
    )
    k8s.helm.v4.Chart(
        "gated-oci",
        k8s.helm.v4.ChartArgs(
            chart=f"{OCI_REPO}/gated",
            version=VERSION,
            name="custom",
            resource_prefix="",
            skip_crds=True,
            values={"image": IMAGE, "runAsNonRoot": True},
        ),
        opts=pulumi.ResourceOptions(parent=platform, provider=scoped),
    )


def chart_plan() -> Plan:
    plan = record(chart_program, stack="dev", config={})
    assert plan.ok, plan.error
    return plan


def chart_inputs(**inputs: Any) -> dict[str, Any]:
    return {"chart": "gated", "version": VERSION, "repositoryOpts": {"repo": REPO}, **inputs}
