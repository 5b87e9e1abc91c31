"""Config for the estate's DNS zone and certificates: `ai-estate:dns` and `ai-estate:certificates`.

`dns.domain` and `certificates.acmeEmail` have no sensible default, yet are optional in the
models: a missing one is reported by `check()` with the key path and what to set, instead of a
bare "required" on a parent key when the whole area is absent from the stack file.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from stacks.base import Model
from stacks.problem import Problem

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Let's Encrypt refuses ACME accounts whose contact address is at one of these (RFC 2606) domains.
_ACME_FORBIDDEN_MAIL_DOMAINS = frozenset({"example.com", "example.net", "example.org"})

ACME_SERVERS = {
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "production": "https://acme-v02.api.letsencrypt.org/directory",
}


class DnsConfig(Model):
    domain: str | None = Field(None, description="DNS name the estate serves under, e.g. dev.ai-estate.example.com.")
    dnssec: bool = True


class CertificatesConfig(Model):
    acme_email: str | None = Field(None, description="Contact address of the Let's Encrypt account (expiry notices).")
    issuer: Literal["staging", "production"] | None = Field(
        None, description="Let's Encrypt environment; staging in dev and production in prod when unset."
    )

    def acme_server(self, environment: str) -> str:
        """The ACME directory: the configured environment, else production only for prod stacks
        (staging certificates are untrusted, but its rate limits forgive a dev stack's churn)."""
        issuer = self.issuer or ("production" if environment == "prod" else "staging")
        return ACME_SERVERS[issuer]


# Merged by the lead into stacks/defaults.py (camelCase, as stack files spell them).
DEFAULTS: dict[str, dict[str, dict[str, object]]] = {
    "dev": {"dns": {"dnssec": True}, "certificates": {"issuer": "staging"}},
    "prod": {"dns": {"dnssec": True}, "certificates": {"issuer": "production"}},
}


def fqdn_problem(domain: str) -> str | None:
    """Why `domain` is not a lowercase fully qualified DNS name, or None when it is one."""
    if domain != domain.lower():
        return "must be lowercase"
    if domain.endswith("."):
        return "write it without the trailing dot"
    if len(domain) > 253:
        return "must be at most 253 characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "must be a fully qualified name with at least two labels (e.g. dev.ai-estate.example.com)"
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        return f"label {bad[0]!r} must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
    if labels[-1].isdigit():
        return "the top-level label must not be numeric"
    return None


def host_problem(host: str, domain: str) -> str | None:
    """Why `host` (a gateway or certificate name, `*.` allowed once in front) cannot be served
    under `domain`, or None: the zone and the DNS-01 solver only cover the domain and below it."""
    name = host.removeprefix("*.")
    if (why := fqdn_problem(name)) is not None:
        return why
    if name != domain and not name.endswith(f".{domain}"):
        return f"must be {domain} or a name under it (dns.domain)"
    return None


def email_problem(email: str) -> str | None:
    if not _EMAIL.match(email):
        return "must be an e-mail address (name@domain.tld)"
    if email.rpartition("@")[2].lower() in _ACME_FORBIDDEN_MAIL_DOMAINS:
        return "Let's Encrypt refuses contact addresses at example.com, example.net and example.org"
    return None


def check(dns: DnsConfig, certificates: CertificatesConfig) -> list[Problem]:
    """Problems with `ai-estate:dns` and `ai-estate:certificates`, each naming its key path."""
    out: list[Problem] = []
    if dns.domain is None:
        out.append(Problem("dns.domain", None, "required: the DNS name the estate serves under, e.g. dev.example.com"))
    elif (why := fqdn_problem(dns.domain)) is not None:
        out.append(Problem("dns.domain", dns.domain, why))
    if certificates.acme_email is None:
        out.append(
            Problem("certificates.acmeEmail", None, "required: the Let's Encrypt account's contact e-mail address")
        )
    elif (why := email_problem(certificates.acme_email)) is not None:
        out.append(Problem("certificates.acmeEmail", certificates.acme_email, why))
    return out
