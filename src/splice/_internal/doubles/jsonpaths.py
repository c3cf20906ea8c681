"""JSONPath expressions of body matchers and scrub rules (jsonpath-ng's extended syntax,
so filters like `$.items[?(@.qty > 1)]` work as in WireMock's matchesJsonPath)."""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1024)
def compile_path(source: str) -> Any:
    """A compiled JSONPath; ValueError naming the expression when it is malformed."""
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

    if not source.startswith("$"):
        raise ValueError(f"JSONPath {source!r} must start with '$', e.g. $.amount")
    try:
        return parse(source)
    except Exception as exc:  # jsonpath-ng raises bare Exception for some syntax errors
        raise ValueError(f"bad JSONPath {source!r}: {str(exc).strip() or 'cannot parse'}") from exc


def find(source: str, document: Any) -> list[Any]:
    """Every value `source` selects in `document` (empty when none)."""
    return [match.value for match in compile_path(source).find(document)]
