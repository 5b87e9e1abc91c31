"""The building blocks of every config model: strict camelCase models, names, labels, CIDRs, durations."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ACCOUNT_ID_MAX = 30  # Google service account ids
NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
LabelValue = Annotated[str, Field(pattern=r"^[-_a-z0-9]{0,63}$")]
LabelKey = Annotated[str, Field(pattern=r"^[a-z][-_a-z0-9]{0,62}$")]


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 CIDR block with its host bits zero ({exc})") from None
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]

DURATION_PATTERN = r"^[0-9]+(s|m|h|d)$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """`7d` -> 604800: a Duration in seconds."""
    m = re.fullmatch(DURATION_PATTERN, duration)
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return int(duration[:-1]) * _UNIT_SECONDS[m[1]]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, use_enum_values=True
    )
