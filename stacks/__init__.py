"""Typed per-stack configuration: models, environment defaults and validation."""

from stacks.load import ConfigError, load
from stacks.model import EstateConfig

__all__ = ["ConfigError", "EstateConfig", "load"]
