"""The `http` executor: one HTTP request with httpx, cookies kept across a testcase.

- http:
    post: "{{ base }}/orders"        # or method: POST + url: ...
    params: {page: 2}
    headers: {X-Trace: abc}
    json: {sku: A, qty: 2}           # or form:, multipart:, body:
    auth: {user: alice, password: s3cret}   # basic; or bearer: TOKEN
    follow_redirects: false
    verify: false
    timeout: 5s
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import functools
import json
import socket
import ssl
import threading
import weakref
from pathlib import Path
from typing import Any, ClassVar

import certifi
import httpx
from pydantic import Field, field_validator, model_validator

from splice.errors import StepError, StepInterrupted
from splice.executors._watchdog import when_cancelled
from splice.executors.base import Block, StepContext, StepOutput, TestcaseSession
from splice.loader.diagnostics import HintedValueError
from splice.model.durations import parse_duration

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_BODY_KEYS = ("json", "form", "multipart", "body")
_PREVIEW = 4096


class Auth(Block):
    user: str | None = None
    password: str = ""
    bearer: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Auth:
        if (self.user is None) == (self.bearer is None):
            raise ValueError("auth takes either `user` (and `password`) or `bearer`")
        return self


class FilePart(Block):
    file: str
    filename: str | None = None
    content_type: str | None = None


class HttpBlock(Block):
    method: str = "GET"
    url: str
    params: dict[str, Any] = {}
    headers: dict[str, str | int | float | bool] = {}
    cookies: dict[str, str | int | float] = {}
    json_: Any = Field(default=None, alias="json")
    form: dict[str, Any] | None = None
    multipart: dict[str, str | FilePart] | None = None
    body: str | None = None
    auth: Auth | None = None
    follow_redirects: bool = True
    verify: bool = True
    timeout: str | float | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in METHODS:
            close = difflib.get_close_matches(upper, METHODS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown HTTP method {value!r}: expected one of {', '.join(METHODS)}{hint}"
            )
        return upper

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise HintedValueError(*problem)
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpBlock:
        given = [k for k in _BODY_KEYS if getattr(self, "json_" if k == "json" else k) is not None]
        if len(given) > 1:
            raise ValueError(f"a request has one body, found {' and '.join(given)}")
        return self


class HttpExecutor:
    """Sends one request; the result has status, headers, text, json, cookies, elapsed."""

    name: ClassVar[str] = "http"
    block_model: ClassVar[type[Block]] = HttpBlock
    result_fields: ClassVar[dict[str, str]] = {
        "status": "status code (int)",
        "headers": "response headers, names in lower case",
        "text": "body as text",
        "json": "body parsed as JSON (null when it is not JSON)",
        "body": "alias of text",
        "cookies": "cookies the response set",
        "elapsed": "seconds from sending the request to the end of the response",
        "url": "final URL after redirects",
        "http_version": "protocol version, e.g. HTTP/1.1",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset({"headers"})

    @staticmethod
    def shorthand(raw: Any) -> Any:
        """`get: URL` (any method as a key) instead of `method:` plus `url:`."""
        if not isinstance(raw, dict):
            if isinstance(raw, str):
                method, _, url = raw.strip().partition(" ")
                if url and method.upper() in METHODS:
                    return {"method": method, "url": url.strip()}
                return {"url": raw}
            return raw
        verbs = [k for k in raw if isinstance(k, str) and k.upper() in METHODS and k.islower()]
        if not verbs:
            return raw
        if len(verbs) > 1 or "method" in raw or "url" in raw:
            raise ValueError("give the method once: either `get: URL` or `method:` with `url:`")
        out = {k: v for k, v in raw.items() if k != verbs[0]}
        return {"method": verbs[0].upper(), "url": raw[verbs[0]], **out}

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        return f"{str(block.get('method', 'GET')).upper()} {block.get('url', '')}"

    def __init__(self) -> None:
        self._tls: dict[bool, ssl.SSLContext] = {}
        self._tls_lock = threading.Lock()
        self._trusted = False  # the CA bundle is in the verifying context

    def _tls_context(self, verify: bool) -> ssl.SSLContext:
        """One TLS context per setting for the whole run. The verifying one gets its CA
        bundle (~30 ms to load, more than a short run takes) before its first https
        request, in `_trust`: a run that only speaks plain HTTP never loads it."""
        with self._tls_lock:
            context = self._tls.get(verify)
            if context is None:
                # PROTOCOL_TLS_CLIENT: hostname checked, certificate required, as
                # ssl.create_default_context sets them
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                if not verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._tls[verify] = context
            return context

    def _trust(self) -> None:
        if self._trusted:
            return
        with self._tls_lock:
            if not self._trusted:
                self._tls[True].load_verify_locations(cafile=certifi.where())
                self._trusted = True

    def _client(self, session: TestcaseSession, verify: bool) -> tuple[httpx.Client, _Sockets]:
        key = f"http.client.{verify}"
        client: httpx.Client | None = session.state.get(key)
        if client is None:
            # httpx fixes TLS verification per client, so a testcase that mixes verify
            # on and off has two clients (and two cookie jars); most use one.
            context = self._tls_context(verify)
            transport = httpx.HTTPTransport(verify=context)
            client = httpx.Client(
                verify=context,
                transport=_TrustFirst(transport, self._trust) if verify else transport,
            )
            session.state[key] = client
            session.state[f"{key}.sockets"] = _Sockets()
            session.on_close(client.close)
        return client, session.state[f"{key}.sockets"]

    def execute(self, block: HttpBlock, ctx: StepContext) -> StepOutput:
        timeout = parse_duration(block.timeout) if block.timeout is not None else ctx.timeout
        client, sockets = self._client(ctx.session, block.verify)
        kwargs: dict[str, Any] = {
            "headers": {
                k: _param(v) if isinstance(v, bool) else str(v) for k, v in block.headers.items()
            },
            "follow_redirects": block.follow_redirects,
            "timeout": timeout if timeout is not None else 30.0,
        }
        if block.params:  # an empty mapping would make httpx drop the URL's own query
            kwargs["params"] = {k: _param(v) for k, v in block.params.items()}
        if block.cookies:
            kwargs["cookies"] = {k: str(v) for k, v in block.cookies.items()}
        if block.auth is not None:
            if block.auth.bearer is not None:
                kwargs["headers"]["Authorization"] = f"Bearer {block.auth.bearer}"
            else:
                kwargs["auth"] = (block.auth.user or "", block.auth.password)
        files_to_close: list[Any] = []
        if block.json_ is not None:
            kwargs["json"] = block.json_
        elif block.form is not None:
            kwargs["data"] = {k: _param(v) for k, v in block.form.items()}
        elif block.multipart is not None:
            kwargs["files"] = _multipart(block.multipart, ctx.base_dir, files_to_close)
        elif block.body is not None:
            kwargs["content"] = block.body.encode()
        request_summary = {
            "method": block.method,
            "url": block.url,
            "params": block.params or None,
            "headers": kwargs["headers"] or None,
            "body": _request_body(block),
        }
        try:
            # an interrupted run shuts the client's sockets down: the request returns at once
            with when_cancelled(ctx.cancelled, sockets.cut):
                trace = functools.partial(sockets.trace, ctx.cancelled)
                response = client.request(
                    block.method, block.url, extensions={"trace": trace}, **kwargs
                )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            if ctx.cancelled.is_set():
                raise StepInterrupted(
                    f"interrupted while waiting for {block.method} {block.url}"
                ) from exc
            raise _failure(exc, block, kwargs["timeout"]) from exc
        finally:
            for f in files_to_close:
                f.close()
        return _output(response, request_summary)


class _TrustFirst(httpx.BaseTransport):
    """A transport that has the CA bundle loaded before each https request (a redirect's
    too): see `HttpExecutor._tls_context`."""

    def __init__(self, transport: httpx.BaseTransport, trust: Any) -> None:
        self._transport, self._load = transport, trust

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._load()
        return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()


class _Sockets:
    """The sockets of one client's connections (learnt from httpcore's `trace` extension),
    so that an interrupt can shut them down from another thread: closing a socket does not
    wake a thread blocked reading it, shutting it down does."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    def trace(self, cancelled: threading.Event, name: str, info: dict[str, Any]) -> None:
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                with self._lock:
                    self._open.add(sock)
                if cancelled.is_set():  # connected after the cut: cut this one too
                    self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # closed meanwhile
                sock.shutdown(socket.SHUT_RDWR)


