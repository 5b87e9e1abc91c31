"""Custom resources the estate creates: a typed spec, rendered once as the plain object the API
server receives, so tests check exactly that object against the upstream CRD schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from components.common import K8S_LABELS

# Delete an object only once the objects its controller made from it (owner references) are gone:
# pulumi-kubernetes sends `propagationPolicy: Foreground` and waits. Used where those children
# carry finalizers their controller must remove (cert-manager's ACME Orders and Challenges), so
# `destroy` cannot remove the controller first and leave a namespace Terminating.
FOREGROUND_DELETION = {"pulumi.com/deletionPropagationPolicy": "foreground"}


def deleted_in_foreground(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(obj["metadata"])
    meta["annotations"] = {**(meta.get("annotations") or {}), **FOREGROUND_DELETION}
    return {**obj, "metadata": meta}


class Spec(BaseModel):
    """A custom resource's spec (or part of it): camelCase keys, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class Manifest:
    api_version: str
    kind: str
    name: str
    spec: Spec
    namespace: str | None = None
    # Pulumi waits for this condition before dependants go ahead (`pulumi.com/waitFor`, provider
    # 4.18+): the controller's readiness, not just the API server's acceptance.
    wait_for_condition: str | None = None

    @property
    def annotations(self) -> dict[str, str] | None:
        return {"pulumi.com/waitFor": f"condition={self.wait_for_condition}"} if self.wait_for_condition else None

    def obj(self) -> dict[str, Any]:
        """The object as the API server receives it (what `crd_problems` checks)."""
        metadata: dict[str, Any] = {"name": self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        if self.annotations:
            metadata["annotations"] = self.annotations
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata, "spec": self.spec.dump()}


def custom_resource(
    parent: pulumi.Resource,
    resource_name: str,
    manifest: Manifest,
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """Register `manifest`; `depends_on` must include the Chart that installs its CRD."""
    return custom_object(parent, resource_name, manifest.obj(), provider=provider, depends_on=depends_on)


def custom_object(
    parent: pulumi.Resource,
    resource_name: str,
    obj: Mapping[str, Any],
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
    protect: bool = False,
) -> k8s.apiextensions.CustomResource:
    """Register a custom resource from the object the API server receives (what `crd_problems`
    checks): apiVersion, kind, metadata (name, namespace, annotations) and spec, with the estate's
    labels. `depends_on` must include the Chart that installs its CRD; `protect` for the ones
    whose deletion deletes data."""
    meta = obj["metadata"]
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=meta["name"],
            namespace=meta.get("namespace"),
            annotations=meta.get("annotations"),
            labels={**K8S_LABELS, **meta.get("labels", {})},
        ),
        spec=obj["spec"],
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on), protect=protect),
    )


def custom_objects(
    parent: pulumi.Resource,
    prefix: str,
    objs: Sequence[Mapping[str, Any]],
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
) -> list[k8s.apiextensions.CustomResource]:
    """`custom_object` for each, named `<prefix>-<kind>-<name>` (rules, monitors, ...)."""
    return [
        custom_object(
            parent,
            f"{prefix}-{obj['kind'].lower()}-{obj['metadata']['name']}",
            obj,
            provider=provider,
            depends_on=depends_on,
        )
        for obj in objs
    ]
