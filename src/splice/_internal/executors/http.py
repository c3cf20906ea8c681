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
import binascii
import contextlib
import functools
import hashlib
import json
import socket
import ssl
import threading
import time
import weakref
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import certifi

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors._watchdog import when_cancelled
from splice._internal.executors.executor_api import (
    Block,
    StepContext,
    StepOutput,
    TestcaseSession,
    block_properties,
)
from splice._internal.executors.http_blocks import (
    METHODS,
    PREVIEW_BYTES,
    Auth,
    BodySource,
    FilePart,
    HttpBlock,
)
from splice._internal.executors.http_trust import (
    OAuth2Tokens,
    TlsSettings,
    failure_reason,
    make_tls_context,
    tls_of,
)
from splice._internal.model.durations import parse_duration

if TYPE_CHECKING:
    # httpx loads with the first request, not with the executor: checking a suite loads the
    # executor for its block model and needs no HTTP client
    import httpx


class HttpExecutor:
    """Sends one request; the result has status, headers, text, json, cookies, elapsed."""

    name: ClassVar[str] = "http"
    # its driver, imported while a run's services start (executors.warming)
    warm_modules: ClassVar[tuple[str, ...]] = ("httpx",)
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
        "bytes": "size of the body in bytes (int)",
        "sha256": "SHA-256 of the body's bytes, in hex",
        "md5": "MD5 of the body's bytes, in hex",
        "set_cookies": "cookies the response set, by name, with their attributes: value, "
        "expires, max_age, path, domain, secure, httponly, samesite",
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
    def shorthand_schema(block: dict[str, Any]) -> list[Any]:
        """`http: URL`, `http: "POST URL"`, and `{get: URL, ...}` with one method as a key."""
        properties = block_properties(block)
        url = properties["url"]
        rest = {k: v for k, v in properties.items() if k not in ("method", "url")}
        verbs = {m.lower(): url for m in METHODS}
        keyed = {
            "type": "object",
            "properties": {**verbs, **rest},
            "additionalProperties": False,
            "oneOf": [{"required": [verb]} for verb in verbs],
        }
        return [keyed, {"type": "string", "minLength": 1}]

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        return f"{str(block.get('method', 'GET')).upper()} {block.get('url', '')}"

    def __init__(self) -> None:
        self._tls: dict[TlsSettings, ssl.SSLContext] = {}
        self._tokens = OAuth2Tokens()
        self._tls_lock = threading.Lock()
        self._trusted: set[TlsSettings] = set()  # contexts that have the usual CAs loaded

    def _tls_context(self, tls: TlsSettings) -> ssl.SSLContext:
        """One TLS context per setting for the whole run. A context that trusts the usual
        CAs gets their bundle (~30 ms to load, more than a short run takes) before its
        first https request, in `_trust`: a run that only speaks plain HTTP never loads it."""
        with self._tls_lock:
            context = self._tls.get(tls)
            if context is None:
                context = make_tls_context(tls)
                self._tls[tls] = context
            return context

    def _trust(self, tls: TlsSettings) -> None:
        """Load the usual CAs into `tls`'s context (once), if it trusts them."""
        if not tls.verify or tls.ca is not None or tls in self._trusted:
            return
        with self._tls_lock:
            if tls not in self._trusted:
                self._tls[tls].load_verify_locations(cafile=certifi.where())
                self._trusted.add(tls)

    def _client(self, session: TestcaseSession, tls: TlsSettings) -> tuple[httpx.Client, _Sockets]:
        key = f"http.client.{tls}"
        client: httpx.Client | None = session.state.get(key)
        if client is None:
            # httpx fixes TLS settings per client, so a testcase that mixes them (verify
            # on and off, two client certificates) has a client (and a cookie jar) for
            # each; most use one.
            import httpx

            from splice._internal.executors.http_transport import TrustFirst

            context = self._tls_context(tls)
            transport = httpx.HTTPTransport(verify=context)
            client = httpx.Client(
                verify=context,
                transport=TrustFirst(transport, functools.partial(self._trust, tls)),
            )
            session.state[key] = client
            session.state[f"{key}.sockets"] = _Sockets()
            session.on_close(client.close)
        return client, session.state[f"{key}.sockets"]

    def _authenticate(
        self, auth: Auth, kwargs: dict[str, Any], tls: TlsSettings, timeout: float
    ) -> None:
        if auth.oauth2 is not None:
            context = self._tls_context(tls)
            self._trust(tls)
            token = self._tokens.get(auth.oauth2, context, timeout)
            kwargs["headers"]["Authorization"] = f"Bearer {token}"
        elif auth.bearer is not None:
            kwargs["headers"]["Authorization"] = f"Bearer {auth.bearer}"
        elif auth.scheme == "digest":
            import httpx

            kwargs["auth"] = httpx.DigestAuth(auth.user or "", auth.password)
        else:
            kwargs["auth"] = (auth.user or "", auth.password)

    def execute(self, block: HttpBlock, ctx: StepContext) -> StepOutput:
        import httpx

        timeout = parse_duration(block.timeout) if block.timeout is not None else ctx.timeout
        deadline = timeout if timeout is not None else 30.0
        tls = tls_of(block, ctx.base_dir)
        client, sockets = self._client(ctx.session, tls)
        kwargs: dict[str, Any] = {
            "headers": {
                k: _param(v) if isinstance(v, bool) else str(v) for k, v in block.headers.items()
            },
            "follow_redirects": block.follow_redirects,
            # reads wait as long as the deadline lets them, unless `read_timeout` says less
            "timeout": httpx.Timeout(
                deadline,
                connect=_seconds(block.connect_timeout, deadline),
                read=_seconds(block.read_timeout, None),
            ),
        }
        if block.auth is not None:
            self._authenticate(block.auth, kwargs, tls, ctx.timeout or 30.0)
        files_to_close: list[Any] = []
        _add_body(block, kwargs, ctx.base_dir, files_to_close)
        request_summary = {
            "method": block.method,
            "url": block.url,
            "params": block.params or None,
            "headers": _shown_headers(kwargs["headers"], block.auth) or None,
            "body": _request_body(block),
        }
        extra = {k: str(v) for k, v in block.cookies.items()}
        jar = _jar_for(client, block.send_cookies, extra)
        # httpx's timeouts are per phase (connect, each read); the deadline bounds the whole
        # exchange: once it passes, or the run is interrupted, the watchdog shuts the
        # client's sockets down and the request returns at once (a server that drips its
        # body cannot outlast the step's timeout)
        ends_at = time.monotonic() + deadline
        try:
            url = _with_params(block.url, block.params)
            with when_cancelled(ctx.cancelled, sockets.cut, ends_at):
                trace = functools.partial(sockets.trace, ctx.cancelled, ends_at)
                response = client.request(block.method, url, extensions={"trace": trace}, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            if ctx.cancelled.is_set():
                raise StepInterrupted(
                    f"interrupted while waiting for {block.method} {block.url}"
                ) from exc
            raise _failure(exc, block, deadline, time.monotonic() >= ends_at) from exc
        finally:
            if jar is not None:  # back to the testcase's cookies, with what was set now
                for cookie in client.cookies.jar:
                    if extra.get(cookie.name) != cookie.value or cookie.domain != "":
                        jar.jar.set_cookie(cookie)
                client.cookies = jar
            for f in files_to_close:
                f.close()
        if time.monotonic() >= ends_at:  # the last bytes came in after it
            raise _timed_out(block, deadline)
        return _output(response, request_summary)


def _with_params(url: str, params: dict[str, Any]) -> httpx.URL | str:
    """The URL with `params` added to its own query (httpx's `params=` would replace it);
    a key the URL already has keeps both values, a list value adds one per item."""
    if not params:
        return url
    import httpx

    parsed = httpx.URL(url)
    query = parsed.params
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            query = query.add(key, _query_text(item))
    return parsed.copy_with(params=query)


def _query_text(value: Any) -> str:
    if value is None:
        return ""
    converted = _param(value)
    return converted if isinstance(converted, str) else str(converted)


class _Sockets:
    """The sockets of one client's connections (learnt from httpcore's `trace` extension),
    so that an interrupt can shut them down from another thread: closing a socket does not
    wake a thread blocked reading it, shutting it down does."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    def trace(
        self, cancelled: threading.Event, deadline: float, name: str, info: dict[str, Any]
    ) -> None:
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                with self._lock:
                    self._open.add(sock)
                if cancelled.is_set() or time.monotonic() >= deadline:  # after the cut
                    self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # closed meanwhile
                sock.shutdown(socket.SHUT_RDWR)


def _timed_out(block: HttpBlock, timeout: float) -> StepError:
    return StepError(
        f"{block.method} {block.url} timed out after {timeout:g}s",
        "raise `timeout:` on the step if the service is slow",
    )


def _failure(
    exc: httpx.HTTPError | httpx.InvalidURL, block: HttpBlock, timeout: float, expired: bool
) -> StepError:
    """An httpx error as the step's error, with what to check next."""
    import httpx

    connect_limit = block.connect_timeout is not None
    if (
        expired
        or isinstance(exc, httpx.PoolTimeout | httpx.WriteTimeout)
        or (isinstance(exc, httpx.ConnectTimeout) and not connect_limit)
    ):
        return _timed_out(block, timeout)
    if isinstance(exc, httpx.ConnectTimeout):
        limit = parse_duration(block.connect_timeout)
        return StepError(
            f"{block.method} {block.url}: no connection within {limit:g}s (connect_timeout)",
            "is the host reachable? raise `connect_timeout:` for a slow network",
        )
    if isinstance(exc, httpx.ReadTimeout) and block.read_timeout is not None:
        limit = parse_duration(block.read_timeout)
        return StepError(
            f"{block.method} {block.url}: nothing received for {limit:g}s (read_timeout)",
            "raise `read_timeout:` (between two reads) or `timeout:` (the whole exchange)",
        )
    if isinstance(exc, httpx.ConnectError):
        return StepError(
            f"cannot connect to {block.url}: {failure_reason(exc)}",
            "is the service running and listening on that host and port?",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return StepError(f"invalid URL {block.url!r}: {exc}", "URLs start with http:// or https://")
    return StepError(f"{block.method} {block.url} failed: {failure_reason(exc)}")


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


def _add_body(block: HttpBlock, kwargs: dict[str, Any], base: Path, opened: list[Any]) -> None:
    if block.json_ is not None:
        kwargs["json"] = block.json_
    elif block.form is not None:
        kwargs["data"] = {k: _param(v) for k, v in block.form.items()}
    elif block.multipart is not None:
        kwargs["files"] = _multipart(block.multipart, base, opened)
    elif isinstance(block.body, BodySource):
        kwargs["content"] = _body_bytes(block.body, base)
    elif block.body is not None:
        kwargs["content"] = block.body.encode()


def _shown_headers(headers: dict[str, str], auth: Auth | None) -> dict[str, str]:
    """The request's headers as reports show them: a token splice fetched itself (OAuth2)
    is never shown, as no secret of the suite's names it."""
    if auth is None or auth.oauth2 is None:
        return dict(headers)
    return {**headers, "Authorization": "Bearer ****"}


def _jar_for(
    client: httpx.Client, send: bool | list[str], extra: dict[str, str]
) -> httpx.Cookies | None:
    """For one request the client gets a jar of the testcase's cookies that `send_cookies`
    lets go (redirects included) plus the step's own `cookies`; the testcase's jar is
    returned, to put back. None when the testcase's jar serves as it is."""
    if send is True and not extra:
        return None
    import httpx

    kept = client.cookies
    sent = httpx.Cookies()
    for cookie in kept.jar:
        if send is True or (send is not False and cookie.name in send):
            sent.jar.set_cookie(cookie)
    for name, value in extra.items():
        sent.set(name, value)  # no domain: sent to any host, for this request only
    client.cookies = sent
    return kept


def set_cookies(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """Each Set-Cookie header of `response` by cookie name, with its attributes."""
    found: dict[str, dict[str, Any]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        try:
            parsed.load(header)
        except CookieError:
            continue  # a header the standard cannot read is left out, not fatal
        for name, morsel in parsed.items():
            max_age = morsel["max-age"]
            found[name] = {
                "value": morsel.value,
                "expires": morsel["expires"] or None,
                "max_age": int(max_age) if str(max_age).lstrip("-").isdigit() else None,
                "path": morsel["path"] or None,
                "domain": morsel["domain"] or None,
                "secure": bool(morsel["secure"]),
                "httponly": bool(morsel["httponly"]),
                "samesite": morsel["samesite"] or None,
            }
    return found


def _seconds(value: str | float | None, default: float | None) -> float | None:
    return parse_duration(value) if value is not None else default


def _body_bytes(source: BodySource, base: Path) -> bytes:
    if source.base64 is not None:
        return binascii.a2b_base64(source.base64.encode())
    path = base / (source.file or "")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StepError(
            f"cannot read the body file {str(path)!r}: {exc.strerror or exc}",
            "the path is relative to the suite file",
        ) from exc


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
    if isinstance(block.body, BodySource):
        return block.body.model_dump(exclude_none=True)
    return block.body


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
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "md5": hashlib.md5(raw, usedforsecurity=False).hexdigest(),
        "set_cookies": set_cookies(response),
    }
    if text is None:
        shown: Any = "base64:" + base64.b64encode(raw[:PREVIEW_BYTES]).decode()
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
