"""The Helm half of Chart v4: what `helm template` would hand pulumi-kubernetes for one chart.

pulumi-kubernetes (provider/pkg/provider/helm/v4/chart.go, provider/pkg/helm/tool.go, at
helm.sh/helm/v3 v3.20) runs Helm's install action client-only as a dry run: release revision 1,
`IsInstall` true and `IsUpgrade` false, `DisableHooks`, `IncludeCRDs = !skipCrds`, the default
capabilities unless a cluster answers discovery. Helm then (action.Configuration.renderResources
and releaseutil.SortManifests) drops NOTES.txt and partials, splits each template into documents,
moves every document with a `helm.sh/hook` annotation out of the manifest (hooks of unknown events
are dropped too), orders the rest by kind (releaseutil.InstallOrder) and puts the chart's `crds/`
first. Pulumi registers only that manifest: hooks never become resources.

helm_python's `Chart.render` is Helm's template engine with the same release options; the
manifest assembly above is replicated here. What differs, for want of a cluster: Helm v4.2.3's
default capabilities (KubeVersion v1.36.0, the built-in API versions) where pulumi-kubernetes
asks the cluster through discovery, and `lookup`, which finds nothing here while Chart v4's
server dry-run option lets it read the cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

HOOK_ANNOTATION = "helm.sh/hook"
# helm.sh/helm/v3 pkg/releaseutil/kind_sorter.go, InstallOrder.
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
    "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
]  # fmt: skip
_ORDER = {kind: i for i, kind in enumerate(INSTALL_ORDER)}
# releaseutil.SplitManifests' separator.
_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


class RenderError(RuntimeError):
    """Helm could not render the chart (template error, values schema, malformed YAML)."""


def split_documents(content: str) -> list[str]:
    return [doc for doc in _SEPARATOR.split(content) if doc.strip()]


def _load(doc: str, source: str) -> dict[str, Any] | None:
    """One document as pulumi-kubernetes decodes it: sigs.k8s.io/yaml's YAML-to-JSON (here through
    Helm's own values parser, the same library), so `2024-01-01` stays a string and `on` is true as
    in Kubernetes, and several times faster than PyYAML on megabytes of CRDs."""
    import helm_python

    try:
        value = helm_python.values_from_yaml(doc)
    except helm_python.HelmError as exc:
        raise RenderError(f"YAML parse error on {source}: {exc}") from None
    # Pulumi's decoder skips empty documents (a template that renders only comments).
    return value or None


def _is_hook(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return HOOK_ANNOTATION in annotations


def assemble(templates: dict[str, str], crds: list[tuple[str, str]], *, include_crds: bool) -> list[dict[str, Any]]:
    """Helm's release manifest, as objects: CRDs first, then the non-hook documents ordered by kind.

    `templates` maps template path to rendered text (as the engine returns it); `crds` are
    (filename, text) of the chart's `crds/` files.
    """
    manifest: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(templates):
        content = templates[path]
        if path.endswith("NOTES.txt") or Path(path).name.startswith("_") or not content.strip():
            continue
        for doc in split_documents(content):
            obj = _load(doc, path)
            if obj is not None and not _is_hook(obj):
                manifest.append((path, obj))
    # A stable sort: known kinds in install order, then unknown kinds by name (releaseutil.lessByKind).
    manifest.sort(key=lambda m: (0, _ORDER[k], "") if (k := str(m[1].get("kind"))) in _ORDER else (1, 0, k))
    objects: list[dict[str, Any]] = []
    if include_crds:
        for filename, text in crds:
            objects += [obj for doc in split_documents(text) if (obj := _load(doc, filename)) is not None]
    return objects + [obj for _, obj in manifest]


def render(
    archive: Path, values: dict[str, Any], *, release: str, namespace: str, include_crds: bool
) -> list[dict[str, Any]]:
    """Render the chart at `archive` (a .tgz or a directory) as Chart v4 does; returns the manifest's objects."""
    import helm_python  # loaded only when a chart is rendered: it starts a Go runtime

    try:
        # The install action's own checks: a valid release name (action.Install.availableName),
        # an installable chart (checkIfInstallable), its declared subcharts present (CheckDependencies).
        helm_python.validate_release_name(release)
        with helm_python.Chart.load(archive) as chart:
            meta = chart.metadata
            if meta.get("type") not in (None, "", "application"):
                raise RenderError(f"{meta.get('type')} charts are not installable")
            loaded = {d.get("name") for d in chart.dependencies}
            missing = [d["name"] for d in meta.get("dependencies") or [] if d.get("name") not in loaded]
            if missing:
                raise RenderError(f"found in Chart.yaml, but missing in charts/ directory: {', '.join(missing)}")
            templates = chart.render(
                values, name=release, namespace=namespace, revision=1, is_install=True, is_upgrade=False
            )
            # Read after rendering: the render drops disabled subcharts from the loaded chart
            # (Helm's ProcessDependencies), so their crds/ go too, as in Helm's install action.
            crds = [(c["filename"], c["data"]) for c in chart.crds] if include_crds else []
    except helm_python.HelmError as exc:
        raise RenderError(str(exc)) from None
    return assemble(templates, crds, include_crds=include_crds)
