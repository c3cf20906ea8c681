"""A consumer's pact from the stubs of splice's HTTP mock that a run exercised.

A `mock` service with `contract: {consumer: shop, provider: payments}` remembers each stub's
first exchange; at the end of the run `pact_document` turns them into a Pact V4 document:

- the request is the one the consumer really sent; what the stub only matched loosely
  becomes a matching rule (a `path_template` or `path_regex` a `regex` rule on the path, a
  `regex`/`contains` test of a header or query parameter a `regex`/`include` rule, the keys
  a `json_partial` body did not name a `type` rule each, a `json_schema` body the rules its
  schema implies (see `schema_rules`): `type`, `regex` from `pattern`, `min`/`max` from
  `minItems`/`maxItems`, `integer`, `number`, `boolean`, `null`, `notEmpty`,
  `date`/`time`/`timestamp`/`semver` from `format`, `eachKey`/`eachValue` of a map);
- the response is what the stub answered; a templated value is a `type` rule (and a
  `Uuid` generator for `uuid()`), as its value changes from call to call;
- a stub's `given:` becomes the interaction's provider states; `contract: false` leaves a
  stub out; stubs never exercised are not written (a contract says what the consumer uses).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from splice._internal.version import VERSION

_TEMPLATE = re.compile(r"\{\{|\{%")
_MEDIA_RESPONSE_HEADERS = {"content-type"}


def _rule(*matchers: dict[str, Any]) -> dict[str, Any]:
    return {"combine": "AND", "matchers": list(matchers)}


def _text_rule(test: Any) -> dict[str, Any] | None:
    """A mock's text test (`{regex: ...}`, `{contains: ...}`) as a Pact rule; None: equal."""
    if not isinstance(test, Mapping):
        return None
    if test.get("regex") is not None:
        return _rule({"match": "regex", "regex": test["regex"]})
    if test.get("contains") is not None:
        return _rule({"match": "include", "value": test["contains"]})
    if test.get("absent") is False or test.get("not_regex") is not None:
        return _rule({"match": "type"})
    return None


def _template_regex(template: str) -> str:
    out, last = [], 0
    for m in re.finditer(r"\{[^/{}]+\}", template):
        out.append(re.escape(template[last : m.start()]) + "[^/]+")
        last = m.end()
    out.append(re.escape(template[last:]))
    return "^" + "".join(out) + "$"


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _path_expr(parts: tuple[str | int, ...]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _unnamed_keys(
    partial: Any, actual: Any, path: tuple[str | int, ...], rules: dict[str, Any]
) -> None:
    """A `type` rule for each value of `actual` that the partial body did not name."""
    if isinstance(partial, Mapping) and isinstance(actual, Mapping):
        for key, value in actual.items():
            if key in partial:
                _unnamed_keys(partial[key], value, (*path, key), rules)
            else:
                rules[_path_expr((*path, key))] = _rule({"match": "type"})
    elif isinstance(partial, list) and isinstance(actual, list):
        for i, value in enumerate(actual):
            if i < len(partial):
                _unnamed_keys(partial[i], value, (*path, i), rules)


_SCHEMA_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}
# string formats with a Pact matcher of their own (`semver` is not JSON Schema's, but
# OpenAPI documents use it, and Pact has the matcher)
_FORMATS = {
    "date": {"match": "date", "format": "yyyy-MM-dd"},
    "time": {"match": "time", "format": "HH:mm:ss"},
    "date-time": {"match": "timestamp"},
    "semver": {"match": "semver"},
}


def schema_rules(schema: Any, path: tuple[str | int, ...], rules: dict[str, Any]) -> None:
    """The matching rules a JSON schema implies, at `path` and below: the type's matcher
    (`integer`, `number`, `boolean`, `null`; not `decimal`, which 12 would fail), a
    string's `regex` (`pattern`), date, time, timestamp or semver (`format`) or `notEmpty`
    (`minLength`), an array's `type` with `min`/`max` (`minItems`/`maxItems`), an object's
    `eachKey` (`propertyNames: {pattern}`) and `eachValue` (`additionalProperties`)."""
    if not isinstance(schema, Mapping):
        return
    matchers = _schema_matchers(schema)
    kind = schema.get("type")
    if kind == "array":
        schema_rules(schema.get("items"), (*path, "*"), rules)
    elif kind == "object":
        for key, sub in (schema.get("properties") or {}).items():
            schema_rules(sub, (*path, key), rules)
    if matchers:
        rules[_path_expr(path).replace("['*']", "[*]")] = _rule(*matchers)


