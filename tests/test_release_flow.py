"""Windmill's release flow as committed (components/automation/flows): its definition, its HTTP
route, and each step's code run here against Harbor's payloads, a stand-in cosign and a stand-in
GitHub: what it releases, what it refuses, and the stack change it proposes."""

from __future__ import annotations

import base64
import importlib.util
import json
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from components.automation import release
from stacks.config_release import RELEASE_TAG
from stacks.load import load
from tests.conftest import stack_cfg, stack_config

FLOW_DIR = release.FLOWS / "f" / "release" / "harbor_push__flow"
FLOW = yaml.safe_load((FLOW_DIR / "flow.yaml").read_text())
TRIGGER = yaml.safe_load(release.TRIGGER.read_text())
DIGEST = "sha256:" + "ab" * 32
SIG_DIGEST = "sha256:" + "cd" * 32


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"release_{name}", FLOW_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def push(tag: str, digest: str = DIGEST, project: str = "estate", name: str = "chat") -> dict[str, Any]:
    """Harbor's Default payload for PUSH_ARTIFACT (src/pkg/notifier/model/event.go)."""
    return {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1765000000,
        "operator": "robot$ci",
        "event_data": {
            "resources": [{"digest": digest, "tag": tag, "resource_url": f"registry.example/{project}/{name}:{tag}"}],
            "repository": {
                "name": name,
                "namespace": project,
                "repo_full_name": f"{project}/{name}",
                "repo_type": "private",
            },
        },
    }


CONFIG = {
    "stack": "dev",
    "stackFile": "Pulumi.dev.yaml",
    "repository": "owner/estate",
    "baseBranch": "main",
    "projects": ["estate"],
    "registry": "registry.example",
    "cells": {"estate/chat": ["chat"]},
    "cosignKey": "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
}


# ---------------------------------------------------------------- the definition


def test_the_flow_is_authenticate_match_verify_propose_on_the_release_group() -> None:
    pre = FLOW["value"]["preprocessor_module"]
    assert pre["id"] == "preprocessor" and pre["value"]["content"] == "!inline preprocessor.py"
    modules = FLOW["value"]["modules"]
    assert [m["id"] for m in modules] == ["match", "verify", "propose"]
    for m in [pre, *modules]:
        value = m["value"]
        assert value["type"] == "rawscript" and value["language"] == "python3"
        # Only the release group has cosign, the keys and the token.
        assert value["tag"] == RELEASE_TAG
        inline = value["content"].removeprefix("!inline ")
        assert (FLOW_DIR / inline).is_file()
    match, verify, propose = modules
    assert match["value"]["input_transforms"]["payload"]["expr"] == "flow_input.payload"
    assert match["stop_after_if"] == {"expr": "result.cells.length === 0", "skip_if_stopped": True}
    assert verify["value"]["input_transforms"]["image"]["expr"] == "results.match.image"
    assert verify["retry"]["constant"]["attempts"] * verify["retry"]["constant"]["seconds"] >= 600
    assert verify["stop_after_if"]["expr"] == "result.verified === false"
    assert not verify["stop_after_if"]["skip_if_stopped"] and verify["stop_after_if"]["error_message"]
    transforms = propose["value"]["input_transforms"]
    assert {k: v["expr"] for k, v in transforms.items()} == {"release": "results.match", "verified": "results.verify"}
    assert FLOW["schema"]["required"] == ["payload"]
    # Each script's entry point takes exactly what the flow passes it.
    assert set(script("match").main.__code__.co_varnames[:1]) == {"payload"}
    assert script("verify").main.__code__.co_varnames[:1] == ("image",)
    assert script("propose").main.__code__.co_varnames[:2] == ("release", "verified")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_tag_the_committed_flows_use_is_served(stack: str) -> None:
    groups = stack_cfg(stack).automation.windmill.worker_groups
    served = {tag for g in groups.values() if g.replicas > 0 for tag in g.tags}
    used = set()
    for flow in release.FLOWS.rglob("flow.yaml"):
        value = yaml.safe_load(flow.read_text())["value"]
        steps = [*value["modules"], *([value["preprocessor_module"]] if "preprocessor_module" in value else [])]
        used |= {step["value"]["tag"] for step in steps}
    assert used and used <= served and {"flow", "dependency"} <= served


