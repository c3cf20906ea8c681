"""Templating on parsed values: typed results, filters, sandbox, and errors."""

from __future__ import annotations

import base64
import contextlib
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splice._internal.templating import (
    TemplateFailure,
    evaluate,
    find_variables,
    render,
    syntax_error,
)


def test_a_whole_expression_keeps_its_type() -> None:
    """`"{{ n }}"` is the number, `"{{ xs }}"` the list; mixed text renders to a string."""
    scope = {"n": 3, "xs": [1, 2], "d": {"a": None}}
    assert render("{{ n }}", scope) == 3
    assert render(" {{ xs }} ", scope) == [1, 2]
    assert render("{{ d }}", scope) == {"a": None}
    assert render("n={{ n }}", scope) == "n=3"
    assert render({"k": ["{{ n + 1 }}", "plain"]}, scope) == {"k": [4, "plain"]}


def test_filters_and_functions() -> None:
    """json, fromjson, b64encode/b64decode, sha256, uuid, now, random, env all work."""
    assert render("{{ {'a': 1} | json }}", {}) == '{"a":1}'
    assert render("{{ '[1, 2]' | fromjson }}", {}) == [1, 2]
    assert render("{{ 'hi' | b64encode }}", {}) == base64.b64encode(b"hi").decode()
    assert render("{{ 'aGk=' | b64decode }}", {}) == "hi"
    assert len(render("{{ 'x' | sha256 }}", {})) == 64
    uuid.UUID(render("{{ uuid() }}", {}))
    assert render("{{ now('%Y') }}", {}).isdigit()
    assert isinstance(render("{{ now('epoch') }}", {}), float)
    assert 1 <= render("{{ random_int(1, 6) }}", {}) <= 6
    assert len(render("{{ random_string(8) }}", {})) == 8
    assert render("{{ env('SPLICE_SURELY_UNSET', 'dflt') }}", {}) == "dflt"


def test_env_without_default_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset environment variable without a default is an error naming it."""
    monkeypatch.delenv("SPLICE_SURELY_UNSET", raising=False)
    with pytest.raises(TemplateFailure, match="SPLICE_SURELY_UNSET"):
        render("{{ env('SPLICE_SURELY_UNSET') }}", {})


def test_undefined_variables_are_errors_not_empty_strings() -> None:
    """Using an undefined name fails with its name and a hint."""
    with pytest.raises(TemplateFailure) as info:
        render("a {{ missing }} b", {})
    assert info.value.message == "undefined variable 'missing'"
    assert info.value.hint


def test_the_sandbox_refuses_python_internals() -> None:
    """Attribute access to dunder members is refused."""
    with pytest.raises(TemplateFailure, match="not allowed"):
        render("{{ ''.__class__.__mro__ }}", {})


def test_expressions_and_static_checks() -> None:
    """Bare expressions evaluate; syntax errors and free variables are found statically."""
    assert evaluate("result.json.total > 3", {"result": {"json": {"total": 4}}}) is True
    assert evaluate("{{ 1 + 1 }}", {}) == 2
    assert syntax_error("{{ a + }}") is not None
    assert syntax_error("a +", expression=True) is not None
    assert syntax_error("{{ a }}") is None
    assert find_variables("{{ a.b }} {% for x in ys %}{{ x }}{% endfor %}") == {"a", "ys"}
    assert find_variables("uuid() and env('X')", expression=True) == set()


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80),
    st.dictionaries(
        st.from_regex(r"[a-z]{1,5}", fullmatch=True),
        st.integers() | st.text(max_size=5),
        max_size=3,
    ),
)
def test_rendering_arbitrary_text_raises_only_template_failures(text: str, scope: dict) -> None:  # type: ignore[type-arg]
    """No template text crashes the engine: it renders or raises TemplateFailure."""
    for candidate in (text, "{{" + text + "}}", "{% " + text + " %}"):
        with contextlib.suppress(TemplateFailure):
            render(candidate, scope)
        with contextlib.suppress(TemplateFailure):
            evaluate(candidate, scope)


def test_topic_names_the_testcase_topic_of_the_kafka_service() -> None:
    """`topic('orders')` adds the Kafka service's prefix (isolation `prefix`), and says
    which service it needs when the project has none or several."""
    services = {
        "bus": {"url": "kafka://127.0.0.1:9092", "prefix": "t3."},
        "db": {"url": "postgresql://x"},
    }
    assert render("{{ topic('orders') }}", {"services": services}) == "t3.orders"
    assert render("{{ topic('orders', 'bus') }}", {"services": services}) == "t3.orders"
    two = {**services, "other": {"url": "kafka://h:1", "prefix": ""}}
    assert render("{{ topic('orders', 'other') }}", {"services": two}) == "orders"
    with pytest.raises(TemplateFailure, match=r"needs the Kafka service named \(the project has 2"):
        render("{{ topic('orders') }}", {"services": two})
    with pytest.raises(TemplateFailure, match="'db' is not a Kafka service"):
        render("{{ topic('orders', 'db') }}", {"services": services})


_NAMES = st.sampled_from(["a", "b", "items", "url", "n", "none", "env", "_x", "keys"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.dictionaries(_NAMES, inner, max_size=3) | st.lists(inner, max_size=2),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ab /{}%#\r\n", max_size=4)
        | st.lists(_NAMES, min_size=1, max_size=3).map(lambda n: "{{ " + ".".join(n) + " }}"),
        max_size=4,
    ).map("".join),
    st.dictionaries(_NAMES, _VALUES, max_size=4),
)
def test_templates_without_jinja_give_what_jinja_gives(text: str, scope: dict) -> None:  # type: ignore[type-arg]
    """Templates that only read variables, done without Jinja2, render, evaluate, check and
    analyse exactly as Jinja2 does (or are handed to it)."""
    from splice._internal.templating import sandbox as engine
    from splice._internal.templating import simple

    def outcome(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return ("ok", fn(*args, **kwargs))
        except TemplateFailure as exc:
            return ("failure", exc.message)

    assert outcome(render, text, scope) == outcome(engine.render, text, scope)
    assert outcome(evaluate, text, scope) == outcome(engine.evaluate, text, scope)
    assert syntax_error(text) is None or engine.syntax_error(text) is not None
    if simple.parse(text) is not None:
        assert engine.syntax_error(text) is None
        assert find_variables(text) == engine.find_variables(text)


def test_the_names_left_to_jinja_include_every_template_function() -> None:
    """A template calling one of splice's functions is never taken for a variable."""
    from splice._internal.templating import simple
    from splice._internal.templating.functions import GLOBALS

    assert set(GLOBALS) <= simple.RESERVED
