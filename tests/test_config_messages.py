"""Issue 12: reserved namespace names, duplicate keys in stack files, prod's signers, pattern rules in
words and the repository's placeholder values. Each with a case refused and a case accepted."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any, get_args

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from bootstrap.plan import run_bootstrap_plan
from components.platform.namespaces import PLATFORM_NAMESPACES as COMPONENT_NAMESPACES
from stacks import ConfigError, load
from stacks import placeholders as ph
from stacks.config_namespaces import PLATFORM_NAMESPACES
from stacks.config_signing import BOOTSTRAP_DEPLOYER_ID, BOOTSTRAP_SIGNER, bootstrap_deployer
from stacks.model import EstateConfig
from stacks.patterns import FORMATS, suggest
from stacks.stackfile import StackFileError, parse, read, stack_config
from tests.conftest import area, config_with, stack_cfg
from tools.plan import run_plan
from tools.plan import stack_config as plan_stack_config

LOAD = sys.modules["stacks.load"]  # `stacks.load` the attribute is the function; this is the module


def problems(stack: str, **areas: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(stack, config_with(stack, **areas))
    return [p.render() for p in err.value.problems]


# ---------------------------------------------------------------- 1. reserved namespace names
INSTEAD = "give the application namespace a name of its own, e.g. after its team or workload ('apps', 'inference')"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("istio-system", "reserved: 'istio-system' is a platform namespace the estate creates itself"),
        ("cert-manager", "reserved: 'cert-manager' is a platform namespace the estate creates itself"),
        ("kube-system", "reserved: Kubernetes creates and owns the 'kube-system' namespace"),
        ("default", "reserved: Kubernetes creates and owns the 'default' namespace"),
        ("kube-node-lease", "reserved: Kubernetes creates and owns the 'kube-node-lease' namespace"),
        ("gke-managed-system", "reserved: GKE creates its own namespaces under gke-*"),
        ("gmp-public", "reserved: GKE's managed Prometheus uses gmp-*"),
    ],
)
def test_reserved_namespace_names_are_refused(name: str, why: str) -> None:
    namespaces = {**area("dev", "namespaces"), name: {}}
    found = problems("dev", namespaces=namespaces)
    assert len(found) == 1
    assert found[0].startswith(f"namespaces.{name} = {name!r}: {why}")
    assert found[0].endswith(INSTEAD)


def test_a_namespace_of_its_own_is_accepted() -> None:
    cfg = load("dev", config_with("dev", namespaces={**area("dev", "namespaces"), "apps": {}}))
    assert "apps" in cfg.namespaces


def test_platform_namespace_stops_the_plan_before_a_duplicate_urn() -> None:
    namespaces = {**area("dev", "namespaces"), "istio-system": {}}
    plan = run_plan("dev", config=config_with("dev", namespaces=namespaces))
    assert plan.resources == []
    assert plan.error is not None and "namespaces.istio-system = 'istio-system': reserved" in plan.error
    assert "Duplicate resource URN" not in plan.error


def test_platform_namespace_list_matches_the_component() -> None:
    # stacks/ cannot import components/ (they import stacks/), so the list is kept twice.
    assert set(PLATFORM_NAMESPACES) == set(COMPONENT_NAMESPACES)


# ---------------------------------------------------------------- 2. stack files as the CLI reads them
def test_duplicate_key_at_the_top_is_refused() -> None:
    text = "config:\n  gcp:project: a-project\n  gcp:region: europe-west4\n  gcp:project: b-project\n"
    with pytest.raises(StackFileError) as err:
        parse(text, "Pulumi.dev.yaml")
    assert str(err.value) == (
        "Pulumi.dev.yaml:4: key 'gcp:project' is written twice in one map (first at line 2); "
        "the Pulumi CLI refuses duplicate keys: keep one"
    )


def test_duplicate_key_deep_down_is_refused() -> None:
    text = (
        "config:\n"
        "  ai-estate:cluster:\n"
        "    nodePools:\n"
        "      gpu:\n"
        "        maxNodes: 2\n"
        "        minNodes: 0\n"
        "        maxNodes: 4\n"
    )
    with pytest.raises(StackFileError, match=r"^Pulumi\.prod\.yaml:7: key 'maxNodes' is written twice .*line 5\)"):
        parse(text, "Pulumi.prod.yaml")


def test_the_same_key_in_different_maps_and_yaml_merge_keys_are_accepted() -> None:
    text = "config:\n  a: {name: x}\n  b: {name: y}\n  base: &base {zones: [a], regional: false}\n"
    text += "  c:\n    <<: *base\n    regional: true\n"
    doc = parse(text, "Pulumi.dev.yaml")
    assert doc["config"]["c"] == {"zones": ["a"], "regional": True}
    assert doc["config"]["a"]["name"] == "x" and doc["config"]["b"]["name"] == "y"


def test_a_yaml_syntax_error_is_one_line_with_its_place() -> None:
    with pytest.raises(StackFileError) as err:
        parse("config:\n  gcp:project: a: b\n", "Pulumi.dev.yaml")
    assert str(err.value) == "Pulumi.dev.yaml:2:17: invalid YAML: mapping values are not allowed here"


def test_an_unknown_stack_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(StackFileError) as err:
        read("staging")
    message = str(err.value)
    assert message.startswith("unknown stack 'staging': there is no Pulumi.staging.yaml in ")
    assert message.endswith("stacks here: dev, prod") and "\n" not in message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stack_files_read_as_before(stack: str) -> None:
    assert stack_config(stack) == plan_stack_config(stack)


def test_stack_file_in_another_directory(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  gcp:project: a\n  ai-estate:dns: {domain: d.example}\n")
    assert stack_config("x", root=tmp_path) == {"gcp:project": "a", "ai-estate:dns": '{"domain": "d.example"}'}
    (tmp_path / "Pulumi.y.yaml").write_text("- just\n- a list\n")
    with pytest.raises(StackFileError, match=r"^Pulumi\.y\.yaml: must be a YAML map with a `config:` key, not a list$"):
        read("y", root=tmp_path)


# ---------------------------------------------------------------- 3. prod's signers
def test_prod_without_signers_is_refused() -> None:
    signing = {**area("prod", "signing"), "bootstrapSigner": False}
    project = stack_cfg("prod").project
    assert problems("prod", signing=signing) == [
        "signing.signers = {}: prod needs at least one signer: Binary Authorization admits no image of ours "
        "without an attestation by the estate's key; set signing.bootstrapSigner: true (the prod default: the "
        f"bootstrap's CI deployer, ci-deployer@{project}.iam.gserviceaccount.com, signs) or list the CI "
        "identities that build the images in signing.signers"
    ]


def test_prod_signs_with_the_bootstrap_deployer_by_default() -> None:
    cfg = load("prod", plan_stack_config("prod"))
    assert cfg.signing.bootstrap_signer is True
    assert cfg.signing.members(cfg.project) == {BOOTSTRAP_SIGNER: bootstrap_deployer(cfg.project)}


def test_prod_with_its_own_signers_only_is_accepted() -> None:
    member = "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/attribute.repository/o/app"
    signing = {"signers": {"app-ci": member}, "bootstrapSigner": False}
    cfg = load("prod", config_with("prod", signing=signing))
    assert cfg.signing.members(cfg.project) == {"app-ci": member}


def test_dev_needs_no_signer() -> None:
    cfg = load("dev", plan_stack_config("dev"))
    assert cfg.signing.members(cfg.project) == {}


def test_a_signer_is_listed_once() -> None:
    project = stack_cfg("prod").project
    deployer = bootstrap_deployer(project)
    assert deployer == f"serviceAccount:ci-deployer@{project}.iam.gserviceaccount.com"
    assert problems("prod", signing={"signers": {"ci": deployer}}) == [
        f"signing.signers.ci = {deployer!r}: the bootstrap's CI deployer signs already "
        "(signing.bootstrapSigner: true): drop this entry"
    ]
    other = f"serviceAccount:release@{project}.iam.gserviceaccount.com"
    assert problems("prod", signing={"signers": {"a": other, "b": other}}) == [
        f"signing.signers.b = {other!r}: the same identity as signing.signers.a: list each signer once"
    ]
    assert problems("prod", signing={"signers": {BOOTSTRAP_SIGNER: other}}) == [
        f"signing.signers.{BOOTSTRAP_SIGNER} = {other!r}: this name is the bootstrap's CI deployer while "
        "signing.bootstrapSigner is true; give this signer another name"
    ]


def test_the_prod_plan_grants_the_bootstrap_deployer_the_signing_roles() -> None:
    plan = run_plan("prod")
    assert plan.ok, plan.error
    member = bootstrap_deployer(stack_cfg("prod").project)
    key_grants = [
        r for r in plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") if r["inputs"]["member"] == member
    ]
    assert sorted(r["inputs"]["role"] for r in key_grants) == [
        "roles/cloudkms.publicKeyViewer",
        "roles/cloudkms.signer",
        "roles/cloudkms.viewer",
    ]
    attachers = [
        r for r in plan.by_type("gcp:containeranalysis/noteIamMember:NoteIamMember") if r["inputs"]["member"] == member
    ]
    assert len(attachers) == 1


def test_the_default_signer_is_the_account_the_bootstrap_creates() -> None:
    plan = run_bootstrap_plan("prod")
    assert plan.ok, plan.error
    ids = {r["inputs"]["accountId"] for r in plan.by_type("gcp:serviceaccount/account:Account")}
    assert BOOTSTRAP_DEPLOYER_ID in ids


# ---------------------------------------------------------------- 4. pattern rules in words
def _patterns(tp: Any, seen: set[Any]) -> set[str]:
    """Every `pattern` constraint reachable from a type: model fields, dict keys and values, lists."""
    found: set[str] = set()
    for meta in getattr(tp, "__metadata__", ()):
        for item in [meta, *getattr(meta, "metadata", [])]:
            if isinstance(getattr(item, "pattern", None), str):
                found.add(item.pattern)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in seen:
            return found
        seen.add(tp)
        for info in tp.model_fields.values():
            found |= {m.pattern for m in info.metadata if isinstance(getattr(m, "pattern", None), str)}
            found |= _patterns(info.annotation, seen)
    for arg in get_args(tp):
        found |= _patterns(arg, seen)
    return found


def test_every_pattern_of_the_models_has_words_and_no_words_go_unused() -> None:
    assert _patterns(EstateConfig, set()) == set(FORMATS)


# A value each pattern refuses, and the suggestion the message makes for it (None: words only).
BAD_VALUES: dict[str, tuple[str, str | None]] = {
    r"^[A-Z_][A-Z0-9_]{0,127}$": ("api-key", None),
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$": ("Cells/API", None),
    r"^/([A-Za-z0-9._~-]+/?)*$": ("api/", None),
    r"^/[A-Za-z0-9._~/-]*$": ("health", None),
    r"^[A-Za-z0-9:_.-]{1,200}$": ("tasks queue", None),
    r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$": ("GPU_Pool", "gpu-pool"),
    r"^[a-z][-_a-z0-9]{0,62}$": ("Workload Class", "workload-class"),
    r"^[-_a-z0-9]{0,63}$": ("Batch", "batch"),
    r"^[a-z_][a-z0-9_]{0,62}$": ("app-db", "app_db"),
    r"^[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?$": ("0", None),
    r"^(db\d+=[^,\s]+)(,db\d+=[^,\s]+)*$": ("tasks", None),
    r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$": ("8GB", None),
    r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$": ("My Project", "my-project"),
    r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$": ("E2", None),
    r"^[^@\s]+@[^@\s]+$": ("platform-team", None),
    r"^([01]\d|2[0-3]):[0-5]\d$": ("2am", None),
    r"^db-(custom-\d+-\d+|perf-optimized-N-\d+|g1-small|f1-micro)$": ("n2-standard-8", None),
    r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+$": ("postgres", None),
    r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$": (".latest", None),
    r"^roles/[A-Za-z0-9_.]+$": ("storage.admin", None),
    r"^[0-9]+(s|m|h|d)$": ("7 days", None),
    r"^https://[^\s/]+(/\S*)?$": ("http://hooks.example.com/pubsub", None),
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$": ("-estate", None),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$": ("API_Host", "api-host"),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": ("My Service", "my-service"),
    r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$": ("Ingress IP", "ingress-ip"),
    (
        r"^(serviceAccount:[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com"
        r"|principal(Set)?://iam\.googleapis\.com/\S+)$"
    ): ("user:dev@example.com", None),
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$": ("Qwen2.5-7B-Instruct", None),
    r"^[0-9a-f]{40}$": ("main", None),
    r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$": ("/model.gguf", None),
    r"^--[a-z][a-z0-9-]*(=\S+)?$|^[^-\s]\S*$": ("-q 8", None),
    r"^\d+\.\d+$": ("12", None),
    r"^[a-z0-9][a-z0-9_-]{0,62}$": ("Python3", None),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$": ("localhost", None),
    r"^sha256:[0-9a-f]{64}$": ("sha256:ABC", None),
    r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$": ("main branch", None),
}


def test_every_pattern_has_a_bad_value_here() -> None:
    assert set(BAD_VALUES) == set(FORMATS)


@pytest.mark.parametrize("pattern", sorted(FORMATS))
def test_pattern_errors_say_the_rule_in_words(pattern: str) -> None:
    bad, fix = BAD_VALUES[pattern]
    with pytest.raises(ValidationError) as err:
        TypeAdapter(Annotated[str, Field(pattern=pattern)]).validate_python(bad)
    [error] = err.value.errors()
    problem = LOAD._problem({**error, "loc": ("dns", "domain")}, {})
    assert problem.render() == (
        f"dns.domain = {bad!r}: invalid value; must be {FORMATS[pattern][1]}" + (f" (e.g. {fix!r})" if fix else "")
    )
    assert pattern not in problem.render() and "^" not in problem.allowed
    assert suggest(pattern, bad) == fix
    if fix is not None:
        assert re.fullmatch(pattern, fix)


def test_a_good_value_passes_every_pattern_check() -> None:
    assert load("dev", config_with("dev", **{"gcp:project": "my-project"})).project == "my-project"


def test_pattern_messages_through_the_loader() -> None:
    cluster = {
        **area("dev", "cluster"),
        "nodePools": {"GPU_Pool": {"machineType": "e2-standard-4", "minNodes": 0, "maxNodes": 1}},
    }
    database = {**area("dev", "database"), "backups": {"startTime": "2am"}}
    assert problems("dev", cluster=cluster, database=database) == [
        "cluster.nodePools.GPU_Pool = 'GPU_Pool': invalid name; must be 1–30 characters: lowercase letters, "
        "digits and hyphens; starts with a letter, does not end with a hyphen (e.g. 'gpu-pool')",
        "database.backups.startTime = '2am': invalid value; must be a time of day, `HH:MM` on a 24-hour clock",
    ]


# ---------------------------------------------------------------- 6. placeholders
OWN_VALUES = {
    "gcp:project": "acme-ai-dev",
    "dns": {"domain": "dev.ai.acme.example"},
    "certificates": {"acmeEmail": "platform@acme.io"},
}
PLACEHOLDER_KEYS = ["gcp:project", "dns.domain", "certificates.acmeEmail", "cluster.gpuQuota.contactEmail"]


def _own(stack: str) -> dict[str, str]:
    cluster = {**area(stack, "cluster"), "gpuQuota": {"contactEmail": "quota@acme.io"}}
    return config_with(stack, cluster=cluster, **OWN_VALUES)


def _placeholder_values(stack: str, project: str | None = None) -> dict[str, str]:
    """The values the repository ships for `stack` (dev's domain is `dev.<placeholder domain>`),
    from stacks/placeholders.py: what a stack holds before its owner sets their own."""
    projects = sorted(ph.PLACEHOLDER_PROJECTS)
    project = project or next((p for p in projects if p.endswith(f"-{stack}")), projects[0])
    domain = ph.PLACEHOLDER_DOMAIN if stack == "prod" else f"{stack}.{ph.PLACEHOLDER_DOMAIN}"
    return {
        "gcp:project": project,
        "dns.domain": domain,
        "certificates.acmeEmail": f"platform-team@{ph.PLACEHOLDER_DOMAIN}",
        "cluster.gpuQuota.contactEmail": f"quota@{domain}",
    }


def _with_placeholders(stack: str, project: str | None = None) -> dict[str, str]:
    """The stack's config with the repository's placeholder project, domain and addresses."""
    values = _placeholder_values(stack, project)
    cluster = {**area(stack, "cluster"), "gpuQuota": {"contactEmail": values["cluster.gpuQuota.contactEmail"]}}
    return config_with(
        stack,
        cluster=cluster,
        dns={**area(stack, "dns"), "domain": values["dns.domain"]},
        certificates={**area(stack, "certificates"), "acmeEmail": values["certificates.acmeEmail"]},
        **{"gcp:project": values["gcp:project"]},
    )


def _at_placeholder_domain(name: str | None) -> bool:
    """`name` (a domain, or an address's domain) is the placeholder domain or under it."""
    name = (name or "").rpartition("@")[2].lower()
    return name == ph.PLACEHOLDER_DOMAIN or name.endswith(f".{ph.PLACEHOLDER_DOMAIN}")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_placeholders_are_exactly_their_values_that_are_placeholders(stack: str) -> None:
    # The committed files: all four keys of each stack; a newcomer's own values: none.
    cfg = stack_cfg(stack)
    keys = [
        ("gcp:project", cfg.project, cfg.project in ph.PLACEHOLDER_PROJECTS),
        ("dns.domain", cfg.dns.domain, _at_placeholder_domain(cfg.dns.domain)),
        ("certificates.acmeEmail", cfg.certificates.acme_email, _at_placeholder_domain(cfg.certificates.acme_email)),
        (
            "cluster.gpuQuota.contactEmail",
            cfg.cluster.gpu_quota.contact_email,
            _at_placeholder_domain(cfg.cluster.gpu_quota.contact_email),
        ),
    ]
    keys += [
        (
            f"signing.signers.{name}",
            member,
            member.partition("@")[2].removesuffix(".iam.gserviceaccount.com") in ph.PLACEHOLDER_PROJECTS,
        )
        for name, member in sorted(cfg.signing.signers.items())
    ]
    expected = [(key, value) for key, value, placeholder in keys if placeholder]
    assert [(p.path, p.value) for p in ph.placeholders(cfg)] == expected
    assert not ph.placeholders(load(stack, _own(stack)))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_placeholder_value_is_reported(stack: str) -> None:
    for project in sorted(ph.PLACEHOLDER_PROJECTS):
        values = _placeholder_values(stack, project)
        cfg = load(stack, _with_placeholders(stack, project))
        found = [(p.path, p.value) for p in ph.placeholders(cfg)]
        assert found == [(key, values[key]) for key in PLACEHOLDER_KEYS]
        assert found[0] == ("gcp:project", project)


def test_a_real_up_stops_on_placeholders_before_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LOAD, "offline", lambda: False)  # as under the real engine
    values = _placeholder_values("dev")
    plan = run_plan("dev", preview=False, config=_with_placeholders("dev"))
    assert plan.resources == []
    assert plan.error is not None
    lines = plan.error.splitlines()
    assert lines[0].startswith("stack 'dev' still holds the placeholder values the repository ships with (4 keys)")
    assert "`pulumi up` stops before creating anything" in lines[0]
    assert lines[1] == (
        f"  - gcp:project = {values['gcp:project']!r}: the repository's placeholder project; set yours: "
        "pulumi config set gcp:project <your-project-id>"
    )
    assert [line.split(" = ")[0] for line in lines[1:]] == [f"  - {key}" for key in PLACEHOLDER_KEYS]


def test_a_real_preview_goes_on_with_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LOAD, "offline", lambda: False)
    plan = run_plan("dev", preview=True, config=_with_placeholders("dev"))
    assert plan.ok, plan.error
    assert plan.resources


def test_a_real_up_with_own_values_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LOAD, "offline", lambda: False)
    plan = run_plan("dev", preview=False, config=_own("dev"))
    assert plan.ok, plan.error


def test_the_offline_plan_runs_with_the_placeholders_for_up_too() -> None:
    plan = run_plan("dev", preview=False, config=_with_placeholders("dev"))  # the mock runtime: offline() is true
    assert plan.ok, plan.error


def test_placeholder_signer_projects_are_named() -> None:
    for project in sorted(ph.PLACEHOLDER_PROJECTS):
        member = f"serviceAccount:release@{project}.iam.gserviceaccount.com"
        cfg = load("prod", config_with("prod", signing={"signers": {"ci": member}}))
        assert ("signing.signers.ci", member) in [(p.path, p.value) for p in ph.placeholders(cfg)]
    own = f"serviceAccount:release@{OWN_VALUES['gcp:project']}.iam.gserviceaccount.com"
    cfg = load("prod", config_with("prod", signing={"signers": {"ci": own}}))
    assert "signing.signers.ci" not in [p.path for p in ph.placeholders(cfg)]
