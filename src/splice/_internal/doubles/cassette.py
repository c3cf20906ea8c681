"""Cassettes: recorded exchanges as readable YAML, replayed by key, turned into stubs.

    version: 1
    recorded_from: https://api.payments.example
    interactions:
      - request: {method: POST, path: /v1/charges, headers: {...}, json: {amount: 42}}
        response: {status: 201, headers: {...}, json: {id: ch_1, status: succeeded}}
        recorded_at: '2026-01-01T00:00:00+00:00'

Bodies are written as `json:` when they parse as JSON, as `body:` when they are text and
as `base64:` otherwise. Requests match a recording on `match_on` (default method, path,
query and body; JSON bodies compare by value, not by key order).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

VERSION = 1
MATCH_ON = ("method", "path", "query", "body")
HEADER = "# splice cassette: recorded exchanges, secrets scrubbed before writing\n"


class CassetteError(ValueError):
    """A cassette file that cannot be read."""


def body_record(body: bytes, content_type: str = "") -> dict[str, Any]:
    """A body as the cassette writes it."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"body": text}


def match_key(request: dict[str, Any], match_on: Iterable[str]) -> tuple[Any, ...]:
    """What identifies a request for replay."""
    key: list[Any] = []
    for part in match_on:
        if part == "method":
            key.append(str(request.get("method", "GET")).upper())
        elif part == "path":
            key.append(request.get("path", "/"))
        elif part == "query":
            items = []
            for name, value in (request.get("query") or {}).items():
                for one in value if isinstance(value, list) else [value]:
                    items.append((name, str(one)))
            key.append(tuple(sorted(items)))
        elif part == "body":
            if "json" in request:
                key.append(("json", json.dumps(request["json"], sort_keys=True)))
            else:
                key.append(("text", request.get("body") or request.get("base64") or ""))
    return tuple(key)


class Cassette:
    """The interactions of one cassette file."""

    def __init__(self, path: Path, interactions: list[dict[str, Any]] | None = None) -> None:
        self.path = path
        self.interactions = interactions or []
        self.recorded_from: str | None = None

    @classmethod
    def load(cls, path: Path) -> Cassette:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CassetteError(f"cannot read cassette {str(path)!r}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CassetteError(
                f"cassette {str(path)!r} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                f"at offset {exc.start})"
            ) from exc
        except yaml.YAMLError as exc:
            raise CassetteError(f"cassette {str(path)!r} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        interactions = data.get("interactions") if isinstance(data, dict) else None
        if not isinstance(interactions, list) or not all(
            isinstance(i, dict)
            and isinstance(i.get("request"), dict)
            and isinstance(i.get("response"), dict)
            for i in interactions
        ):
            raise CassetteError(
                f"cassette {str(path)!r} has no `interactions:` list of request/response pairs"
            )
        cassette = cls(path, interactions)
        cassette.recorded_from = data.get("recorded_from")
        return cassette

    def save(self) -> None:
        """Write atomically: a reader never sees half a cassette."""
        data: dict[str, Any] = {"version": VERSION}
        if self.recorded_from:
            data["recorded_from"] = self.recorded_from
        data["interactions"] = self.interactions
        text = HEADER + yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temp.write_text(text, encoding="utf-8")
        temp.replace(self.path)


def to_stubs(
    interactions: list[dict[str, Any]], match_on: Iterable[str] = MATCH_ON
) -> list[dict[str, Any]]:
    """Stubs that answer as the cassette does: one stub per distinct request, with the
    recorded responses as a sequence (the last one repeats)."""
    match_on = tuple(match_on)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for interaction in interactions:
        groups.setdefault(match_key(interaction["request"], match_on), []).append(interaction)
    stubs = []
    for group in groups.values():
        request = group[0]["request"]
        spec: dict[str, Any] = {}
        if "method" in match_on:
            spec["method"] = str(request.get("method", "GET")).upper()
        if "path" in match_on:
            spec["path"] = request.get("path", "/")
        if "query" in match_on and request.get("query"):
            spec["query"] = {
                k: (v[0] if isinstance(v, list) and v else v) for k, v in request["query"].items()
            }
        if "body" in match_on:
            if "json" in request:
                spec["body"] = {"json": request["json"]}
            elif request.get("body"):
                spec["body"] = {"equal": request["body"]}
        responses = [_response(i["response"]) for i in group]
        stub: dict[str, Any] = {"name": f"{spec.get('method', 'ANY')} {request.get('path', '/')}"}
        stub["request"] = spec
        if len(responses) == 1:
            stub["response"] = responses[0]
        else:
            stub["responses"] = responses
        stubs.append(stub)
    return stubs


def _response(recorded: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": int(recorded.get("status", 200))}
    headers = recorded.get("headers") or {}
    if headers:
        out["headers"] = headers
    for key in ("json", "body", "base64"):
        if key in recorded:
            out[key] = recorded[key]
            break
    out["template"] = False  # recorded text is data, never a template
    return out
