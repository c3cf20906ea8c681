"""Static checks over a loaded suite: variables used before they can exist.

Walks the suite in execution order, tracking which names are known (built-ins,
declared vars, external vars, captures of earlier steps and testcases), and reports
each template that reads a name nothing defines. Also finds testcases that read a
capture of an earlier testcase, which must therefore run after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from splice._internal.errors import Diagnostic, SourceSpan, SuiteError
from splice._internal.loader.service_refs import service_reference_problems
from splice._internal.model.suite import Capture, RowOrigin, Step, Suite
from splice._internal.source.validation import did_you_mean, narrow_span
from splice._internal.source.yaml_source import read_yaml
from splice._internal.templating import find_variables, is_template

BUILTINS = frozenset(
    {
        "suite",
        "testcase",
        "services",
        "project",
        "run_id",
        "loop",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
    }
)


@dataclass
class Analysis:
    diagnostics: list[Diagnostic]
    needs_order: bool  # a testcase reads what an earlier testcase captured


def analyse(
    suite: Suite, external: Iterable[str] = (), services: Mapping[str, str] | None = None
) -> Analysis:
    """Every read of a name that nothing defines before it, and whether testcases
    depend on each other's captures. With `services` (name -> kind, from splice.yaml),
    also every reference to a service or service attribute that does not exist."""
    known = set(BUILTINS) | set(external) | set(suite.vars)
    diags: list[Diagnostic] = []
    if services is not None:
        diags.extend(service_reference_problems(suite, services))
    _vars_in_order(suite.vars, known - set(suite.vars), diags, suite)
    known |= _steps(suite.setup, known, diags, suite)
    suite_level = set(known)
    captured_by_testcases: set[str] = set()
    needs_order = False
    for tc in suite.testcases:
        scope = suite_level | set(tc.vars)
        reads = _reads([*tc.setup, *tc.steps, *tc.teardown], suite)
        if reads & (captured_by_testcases - scope):
            needs_order = True
        scope |= captured_by_testcases
        before = len(diags)
        local = _steps([*tc.setup, *tc.steps], scope, diags, suite)
        _steps(tc.teardown, local, diags, suite)
        if tc.row is not None:
            _hint_columns(diags[before:], tc.row)
        if tc.later is not None:  # the query's columns are not known before it runs
            diags[before:] = [
                d for d in diags[before:] if not d.message.startswith("undefined variable")
            ]
        captured_by_testcases |= {c.name for s in [*tc.setup, *tc.steps] for c in s.captures}
    _steps(suite.teardown, suite_level | captured_by_testcases, diags, suite)
    for template in suite.templates.values():
        _steps(template.steps, set(BUILTINS) | set(template.inputs), diags, suite)
    # the rows of a data-driven testcase share its steps: one report per place
    unique = list({(d.message, d.span, d.hint): d for d in diags}.values())
    return Analysis(unique, needs_order)


def _hint_columns(diags: list[Diagnostic], row: RowOrigin) -> None:
    """An undefined name in a data-driven testcase is most often a missing column."""
    for diag in diags:
        if diag.message.startswith("undefined variable") and (
            diag.hint is None or diag.hint.startswith("define it")
        ):
            what = (
                "its matrix has keys"
                if row.source == "matrix"
                else (
                    "its rows have keys" if row.source == "foreach" else f"{row.source} has columns"
                )
            )
            diag.hint = f"{what} {', '.join(row.columns)}; add the column, or define it in `vars`"


def _vars_in_order(
    declared: dict[str, Any], known: set[str], diags: list[Diagnostic], suite: Suite
) -> None:
    seen = set(known)
    for name, value in declared.items():
        for used in sorted(_names(value)):
            if used not in seen and used != name:
                diag = _undefined(used, None, seen, suite)
                diag.span = _locate(suite, ("vars", name), used)
                diags.append(diag)
        seen.add(name)


def _steps(steps: list[Step], known: set[str], diags: list[Diagnostic], suite: Suite) -> set[str]:
    known = set(known)
    for step in steps:
        block_names = _names(step.block) | _names(step.inputs) | _names(step.expect)
        for name in sorted(block_names - known):
            diags.append(_undefined(name, step, known, suite))
        with_result = known | {"result"}
        expression_names: set[str] = set()
        for expr in [
            *step.assertions,
            *([step.retry.until] if step.retry and step.retry.until else []),
        ]:
            expression_names |= find_variables(expr, expression=True)
        for cond in (step.skip, step.only):
            if isinstance(cond, str):
                expression_names |= find_variables(cond, expression=True) - {"result"}
        for name in sorted(expression_names - with_result):
            diags.append(_undefined(name, step, with_result, suite))
        known |= {c.name for c in step.captures}
    return known


def _reads(steps: list[Step], suite: Suite) -> set[str]:
    names: set[str] = set()
    for step in steps:
        names |= _names(step.block) | _names(step.inputs) | _names(step.expect)
        for expr in step.assertions:
            names |= find_variables(expr, expression=True)
    return names


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        return find_variables(value) if is_template(value) else set()
    if isinstance(value, dict):
        out: set[str] = set()
        for k, v in value.items():
            out |= _names(k) | _names(v)
        return out
    if isinstance(value, list):
        out = set()
        for v in value:
            out |= _names(v)
        return out
    return set()


def _captures(suite: Suite) -> dict[str, Capture]:
    steps = [*suite.setup, *suite.teardown]
    for tc in suite.testcases:
        steps += [*tc.setup, *tc.steps, *tc.teardown]
    found: dict[str, Capture] = {}
    for step in steps:
        for capture in step.captures:
            found.setdefault(capture.name, capture)
    return found


def _undefined(name: str, step: Step | None, known: set[str], suite: Suite) -> Diagnostic:
    later = _captures(suite).get(name)
    if later is not None and later.span is not None:
        where = f"line {later.span.line}"
        if step is not None and step.span is not None and step.span.path != later.span.path:
            where = f"{later.span}"
        return Diagnostic(
            f"variable {name!r} is used before it is captured",
            _where(step, name),
            f"it is captured at {where}; move this use after the step that captures it",
        )
    hint = did_you_mean(name, known - BUILTINS)
    if hint is None or hint.startswith("expected one of"):
        hint = "define it in `vars`, capture it in an earlier step, or pass --var " + name + "=..."
    return Diagnostic(f"undefined variable {name!r}", _where(step, name), hint)


def _mentions(name: str) -> re.Pattern[str]:
    # a variable, not an attribute (`.name`) nor part of a longer word
    return re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")


def _where(step: Step | None, name: str) -> Any:
    """The span of the first string in the step that mentions `name`, narrowed to the
    name itself when the string is on one line."""
    if step is None:
        return None
    pos = step.positions
    if pos is None:
        return step.span
    mention = _mentions(name)
    for loc, span in pos.spans():
        value = _at(step.raw, loc)
        if isinstance(value, str) and mention.search(value):
            return _narrow(span, name)
    return step.span


def _locate(suite: Suite, loc: tuple[str | int, ...], name: str) -> SourceSpan | None:
    """Where `loc` is in the suite file (read again: the model keeps no positions for vars)."""
    try:
        span = read_yaml(suite.path).positions.value(loc)
    except SuiteError:
        span = None
    return _narrow(span, name) if span is not None else suite.span


def _narrow(span: SourceSpan, name: str) -> SourceSpan:
    """The span of `name` inside a one-line value (inside its `{{ }}` when it has some)."""
    if span.end_column is None:
        return span
    try:
        text = span.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return span
    mention = _mentions(name).pattern
    # prefer a mention inside `{{ ... }}` (the text around it may hold the same word)
    narrowed = narrow_span(span, text, name, rf"\{{\{{[^}}]*?{mention}")
    return narrow_span(narrowed, text, name, mention)


def _at(raw: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            raw = raw[part]
        except (KeyError, IndexError, TypeError):
            return None
    return raw
