"""The stage between opening the environment and running: testcases whose rows come from
a query (`foreach: {sql: ...}`) become one testcase per row.

`Runner.run` calls `expand_later` first, so `splice run`, `splice.run`, `splice watch`,
shards and workflows all expand the same way. The query runs with the run's variables
(`services`, the project's and the suite's vars, `--var`s), after the services started
and the data loaded, before the suite's setup. Each row is named as an inline `foreach`
row is. A query that fails, gives no rows or gives columns that cannot be variables makes
the testcase one error, placed at the query, with the database's message.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from splice._internal.errors import StepError
from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.loader.data_driven import expand
from splice._internal.loader.rows import MAX_ROWS, Row
from splice._internal.loader.steps import Collector
from splice._internal.model.suite import LaterRows, Suite, Testcase
from splice._internal.runner.planner import Selection
from splice._internal.runner.scope import layer
from splice._internal.templating import TemplateFailure, render

_HINT = "the testcase runs once per row of the query; check the query and the data it reads"


def expand_later(
    suites: list[Suite], builtins: Mapping[str, Any], external: Mapping[str, Any]
) -> list[Suite]:
    """`suites` with every `later` testcase replaced by its rows (or by itself, marked
    with the reason it has none)."""
    return [_suite(s, builtins, external) for s in suites]


def _suite(suite: Suite, builtins: Mapping[str, Any], external: Mapping[str, Any]) -> Suite:
    if not any(tc.later is not None for tc in suite.testcases):
        return suite
    scope: dict[str, Any] = {**builtins, "suite": suite.name, **external}
    problem = None
    try:
        layer(scope, suite.vars, dict(external))
    except TemplateFailure as exc:
        problem = (f"cannot read the suite's vars: {exc.message}", exc.hint)
    taken = {tc.name for tc in suite.testcases if tc.later is None}
    testcases: list[Testcase] = []
    for tc in suite.testcases:
        if tc.later is None:
            testcases.append(tc)
            continue
        if problem is not None:
            testcases.append(_broken(tc, *problem))
            continue
        testcases.extend(_rows(tc, tc.later, suite, scope, taken))
    return dataclasses.replace(suite, testcases=testcases)


def _rows(
    tc: Testcase, later: LaterRows, suite: Suite, scope: dict[str, Any], taken: set[str]
) -> list[Testcase]:
    try:
        found = _query(later, suite, scope)
    except StepError as exc:
        return [_broken(tc, f"the foreach query failed: {exc.message}", exc.hint)]
    if not found:
        return [_broken(tc, "the foreach query gave no rows", _HINT)]
    if len(found) > MAX_ROWS:
        return [
            _broken(
                tc,
                f"the foreach query gave {len(found):,} rows",
                f"one testcase may run at most {MAX_ROWS:,} times; add a `limit` or a `where`",
            )
        ]
    bad = [c for c in found[0] if not re.fullmatch(r"[A-Za-z_]\w*", str(c))]
    if bad:
        return [
            _broken(
                tc,
                f"the foreach query's column {bad[0]!r} is not a variable name",
                f"name it in the query: `select ... as {_suggest(str(bad[0]))}`",
            )
        ]
    rows = [Row(dict(r), later.span, "the foreach query", i) for i, r in enumerate(found, 1)]
    out = Collector()
    expanded = expand(dataclasses.replace(tc, later=None), None, rows, suite.vars, out)
    if out.diagnostics:
        first = out.diagnostics[0]
        return [_broken(tc, first.message, first.hint)]
    if later.keywords:  # `-k` picks rows by the names they make
        chosen = Selection(list(later.keywords))
        expanded = [each for each in expanded if chosen.named(suite, each.name)]
    for each in expanded:
        if each.name in taken:
            return [
                _broken(
                    tc,
                    f"a row of the foreach query makes the testcase {each.name!r}, "
                    "which the suite has already",
                    "names identify testcases across runs; change the testcase's name",
                )
            ]
        taken.add(each.name)
    return expanded


def _query(later: LaterRows, suite: Suite, scope: dict[str, Any]) -> list[dict[str, Any]]:
    executor = registry.instance(later.executor)
    try:
        rendered = render(later.block, scope)
    except TemplateFailure as exc:
        raise StepError(exc.message, exc.hint) from exc
    try:
        block = executor.block_model.model_validate(rendered)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StepError(f"after templating, the sql block is invalid: {problems}") from exc
    session = TestcaseSession()
    try:
        output = executor.execute(
            block, StepContext(vars=scope, session=session, base_dir=suite.path.parent)
        )
    finally:
        session.close()
    rows = output.result.get("rows")
    return list(rows) if isinstance(rows, list) else []


def _broken(tc: Testcase, message: str, hint: str | None) -> Testcase:
    span = tc.later.span if tc.later is not None else tc.span
    return dataclasses.replace(tc, rows_error=(message, hint, span))


def _suggest(column: str) -> str:
    word = re.sub(r"\W+", "_", column).strip("_") or "value"
    return word if word[0].isalpha() else f"c_{word}"
