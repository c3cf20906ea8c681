"""Captures: take values out of a step's result into variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splice._internal.expect.jsonpath import compile_jsonpath
from splice._internal.model.suite import Capture
from splice._internal.regexes import RegexError, compile_user_regex
from splice._internal.templating import evaluate


class CaptureFailure(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def capture(spec: Capture, result: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    """The value `spec` names in `result`; CaptureFailure when it is not there."""
    try:
        return _capture(spec, result, scope)
    except CaptureFailure:
        if spec.has_default:
            return spec.default
        raise


def _capture(spec: Capture, result: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
    if spec.kind == "expr":
        local = {**scope, **result, "result": result}
        try:
            value = evaluate(spec.source, local)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            raise CaptureFailure(f"capture {spec.name!r}: {message}") from exc
        return value
    if spec.kind == "jsonpath":
        body = result.get("json")
        if body is None:
            raise CaptureFailure(
                f"capture {spec.name!r}: the result has no JSON body to search",
            )
        matches = [m.value for m in compile_jsonpath(spec.source).find(body)]
        if not matches and not spec.all:
            raise CaptureFailure(
                f"capture {spec.name!r}: JSON path {spec.source!r} matched nothing"
            )
        return matches if spec.all else matches[0]
    if spec.kind == "header":
        headers = result.get("headers") or {}
        value = headers.get(spec.source.lower())
        if value is None:
            raise CaptureFailure(
                f"capture {spec.name!r}: no header {spec.source!r} in the response",
                "headers present: " + ", ".join(sorted(headers)) if headers else None,
            )
        return value
    # regex
    field = spec.field or ("text" if "text" in result else "stdout")
    text = result.get(field)
    if not isinstance(text, str):
        raise CaptureFailure(f"capture {spec.name!r}: result field {field!r} is not text")
    pattern = compile_user_regex(spec.source)
    try:
        found = list(pattern.finditer(text))
    except RegexError as exc:  # ran out of time
        raise CaptureFailure(f"capture {spec.name!r}: {exc.message}", exc.hint) from exc
    if not found:
        raise CaptureFailure(
            f"capture {spec.name!r}: regex {spec.source!r} found nothing in {field}",
        )
    group = spec.group if spec.group is not None else (1 if pattern.groups else 0)
    values = [m.group(group) for m in found]
    return values if spec.all else values[0]
