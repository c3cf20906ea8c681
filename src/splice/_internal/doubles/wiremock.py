"""WireMock JSON mappings turned into splice stubs, so a team can move over as it is.

The common subset: `method`; `url`, `urlPath`, `urlPattern`, `urlPathPattern`,
`urlPathTemplate`; `queryParameters`, `headers` and `cookies` with `equalTo`, `contains`,
`matches`, `doesNotMatch`, `absent` (and `caseInsensitive`); `bodyPatterns` with
`equalTo`, `contains`, `matches`, `equalToJson` (with `ignoreArrayOrder` and
`ignoreExtraElements`), `matchesJsonPath` (an expression, or one with `equalTo`,
`contains` or `matches`) and `matchesJsonSchema`; `priority`; the response's `status`,
`headers`, `body`, `jsonBody`, `base64Body`, `bodyFileName`, `fixedDelayMilliseconds`,
a uniform `delayDistribution` and `fault`; `scenarioName`, `requiredScenarioState` and
`newScenarioState`. WireMock regexes match the whole value, so they are anchored here.
Anything else is an error that names it, never silently dropped.
"""

from __future__ import annotations

import json
from typing import Any

FAULTS = {
    "CONNECTION_RESET_BY_PEER": "connection_reset",
    "EMPTY_RESPONSE": "empty_response",
    "MALFORMED_RESPONSE_CHUNK": "malformed_chunk",
    "RANDOM_DATA_THEN_CLOSE": "random_data",
}
_URLS = {
    "url": "url",
    "urlPath": "path",
    "urlPattern": "url_regex",
    "urlPathPattern": "path_regex",
    "urlPathTemplate": "path_template",
}
_IGNORED = {"id", "uuid", "name", "persistent", "metadata", "insertionIndex", "postServeActions"}


