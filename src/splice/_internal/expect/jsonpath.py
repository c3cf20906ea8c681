"""JSONPath expressions of captures (`capture: {id: $.items[0].id}`), compiled once: at
load time the suite loader checks them, at run time the runner evaluates them."""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1024)
def compile_jsonpath(source: str) -> Any:
    """A compiled JSONPath (jsonpath-ng's extended syntax); ValueError when malformed."""
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

    try:
        return parse(source)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise ValueError(str(exc).strip() or "cannot parse") from exc
