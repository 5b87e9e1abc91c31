"""Cells that run images from Harbor (`cells.<cell>.image.registry: harbor`): pinned by digest, pulled
with the pull robot's docker-registry Secret in their namespace, and released by the flow."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.automation import release
from components.data.harbor_pull import PULL_SECRET
from components.kube.registry_login import DOCKER_CONFIG_KEY, DOCKER_CONFIG_TYPE
from stacks import secret_keys as keys
from stacks.config_mesh import fqdn
from tests.conftest import area, config_problems, config_with, stack_cfg
from tests.test_automation_release import render_template
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

DIGEST = "sha256:" + "0f" * 32
IMAGE = {"registry": "harbor", "project": "estate", "name": "chat", "tag": "1.2.0", "digest": DIGEST}


def _cells(stack: str, **images: dict[str, Any]) -> dict[str, Any]:
    cells = area(stack, "cells")
    for cell, image in images.items():
        cells[cell] = {**cells.get(cell, {}), "image": image}
    return cells


@pytest.fixture(scope="module")
def harbor_plan() -> Plan:
    return run_plan("dev", config=config_with("dev", cells=_cells("dev", chat=IMAGE)))


def test_the_cell_runs_the_pinned_digest_with_the_pull_secret(harbor_plan: Plan) -> None:
    cfg = stack_cfg("dev")
    (deployment,) = [
        r["inputs"]
        for r in harbor_plan.by_type("kubernetes:apps/v1:Deployment")
        if r["inputs"]["metadata"]["name"] == "chat"
        and r["inputs"]["metadata"]["namespace"] == cfg.cells["chat"].namespace
    ]
    pod = deployment["spec"]["template"]["spec"]
    host = fqdn(cfg.harbor.host, cfg.dns.domain or "")
    assert pod["containers"][0]["image"] == f"{host}/estate/chat:1.2.0@{DIGEST}"
    assert pod["imagePullSecrets"] == [{"name": PULL_SECRET}]
    # The other cells keep Artifact Registry and need no pull secret.
    others = [
        r["inputs"]["spec"]["template"]["spec"]
        for r in harbor_plan.by_type("kubernetes:apps/v1:Deployment")
        if r["inputs"]["metadata"]["name"] in set(cfg.cells) - {"chat"}
    ]
    assert others and all("imagePullSecrets" not in p for p in others)


def test_the_pull_secret_is_the_robots_docker_login(harbor_plan: Plan) -> None:
    cfg = stack_cfg("dev")
    ns = cfg.cells["chat"].namespace
    (synced,) = [
        r["inputs"]
        for r in harbor_plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if r["inputs"]["metadata"]["name"] == PULL_SECRET and r["inputs"]["metadata"]["namespace"] == ns
    ]
    assert crd_problems(synced) == []
    target = synced["spec"]["target"]
    assert target["template"]["type"] == DOCKER_CONFIG_TYPE
    assert synced["spec"]["data"][0]["remoteRef"]["key"] == keys.secret_id(
        cfg.prefix, f"harbor-robot-{cfg.harbor.pull_robot}"
    )
    login = json.loads(render_template(target["template"]["data"][DOCKER_CONFIG_KEY], "Pw0rd"))
    (entry,) = login["auths"].values()
    assert list(login["auths"]) == [fqdn(cfg.harbor.host, cfg.dns.domain or "")]
    assert base64.b64decode(entry["auth"]).decode() == f"robot${cfg.harbor.pull_robot}:Pw0rd"
    # The namespace's own sync identity reads the robot's secret, granted where the secret is made.
    grants = [
        r["inputs"]
        for r in harbor_plan.by_type("gcp:secretmanager/secretIamMember:SecretIamMember")
        if r["name"].endswith(f"-pull-{ns}-grant")
    ]
    assert len(grants) == 1 and grants[0]["role"] == "roles/secretmanager.secretAccessor"


def test_the_flow_knows_which_cells_run_which_repository(harbor_plan: Plan) -> None:
    maps = [
        r["inputs"]
        for r in harbor_plan.by_type("kubernetes:core/v1:ConfigMap")
        if r["inputs"]["metadata"]["name"] == release.CONFIGMAP
    ]
    config = json.loads(maps[0]["data"][release.CONFIG_FILE])
    assert config["cells"] == {"estate/chat": ["chat"]}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({**IMAGE, "digest": None}, "cells.chat.image.digest = None: required with registry: harbor"),
        ({**IMAGE, "project": "models"}, "cells.chat.image.project = 'models': must be a harbor.projects key"),
        (
            {"name": "chat", "tag": "1.0.0", "digest": DIGEST},
            f"cells.chat.image.digest = {DIGEST!r}: only with registry: harbor",
        ),
        (
            {**IMAGE, "digest": "sha256:abc"},
            "cells.chat.image.digest = 'sha256:abc': invalid value; must be a manifest",
        ),
    ],
)
def test_bad_harbor_images_name_their_key(image: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", cells=_cells("dev", chat=image))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_harbor_image_needs_harbor_and_a_robot_that_reads_it() -> None:
    off = config_problems("dev", cells=_cells("dev", chat=IMAGE), harbor={"enabled": False})
    assert any(p.startswith("cells.chat.image.registry = 'harbor': Harbor is off") for p in off), off
    harbor: dict[str, Any] = {"projects": {"estate": {}, "apps": {}}}
    apps = config_problems("dev", cells=_cells("dev", chat={**IMAGE, "project": "apps"}), harbor=harbor)
    assert any(p.startswith("harbor.robots.cluster.projects.apps = None: the pull robot must read apps") for p in apps)
