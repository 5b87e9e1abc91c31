"""The release flow in the plans (ai-estate:automation.release): Harbor's webhooks to Windmill's
route, what the release group's pods read, who may call and what it may read, and the bad input
the loader refuses before any resource."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from components.automation import release
from components.kube.authz import principal
from components.platform.admission import WEBHOOK_KEY_ROLES
from stacks import secret_keys as keys
from stacks.config_mesh import fqdn
from stacks.config_release import RELEASE_TAG
from stacks.load import load
from tests.conftest import area, config_problems, config_with, registry, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how the engine marks a secret value


def _objects(plan: Plan, typ: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type(typ)
        if r["inputs"]["metadata"].get("namespace") == namespace
    }


def render_template(template: str, password: str) -> str:
    """External Secrets' rendering of the two actions the registry templates use."""
    auth = re.compile(r'\{\{ printf "%s:%s" "([^"]+)" \.password \| b64enc \}\}')
    text = auth.sub(lambda m: base64.b64encode(f"{m.group(1)}:{password}".encode()).decode(), template)
    return text.replace("{{ .password }}", password)


def test_each_release_project_sends_its_pushes_to_the_flow(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    hooks = [r["inputs"] for r in plan.by_type("harbor:index/projectWebhook:ProjectWebhook")]
    assert len(hooks) == len(cfg.automation.release.projects) >= 1
    for hook in hooks:
        assert hook["address"] == release.route_url(cfg.automation.windmill.namespace)
        assert hook["eventsTypes"] == ["PUSH_ARTIFACT"] and hook["notifyType"] == "http" and hook["enabled"]
        # The key travels as a secret, never in clear in the state or the diff.
        assert SECRET_SIG in hook["authHeader"]


def test_the_flow_reads_this_stacks_config(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    r = cfg.automation.release
    config_map = _objects(plan, "kubernetes:core/v1:ConfigMap", cfg.automation.windmill.namespace)[release.CONFIGMAP]
    config = json.loads(config_map["data"][release.CONFIG_FILE])
    assert config["stack"] == plan.stack and config["stackFile"] == f"Pulumi.{plan.stack}.yaml"
    assert config["repository"] == r.repository and config["baseBranch"] == r.base_branch
    assert config["projects"] == r.projects and config["registry"] == fqdn(cfg.harbor.host, cfg.dns.domain or "")
    assert re.fullmatch(
        r"gcpkms://projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/1",
        config["cosignKey"],
    )
    # The committed cells run from Artifact Registry: pushes to Harbor release none of them yet.
    harbor_cells = {n for n, c in cfg.cells.items() if c.image.registry == "harbor"}
    assert {c for cells in config["cells"].values() for c in cells} == harbor_cells


def test_only_the_release_group_has_cosign_and_the_flows_files(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    w = cfg.automation.windmill
    (chart,) = [
        r["inputs"] for r in plan.by_type("kubernetes:helm.sh/v4:Chart") if r["name"].endswith("-windmill-chart")
    ]
    groups = {g["name"]: g for g in chart["values"]["windmill"]["workerGroups"]}
    (name,) = [n for n, g in w.worker_groups.items() if g.release]
    assert RELEASE_TAG in w.worker_groups[name].tags and w.worker_groups[name].public_https
    group = groups[name]
    copy = group["initContainers"][0]
    assert copy["name"] == "cosign" and copy["image"].startswith(
        f"{registry(plan.stack)}/ghcr/sigstore/cosign/cosign@sha256:"
    )
    assert copy["command"] == ["/busybox/cp", "/ko-app/cosign", release.COSIGN]
    assert copy["securityContext"]["readOnlyRootFilesystem"] is True and copy["securityContext"]["runAsNonRoot"]
    mounts = {m["mountPath"]: m for m in group["volumeMounts"]}
    volumes = {v["name"]: v for v in group["volumes"]}
    for path in (release.BIN_DIR, release.CONFIG_DIR, release.KEY_DIR, release.TOKEN_DIR, release.REGISTRY_DIR):
        assert mounts[path]["readOnly"] is True
    assert volumes[mounts[release.CONFIG_DIR]["name"]]["configMap"]["name"] == release.CONFIGMAP
    # The token is a person's to add: the pods start without it.
    assert volumes[mounts[release.TOKEN_DIR]["name"]]["secret"] == {
        "secretName": release.GITHUB_SECRET,
        "optional": True,
    }
    assert volumes[mounts[release.KEY_DIR]["name"]]["secret"] == {"secretName": release.WEBHOOK_SECRET}
    for other, g in groups.items():
        if other != name:
            assert not {v["name"] for v in g["volumes"]} & set(volumes) - {"tmp"}
            assert [c["name"] for c in g["initContainers"]] == ["cloud-sql-proxy"]


def test_the_release_secrets_come_from_secret_manager(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns, prefix = cfg.automation.windmill.namespace, cfg.prefix
    synced = _objects(plan, "kubernetes:external-secrets.io/v1:ExternalSecret", ns)
    webhook, github, login = (
        synced[s] for s in (release.WEBHOOK_SECRET, release.GITHUB_SECRET, release.REGISTRY_SECRET)
    )
    assert webhook["spec"]["data"][0]["remoteRef"]["key"] == keys.secret_id(prefix, keys.RELEASE_WEBHOOK_KEY)
    assert webhook["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert github["spec"]["data"][0]["remoteRef"]["key"] == keys.secret_id(prefix, keys.RELEASE_GITHUB_TOKEN)
    assert "pulumi.com/waitFor" not in (github["metadata"].get("annotations") or {})
    template = login["spec"]["target"]["template"]["data"][release.REGISTRY_FILE]
    rendered = json.loads(render_template(template, "Secret123"))
    host = fqdn(cfg.harbor.host, cfg.dns.domain or "")
    entry = rendered["auths"][host]
    robot = f"robot${cfg.harbor.pull_robot}"
    assert entry["username"] == robot and base64.b64decode(entry["auth"]).decode() == f"{robot}:Secret123"
    # The program makes the webhook key; the token's secret exists without a version.
    made = {r["inputs"]["secretId"]: r for r in plan.by_type("gcp:secretmanager/secret:Secret")}
    assert keys.secret_id(prefix, keys.RELEASE_GITHUB_TOKEN) in made
    versions = [
        r for r in plan.by_type("gcp:secretmanager/secretVersion:SecretVersion") if "release-github" in r["name"]
    ]
    assert versions == []


def test_windmill_may_read_the_signing_keys_public_half_only(plan: Plan) -> None:
    grants = [
        r["inputs"] for r in plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") if "-release-" in r["name"]
    ]
    assert sorted(g["role"] for g in grants) == sorted(WEBHOOK_KEY_ROLES)
    workload = stack_cfg(plan.stack).automation.windmill.workload
    for g in grants:
        assert g["member"].startswith("serviceAccount:") and f"-wl-{workload}@" in g["member"]


def test_harbors_jobservice_reaches_windmills_server_only(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns, harbor_ns = cfg.automation.windmill.namespace, cfg.harbor.namespace
    policies = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", ns)
    inbound = policies["release-from-harbor"]["spec"]
    assert inbound["podSelector"]["matchLabels"] == {"app": "windmill-app"}
    (rule,) = inbound["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"] == {"app": "harbor", "component": "jobservice"}
    assert sorted(p["port"] for p in rule["ports"]) == [8000, 15008]
    outbound = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", harbor_ns)["release-to-windmill"]["spec"]
    assert outbound["podSelector"]["matchLabels"] == {"app": "harbor", "component": "jobservice"} and outbound[
        "policyTypes"
    ] == ["Egress"]
    authz = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", ns)["windmill-app-harbor"]
    assert crd_problems(authz) == []
    (allowed,) = authz["spec"]["rules"]
    assert allowed["from"][0]["source"]["principals"] == [principal(harbor_ns, "harbor-jobservice")]
    assert allowed["to"][0]["operation"]["ports"] == ["8000"]


def test_without_the_flow_nothing_of_it_is_made() -> None:
    automation = area("dev", "automation")
    plan = run_plan("dev", config=config_with("dev", automation={**automation, "release": {"enabled": False}}))
    assert plan.by_type("harbor:index/projectWebhook:ProjectWebhook") == []
    assert not [r for r in plan.resources if r["type"] == "estate:automation:ReleaseFlow"]


def _with(stack: str, **changes: Any) -> dict[str, Any]:
    automation = area(stack, "automation")
    return {**automation, **changes}


@pytest.mark.parametrize(
    ("areas", "expected"),
    [
        (
            {"automation": _with("dev", release={})},
            "automation.release.repository = None: required: this repository on GitHub",
        ),
        (
            {"automation": _with("dev", release={"repository": "owner/estate", "projects": ["models"]})},
            "automation.release.projects[0] = 'models': must be a harbor.projects key",
        ),
        (
            {"automation": _with("dev", release={"repository": "owner/estate", "baseBranch": "main branch"})},
            "automation.release.baseBranch = 'main branch': invalid value; must be a git branch",
        ),
        (
            {"automation": _with("dev", windmill={"workerGroups": {"release": None}})},
            "automation.windmill.workerGroups = []: exactly one group with release: true",
        ),
        (
            {
                "automation": _with(
                    "dev",
                    windmill={
                        "workerGroups": {
                            "default": {"tags": ["python3", "flow", "release"]},
                            "release": {"tags": ["release"], "release": True, "publicHttps": True},
                        }
                    },
                )
            },
            "automation.windmill.workerGroups.default.tags = ['python3', 'flow', 'release']: 'release' is the release",
        ),
        (
            {"automation": _with("dev", windmill={"workerGroups": {"r": {"tags": ["release"], "release": True}}})},
            "automation.windmill.workerGroups.r.publicHttps = False: must be true",
        ),
    ],
)
def test_bad_release_config_names_its_key(areas: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", **areas)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_robot_that_pushes_reads_too() -> None:
    harbor = {"robots": {"ci": {"projects": {"estate": "push"}}}, "pullRobot": "ci"}
    assert load("dev", config_with("dev", harbor=harbor)).harbor.pull_robot == "ci"


def test_the_pull_robot_must_read_every_release_project() -> None:
    harbor = {"projects": {"estate": {}, "apps": {}}, "robots": {"cluster": {"projects": {"estate": "pull"}}}}
    automation = _with("dev", release={"repository": "owner/estate", "projects": ["estate", "apps"]})
    problems = config_problems("dev", harbor=harbor, automation=automation)
    want = "harbor.robots.cluster.projects.apps = None: the pull robot must read apps: the release flow verifies"
    assert any(p.startswith(want) for p in problems), problems