def test_the_route_calls_the_flow_and_the_program_addresses_it() -> None:
    assert TRIGGER["script_path"] == "f/release/harbor_push" and TRIGGER["is_flow"] is True
    assert TRIGGER["http_method"] == "post" and TRIGGER["request_type"] == "async"
    # No Windmill token: the preprocessor checks the key Harbor sends.
    assert TRIGGER["authentication_method"] == "none" and TRIGGER["workspaced_route"] is False
    assert not TRIGGER["route_path"].startswith("/")
    assert release.route_url("windmill").endswith(f":8000/api/r/{TRIGGER['route_path']}")
    sync = yaml.safe_load((release.FLOWS / "wmill.yaml").read_text())
    assert sync["includeTriggers"] is True and sync["nonDottedPaths"] is True and sync["includes"] == ["f/**"]


def test_the_scripts_read_the_files_the_program_mounts() -> None:
    assert script("match").CONFIG == script("verify").CONFIG == script("propose").CONFIG
    assert f"{release.CONFIG_DIR}/{release.CONFIG_FILE}" == script("match").CONFIG
    assert f"{release.KEY_DIR}/{release.KEY_FILE}" == script("preprocessor").KEY
    assert f"{release.TOKEN_DIR}/{release.TOKEN_FILE}" == script("propose").TOKEN
    assert script("verify").REGISTRY_AUTH == release.REGISTRY_DIR and release.REGISTRY_FILE == "config.json"
    assert script("verify").COSIGN == release.COSIGN


# ---------------------------------------------------------------- the preprocessor


def test_the_preprocessor_takes_harbor_with_its_key_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pre = script("preprocessor")
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    monkeypatch.setattr(pre, "KEY", str(key))
    body = push("1.2.0")
    event = {"kind": "http", "body": body, "headers": {"authorization": "Bearer s3cret"}}
    assert pre.preprocessor(event) == {"payload": body}
    for headers in ({"authorization": "Bearer wrong"}, {"authorization": "s3cret"}, {}):
        with pytest.raises(PermissionError):
            pre.preprocessor({**event, "headers": headers})
    with pytest.raises(PermissionError):
        pre.preprocessor({**event, "kind": "webhook"})
    with pytest.raises(ValueError, match="JSON object"):
        pre.preprocessor({**event, "body": [body]})
    assert not pre.authorized({"authorization": "Bearer "}, "")


# ---------------------------------------------------------------- which push is a release


def test_a_tagged_push_of_a_repository_a_cell_runs_is_a_release() -> None:
    decided = script("match").decide(push("1.2.0"), CONFIG)
    assert decided == {
        "cells": ["chat"],
        "project": "estate",
        "name": "chat",
        "tag": "1.2.0",
        "digest": DIGEST,
        "image": f"registry.example/estate/chat@{DIGEST}",
        "reason": "estate/chat:1.2.0 for chat",
    }


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (push(f"sha256-{'ab' * 32}.sig", digest=SIG_DIGEST), "signature"),  # cosign's legacy signature tag
        (push(SIG_DIGEST, digest=SIG_DIGEST), "signature"),  # a referrer (cosign v3 bundle), pushed by digest
        (push("1.2.0", project="other"), "not a release project"),
        (push("1.2.0", name="batch"), "no cell runs"),
        ({**push("1.2.0"), "type": "PULL_ARTIFACT"}, "not a push"),
        (push("1.2.0", digest="md5:00"), "not sha256"),
    ],
)
def test_anything_else_ends_the_flow_quietly(payload: dict[str, Any], why: str) -> None:
    decided = script("match").decide(payload, CONFIG)
    assert decided["cells"] == [] and why in decided["reason"]


# ---------------------------------------------------------------- cosign verify