def _failure(
    exc: httpx.HTTPError | httpx.InvalidURL, block: HttpBlock, timeout: float
) -> StepError:
    """An httpx error as the step's error, with what to check next."""
    if isinstance(exc, httpx.TimeoutException):
        return StepError(
            f"{block.method} {block.url} timed out after {timeout:g}s",
            "raise `timeout:` on the step if the service is slow",
        )
    if isinstance(exc, httpx.ConnectError):
        return StepError(
            f"cannot connect to {block.url}: {_reason(exc)}",
            "is the service running and listening on that host and port?",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return StepError(f"invalid URL {block.url!r}: {exc}", "URLs start with http:// or https://")
    return StepError(f"{block.method} {block.url} failed: {_reason(exc)}")


@functools.lru_cache(maxsize=4096)
def url_problem(url: str) -> tuple[str, str] | None:
    """Why `url` cannot be requested (message, hint), or None when it can (cached: steps
    repeat their URLs, and parsing one costs ~0.1 ms)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return (
            f"invalid URL {url!r}: {exc}",
            "check the host (an IPv6 address goes in brackets: http://[::1]:8080/) and the port",
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return (
            f"{url!r} is not an http:// or https:// URL",
            "write the whole URL, e.g. http://127.0.0.1:8080/orders, or build it from a "
            "variable: '{{ services.app.url }}/orders'",
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return (f"invalid URL {url!r}: port {parsed.port} is out of range", "ports are 1 to 65535")
    return None


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _multipart(parts: dict[str, Any], base: Path, opened: list[Any]) -> list[Any]:
    files: list[tuple[str, Any]] = []
    for name, part in parts.items():
        if isinstance(part, FilePart):
            path = base / part.file
            try:
                handle = path.open("rb")
            except OSError as exc:
                raise StepError(
                    f"cannot open multipart file {str(path)!r}: {exc.strerror}"
                ) from exc
            opened.append(handle)
            filename = part.filename or path.name
            if part.content_type:
                files.append((name, (filename, handle, part.content_type)))
            else:
                files.append((name, (filename, handle)))
        else:
            files.append((name, (None, str(part).encode())))
    return files


def _request_body(block: HttpBlock) -> Any:
    if block.json_ is not None:
        return block.json_
    if block.form is not None:
        return block.form
    if block.multipart is not None:
        return {
            k: (v.model_dump(exclude_none=True) if isinstance(v, FilePart) else v)
            for k, v in block.multipart.items()
        }
    return block.body


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host (DNS lookup failed)"
    return text


def _sets_cookies(response: httpx.Response) -> bool:
    """Whether the response has the headers `response.cookies` reads cookies from."""
    return "set-cookie" in response.headers or "set-cookie2" in response.headers


def _output(response: httpx.Response, request_summary: dict[str, Any]) -> StepOutput:
    raw = response.content
    try:
        text = raw.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        text = None
    parsed: Any = None
    if text is not None and text.strip():
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    headers = {k.lower(): v for k, v in response.headers.items()}
    elapsed = response.elapsed.total_seconds()
    result = {
        "status": response.status_code,
        "headers": headers,
        "text": text if text is not None else "",
        "body": text if text is not None else "",
        "json": parsed,
        # reading cookies builds a cookie jar (~0.1 ms); most responses set none
        "cookies": dict(response.cookies) if _sets_cookies(response) else {},
        "elapsed": elapsed,
        "url": str(response.url),
        "http_version": response.http_version,
    }
    if text is None:
        shown: Any = "base64:" + base64.b64encode(raw[:_PREVIEW]).decode()
    else:
        shown = parsed if parsed is not None else text
    response_summary = {
        "status": response.status_code,
        "headers": headers,
        "body": shown,
        "elapsed_ms": round(elapsed * 1000, 2),
    }
    request_summary["url"] = str(response.request.url)
    return StepOutput(result, request_summary, response_summary)
