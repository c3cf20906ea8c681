"""Checks of a request body: text, JSON (equal, partial, JSONPath, schema) and forms."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from splice._internal.doubles.checks import Check, short_json, text_test
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.jsonpaths import find
from splice._internal.doubles.model import TEXT_OPS, BodyMatch, TextMatch, ValueMatch
from splice._internal.jsonschemas import compile_schema
from splice._internal.regexes import compile_user_regex


def body_checks(spec: BodyMatch) -> list[Check]:
    """One check per test given in `spec`, in a fixed order."""
    given = spec.model_fields_set
    out: list[Check] = []
    if spec.absent is not None:
        empty = spec.absent
        out.append(
            Check(
                "body",
                "empty" if empty else "not empty",
                lambda r: (not r.request.body) == empty,
                _text,
            )
        )
    if spec.equal is not None:
        want = spec.equal
        out.append(Check("body", repr(want), lambda r: r.text == want, _text, 2.0))
    if spec.contains is not None:
        part = spec.contains
        out.append(Check("body", f"contains {part!r}", lambda r: part in r.text, _text, 2.0))
    if spec.regex is not None:
        pattern = compile_user_regex(spec.regex)
        out.append(Check("body", f"~ {spec.regex}", lambda r: pattern.finds(r.text), _text))
    if "json_" in given:
        expected, unordered = spec.json_, spec.ignore_array_order
        out.append(
            Check(
                "body json",
                short_json(expected),
                lambda r: r.is_json and json_equal(expected, r.json, unordered),
                _json_text,
                2.0,
            )
        )
    if "json_partial" in given:
        subset = spec.json_partial
        out.append(
            Check(
                "body json",
                "contains " + short_json(subset),
                lambda r: r.is_json and json_contains(subset, r.json),
                _json_text,
                2.0,
            )
        )
    if spec.json_path is not None:
        out += _json_path_checks(spec.json_path)
    if spec.json_schema is not None:
        out.append(_schema_check(spec.json_schema))
    for field, matcher in (spec.form or {}).items():
        out.append(_form_check(field, matcher))
    return out


def _text(r: Incoming) -> str:
    text = r.text
    return "(empty)" if not text else (text if len(text) <= 200 else text[:199] + "…")


def _json_text(r: Incoming) -> str:
    return short_json(r.json) if r.is_json else "not JSON: " + _text(r)


def _json_path_checks(paths: dict[str, Any] | list[str]) -> list[Check]:
    out = []
    items = [(p, None) for p in paths] if isinstance(paths, list) else list(paths.items())
    for expression, want in items:

        def actual(r: Incoming, e: str = expression) -> str:
            if not r.is_json:
                return "not JSON: " + _text(r)
            found = find(e, r.json)
            return "(missing)" if not found else short_json(found[0] if len(found) == 1 else found)

        test, expected = _path_test(expression, want)
        out.append(Check(f"body {expression}", expected, test, actual, 1.5))
    return out


def _path_test(expression: str, want: Any) -> tuple[Callable[[Incoming], bool], str]:
    if want is None:
        return (lambda r: r.is_json and bool(find(expression, r.json))), "present"
    if isinstance(want, dict) and len(want) >= 1 and set(want) <= {*TEXT_OPS, "case_insensitive"}:
        value_test, expected = text_test(TextMatch.model_validate(want))
        if want.get("absent") is True:
            return (lambda r: not r.is_json or not find(expression, r.json)), expected

        def text_found(r: Incoming) -> bool:
            if not r.is_json:
                return False
            return any(value_test(_plain(v)) for v in find(expression, r.json))

        return text_found, expected

    def equal_found(r: Incoming) -> bool:
        return r.is_json and any(json_equal(want, v) for v in find(expression, r.json))

    return equal_found, short_json(want)


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _schema_check(schema: dict[str, Any]) -> Check:
    validator = compile_schema(schema)

    def actual(r: Incoming) -> str:
        if not r.is_json:
            return "not JSON: " + _text(r)
        errors = [str(e.message) for e in validator.iter_errors(r.json)]
        return "; ".join(errors[:3]) or "valid"

    return Check(
        "body schema",
        "valid against the JSON schema",
        lambda r: r.is_json and bool(validator.is_valid(r.json)),
        actual,
        1.5,
    )


def _form_check(name: str, want: ValueMatch) -> Check:
    test, expected = text_test(want)

    def check(r: Incoming) -> bool:
        values = r.form.get(name)
        return test(None) if not values else any(test(v) for v in values)

    def actual(r: Incoming) -> str:
        values = r.form.get(name)
        return "(missing)" if values is None else ", ".join(values)

    return Check(f"form {name}", expected, check, actual)


def json_equal(expected: Any, actual: Any, unordered: bool = False) -> bool:
    """JSON equality: key order never matters, array order unless `unordered`; true is
    not 1 (Python's bool is an int, JSON's is not)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(json_equal(v, actual[k], unordered) for k, v in expected.items())
        )
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return False
        if not unordered:
            return all(json_equal(a, b) for a, b in zip(expected, actual, strict=True))
        remaining = list(actual)
        for item in expected:
            index = next(
                (i for i, other in enumerate(remaining) if json_equal(item, other, True)), None
            )
            if index is None:
                return False
            remaining.pop(index)
        return True
    return type(expected) is type(actual) and expected == actual


def json_contains(expected: Any, actual: Any) -> bool:
    """Partial JSON: every key of an expected object is in the actual one (recursively);
    every item of an expected array matches a distinct item of the actual array."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and json_contains(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        remaining = list(actual)
        for item in expected:
            index = next((i for i, o in enumerate(remaining) if json_contains(item, o)), None)
            if index is None:
                return False
            remaining.pop(index)
        return True
    return json_equal(expected, actual)
