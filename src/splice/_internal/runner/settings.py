"""Numbers and durations written as templates, rendered and checked when they are used.

`retry.attempts`, `retry.timeout`, `retry.interval`, a step's `timeout` and a testcase's
or suite's `retries` may be templates (`timeout: "{{ slow_timeout }}"`). The loader keeps
them as written; here they are rendered with the variables of the moment and checked by
the very schema that checks a literal, so a bad value gets the same message and hint, at
the place where the template is written.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from splice._internal.errors import SourceSpan
from splice._internal.loader.suite_schema import (
    Retries,
    RetrySpec,
    Spec,
    StepCommonSpec,
    SuiteRetries,
)
from splice._internal.model.durations import parse_duration
from splice._internal.model.positions import Positions
from splice._internal.model.suite import Step, Suite, Testcase
from splice._internal.source.validation import from_validation_error
from splice._internal.templating import TemplateFailure, is_template, render

_WHOLE = re.compile(r"\s*\d+\s*")


class _TestcaseRetries(Spec):
    retries: Retries = None


class _SuiteRetries(Spec):
    retries: SuiteRetries = 0


def seconds(value: float | str | None) -> float | None:
    """A duration of a resolved step (`resolved_step` rendered any template in it)."""
    return None if value is None else parse_duration(value)


def count(value: int | str | None) -> int | None:
    """A number of a resolved step (`resolved_step` rendered any template in it)."""
    return None if value is None else int(value)


class SettingFailure(Exception):
    """A templated setting that did not render to a valid value: where it is written."""

    def __init__(self, message: str, span: SourceSpan | None, hint: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint


def resolved_step(step: Step, scope: dict[str, Any]) -> Step:
    """`step` with its templated timeout and retry settings rendered (itself when none is
    a template); raises `SettingFailure`."""
    retry = step.retry
    templated_retry = retry is not None and any(
        is_template(v) for v in (retry.timeout, retry.interval, retry.attempts)
    )
    if not is_template(step.timeout) and not templated_retry:
        return step
    here = _Place(step.positions, step.span, scope)
    changes: dict[str, Any] = {}
    if is_template(step.timeout):
        changes["timeout"] = parse_duration(
            here.checked(str(step.timeout), StepCommonSpec, "timeout")
        )
    if retry is not None and templated_retry:
        fields: dict[str, Any] = {}
        for name in ("timeout", "interval", "attempts"):
            written = getattr(retry, name)
            if is_template(written):
                value = here.checked(str(written), RetrySpec, "retry", name)
                fields[name] = value if name == "attempts" else parse_duration(value)
        changes["retry"] = dataclasses.replace(retry, **fields)
    return dataclasses.replace(step, **changes)


def testcase_retries(testcase: Testcase, suite: Suite, scope: dict[str, Any], default: int) -> int:
    """How many times a failed testcase is run again; raises `SettingFailure`."""
    if testcase.retries is not None:
        return _retries(testcase.retries, _TestcaseRetries, testcase.retries_span, scope)
    return max(_retries(suite.retries, _SuiteRetries, suite.retries_span, scope), default)


def _retries(
    written: int | str, model: type[BaseModel], span: SourceSpan | None, scope: dict[str, Any]
) -> int:
    if not is_template(written):
        return int(written)
    pos = Positions(span.path, {("retries",): span}) if span is not None else None
    return int(_Place(pos, span, scope).checked(str(written), model, "retries"))


@dataclass
class _Place:
    """Where templated settings are written (the step's or testcase's positions)."""

    positions: Positions | None
    fallback: SourceSpan | None
    scope: dict[str, Any]

    def checked(self, written: str, model: type[BaseModel], *loc: str) -> Any:
        """`written` rendered, then validated by `model` at `loc` as a literal would be."""
        span = (self.positions.value(loc) if self.positions is not None else None) or self.fallback
        shown = ".".join(loc)
        try:
            value = render(written, self.scope)
        except TemplateFailure as exc:
            raise SettingFailure(f"in `{shown}`: {exc.message}", span, exc.hint) from exc
        whole = isinstance(value, str) and _WHOLE.fullmatch(value)
        if loc[-1] in ("attempts", "retries") and whole:
            value = int(value)  # a variable given on the command line is text
        data: Any = {loc[-1]: value}
        try:
            model.model_validate(data)
        except ValidationError as exc:
            positions = self.positions or Positions(span.path if span else Path(), {})
            found = from_validation_error(exc, model, positions, loc[:-1], data=data)
            first = found[0] if found else None
            raise SettingFailure(
                f"`{shown}: {written}` gave {value!r}: "
                + (first.message if first else "invalid value"),
                span,
                first.hint if first else None,
            ) from exc
        return value
