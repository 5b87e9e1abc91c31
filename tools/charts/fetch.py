"""Fill the chart cache: download each pinned chart at its exact version from its own repository."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.charts.refs import OCI, ChartRef, archive_path


@dataclass(frozen=True)
class Fetched:
    ref: ChartRef
    path: Path
    status: str  # "cached", "downloaded" or "failed"
    error: str | None = None


def _check(archive: Path, ref: ChartRef) -> None:
    """The archive must be the pinned chart: a repository serving another name or version is refused."""
    import helm_python

    with helm_python.Chart.load(archive) as chart:
        if (chart.name, chart.version.removeprefix("v")) != (ref.name, ref.version.removeprefix("v")):
            raise ValueError(f"the repository served {chart.name} {chart.version}, not {ref.name} {ref.version}")


def fetch(ref: ChartRef, cache: Path) -> Fetched:
    """One chart into the cache; an archive already there (and valid) is kept."""
    import helm_python

    target = archive_path(ref, cache)
    if target.exists():
        try:
            _check(target, ref)
            return Fetched(ref, target, "cached")
        except (helm_python.HelmError, ValueError):
            target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    failed: Fetched | None = None
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        try:
            if ref.oci:
                helm_python.pull(f"{ref.repo}/{ref.name}", version=ref.version, destination=tmp)
            else:
                helm_python.pull(ref.name, repo_url=ref.repo, version=ref.version, destination=tmp)
            pulled = sorted(Path(tmp).glob("*.tgz"))
            if len(pulled) != 1:
                raise ValueError(f"expected one archive from the pull, got {[p.name for p in pulled]}")
            _check(pulled[0], ref)
        except (helm_python.HelmError, ValueError) as exc:
            failed = Fetched(ref, target, "failed", f"{type(exc).__name__}: {exc}")
        else:
            shutil.move(pulled[0], target)
    if failed is not None:
        if not any(target.parent.iterdir()):
            target.parent.rmdir()
        return failed
    return Fetched(ref, target, "downloaded")


def describe(ref: ChartRef) -> str:
    return f"{ref.repo}/{ref.name}:{ref.version}" if ref.repo.startswith(OCI) else f"{ref.source} {ref.version}"
