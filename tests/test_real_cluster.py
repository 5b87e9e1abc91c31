"""What a real private cluster needs of the platform, checked on the dev and prod plans: the control
plane reaching the charts' webhooks, webhook CA readiness, fail-closed Istio validation, the CNI
directory GKE uses, platform namespaces behind default-deny, and a `destroy` that finishes."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.kube import webhooks
from components.kube.charts import PINS
from components.kube.custom import FOREGROUND_DELETION
from stacks.charts import control_plane_ports
from tests.conftest import children_of, stack_cfg
from tools.plan import Plan

CHART = "kubernetes:helm.sh/v4:Chart"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
FIREWALL = "gcp:compute/firewall:Firewall"
WAIT = f"{webhooks.__name__}:{webhooks.await_ca_bundle.__qualname__}"


def _chart(plan: Plan, key: str) -> dict:
    (chart,) = [c for c in plan.by_type(CHART) if c["name"].endswith(f"-{key}") or c["name"].endswith(f"-{key}-chart")]
    return chart


# ---------------------------------------------------------------- 1. control plane -> webhooks
def test_the_control_plane_reaches_exactly_the_charts_webhook_ports(plan: Plan) -> None:
    (rule,) = [r for r in plan.by_type(FIREWALL) if r["name"].endswith("-control-plane-webhooks")]
    inputs = rule["inputs"]
    assert inputs["direction"] == "INGRESS"
    assert inputs["allows"] == [{"protocol": "tcp", "ports": [str(p) for p in control_plane_ports(PINS)]}]
    assert {15017, 8443} <= set(control_plane_ports(PINS))
    # From the cluster's private endpoint (a Private Service Connect cluster has no /28 master range).
    (cluster,) = plan.by_type("gcp:container/cluster:Cluster")
    assert "masterIpv4CidrBlock" not in cluster["inputs"].get("privateClusterConfig", {})
    assert inputs["sourceRanges"] and all(r.endswith("/32") for r in inputs["sourceRanges"])
    # To every pool's nodes, by service account, and a child of the pools every chart waits for.
    pool_accounts = {
        r["inputs"]["accountId"]
        for r in plan.by_type("gcp:serviceaccount/account:Account")
        if r["name"].endswith("-sa") and "-pools-" in r["name"]
    }
    assert pool_accounts
    assert {email.split("@")[0] for email in inputs["targetServiceAccounts"]} == pool_accounts
    (pools,) = [r for r in plan.resources if r["type"] == "estate:cluster:NodePools"]
    assert rule["parent"] == pools["urn"]


def _closure(plan: Plan, urn: str) -> set[str]:
    """Everything a resource waits for: its dependencies, theirs, and a component's children."""
    by_urn = {r["urn"]: r for r in plan.resources}
    children: dict[str, list[str]] = {}
    for r in plan.resources:
        children.setdefault(r["parent"], []).append(r["urn"])
    out: set[str] = set()
    todo = list(by_urn[urn]["dependencies"])
    while todo:
        dep = todo.pop()
        if dep in out or dep not in by_urn:
            continue
        out.add(dep)
        todo += by_urn[dep]["dependencies"] + children.get(dep, [])
    return out


def test_every_chart_waits_for_the_nodes_and_the_webhook_rule_external_secrets_too(plan: Plan) -> None:
    pools = {r["urn"] for r in plan.by_type("gcp:container/nodePool:NodePool")}
    (rule,) = [r for r in plan.by_type(FIREWALL) if r["name"].endswith("-control-plane-webhooks")]
    for chart in plan.by_type(CHART):
        assert pools | {rule["urn"]} <= _closure(plan, chart["urn"]), chart["name"]


# ---------------------------------------------------------------- 5. webhook CA readiness
def test_every_chart_with_webhooks_waits_for_their_ca_but_istio_base(plan: Plan) -> None:
    for chart in plan.by_type(CHART):
        transforms = chart["options"]["transforms"]
        if chart["name"].endswith("-istio-base"):
            # Its default validator's CA comes from istiod, the next chart: waiting would never end.
            assert transforms == [], chart["name"]
        else:
            # The wait first; a chart may add fixes of its own after it, each a module-level function.
            assert transforms[:1] == [WAIT], chart["name"]
            assert all(t.startswith("components.") and ":" in t for t in transforms[1:]), chart["name"]


def test_the_ca_wait_marks_webhook_configurations_only() -> None:
    hook: dict[str, Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "v", "annotations": {"keep": "me"}},
        "webhooks": [{"name": "w", "clientConfig": {"service": {"name": "s", "namespace": "n"}}}],
    }
    args = pulumi.ResourceTransformArgs(
        custom=True, type_=next(iter(webhooks.WEBHOOK_TYPES)), name="v", props=hook, opts=pulumi.ResourceOptions()
    )
    result = webhooks.await_ca_bundle(args)
    assert result is not None
    props: dict[str, Any] = dict(result.props)
    assert props["metadata"]["annotations"] == {"keep": "me", webhooks.WAIT_FOR: webhooks.CA_BUNDLE_READY}
    assert "annotations" in hook["metadata"] and webhooks.WAIT_FOR not in hook["metadata"]["annotations"]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    args = pulumi.ResourceTransformArgs(
        custom=True, type_="kubernetes:apps/v1:Deployment", name="d", props=deployment, opts=pulumi.ResourceOptions()
    )
    assert webhooks.await_ca_bundle(args) is None
    # The gate applies the same recorded transform to a chart's rendered children.
    applied = webhooks.apply_transforms([WAIT], args.type_, "d", deployment)
    assert applied == deployment
    assert webhooks.with_ca_wait({**hook, "webhooks": []}) is None


