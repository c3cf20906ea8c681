"""A real HTTP server for tests: echoes requests and offers the endpoints the http
executor's features need (cookies, redirects, auth, slow replies, eventual state)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: EchoServer

    def version_string(self) -> str:
        return "echo"  # fixed, so golden reports do not depend on Python's version

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Thu, 01 Jan 2026 00:00:00 GMT"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        body = (
            raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        self.send_response(status)
        if raw is None and payload is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:  # noqa: PLR0915 - one flat router of the test endpoints
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        body = self._body()
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        if path == "/echo":
            text = body.decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            self._send(
                200,
                {
                    "method": self.command,
                    "path": path,
                    "query": {k: v[0] if len(v) == 1 else v for k, v in query.items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": text,
                    "json": parsed,
                },
                {"X-Request-Id": "req-42"},
            )
        elif path == "/status":
            self._send(int(query.get("code", ["200"])[0]), {"ok": False})
        elif path == "/set-cookie":
            self._send(200, {"set": True}, {"Set-Cookie": "session=s3ss10n; Path=/"})
        elif path == "/set-cookies":  # two cookies, with attributes
            self.send_response(200)
            self.send_header(
                "Set-Cookie",
                "session=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict",
            )
            self.send_header("Set-Cookie", "theme=dark; Expires=Wed, 01 Jan 2031 00:00:00 GMT")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/cookies":
            self._send(200, {"cookie": self.headers.get("Cookie")})
        elif path == "/redirect":
            self._send(302, None, {"Location": "/echo"})
        elif path == "/basic":
            expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            ok = self.headers.get("Authorization") == expected
            self._send(200 if ok else 401, {"authenticated": ok})
        elif path == "/slow":
            time.sleep(float(query.get("s", ["1"])[0]))
            self._send(200, {"slow": True})
        elif path == "/drip":
            # a body sent a few bytes at a time: each read is quick, the whole is slow
            pieces, every = int(query.get("n", ["10"])[0]), float(query.get("every", ["0.1"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(pieces))
            self.end_headers()
            try:
                for _ in range(pieces):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(every)
            except OSError:
                pass  # the client gave up, as it should
        elif path == "/counter":
            # eventual consistency: `ready` turns true on the Nth call
            n = self.server.hits[path]
            self._send(200, {"calls": n, "ready": n >= int(query.get("after", ["3"])[0])})
        elif path == "/html":
            self._send(
                200,
                raw=b"<html><body>Hello <b>world</b> id=77</body></html>",
                headers={"Content-Type": "text/html"},
            )
        elif self._more(path, query, body):
            pass
        elif path == "/items":
            self._send(
                200,
                {
                    "total": 3,
                    "items": [
                        {"id": 1, "name": "a"},
                        {"id": 2, "name": "b"},
                        {"id": 3, "name": "c"},
                    ],
                },
            )
        else:
            self._send(404, {"error": "not found", "path": path})

    def _more(self, path: str, query: dict[str, list[str]], body: bytes) -> bool:
        """Binary, digest-auth, slow-drip and OAuth2 endpoints; whether `path` was one."""
        if path == "/bytes":  # binary: n bytes 0, 1, ..., 255, 0, ...
            self._send(
                200,
                raw=bytes(i % 256 for i in range(int(query.get("n", ["256"])[0]))),
                headers={"Content-Type": "application/octet-stream"},
            )
        elif path == "/digest-of-body":
            self._send(200, {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})
        elif path == "/digest":
            self._digest_auth()
        elif path == "/oauth/token":  # client credentials: shop / s3cret; tokens live 1 s
            expected = "Basic " + base64.b64encode(b"shop:s3cret").decode()
            form = parse_qs(body.decode())
            if self.headers.get("Authorization") != expected:
                self._send(401, {"error": "invalid_client"})
            elif form.get("grant_type") != ["client_credentials"]:
                self._send(400, {"error": "unsupported_grant_type"})
            else:
                self.server.tokens += 1
                token = f"tok-{self.server.tokens}"
                self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 1})
        elif path == "/oauth/me":
            auth = self.headers.get("Authorization", "")
            ok = auth.startswith("Bearer tok-")
            self._send(200 if ok else 401, {"token": auth[7:] if ok else None})
        else:
            return False
        return True

    def _digest_auth(self) -> None:
        """HTTP Digest (RFC 7616, MD5, qop=auth) for the user alice, password s3cret."""
        realm, nonce = "echo", "dcd98b7102dd2f0e8b11d0f600bfb0c0"
        header = self.headers.get("Authorization", "")
        if header.startswith("Digest "):
            fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))

            def md5(text: str) -> str:
                return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

            ha1 = md5(f"alice:{realm}:s3cret")
            ha2 = md5(f"{self.command}:{fields.get('uri', '')}")
            expected = md5(f"{ha1}:{nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
            if fields.get("username") == "alice" and fields.get("response") == expected:
                self._send(200, {"authenticated": True, "scheme": "digest"})
                return
        challenge = f'Digest realm="{realm}", qop="auth", nonce="{nonce}", algorithm=MD5'
        self._send(401, {"authenticated": False}, {"WWW-Authenticate": challenge})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EchoHandler)
        self.hits: dict[str, int] = {}
        self.tokens = 0  # OAuth2 tokens issued
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out on purpose close their sockets early

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


if __name__ == "__main__":  # used by tests that need the server in another process
    import sys

    with EchoServer() as srv:
        print(srv.url, flush=True)
        sys.stdin.read() if not sys.stdin.isatty() else time.sleep(3600)
