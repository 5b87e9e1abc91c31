"""Every string pattern the stack-config models use, said in words.

A pattern error names the rule (length, characters, how it starts and ends) rather than the
regular expression, and where a simple fix of the value would pass (lower case, hyphens for
spaces and underscores, a shorter name) it proposes that value. A test fails for a pattern in
the models without its words here.

FORMATS maps a pattern to (the name of the format or None, its words); the configuration
reference (tools/config_docs.py) can take the same table.
"""

from __future__ import annotations

import re

FORMATS: dict[str, tuple[str | None, str]] = {
    r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$": (
        "name",
        "1–30 characters: lowercase letters, digits and hyphens; starts with a letter, does not end with a hyphen",
    ),
    r"^[a-z][-_a-z0-9]{0,62}$": (
        "label key",
        "1–63 characters: lowercase letters, digits, hyphens and underscores; starts with a letter",
    ),
    r"^[-_a-z0-9]{0,63}$": (
        "label value",
        "0–63 characters (may be empty): lowercase letters, digits, hyphens and underscores",
    ),
    r"^[a-z_][a-z0-9_]{0,62}$": (
        "SQL identifier",
        "1–63 characters: lowercase letters, digits and underscores; starts with a letter or an underscore",
    ),
    r"^[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?$": (
        "port",
        'a port or a range of ports, written as a string: `"8080"`, `"30000-32767"`',
    ),
    r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$": (
        "quantity",
        "a Kubernetes quantity: a number with an optional `m`, `Ki`, `Mi`, `Gi` or `Ti` suffix (`250m`, `64Gi`)",
    ),
    r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$": (
        None,
        "6–30 characters: lowercase letters, digits and hyphens; starts with a letter, does not end with a hyphen",
    ),
    r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$": (
        None,
        "a Compute Engine machine type: lowercase words joined by hyphens (`e2-standard-4`)",
    ),
    r"^[^@\s]+@[^@\s]+$": (None, "an e-mail address (`name@domain`)"),
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$": (
        "Harbor name",
        "lowercase letters and digits, words joined by single `.`, `_` or `-` (Harbor's project and robot names)",
    ),
    r"^([01]\d|2[0-3]):[0-5]\d$": (None, "a time of day, `HH:MM` on a 24-hour clock"),
    r"^(db\d+=[^,\s]+)(,db\d+=[^,\s]+)*$": (
        None,
        "redis_exporter key patterns: `db<n>=<glob>`, comma-separated (`db0=*`, `db0=tasks,db0=events`)",
    ),
    r"^db-(custom-\d+-\d+|perf-optimized-N-\d+|g1-small|f1-micro)$": (
        None,
        "`db-custom-<vCPUs>-<MB>`, `db-perf-optimized-N-<vCPUs>`, `db-g1-small` or `db-f1-micro`",
    ),
    r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+$": (
        None,
        "a registry host (with an optional `:port`), `/` and a lowercase repository path; no tag, no digest",
    ),
    r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$": (
        None,
        "1–128 characters: letters, digits, `_`, `.` and `-`; does not start with `.` or `-`",
    ),
    r"^[A-Z_][A-Z0-9_]{0,127}$": (
        "environment variable",
        "1–128 characters: upper-case letters, digits and underscores; does not start with a digit",
    ),
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$": (
        None,
        "a repository path: lowercase words joined by single `.`, `_` or `-`, in parts separated by `/`; "
        "no host, tag or digest",
    ),
    r"^/([A-Za-z0-9._~-]+/?)*$": (
        None,
        "a path prefix: starts with `/`, segments of letters, digits, `.`, `_`, `~` and `-` (`/`, `/api/`, `/ws`)",
    ),
    r"^/[A-Za-z0-9._~/-]*$": (None, "an HTTP path starting with `/` (`/health/live`)"),
    r"^[A-Za-z0-9:_.-]{1,200}$": (
        None,
        "a Redis key: 1–200 letters, digits, `:`, `_`, `.` and `-` (`tasks`, `agents:queue`)",
    ),
    r"^roles/[A-Za-z0-9_.]+$": (None, "an IAM role: `roles/` followed by letters, digits, `_` and `.`"),
    r"^[0-9]+(s|m|h|d)$": (
        "duration",
        "a whole number of seconds, minutes, hours or days: `600s`, `10m`, `12h`, `7d`",
    ),
    r"^https://[^\s/]+(/\S*)?$": (None, "an `https://` URL (`https://hooks.example.com/pubsub`)"),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$": (
        None,
        "one DNS label or a dotted name of labels, each 1–63 characters of lowercase letters, digits and "
        "hyphens, not starting or ending with a hyphen",
    ),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": (
        None,
        "1–63 characters: lowercase letters, digits and hyphens; does not start or end with a hyphen",
    ),
    r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$": (
        None,
        "1–63 characters: lowercase letters, digits and hyphens; starts with a letter, does not end with a hyphen",
    ),
    (
        r"^(serviceAccount:[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com"
        r"|principal(Set)?://iam\.googleapis\.com/\S+)$"
    ): (
        None,
        "`serviceAccount:<id>@<project>.iam.gserviceaccount.com`, `principal://iam.googleapis.com/…` "
        "or `principalSet://iam.googleapis.com/…` (a CI identity, never a person)",
    ),
    # The model servers (stacks/config_inference.py).
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$": (
        None,
        "a repository as `<owner>/<name>` (letters, digits, `-`, `_` and `.`), on the Hugging Face Hub or GitHub",
    ),
    r"^[0-9a-f]{40}$": (None, "a full commit: 40 lowercase hexadecimal digits (not a branch or a tag)"),
    r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$": (None, "a path inside the repository, without a leading `/`"),
    r"^--[a-z][a-z0-9-]*(=\S+)?$|^[^-\s]\S*$": (
        None,
        "one argument: a `--flag`, a `--flag=value`, or a value without spaces",
    ),
    r"^\d+\.\d+$": (None, "a version as `<major>.<minor>`, e.g. `12.8`"),
    # The automation platforms (stacks/config_automation.py).
    r"^[a-z0-9][a-z0-9_-]{0,62}$": (
        None,
        "1–63 characters: lowercase letters, digits, `-` and `_`; starts with a letter or a digit",
    ),
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$": (
        None,
        "a domain name with at least two labels, in lowercase (e.g. `example.com`)",
    ),
    # Harbor images and the release flow (stacks/config_cells.py, stacks/config_release.py).
    r"^sha256:[0-9a-f]{64}$": (None, "a manifest digest: `sha256:` and 64 lowercase hexadecimal digits"),
    r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$": (
        None,
        "a git branch: letters, digits, `.`, `_` and `-`, words joined by `/` (`main`, `release/2026`)",
    ),
}


