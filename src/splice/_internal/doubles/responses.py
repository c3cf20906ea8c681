"""Responses compiled once: static ones become the exact bytes to write.

A response is templated when `template: true`, or when `template` is not given and its
body or a header holds `{{` or `{%`. Templates are splice's sandboxed Jinja with
`request.*` (method, url, path, path_parts, params, query, headers, cookies, body, json,
form) and the usual functions (`now()`, `uuid()`, `random_int()`...). A JSON body keeps
its types: `amount: "{{ request.json.amount }}"` stays a number.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import random
from pathlib import Path
from typing import Any

from splice._internal.doubles.http11 import response_bytes
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.model import DelayRange, ResponseSpec
from splice._internal.model.durations import parse_duration

MALFORMED_CHUNK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'zz not a chunk size\r\n{"partial\r\n'
)
RANDOM_DATA = b"\x8b\x1f\x00garbage that is no HTTP response\xff\xfe\r\n\r\n"


class ResponseError(ValueError):
    """A response that cannot be compiled (a missing file, a template syntax error)."""


class Answer:
    """A compiled response."""

    __slots__ = (
        "delay",
        "fault",
        "full",
        "head",
        "headers",
        "payload",
        "status",
        "templated",
    )

    def __init__(self, spec: ResponseSpec, base_dir: Path | None = None) -> None:
        self.status = spec.status
        self.fault = spec.fault
        self.delay = _delay(spec.delay)
        given = spec.given()
        headers: dict[str, Any] = dict(spec.headers)
        payload: Any  # text, bytes, or a JSON value (before templating)
        if "json" in given:
            payload = spec.json_
            _default(headers, "Content-Type", "application/json")
        elif spec.base64 is not None:
            payload = base64.b64decode(spec.base64)
            _default(headers, "Content-Type", "application/octet-stream")
        elif spec.file is not None:
            payload = _read(spec.file, base_dir)
            guessed = mimetypes.guess_type(spec.file)[0] or "application/octet-stream"
            _default(headers, "Content-Type", guessed)
        elif spec.body is not None:
            payload = spec.body
            _default(headers, "Content-Type", "text/plain; charset=utf-8")
        else:
            payload = b""
        self.headers = headers
        self.payload = payload
        wanted = spec.template
        self.templated = (
            wanted if wanted is not None else _has_template(payload) or _has_template(headers)
        )
        if "json" in given and not self.templated:
            self.payload = json.dumps(payload, ensure_ascii=False).encode()
        if self.templated:
            self._check_templates()
            self.full = self.head = b""
        else:
            body = self.payload if isinstance(self.payload, bytes) else self.payload.encode()
            pairs = _pairs(headers)
            self.full = response_bytes(self.status, pairs, body)
            self.head = response_bytes(self.status, pairs, body, head_only=True)

    def _check_templates(self) -> None:
        from splice._internal.templating import syntax_error

        for text in _strings([self.payload, self.headers]):
            problem = syntax_error(text)
            if problem is not None:
                raise ResponseError(
                    f"{problem.message} in {text!r}"
                    + (f" ({problem.hint})" if problem.hint else "")
                )

    def render(self, request: Incoming) -> bytes:
        """The bytes to send for `request`."""
        head_only = request.method == "HEAD"
        if not self.templated:
            return self.head if head_only else self.full
        from splice._internal.templating import TemplateFailure, render

        scope = {"request": request.template_scope()}
        try:
            headers = render(self.headers, scope)
            payload = self.payload
            if isinstance(payload, str):
                body = str(render(payload, scope)).encode()
            elif isinstance(payload, bytes):
                body = payload
            else:
                body = json.dumps(render(payload, scope), ensure_ascii=False, default=str).encode()
        except TemplateFailure as exc:
            message = f"response template failed: {exc.message}\n".encode()
            return response_bytes(500, [("Content-Type", "text/plain")], message)
        return response_bytes(self.status, _pairs(headers), body, head_only=head_only)

    def pause(self) -> float:
        """Seconds to wait before answering (0: none)."""
        if self.delay is None:
            return 0.0
        low, high = self.delay
        return low if low == high else random.uniform(low, high)  # test timing, not crypto


def _delay(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, DelayRange):
        return parse_duration(value.min), parse_duration(value.max)
    seconds = parse_duration(value)
    return (seconds, seconds) if seconds > 0 else None


def _default(headers: dict[str, Any], name: str, value: str) -> None:
    if not any(k.lower() == name.lower() for k in headers):
        headers[name] = value


def _pairs(headers: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers.items():
        for one in value if isinstance(value, list) else [value]:
            out.append((str(name), _text(one)))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _has_template(value: Any) -> bool:
    return any("{{" in s or "{%" in s for s in _strings(value))


def _read(name: str, base_dir: Path | None) -> str | bytes:
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResponseError(f"cannot read the body file {str(path)!r}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8")  # text can be templated
    except UnicodeDecodeError:
        return data
