"""The mock's pieces without a server: stub schema, matchers, templates of paths, JSON
comparison, WireMock conversion, scrubbing, cassettes and stub files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splice._internal.doubles.body_match import json_contains, json_equal
from splice._internal.doubles.cassette import Cassette, match_key, to_stubs
from splice._internal.doubles.files import StubFileError, load_stub_file, load_wiremock_file
from splice._internal.doubles.http11 import Request
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.matching import RequestMatcher
from splice._internal.doubles.model import RequestSpec, StubSpec
from splice._internal.doubles.paths import compile_template
from splice._internal.doubles.scrub import Scrubber
from splice._internal.doubles.stubs import StubStore
from splice._internal.doubles.wiremock import WireMockError, convert


def _request(
    method: str = "GET",
    target: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Incoming:
    return Incoming(Request(method, target, headers or {}, body, False))


def _matches(spec: dict[str, Any], request: Incoming) -> bool:
    return RequestMatcher(RequestSpec.model_validate(spec)).match(request)


# --- schema ------------------------------------------------------------------------------


def test_unknown_keys_and_two_paths_are_rejected() -> None:
    """A typo in a stub and two ways of matching the path are validation errors."""
    with pytest.raises(ValidationError, match="staus"):
        StubSpec.model_validate({"response": {"staus": 200}})
    with pytest.raises(ValidationError, match="one way to match the path"):
        RequestSpec.model_validate({"path": "/a", "path_regex": "/a"})


def test_a_response_has_one_body_and_a_known_fault() -> None:
    """`json` with `body` is refused, and so is a fault splice does not know."""
    with pytest.raises(ValidationError, match="one body"):
        StubSpec.model_validate({"response": {"json": {}, "body": "x"}})
    with pytest.raises(ValidationError, match="fault"):
        StubSpec.model_validate({"response": {"fault": "explode"}})


def test_bad_regexes_templates_and_delays_are_rejected() -> None:
    """Malformed regular expressions, path templates, JSONPaths and delays fail early."""
    bad = [
        {"request": {"path_regex": "("}},
        {"request": {"path_template": "/users/{id"}},
        {"request": {"body": {"json_path": ["amount"]}}},
        {"request": {"headers": {"x": {"regex": "[", "case_insensitive": True}}}},
        {"response": {"delay": "soon"}},
        {"response": {"delay": {"min": "2s", "max": "1s"}}},
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            StubSpec.model_validate(raw)


def test_a_text_matcher_takes_exactly_one_test() -> None:
    """`{equal: a, regex: b}` is ambiguous and refused."""
    with pytest.raises(ValidationError, match="exactly one"):
        RequestSpec.model_validate({"query": {"q": {"equal": "a", "regex": "b"}}})


# --- matching ----------------------------------------------------------------------------


def test_path_template_captures_segments() -> None:
    """`/users/{id}` matches one segment and names it in request.params."""
    pattern = compile_template("/users/{id}/orders/{order}")
    found = pattern.fullmatch("/users/7/orders/x-1")
    assert found is not None and found.groupdict() == {"id": "7", "order": "x-1"}
    assert pattern.fullmatch("/users/7/8/orders/1") is None
    request = _request(target="/users/42")
    assert _matches({"path_template": "/users/{id}"}, request)
    assert request.params == {"id": "42"}


def test_text_matchers_on_query_headers_and_cookies() -> None:
    """Equal, contains, regex, not_regex, absent and case-insensitivity behave as documented."""
    request = _request(
        target="/s?q=Hello&tag=a&tag=b",
        headers={"x-trace": "abc-123", "cookie": "session=s1; theme=dark"},
    )
    assert _matches({"query": {"q": "Hello", "tag": "b"}}, request)
    assert _matches({"query": {"q": {"equal": "hello", "case_insensitive": True}}}, request)
    assert not _matches({"query": {"q": "hello"}}, request)
    assert _matches({"query": {"missing": {"absent": True}}}, request)
    assert not _matches({"query": {"q": {"absent": True}}}, request)
    assert _matches({"headers": {"X-Trace": {"regex": r"^abc-\d+$"}}}, request)
    assert _matches({"headers": {"x-trace": {"not_regex": "xyz"}}}, request)
    assert _matches({"cookies": {"theme": {"contains": "ar"}}}, request)
    assert not _matches({"cookies": {"session": "s2"}}, request)


def test_json_equality_is_strict_about_types_and_loose_about_key_order() -> None:
    """true is not 1, key order never matters, array order only without the flag."""
    assert json_equal({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1.0})
    assert not json_equal({"a": True}, {"a": 1})
    assert not json_equal([1, 2], [2, 1])
    assert json_equal([1, 2, {"x": 1}], [{"x": 1}, 2, 1], unordered=True)
    assert json_contains({"card": {"last4": "4242"}}, {"card": {"last4": "4242", "exp": 1}})
    assert json_contains([{"sku": "A"}], [{"sku": "B"}, {"sku": "A", "qty": 1}])
    assert not json_contains({"amount": 42}, {"amount": "42"})


def test_differences_name_each_failed_part() -> None:
    """A near miss lists method, path, header and body differences with expected and actual."""
    spec = RequestSpec.model_validate(
        {
            "method": "POST",
            "path": "/v1/charges",
            "headers": {"Idempotency-Key": {"absent": False}},
            "body": {"json_partial": {"amount": 42}},
        }
    )
    request = _request("GET", "/v1/charge", body=b'{"amount": 41}')
    parts = {d.part: d for d in RequestMatcher(spec).differences(request)}
    assert set(parts) == {"method", "path", "header idempotency-key", "body json"}
    assert parts["path"].actual == "/v1/charge"
    assert parts["header idempotency-key"].actual == "(missing)"


def test_priority_then_last_added_wins() -> None:
    """The lowest priority number wins; on a tie, the stub added last."""
    store = StubStore()
    store.add(StubSpec.model_validate({"name": "first", "request": {"path": "/x"}}))
    store.add(StubSpec.model_validate({"name": "second", "request": {"path": "/x"}}))
    store.add(StubSpec.model_validate({"name": "any", "priority": 9}))
    found = store.find(_request(target="/x"))
    assert found is not None and found.label == "second"
    store.add(StubSpec.model_validate({"name": "urgent", "priority": 1}))
    found = store.find(_request(target="/x"))
    assert found is not None and found.label == "urgent"


# --- WireMock ----------------------------------------------------------------------------


def test_wiremock_mapping_converts_to_a_valid_stub() -> None:
    """The common subset of a WireMock mapping becomes an equivalent splice stub."""
    stub = convert(
        {
            "priority": 2,
            "request": {
                "method": "POST",
                "urlPathPattern": "/v1/charges/[a-z]+",
                "queryParameters": {"mode": {"equalTo": "live"}},
                "headers": {"Authorization": {"matches": "Bearer .*"}},
                "bodyPatterns": [
                    {"equalToJson": '{"amount": 42}', "ignoreExtraElements": True},
                    {"matchesJsonPath": "$.card"},
                    {"matchesJsonPath": {"expression": "$.currency", "equalTo": "eur"}},
                ],
            },
            "response": {"status": 201, "jsonBody": {"id": "ch_1"}, "fixedDelayMilliseconds": 5},
            "scenarioName": "pay",
            "requiredScenarioState": "Started",
            "newScenarioState": "Paid",
        }
    )
    spec = StubSpec.model_validate(stub)
    assert spec.request.path_regex == "^(?:/v1/charges/[a-z]+)$"
    assert spec.request.body is not None and spec.request.body.json_partial == {"amount": 42}
    assert spec.scenario is not None and spec.scenario.next == "Paid"
    assert spec.response is not None and spec.response.delay == "5ms"


def test_wiremock_features_outside_the_subset_are_named() -> None:
    """Templates, XML bodies and unknown faults are refused with what cannot be imported."""
    with pytest.raises(WireMockError, match="Handlebars"):
        convert({"request": {}, "response": {"body": "x", "transformers": ["response-template"]}})
    with pytest.raises(WireMockError, match="equalToXml"):
        convert({"request": {"bodyPatterns": [{"equalToXml": "<a/>"}]}, "response": {}})
    with pytest.raises(WireMockError, match="proxyBaseUrl"):
        convert({"request": {}, "response": {"proxyBaseUrl": "http://x"}})


# --- scrubbing and cassettes -------------------------------------------------------------


def test_scrubber_replaces_named_secrets_everywhere() -> None:
    """A scrubbed header's value is also removed from bodies and URLs where it recurs."""
    scrubber = Scrubber(headers=["Authorization"], query=["key"], json=["password", "$.card.cvc"])
    found: set[str] = set()
    headers = scrubber.scrub_headers({"authorization": "Bearer tok-SECRET-1"}, found)
    pairs = scrubber.scrub_pairs([("key", "k-SECRET-2"), ("page", "2")], found)
    body = scrubber.scrub_json({"password": "pw-SECRET-3", "card": {"cvc": "9876"}}, found)
    echoed = scrubber.everywhere({"seen": "token tok-SECRET-1 and k-SECRET-2"}, found)
    text = repr([headers, pairs, body, echoed])
    assert "SECRET" not in text and "9876" not in text
    assert ("page", "2") in pairs


