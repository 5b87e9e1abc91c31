# requirements:
# ruamel.yaml==0.19.1
"""Step 3 of the release flow: a pull request that pins the verified digest in the stack config.

It edits `Pulumi.<stack>.yaml` on a branch of its own (comments and layout kept), setting
`ai-estate:cells.<cell>.image` to the Harbor image, tag and digest for every cell that runs the
repository, and opens the pull request: its policy-checked preview, the review and, for prod, the
protected environment's approval decide the rest. Harbor may deliver a push twice, and Windmill may
retry the step: an open pull request for the same release is returned as it is.
"""

import base64
import io
import json
import re
import urllib.error
import urllib.request

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

CONFIG = "/etc/estate/release/config/config.json"
TOKEN = "/etc/estate/release/github/token"  # a person adds it to Secret Manager (README)
API = "https://api.github.com"
CELLS = "ai-estate:cells"


def load_config(path: str = CONFIG) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_token(path: str = TOKEN) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except FileNotFoundError:
        token = ""
    if not token:
        raise RuntimeError(f"no GitHub token at {path}: add a version to the release's GitHub token secret (README)")
    return token


def branch_name(stack: str, release: dict) -> str:
    """`release/<stack>/<project>/<name>-<tag>`, inside git's rules for a ref name."""
    raw = f"release/{stack}/{release['project']}/{release['name']}-{release['tag']}"
    return re.sub(r"\.{2,}|\.lock(?=/|$)|@\{", "-", raw).rstrip(".")


def pin(text: str, release: dict) -> str:
    """The stack file with each released cell's image pinned; everything else as it was."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(text)
    config = doc.setdefault("config", CommentedMap())
    cells = config.setdefault(CELLS, CommentedMap())
    for cell in release["cells"]:
        entry = cells.setdefault(cell, CommentedMap())
        image = entry.setdefault("image", CommentedMap())
        image["registry"] = "harbor"
        image["project"] = release["project"]
        image["name"] = release["name"]
        image["tag"] = release["tag"]
        image["digest"] = release["digest"]
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


class GitHub:
    def __init__(self, repository: str, token: str) -> None:
        self.repository, self.token = repository, token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        request = urllib.request.Request(
            f"{API}/repos/{self.repository}/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "ai-estate-release-flow",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def _ok(status: int, answer: object, what: str) -> object:
    if status >= 300:
        raise RuntimeError(f"GitHub {what}: {status} {answer}")
    return answer


def propose(github: GitHub, config: dict, release: dict, verified: dict) -> dict:
    stack, base = config["stack"], config["baseBranch"]
    branch, path = branch_name(stack, release), config["stackFile"]
    owner = config["repository"].split("/")[0]
    status, open_prs = github.call("GET", f"pulls?head={owner}:{branch}&state=open")
    if _ok(status, open_prs, "pull requests") and isinstance(open_prs, list) and open_prs:
        return {"pullRequest": open_prs[0]["html_url"], "branch": branch, "existing": True}
    status, ref = github.call("GET", f"git/ref/heads/{base}")
    base_sha = _ok(status, ref, f"branch {base}")["object"]["sha"]  # type: ignore[index]
    status, made = github.call("POST", "git/refs", {"ref": f"refs/heads/{branch}", "sha": base_sha})
    if status == 422 and "already exists" in json.dumps(made):
        pass  # a retry after the branch was made: carry on from it
    else:
        _ok(status, made, f"branch {branch}")
    status, current = github.call("GET", f"contents/{path}?ref={branch}")
    current = _ok(status, current, path)
    text = base64.b64decode(current["content"]).decode()  # type: ignore[index]
    pinned = pin(text, release)
    if pinned != text:
        body = {
            "message": f"Release {release['reason']} on {stack}",
            "content": base64.b64encode(pinned.encode()).decode(),
            "sha": current["sha"],  # type: ignore[index]
            "branch": branch,
        }
        _ok(*github.call("PUT", f"contents/{path}", body), what=f"update {path}")
    description = "\n".join(
        [
            f"Harbor received `{release['project']}/{release['name']}:{release['tag']}` "
            f"(`{release['digest']}`); its cosign signature verifies with the estate's key "
            f"({verified.get('signatures', 0)} signature(s)).",
            "",
            f"This pins it on {', '.join(f'`{c}`' for c in release['cells'])} in `{path}`. The preview on this "
            "pull request runs the policy pack; merging deploys it, through the environment's approval in prod.",
            "",
            "Opened by Windmill's release flow (`f/release/harbor_push`).",
        ]
    )
    pull = {"title": f"Release {release['reason']} ({stack})", "head": branch, "base": base, "body": description}
    status, pr = github.call("POST", "pulls", pull)
    return {"pullRequest": _ok(status, pr, "pull request")["html_url"], "branch": branch, "existing": False}  # type: ignore[index]


def main(release: dict, verified: dict) -> dict:
    config = load_config()
    return propose(GitHub(config["repository"], read_token()), config, release, verified)
