"""A received request as matchers, templates and the journal see it.

Everything beyond method and path is computed on first use: a trivial stub that matches
on method and path never parses the query, the cookies or the body.
"""

from __future__ import annotations

import base64
import json
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from splice._internal.doubles.http11 import Request

_NOT_JSON = object()


class Incoming:
    """Lazy views of one request: query, cookies, text, JSON, form fields."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.method = request.method
        self.path = request.path
        self.params: dict[str, str] = {}  # filled by a path template or a regex's groups

    @property
    def headers(self) -> dict[str, str]:
        return self.request.headers

    @property
    def target(self) -> str:
        return self.request.target

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.request.query_string, keep_blank_values=True)

    @cached_property
    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.request.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                out.setdefault(name.strip(), value.strip())
        return out

    @cached_property
    def text(self) -> str:
        return self.request.body.decode("utf-8", "replace")

    @cached_property
    def _json(self) -> Any:
        body = self.request.body
        if not body.strip():
            return _NOT_JSON
        try:
            return json.loads(body)
        except ValueError:
            return _NOT_JSON

    @property
    def is_json(self) -> bool:
        return self._json is not _NOT_JSON

    @property
    def json(self) -> Any:
        """The body parsed as JSON; None when it is not JSON (check `is_json`)."""
        value = self._json
        return None if value is _NOT_JSON else value

    @cached_property
    def form(self) -> dict[str, list[str]]:
        kind = self.request.headers.get("content-type", "")
        if "multipart/" in kind:
            return _multipart_fields(self.request.body, kind)
        return parse_qs(self.text, keep_blank_values=True)

    def template_scope(self) -> dict[str, Any]:
        """`request.*` in response templates."""
        return {
            "method": self.method,
            "url": self.request.target,
            "path": self.path,
            "path_parts": [p for p in self.path.split("/") if p],
            "params": dict(self.params),
            "query": {k: v[0] for k, v in self.query.items()},
            "query_all": self.query,
            "headers": dict(self.headers),
            "cookies": self.cookies,
            "body": self.text,
            "json": self.json,
            "form": {k: v[0] for k, v in self.form.items()},
        }


def describe(request: Request, *, body_limit: int = 4096) -> dict[str, Any]:
    """A request as plain data: for the journal API, near-miss reports and cassettes."""
    view = Incoming(request)
    out: dict[str, Any] = {
        "method": request.method,
        "url": request.target,
        "path": request.path,
        "query": {k: v[0] if len(v) == 1 else v for k, v in view.query.items()},
        "headers": dict(request.headers),
    }
    body = request.body
    if body:
        if view.is_json:
            out["json"] = view.json
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            out["base64"] = base64.b64encode(body[:body_limit]).decode()
        else:
            out["body"] = text if len(text) <= body_limit else text[:body_limit] + "…"
    return out


def _multipart_fields(body: bytes, content_type: str) -> dict[str, list[str]]:
    """Text fields of a multipart/form-data body (files by their file name)."""
    boundary = ""
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return {}
    out: dict[str, list[str]] = {}
    for chunk in body.split(b"--" + boundary.encode()):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        name = filename = None
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for item in line.split(";")[1:]:
                    key, _, value = item.strip().partition("=")
                    if key == "name":
                        name = value.strip('"')
                    elif key == "filename":
                        filename = value.strip('"')
        if name is not None:
            value_bytes = data[:-2] if data.endswith(b"\r\n") else data
            text = filename if filename is not None else value_bytes.decode("utf-8", "replace")
            out.setdefault(name, []).append(text)
    return out
