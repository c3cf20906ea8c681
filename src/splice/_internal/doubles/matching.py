"""Request matching: a stub's request spec compiled into checks.

`RequestMatcher.match` is the hot path: method first, then each check in order (path,
query, headers, cookies, body), stopping at the first that fails. `differences` runs every
check and says how each failed; the near-miss report ranks stubs by it.

Rules (the reference repeats them): text `regex` finds a match anywhere in the value
(anchor with ^ and $); `path_regex` and `url_regex` must match the whole path or URL;
a repeated query parameter or form field matches when any of its values does; header
names compare case-insensitively, everything else case-sensitively unless
`case_insensitive: true`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from splice._internal.doubles.body_match import body_checks
from splice._internal.doubles.checks import Check, Difference, similarity, text_test
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.model import RequestSpec, ValueMatch
from splice._internal.doubles.paths import compile_template
from splice._internal.regexes import RegexTimeout, UserRegex, compile_user_regex


class RequestMatcher:
    """A compiled request spec."""

    __slots__ = ("checks", "exact_path", "methods")

    def __init__(self, spec: RequestSpec) -> None:
        method = spec.method
        methods = [method] if isinstance(method, str) else method
        self.methods = None if not methods or "ANY" in methods else frozenset(methods)
        self.exact_path = spec.path
        self.checks = _path_checks(spec)
        for name, want in spec.query.items():
            self.checks.append(_multi_check(f"query {name}", want, _query_getter(name)))
        for name, want in spec.headers.items():
            self.checks.append(_single_check(f"header {name.lower()}", want, _header(name)))
        for name, want in spec.cookies.items():
            self.checks.append(_single_check(f"cookie {name}", want, _cookie(name)))
        if spec.body is not None:
            self.checks += body_checks(spec.body)

    def match(self, request: Incoming) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return False
        request.params = {}
        for check in self.checks:  # noqa: SIM110 - a plain loop is faster than all() here
            if not check.test(request):
                return False
        return True

    def differences(self, request: Incoming) -> list[Difference]:
        """Every way `request` differs from this spec (empty: it matches)."""
        out = []
        if self.methods is not None and request.method not in self.methods:
            expected = " or ".join(sorted(self.methods))
            out.append(Difference("method", expected, request.method, 1.0))
        request.params = {}
        for check in self.checks:
            if not check.test(request):
                actual = check.actual(request)
                closeness = similarity(check.expected, actual) if actual != "(missing)" else 0
                out.append(
                    Difference(check.part, check.expected, actual, check.weight * (1 - closeness))
                )
        return out


def _path_checks(spec: RequestSpec) -> list[Check]:
    def path(r: Incoming) -> str:
        return r.path

    def target(r: Incoming) -> str:
        return r.target

    if spec.path is not None:
        want = spec.path
        return [Check("path", repr(want), lambda r: r.path == want, path, 2.0)]
    if spec.url is not None:
        url = spec.url
        return [Check("url", repr(url), lambda r: r.target == url, target, 2.0)]
    if spec.path_template is not None:
        return [_regex_check("path", spec.path_template, compile_template(spec.path_template))]
    if spec.path_regex is not None:
        pattern = compile_user_regex(spec.path_regex)
        return [_regex_check("path", f"~ {spec.path_regex}", pattern)]
    if spec.url_regex is not None:
        url_pattern = compile_user_regex(spec.url_regex)
        return [
            Check(
                "url",
                f"~ {spec.url_regex}",
                lambda r: _fullmatch(url_pattern, r.target) is not None,
                target,
            )
        ]
    return []


def _fullmatch(pattern: re.Pattern[str] | UserRegex, text: str) -> Any:
    """The whole-text match, or None (also when a bounded match runs out of time)."""
    try:
        return pattern.fullmatch(text)
    except RegexTimeout:
        return None


def _regex_check(part: str, expected: str, pattern: re.Pattern[str] | UserRegex) -> Check:
    def test(r: Incoming) -> bool:
        found = _fullmatch(pattern, r.path)
        if found is None:
            return False
        r.params = {k: v for k, v in found.groupdict().items() if v is not None}
        return True

    return Check(part, expected, test, lambda r: r.path, 2.0)


def _header(name: str) -> Callable[[Incoming], str | None]:
    lower = name.lower()
    return lambda r: r.headers.get(lower)


def _cookie(name: str) -> Callable[[Incoming], str | None]:
    return lambda r: r.cookies.get(name)


def _query_getter(name: str) -> Callable[[Incoming], list[str] | None]:
    return lambda r: r.query.get(name)


def _multi_check(
    part: str, want: ValueMatch, getter: Callable[[Incoming], list[str] | None]
) -> Check:
    test, expected = text_test(want)

    def check(r: Incoming) -> bool:
        values = getter(r)
        if not values:
            return test(None)
        return any(test(v) for v in values)

    def actual(r: Incoming) -> str:
        values = getter(r)
        return "(missing)" if values is None else ", ".join(values)

    return Check(part, expected, check, actual)


def _single_check(part: str, want: ValueMatch, getter: Callable[[Incoming], str | None]) -> Check:
    test, expected = text_test(want)

    def actual(r: Incoming) -> str:
        value = getter(r)
        return "(missing)" if value is None else value

    return Check(part, expected, lambda r: test(getter(r)), actual)
