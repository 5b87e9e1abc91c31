"""Resources for the policy tests, in the providers' real property shapes (camelCase, numbers as floats)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.conftest import registry

if TYPE_CHECKING:
    from tools.analyzer import Analyzer
    from tools.plan import Plan

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REGISTRY = registry("dev")
IMAGE = f"{REGISTRY}/images/cells/api@sha256:{'a' * 64}"

POD_KINDS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTROLLED = [k for k in POD_KINDS if k != "kubernetes:core/v1:Pod"]
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
BUCKET = "gcp:storage/bucket:Bucket"
KEY = "gcp:kms/cryptoKey:CryptoKey"
PA = "kubernetes:security.istio.io/v1:PeerAuthentication"


def resource(type_: str, name: str, inputs: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": type_,
        "name": name,
        "urn": f"urn:pulumi:test::ai-estate::{type_}::{name}",
        "inputs": inputs,
        "parent": parent,
        "provider": None,
        "dependencies": [],
        "propertyDependencies": {},
        "options": {"protect": False, "ignoreChanges": [], "customTimeouts": None},
    }


def container(name: str = "app") -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001.0,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080.0}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080.0}},
        "ports": [{"containerPort": 8080.0, "name": "http"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        ],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def pod_spec() -> dict[str, Any]:
    return {
        "serviceAccountName": "cells",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 10001.0},
        "initContainers": [container("init")],
        "containers": [container()],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "config", "configMap": {"name": "cells"}},
        ],
    }


def workload(
    kind: str, spec: dict[str, Any] | None = None, namespace: str = "cells", name: str = "api"
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "apiVersion": kind.split(":")[1].split("/", 1)[-1],
        "kind": kind.rsplit(":", 1)[-1],
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name}},
    }
    node = inputs
    path = POD_KINDS[kind]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = spec if spec is not None else pod_spec()
    return resource(kind, name, inputs)


Mutation = Callable[[dict[str, Any]], object]


def mutated(mutation: Mutation) -> dict[str, Any]:
    spec = pod_spec()
    mutation(spec)
    return spec


def main(spec: dict[str, Any]) -> dict[str, Any]:
    main_container: dict[str, Any] = spec["containers"][0]
    return main_container


def sc(spec: dict[str, Any]) -> dict[str, Any]:
    security: dict[str, Any] = main(spec)["securityContext"]
    return security


def deep(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value)


def first(plan: Plan, type_: str) -> dict[str, Any]:
    """A private copy of the plan's first resource of `type_` by name, to mutate. By name, not by
    registration order, which follows the runtime's scheduling; for keys, a rotating one (the
    asymmetric signing key cannot rotate and the rotation rule rightly leaves it alone)."""
    candidates = sorted(plan.by_type(type_), key=lambda r: r["name"])
    if type_ == "gcp:kms/cryptoKey:CryptoKey":
        candidates = [r for r in candidates if r["inputs"].get("purpose", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"]
    return deep(candidates[0])


CHART_REPOS = ["https://charts.jetstack.io", "https://istio-release.storage.googleapis.com/charts"]
TEST_CONFIG: dict[str, Any] = {
    "estate-images-registry-allowlist": {"allowedRegistries": [REGISTRY, registry("prod")]},
    "estate-tls-service-exposure": {"allowedGateways": ["istio-ingress/istio-ingressgateway"]},
    "estate-charts-repository-allowlist": {"allowedChartRepositories": [*CHART_REPOS, "oci://ghcr.io/estate/charts"]},
}


def _by_policy(response: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for diag in response.diagnostics:
        out.setdefault(diag.policyName, []).append(diag.message)
    return out


def found(pack: Analyzer, res: dict[str, Any]) -> dict[str, list[str]]:
    """Policy name -> messages the pack reported for one resource."""
    return _by_policy(pack.analyze(res))


def skipped(pack: Analyzer, res: dict[str, Any]) -> dict[str, str]:
    """Policy name -> why the rule said not applicable to one resource."""
    return {na.policy_name: na.reason for na in pack.analyze(res).not_applicable}


def k8s(
    type_: str, name: str, body: dict[str, Any], namespace: str | None = None, parent: str | None = None
) -> dict[str, Any]:
    """A Kubernetes object of `type_` named `name` with `body` (spec, rules, data...) beside its metadata."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    inputs = {"apiVersion": type_.split(":")[1], "kind": type_.rsplit(":", 1)[-1], "metadata": metadata, **body}
    return resource(type_, f"{namespace or 'cluster'}-{name}", inputs, parent)


def stack(pack: Analyzer, resources: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Policy name -> messages for the whole plan, and the stack rules that said not applicable."""
    response = pack.analyze_stack(resources)
    return _by_policy(response), {na.policy_name: na.reason for na in response.not_applicable}
