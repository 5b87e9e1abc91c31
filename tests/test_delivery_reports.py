"""`make cost`, `make deploy-time` and `make graph` on fixture plans and on the real dev/prod plans."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stacks.config_cells import REFERENCE
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


def test_critical_path_follows_dependencies_and_flags_avoidable_order_only_links() -> None:
    api = res("gcp:projects/service:Service", "api")
    ring = res("gcp:kms/keyRing:KeyRing", "ring")
    cluster = res("gcp:container/cluster:Cluster", "gke", deps=[api["urn"], ring["urn"]])  # depends_on only
    pool = res("gcp:container/nodePool:NodePool", "pool", deps=[cluster["urn"]], data={"cluster": [cluster["urn"]]})
    bucket = res("gcp:storage/bucket:Bucket", "b")
    plan = plan_of({"stack": "t", "resources": [api, ring, cluster, pool, bucket]})
    rep = deploy_time.critical_path(plan, TIMES)
    t = TIMES["types"]
    assert [link.name for link in rep.chain] == ["api", "gke", "pool"]
    assert (
        rep.total
        == t["gcp:projects/service:Service"] + t["gcp:container/cluster:Cluster"] + t["gcp:container/nodePool:NodePool"]
    )
    assert [link.waits_by for link in rep.chain] == [None, "order", "data"]
    # An API before its first call is order the cloud requires: shown, not flagged.
    assert rep.chain[1].required == "the API is on before its first call" and rep.flagged == []
    assert rep.total_without_order == rep.total - t["gcp:projects/service:Service"]
    # A key ring the cluster only waits for (no input names it, no rule requires it) is avoidable.
    slow_ring = {**ring, "type": "gcp:sql/databaseInstance:DatabaseInstance"}
    rep = deploy_time.critical_path(plan_of({"stack": "t", "resources": [api, slow_ring, cluster, pool]}), TIMES)
    assert [link.name for link in rep.flagged] == ["gke"]
    assert "FLAG" in deploy_time.render(rep)


def test_required_order_reasons() -> None:
    chart, crd_user = "kubernetes:helm.sh/v4:Chart", "kubernetes:cert-manager.io/v1:ClusterIssuer"
    assert deploy_time.required_order(chart, crd_user) == "the earlier chart's CRDs and webhooks serve it"
    assert deploy_time.required_order("gcp:container/nodePool:NodePool", chart) == "pods need nodes"
    assert deploy_time.required_order("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "x") is not None
    assert deploy_time.required_order("gcp:storage/bucket:Bucket", chart) is None


def test_real_first_up_has_no_avoidable_order_on_its_critical_chain(prod_plan: Plan) -> None:
    rep = deploy_time.critical_path(_file(prod_plan), TIMES)
    assert rep.flagged == [], deploy_time.render(rep)
    # The Istio node agents wait for base only, and the gateway for istiod, not for them.
    charts = {r["name"].rsplit("-mesh-", 1)[-1]: r for r in prod_plan.by_type("kubernetes:helm.sh/v4:Chart")}
    named = {
        name: {d.rsplit("::", 1)[-1].rsplit("-mesh-", 1)[-1] for d in r["dependencies"]} for name, r in charts.items()
    }
    assert "istiod" not in named["istio-cni"] | named["ztunnel"]
    assert "istio-base" in named["istio-cni"] and "istio-base" in named["ztunnel"]
    assert "istiod" in named["istio-gateway"] and not {"istio-cni", "ztunnel"} & named["istio-gateway"]


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


NODE = re.compile(r'^\s+(c\d+) \[label=<(.*)>, tooltip="([^"]*)"\];$', re.M)
EDGE = re.compile(r"^\s+(c\d+) -> (c\d+) \[(.*)\];$", re.M)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (.ci/run installs it)")


def _nodes(dot: str) -> dict[str, tuple[str, str]]:
    """Box id -> (label, tooltip `type name`)."""
    return {m[1]: (m[2], m[3]) for m in NODE.finditer(dot)}


def _edges(dot: str) -> list[tuple[str, str, str]]:
    """The drawn edges (dependency id, dependent id, attributes); the layer gates are not boxes."""
    return [(m[1], m[2], m[3]) for m in EDGE.finditer(dot)]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _layout(dot_text: str) -> tuple[float, dict[str, tuple[float, float, float, float]]]:
    """`dot -Tplain`: the drawing's natural width in inches, and box id -> (x, y, w, h), y upwards."""
    out = subprocess.run(["dot", "-Tplain"], input=dot_text, capture_output=True, text=True, check=True).stdout
    width, boxes = 0.0, {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "graph":
            width = float(f[2])
        elif f[0] == "node" and f[1].startswith("c"):
            boxes[f[1]] = (float(f[2]), float(f[3]), float(f[4]), float(f[5]))
    return width, boxes


def _component_boxes(plan: PlanFile) -> set[str]:
    """`type name` of every estate component not inside another (layer components are groups, not boxes)."""
    out = set()
    for comp in plan.components():
        if not comp["type"].startswith("estate:") or graph.is_layer_component(comp):
            continue
        up = plan.by_urn.get(comp["parent"] or "")
        while up is not None and not (up["type"].startswith("estate:") and not graph.is_layer_component(up)):
            up = plan.by_urn.get(up["parent"] or "")
        if up is None:
            out.add(f"{comp['type']} {comp['name']}")
    return out


def test_graph_draws_one_box_per_component_and_no_resource(prod_plan: Plan) -> None:
    plan = _file(prod_plan)
    nodes = _nodes(graph.to_dot(plan))
    tips = [tip for _, tip in nodes.values()]
    assert len(tips) == len(set(tips)) >= 15
    # A bundled box (`Cell × 9`) names every component it stands for.
    named = [f"{tip.split(' ')[0]} {name}" for tip in tips for name in tip.split(" ", 1)[1].split(", ")]
    assert len(named) == len(set(named)) == len(_component_boxes(plan))
    assert set(named) == _component_boxes(plan)
    assert all(tip.startswith("estate:") for tip in tips)  # no resource, chart or provider drawn on its own
    held = sum(int(m[1]) for label, _ in nodes.values() for m in re.finditer(r"(\d+) resources?\b", label))
    assert held == sum(1 for r in plan.custom() if plan.component_of(r) is not None) == len(list(plan.custom()))
    mesh = next(label for label, tip in nodes.values() if tip.startswith("estate:mesh:Mesh "))
    assert "<B>Mesh</B>" in mesh and re.search(r"\d+ resources · [1-9]\d* charts?", mesh)  # charts fold in


def test_graph_edges_are_unique_per_component_pair_without_self_loops(prod_plan: Plan) -> None:
    plan = _file(prod_plan)
    pic = graph.picture(plan)
    for all_edges in (False, True):
        dot = graph.to_dot(plan, all_edges=all_edges)
        pairs = [(a, b) for a, b, _ in _edges(dot)]
        assert len(pairs) == len(set(pairs)) and all(a != b for a, b in pairs)
        assert all(re.search(r"label=<.*<TD>[1-9]\d*</TD>", attrs) for _, _, attrs in _edges(dot))
        assert len(pairs) == (len(pic.edges) if all_edges else sum(not e["implied"] for e in pic.edges.values()))
    assert len(pic.edges) >= 20 and all(a != b for a, b in pic.edges)
    # Leaving out the transitive duplicates keeps what waits for what.
    drawn = {pair for pair, info in pic.edges.items() if not info["implied"]}
    assert all(graph.reaches(a, b, drawn) for a, b in pic.edges)
    kube = next(u for u in pic.members["cloud"] if plan.by_urn[u]["type"] == "estate:cluster:KubeAccess")
    spaces = next(u for u in pic.members["platform"] if plan.by_urn[u]["type"] == "estate:namespaces:Namespaces")
    inside = {kube} | {d["urn"] for d in plan.descendants(kube)}
    waiting = sum(
        1
        for r in plan.descendants(spaces)
        if r["custom"] and ({(r["provider"] or "").rsplit("::", 1)[0], *r["dependencies"]} & inside)
    )
    assert pic.edges[(kube, spaces)] == {"count": waiting, "data": True, "implied": False} and waiting > 10


@needs_dot
def test_graph_ranks_the_layers_top_down_in_order(prod_plan: Plan) -> None:
    plan = _file(prod_plan)
    pic = graph.picture(plan)
    assert pic.layers == ["cloud", "platform", "data", "observability", "cells", "inference", "automation"]
    dot = graph.to_dot(plan)
    assert dot.index('subgraph "cluster_0"') < dot.index("<B>cloud layer</B>") < dot.index('subgraph "cluster_1"')
    assert dot.index('subgraph "cluster_1"') < dot.index("<B>platform layer</B>") and "rankdir=TB" in dot
    assert dot.index('subgraph "cluster_2"') < dot.index("<B>data layer</B>")
    ids = {urn: f"c{i}" for i, urn in enumerate(u for layer in pic.layers for u in pic.members[layer])}
    _, boxes = _layout(dot)

    def bottom(layer: str) -> float:
        return min(boxes[ids[u]][1] - boxes[ids[u]][3] / 2 for u in pic.members[layer])

    def top(layer: str) -> float:
        return max(boxes[ids[u]][1] + boxes[ids[u]][3] / 2 for u in pic.members[layer])

    # Every cloud box above every platform box, and every platform box above every data box.
    assert bottom("cloud") > top("platform") and bottom("platform") > top("data")
    # The cells, one box for the nine (a map users extend would widen the picture).
    (cells,) = [u for u in pic.members["cells"] if plan.by_urn[u]["type"] == "estate:cells:Cell"]
    assert len(pic.bundles[cells]) == len(REFERENCE) and "Cell × 9" in dot


@needs_dot
def test_graph_png_fits_the_readme_with_legible_text(prod_plan: Plan, tmp_path: Path) -> None:
    dot = graph.to_dot(_file(prod_plan))
    written = graph.render(dot, tmp_path / "estate-prod")
    assert [p.suffix for p in written] == [".dot", ".svg", ".png"]
    assert "<svg" in (tmp_path / "estate-prod.svg").read_text()
    width, height = _png_size((tmp_path / "estate-prod.png").read_bytes())
    # Six layers top-down: taller than wide, never more than two and a half times.
    assert width <= graph.MAX_WIDTH_PX <= 1400 and 400 < height <= 2.5 * width
    # Drawn at its natural size (the `size` cap not reached), so no text is smaller than 12 pt.
    natural, _ = _layout(dot)
    assert natural * graph.DPI <= graph.MAX_WIDTH_PX
    sizes = [float(s) for s in re.findall(r'(?:fontsize=|POINT-SIZE=")(\d+(?:\.\d+)?)', dot)]
    assert sizes and min(sizes) >= 12


def test_graph_aggregates_resource_links_into_one_edge_per_pair() -> None:
    net = res("estate:network:Network", "t-net", custom=False)
    vpc = res("gcp:compute/network:Network", "vpc", parent=net["urn"])
    sub = res(
        "gcp:compute/subnetwork:Subnetwork", "sub", parent=net["urn"], deps=[vpc["urn"]], data={"n": [vpc["urn"]]}
    )
    cl = res("estate:cluster:Cluster", "t-cluster", custom=False)
    uses = [
        res(
            "gcp:container/cluster:Cluster",
            f"gke{i}",
            parent=cl["urn"],
            deps=[vpc["urn"], sub["urn"]],
            data={"n": [vpc["urn"]]},
        )
        for i in range(3)
    ]
    mesh = res("estate:mesh:Mesh", "t-mesh", custom=False)
    chart = res("kubernetes:helm.sh/v4:Chart", "istio", parent=mesh["urn"], custom=False, deps=[uses[0]["urn"]])
    late = res("gcp:compute/address:Address", "ip", parent=mesh["urn"], deps=[net["urn"]])  # a component: all of it
    plan = plan_of({"stack": "t", "resources": [net, vpc, sub, cl, *uses, mesh, chart, late]})
    pic = graph.picture(plan)
    assert pic.layers == ["cloud", "platform"]
    assert pic.resources[mesh["urn"]] == {"resources": 1, "charts": 1}
    assert pic.edges == {
        (net["urn"], cl["urn"]): {"count": 3, "data": True, "implied": False},
        (cl["urn"], mesh["urn"]): {"count": 1, "data": False, "implied": False},
        (net["urn"], mesh["urn"]): {"count": 1, "data": False, "implied": True},
    }
    dot = graph.to_dot(plan)
    nodes = _nodes(dot)
    assert sorted(tip for _, tip in nodes.values()) == [
        "estate:cluster:Cluster t-cluster",
        "estate:mesh:Mesh t-mesh",
        "estate:network:Network t-net",
    ]
    assert "component names without t-" in dot and "1 of 3 pairs implied" in dot
    ids = {tip.split()[1]: i for i, (_, tip) in nodes.items()}
    assert [(a, b) for a, b, _ in _edges(dot)] == [(ids["t-cluster"], ids["t-mesh"]), (ids["t-net"], ids["t-cluster"])]
    assert "<TD>3</TD>" in dict(((a, b), attrs) for a, b, attrs in _edges(dot))[(ids["t-net"], ids["t-cluster"])]
    assert len(_edges(graph.to_dot(plan, all_edges=True))) == 3


def test_graph_groups_a_layer_components_and_puts_later_layers_last() -> None:
    apps = res("estate:apps:Layer", "apps", custom=False)
    app = res("estate:apps:Serving", "serving", parent=apps["urn"], custom=False)
    pod = res("kubernetes:apps/v1:Deployment", "api", parent=app["urn"])
    layer = res("estate:cloud:Layer", "cloud", custom=False)
    net = res("estate:network:Network", "net", parent=layer["urn"], custom=False)
    vpc = res("gcp:compute/network:Network", "vpc", parent=net["urn"])
    chart = res("kubernetes:helm.sh/v4:Chart", "istio", custom=False, deps=[vpc["urn"]])
    plan = plan_of({"stack": "t", "resources": [apps, app, pod, layer, net, vpc, chart]})
    owner, group = graph.boxes(plan, deploy_time.Graph(plan, TIMES).nodes)
    assert owner == {pod["urn"]: app["urn"], vpc["urn"]: net["urn"], chart["urn"]: chart["urn"]}
    assert group == {app["urn"]: "apps", net["urn"]: "cloud", chart["urn"]: "platform"}
    assert graph.picture(plan).layers == ["cloud", "platform", "apps"]
    dot = graph.to_dot(plan)
    assert dot.index("<B>cloud layer</B>") < dot.index("<B>platform layer</B>") < dot.index("<B>apps layer</B>")
    assert "gate0" in dot and "gate1" in dot and "estate:cloud:Layer" not in dot  # a group, not a box


def test_graph_layer_from_module_path_package_or_contents() -> None:
    comp = res("estate:platform/mesh:Mesh", "mesh", custom=False)
    plain = res("estate:storage:Buckets", "store", custom=False)
    kid = res("gcp:storage/bucket:Bucket", "b", parent=plain["urn"])
    odd = res("estate:odd:Thing", "odd", custom=False)
    pod = res("kubernetes:core/v1:Pod", "p", parent=odd["urn"])
    plan = plan_of({"stack": "t", "resources": [comp, plain, kid, odd, pod]})
    assert graph.layer_of(plan, comp) == "platform"
    assert graph.layer_of(plan, plain) == "cloud"  # components/cloud/ registers estate:storage:Buckets
    assert graph.layer_of(plan, odd) == "platform"  # unknown token: by what it holds
    assert graph.layer_packages()["estate:mesh:Mesh"] == "platform"
    # The cloud layer registers estate:data:Database: its module is not the data layer.
    db = res("estate:data:Database", "db", custom=False)
    assert graph.layer_of(plan, db) == "cloud" and not graph.is_layer_component(db)
    assert graph.layer_packages()["estate:pubsub:PubSub"] == "data"
    assert plan.top_component(kid) == plain and plain["parent"] == STACK_URN


@needs_dot
def test_graph_renders_svg_and_png(tmp_path: Path) -> None:
    written = graph.render(graph.to_dot(plan_of(storage_plan())), tmp_path / "estate")
    assert [p.suffix for p in written] == [".dot", ".svg", ".png"]
    assert (tmp_path / "estate.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in (tmp_path / "estate.svg").read_text()


def test_committed_readme_picture_is_a_png_that_fits_the_readme() -> None:
    picture = ROOT / "docs" / "estate-prod.png"
    data = picture.read_bytes()
    assert len(data) > 10_000
    width, height = _png_size(data)
    assert width <= 1400 and height <= 2.5 * width  # six layers top-down
    assert "docs/estate-prod.png" in (ROOT / "README.md").read_text()


def test_readme_carries_the_generated_cost_tables_for_dev_and_prod() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split(cost.START, 1)[1].split(cost.END, 1)[0]
    assert "**dev**" in section and "**prod**" in section
    assert section.count("| **total** |") == 2, "run `make cost-docs`"
