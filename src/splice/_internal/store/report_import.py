"""splice's own JSON report (`splice run --json`), read as a stream: one testcase at a time.

ijson parses the file incrementally. A first pass reads everything but the testcases (the
report's head and each suite's head) and counts the testcases; the second yields the
testcases one by one, each checked against the upload API's schema
(`splice._internal.store.incoming`) before it becomes an event. Memory is that of one testcase.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any, TypeVar

import ijson
from pydantic import BaseModel, ValidationError

from splice._internal.model.results import new_run_id
from splice._internal.store import incoming
from splice._internal.store.errors import BadImport
from splice._internal.store.meta import RunMeta

_TESTCASE = "suites.item.testcases.item"
_INSIDE = _TESTCASE + "."
M = TypeVar("M", bound=BaseModel)
_MISSING = object()
_SCHEMA = "the report must match the schema of `splice run --json` (splice-run/1)"
_HINT = "import files written by `splice run --json`, or JUnit XML"


def report_events(handle: IO[bytes], meta: RunMeta) -> tuple[int, Iterator[dict[str, Any]]]:
    """(testcases, events) of the report in `handle` (seekable, binary). The head is read
    and checked at once; testcases as the events are consumed."""
    parser: Any = ijson
    try:
        head, counts = _survey(handle, parser)
    except _Overflow:  # an integer past 64 bits, which yajl cannot hold: slower, exact
        parser = ijson.get_backend("python")
        handle.seek(0)
        head, counts = _survey(handle, parser)
    if not isinstance(head, dict) or not str(head.get("schema", "")).startswith("splice-run/"):
        raise BadImport('the JSON file is not a splice report (no "schema": "splice-run/1")', _HINT)
    suites = _list(head.pop("suites", []), ("suites",))
    report = _valid(incoming.ReportHead, head, ())
    heads = []
    for i, suite in enumerate(suites):
        if isinstance(suite, dict):
            _list(suite.pop("testcases", []), ("suites", i, "testcases"))
        heads.append(_valid(incoming.SuiteHead, suite, ("suites", i)))
    handle.seek(0)
    return sum(counts), _events(handle, meta, report, heads, counts, parser=parser)


def _events(
    handle: IO[bytes],
    meta: RunMeta,
    report: incoming.ReportHead,
    suites: list[incoming.SuiteHead],
    counts: list[int],
    *,
    parser: Any,
) -> Iterator[dict[str, Any]]:
    run_id = report.id or new_run_id()
    head = report.model_dump(mode="json", by_alias=True)
    yield {
        "event": "run_started",
        "run_id": run_id,
        "run": {
            **meta.as_dict(),
            "id": run_id,
            "started_at": report.started_at,
            "total": sum(counts),
            "command": head["command"],
            "host": report.host,
            "cwd": report.cwd,
            "services": head["services"],
        },
    }
    cases = parser.items(handle, _TESTCASE, use_float=True)
    try:
        for index, suite in enumerate(suites):
            for number in range(counts[index]):
                where = ("suites", index, "testcases", number)
                value = next(cases, _MISSING)
                if value is _MISSING:  # the file changed since the first pass
                    raise BadImport(f"{_path(list(where))}: missing", _HINT)
                tc = _valid(incoming.TestcaseIn, value, where)
                yield {
                    "event": "testcase_finished",
                    "run_id": run_id,
                    "testcase": tc.model_dump(mode="json"),
                }
            yield {
                "event": "suite_finished",
                "run_id": run_id,
                "suite": suite.model_dump(mode="json"),
            }
    except _SYNTAX_ERRORS as exc:  # changed since the first pass
        raise _syntax(exc) from None
    status = "interrupted" if report.interrupted else report.status
    yield {
        "event": "run_finished",
        "run_id": run_id,
        "run": {
            "status": status,
            "duration": report.duration,
            "finished_at": report.started_at + report.duration if report.started_at else None,
            # as the live run's run_finished carries it, into runs.openapi
            "openapi": head["openapi"],
        },
    }


# yajl's errors, and the standard library's that the pure-Python parser (taken for integers
# past 64 bits) raises for a bad string, such as a control character inside one
_SYNTAX_ERRORS = (ijson.JSONError, json.JSONDecodeError)


class _Overflow(Exception):
    """yajl met an integer it cannot represent."""


def _survey(handle: IO[bytes], parser: Any) -> tuple[Any, list[int]]:
    """The report without its testcases, and how many testcases each suite has."""
    builder = ijson.ObjectBuilder()
    counts: list[int] = []
    try:
        for prefix, event, value in parser.parse(handle, use_float=True):
            if prefix == _TESTCASE or prefix.startswith(_INSIDE):
                if prefix == _TESTCASE and event not in ("end_map", "end_array", "map_key"):
                    counts[-1] += 1
                continue
            if prefix == "suites.item" and event == "start_map":
                counts.append(0)
            builder.event(event, value)
    except _SYNTAX_ERRORS as exc:
        if parser is ijson and "integer overflow" in str(exc.args[0] if exc.args else ""):
            raise _Overflow from None
        raise _syntax(exc) from None
    except UnicodeDecodeError as exc:  # the pure-Python parser decodes as it reads
        raise BadImport(
            f"the file is not UTF-8 ({exc.reason})",
            "save the report as UTF-8 JSON",
        ) from None
    if not hasattr(builder, "value"):
        raise BadImport("the file is empty", _HINT)
    return builder.value, counts


def _valid(model: type[M], value: Any, path: tuple[str | int, ...]) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {**e, "loc": [*path, *e["loc"]]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        first = errors[0]
        where = _path(first["loc"])
        raise BadImport(
            f"{where or 'the report'}: {first['msg']}"
            + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""),
            _SCHEMA,
            errors=errors,
        ) from None


def _list(value: Any, path: tuple[str | int, ...]) -> list[Any]:
    """`value`, which the schema says is a list."""
    if isinstance(value, list):
        return value
    error = {"type": "list_type", "loc": list(path), "msg": "Input should be a valid list"}
    raise BadImport(f"{_path(list(path))}: {error['msg']}", _SCHEMA, errors=[error])


def _path(loc: list[Any]) -> str:
    """['suites', 0, 'testcases', 2, 'duration'] as 'suites[0].testcases[2].duration'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _syntax(exc: Exception) -> BadImport:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first, _, context = str(text).partition("\n")
    return BadImport(
        f"not valid JSON: {first.strip() or 'the file ends before the report does'}"
        + (f"\n{context.rstrip()}" if context.strip() else ""),
        _HINT,
    )