def fake_cosign(tmp_path: Path, code: int, stdout: str = "", stderr: str = "") -> Path:
    """A stand-in for cosign that records its arguments and DOCKER_CONFIG, then answers like cosign."""
    path = tmp_path / "cosign"
    record = tmp_path / "called.json"
    path.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'docker': os.environ.get('DOCKER_CONFIG')}}, open({str(record)!r}, 'w'))\n"
        f"sys.stdout.write({stdout!r}); sys.stderr.write({stderr!r}); sys.exit({code})\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_verify_runs_cosign_offline_against_the_key(tmp_path: Path) -> None:
    verify = script("verify")
    cosign = fake_cosign(tmp_path, 0, stdout=json.dumps([{"critical": {}}]))
    image = f"registry.example/estate/chat@{DIGEST}"
    result = verify.verify(image, CONFIG["cosignKey"], cosign=str(cosign), registry_auth="/auth")
    assert result == {"verified": True, "image": image, "signatures": 1}
    called = json.loads((tmp_path / "called.json").read_text())
    assert called["argv"] == [
        "verify",
        "--key",
        CONFIG["cosignKey"],
        "--insecure-ignore-tlog=true",
        "--output",
        "json",
        image,
    ]
    assert called["docker"] == "/auth"


def test_a_missing_signature_is_retried_and_a_wrong_one_is_final(tmp_path: Path) -> None:
    verify = script("verify")
    image = f"registry.example/estate/chat@{DIGEST}"
    missing = fake_cosign(tmp_path, 10, stderr="Error: no signatures found\n")
    with pytest.raises(RuntimeError, match="exit 10"):
        verify.verify(image, "k", cosign=str(missing))
    wrong = fake_cosign(tmp_path, 12, stderr="Error: no matching signatures: invalid signature\n")
    result = verify.verify(image, "k", cosign=str(wrong))
    assert result["verified"] is False and "no matching signatures" in result["reason"]
    bundle = fake_cosign(tmp_path, 1, stderr="Error: no matching attestations: bad\n")
    assert verify.verify(image, "k", cosign=str(bundle))["verified"] is False


# ---------------------------------------------------------------- the proposed change


def released(**overrides: Any) -> dict[str, Any]:
    return {**script("match").decide(push("1.2.0"), CONFIG), **overrides}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_change_pins_the_digest_and_keeps_everything_else(stack: str) -> None:
    text = (Path(__file__).parents[1] / f"Pulumi.{stack}.yaml").read_text()
    change = released(cells=["chat", "ai-service"])
    pinned = script("propose").pin(text, change)
    # Comments and the other keys stay as they were.
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == [
        line for line in pinned.splitlines() if line.lstrip().startswith("#")
    ]
    before, after = yaml.safe_load(text)["config"], yaml.safe_load(pinned)["config"]
    cells = after.pop("ai-estate:cells")
    before.pop("ai-estate:cells", None)
    assert before == after
    want = {"registry": "harbor", "project": "estate", "name": "chat", "tag": "1.2.0", "digest": DIGEST}
    assert {c: cells[c]["image"] for c in ("chat", "ai-service")} == {"chat": want, "ai-service": want}
    # The stack loads with it: the image is a valid Harbor image of a project the pull robot reads.
    raw = {**stack_config(stack), "ai-estate:cells": json.dumps(cells)}
    cfg = load(stack, raw)
    assert cfg.cells["chat"].image.digest == DIGEST and cfg.cells["chat"].image.registry == "harbor"
    # Proposing the same release again changes nothing.
    assert script("propose").pin(pinned, change) == pinned


def test_branch_names_stay_inside_gits_rules() -> None:
    branch = script("propose").branch_name
    assert branch("prod", released()) == "release/prod/estate/chat-1.2.0"
    assert branch("dev", released(tag="1..2.lock")) == "release/dev/estate/chat-1-2-"


