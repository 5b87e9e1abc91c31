"""The rules and Alertmanager's configuration through Prometheus' own tools: `promtool check rules`
on every rule the stacks deploy (the program's, and the chart's where the cache is filled),
`promtool test rules` on the unit tests in tests/rules/ (each alert firing on the series that
should page and silent beside them), `amtool check-config` and routing tests on the configuration.

`make setup` installs both tools (tools/rule_tools.py); CI fails without them, a machine that is
not Debian skips these tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cells.alerts import cell_rule
from components.inference.alerts import inference_rule
from components.observability import alerting
from components.observability.rules import rules
from components.observability.slo import slo_rules
from stacks.config_inference import SERVERS_WORKLOAD, HubModel, ServerConfig
from stacks.config_observability import Paging, Slo, Thresholds
from tests.conftest import stack_cfg
from tools.plan import Plan

ROOT = Path(__file__).resolve().parent.parent
UNIT_TESTS = Path(__file__).resolve().parent / "rules"


def _tool(name: str) -> Path:
    path = ROOT / ".venv" / "bin" / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found:
        return Path(found)
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing: `make setup` installs it (tools/rule_tools.py)")
    pytest.skip(f"{name} is not installed (make setup installs it on Debian)")


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    """The command's standard output; it must succeed."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _groups(objects: list[dict[str, Any]], annotations: bool = True) -> list[dict[str, Any]]:
    groups = [g for o in objects for g in o["spec"]["groups"]]
    if not annotations:
        # promtool compares an alert's annotations verbatim; the unit tests check the logic (the
        # expression, `for` and labels), and `check rules` the annotations' templates.
        bare = [[{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]] for g in groups]
        groups = [{**g, "rules": r} for g, r in zip(groups, bare, strict=True)]
    return groups


