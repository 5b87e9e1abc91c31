"""Install `promtool` and `amtool` for the rule and Alertmanager checks (`make test`).

    python -m tools.rule_tools --dest .venv/bin       # install (idempotent)
    python -m tools.rule_tools --dest .venv/bin --check   # say what is installed, fail if not
    python -m tools.rule_tools --dest .venv/bin --server  # and the Prometheus server too (the
                                                          # dashboard's picture, tools/dashboard_picture.py)

Prometheus' own release archives are not reachable from where this project is built and tested,
so the tools come from Debian's archive, through apt: its unstable suite carries Prometheus 3 and
Alertmanager 0.33 (Debian 12's are 2.x and 0.25, whose PromQL and configuration differ). The
machine's own apt sources give the archive's address and keyring, the suite is swapped for
unstable in a private list, apt verifies the signed index and every package's checksum, and
`dpkg-deb` unpacks the one binary each needs. Nothing is installed system-wide.

The deployed engines are newer than these (stacks/charts.py: CHART_IMAGES), within the same major
series: a rule file that this promtool accepts and whose unit tests pass is read the same way by
Prometheus 3.x, and a configuration amtool 0.33 accepts is one Alertmanager 0.34 accepts (its
releases add fields and keep the old ones). `PINS` names the upstream release tested with; when
unstable moves on, a release of the same series no newer than the deployed one is taken with a
notice, anything else stops.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stacks.charts import CHART_IMAGES


@dataclass(frozen=True)
class Tool:
    binary: str
    package: str  # Debian's binary package holding it
    pinned: str  # the upstream release the rule tests were written with
    image: str  # CHART_IMAGES key of the engine it stands for


PINS = (
    Tool("promtool", "promtool", "3.5.3", "prometheus"),
    Tool("amtool", "prometheus-alertmanager", "0.33.1", "prometheus-alertmanager"),
)
# Not needed by the tests: only the dashboard's picture queries a real Prometheus.
SERVER = Tool("prometheus", "prometheus", "3.5.3", "prometheus")
SUITE = "unstable"


def version_tuple(text: str) -> tuple[int, ...]:
    m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not m:
        raise ValueError(f"not a release version: {text!r}")
    return tuple(int(x) for x in m.groups())


def upstream(debian_version: str) -> str:
    """`1:3.5.3+ds1-6` -> `3.5.3`."""
    return re.sub(r"[+~-].*$", "", debian_version.split(":", 1)[-1])


def acceptable(tool: Tool, found: str) -> str | None:
    """Why `found` (an upstream release) cannot stand for the deployed engine, or None."""
    deployed = version_tuple(CHART_IMAGES[tool.image]["tag"])
    got = version_tuple(found)
    if got[0] != deployed[0]:
        return f"{tool.binary} {found} is not of the deployed major series {deployed[0]}.x"
    if got > deployed:
        return f"{tool.binary} {found} is newer than the deployed {CHART_IMAGES[tool.image]['tag']}"
    return None


KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _stanzas() -> list[dict[str, str]]:
    """The machine's apt sources as deb822 fields, one-line entries included."""
    out = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            pairs = (line.partition(":") for line in stanza.splitlines() if not line.startswith("#"))
            out.append({k.strip(): v.strip() for k, _, v in pairs if v})
    legacy = Path("/etc/apt/sources.list")
    for line in legacy.read_text().splitlines() if legacy.exists() else []:
        parts = line.split()
        if parts[:1] == ["deb"]:
            out.append({"Types": "deb", "URIs": next((p for p in parts[1:] if "://" in p), "")})
    return out


def debian_source() -> tuple[str, str]:
    """(archive URI, keyring) of the machine's Debian main archive, from its apt sources."""
    for fields in _stanzas():
        uri = (fields.get("URIs") or " ").split()[0] if fields.get("URIs") else ""
        if uri.rstrip("/").endswith("/debian") and "deb" in fields.get("Types", "").split():
            return uri, fields.get("Signed-By", KEYRING)
    raise SystemExit("rule-tools: no Debian archive among this machine's apt sources; install the tools by hand")


class Apt:
    """apt-get and apt-cache over a private list of one suite, in a scratch directory."""

    def __init__(self, root: Path, uri: str, keyring: str) -> None:
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "cache" / "archives" / "partial").mkdir(parents=True)
        (root / "sources.list").write_text(f"deb [signed-by={keyring}] {uri} {SUITE} main\n")
        self.root = root
        self.options = [
            f"-oDir::Etc::SourceList={root / 'sources.list'}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={root / 'lists'}",
            f"-oDir::Cache={root / 'cache'}",
            "-oDebug::NoLocking=1",
            "-oAPT::Sandbox::User=root",
        ]

    def run(self, *args: str) -> str:
        done = subprocess.run([args[0], *self.options, *args[1:]], cwd=self.root, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"rule-tools: {' '.join(args)} failed:\n{done.stderr.strip()}")
        return done.stdout

    def candidate(self, package: str) -> str:
        m = re.search(r"^\s*Candidate:\s*(\S+)", self.run("apt-cache", "policy", package), re.M)
        if not m or m.group(1) == "(none)":
            raise SystemExit(f"rule-tools: Debian {SUITE} has no package {package}")
        return m.group(1)


def installed_version(path: Path) -> str | None:
    if not path.exists():
        return None
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True)
    m = re.search(r"version (\S+)", out.stdout + out.stderr)
    return upstream(m.group(1)) if m else None


def install(dest: Path, tools: tuple[Tool, ...] = PINS) -> None:
    wanted = [t for t in tools if installed_version(dest / t.binary) is None]
    if not wanted:
        return
    uri, keyring = debian_source()
    with tempfile.TemporaryDirectory(prefix="rule-tools-") as tmp:
        apt = Apt(Path(tmp), uri, keyring)
        print(f"rule-tools: reading Debian {SUITE}'s signed package index")
        apt.run("apt-get", "update", "-q")
        for tool in wanted:
            version = apt.candidate(tool.package)
            found = upstream(version)
            if why := acceptable(tool, found):
                raise SystemExit(f"rule-tools: {why}; update PINS in tools/rule_tools.py or the deployed image")
            if found != tool.pinned:
                print(f"rule-tools: note: {tool.binary} {found} instead of the pinned {tool.pinned} (same series)")
            apt.run("apt-get", "download", "-q", f"{tool.package}={version}")
            deb = next(Path(tmp).glob(f"{tool.package}_*.deb"))
            unpacked = Path(tmp) / tool.package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(unpacked / "usr" / "bin" / tool.binary, dest / tool.binary)
            print(f"rule-tools: installed {tool.binary} {found} (Debian {version}) in {dest}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, required=True, help="directory the binaries go to (.venv/bin)")
    ap.add_argument("--check", action="store_true", help="only report; exit 1 when a tool is missing")
    ap.add_argument("--server", action="store_true", help="the Prometheus server as well")
    args = ap.parse_args(argv)
    tools = (*PINS, SERVER) if args.server else PINS
    if not args.check:
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            print("rule-tools: not a Debian machine (no apt-get/dpkg-deb): the promtool and amtool tests will skip")
            return 0
        install(args.dest, tools)
    missing = 0
    for tool in tools:
        version = installed_version(args.dest / tool.binary)
        print(f"{tool.binary}: {version or 'missing'} (deployed {CHART_IMAGES[tool.image]['tag']})")
        missing += version is None
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
