"""Chart transforms beyond the webhook CA wait: small, pure fixes to what a chart renders, run by
the engine on each child (and by the gate's renderer, which the plan tells which ones ran)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

SECRET_TYPE = "kubernetes:core/v1:Secret"


def without_empty_data(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Secret without its empty `data`/`stringData` entries (and without the map once empty); None
    when nothing changes. A chart that takes every credential from existing Secrets still renders
    its own Secret with `data: {}` or `KEY: ""`; the provider marks the whole map secret, so the pack
    could not tell it from real material, and the empty entries carry nothing."""
    changed = False
    out = dict(obj)
    for field in ("data", "stringData"):
        if field not in out:
            continue
        value = out[field]
        if value is None:  # `data:` with nothing under it
            out.pop(field)
            changed = True
            continue
        if not isinstance(value, Mapping):
            continue
        kept = {k: v for k, v in value.items() if v not in (None, "")}
        if kept != value or not kept:
            changed = True
            if kept:
                out[field] = kept
            else:
                out.pop(field)
    return out if changed else None


def drop_empty_secret_data(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Pulumi transform: `without_empty_data` on each Secret a Chart renders."""
    if args.type_ != SECRET_TYPE:
        return None
    props = without_empty_data(args.props)
    return None if props is None else pulumi.ResourceTransformResult(props=props, opts=args.opts)


POD_TEMPLATE_KINDS = frozenset(f"kubernetes:apps/v1:{k}" for k in ("Deployment", "StatefulSet", "DaemonSet"))


def without_api_token(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A workload whose pod template does not say `automountServiceAccountToken` with it set to
    false; None when it already says so either way. For charts whose pods never call the
    Kubernetes API but which set the switch only on the ServiceAccount (memcached in Loki's chart):
    the pod's own setting is what admission and the pack read."""
    template = (obj.get("spec") or {}).get("template") or {}
    pod = template.get("spec") or {}
    if "automountServiceAccountToken" in pod:
        return None
    spec = dict(obj["spec"])
    spec["template"] = {**template, "spec": {**pod, "automountServiceAccountToken": False}}
    return {**obj, "spec": spec}


def no_api_token(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Pulumi transform: `without_api_token` on each Deployment, StatefulSet and DaemonSet of a chart
    none of whose pods calls the Kubernetes API."""
    if args.type_ not in POD_TEMPLATE_KINDS:
        return None
    props = without_api_token(args.props)
    return None if props is None else pulumi.ResourceTransformResult(props=props, opts=args.opts)
