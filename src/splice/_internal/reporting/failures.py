"""Plain-text explanation of a failed testcase: the step, each unmet expectation with a
diff, and the request and response. Used by the console and by the pytest plugin."""

from __future__ import annotations

import json
from typing import Any

from splice._internal.errors import SourceSpan, where
from splice._internal.model.results import AttemptResult, Failure, Phase, StepResult, TestcaseResult
from splice._internal.reporting.diagnostics import line_window, source_line

BODY_LIMIT = 1200  # characters of a body shown in the terminal


def shorten(text: str, limit: int = BODY_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def pretty(value: Any, limit: int = BODY_LIMIT) -> str:
    if isinstance(value, str):
        return shorten(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
        if len(text) > 100:  # one line when short, indented when long
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, limit)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def failure_lines(failure: Failure) -> list[str]:
    head = f"✗ {failure.message}"
    if failure.path and failure.kind == "expect" and not failure.message.startswith(failure.path):
        head = f"✗ {failure.path}: {failure.message}"
    # a message of several lines (a database's error with its LINE and caret) keeps its
    # continuation lines under its first, past the mark
    first, *rest = head.split("\n")
    lines = [first, *("  " + line for line in rest)]
    if (
        failure.kind == "expect"
        and isinstance(failure.expected, dict | list)
        and isinstance(failure.actual, dict | list)
    ):
        try:
            from splice._internal.expect import render_diff

            lines += ["  " + line for line in render_diff(failure.expected, failure.actual)]
        except ImportError:  # pragma: no cover
            pass
    if failure.hint:
        lines.append(f"  hint: {failure.hint}")
    return lines


def source_lines(span: SourceSpan | None) -> list[str]:
    """`--> file:line:col` and the source line with a caret, as in located errors."""
    if span is None:
        return []
    out = [f"--> {where(span)}"]
    text = source_line(span)
    if text is not None:
        gutter = " " * len(str(span.line))
        text, column = line_window(text, span.column)
        width = max(
            1, min((span.end_column or span.column + 1) - span.column, len(text) - column + 1)
        )
        caret = " " * (column - 1) + "^" * width
        out += [f"{gutter} |", f"{span.line} | {text}", f"{gutter} | {caret}"]
    return out


def step_lines(step: StepResult) -> list[str]:
    phase = "" if step.phase == Phase.TEST else f" ({step.phase.value})"
    lines = [f"step {step.index + 1}{phase}: {step.name} [{step.status.value}]"]
    lines += ["  " + line for line in source_lines(step.location)]
    if step.polls > 1:
        lines.append(f"  ran {step.polls} times under retry")
    for failure in step.failures:
        lines += ["  " + line for line in failure_lines(failure)]
    for title, summary in (("request", step.request), ("response", step.response)):
        if summary:
            lines.append(f"  {title}:")
            lines += summary_lines(_compact(summary))
    return lines


def summary_lines(summary: dict[str, Any], indent: str = "    ") -> list[str]:
    """`key: value` per line; a value too long for one line is indented below its key."""
    lines = []
    for key, value in summary.items():
        if key == "headers" and isinstance(value, dict) and value:  # one `name: value` a line
            lines.append(f"{indent}{key}:")
            lines += [f"{indent}  {k}: {shorten(str(v), 200)}" for k, v in value.items()]
            continue
        text = pretty(value)
        if "\n" in text:
            lines.append(f"{indent}{key}:")
            lines.append(_indent(text, indent + "  "))
        else:
            lines.append(f"{indent}{key}: {text}")
    return lines


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if v not in (None, {}, [], "")}


def attempt_lines(attempt: AttemptResult) -> list[str]:
    lines: list[str] = []
    for step in attempt.steps:
        if not step.status.ok:
            lines += step_lines(step)
    return lines


def blocking_setup_step(tc: TestcaseResult) -> StepResult | None:
    """The suite setup step that kept `tc` from running, when that is why it did not pass."""
    final = tc.final_attempt
    if final is None or len(final.steps) != 1:
        return None
    step = final.steps[0]
    first = step.failures[0] if step.failures else None
    return step if first is not None and first.kind == "suite setup" else None


def failure_report(tc: TestcaseResult, *, title: bool = True) -> str:
    """Everything a person needs to see about a testcase that did not pass."""
    lines = [f"{tc.status.value.upper()}: {tc.suite} › {tc.name}"] if title else []
    if len(tc.attempts) > 1:
        lines.append(f"  {len(tc.attempts)} attempts")
    final = tc.final_attempt
    if final is not None:
        lines += ["  " + line for line in "\n".join(attempt_lines(final)).splitlines()]
    return "\n".join(lines)
