"""Admission webhooks: what the control plane must reach, and when a webhook can serve.

Readiness. A chart's Deployments being Ready does not mean its webhooks can be called: the API
server needs the webhook configuration's `caBundle`, which a controller (cert-manager's cainjector,
external-secrets' cert-controller, istiod, policy-controller) writes after start-up. Objects created
in that window are refused with an x509 error, and pulumi-kubernetes retries only NotFound/NoMatch.
So every chart whose webhooks get their CA injected carries `await_ca_bundle` as a Pulumi
transform: each rendered webhook configuration waits (`pulumi.com/waitFor`, provider 4.18+) until
its first webhook has a `caBundle`, and the Chart, which its dependants wait on, completes only then.

Transforms run on a Chart v4's children in the engine (packaged components included). The mock
runtime does not run them, so the offline plan records them on the Chart and the gate's renderer
applies the same functions to the rendered objects: the gate checks what the cluster receives.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

WAIT_FOR = "pulumi.com/waitFor"
# A string field, so the wait ends once the controller has written it (kubectl-wait semantics).
CA_BUNDLE_READY = "jsonpath={.webhooks[0].clientConfig.caBundle}"
WEBHOOK_KINDS = frozenset({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"})
WEBHOOK_TYPES = frozenset(f"kubernetes:admissionregistration.k8s.io/v1:{kind}" for kind in WEBHOOK_KINDS)


def with_ca_wait(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """`obj` with the caBundle wait, if it is a webhook configuration with webhooks; else None."""
    if obj.get("kind") not in WEBHOOK_KINDS or not obj.get("webhooks"):
        return None
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), WAIT_FOR: CA_BUNDLE_READY}
    return out


def await_ca_bundle(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Pulumi transform: the caBundle wait on each webhook configuration a Chart renders."""
    if args.type_ not in WEBHOOK_TYPES:
        return None
    props = with_ca_wait(args.props)
    return None if props is None else pulumi.ResourceTransformResult(props=props, opts=args.opts)


# ---------------------------------------------------------------- the offline side
Transform = Callable[[pulumi.ResourceTransformArgs], "pulumi.ResourceTransformResult | None"]


def transform_name(fn: Callable[..., Any]) -> str:
    """How the plan records a transform: `module:qualname`, importable by the gate."""
    return f"{fn.__module__}:{fn.__qualname__}"


def load_transform(name: str) -> Transform:
    module, _, attr = name.partition(":")
    fn: Transform = getattr(importlib.import_module(module), attr)
    return fn


def apply_transforms(names: list[str], type_: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Run recorded transforms over one rendered child, as the engine would before registering it."""
    for transform in names:
        result = load_transform(transform)(
            pulumi.ResourceTransformArgs(custom=True, type_=type_, name=name, props=obj, opts=pulumi.ResourceOptions())
        )
        if result is not None:
            obj = dict(result.props)
    return obj
