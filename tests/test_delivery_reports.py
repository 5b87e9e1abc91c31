"""`make cost`, `make deploy-time` and `make graph` on fixture plans and on the real dev/prod plans."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.delivery_fixtures import STACK_URN, plan_of, res, storage_plan
from tools import cost, deploy_time, graph
from tools.plan import Plan
from tools.planfile import ROOT, PlanFile

PRICES = cost.load_prices("europe-west4")
TIMES = deploy_time.load_times()


def _file(plan: Plan) -> PlanFile:
    return PlanFile.from_json(plan.to_json())


def _pool(name: str, machine: str, lo: int, hi: int, zones: int, *, spot: bool = False, gpu: str | None = None) -> dict:
    cfg: dict = {"machineType": machine, "spot": spot, "diskSizeGb": 100.0, "diskType": "pd-balanced"}
    if gpu:
        cfg["guestAccelerators"] = [{"type": gpu, "count": 1.0}]
    zone_list = [f"europe-west4-{z}" for z in "abc"[:zones]]
    inputs = {"nodeConfig": cfg, "nodeLocations": zone_list, "autoscaling": {"minNodeCount": lo, "maxNodeCount": hi}}
    return res("gcp:container/nodePool:NodePool", name, inputs=inputs)


def test_node_pool_cost_counts_nodes_per_zone_and_prices_spot_apart() -> None:
    on_demand = _pool("gpu", "g2-standard-8", 0, 2, 3, gpu="nvidia-l4")
    spot = _pool("gpu-spot", "g2-standard-8", 0, 2, 3, gpu="nvidia-l4", spot=True)
    est = cost.estimate(plan_of({"stack": "t", "resources": [on_demand, spot]}), PRICES)
    items = {i.resource: i for i in est.items}
    m, g = PRICES["machines"]["g2-standard-8"], PRICES["gpus"]["nvidia-l4"]
    node = (m["hour"] + g["hour"]) * 730 + 100 * PRICES["disksGbMonth"]["pd-balanced"]
    assert items["gpu"].idle == 0 and items["gpu"].peak == pytest.approx(node * 2 * 3)
    spot_node = (m["spotHour"] + g["spotHour"]) * 730 + 100 * PRICES["disksGbMonth"]["pd-balanced"]
    assert items["gpu-spot"].peak == pytest.approx(spot_node * 6)
    assert items["gpu-spot"].peak < items["gpu"].peak / 2


def test_unknown_types_and_machines_are_reported_not_priced() -> None:
    odd = res("gcp:bigtable/instance:Instance", "bt")
    pool = _pool("weird", "z9-mega-1", 1, 1, 1)
    est = cost.estimate(plan_of({"stack": "t", "resources": [odd, pool]}), PRICES)
    assert est.items == []
    assert set(est.not_priced) == {"gcp:bigtable/instance:Instance", "gcp:container/nodePool:NodePool"}
    text = cost.render(est)
    assert "NOT PRICED" in text and "z9-mega-1 not in the price table" in text


def test_helm_charts_are_counted_as_running_on_the_node_pools() -> None:
    chart = res("kubernetes:helm.sh/v4:Chart", "istio", custom=False)
    odd = res("acme:widgets:Widget", "w", custom=False)
    est = cost.estimate(plan_of({"stack": "t", "resources": [chart, odd]}), PRICES)
    assert est.free == {"kubernetes:helm.sh/v4:Chart": 1}
    assert list(est.not_priced) == ["acme:widgets:Widget"]


def test_buckets_are_usage_based_and_grants_free() -> None:
    est = cost.estimate(plan_of(storage_plan()), PRICES)
    assert est.usage["gcp:storage/bucket:Bucket"] == ["store-models"]
    assert est.free["gcp:storage/bucketIAMMember:BucketIAMMember"] == 1
    assert [i.resource for i in est.items] == ["store-token"]  # one secret version


def test_real_plans_price_every_type(dev_plan: Plan, prod_plan: Plan) -> None:
    dev = cost.estimate(_file(dev_plan), PRICES)
    prod = cost.estimate(_file(prod_plan), PRICES)
    assert not dev.not_priced and not prod.not_priced
    # dev idles on one small on-demand node; GPUs and burst scale to zero.
    assert 0 < dev.total("idle") < 500 < dev.total("peak")
    assert dev.total("idle") < prod.total("idle") < prod.total("peak")
    pools = {i.resource: i for i in prod.items}
    assert pools["estate-prod-pools-gpu-large"].idle == 0 and pools["estate-prod-pools-gpu-large"].peak > 0
    assert "| **total** |" in cost.summary_table(prod)


def test_price_table_is_dated_and_sourced() -> None:
    assert PRICES["region"] == "europe-west4" and PRICES["taken"] and "estimate" in PRICES["note"]
    assert set(PRICES["provenance"]) == {"machines", "gpus", "other"}
    assert all(url.startswith("https://") for url in PRICES["sources"].values())


def test_critical_path_follows_dependencies_and_flags_order_only_links() -> None:
    api = res("gcp:projects/service:Service", "api")
    cluster = res("gcp:container/cluster:Cluster", "gke", deps=[api["urn"]])  # depends_on only
    pool = res("gcp:container/nodePool:NodePool", "pool", deps=[cluster["urn"]], data={"cluster": [cluster["urn"]]})
    bucket = res("gcp:storage/bucket:Bucket", "b")
    rep = deploy_time.critical_path(plan_of({"stack": "t", "resources": [api, cluster, pool, bucket]}), TIMES)
    t = TIMES["types"]
    assert [link.name for link in rep.chain] == ["api", "gke", "pool"]
    assert (
        rep.total
        == t["gcp:projects/service:Service"] + t["gcp:container/cluster:Cluster"] + t["gcp:container/nodePool:NodePool"]
    )
    assert [link.waits_by for link in rep.chain] == [None, "order", "data"]
    assert [link.name for link in rep.flagged] == ["gke"]
    assert rep.total_without_order == rep.total - t["gcp:projects/service:Service"]
    assert "FLAG" in deploy_time.render(rep)


def test_a_dependency_on_a_component_waits_for_everything_in_it() -> None:
    comp = res("estate:project:Services", "apis", custom=False)
    slow = res("gcp:projects/service:Service", "apis-a", parent=comp["urn"])
    user = res("gcp:kms/keyRing:KeyRing", "ring", deps=[comp["urn"]])
    odd = res("gcp:bigtable/instance:Instance", "bt")
    rep = deploy_time.critical_path(plan_of({"stack": "t", "resources": [comp, slow, user, odd]}), TIMES)
    assert [link.name for link in rep.chain] == ["apis-a", "ring"]
    assert rep.defaulted == {"gcp:bigtable/instance:Instance": 1}
    assert "default time" in deploy_time.render(rep)


def test_real_prod_first_up_is_set_by_the_cluster(prod_plan: Plan) -> None:
    rep = deploy_time.critical_path(_file(prod_plan), TIMES)
    types = [link.type for link in rep.chain]
    assert "gcp:container/cluster:Cluster" in types and "gcp:container/nodePool:NodePool" in types
    assert 10 * 60 < rep.total < 60 * 60
    assert rep.defaulted == {}


def test_graph_groups_components_by_layer_with_dependency_edges(prod_plan: Plan) -> None:
    dot = graph.to_dot(_file(prod_plan))
    assert 'label="cloud layer"' in dot and 'label="platform layer"' in dot
    assert "cluster:NodePools" in dot and "migrations:PgVectorMigration" in dot
    assert dot.count("->") >= 10


def test_graph_draws_a_layer_component_as_the_group_of_its_components() -> None:
    layer = res("estate:cloud:Layer", "cloud", custom=False)
    net = res("estate:network:Network", "net", parent=layer["urn"], custom=False)
    vpc = res("gcp:compute/network:Network", "vpc", parent=net["urn"])
    chart = res("kubernetes:helm.sh/v4:Chart", "istio", custom=False, deps=[vpc["urn"]])
    plan = plan_of({"stack": "t", "resources": [layer, net, vpc, chart]})
    owner, group = graph.boxes(plan, deploy_time.Graph(plan, TIMES).nodes)
    assert owner == {vpc["urn"]: net["urn"], chart["urn"]: chart["urn"]}
    assert group == {net["urn"]: "cloud:Layer cloud", chart["urn"]: "platform layer"}
    dot = graph.to_dot(plan)
    assert 'label="cloud:Layer cloud"' in dot and 'c1 -> c0 [style=dashed, label="1"]' in dot


def test_graph_layer_from_module_path_or_contents() -> None:
    comp = res("estate:platform/mesh:Mesh", "mesh", custom=False)
    plain = res("estate:storage:Buckets", "store", custom=False)
    kid = res("gcp:storage/bucket:Bucket", "b", parent=plain["urn"])
    plan = plan_of({"stack": "t", "resources": [comp, plain, kid]})
    assert graph.layer_of(plan, comp) == "platform"
    assert graph.layer_of(plan, plain) == "cloud"
    assert plan.top_component(kid) == plain and plain["parent"] == STACK_URN


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (.ci/run installs it)")
def test_graph_renders_svg_and_png(tmp_path: Path) -> None:
    written = graph.render(graph.to_dot(plan_of(storage_plan())), tmp_path / "estate")
    assert [p.suffix for p in written] == [".dot", ".svg", ".png"]
    assert (tmp_path / "estate.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in (tmp_path / "estate.svg").read_text()


def test_committed_readme_picture_is_a_png() -> None:
    picture = ROOT / "docs" / "estate-prod.png"
    data = picture.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert "docs/estate-prod.png" in (ROOT / "README.md").read_text()


def test_readme_carries_the_generated_cost_tables_for_dev_and_prod() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split(cost.START, 1)[1].split(cost.END, 1)[0]
    assert "**dev**" in section and "**prod**" in section
    assert section.count("| **total** |") == 2, "run `make cost-docs`"
