"""Hypothesis strategies of hostile imports: JUnit-like XML with impossible attribute
values, odd nesting, declared encodings and stray bytes; splice JSON reports with fields
replaced by arbitrary JSON. Shared by the importer's and the server's property tests."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

_WEIRD = st.sampled_from(
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e309",
        "1e99",
        "-1",
        "0",
        "0.25",
        "",
        " ",
        "1,5",
        "0x10",
        "١٢",
        "9" * 400,
        "2026-13-45",
        "2026-01-01T00:00:00Z",
        "9999-12-31T23:59:59",
        "0001-01-01",
        "1970-01-01T00:00:00+14:00",
        "-0",
        "1_000",
        "\u0000",
        "\ud800",
    ]
)
_VALUE = st.one_of(_WEIRD, st.text(max_size=12))
_ATTRS = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "classname",
            "time",
            "line",
            "file",
            "timestamp",
            "hostname",
            "message",
            "type",
            "tests",
            "failures",
        ]
    ),
    _VALUE,
    max_size=5,
)
_CHILD = st.tuples(
    st.sampled_from(
        [
            "failure",
            "error",
            "skipped",
            "system-out",
            "system-err",
            "flakyFailure",
            "rerunError",
            "properties",
            "testcase",
            "testsuite",
        ]
    ),
    _ATTRS,
    st.text(max_size=30),
)


def _tag(name: str, attrs: dict[str, str], inner: str) -> str:
    text = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{name}{text}>{inner}</{name}>"


@st.composite
def junit_documents(draw: st.DrawFn) -> bytes:
    """JUnit-like XML with weird attribute values, odd nesting, declared encodings, bytes."""
    cases = []
    for _ in range(draw(st.integers(0, 4))):
        children = "".join(
            _tag(tag, attrs, escape(text))
            for tag, attrs, text in draw(st.lists(_CHILD, max_size=3))
        )
        cases.append(_tag("testcase", draw(_ATTRS), children))
    suite = _tag("testsuite", draw(_ATTRS), "".join(cases))
    for _ in range(draw(st.sampled_from([0, 0, 1, 70]))):
        suite = _tag("testsuite", {}, suite)
    root = draw(st.sampled_from(["testsuites", "testsuite", "html"]))
    doc = _tag(root, draw(_ATTRS), suite)
    encoding = draw(
        st.sampled_from([None, "UTF-8", "UTF-16", "UTF-7", "latin-1", "bogus", "ascii"])
    )
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    try:
        data = (head + doc).encode("utf-8", "surrogatepass")
    except UnicodeEncodeError:
        data = (head + doc).encode("utf-8", "replace")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut:]
    return data


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_PATHS = [
    ("duration",),
    ("started_at",),
    ("status",),
    ("id",),
    ("command",),
    ("services",),
    ("suites",),
    ("suites", 0),
    ("suites", 0, "name"),
    ("suites", 0, "testcases"),
    ("suites", 0, "testcases", 0),
    ("suites", 0, "testcases", 0, "duration"),
    ("suites", 0, "testcases", 0, "line"),
    ("suites", 0, "testcases", 0, "attempts"),
    ("suites", 0, "testcases", 0, "attempts", 0, "steps"),
    ("suites", 0, "testcases", 0, "attempts", 0, "steps", 0, "request"),
    ("suites", 0, "testcases", 0, "attempts", 0, "steps", 0, "failures"),
]


def valid_report() -> dict[str, Any]:
    """A valid report of one failed testcase with one step."""
    step = {
        "index": 0,
        "name": "s",
        "executor": "http",
        "status": "failed",
        "request": {"method": "GET", "url": "http://a/"},
        "failures": [{"message": "m"}],
    }
    attempt = {"number": 1, "status": "failed", "steps": [step]}
    case = {"suite": "s", "name": "t", "status": "failed", "duration": 0.5, "attempts": [attempt]}
    return {
        "schema": "splice-run/1",
        "status": "failed",
        "suites": [{"name": "s", "testcases": [case]}],
    }


@st.composite
def json_reports(draw: st.DrawFn) -> bytes:
    """A valid report with up to three fields replaced by arbitrary JSON values."""
    report = valid_report()
    for path in draw(st.lists(st.sampled_from(_PATHS), max_size=3)):
        node: Any = report
        for key in path[:-1]:
            node = (
                node[key]
                if isinstance(node, dict) and key in node
                else (
                    node[key]
                    if isinstance(node, list) and isinstance(key, int) and len(node) > key
                    else None
                )
            )
            if node is None:
                break
        last = path[-1]
        if isinstance(node, dict) or (
            isinstance(node, list) and isinstance(last, int) and len(node) > last
        ):
            node[last] = draw(_JSON)
    text = json.dumps(report)  # NaN and Infinity too: not JSON, but Python writes them
    if draw(st.booleans()):
        data = text.encode()
        cut = draw(st.integers(0, len(data)))
        return data[:cut] + draw(st.binary(max_size=3)) + data[cut:]
    return text.encode()
