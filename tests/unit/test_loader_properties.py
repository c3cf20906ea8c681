"""Property tests: no input makes the suite loader or the static analysis crash.

Whatever text a user saves as a suite, loading and checking it either succeeds or raises
`SuiteError` whose diagnostics all point at a line of that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splice._internal.errors import Diagnostic, SuiteError
from splice._internal.loader.suite_loader import suite_from_document
from splice._internal.reporting.diagnostics import render_diagnostic
from splice._internal.runner.analysis import analyse
from splice._internal.source.yaml_source import parse_yaml

# A folder that does not exist: includes and templates resolve to nothing, and nothing
# the loader does can touch files of the machine running the tests.
PATH = Path("/nonexistent-splice-property-tests/suite.splice.yaml")

KEYS = [
    "name", "testcases", "steps", "setup", "teardown", "http", "exec", "expect", "capture",
    "retry", "until", "timeout", "interval", "attempts", "method", "url", "get", "post",
    "json", "form", "body", "headers", "auth", "user", "bearer", "status", "text", "assert",
    "skip", "only", "vars", "tags", "retries", "use", "with", "include", "templates",
    "command", "jsonpath", "regex", "header", "expr", "from", "group", "$regex", "$eq",
    "$regx", "$len", "$each", "$not", "secret", "default", "<<", "stauts", "htpp", "sql",
]  # fmt: skip
SCALARS = [
    "", "x", "users", "1", "-1", "0", "2.5", "5x", "2s", "200ms", "GET", "GETT", "post",
    "http://localhost:8000/users", "{{ a }}", "{{ a + }}", "{{ a | nope }}", "{% if a %}",
    "result.status == 200", "a = b", "'q", '"open', "'closed'", '"closed"', "[", "]", "{",
    "}", "[a, b]", "{a: 1}", "[1, [2, [3]]]", "&a", "*a", "&a [*a]", "&a {b: *a}", "*b",
    "!!python/object:os.system", "!!python/name:os.system x", "!!binary abc", "!foo x",
    "!!set {a}", "!!str [1]", "!!omap [a: 1]", "null", "~", "true", "yes", "2001-13-45",
    "2001-01-01", "1e400", ".nan", "-.inf", "|", ">-", "- ", "? ", "<<: *a", "---", "...",
    "%YAML 1.1", "# comment", "\t", "=", "$.items[0", "([0-9]+", "a: b: c", "caf\u00e9",
    "\u2028", "\x85", "\r", "\x00", "\x1b", "\ufeff",
]  # fmt: skip

_line = st.builds(
    lambda indent, dash, key, sep, value: f"{indent}{dash}{key}{sep}{value}",
    st.sampled_from(["", "  ", "    ", "      ", "        ", " ", "\t", "   "]),
    st.sampled_from(["", "", "- ", "-"]),
    st.sampled_from(KEYS) | st.sampled_from(SCALARS),
    st.sampled_from([": ", ":", " ", ":  ", ": &a ", ": *a ", ": !!python/tuple "]),
    st.sampled_from(SCALARS)
    | st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=8),
)
yamlish_text = st.lists(_line, max_size=25).map("\n".join)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(SCALARS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)
_texts = st.sampled_from(SCALARS) | st.text(max_size=10)
_matchers = st.recursive(
    _texts | st.integers() | st.none(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "$regex",
                    "$eq",
                    "$len",
                    "$each",
                    "$not",
                    "$regx",
                    "$type",
                    "$gt",
                    "$oneof",
                    "$absent",
                    "$contains",
                    "name",
                    "id",
                ]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)
_http = (
    st.fixed_dictionaries(
        {"url": st.sampled_from(["http://x/{{ a }}", "http://x", "{{ a + }}", ""]) | _texts},
        optional={
            "method": st.sampled_from(["GET", "GETT", "post", "{{ m }}"]) | json_values,
            "json": json_values,
            "form": json_values,
            "headers": json_values,
            "auth": st.fixed_dictionaries({}, optional={"user": _texts, "bearer": _texts}),
            "timeout": st.sampled_from(["5x", "2s", 1, -1, [1], None]),
            "heders": json_values,
        },
    )
    | st.dictionaries(st.sampled_from(["get", "post", "delete", "url", "method"]), _texts)
    | json_values
)
_exec = st.sampled_from(["", "ls", "echo {{ a }}", ["a", 1]]) | st.fixed_dictionaries(
    {"command": json_values}, optional={"env": json_values, "timeout": json_values}
)
_capture = st.dictionaries(
    st.sampled_from(["id", "user-id", "total", "1x", "a"]) | st.text(max_size=4),
    st.sampled_from(["json.id", "$.items[0", "{{ a }}", "a ==", "json.id"])
    | st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ["jsonpath", "regex", "expr", "header", "group", "from", "all", "default"],
            _texts | json_values,
        ),
    ),
    max_size=3,
)
_expressions = st.sampled_from(
    ["result.status == 200", "a = b", "a ==", "b > 1", "{{ a }}", "x | nope", "'open"]
)
_any_step = st.fixed_dictionaries(
    {},
    optional={
        "name": _texts,
        "http": _http,
        "exec": _exec,
        "expect": st.dictionaries(
            st.sampled_from(["status", "json", "text", "headers", "stauts", "exit_code"]),
            _matchers,
            max_size=3,
        )
        | json_values,
        "capture": _capture | json_values,
        "retry": st.fixed_dictionaries(
            {},
            optional={
                "until": _expressions,
                "timeout": _texts,
                "attempts": json_values,
                "intervall": _texts,
            },
        )
        | json_values,
        "assert": _expressions | st.lists(_expressions) | json_values,
        "skip": _expressions | json_values,
        "use": _texts,
        "with": json_values,
        "include": _texts,
        "timeout": _texts | json_values,
    },
)
_checks = {
    "expect": st.dictionaries(
        st.sampled_from(["status", "json", "text", "stauts"]), _matchers, max_size=2
    ),
    "capture": _capture,
    "assert": _expressions,
    "retry": st.fixed_dictionaries({"until": _expressions}),
}
_step = (
    st.fixed_dictionaries(
        {"http": st.fixed_dictionaries({"get": st.sampled_from(["http://x/{{ a }}", "{{ id }}"])})},
        optional=_checks,
    )
    | st.fixed_dictionaries({"exec": _exec}, optional=_checks)
    | _any_step
    | st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)
)
_vars = st.dictionaries(
    st.sampled_from(["a", "b", "base_url", "m"]) | st.text(max_size=4),
    st.sampled_from(["{{ b }}", "x", "{{ a }}", "{{ nope }}", 3]) | json_values,
    max_size=4,
)
suite_shaped = st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "testcases": st.lists(
            st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["a", "b"]) | st.text(max_size=8),
                    "steps": st.lists(_step, max_size=3),
                },
                optional={"vars": _vars, "skip": _expressions | json_values, "setup": json_values},
            ),
            max_size=3,
        ),
    },
    optional={
        "vars": _vars,
        "tags": json_values,
        "retries": json_values,
        "setup": st.lists(_step, max_size=2),
    },
)


def _check(text: str) -> None:
    """Load `text` as a suite and analyse it; only located `SuiteError`s may come out."""
    try:
        suite = suite_from_document(parse_yaml(text, PATH))
    except SuiteError as exc:
        diagnostics = exc.diagnostics
        assert diagnostics
    else:
        diagnostics = analyse(suite).diagnostics
    lines = text.splitlines() or [""]
    for diagnostic in diagnostics:
        span = diagnostic.span
        assert span is not None, diagnostic
        assert span.path == PATH, diagnostic
        assert 1 <= span.line <= len(lines), (diagnostic, len(lines))
        assert 1 <= span.column <= len(lines[span.line - 1]) + 1, diagnostic
        assert diagnostic.message
        # pydantic's wording never reaches the user (unless the file itself says it)
        assert "Input should be" not in diagnostic.message or "Input should be" in text
        render_diagnostic(diagnostic)


_settings = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.text())
def test_arbitrary_text_gives_located_errors(text: str) -> None:
    """Any text at all loads, or fails with diagnostics on lines of the file."""
    _check(text)


@_settings
@given(yamlish_text)
def test_yamlish_text_gives_located_errors(text: str) -> None:
    """Text made of suite keys, indents, quotes, brackets, anchors and tags never crashes."""
    _check(text)


@_settings
@given(json_values)
def test_any_structure_gives_located_errors(value: Any) -> None:
    """Any JSON-like value, written as YAML, loads or fails with located diagnostics."""
    _check(yaml.safe_dump(value))


@_settings
@given(suite_shaped)
def test_suite_shaped_structure_gives_located_errors(value: dict[str, Any]) -> None:
    """Suites whose steps hold arbitrary values pass the step and expectation checks safely."""
    _check(yaml.safe_dump(value, sort_keys=False))


def _only_diagnostic(text: str) -> Diagnostic:
    with pytest.raises(SuiteError) as raised:
        parse_yaml(text, PATH)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.span is not None
    return diagnostic


def test_recursive_alias_is_located() -> None:
    """An alias inside its own anchor (`&a [*a]`) is a located error, not a RecursionError."""
    diagnostic = _only_diagnostic("name: x\nvars: &a [*a]\n")
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 11)


@pytest.mark.parametrize(
    "text", ["name: !!python/object:os.system x", "vars: !!python/tuple [1]", "a: !custom 1"]
)
def test_foreign_tags_are_located(text: str) -> None:
    """Python and custom YAML tags are refused at the tag, never constructed."""
    diagnostic = _only_diagnostic(text)
    assert diagnostic.message.startswith("unsupported YAML tag")
    assert diagnostic.span is not None
    assert diagnostic.span.column == text.index("!") + 1


def test_alias_bomb_is_refused() -> None:
    """Aliases that expand exponentially ("billion laughs") fail fast with a located error."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert "expands to more than" in _only_diagnostic("\n".join(lines)).message


def test_merge_key_may_be_overridden() -> None:
    """`<<: *base` followed by a key of the base is an override, not a duplicate key."""
    doc = parse_yaml("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  a: 3\n", PATH)
    assert doc.data["m"] == {"a": 3, "b": 2}


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200))],
)
def test_deep_nesting_is_located(text: str) -> None:
    """Thousands of nested values give a located error, not a RecursionError."""
    assert "nested" in _only_diagnostic(text).message
