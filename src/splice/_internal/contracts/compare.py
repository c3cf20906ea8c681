"""Does an actual request, response or message honour what a pact expects? Every mismatch.

`compare_request`, `compare_response` and `compare_message` return a list of `Mismatch`es,
empty when the actual value honours the expected one. Requests are held strictly (no
unexpected query parameters or body keys), responses and messages loosely (extra headers,
keys and elements are fine), as the Pact specification says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from splice._internal.contracts.compare_json import JsonComparison
from splice._internal.contracts.compare_xml import XmlComparison
from splice._internal.contracts.matchers import check, check_status
from splice._internal.contracts.model import Body, Message, Request, Response
from splice._internal.contracts.problems import Mismatch, show_path
from splice._internal.contracts.rules import RuleList, Rules
from splice._internal.expect.vocabulary import show

_MEDIA_HEADERS = frozenset({"content-type", "accept"})


def compare_request(expected: Request, actual: Request) -> list[Mismatch]:
    out: list[Mismatch] = []
    if expected.method.upper() != actual.method.upper():
        out.append(Mismatch("method", f"expected {expected.method}, got {actual.method}"))
    out.extend(_path(expected, actual))
    out.extend(_query(expected.query, actual.query, expected.rules))
    out.extend(_headers(expected.headers, actual.headers, expected.rules))
    out.extend(compare_body(expected.body, actual.body, expected.rules, allow_extra=False))
    return out


def compare_response(expected: Response, actual: Response) -> list[Mismatch]:
    out: list[Mismatch] = []
    status_rule = expected.rules.best("status", ())
    if status_rule is not None:
        for m in status_rule.matchers:
            message = (
                check_status(m.get("status"), actual.status)
                if m.kind == "statusCode"
                else (check(m, expected.status, actual.status))
            )
            if message:
                out.append(Mismatch("status", message))
    elif expected.status is not None and expected.status != actual.status:
        out.append(Mismatch("status", f"expected {expected.status}, got {actual.status}"))
    out.extend(_headers(expected.headers, actual.headers, expected.rules))
    out.extend(compare_body(expected.body, actual.body, expected.rules, allow_extra=True))
    return out


def compare_message(expected: Message, actual: Message) -> list[Mismatch]:
    out = compare_body(expected.contents, actual.contents, expected.rules, allow_extra=True)
    for name, value in expected.metadata.items():
        if name.lower() in ("contenttype", "content-type"):
            continue  # judged with the body
        rule = expected.rules.named("metadata", name)
        if name not in actual.metadata:
            out.append(Mismatch(show_path("metadata", (name,)), f"missing, expected {show(value)}"))
            continue
        out.extend(_scalar(rule, value, actual.metadata[name], show_path("metadata", (name,))))
    return out


def _scalar(rule: RuleList | None, expected: Any, actual: Any, where: str) -> list[Mismatch]:
    if rule is None:
        if expected != actual:
            return [Mismatch(where, f"expected {show(expected)}, got {show(actual)}")]
        return []
    messages = [check(m, expected, actual, text=True) for m in rule.matchers]
    failed = [m for m in messages if m]
    if not failed or (rule.combine == "OR" and len(failed) < len(messages)):
        return []
    return [Mismatch(where, m) for m in failed]


def _path(expected: Request, actual: Request) -> list[Mismatch]:
    rule = expected.rules.best("path", ())
    return _scalar(rule, expected.path, actual.path, "path")


def _query(
    expected: Mapping[str, list[str]], actual: Mapping[str, list[str]], rules: Rules
) -> list[Mismatch]:
    out: list[Mismatch] = []
    for name, values in expected.items():
        where = show_path("query", (name,))
        if name not in actual:
            out.append(Mismatch(where, f"missing parameter, expected {show(values)}"))
            continue
        rule = rules.named("query", name)
        got = actual[name]
        if rule is None:
            if values != got:
                out.append(Mismatch(where, f"expected {show(values)}, got {show(got)}"))
            continue
        for i, value in enumerate(got):
            want = values[i] if i < len(values) else (values[0] if values else "")
            out.extend(_scalar(rule, want, value, f"{where}[{i}]"))
    for name, got in actual.items():
        if name not in expected:
            out.append(Mismatch(show_path("query", (name,)), f"unexpected parameter {show(got)}"))
    return out


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",")]


def _media(value: str) -> tuple[str, dict[str, str]]:
    main, *params = value.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return main.strip(), parsed


def _media_matches(want: str, got: str) -> bool:
    want_main, want_params = _media(want)
    got_main, got_params = _media(got)
    if want_main != got_main:
        return False
    for key, value in want_params.items():
        other = got_params.get(key)
        if other is None:
            return False
        if (value.lower() != other.lower()) if key == "charset" else (value != other):
            return False
    return True


def _headers(
    expected: Mapping[str, list[str]], actual: Mapping[str, list[str]], rules: Rules
) -> list[Mismatch]:
    out: list[Mismatch] = []
    folded = {name.lower(): values for name, values in actual.items()}
    for name, values in expected.items():
        where = show_path("headers", (name,))
        got = folded.get(name.lower())
        if got is None:
            out.append(Mismatch(where, f"missing header, expected {show(', '.join(values))}"))
            continue
        rule = rules.named("header", name, fold=True)
        if rule is not None:
            out.extend(_scalar(rule, ", ".join(values), ", ".join(got), where))
        elif name.lower() in _MEDIA_HEADERS:
            want_items, got_items = _split(values), _split(got)
            if len(want_items) != len(got_items) or not all(
                _media_matches(w, g) for w, g in zip(want_items, got_items, strict=True)
            ):
                out.append(
                    Mismatch(where, f"expected {', '.join(values)!r}, got {', '.join(got)!r}")
                )
        elif _split(values) != _split(got):
            out.append(Mismatch(where, f"expected {', '.join(values)!r}, got {', '.join(got)!r}"))
    return out


def _header_mismatch(where: str, values: list[str], got: list[str]) -> Mismatch:
    return Mismatch(where, f"expected {', '.join(values)!r}, got {', '.join(got)!r}")


def compare_body(
    expected: Body | None, actual: Body | None, rules: Rules, *, allow_extra: bool
) -> list[Mismatch]:
    """The body: as JSON, XML or text, chosen by the expected content type."""
    if expected is None:
        return []  # the pact says nothing about the body
    got = actual.content if actual is not None else None
    got_empty = actual is None or actual.empty
    if expected.empty:
        if got_empty:
            return []
        return [Mismatch("body", f"expected an empty body, got {show(got)}")]
    if got_empty and not (expected.kind == "json" and got is None and actual is not None):
        return [Mismatch("body", f"expected a body, got none (expected {show(expected.content)})")]
    kind = expected.kind
    if kind == "json":
        value = got
        if isinstance(got, str):
            try:
                value = json.loads(got)
            except ValueError:
                return [Mismatch("body", f"expected a JSON body, got {show(got)}")]
        if isinstance(got, bytes):
            return [Mismatch("body", "expected a JSON body, got binary content")]
        return JsonComparison(rules, allow_extra=allow_extra).run(expected.content, value)
    if kind == "xml":
        if not isinstance(got, str):
            return [Mismatch("body", f"expected an XML body, got {show(got)}")]
        return XmlComparison(rules, allow_extra=allow_extra).run(str(expected.content), got)
    if kind == "binary":
        if expected.content != got:
            return [Mismatch("body", "the binary body differs from the pact's")]
        return []
    rule = rules.best("body", ())
    return _scalar(rule, expected.content, got, "body")