def _schema_matchers(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The matchers of one schema's own value (its items and properties aside)."""
    kind = schema.get("type")
    if kind in _SCHEMA_TYPES:
        return [{"match": _SCHEMA_TYPES[kind]}]
    if kind == "string":
        if isinstance(schema.get("pattern"), str):
            return [{"match": "regex", "regex": schema["pattern"]}]
        if schema.get("format") in _FORMATS:
            return [dict(_FORMATS[schema["format"]])]
        minimum = schema.get("minLength")
        if isinstance(minimum, int) and not isinstance(minimum, bool) and minimum >= 1:
            return [{"match": "notEmpty"}]
        return [{"match": "type"}]
    if kind == "array":
        bounds = {
            k: schema[s] for k, s in (("min", "minItems"), ("max", "maxItems")) if s in schema
        }
        return [{"match": "type", **bounds}]
    if kind == "object" and not schema.get("properties"):
        out = []
        names = schema.get("propertyNames")
        if isinstance(names, Mapping) and isinstance(names.get("pattern"), str):
            out.append(
                {"match": "eachKey", "rules": [{"match": "regex", "regex": names["pattern"]}]}
            )
        values = schema.get("additionalProperties")
        inner = _schema_matchers(values) if isinstance(values, Mapping) else []
        if inner:
            out.append({"match": "eachValue", "rules": inner})
        return out
    return []


def _templated_paths(value: Any, path: tuple[str | int, ...], out: dict[str, Any]) -> None:
    if isinstance(value, str) and _TEMPLATE.search(value):
        out[_path_expr(path)] = "uuid" if re.search(r"uuid\(\)", value) else "type"
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            _templated_paths(sub, (*path, key), out)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _templated_paths(sub, (*path, i), out)


def provider_states(given: Any) -> list[dict[str, Any]]:
    if given is None:
        return []
    items = given if isinstance(given, list) else [given]
    out = []
    for item in items:
        if isinstance(item, Mapping):
            state: dict[str, Any] = {"name": str(item.get("name"))}
            if item.get("params"):
                state["params"] = dict(item["params"])
            out.append(state)
        else:
            out.append({"name": str(item)})
    return out


def _body(text: str, ctype: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    if ctype and "json" in ctype.lower():
        parsed = _json(text)
        if parsed is not None:
            return {"content": parsed, "contentType": ctype, "encoded": False}
    return {"content": text, "contentType": ctype or "text/plain", "encoded": False}


def _request(stub: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    spec = stub.get("request") or {}
    rules: dict[str, Any] = {}
    if spec.get("path_template"):
        rules["path"] = _rule({"match": "regex", "regex": _template_regex(spec["path_template"])})
    elif spec.get("path_regex"):
        rules["path"] = _rule({"match": "regex", "regex": spec["path_regex"]})
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(sent.get("query") or "", keep_blank_values=True):
        query.setdefault(name, []).append(value)
    query_rules = {
        name: rule for name, test in (spec.get("query") or {}).items() if (rule := _text_rule(test))
    }
    headers: dict[str, list[str]] = {}
    header_rules: dict[str, Any] = {}
    sent_headers = {k.lower(): v for k, v in (sent.get("headers") or {}).items()}
    for name, test in (spec.get("headers") or {}).items():
        if isinstance(test, Mapping) and test.get("absent"):
            continue
        if name.lower() in sent_headers:
            headers[name] = [sent_headers[name.lower()]]
        rule = _text_rule(test)
        if rule:
            header_rules[name] = rule
    ctype = sent_headers.get("content-type")
    if ctype and "content-type" not in {h.lower() for h in headers}:
        headers["Content-Type"] = [ctype]
    out: dict[str, Any] = {"method": sent.get("method", "GET"), "path": sent.get("path", "/")}
    if query:
        out["query"] = query
    if headers:
        out["headers"] = headers
    body = _body(sent.get("body") or "", ctype)
    body_spec = spec.get("body") or {}
    body_rules: dict[str, Any] = {}
    if body is not None:
        out["body"] = body
        content = body["content"]
        if "json_partial" in body_spec:
            _unnamed_keys(body_spec["json_partial"], content, (), body_rules)
        elif "json_schema" in body_spec:
            schema_rules(body_spec["json_schema"], (), body_rules)
        elif body_spec.get("regex") is not None:
            body_rules["$"] = _rule({"match": "regex", "regex": body_spec["regex"]})
        elif body_spec.get("contains") is not None:
            body_rules["$"] = _rule({"match": "include", "value": body_spec["contains"]})
    for category, found in (("query", query_rules), ("header", header_rules), ("body", body_rules)):
        if found:
            rules[category] = found
    if rules:
        out["matchingRules"] = rules
    return out


def _response(stub: Mapping[str, Any], answered: Mapping[str, Any]) -> dict[str, Any]:
    spec = stub.get("response") or (stub.get("responses") or [{}])[0]
    headers: dict[str, list[str]] = {}
    declared = {str(k).lower() for k in (spec.get("headers") or {})}
    ctype = None
    for name, value in answered.get("headers") or []:
        if name.lower() == "content-type":
            ctype = value
        if name.lower() in declared or name.lower() in _MEDIA_RESPONSE_HEADERS:
            headers.setdefault(name, []).append(value)
    out: dict[str, Any] = {"status": answered.get("status", 200)}
    if headers:
        out["headers"] = headers
    body = _body(answered.get("body") or "", ctype)
    if body is not None:
        out["body"] = body
    templated: dict[str, Any] = {}
    if spec.get("template") is not False:
        source = spec.get("json") if "json" in spec else spec.get("body")
        if isinstance(source, str) and _TEMPLATE.search(source) and "json" not in spec:
            templated["$"] = "type"
        else:
            _templated_paths(source, (), templated)
    if templated:
        out["matchingRules"] = {"body": {path: _rule({"match": "type"}) for path in templated}}
        uuids = {path: {"type": "Uuid"} for path, kind in templated.items() if kind == "uuid"}
        if uuids:
            out["generators"] = {"body": uuids}
    return out


def interaction(item: Mapping[str, Any]) -> dict[str, Any]:
    """One exercised stub as a V4 HTTP interaction."""
    stub, sent, answered = item["stub"], item["request"], item["response"]
    description = stub.get("name") or stub.get("id") or f"{sent['method']} {sent['path']}"
    out: dict[str, Any] = {"type": "Synchronous/HTTP", "description": description}
    states = provider_states(stub.get("given"))
    if states:
        out["providerStates"] = states
    out["request"] = _request(stub, sent)
    out["response"] = _response(stub, answered)
    return out


def pact_document(consumer: str, provider: str, exercised: list[dict[str, Any]]) -> dict[str, Any]:
    """The Pact V4 document of a run's exercised stubs, in a stable order."""
    interactions = sorted(
        (interaction(item) for item in exercised),
        key=lambda i: (i["description"], json.dumps(i.get("providerStates", []))),
    )
    return {
        "consumer": {"name": consumer},
        "provider": {"name": provider},
        "interactions": interactions,
        "metadata": {
            "pactSpecification": {"version": "4.0"},
            "splice": {"version": VERSION},
        },
    }


def pact_text(document: Mapping[str, Any]) -> str:
    """The pact as JSON with one interaction per line: a change to the contract is a
    change of the lines of the interactions it touches (and the C encoder writes it;
    `indent=` would take the pure-Python one, 5x slower)."""
    lines = ["{"]
    keys = list(document)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = document[key]
        if key in ("interactions", "messages") and isinstance(value, list) and value:
            lines.append(f"  {json.dumps(key)}: [")
            items = [json.dumps(item, ensure_ascii=False) for item in value]
            lines += [f"    {item}," for item in items[:-1]] + [f"    {items[-1]}"]
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_pact(path: Path, document: Mapping[str, Any]) -> None:
    """Write the pact whole or not at all (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pact-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(pact_text(document))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _recorded_body(recorded: Mapping[str, Any]) -> tuple[str, str | None]:
    if "json" in recorded:
        return json.dumps(recorded["json"]), "application/json"
    return str(recorded.get("body") or ""), None


def exercised_from_cassette(interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A cassette's recorded exchanges as exercised stubs (one per distinct request, its
    first recording), for `pact_document`."""
    from urllib.parse import urlencode

    from splice._internal.doubles.cassette import MATCH_ON, match_key

    seen: set[tuple[Any, ...]] = set()
    out = []
    for recorded in interactions:
        request, response = recorded["request"], recorded["response"]
        key = match_key(request, MATCH_ON)
        if key in seen:
            continue
        seen.add(key)
        method = str(request.get("method", "GET")).upper()
        path = str(request.get("path", "/"))
        body, json_type = _recorded_body(request)
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        if json_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = json_type
        answer, answer_type = _recorded_body(response)
        answer_headers = [[str(k), str(v)] for k, v in (response.get("headers") or {}).items()]
        if answer_type and not any(k.lower() == "content-type" for k, _ in answer_headers):
            answer_headers.append(["Content-Type", answer_type])
        out.append(
            {
                "stub": {"name": f"{method} {path}", "request": {"headers": {}}},
                "request": {
                    "method": method,
                    "path": path,
                    "query": urlencode(request.get("query") or {}, doseq=True),
                    "headers": {k: v for k, v in headers.items() if k.lower() == "content-type"},
                    "body": body,
                },
                "response": {
                    "status": int(response.get("status", 200)),
                    "headers": answer_headers,
                    "body": answer,
                },
            }
        )
    return out
