"""Charts rendered offline as pulumi-kubernetes' Chart v4 renders them, through the test chart."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

from tests.chart_fixtures import OCI_REPO, REPO, TEST_CHART, VERSION, chart_inputs, chart_plan, fill_cache
from tools.charts import ChartRef, ChartRefError, archive_path, chart_ref, render_chart, render_charts
from tools.charts.__main__ import main as charts_main
from tools.charts.chart import SECRET_PLACEHOLDER
from tools.charts.children import NormalizeError, normalize, object_id
from tools.charts.fetch import fetch
from tools.plan import MASK, SECRET_SIG, SECRET_VALUE, UNKNOWN, Plan

CHART_URN = "urn:pulumi:dev::ai-estate::estate:platform:Platform$kubernetes:helm.sh/v4:Chart::gated"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill_cache(tmp_path_factory.mktemp("charts"))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return chart_plan()


def chart(name: str = "gated", **inputs: Any) -> dict[str, Any]:
    return {
        "urn": CHART_URN.replace("::gated", f"::{name}"),
        "type": "kubernetes:helm.sh/v4:Chart",
        "name": name,
        "custom": False,
        "parent": None,
        "provider": None,
        "inputs": chart_inputs(**inputs),
    }


def ids(outcome: Any) -> list[str]:
    return [object_id(c["inputs"]) for c in outcome.children]


# ------------------------------------------------------------------ pins and cache
def test_pins_come_from_the_chart_inputs() -> None:
    assert chart_ref(chart_inputs()) == ChartRef(REPO, "gated", VERSION)
    oci = chart_ref({"chart": f"{OCI_REPO}/gated", "version": VERSION})
    assert (oci.repo, oci.name, oci.oci) == (OCI_REPO, "gated", True)
    assert archive_path(oci, Path("c")) == Path("c/registry.example.com_charts/gated-0.3.0.tgz")
    assert archive_path(chart_ref(chart_inputs()), Path("c")) == Path("c/charts.example.com_stable/gated-0.3.0.tgz")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (chart_inputs(version="^0.3.0"), "version '^0.3.0' is not an exact version"),
        (chart_inputs(version=None), "version None is not an exact version"),
        ({"chart": "gated", "version": VERSION}, "no repositoryOpts.repo"),
        (chart_inputs(chart="stable/gated"), "the chart is a bare name"),
    ],
)
def test_charts_without_an_exact_cacheable_pin_are_refused(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ChartRefError, match=message.replace("^", r"\^")):
        chart_ref(inputs)


# ------------------------------------------------------------------ what Helm renders
def test_the_manifest_has_the_crds_first_and_no_hook_or_notes(cache: Path) -> None:
    outcome = render_chart(chart(namespace="apps"), cache)
    assert outcome.error is None
    assert ids(outcome) == [
        "CustomResourceDefinition/widgets.example.com",
        "ServiceAccount/apps/gated-gated",
        "ConfigMap/apps/gated-gated-settings",
        "Deployment/apps/gated-gated",
        "Widget/apps/gated-gated",
    ]
    assert "gated-gated-migrate" not in str([c["inputs"] for c in outcome.children])  # the pre-install hook Job


def test_skip_crds_leaves_the_crds_out(cache: Path) -> None:
    outcome = render_chart(chart(namespace="apps", skipCrds=True), cache)
    assert not any(c["type"].endswith(":CustomResourceDefinition") for c in outcome.children)
    # Without its CRD only a cluster could say the Widget is namespaced; offline it stays unset.
    assert "Widget/gated-gated" in ids(outcome)
    assert outcome.unresolved == ["example.com/v1/Widget"]


def test_a_disabled_subchart_brings_neither_templates_nor_crds(cache: Path) -> None:
    off = ids(render_chart(chart(namespace="apps"), cache))
    on = ids(render_chart(chart(namespace="apps", values={"extra": {"enabled": True}}), cache))
    assert set(on) - set(off) == {"CustomResourceDefinition/gadgets.example.com", "ConfigMap/apps/gated-extra"}


def test_release_is_a_first_install_named_after_the_chart_resource(cache: Path) -> None:
    outcome = render_chart(chart(namespace="apps"), cache)
    settings = next(c["inputs"] for c in outcome.children if c["inputs"]["kind"] == "ConfigMap")
    assert (outcome.release, outcome.namespace) == ("gated", "apps")
    assert settings["data"] == {
        "install": "true",
        "upgrade": "false",
        "revision": "1",
        "kubeVersion": "v1.36.0",
        "since": "2024-01-01",
    }
    named = render_chart(chart(namespace="apps", name="other"), cache)
    assert named.release == "other" and "Deployment/apps/other-gated" in ids(named)


def test_namespace_defaults_to_the_providers_then_default(cache: Path) -> None:
    provider = {"urn": "urn:p", "type": "pulumi:providers:kubernetes", "inputs": {"namespace": "team"}}
    scoped = render_chart({**chart(), "provider": "urn:p::id"}, cache, {"urn:p": provider})
    assert scoped.namespace == "team" and "ConfigMap/team/gated-gated-settings" in ids(scoped)
    plain = render_chart(chart(), cache)
    assert plain.namespace == "default" and "ConfigMap/default/gated-gated-settings" in ids(plain)


# ------------------------------------------------------------------ what Pulumi registers
def test_children_are_named_typed_and_parented_as_chart_v4_registers_them(plan: Plan, cache: Path) -> None:
    outcomes = {o.name: o for o in render_charts(plan.resources, cache)}
    gated, oci = outcomes["gated"], outcomes["gated-oci"]
    registered = plan.one("kubernetes:helm.sh/v4:Chart", "gated")
    assert {c["type"]: c["name"] for c in gated.children} == {
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": "gated:widgets.example.com",
        "kubernetes:core/v1:ServiceAccount": "gated:apps/gated-gated",
        "kubernetes:core/v1:ConfigMap": "gated:apps/gated-gated-settings",
        "kubernetes:apps/v1:Deployment": "gated:apps/gated-gated",
        "kubernetes:example.com/v1:Widget": "gated:apps/gated-gated",
    }
    deployment = next(c for c in gated.children if c["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["urn"] == (
        "urn:pulumi:dev::ai-estate::estate:platform:Platform$kubernetes:helm.sh/v4:Chart"
        "$kubernetes:apps/v1:Deployment::gated:apps/gated-gated"
    )
    assert deployment["parent"] == registered["urn"] and deployment["provider"] == registered["provider"]
    assert deployment["options"]["protect"] is False
    protected = render_chart({**chart(namespace="apps"), "options": {"protect": True}}, cache)
    assert all(c["options"]["protect"] for c in protected.children)
    assert set(deployment["inputs"]) == {"apiVersion", "kind", "metadata", "spec"}
    widget = next(c for c in gated.children if c["inputs"]["kind"] == "Widget")
    crd = next(c for c in gated.children if c["inputs"]["kind"] == "CustomResourceDefinition")
    assert widget["dependencies"] == [crd["urn"]]
    # An empty resourcePrefix drops the prefix; `name` sets the release; the provider's namespace applies.
    assert {c["type"]: c["name"] for c in oci.children} == {
        "kubernetes:core/v1:ServiceAccount": "team/custom-gated",
        "kubernetes:core/v1:ConfigMap": "team/custom-gated-settings",
        "kubernetes:apps/v1:Deployment": "team/custom-gated",
        # Its chart skips the CRD, but the program registers it (with the other chart): namespaced.
        "kubernetes:example.com/v1:Widget": "team/custom-gated",
    }
    assert oci.unresolved == []


def test_secret_values_render_as_their_mask(cache: Path) -> None:
    masked = {SECRET_SIG: SECRET_VALUE, "value": MASK}
    outcome = render_chart(chart(namespace="apps", values={"image": masked}), cache)
    deployment = next(c for c in outcome.children if c["inputs"]["kind"] == "Deployment")
    assert deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] == SECRET_PLACEHOLDER


# ------------------------------------------------------------------ when it cannot render
def test_a_chart_missing_from_the_cache_says_how_to_fill_it(tmp_path: Path) -> None:
    outcome = render_chart(chart(namespace="apps"), tmp_path)
    assert not outcome.rendered and outcome.children == [] and not outcome.broken
    assert outcome.error == (
        f"not in the chart cache ({tmp_path}/charts.example.com_stable/gated-0.3.0.tgz); "
        "run `make charts` on a machine with network"
    )


def test_unknown_inputs_render_nothing_as_in_chart_v4(cache: Path) -> None:
    outcome = render_chart(chart(namespace=UNKNOWN, values={"image": UNKNOWN}), cache)
    assert outcome.error == "inputs unknown during preview (namespace, values.image): Chart v4 renders nothing then"


def test_helms_install_checks_apply(cache: Path, tmp_path: Path) -> None:
    long_name = render_chart(chart(name="x" * 54, namespace="apps"), cache)
    assert long_name.error is not None and "invalid release name" in long_name.error
    broken = tmp_path / "src" / "gated"
    shutil.copytree(TEST_CHART, broken)
    shutil.rmtree(broken / "charts")
    (tmp_path / "cache" / "charts.example.com_stable").mkdir(parents=True)
    # `helm package` refuses such a chart, so archive it by hand as a repository might serve it.
    with tarfile.open(tmp_path / "cache" / "charts.example.com_stable" / "gated-0.3.0.tgz", "w:gz") as tgz:
        tgz.add(broken, arcname="gated")
    missing = render_chart(chart(namespace="apps"), tmp_path / "cache")
    assert missing.error == "render failed: found in Chart.yaml, but missing in charts/ directory: extra"


def test_a_template_error_is_reported_per_chart(cache: Path) -> None:
    outcome = render_chart(chart(namespace="apps", values={"extra": "not-a-map"}), cache)
    assert outcome.error is not None and outcome.error.startswith("render failed: ") and outcome.broken


# ------------------------------------------------------------------ filling the cache
@pytest.fixture
def repository(tmp_path: Path) -> Iterator[str]:
    """An HTTP chart repository on localhost serving the packaged test chart."""
    served = tmp_path / "repo"
    served.mkdir()
    helm_python.package(TEST_CHART, destination=served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm_python.repo_index_generate(served, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


def test_fill_downloads_the_exact_version_once(repository: str, tmp_path: Path) -> None:
    ref = ChartRef(repository, "gated", VERSION)
    first = fetch(ref, tmp_path / "cache")
    assert (first.status, first.error) == ("downloaded", None)
    port = repository.rsplit(":", 1)[1]
    assert first.path == tmp_path / "cache" / f"127.0.0.1_{port}" / "gated-0.3.0.tgz"
    assert helm_python.Chart.load(first.path).version == VERSION
    assert fetch(ref, tmp_path / "cache").status == "cached"


def test_fill_fails_per_chart_when_the_repository_cannot_be_reached(repository: str, tmp_path: Path) -> None:
    missing = fetch(ChartRef(repository, "gated", "9.9.9"), tmp_path)
    assert missing.status == "failed" and "9.9.9" in str(missing.error)
    unreachable = fetch(ChartRef("http://127.0.0.1:9", "gated", VERSION), tmp_path)
    assert unreachable.status == "failed" and "HelmRepoError" in str(unreachable.error)
    assert not (tmp_path / "127.0.0.1_9").exists()


def test_make_charts_takes_the_pins_from_the_plans(
    plan: Plan, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()))
    args = ["--plan", str(path), "--cache"]
    assert charts_main(["fill", *args, str(cache)]) == 0  # both pins already cached: no network needed
    out = capsys.readouterr().out
    assert "2 pinned charts" in out and out.count("  cached     ") == 2
    assert charts_main(["list", *args, str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().out.count("  MISSING ") == 2


def test_normalize_follows_the_providers_kind_table() -> None:
    listed = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "core/v1", "kind": "Service", "metadata": {"name": "svc"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr"}},
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": "vap"},
            },
        ],
    }
    objects, unresolved = normalize([listed], "apps")
    assert [(o["apiVersion"], o["kind"], o["metadata"].get("namespace")) for o in objects] == [
        ("v1", "Service", "apps"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", None),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", None),
    ]
    # Not in the provider's static table: only a cluster's discovery would say.
    assert unresolved == ["admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"]
    with pytest.raises(NormalizeError, match=r"require a \.metadata\.name"):
        normalize([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}], "apps")
