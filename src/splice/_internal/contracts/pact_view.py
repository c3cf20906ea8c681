"""A stored pact as the dashboard shows it: each interaction's kind, description, provider
states, what the consumer sends and what it expects back (or the message it expects), and
the matching rules that loosen the examples, read through the same parser as verification
(`pact.parse_pact`), so every Pact specification version reads alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from splice._internal.contracts.model import Body
from splice._internal.contracts.pact import Interaction, parse_pact
from splice._internal.contracts.rules import Rules
from splice._internal.errors import SuiteError


def interactions(content: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The interactions of a pact's JSON, and the problem when it cannot be read (a
    pact published before splice checked them, or by a broker call that did not)."""
    try:
        pact = parse_pact(json.dumps(content), Path("pact.json"))
    except SuiteError as exc:
        return [], str(exc)
    return [_view(item) for item in pact.interactions], None


def _view(item: Interaction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": item.index,
        "kind": item.kind,
        "description": item.description,
        "states": [{"name": s.name, "params": s.params} for s in item.states],
        "pending": item.pending,
        "request": None,
        "response": None,
        "message": None,
        "rules": [],
    }
    if item.request is not None:
        request = item.request
        query = "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
        out["request"] = {
            "line": f"{request.method} {request.path}" + (f"?{query}" if query else ""),
            "headers": _headers(request.headers),
            "body": _body(request.body),
        }
        out["rules"] += _rules("request", request.rules)
    if item.response is not None:
        response = item.response
        out["response"] = {
            "status": response.status,
            "headers": _headers(response.headers),
            "body": _body(response.body),
        }
        out["rules"] += _rules("response", response.rules)
    if item.message is not None:
        message = item.message
        out["message"] = {"contents": _body(message.contents), "metadata": message.metadata}
        out["rules"] += _rules("message", message.rules)
    return out


def _headers(headers: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, ", ".join(values)) for name, values in headers.items()]


def _body(body: Body | None) -> str | None:
    """The body as text to show: JSON indented, text as it is, binary by its size."""
    if body is None or (body.empty and body.content in (None, "")):
        return None
    if isinstance(body.content, bytes):
        return f"<{len(body.content)} bytes of {body.content_type or 'binary data'}>"
    if isinstance(body.content, str):
        return body.content
    return json.dumps(body.content, indent=2, ensure_ascii=False)


def _rules(where: str, rules: Rules) -> list[dict[str, str]]:
    out = []
    for category, entries in rules.paths.items():
        for path, _tokens, rule_list in entries:
            shown = f" {rule_list.combine} ".join(
                matcher.kind
                + "".join(f" {key}={json.dumps(value)}" for key, value in matcher.params.items())
                for matcher in rule_list.matchers
            )
            out.append({"where": f"{where} {category}", "path": path, "matchers": shown})
    return out
