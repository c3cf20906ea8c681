"""The parts of a pact interaction: requests, responses, messages and their bodies.

One model for every spelling a pact may use (V2/V3 bodies are the JSON value itself or a
string, V4 bodies are `{"content", "contentType", "encoded"}`; V3 headers are strings, V4
headers lists), read by `Part.read_*` with a `PactProblem` naming the JSON path of anything
malformed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from splice._internal.contracts.problems import PactProblem
from splice._internal.contracts.rules import Rules

Where = tuple[Any, ...]


@dataclass
class Body:
    """A body as a pact states it: its content and what kind of content that is."""

    content: Any  # a JSON value, text, or bytes for a binary body
    content_type: str | None = None
    empty: bool = False  # stated as null or "": nothing (or an empty body) is expected

    @property
    def kind(self) -> str:
        """json, xml, text or binary: from the content type, else from the content."""
        ct = (self.content_type or "").split(";")[0].strip().lower()
        if isinstance(self.content, bytes):
            return "binary"
        if ct.endswith("json") or ct.endswith("+json"):
            return "json"
        if ct.endswith("xml") or ct.endswith("+xml"):
            return "xml"
        if ct:
            return "text" if isinstance(self.content, str) else "json"
        if isinstance(self.content, str):
            stripped = self.content.lstrip()
            if stripped.startswith("<"):
                return "xml"
            return "text"
        return "json"

    def to_v4(self) -> dict[str, Any]:
        if isinstance(self.content, bytes):
            return {
                "content": base64.b64encode(self.content).decode(),
                "contentType": self.content_type or "application/octet-stream",
                "encoded": "base64",
            }
        out: dict[str, Any] = {"content": self.content, "encoded": False}
        if self.content_type:
            out["contentType"] = self.content_type
        return out


def header_content_type(headers: Mapping[str, list[str]]) -> str | None:
    for name, values in headers.items():
        if name.lower() == "content-type" and values:
            return values[0]
    return None


def read_body(raw: Any, where: Where, headers: Mapping[str, list[str]], *, v4: bool) -> Body:
    """A body in any spelling; `v4` says whether the pact writes bodies as objects."""
    header_type = header_content_type(headers)
    if raw is None:
        return Body(None, header_type, empty=True)
    if v4 and isinstance(raw, Mapping) and "content" in raw:
        content = raw.get("content")
        ctype = raw.get("contentType") or header_type
        encoded = raw.get("encoded", False)
        if encoded in ("base64", True) and isinstance(content, str):
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise PactProblem(
                    "the body says it is base64 but is not", (*where, "content")
                ) from None
            try:
                return Body(data.decode(), ctype, empty=not data)
            except UnicodeDecodeError:
                return Body(data, ctype)
        if encoded == "json" and isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError as exc:
                raise PactProblem(
                    f"the body says it is JSON text but is not: {exc}", (*where, "content")
                ) from None
        if isinstance(ctype, str) and "json" in ctype.lower() and isinstance(content, str):
            with contextlib.suppress(ValueError):  # JSON content type over text: text
                content = json.loads(content) if content.strip() else content
        return Body(content, ctype, empty=content is None or content == "")
    if raw == "":
        return Body("", header_type, empty=True)
    return Body(raw, header_type)


def read_headers(raw: Any, where: Where) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PactProblem("'headers' must be an object of names and values", where)
    out: dict[str, list[str]] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            out[str(name)] = [str(v) for v in value]
        elif isinstance(value, str | int | float):
            out[str(name)] = [str(value)]
        else:
            raise PactProblem(
                f"header {name!r} must be a string or a list of strings", (*where, name)
            )
    return out


def read_query(raw: Any, where: Where) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if isinstance(raw, str):  # V2: a query string
        out: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw, keep_blank_values=True):
            out.setdefault(name, []).append(value)
        return out
    if not isinstance(raw, Mapping):
        raise PactProblem("'query' must be an object of names and lists of values", where)
    parsed: dict[str, list[str]] = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        parsed[str(name)] = ["" if v is None else str(v) for v in values]
    return parsed


@dataclass
class Request:
    method: str = "GET"
    path: str = "/"
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: Body | None = None  # None: the pact says nothing about the body
    rules: Rules = field(default_factory=Rules)
    generators: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, raw: Any, where: Where, *, v4: bool) -> Request:
        if not isinstance(raw, Mapping):
            raise PactProblem("'request' must be an object", where)
        method = raw.get("method", "GET")
        if not isinstance(method, str) or not method.strip():
            raise PactProblem("'method' must be an HTTP method such as GET", (*where, "method"))
        path = raw.get("path", "/")
        if not isinstance(path, str):
            raise PactProblem("'path' must be a string", (*where, "path"))
        headers = read_headers(raw.get("headers"), (*where, "headers"))
        body = read_body(raw["body"], (*where, "body"), headers, v4=v4) if "body" in raw else None
        return cls(
            method=method.upper(),
            path=path,
            query=read_query(raw.get("query"), (*where, "query")),
            headers=headers,
            body=body,
            rules=Rules.read(raw.get("matchingRules"), (*where, "matchingRules")),
            generators=dict(raw.get("generators") or {}),
        )


@dataclass
class Response:
    status: int | None = 200
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: Body | None = None
    rules: Rules = field(default_factory=Rules)
    generators: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, raw: Any, where: Where, *, v4: bool) -> Response:
        if not isinstance(raw, Mapping):
            raise PactProblem("'response' must be an object", where)
        status = raw.get("status")
        if status is not None and (
            not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
        ):
            raise PactProblem(
                f"'status' must be an HTTP status from 100 to 599, not {status!r}",
                (*where, "status"),
            )
        headers = read_headers(raw.get("headers"), (*where, "headers"))
        body = read_body(raw["body"], (*where, "body"), headers, v4=v4) if "body" in raw else None
        return cls(
            status=status,
            headers=headers,
            body=body,
            rules=Rules.read(raw.get("matchingRules"), (*where, "matchingRules")),
            generators=dict(raw.get("generators") or {}),
        )


@dataclass
class Message:
    """An asynchronous message: contents and metadata (V3 `metaData`, V4 `metadata`)."""

    contents: Body | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    rules: Rules = field(default_factory=Rules)

    @classmethod
    def read(cls, raw: Any, where: Where, *, v4: bool) -> Message:
        if not isinstance(raw, Mapping):
            raise PactProblem("a message must be an object", where)
        metadata = raw.get("metadata", raw.get("metaData")) or {}
        if not isinstance(metadata, Mapping):
            raise PactProblem("'metadata' must be an object", (*where, "metadata"))
        ctype = metadata.get("contentType") or metadata.get("content-type")
        headers = {"Content-Type": [str(ctype)]} if ctype else {}
        contents = None
        if "contents" in raw:
            contents = read_body(raw["contents"], (*where, "contents"), headers, v4=v4)
        return cls(
            contents=contents,
            metadata=dict(metadata),
            rules=Rules.read(raw.get("matchingRules"), (*where, "matchingRules")),
        )
