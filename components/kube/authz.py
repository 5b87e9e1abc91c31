"""Istio AuthorizationPolicy building blocks (security.istio.io/v1) every layer uses: deny by
default in a namespace, then one ALLOW per caller by its workload identity (SPIFFE principal).

Ambient mode enforces these in ztunnel at L4 (principals and ports); paths and methods would
need a waypoint proxy, which a layer that wants L7 rules deploys and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from components.kube.custom import Spec

API_VERSION = "security.istio.io/v1"
KIND = "AuthorizationPolicy"
TRUST_DOMAIN = "cluster.local"


def principal(namespace: str, service_account: str) -> str:
    """A SPIFFE identity as AuthorizationPolicies name it (trust domain / ns / sa)."""
    return f"{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


class Source(Spec):
    principals: list[str] = Field(min_length=1)


class RuleFrom(Spec):
    source: Source


class Operation(Spec):
    ports: list[str] = Field(min_length=1)


class RuleTo(Spec):
    operation: Operation


class Rule(Spec):
    from_: list[RuleFrom] = Field(alias="from", min_length=1)
    to: list[RuleTo] | None = None


class Selector(Spec):
    match_labels: dict[str, str] = Field(min_length=1)


class AuthorizationPolicySpec(Spec):
    """An empty spec is Istio's deny-all: an ALLOW policy that matches nothing."""

    selector: Selector | None = None
    action: Literal["ALLOW"] | None = None
    rules: list[Rule] | None = None


def _obj(name: str, namespace: str, spec: AuthorizationPolicySpec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.dump(),
    }


def deny_all(namespace: str) -> dict[str, Any]:
    return _obj("deny-all", namespace, AuthorizationPolicySpec())


def allow_principals(
    name: str,
    namespace: str,
    principals: Sequence[str],
    ports: Sequence[int] = (),
    selector: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """ALLOW the given identities (on `ports` only, when given; to the pods `selector` matches only,
    when given: ALLOW policies add up, so a narrow one must not be shadowed by a namespace-wide one)."""
    to = [RuleTo(operation=Operation(ports=[str(p) for p in ports]))] if ports else None
    rule = Rule(from_=[RuleFrom(source=Source(principals=list(principals)))], to=to)
    pods = Selector(match_labels=dict(selector)) if selector else None
    return _obj(name, namespace, AuthorizationPolicySpec(selector=pods, action="ALLOW", rules=[rule]))


def authorization_policies(namespace: str, callers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Deny by default, then one ALLOW per caller name -> principal."""
    out = [deny_all(namespace)]
    out += [allow_principals(f"allow-{caller}", namespace, [p]) for caller, p in sorted(callers.items())]
    return out
