"""Suite files (`*.splice.yaml`) into `splice._internal.model.suite.Suite`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from splice._internal.errors import SourceSpan, SuiteError
from splice._internal.loader.data_driven import expand
from splice._internal.loader.later_rows import later_rows
from splice._internal.loader.rows import Row, rows_of
from splice._internal.loader.steps import Collector, StepSource, parse_steps
from splice._internal.loader.suite_schema import (
    ForeachSqlSpec,
    SuiteSpec,
    TestcaseSpec,
    XfailSpec,
)
from splice._internal.loader.templates import load_templates
from splice._internal.model.positions import PathKey, Positions
from splice._internal.model.suite import Step, Suite, Testcase, Xfail
from splice._internal.source.validation import describe, from_validation_error
from splice._internal.source.yaml_source import Document, gc_paused, read_yaml
from splice._internal.templating import syntax_error


def load_suite(path: Path) -> Suite:
    """Load and validate one suite; raises `SuiteError` with every problem found."""
    with gc_paused():  # the steps' models are as many small, acyclic objects
        return suite_from_document(read_yaml(path))


def suite_from_document(doc: Document) -> Suite:
    """Validate a parsed suite file; raises `SuiteError` with every problem found."""
    out = Collector()
    pos = doc.positions
    data = doc.data
    if not isinstance(data, dict):
        hint = "start the file with `name:` and `testcases:`"
        found = "an empty file" if data is None else describe(data)
        span = pos.value(()) or SourceSpan(doc.path, 1, 1)
        raise SuiteError.single(f"a suite must be a mapping, found {found}", span, hint)
    spec, _ = validate_partially(SuiteSpec, data, pos, (), out, placeholders={"testcases": []})
    if spec is None:
        out.raise_if_any()
        raise SuiteError.single("invalid suite", pos.value(()))  # pragma: no cover

    templates = load_templates(spec.templates, doc, ("templates",), out)
    suite = Suite(
        name=spec.name or _stem(doc.path),
        path=doc.path,
        span=pos.value(()),
        description=spec.description or "",
        tags=spec.tags,
        vars=spec.vars,
        secrets=spec.secrets,
        setup=parse_steps(spec.setup, StepSource(doc, ("setup",)), out, "setup"),
        teardown=parse_steps(spec.teardown, StepSource(doc, ("teardown",)), out, "teardown"),
        templates=templates,
        retries=spec.retries,
        retries_span=pos.value(("retries",)),
        serial=spec.serial,
        isolation=spec.isolation,
        isolation_span=pos.value(("isolation",)) if spec.isolation else None,
    )
    if isinstance(spec.foreach, ForeachSqlSpec):
        out.add(
            "`foreach: {sql: ...}` is for a testcase, not for the whole suite",
            pos.key(("foreach",)),
            "move it under the testcase whose steps use the rows",
        )
        spec.foreach = None
    suite_rows = rows_of(spec.matrix, spec.foreach, doc, (), out)
    written: list[tuple[Testcase, list[Row] | None]] = []
    for i, raw in enumerate(spec.testcases):
        made = _testcase(raw, i, doc, out)
        if made is not None:
            written.append(made)
    names: dict[str, SourceSpan | None] = {}
    # with suite rows, the suite runs once per row: row by row, every testcase in turn
    for suite_row in suite_rows if suite_rows else [None]:
        for testcase, own_rows in written:
            rows = None if suite_row is None else [suite_row]
            if suite_rows is not None and not suite_rows:
                rows = []  # the suite's table is faulty (already reported)
            if testcase.later is not None and suite_row is not None:
                out.add(
                    "rows from a query cannot be crossed with the suite's rows",
                    testcase.later.key_span,
                    "remove the suite's `foreach:`/`matrix:`, or put the suite's values "
                    "in the query (`select ..., 'eu' as region`)",
                )
                continue
            for each in expand(testcase, rows, own_rows, suite.vars, out):
                _add_unique(suite, each, names, out)
    if not spec.testcases and isinstance(data.get("testcases"), list):
        out.add(
            "a suite needs at least one testcase",
            pos.key(("testcases",)),
            "add `- name: ...` with `steps:` under `testcases:`",
        )
    _check_template_uses(suite, out)
    _check_template_cycles(suite, out)
    out.raise_if_any()
    return suite


M = TypeVar("M", bound=BaseModel)


def validate_partially(
    model: type[M],
    data: dict[str, Any],
    pos: Positions,
    loc: PathKey,
    out: Collector,
    *,
    placeholders: dict[str, Any],
) -> tuple[M | None, bool]:
    """`model` from `data` and whether it was valid, reporting problems to `out`.

    When invalid, the model is built from what is left after dropping the keys at fault
    (and adding `placeholders` for missing ones), so the rest of the file is still checked.
    """
    try:
        return model.model_validate(data), True
    except ValidationError as exc:
        out.extend(from_validation_error(exc, model, pos, loc, data=data))
        bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
    rest = {k: v for k, v in data.items() if k not in bad}
    for key, value in placeholders.items():
        rest.setdefault(key, value)
    try:
        return model.model_validate(rest), False
    except ValidationError:
        return None, False


def _add_unique(
    suite: Suite, testcase: Testcase, names: dict[str, SourceSpan | None], out: Collector
) -> None:
    span = testcase.row.span if testcase.row and testcase.row.span else testcase.span
    if testcase.name in names:
        first = names[testcase.name]
        where = ""
        if first is not None:
            same_file = span is not None and first.path == span.path
            where = f"the first is at {f'line {first.line}' if same_file else first}; "
        out.add(
            f"duplicate testcase name {testcase.name!r}",
            span,
            where + "names identify testcases across runs, so each must be unique in its suite",
        )
        return
    names[testcase.name] = span
    suite.testcases.append(testcase)


def _testcase(
    raw: Any, i: int, doc: Document, out: Collector
) -> tuple[Testcase, list[Row] | None] | None:
    pos = doc.positions
    loc = ("testcases", i)
    if not isinstance(raw, dict):
        out.add(
            f"a testcase must be a mapping with `name:` and `steps:`, found {describe(raw)}",
            pos.value(loc),
        )
        return None
    spec, valid = validate_partially(
        TestcaseSpec, raw, pos, loc, out, placeholders={"name": "", "steps": []}
    )
    if spec is None:
        return None
    for key in ("skip", "only"):
        condition = raw.get(key)
        if isinstance(condition, str):
            problem = syntax_error(condition, expression=True)
            if problem is not None:
                out.add(problem.message, pos.value((*loc, key)), problem.hint)

    def steps(key: str, value: list[Any]) -> list[Step]:
        return parse_steps(value, StepSource(doc, (*loc, key)), out, key)

    testcase = Testcase(
        name=spec.name,
        span=pos.value((*loc, "name")),
        tags=spec.tags,
        vars=spec.vars,
        setup=steps("setup", spec.setup),
        steps=steps("steps", spec.steps),
        teardown=steps("teardown", spec.teardown),
        skip=spec.skip,
        only=spec.only,
        retries=spec.retries,
        retries_span=pos.value((*loc, "retries")),
        xfail=_xfail(spec.xfail),
    )
    if not spec.steps and isinstance(raw.get("steps"), list):
        out.add(
            "a testcase needs at least one step",
            pos.key((*loc, "steps")),
            "add a step under `steps:`, e.g. `- http: {get: URL}`",
        )
    if isinstance(spec.foreach, ForeachSqlSpec):
        testcase.later = later_rows(spec.foreach, spec.matrix is not None, doc, loc, out)
        return (testcase, None) if valid and testcase.later is not None else None
    rows = rows_of(spec.matrix, spec.foreach, doc, loc, out)
    return (testcase, rows) if valid else None  # when invalid, its steps were still checked


def _xfail(spec: str | XfailSpec | None) -> Xfail | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return Xfail(spec)
    return Xfail(spec.reason, spec.strict)


def _check_template_uses(suite: Suite, out: Collector) -> None:
    """Every `use:` names a known template with its required inputs and no unknown ones."""
    from splice._internal.source.validation import did_you_mean

    all_steps = [*suite.setup, *suite.teardown]
    for tc in suite.testcases:
        all_steps += [*tc.setup, *tc.steps, *tc.teardown]
    for template in suite.templates.values():
        all_steps += template.steps
    for step in all_steps:
        if step.template is None:
            continue
        used = suite.templates.get(step.template)
        pos = step.positions
        if used is None:
            hint = did_you_mean(step.template, suite.templates) or (
                "list template files under `templates:` in the suite"
            )
            span = pos.value(("use",)) if pos else step.span
            out.add(f"unknown step template {step.template!r}", span, hint)
            continue
        for name, spec in used.inputs.items():
            if spec.required and name not in step.inputs:
                out.add(
                    f"template {used.name!r} needs input {name!r}",
                    pos.key(("with",)) if pos and "with" in _keys(pos) else step.span,
                    f"add `with: {{{name}: ...}}`",
                )
        for name in step.inputs:
            if name not in used.inputs:
                span = pos.key(("with", name)) if pos else step.span
                out.add(
                    f"template {used.name!r} has no input {name!r}",
                    span,
                    did_you_mean(name, used.inputs),
                )


def _check_template_cycles(suite: Suite, out: Collector) -> None:
    """Step templates that `use:` themselves, directly or through others, never end."""
    templates = suite.templates
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for step in templates[name].steps:
            used = step.template
            if used is None or used not in templates:
                continue
            if state.get(used) == 1:
                cycle = [*trail[trail.index(used) :], used]
                pos = step.positions
                span = pos.value(("use",)) if pos else step.span
                if len(cycle) == 2:
                    message = f"step template {name!r} uses itself"
                else:
                    message = "step templates use each other in a cycle: " + " → ".join(cycle)
                out.add(
                    message,
                    span,
                    "a template that leads back to itself never ends; "
                    "move the repeated steps into the caller",
                )
            elif used not in state:
                visit(used, [*trail, used])
        state[name] = 2

    for name in sorted(templates):
        if name not in state:
            visit(name, [name])


def _keys(pos: Any) -> set[str]:
    return pos.key_names()  # type: ignore[no-any-return]


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".splice.yaml", ".splice.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