class WireMockError(ValueError):
    """A mapping that uses WireMock features splice does not import."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint or (
            "rewrite this stub in splice's own format (see docs/reference/services/mock.md)"
        )


def convert(mapping: Any) -> dict[str, Any]:
    """One WireMock mapping as a splice stub (plain data, validated by the caller)."""
    if not isinstance(mapping, dict):
        raise WireMockError("a mapping must be a JSON object")
    known = {"request", "response", "priority", "scenarioName", "requiredScenarioState"}
    known |= {"newScenarioState"} | _IGNORED
    _refuse(mapping, known, "mapping")
    stub: dict[str, Any] = {}
    ident = mapping.get("id") or mapping.get("uuid")
    if ident:
        stub["id"] = str(ident)
    if mapping.get("name"):
        stub["name"] = str(mapping["name"])
    if "priority" in mapping:
        stub["priority"] = mapping["priority"]
    stub["request"] = _request(mapping.get("request") or {})
    stub["response"] = _response(mapping.get("response") or {})
    if mapping.get("scenarioName"):
        scenario: dict[str, Any] = {"name": mapping["scenarioName"]}
        if mapping.get("requiredScenarioState"):
            scenario["state"] = mapping["requiredScenarioState"]
        if mapping.get("newScenarioState"):
            scenario["next"] = mapping["newScenarioState"]
        stub["scenario"] = scenario
    return stub


def _refuse(data: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise WireMockError(f"{where}: {', '.join(map(repr, extra))} cannot be imported")


def _request(request: dict[str, Any]) -> dict[str, Any]:
    known = {"method", "queryParameters", "headers", "cookies", "bodyPatterns", *_URLS}
    _refuse(request, known, "request")
    out: dict[str, Any] = {}
    method = request.get("method")
    if method and method != "ANY":
        out["method"] = method
    for key, ours in _URLS.items():
        if key in request:
            value = request[key]
            out[ours] = f"^(?:{value})$" if ours.endswith("regex") else value
    for key, ours in (("queryParameters", "query"), ("headers", "headers"), ("cookies", "cookies")):
        if request.get(key):
            out[ours] = {name: _value(m, f"{key}.{name}") for name, m in request[key].items()}
    if request.get("bodyPatterns"):
        out["body"] = _body(request["bodyPatterns"])
    return out


def _value(matcher: Any, where: str) -> dict[str, Any]:
    if not isinstance(matcher, dict):
        raise WireMockError(f'{where}: expected a matcher object like {{"equalTo": "x"}}')
    out: dict[str, Any] = {}
    for key, value in matcher.items():
        if key == "equalTo":
            out["equal"] = str(value)
        elif key == "contains":
            out["contains"] = str(value)
        elif key == "matches":
            out["regex"] = f"^(?:{value})$"
        elif key == "doesNotMatch":
            out["not_regex"] = f"^(?:{value})$"
        elif key == "absent":
            out["absent"] = bool(value)
        elif key == "caseInsensitive":
            out["case_insensitive"] = bool(value)
        else:
            raise WireMockError(f"{where}: the matcher {key!r} cannot be imported")
    return out


def _body(patterns: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if key in out:
            raise WireMockError(f"bodyPatterns: two {key!r} patterns cannot be imported")
        out[key] = value

    for pattern in patterns:
        if not isinstance(pattern, dict):
            raise WireMockError("bodyPatterns: each pattern is an object")
        if "equalToJson" in pattern:
            expected = pattern["equalToJson"]
            if isinstance(expected, str):
                expected = json.loads(expected)
            put("json_partial" if pattern.get("ignoreExtraElements") else "json", expected)
            if pattern.get("ignoreArrayOrder"):
                out["ignore_array_order"] = True
        elif "matchesJsonPath" in pattern:
            _json_path(out, pattern["matchesJsonPath"])
        elif "matchesJsonSchema" in pattern:
            schema = pattern["matchesJsonSchema"]
            put("json_schema", json.loads(schema) if isinstance(schema, str) else schema)
        elif "equalTo" in pattern:
            put("equal", str(pattern["equalTo"]))
        elif "contains" in pattern:
            put("contains", str(pattern["contains"]))
        elif "matches" in pattern:
            put("regex", f"^(?:{pattern['matches']})$")
        else:
            raise WireMockError(f"bodyPatterns: {', '.join(map(repr, pattern))} cannot be imported")
    return out


def _json_path(out: dict[str, Any], spec: Any) -> None:
    paths = out.setdefault("json_path", {})
    if isinstance(spec, str):
        paths[spec] = None
        return
    if not isinstance(spec, dict) or "expression" not in spec:
        raise WireMockError("matchesJsonPath: expected an expression or {expression: ...}")
    rest = {k: v for k, v in spec.items() if k != "expression"}
    paths[spec["expression"]] = _value(rest, f"matchesJsonPath {spec['expression']}") or None


def _response(response: dict[str, Any]) -> dict[str, Any]:
    known = {"status", "statusMessage", "headers", "body", "jsonBody", "base64Body"}
    known |= {"bodyFileName", "fixedDelayMilliseconds", "delayDistribution", "fault"}
    known |= {"transformers", "transformerParameters"}
    _refuse(response, known, "response")
    if response.get("transformers"):
        raise WireMockError(
            "response: WireMock's Handlebars templates (transformers) cannot be imported",
            "rewrite this stub in splice's format; templates there use {{ request.path }}, "
            "{{ request.query.NAME }}, {{ request.json.FIELD }}",
        )
    if "fault" in response:
        fault = FAULTS.get(str(response["fault"]))
        if fault is None:
            raise WireMockError(f"response: the fault {response['fault']!r} cannot be imported")
        return {"fault": fault, **_delay(response)}
    out: dict[str, Any] = {"status": response.get("status", 200), "template": False}
    if response.get("headers"):
        out["headers"] = response["headers"]
    if "jsonBody" in response:
        out["json"] = response["jsonBody"]
    elif "base64Body" in response:
        out["base64"] = response["base64Body"]
    elif "bodyFileName" in response:
        out["file"] = response["bodyFileName"]
    elif "body" in response:
        out["body"] = response["body"]
    out.update(_delay(response))
    return out


def _delay(response: dict[str, Any]) -> dict[str, Any]:
    if "fixedDelayMilliseconds" in response:
        return {"delay": f"{int(response['fixedDelayMilliseconds'])}ms"}
    distribution = response.get("delayDistribution")
    if distribution:
        if distribution.get("type") != "uniform":
            raise WireMockError(
                f"response: the {distribution.get('type')!r} delay distribution cannot be imported",
                "use a uniform distribution, or a splice `delay: {min: ..., max: ...}`",
            )
        return {"delay": {"min": f"{distribution['lower']}ms", "max": f"{distribution['upper']}ms"}}
    return {}
