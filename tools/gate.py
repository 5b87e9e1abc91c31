"""The offline policy gate: the stack's offline plan through the real CrossGuard pack.

    python -m tools.gate --stack dev     # exit 1 on any mandatory violation
    python -m tools.gate --stack dev -v  # ... and everything else the pack said

Builds the plan under the mock runtime, starts `policies/` as the engine does (with the stack's
config in its environment, from which the pack derives its initial config), applies
`policies/<stack>.json` through Configure, sends every resource through Analyze and the whole
plan through AnalyzeStack. It prints each violation grouped by policy with the rule's
remediation, then one summary line; `-v` adds the policy config used, what was not evaluated
during preview, what is not applicable yet, every exemption with its reason and what it applied
to, and what each Chart rendered.

Every registration goes through Analyze, components too, as the engine does. One difference:
a remote component (helm.v4.Chart) reaches the engine's analyzers without inputs, because the
provider registers it inside Construct; the gate sends the inputs the program gave it, so the
pack's chart-pin rules are enforced here (see README, "Policies").

Every `kubernetes:helm.sh/v4:Chart` of the plan is rendered from the chart cache as Chart v4
renders it (tools.charts) and its objects go through Analyze and AnalyzeStack as the Chart's
children, as the engine would see them at `pulumi up`. A chart that cannot be rendered (not in
the cache, no network) is listed loudly with what that leaves unchecked.

Exit codes: 0 pass; 1 a mandatory violation; 2 a configuration or plan error, a chart Helm
refuses to render (`pulumi up` would fail on it too), or, with --require-charts, a chart that
could not be rendered here (not in the cache: its objects never reached the pack).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.stackfile import StackFileError
from tools.analyzer import LEVEL_NAMES, Analyzer, PolicyConfigError, initial_config, load_policy_config
from tools.charts import ChartOutcome, cache_dir, render_charts
from tools.plan import PROJECT, ROOT, Plan, run_plan, stack_config

PACK_DIR = ROOT / "policies"
PREVIEW_MARK = "during preview:"
ALLOWANCE_KEYS = ("exemptions", "allowedWildcards")


@dataclass(frozen=True)
class Finding:
    policy: str
    level: str
    resource: str
    message: str


@dataclass
class GateResult:
    stack: str
    resources: int = 0
    findings: list[Finding] = field(default_factory=list)
    unevaluated: list[Finding] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)
    exempted: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    exemptions: list[tuple[str, str, str]] = field(default_factory=list)
    policies: int = 0
    charts: list[ChartOutcome] = field(default_factory=list)
    # Per policy, from the pack's metadata: what to do about a violation.
    remediation: dict[str, str] = field(default_factory=dict)
    # The pack's initial config (derived from the stack's config), applied under the file's.
    initial_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def unrendered(self) -> list[ChartOutcome]:
        return [c for c in self.charts if not c.rendered]

    @property
    def broken(self) -> list[ChartOutcome]:
        return [c for c in self.charts if c.broken]

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "mandatory"]

    def by_policy(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            grouped[f.policy].append(f)
        return dict(sorted(grouped.items()))


def _resource_name(urn: str, fallback: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else fallback


def _collect(result: GateResult, response: Any, subject: str) -> None:
    for diag in response.diagnostics:
        message = diag.message.split("\n", 1)[-1] if "\n" in diag.message else diag.message
        finding = Finding(
            diag.policyName, LEVEL_NAMES.get(diag.enforcementLevel, "?"), _resource_name(diag.urn, subject), message
        )
        (result.unevaluated if PREVIEW_MARK in diag.message else result.findings).append(finding)
    for na in response.not_applicable:
        if na.reason.startswith("exempt: "):
            # `exempt: <pattern>: <reason>`: a pattern may hold ":" (a chart child's name), never ": ".
            pattern = na.reason.removeprefix("exempt: ").split(": ", 1)[0]
            result.exempted[(na.policy_name, pattern)].append(subject)
        else:
            result.not_applicable.setdefault(na.policy_name, na.reason)


def _allowances(entry: Any) -> list[Mapping[str, Any]]:
    """A policy's config entries that excuse named resources, each with a reason: exemptions and the
    RBAC rule's allowedWildcards."""
    if not isinstance(entry, Mapping):
        return []
    return [ex for key in ALLOWANCE_KEYS for ex in entry.get(key, [])]


