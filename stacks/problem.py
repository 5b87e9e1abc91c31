"""One configuration problem: the key path, the value found and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    path: str
    value: Any
    allowed: str

    def render(self) -> str:
        return f"{self.path} = {self.value!r}: {self.allowed}"
