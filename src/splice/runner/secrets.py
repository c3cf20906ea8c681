"""Masking of secret values in everything splice writes or shows."""

from __future__ import annotations

import threading
from typing import Any

MASK = "****"
_MIN_LENGTH = 3  # masking 1-2 character values would mangle unrelated text


class Masker:
    """Knows the run's secret values and replaces them with `****` wherever they appear.

    Values are added as they become known (suite vars, template inputs, captures marked
    secret), so a token captured at run time is masked in every later output.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._ordered: list[str] = []

    def add(self, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for v in value.values():
                self.add(v)
            return
        if isinstance(value, list | tuple):
            for v in value:
                self.add(v)
            return
        text = str(value)
        if len(text) < _MIN_LENGTH:
            return
        with self._lock:
            if text not in self._values:
                self._values.add(text)
                # longest first, so a secret containing another is masked whole
                self._ordered = sorted(self._values, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, value: str) -> str:
        for secret in self._ordered:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def mask(self, value: Any) -> Any:
        """A copy of `value` (dicts, lists, strings) with every secret replaced."""
        if not self._ordered:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.mask(k): self.mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            return MASK if text in self._values else value
        return value
