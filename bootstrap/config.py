"""The bootstrap's typed configuration (namespace `ai-estate-bootstrap`), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NAMESPACE = "ai-estate-bootstrap"
KEYS = ("repository", "environment", "deployEnvironment", "mainBranch", "stateBucket", "softDeleteDays")
# GitHub's owner and repository name rules; no wildcards, so the condition names one repository.
REPOSITORY = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"


class BootstrapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    region: str = Field(pattern=r"^[a-z]+-[a-z]+\d$")
    repository: str = Field(pattern=REPOSITORY, description="owner/name of the only repository allowed to federate")
    environment: Literal["dev", "prod"]
    deployEnvironment: str | None = Field(  # noqa: N815 - the stack file's key
        default=None, pattern=r"^[A-Za-z0-9_.-]+$", description="GitHub environment the deployer must run in"
    )
    mainBranch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]+$")  # noqa: N815
    stateBucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")  # noqa: N815
    softDeleteDays: int = Field(default=30, ge=7, le=90)  # noqa: N815

    @property
    def bucket(self) -> str:
        return self.stateBucket or f"{self.project}-pulumi-state"


class BootstrapConfigError(Exception):
    pass


def load(config: Mapping[str, str | None], stack: str) -> BootstrapConfig:
    """Build the model from Pulumi's flat config; one message listing every bad key and what is allowed."""
    raw: dict[str, object] = {"project": config.get("gcp:project"), "region": config.get("gcp:region")}
    for key in KEYS:
        value = config.get(f"{NAMESPACE}:{key}")
        if value is not None:
            raw[key] = int(value) if key == "softDeleteDays" and value.isdigit() else value
    try:
        cfg = BootstrapConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            key = {"project": "gcp:project", "region": "gcp:region"}.get(loc, f"{NAMESPACE}:{loc}")
            lines.append(f"  - {key} = {err.get('input')!r}: {err['msg']}")
        raise BootstrapConfigError(
            f"invalid bootstrap configuration for stack '{stack}':\n" + "\n".join(lines)
        ) from None
    if cfg.environment == "prod" and cfg.deployEnvironment is None:
        raise BootstrapConfigError(
            f"invalid bootstrap configuration for stack '{stack}':\n  - {NAMESPACE}:deployEnvironment is required "
            "when environment is prod (the GitHub environment with required reviewers, e.g. prod)"
        )
    return cfg