def check(
    analyzer: Analyzer, plan: Plan, policy_config: Mapping[str, Any], *, charts_cache: Path | None = None
) -> GateResult:
    """Configure a running pack with `policy_config` and pass `plan`, with its Charts rendered
    from `charts_cache` (default: tools.charts.cache_dir()), through it."""
    result = GateResult(stack=plan.stack, resources=len(plan.resources))
    result.charts = render_charts(plan.resources, charts_cache or cache_dir())
    children = [child for outcome in result.charts for child in outcome.children]
    for policy, entry in sorted(policy_config.items()):
        for ex in _allowances(entry):
            result.exemptions.append((policy, ex["resource"], ex["reason"]))
    result.policies = len(analyzer.configure(policy_config))
    info = analyzer.info()
    result.remediation = {p.name: p.remediation_steps for p in info.policies if p.remediation_steps}
    result.initial_config = initial_config(info)
    analyzer.remember_providers(plan.resources)
    for res in [*plan.resources, *children]:
        _collect(result, analyzer.analyze(res), res["name"])
    _collect(result, analyzer.analyze_stack([*plan.resources, *children]), "(stack)")
    return result


def render_charts_report(result: GateResult) -> list[str]:
    if not result.charts:
        return []
    rendered = [c for c in result.charts if c.rendered]
    lines = [
        f"charts: {len(rendered)} of {len(result.charts)} rendered, "
        f"{sum(len(c.children) for c in rendered)} objects sent through the pack as their children"
    ]
    for c in rendered:
        lines.append(f"  - {c.name}: {c.ref} as release {c.release} in {c.namespace}: {len(c.children)} objects")
        if c.unresolved:
            lines.append(f"    namespace scope unknown without a cluster, left unset: {', '.join(c.unresolved)}")
    if result.unrendered:
        bar = "!" * 100
        lines += [bar, f"!!! {len(result.unrendered)} CHART(S) NOT RENDERED: their objects never went through the pack"]
        for c in result.unrendered:
            lines.append(f"!!!   {c.name} ({c.ref or 'no pin'}): {c.error}")
        lines += [
            "!!! Unchecked: every object these charts install (workloads, RBAC, Services, webhooks, CRDs):",
            "!!! no policy saw any of them, so this PASS/FAIL says nothing about them.",
            "!!! Fill the cache with `make charts` on a machine with network (or set ESTATE_CHART_CACHE);",
            "!!! `--require-charts` makes this a failure.",
            bar,
        ]
    return lines


def record_charts(result: GateResult, plan: Plan, path: Path, *, rebuilt: bool) -> None:
    """Leave the plan file with its `charts` section: per Chart urn, the objects it rendered
    (`Kind/namespace/name`) or why it could not. Rendering is the gate's job, not the plan's:
    it keeps `make plan` within its budget. A plan the gate built itself is written whole."""
    doc = plan.to_json() if rebuilt else json.loads(path.read_text())
    doc["charts"] = {outcome.urn: outcome.to_json() for outcome in result.charts}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def render_violations(result: GateResult) -> list[str]:
    """Each violation under its policy, then the rule's remediation."""
    lines: list[str] = []
    for policy, findings in result.by_policy().items():
        lines.append(f"{policy} [{findings[0].level}]")
        lines += [f"  - {f.resource}: {f.message}" for f in findings]
        if policy in result.remediation:
            lines.append(f"  remediation: {result.remediation[policy]}")
    return lines


def summary(result: GateResult) -> str:
    """One line: the verdict, the counts, and what the verdict does not cover."""
    advisory = len(result.findings) - len(result.mandatory)
    verdict = "FAIL" if result.mandatory else "PASS"
    parts = [f"{len(result.mandatory)} mandatory, {advisory} advisory violations", f"{result.resources} resources"]
    rendered = len(result.charts) - len(result.unrendered)
    if not result.charts:
        parts.append("no charts")
    elif result.unrendered:
        parts.append(
            f"{rendered} of {len(result.charts)} charts rendered ({len(result.unrendered)} NOT rendered, unchecked)"
        )
    else:
        parts.append(f"{rendered} charts rendered")
    if result.unevaluated:
        parts.append(f"{len(result.unevaluated)} not evaluated during preview")
    return f"gate {result.stack}: {verdict} — {', '.join(parts)}"