def test_cassette_groups_repeated_requests_into_a_sequence(tmp_path: Path) -> None:
    """Two recordings of one request become one stub answering them in order."""
    request = {"method": "GET", "path": "/n", "query": {"b": "2", "a": "1"}}
    interactions = [
        {"request": request, "response": {"status": 200, "json": {"n": 1}}},
        {"request": request, "response": {"status": 200, "json": {"n": 2}}},
        {"request": {"method": "POST", "path": "/m", "json": {"x": 1}}, "response": {}},
    ]
    stubs = to_stubs(interactions)
    assert len(stubs) == 2
    assert [r["json"] for r in stubs[0]["responses"]] == [{"n": 1}, {"n": 2}]
    assert match_key(request, ["query"]) == match_key({"query": {"a": "1", "b": "2"}}, ["query"])
    cassette = Cassette(tmp_path / "c.yaml", interactions)
    cassette.save()
    assert Cassette.load(tmp_path / "c.yaml").interactions == interactions
    for stub in stubs:
        StubSpec.model_validate(stub)


# --- stub files --------------------------------------------------------------------------


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_stub_file_error_points_at_line_and_column(tmp_path: Path) -> None:
    """A misspelt key in a stub file is reported at its line and column with a hint."""
    path = _file(
        tmp_path,
        "pay.yaml",
        """
        - request: {method: GET, path: /ok}
        - request:
            method: POST
            pathh: /v1/charges
        """,
    )
    with pytest.raises(StubFileError) as caught:
        load_stub_file(path, tmp_path)
    assert caught.value.message.startswith("pay.yaml:4:5: unknown key 'pathh'")
    assert caught.value.hint == "did you mean 'path'?"


