"""`ai-estate:automation.release`: a push to Harbor becomes a proposed change to the stack config.

Each release project in Harbor sends its `PUSH_ARTIFACT` events to Windmill's release flow (an HTTP
route inside the mesh, its key in Secret Manager). The flow verifies the pushed digest's cosign
signature with the estate's key, retrying while the signature has not arrived, and opens a pull
request on `repository` that pins the new tag and digest on every cell running that Harbor
repository (`cells.<cell>.image`). The pull request's policy-checked preview and, for prod, the
protected environment's approval still decide what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from stacks.base import Model
from stacks.config_harbor import ProjectName
from stacks.config_inference import Repository
from stacks.problem import Problem

Branch = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$", max_length=200)]

RELEASE_TAG = "release"  # the job tag of the flow's steps: only the release group serves it


class ReleaseConfig(Model):
    enabled: bool = Field(True, description="Run the release flow wherever Harbor and Windmill run.")
    projects: list[ProjectName] = Field(
        ["estate"], min_length=1, description="Harbor projects whose pushes are released (each sends a webhook)."
    )
    repository: Repository | None = Field(
        None, description="`owner/name` of this repository on GitHub: where the flow opens its pull requests."
    )
    base_branch: Branch = Field("main", description="The branch the pull requests target.")


@dataclass(frozen=True)
class Release:
    """What the program needs of an active release flow."""

    projects: tuple[str, ...]
    repository: str
    base_branch: str
    cells: dict[str, list[str]]  # Harbor repository `<project>/<name>` -> the cells that run it


def _active(cfg: Any) -> bool:
    a = cfg.automation
    return bool(a.enabled and a.release.enabled and cfg.harbor.enabled and a.windmill.enabled)


def release(cfg: Any) -> Release | None:
    """The release flow when it runs (validated config): on, with Harbor and Windmill."""
    r = cfg.automation.release
    if not _active(cfg) or r.repository is None:  # no repository: refused by check() before any resource
        return None
    cells: dict[str, list[str]] = {}
    for name, cell in sorted(cfg.cells.items()):
        if cell.image.registry == "harbor" and cell.image.project in r.projects:
            cells.setdefault(cell.image.repository, []).append(name)
    return Release(tuple(r.projects), r.repository, r.base_branch, cells)


def check(cfg: Any) -> list[Problem]:
    """An active release flow needs its repository, Harbor projects the pull robot reads, and one
    worker group that serves its tag with public HTTPS (GitHub, the registry's address, KMS)."""
    a, at = cfg.automation, "automation.release"
    groups = {name: g for name, g in sorted(a.windmill.worker_groups.items()) if g.release}
    if not _active(cfg):
        return []  # a `release: true` group then runs as any other, without the flow's files
    r, out = a.release, []
    if r.repository is None:
        out.append(
            Problem(
                f"{at}.repository",
                None,
                "required: this repository on GitHub as owner/name (or automation.release.enabled: false)",
            )
        )
    for i, project in enumerate(r.projects):
        if project not in cfg.harbor.projects:
            out.append(
                Problem(f"{at}.projects[{i}]", project, f"must be a harbor.projects key: {sorted(cfg.harbor.projects)}")
            )
        elif cfg.harbor.pull_robot is None or cfg.harbor.pull_robot not in cfg.harbor.robots:
            out.append(
                Problem(
                    "harbor.pullRobot",
                    cfg.harbor.pull_robot,
                    "the release flow reads signatures with it: name a harbor.robots key",
                )
            )
        elif project not in cfg.harbor.robots[cfg.harbor.pull_robot].projects:
            out.append(
                Problem(
                    f"harbor.robots.{cfg.harbor.pull_robot}.projects.{project}",
                    None,
                    f"the pull robot must read {project}: the release flow verifies its signatures",
                )
            )
    if len(groups) != 1:
        out.append(
            Problem(
                "automation.windmill.workerGroups",
                sorted(groups),
                "exactly one group with release: true runs the release flow",
            )
        )
    for name, g in groups.items():
        if RELEASE_TAG not in g.tags:
            out.append(
                Problem(f"automation.windmill.workerGroups.{name}.tags", g.tags, f"must include {RELEASE_TAG!r}")
            )
        if not g.public_https:
            out.append(
                Problem(
                    f"automation.windmill.workerGroups.{name}.publicHttps",
                    False,
                    "must be true: the flow calls GitHub, the registry's public address and Cloud KMS",
                )
            )
        if g.sandbox:
            out.append(
                Problem(
                    f"automation.windmill.workerGroups.{name}.sandbox", True, "the release group starts no sandbox Jobs"
                )
            )
    # A group serving the tag without the flow's credentials would take its jobs and fail them.
    for name, g in sorted(a.windmill.worker_groups.items()):
        if RELEASE_TAG in g.tags and not g.release:
            out.append(
                Problem(
                    f"automation.windmill.workerGroups.{name}.tags",
                    g.tags,
                    f"{RELEASE_TAG!r} is the release group's alone",
                )
            )
    return out