def render(result: GateResult, config_path: str, *, verbose: bool = False) -> str:
    """Violations with their remediation and the summary line; `verbose` adds the rest."""
    if not verbose:
        lines = render_violations(result)
        if result.broken:
            lines += [f"!!!   {c.name} ({c.ref or 'no pin'}): {c.error}" for c in result.broken]
        if missing := [c for c in result.unrendered if not c.broken]:
            lines.append(
                f"!!! {len(missing)} chart(s) not rendered: their objects never went through the pack "
                "(-v lists them; `make charts` fills the cache)"
            )
        return "\n".join([*lines, summary(result)])
    lines = [
        f"policy gate: {PROJECT}/{result.stack}: {result.resources} resources and the stack through "
        f"{result.policies} policies (config {config_path})"
    ]
    for policy, entry in sorted(result.initial_config.items()):
        props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        lines.append(f"  from the stack's config (the pack's initial config, under the file's): {policy} {props}")
    lines += render_violations(result)
    if result.unevaluated:
        lines.append("not evaluated during preview (unknown values; the engine re-checks them at `pulumi up`):")
        lines += [f"  - {f.policy} on {f.resource}: {f.message}" for f in result.unevaluated]
    if result.not_applicable:
        lines.append("not applicable yet:")
        lines += [f"  - {p}: {reason}" for p, reason in sorted(result.not_applicable.items())]
    if result.exemptions:
        lines.append("exemptions (from the policy config):")
        for policy, pattern, reason in result.exemptions:
            used = result.exempted.get((policy, pattern), [])
            lines.append(
                f"  - {policy} on {pattern}: {reason} [applied to {', '.join(used) or 'nothing in this plan'}]"
            )
    lines += render_charts_report(result)
    lines.append(summary(result))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config", type=Path, help="policy config (default policies/<stack>.json)")
    parser.add_argument("--plan", type=Path, help="use a plan file written by tools.plan instead of building one")
    parser.add_argument(
        "--require-charts", action="store_true", help="exit 2 when any Chart of the plan could not be rendered"
    )
    parser.add_argument("--charts-cache", type=Path, help="default $ESTATE_CHART_CACHE, else build/charts")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the config used, unevaluated and not-applicable rules, exemptions and rendered charts",
    )
    args = parser.parse_args(argv)
    gc.disable()  # a short-lived process; see tools.plan
    try:  # the stack first: an unknown one is named as such, not as a missing policy config
        config = stack_config(args.stack)
    except (OSError, StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config_path = args.config or PACK_DIR / f"{args.stack}.json"
    try:
        policy_config = load_policy_config(config_path)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: policy config {config_path}: {exc}", file=sys.stderr)
        return 2
    # The pack starts on the other core while this one builds the plan.
    with Analyzer(PACK_DIR, project=PROJECT, stack=args.stack, stack_config=config) as analyzer:
        if args.plan:
            doc = json.loads(args.plan.read_text())
            plan = Plan(stack=doc["stack"], preview=doc["preview"], resources=doc["resources"], outputs=doc["outputs"])
        else:
            plan = run_plan(args.stack)
        if plan.error:
            print(f"error: {plan.error}", file=sys.stderr)
            return 2
        try:
            result = check(analyzer, plan, policy_config, charts_cache=args.charts_cache)
        except PolicyConfigError as exc:
            print(f"error: {config_path}: {exc}", file=sys.stderr)
            return 2
    shown = config_path.relative_to(ROOT) if config_path.is_relative_to(ROOT) else config_path
    print(render(result, str(shown), verbose=args.verbose))
    record_charts(result, plan, args.plan or ROOT / "build" / f"plan-{args.stack}.json", rebuilt=args.plan is None)
    if result.broken:
        print(f"error: {len(result.broken)} chart(s) fail to render, as they would at `pulumi up`", file=sys.stderr)
        return 2
    if args.require_charts and result.unrendered:
        print(f"error: --require-charts: {len(result.unrendered)} chart(s) not rendered", file=sys.stderr)
        return 2
    return 1 if result.mandatory else 0


if __name__ == "__main__":
    code = main()
    gc.freeze()  # skip the exit-time collection; see tools.plan
    sys.exit(code)
