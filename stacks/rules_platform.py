"""Rules for the platform areas: chart pins and namespace references. Each names its key path."""

from __future__ import annotations

from stacks import config_certs, config_mesh, config_namespaces, config_signing
from stacks.base import ACCOUNT_ID_MAX
from stacks.charts import EXACT_VERSION, PINS, REPOSITORY
from stacks.model import EstateConfig
from stacks.problem import Problem
from stacks.secret_keys import sync_account_id


def check_platform(cfg: EstateConfig) -> list[Problem]:
    prod = cfg.environment == "prod"
    problems = _check_charts(cfg) + config_namespaces.check(cfg.namespaces)
    problems += _check_namespace_references(cfg) + _check_sync_accounts(cfg)
    problems += _check_ingress_backends(cfg)
    problems += config_certs.check(cfg.dns, cfg.certificates)
    if cfg.dns.domain:
        problems += config_mesh.check(cfg.mesh, cfg.dns.domain, prod=prod, app_namespaces=list(cfg.namespaces))
    problems += config_signing.check_signers(cfg.signing, cfg.project, prod=prod)
    problems += config_signing.check(cfg.signing, cfg.backup, prod=prod)
    return problems


def _check_charts(cfg: EstateConfig) -> list[Problem]:
    out = []
    for key, override in cfg.charts.items():
        at = f"charts.{key}"
        if key not in PINS:
            out.append(Problem(at, key, f"unknown chart; allowed: {', '.join(sorted(PINS))}"))
            continue
        if override.version is not None and not EXACT_VERSION.match(override.version):
            out.append(
                Problem(
                    f"{at}.version",
                    override.version,
                    "must be an exact chart version such as 1.2.3 or v1.2.3 (no ranges, wildcards or 'latest')",
                )
            )
        if override.repository is not None and not REPOSITORY.match(override.repository):
            out.append(
                Problem(
                    f"{at}.repository", override.repository, "must be an https:// Helm repository or an oci:// path"
                )
            )
    return out


def _check_namespace_references(cfg: EstateConfig) -> list[Problem]:
    known = sorted(cfg.namespaces)
    out = []
    for name, wl in cfg.identity.workloads.items():
        if wl.namespace not in cfg.namespaces:
            out.append(
                Problem(
                    f"identity.workloads.{name}.namespace",
                    wl.namespace,
                    f"unknown namespace; must be one of namespaces: {known}",
                )
            )
    for ns, spec in cfg.namespaces.items():
        for caller, ref in spec.callers.items():
            if ref.namespace not in cfg.namespaces:
                out.append(
                    Problem(
                        f"namespaces.{ns}.callers.{caller}.namespace",
                        ref.namespace,
                        f"unknown namespace; must be one of namespaces: {known}",
                    )
                )
    return out


def _check_sync_accounts(cfg: EstateConfig) -> list[Problem]:
    """A namespace that receives secrets syncs them as `<env>-sync-<namespace>`, a Google service
    account id of at most 30 characters (components.kube.credentials)."""
    out = []
    for ns in sorted({wl.namespace for wl in cfg.identity.workloads.values() if wl.secrets}):
        account = sync_account_id(cfg.environment, ns)
        if len(account) > ACCOUNT_ID_MAX:
            out.append(
                Problem(
                    f"namespaces.{ns}",
                    ns,
                    f"name too long for a namespace that receives secrets: its sync service account {account!r} "
                    f"must be at most {ACCOUNT_ID_MAX} characters",
                )
            )
    return out


def _check_ingress_backends(cfg: EstateConfig) -> list[Problem]:
    """A host routed to a namespace that does not admit the gateway would be refused by that
    namespace's NetworkPolicies and AuthorizationPolicies: say so before anything is built."""
    out = []
    for name, host in sorted(cfg.mesh.hosts.items()):
        ns = host.backend.namespace if host.backend else None
        if ns in cfg.namespaces and not cfg.namespaces[ns].ingress:
            out.append(
                Problem(
                    f"mesh.hosts.{name}.backend.namespace",
                    ns,
                    f"namespace {ns!r} does not admit the ingress gateway; set namespaces.{ns}.ingress: true",
                )
            )
    return out
