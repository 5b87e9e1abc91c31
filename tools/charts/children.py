"""The pulumi-kubernetes half of Chart v4: how the rendered manifest becomes child resources.

Replicated from pulumi-kubernetes (provider/pkg/provider/helm/v4/chart.go and
provider/pkg/provider/yaml/v2/yaml.go):
- release name = the `name` input, else the Chart's resource name; resource prefix = the
  `resourcePrefix` input when given (even ""), else the Chart's resource name;
- namespace = the `namespace` input, else the provider's default namespace (its `namespace`
  input; the kubeconfig context's namespace, which the plan cannot see; then "default");
- Normalize: `List` objects are expanded, the `core` group is canonicalised (`core/v1` -> `v1`),
  every object needs kind, apiVersion and metadata.name, and a namespaced object without a
  namespace gets the default one. Scope comes from the provider's static kind table
  (kinds.Kind.Namespaced) for built-in group versions, then from a CRD among the chart's own
  objects; otherwise pulumi-kubernetes asks the cluster, and offline leaves the namespace unset
  (reported here as `unresolved`);
- each object is registered as `kubernetes:<apiVersion>:<Kind>` (`core/v1` for `v1`) named
  `<prefix>:<namespace>/<name>` (or `<prefix>:<name>` for cluster-scoped objects, no prefix when
  it is ""), parent = the Chart, with the object's fields as inputs; `helm.sh/resource-policy: keep`
  becomes retainOnDelete, `skipAwait` adds the `pulumi.com/skipAwait` annotation, a Secret's
  `data`/`stringData` are secrets. Children inherit the Chart's provider and its `protect`
  (a child without its own protect takes its parent's: checked in the Python SDK's Resource);
- the Chart's `transforms` (recorded in the plan by name) run on each child first, as the engine
  runs them on a packaged component's children.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from components.kube.webhooks import apply_transforms
from tools.plan import SECRET_SIG, SECRET_VALUE

# provider/pkg/kinds/kinds.go: KnownGroupVersions and Kind.Namespaced().
KNOWN_GROUP_VERSIONS = frozenset(
    f"{group}/{version}" if group else version
    for group, versions in {
        "admissionregistration.k8s.io": "v1 v1alpha1 v1beta1",
        "apiextensions.k8s.io": "v1 v1beta1",
        "apiregistration.k8s.io": "v1 v1beta1",
        "apps": "v1 v1beta1 v1beta2",
        "auditregistration.k8s.io": "v1alpha1",
        "autoscaling": "v1 v2 v2beta1 v2beta2",
        "batch": "v1 v1beta1 v2alpha1",
        "certificates.k8s.io": "v1 v1alpha1 v1beta1",
        "coordination.k8s.io": "v1 v1alpha1 v1alpha2 v1beta1",
        "core": "v1",
        "": "v1",
        "discovery.k8s.io": "v1 v1beta1",
        "events.k8s.io": "v1 v1beta1",
        "extensions": "v1beta1",
        "flowcontrol.apiserver.k8s.io": "v1 v1alpha1 v1beta1 v1beta2 v1beta3",
        "meta": "v1",
        "networking.k8s.io": "v1 v1alpha1 v1beta1",
        "node.k8s.io": "v1 v1alpha1 v1beta1",
        "policy": "v1 v1beta1",
        "rbac.authorization.k8s.io": "v1 v1alpha1 v1beta1",
        "resource.k8s.io": "v1 v1alpha1 v1alpha2 v1alpha3 v1beta1 v1beta2",
        "scheduling.k8s.io": "v1 v1alpha1 v1alpha2 v1beta1",
        "settings.k8s.io": "v1alpha1",
        "storage.k8s.io": "v1 v1alpha1 v1beta1",
        "storagemigration.k8s.io": "v1alpha1 v1beta1",
    }.items()
    for version in versions.split()
)
NAMESPACED_KINDS = frozenset(
    [
        "Binding",
        "ConfigMap",
        "ControllerRevision",
        "CronJob",
        "CSIStorageCapacity",
        "DaemonSet",
        "Deployment",
        "Endpoints",
        "EndpointSlice",
        "Event",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "Lease",
        "LimitRange",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Pod",
        "PodDisruptionBudget",
        "PodTemplate",
        "ReplicaSet",
        "ReplicationController",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ]
)
CLUSTER_KINDS = frozenset(
    [
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    ]
)


class NormalizeError(ValueError):
    """A rendered object Chart v4 refuses (no kind, apiVersion or metadata.name)."""


def _expand(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # unstructured.IsList: an `items` field that is a list.
    out: list[dict[str, Any]] = []
    pending = list(objects)
    while pending:
        obj = pending.pop(0)
        if isinstance(obj.get("items"), list):
            pending = [i for i in obj["items"] if isinstance(i, dict)] + pending
        else:
            out.append(obj)
    return out


def is_crd(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and str(obj.get("apiVersion", "")).startswith(
        "apiextensions.k8s.io/"
    )


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def namespaced(obj: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]) -> bool | None:
    """clients.IsNamespacedKind without a cluster: True/False, or None when only the cluster could say."""
    group, version = _group_version(str(obj["apiVersion"]))
    kind = str(obj["kind"])
    gv = f"{group}/{version}" if group else version
    if gv in KNOWN_GROUP_VERSIONS:
        base = kind.removesuffix("Patch").removesuffix("List")
        if base in NAMESPACED_KINDS:
            return True
        if base in CLUSTER_KINDS:
            return False
    for crd in objects:
        spec = crd.get("spec") or {}
        if is_crd(crd) and spec.get("group") == group and (spec.get("names") or {}).get("kind") == kind:
            return bool(spec.get("scope") == "Namespaced")
    return None


def normalize(
    objects: list[dict[str, Any]], namespace: str, crds: Sequence[Mapping[str, Any]] = ()
) -> tuple[list[dict[str, Any]], list[str]]:
    """yaml/v2.Normalize offline: the objects with default namespaces applied, and the kinds left unresolved.

    `crds` stand in for the provider's CRD cache: consulted after the chart's own objects."""
    objects = _expand(copy.deepcopy(objects))
    unresolved: list[str] = []
    for obj in objects:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else None
        if not obj.get("kind") or not obj.get("apiVersion"):
            raise NormalizeError(f"Kubernetes resources require a kind and apiVersion: {str(obj)[:100]}")
        if not meta or not meta.get("name"):
            raise NormalizeError(f"Kubernetes resources require a .metadata.name: {str(obj)[:100]}")
        if str(obj["apiVersion"]).startswith("core/"):
            obj["apiVersion"] = str(obj["apiVersion"]).removeprefix("core/")
        if meta.get("namespace"):
            continue
        scope = namespaced(obj, [*objects, *crds])
        if scope is None:
            unresolved.append(f"{obj['apiVersion']}/{obj['kind']}")
        elif scope:
            meta["namespace"] = namespace
    return objects, sorted(set(unresolved))


def type_token(obj: Mapping[str, Any]) -> str:
    api_version = str(obj["apiVersion"])
    return f"kubernetes:{'core/v1' if api_version == 'v1' else api_version}:{obj['kind']}"


def resource_name(obj: Mapping[str, Any], prefix: str) -> str:
    meta = obj["metadata"]
    name = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])
    return f"{prefix}:{name}" if prefix else name


def object_id(obj: Mapping[str, Any]) -> str:
    """`Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: how the plan lists rendered objects."""
    meta = obj["metadata"]
    return "/".join(str(p) for p in (obj["kind"], meta.get("namespace"), meta["name"]) if p)


def _secret(value: Any) -> dict[str, Any]:
    return {SECRET_SIG: SECRET_VALUE, "value": "[secret]"}


def child_record(obj: dict[str, Any], chart: Mapping[str, Any], prefix: str, *, skip_await: bool) -> dict[str, Any]:
    """One child as tools.plan records a registration, so the gate treats it like any other resource."""
    obj = copy.deepcopy(obj)
    type_ = type_token(obj)
    name = resource_name(obj, prefix)
    # The engine runs the Chart's transforms on each child before registering it.
    obj = apply_transforms((chart.get("options") or {}).get("transforms") or [], type_, name, obj)
    meta = obj["metadata"]
    if skip_await:
        meta["annotations"] = {**(meta.get("annotations") or {}), "pulumi.com/skipAwait": "true"}
    if type_ == "kubernetes:core/v1:Secret":
        obj.update({k: _secret(obj[k]) for k in ("data", "stringData") if k in obj})
    keep = (meta.get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
    return {
        # The SDK's URN: the parent's qualified type, `$`, the child's type.
        "urn": f"{chart['urn'].rsplit('::', 1)[0]}${type_}::{name}",
        "type": type_,
        "name": name,
        "custom": True,
        "parent": chart["urn"],
        "provider": chart.get("provider"),
        "inputs": obj,
        "dependencies": [],
        "propertyDependencies": {},
        "options": {
            "protect": bool((chart.get("options") or {}).get("protect")),
            "ignoreChanges": [],
            "deleteBeforeReplace": False,
            "retainOnDelete": keep,
            "replaceOnChanges": [],
            "additionalSecretOutputs": [],
            "customTimeouts": None,
            "deletedWith": None,
        },
    }


def link_dependencies(children: list[dict[str, Any]]) -> None:
    """The dependsOn edges cli-utils' graph draws between a chart's own objects: CRD -> its custom
    resources, Namespace -> the objects in it (the depends-on annotation is not replicated)."""
    crds: dict[tuple[str, str], str] = {}
    namespaces: dict[str, str] = {}
    for child in children:
        obj = child["inputs"]
        if is_crd(obj):
            spec = obj.get("spec") or {}
            crds[(str(spec.get("group")), str((spec.get("names") or {}).get("kind")))] = child["urn"]
        elif child["type"] == "kubernetes:core/v1:Namespace":
            namespaces[str(obj["metadata"]["name"])] = child["urn"]
    for child in children:
        obj = child["inputs"]
        group, _ = _group_version(str(obj["apiVersion"]))
        deps = {crds.get((group, str(obj["kind"]))), namespaces.get(str(obj["metadata"].get("namespace", "")))}
        child["dependencies"] = sorted(d for d in deps if d and d != child["urn"])
