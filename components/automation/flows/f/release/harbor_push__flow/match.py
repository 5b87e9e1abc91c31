"""Step 1 of the release flow: which cells a Harbor push releases.

Harbor sends `PUSH_ARTIFACT` for every manifest, cosign's signatures and attestations included
(`sha256-<digest>.sig`, or a referrer pushed by digest): only a tagged image of a release project
that some cell runs is released. The flow stops quietly on anything else.
"""

import json
import re

CONFIG = "/etc/estate/release/config/config.json"  # the program's ConfigMap (components/automation/release.py)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ACCESSORY = re.compile(r"^sha256-[0-9a-f]{64}(\.[a-z]+)?$")


def load_config(path: str = CONFIG) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def decide(payload: dict, config: dict) -> dict:
    """The release of one push, with the cells it changes (none: nothing to do, and why)."""

    def skip(reason: str) -> dict:
        return {"cells": [], "reason": reason}

    if payload.get("type") != "PUSH_ARTIFACT":
        return skip(f"event {payload.get('type')!r} is not a push")
    data = payload.get("event_data") or {}
    repo = data.get("repository") or {}
    project, name = repo.get("namespace", ""), repo.get("name", "")
    if project not in config["projects"]:
        return skip(f"project {project!r} is not a release project")
    resources = data.get("resources") or []
    if not resources:
        return skip("the push names no artifact")
    tag, digest = resources[0].get("tag", ""), resources[0].get("digest", "")
    if not DIGEST.match(digest):
        return skip(f"digest {digest!r} is not sha256")
    if tag == digest or DIGEST.match(tag) or ACCESSORY.match(tag) or not TAG.match(tag):
        return skip(f"{project}/{name}: {tag!r} is a signature, an attestation or an untagged push")
    cells = config["cells"].get(f"{project}/{name}", [])
    if not cells:
        return skip(f"no cell runs {project}/{name} from Harbor")
    return {
        "cells": cells,
        "project": project,
        "name": name,
        "tag": tag,
        "digest": digest,
        "image": f"{config['registry']}/{project}/{name}@{digest}",
        "reason": f"{project}/{name}:{tag} for {', '.join(cells)}",
    }


def main(payload: dict) -> dict:
    return decide(payload, load_config())