class FakeGitHub:
    """GitHub's REST answers for one repository, recorded."""

    def __init__(self, text: str, *, open_pr: bool = False, branch_exists: bool = False) -> None:
        self.calls: list[tuple[str, str, dict[str, Any] | None]] = []
        self.text, self.open_pr, self.branch_exists = text, open_pr, branch_exists
        self.written: str | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, object]:
        self.calls.append((method, path, body))
        if method == "GET" and path.startswith("pulls?"):
            return 200, [{"html_url": "https://github.com/owner/estate/pull/7"}] if self.open_pr else []
        if method == "GET" and path == "git/ref/heads/main":
            return 200, {"object": {"sha": "base-sha"}}
        if method == "POST" and path == "git/refs":
            if self.branch_exists:
                return 422, {"message": "Reference already exists"}
            return 201, {"ref": body["ref"] if body else ""}
        if method == "GET" and path.startswith("contents/"):
            return 200, {"content": base64.b64encode(self.text.encode()).decode(), "sha": "blob-sha"}
        if method == "PUT" and path.startswith("contents/"):
            assert body is not None
            self.written = base64.b64decode(body["content"]).decode()
            return 200, {}
        if method == "POST" and path == "pulls":
            return 201, {"html_url": "https://github.com/owner/estate/pull/8"}
        return 404, {"message": "Not Found"}


def test_the_pull_request_carries_the_pinned_stack_file() -> None:
    propose = script("propose")
    text = (Path(__file__).parents[1] / "Pulumi.dev.yaml").read_text()
    github = FakeGitHub(text)
    out = propose.propose(github, CONFIG, released(), {"verified": True, "signatures": 1})
    assert out == {
        "pullRequest": "https://github.com/owner/estate/pull/8",
        "branch": "release/dev/estate/chat-1.2.0",
        "existing": False,
    }
    assert [(m, p) for m, p, _ in github.calls] == [
        ("GET", "pulls?head=owner:release/dev/estate/chat-1.2.0&state=open"),
        ("GET", "git/ref/heads/main"),
        ("POST", "git/refs"),
        ("GET", "contents/Pulumi.dev.yaml?ref=release/dev/estate/chat-1.2.0"),
        ("PUT", "contents/Pulumi.dev.yaml"),
        ("POST", "pulls"),
    ]
    assert github.calls[2][2] == {"ref": "refs/heads/release/dev/estate/chat-1.2.0", "sha": "base-sha"}
    put = github.calls[4][2]
    assert put is not None and put["sha"] == "blob-sha" and put["branch"] == "release/dev/estate/chat-1.2.0"
    assert github.written == propose.pin(text, released())
    pr = github.calls[5][2]
    assert pr is not None and pr["base"] == "main" and pr["head"] == "release/dev/estate/chat-1.2.0"
    assert DIGEST in pr["body"] and "`chat`" in pr["body"]


def test_a_repeated_push_returns_the_open_pull_request_and_a_retry_reuses_its_branch() -> None:
    propose = script("propose")
    text = (Path(__file__).parents[1] / "Pulumi.dev.yaml").read_text()
    again = FakeGitHub(text, open_pr=True)
    out = propose.propose(again, CONFIG, released(), {"verified": True})
    assert out["existing"] is True and len(again.calls) == 1
    retry = FakeGitHub(text, branch_exists=True)
    assert propose.propose(retry, CONFIG, released(), {"verified": True})["existing"] is False
    assert retry.written is not None


def test_without_a_token_the_step_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no GitHub token"):
        script("propose").read_token(str(tmp_path / "absent"))
    (tmp_path / "token").write_text("ghp_x\n")
    assert script("propose").read_token(str(tmp_path / "token")) == "ghp_x"


def test_the_flow_pins_the_yaml_library_the_tests_run() -> None:
    # Windmill installs exactly the `# requirements:` lines (no inference beside them).
    header = (FLOW_DIR / "propose.py").read_text().splitlines()
    assert header[0] == "# requirements:"
    pinned = [line.removeprefix("# ") for line in header[1:] if line.startswith("# ") and "==" in line]
    required = (Path(__file__).parents[1] / "requirements.txt").read_text().splitlines()
    assert pinned == ["ruamel.yaml==0.19.1"] and set(pinned) <= set(required)
