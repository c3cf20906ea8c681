"""Checks after a step: the structural `expect` block and expression assertions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from splice._internal.executors.executor_api import Executor, implied_expect
from splice._internal.model.results import Failure, FailureKind
from splice._internal.templating import TemplateFailure, evaluate, render

_COMPARISON = re.compile(r"\s(==|!=|>=|<=|>|<|not in|in)\s")


def check_expect(
    expect: Mapping[str, Any],
    result: Mapping[str, Any],
    executor: Executor | None,
    scope: Mapping[str, Any],
    seen: dict[str, Any] | None = None,
) -> list[Failure]:
    """Match each `expect` field against the result, after rendering its templates.

    `seen`, when given, receives what was checked: the rendered fields, then the implied
    ones the block did not name (no copy: the values are the rendered ones)."""
    from splice._internal.expect import MISSING, match

    failures: list[Failure] = []
    try:
        rendered = render(dict(expect), scope)
    except TemplateFailure as exc:
        return [Failure(FailureKind.ERROR, f"in expect: {exc.message}", hint=exc.hint)]
    if seen is not None:
        seen.update(rendered)
        seen.update((k, v) for k, v in implied_expect(executor).items() if k not in rendered)
    insensitive = executor.case_insensitive_fields if executor is not None else frozenset()
    for name, expected in rendered.items():
        actual = result.get(name, MISSING)
        hint = _not_json(result) if name == "json" and actual is None else None
        for m in match(expected, actual, name, case_insensitive_keys=name in insensitive):
            failures.append(
                Failure(FailureKind.EXPECT, m.message, m.path, m.expected, m.actual, hint)
            )
    for name, expected in implied_expect(executor).items():
        if name in rendered:
            continue
        actual = result.get(name, MISSING)
        for m in match(expected, actual, name):
            hint = (
                f"a {executor.name if executor else ''} step expects `{name}: {expected!r}` "
                f"unless its expect names {name}; write `expect: {{{name}: {m.actual!r}}}` "
                "if that is intended"
            )
            failures.append(
                Failure(FailureKind.EXPECT, m.message, m.path, m.expected, m.actual, hint)
            )
    return failures


def _not_json(result: Mapping[str, Any]) -> str | None:
    """Why `json` is null: the body (text, stdout, payload) was empty or not JSON."""
    raw = next((result[k] for k in _RAW_FIELDS if isinstance(result.get(k), str)), None)
    if raw is None:
        return None
    if not raw.strip():
        return "json is null because the body is empty"
    start = raw.strip()[:60]
    return f"json is null because the body is not JSON: it starts with {start!r}"


_RAW_FIELDS = ("text", "stdout", "payload", "body")


def check_assertions(
    assertions: list[str], result: Mapping[str, Any], scope: Mapping[str, Any]
) -> list[Failure]:
    """Each expression must be truthy; a failed comparison shows both sides' values."""
    failures = []
    local = {**scope, "result": result}
    for expression in assertions:
        try:
            value = evaluate(expression, local)
        except TemplateFailure as exc:
            failures.append(
                Failure(FailureKind.ASSERT, f"{expression}: {exc.message}", hint=exc.hint)
            )
            continue
        if not value:
            failures.append(_explain(expression, value, local))
    return failures


def _explain(expression: str, value: Any, scope: Mapping[str, Any]) -> Failure:
    parts = _COMPARISON.split(expression.strip().removeprefix("{{").removesuffix("}}"), maxsplit=1)
    if len(parts) == 3:
        left, op, right = (p.strip() for p in parts)
        try:
            lval, rval = evaluate(left, scope), evaluate(right, scope)
        except TemplateFailure:
            pass
        else:
            shown = [
                f"{src} is {val!r}"
                for src, val in ((left, lval), (right, rval))
                if src not in (repr(val), str(val), json.dumps(val, default=str))
            ]
            detail = f"  ({', '.join(shown)})" if shown else ""
            return Failure(
                FailureKind.ASSERT,
                f"assertion failed: {expression}{detail}",
                path=left,
                expected=f"{op} {rval!r}",
                actual=lval,
            )
    return Failure(
        FailureKind.ASSERT, f"assertion failed: {expression} (got {value!r})", actual=value
    )