def _write(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_promtool_accepts_every_rule_the_stack_deploys(stack: str, tmp_path: Path) -> None:
    promtool = _tool("promtool")
    cfg = stack_cfg(stack)
    o = cfg.observability
    objects = [
        *rules(
            o.namespace,
            o.thresholds,
            pools={name: pool.max_nodes for name, pool in cfg.cluster.node_pools.items()},
            kafka=cfg.kafka.namespace if cfg.kafka.enabled else None,
            harbor=cfg.harbor.namespace if cfg.harbor.enabled else None,
            redis=o.exporters.redis,
        ),
        *slo_rules(o.namespace, o.slos),
        *(cell_rule(name, c.namespace) for name, c in cfg.cells.items()),
        inference_rule(cfg.inference, cfg.identity.workloads[SERVERS_WORKLOAD].namespace),
    ]
    path = _write(tmp_path / "rules.yaml", _groups(objects))
    assert "SUCCESS" in _run(promtool, "check", "rules", "--lint=all", "--lint-fatal", path)


def _unit_rules(directory: Path) -> None:
    """The rule files tests/rules/*.test.yaml name, built as their headers describe."""
    estate = rules("observability", Thresholds(), pools={"gpu-l4": 2}, kafka="kafka", harbor="harbor", redis=True)
    _write(directory / "estate-alerts.yaml", _groups(estate, annotations=False))
    slo = Slo(namespace="cells", service="api-gateway", availability_percent=99.9, latency_ms=200, latency_percent=95)
    _write(directory / "slo-api-gateway.yaml", _groups(slo_rules("observability", {"api-gateway": slo}), False))
    _write(directory / "cell-chat.yaml", _groups([cell_rule("chat", "cells")], annotations=False))
    model = {"repository": "org/model", "revision": "0" * 40, "sizeGb": 2}
    servers = {
        "chat": ServerConfig(runtime="vllm", pool="gpu", model=HubModel.model_validate(model), load_seconds=900),
        "rwkv": ServerConfig(
            runtime="llamacpp",
            pool="gpu",
            model=HubModel.model_validate({**model, "file": "m.gguf"}),
            load_seconds=600,
        ),
    }
    _write(directory / "inference.yaml", _groups([inference_rule(servers, "inference")], annotations=False))


def test_every_alert_fires_on_what_should_page_and_stays_silent_otherwise(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    _unit_rules(tmp_path)
    tests = sorted(UNIT_TESTS.glob("*.test.yaml"))
    for test in tests:
        shutil.copy(test, tmp_path / test.name)
    _run(promtool, "test", "rules", *(t.name for t in tests), cwd=tmp_path)
    # Every alert the program defines has a unit test that expects it to fire.
    tested = {
        case["alertname"]
        for t in tests
        for group in yaml.safe_load(t.read_text())["tests"]
        for case in group.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    defined = {
        r["alert"]
        for f in tmp_path.glob("*.yaml")
        if not f.name.endswith(".test.yaml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert defined == tested, f"alerts without a firing unit test: {sorted(defined - tested)}"


def test_a_unit_test_that_expects_the_wrong_alert_fails(tmp_path: Path) -> None:
    """The runner reports a failure: a wrong expectation is not passed over."""
    promtool = _tool("promtool")
    _unit_rules(tmp_path)
    case = yaml.safe_load((UNIT_TESTS / "estate-alerts.test.yaml").read_text())
    harbor = next(g for g in case["tests"] if g["name"] == "Harbor")
    harbor["alert_rule_test"][-1]["exp_alerts"][0]["exp_labels"]["component"] = "core"
    (tmp_path / "wrong.test.yaml").write_text(yaml.safe_dump({**case, "tests": [harbor]}))
    done = subprocess.run([promtool, "test", "rules", "wrong.test.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0 and "HarborComponentDown" in done.stdout + done.stderr


def test_promtool_accepts_the_charts_rules(dev_plan: Plan, tmp_path: Path) -> None:
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    promtool = _tool("promtool")
    cache = require_charts("kube-prometheus-stack")
    (chart,) = [c for c in dev_plan.by_type("kubernetes:helm.sh/v4:Chart") if c["name"].endswith("-metrics-chart")]
    (outcome,) = render_charts([chart], cache)
    objects = [o["inputs"] for o in outcome.children if o["inputs"]["kind"] == "PrometheusRule"]
    assert len(objects) > 10
    _run(promtool, "check", "rules", _write(tmp_path / "chart.yaml", _groups(objects)))


PAGING = [Paging(), Paging(warning_webhook_secret="warnings-webhook", repeat_hours=12)]


@pytest.mark.parametrize("paging", PAGING, ids=["pagerduty", "with-webhook"])
def test_amtool_accepts_the_configuration_and_routes_by_severity(paging: Paging, tmp_path: Path) -> None:
    amtool = _tool("amtool")
    config = tmp_path / "alertmanager.yaml"
    config.write_text(alerting.secret_templates(paging)[alerting.CONFIG_KEY])
    assert "SUCCESS" in _run(amtool, "check-config", config)

    def receiver(*labels: str) -> str:
        return _run(amtool, "config", "routes", "test", f"--config.file={config}", *labels).strip()

    assert receiver("alertname=HighErrorRate", "severity=critical", "namespace=cells") == "pagerduty"
    assert receiver("alertname=HighMemoryUsage", "severity=warning") == "warnings"
    assert receiver("alertname=Watchdog", "severity=none") == "none"
    assert receiver("alertname=Unlabelled") == "warnings"


def test_amtool_refuses_a_broken_configuration(tmp_path: Path) -> None:
    amtool = _tool("amtool")
    broken = alerting.config(Paging())
    broken["route"]["routes"][1]["receiver"] = "nobody"
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(broken))
    done = subprocess.run([amtool, "check-config", config], capture_output=True, text=True)
    assert done.returncode != 0 and "nobody" in done.stdout + done.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_amtool_accepts_each_stacks_configuration(stack: str, tmp_path: Path) -> None:
    amtool = _tool("amtool")
    config = tmp_path / "alertmanager.yaml"
    config.write_text(alerting.secret_templates(stack_cfg(stack).observability.paging)[alerting.CONFIG_KEY])
    assert "SUCCESS" in _run(amtool, "check-config", config)