# Names and identifiers, where lower-casing, joining words with a hyphen (or an underscore) and
# trimming is the likely fix; formats such as tags, e-mails and images get words only.
_FIXABLE = frozenset(
    {
        r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$",
        r"^[a-z][-_a-z0-9]{0,62}$",
        r"^[-_a-z0-9]{0,63}$",
        r"^[a-z_][a-z0-9_]{0,62}$",
        r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$",
        r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$",
        r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
    }
)


def describe(pattern: str) -> str:
    """The rule of `pattern` in words (the pattern itself only for one missing from FORMATS)."""
    if pattern in FORMATS:
        return FORMATS[pattern][1]
    return f"a value matching {pattern}"


def suggest(pattern: str, value: object) -> str | None:
    """A value close to `value` that matches `pattern` (lower case, hyphens or underscores for other
    characters, trimmed to length), or None when no such simple fix passes."""
    if pattern not in _FIXABLE or not isinstance(value, str) or not value:
        return None
    rx = re.compile(pattern)
    lower = value.strip().lower()
    candidates = [lower]
    for sep in ("-", "_"):
        joined = re.sub(r"[^a-z0-9]+", sep, lower).strip(sep)
        candidates += [joined, re.sub(r"^[^a-z]+", "", joined)]
    trimmed = [c[:end].rstrip("-_.") for c in candidates for end in range(len(c), 0, -1)]
    return next((c for c in [*candidates, *trimmed] if c and c != value and rx.fullmatch(c)), None)


def in_words(pattern: str, value: object) -> str:
    """`must be <the rule>`, and `(e.g. '<a value that passes>')` where a simple fix exists."""
    fix = suggest(pattern, value)
    return f"must be {describe(pattern)}" + (f" (e.g. {fix!r})" if fix else "")
