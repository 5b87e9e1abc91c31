"""The placeholder values the repository ships in its stack files, refused by a real `pulumi up`.

`Pulumi.dev.yaml` and `Pulumi.prod.yaml` carry a project, a DNS domain and e-mail addresses so
that the offline plan (tools/plan.py, Pulumi's mock runtime) runs on a fresh clone. They are
nobody's real project, zone or mailbox. The program refuses them when it runs under the real
engine for an update (`pulumi up`), before any resource is registered; `pulumi preview` and the
offline plan go on (a preview warns).
"""

from __future__ import annotations

from stacks.model import EstateConfig
from stacks.problem import Problem

# The values committed in Pulumi.dev.yaml and Pulumi.prod.yaml: placeholders, not a deployment's.
PLACEHOLDER_PROJECTS = frozenset({"ai-estate-dev", "ai-estate-prod"})
PLACEHOLDER_DOMAIN = "ai-estate.cloud"  # the stacks' dns.domain and the e-mails' domain, and below


def _placeholder_domain(name: str) -> bool:
    name = name.lower()
    return name == PLACEHOLDER_DOMAIN or name.endswith("." + PLACEHOLDER_DOMAIN)


def _placeholder_email(address: str | None) -> bool:
    return address is not None and _placeholder_domain(address.rpartition("@")[2])


def placeholders(cfg: EstateConfig) -> list[Problem]:
    """Every key that still holds a placeholder, with the command that sets a real value."""
    out: list[Problem] = []
    if cfg.project in PLACEHOLDER_PROJECTS:
        out.append(
            Problem(
                "gcp:project",
                cfg.project,
                "the repository's placeholder project; set yours: pulumi config set gcp:project <your-project-id>",
            )
        )
    if cfg.dns.domain is not None and _placeholder_domain(cfg.dns.domain):
        out.append(
            Problem(
                "dns.domain",
                cfg.dns.domain,
                "the repository's placeholder domain; set a domain you can delegate: "
                "pulumi config set --path 'ai-estate:dns.domain' <your-domain>",
            )
        )
    if _placeholder_email(cfg.certificates.acme_email):
        out.append(
            Problem(
                "certificates.acmeEmail",
                cfg.certificates.acme_email,
                "the repository's placeholder address; set the mailbox Let's Encrypt writes to: "
                "pulumi config set --path 'ai-estate:certificates.acmeEmail' <you@your-company>",
            )
        )
    if _placeholder_email(cfg.cluster.gpu_quota.contact_email):
        out.append(
            Problem(
                "cluster.gpuQuota.contactEmail",
                cfg.cluster.gpu_quota.contact_email,
                "the repository's placeholder address; set an account with quota update permission: "
                "pulumi config set --path 'ai-estate:cluster.gpuQuota.contactEmail' <you@your-company>",
            )
        )
    for name, member in sorted(cfg.signing.signers.items()):
        project = member.partition("@")[2].removesuffix(".iam.gserviceaccount.com")
        if project in PLACEHOLDER_PROJECTS:
            out.append(
                Problem(
                    f"signing.signers.{name}",
                    member,
                    "a service account of the repository's placeholder project; name your CI identity",
                )
            )
    return out


def render(stack: str, problems: list[Problem]) -> str:
    lines = [
        f"stack '{stack}' still holds the placeholder values the repository ships with "
        f"({len(problems)} key{'s' if len(problems) != 1 else ''}); `pulumi up` stops before creating anything. "
        "Set your own (pulumi preview and the offline plan run with them):"
    ]
    lines += [f"  - {p.render()}" for p in problems]
    return "\n".join(lines)