# ---------------------------------------------------------------- 2. and 8. Istio values
def test_istio_validation_fails_closed_from_the_first_render_and_cni_uses_gke_paths(plan: Plan) -> None:
    for key in ("istio-base", "istiod"):
        assert _chart(plan, key)["inputs"]["values"]["base"] == {"validationFailurePolicy": "Fail"}, key
    assert _chart(plan, "istio-cni")["inputs"]["values"]["cni"] == {"cniBinDir": "/home/kubernetes/bin"}


# ---------------------------------------------------------------- 10. platform namespaces
@pytest.mark.parametrize("namespace", ["cert-manager", "external-secrets", "cosign-system", "istio-ingress"])
def test_platform_namespaces_deny_by_default_and_allow_their_controllers(plan: Plan, namespace: str) -> None:
    policies = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
        for r in plan.by_type(NETPOL)
        if r["inputs"]["metadata"]["namespace"] == namespace
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert "allow-dns" in policies
    if namespace == "istio-ingress":
        listeners = policies["allow-listeners"]["ingress"][0]
        assert listeners["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
        assert "allow-mesh-control-plane" in policies and "allow-api-server" not in policies
        return
    webhook = policies["allow-webhook-from-control-plane"]["ingress"][0]
    key = {"cosign-system": "policy-controller"}.get(namespace, namespace)
    assert sorted(int(p["port"]) for p in webhook["ports"]) == sorted(PINS[key].control_plane_ports)
    (rule,) = [r for r in plan.by_type(FIREWALL) if r["name"].endswith("-control-plane-webhooks")]
    assert [b["ipBlock"]["cidr"] for b in webhook["from"]] == rule["inputs"]["sourceRanges"]
    api = policies["allow-api-server"]["egress"][0]
    assert [b["ipBlock"]["cidr"] for b in api["to"]] == rule["inputs"]["sourceRanges"]
    assert {"allow-metadata-server", "allow-google-apis"} <= set(policies)
    assert ("allow-dns01-self-check" in policies) is (namespace == "cert-manager")


def test_the_mesh_namespace_is_left_open_on_purpose(plan: Plan) -> None:
    assert not [r for r in plan.by_type(NETPOL) if r["inputs"]["metadata"]["namespace"] == "istio-system"]


# ---------------------------------------------------------------- 6. destroy
def test_dev_destroy_retains_the_backup_plan_under_a_fresh_name(plan: Plan) -> None:
    plans = plan.by_type("gcp:gkebackup/backupPlan:BackupPlan")
    if not plans:
        pytest.skip(f"{plan.stack} backs up no namespace")
    (bp,) = plans
    if plan.stack == "prod":
        assert bp["options"]["protect"] is True and bp["options"]["retainOnDelete"] is False
        return
    # The API refuses to delete a plan with backups: retained, with a suffix kept in state.
    assert bp["options"]["retainOnDelete"] is True
    assert any(r["type"] == "random:index/randomId:RandomId" for r in children_of(plan, "estate:backup:Backup"))


def test_custom_resources_go_before_the_controller_that_finalizes_them(plan: Plan) -> None:
    by_urn = {r["urn"]: r for r in plan.resources}
    controllers = {"cert-manager.io": "certs-chart", "external-secrets.io": "external-secrets-chart"}
    controllers |= {"policy.sigstore.dev": "signing-verifier-chart", "istio.io": "mesh-istiod"}
    customs = plan.by_type("kubernetes:apiextensions.k8s.io/v1:CustomResource") + [
        r
        for r in plan.resources
        if r["type"].startswith("kubernetes:")
        and r["type"].count(":") == 2
        and "." in r["type"].split(":")[1].split("/")[0]
        and r["custom"]
        and r["type"] != CHART
    ]
    # Strimzi: the cluster operator (its chart) reconciles the cluster and its pools; the cluster's
    # entity operator, which the Kafka resource runs, finalizes topics and users; the Access
    # Operator (its chart) the accesses.
    kafka = stack_cfg(plan.stack).kafka
    by_kind = {"Kafka": "kafka-operator", "KafkaNodePool": "kafka-operator", "KafkaAccess": "kafka-access-operator"}
    cluster = f"-kafka-{kafka.namespace}-{kafka.cluster_name}"
    by_kind |= {"KafkaTopic": cluster, "KafkaUser": cluster}
    checked = 0
    for res in customs:
        group = str(res["inputs"].get("apiVersion", res["type"].split(":")[1])).split("/")[0]
        owner = by_kind.get(str(res["inputs"].get("kind")))
        owner = owner or next((chart for suffix, chart in controllers.items() if group.endswith(suffix)), None)
        if owner is None:
            continue
        # Destroy deletes in reverse dependency order: the controller outlives what it finalizes.
        assert any(by_urn[a]["name"].endswith(owner) for a in _closure(plan, res["urn"])), res["name"]
        checked += 1
    assert checked
    # ACME certificates wait for their Orders and Challenges (finalizers the controller removes).
    for cert in [r for r in customs if r["inputs"].get("kind") == "Certificate"]:
        if cert["inputs"]["spec"]["issuerRef"]["name"].startswith("letsencrypt"):
            assert FOREGROUND_DELETION.items() <= cert["inputs"]["metadata"]["annotations"].items()
