"""The exporters: Redis (redis_exporter, the estate's own Deployment), its credentials and network,
and the queue alerts it feeds; in the dev and prod plans."""

from __future__ import annotations

from typing import Any

from components.observability.exporters import SECRET
from stacks import secret_keys as keys
from tests.conftest import config_problems, stack_cfg
from tests.upstream import builtin_problems, crd_problems
from tools.plan import Plan

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _deployment(plan: Plan, name: str) -> dict[str, Any]:
    (d,) = [
        r["inputs"] for r in plan.by_type("kubernetes:apps/v1:Deployment") if r["inputs"]["metadata"]["name"] == name
    ]
    return d


def test_the_redis_exporter_reads_redis_over_tls_with_the_instances_ca(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.observability.namespace
    deployment = _deployment(plan, "redis-exporter")
    assert deployment["metadata"]["namespace"] == ns
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_ADDR"]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "address"}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "password"}
    assert env["REDIS_EXPORTER_TLS_CA_CERT_FILE"]["value"] == "/tls/ca.crt"
    assert env["REDIS_EXPORTER_CHECK_STREAMS"]["value"] == cfg.observability.exporters.redis_streams
    (volume,) = pod["volumes"]
    assert volume["secret"] == {"secretName": SECRET, "items": [{"key": "ca", "path": "ca.crt"}]}
    # The estate's pod builder: non-root, read-only, nothing mounted from the API.
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert "@sha256:" in container["image"]
    assert builtin_problems(deployment) == []


def test_its_secret_holds_the_address_password_and_ca_from_secret_manager(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    (es,) = [
        e["inputs"]
        for e in plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e["inputs"]["spec"]["target"]["name"] == SECRET
    ]
    refs = {d["secretKey"]: d["remoteRef"]["key"] for d in es["spec"]["data"]}
    assert refs == {
        "address": keys.secret_id(cfg.prefix, keys.REDIS_ADDRESS),
        "password": keys.secret_id(cfg.prefix, keys.REDIS_AUTH),
        "ca": keys.secret_id(cfg.prefix, keys.REDIS_CA),
    }
    assert crd_problems(es) == []
    # The address is a secret of the cloud layer, written from the instance's host and port.
    (address,) = [
        s
        for s in plan.by_type("gcp:secretmanager/secret:Secret")
        if s["inputs"]["secretId"] == keys.secret_id(cfg.prefix, keys.REDIS_ADDRESS)
    ]
    assert address["inputs"]["replication"]


def test_only_the_exporter_reaches_redis_from_its_namespace(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.observability.namespace
    (policy,) = [
        p["inputs"]["spec"]
        for p in plan.by_type(NETPOL)
        if p["inputs"]["metadata"]["namespace"] == ns
        and p["inputs"]["metadata"]["name"] == "allow-redis-exporter-redis"
    ]
    assert policy["podSelector"]["matchLabels"] == {"app": "redis-exporter"}
    (rule,) = policy["egress"]
    assert [p["port"] for p in rule["ports"]] == [6378]
    monitors = [
        m["inputs"]
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if m["inputs"]["metadata"]["name"] == "redis-exporter"
    ]
    assert len(monitors) == 1 and crd_problems(monitors[0]) == []


def test_the_queue_thresholds_and_stream_patterns_are_checked() -> None:
    (lag,) = config_problems("dev", observability={"thresholds": {"queueLag": 0}})
    assert lag.startswith("observability.thresholds.queueLag = 0: ")
    (streams,) = config_problems("dev", observability={"exporters": {"redisStreams": "tasks"}})
    assert streams.startswith("observability.exporters.redisStreams = 'tasks': ")


def test_harbors_database_proxy_serves_its_metrics_and_is_scraped(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    proxy = _deployment(plan, "harbor-db-proxy")
    (container,) = proxy["spec"]["template"]["spec"]["containers"]
    assert "--prometheus" in container["args"] and "--http-port=9090" in container["args"]
    assert "health" in {p["name"] for p in container["ports"]}
    (monitor,) = [
        m["inputs"]
        for m in plan.by_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
        if m["inputs"]["metadata"]["name"] == "harbor-db-proxy"
    ]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [cfg.harbor.namespace]}
    assert monitor["spec"]["selector"]["matchLabels"] == proxy["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "health", "path": "/metrics", "interval": "30s"}]


def test_the_cloud_monitoring_bridge_reads_cloud_sqls_metrics_as_its_own_identity(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    workload = cfg.observability.exporters.cloud_monitoring_workload
    deployment = _deployment(plan, "cloud-monitoring-exporter")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert f"--google.project-ids={cfg.project}" in container["args"]
    assert "--monitoring.metrics-prefixes=cloudsql.googleapis.com/database/postgresql/num_backends" in container["args"]
    (sa,) = [
        r["inputs"]
        for r in plan.by_type("kubernetes:core/v1:ServiceAccount")
        if r["inputs"]["metadata"]["name"] == "cloud-monitoring-exporter"
    ]
    gsa = sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert gsa == f"{plan.stack}-wl-{workload}@{cfg.project}.iam.gserviceaccount.com"
    roles = {
        g["inputs"]["role"]
        for g in plan.by_type("gcp:projects/iAMMember:IAMMember")
        if g["inputs"]["member"] == f"serviceAccount:{gsa}"
    }
    assert roles == {"roles/monitoring.viewer"}
    assert builtin_problems(deployment) == []


def test_the_bridge_needs_an_identity_that_may_read_metrics() -> None:
    (message,) = config_problems("dev", observability={"exporters": {"cloudMonitoringWorkload": "cells"}})
    assert message.startswith("observability.exporters.cloudMonitoringWorkload = 'cells': must be an ")