def test_stub_file_checks_templates_and_body_files(tmp_path: Path) -> None:
    """A template syntax error and a missing body file are found before the mock starts."""
    path = _file(tmp_path, "t.yaml", "- response: {body: 'hello {{ request.path '}\n")
    with pytest.raises(StubFileError, match=r"t\.yaml:1:3"):
        load_stub_file(path, tmp_path)
    path = _file(tmp_path, "f.yaml", "- response: {file: bodies/missing.json}\n")
    with pytest.raises(StubFileError, match="cannot read the body file"):
        load_stub_file(path, tmp_path)


def test_wiremock_file_with_unsupported_mapping_names_it(tmp_path: Path) -> None:
    """An unsupported mapping in a WireMock file is reported with file and index."""
    path = _file(
        tmp_path,
        "m.json",
        '{"mappings": [{"request": {"url": "/a"}, "response": {"status": 200}},'
        ' {"request": {"url": "/b"}, "response": {"fault": "EXPLODE"}}]}',
    )
    with pytest.raises(StubFileError, match=r"m\.json#2: response: the fault 'EXPLODE'"):
        load_wiremock_file(path, tmp_path)


def test_catastrophic_stub_regexes_answer_at_once() -> None:
    """Stub regexes run on RE2: `^(a+)+$` against 40 a's and a '!' (in the path, a header,
    the body) is a quick no-match, not a mock that stops answering."""
    evil = "a" * 40 + "!"
    request = _request("POST", f"/{evil}", {"x-token": evil}, evil.encode())
    assert not _matches({"path_regex": "^/(a+)+$"}, request)
    assert not _matches({"headers": {"x-token": {"regex": "^(a+)+$"}}}, request)
    assert not _matches({"body": {"regex": "^(a+)+$"}}, request)
    assert _matches({"headers": {"x-token": {"not_regex": "^(a+)+$"}}}, request)


def test_scrub_patterns_replace_what_re_would() -> None:
    """Scrub patterns (RE2) replace the same text as re.sub, the replacement taken as is."""
    scrubber = Scrubber(patterns=[r"sk_\w+", "x*"], replacement="<s>")
    assert scrubber.scrub_text("key sk_live_123 end", set()) == re.sub(
        "x*", "<s>", re.sub(r"sk_\w+", "<s>", "key sk_live_123 end")
    )
