"""Step 2 of the release flow: `cosign verify` of the pushed digest with the estate's key.

The signature is a separate push that arrives after the image: cosign's "no signatures found"
(exit 10), like a network or KMS error, fails the step and Windmill retries it (the flow's
`retry`). A signature that exists and does not verify is final: the result says so and the flow
stops with an error, without retrying. The signatures are made without a transparency log
(`--tlog-upload=false`), so the check is offline against the key (`--insecure-ignore-tlog`).
"""

import json
import os
import subprocess

CONFIG = "/etc/estate/release/config/config.json"
COSIGN = "/opt/estate/bin/cosign"  # copied from the pinned cosign image by the group's init container
REGISTRY_AUTH = "/etc/estate/release/registry"  # the pull robot's docker config.json
NO_SIGNATURE, NO_MATCHING_SIGNATURE = 10, 12  # cosign's exit codes (cmd/cosign/errors)


def load_config(path: str = CONFIG) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def verify(image: str, key: str, *, cosign: str = COSIGN, registry_auth: str = REGISTRY_AUTH) -> dict:
    env = {**os.environ, "DOCKER_CONFIG": registry_auth}
    command = [cosign, "verify", "--key", key, "--insecure-ignore-tlog=true", "--output", "json", image]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, check=False)
    if run.returncode == 0:
        return {"verified": True, "image": image, "signatures": len(json.loads(run.stdout or "[]"))}
    detail = run.stderr.strip()[-2000:]
    if run.returncode == NO_MATCHING_SIGNATURE or "no matching" in detail:
        return {"verified": False, "image": image, "reason": detail}
    # Not signed yet, or the registry or KMS did not answer: raise, and the flow retries.
    raise RuntimeError(f"cosign verify {image}: exit {run.returncode}: {detail}")


def main(image: str) -> dict:
    return verify(image, load_config()["cosignKey"])
