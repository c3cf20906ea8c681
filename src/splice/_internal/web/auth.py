"""Who may do what: tokens in `Authorization: Bearer`, or in the dashboard's cookie.

- Writes always need a `write` token. The API takes it only from the Authorization header,
  never from a cookie, so another site cannot make a browser write through the API.
- The dashboard's own forms are authenticated by the cookie set at /login (HttpOnly,
  SameSite=Strict) and carry a CSRF field derived from the token, checked on every post.
- Reads are open unless the server runs with `--private`; then any token is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from splice._internal.store import tokens
from splice._internal.store.core import Store

COOKIE = "splice_token"
CACHE_SECONDS = 5.0  # a revoked token stops working at most this long after revocation
TOUCH_SECONDS = 60.0  # last_used_at is written at most this often per token


@dataclass
class AuthConfig:
    """The server's policy and its per-process secret for CSRF fields."""

    store: Store
    private: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _seen: dict[str, tuple[str | None, float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scope(self, token: str | None) -> str | None:
        """The scope of `token` (None: no such token), cached briefly to spare the store."""
        if not token:
            return None
        key = tokens.digest(token)
        now = time.monotonic()
        with self._lock:
            cached = self._seen.get(key)
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        scope = tokens.scope_of(self.store, token)
        touched = cached[2] if cached is not None else 0.0
        if scope is not None and now - touched >= TOUCH_SECONDS:
            tokens.touch(self.store, token)
            touched = now
        with self._lock:
            if len(self._seen) > 10000:  # bounded: wrong tokens are cached too
                self._seen.clear()
            self._seen[key] = (scope, now, touched)
        return scope

    def csrf(self, token: str) -> str:
        return hmac.new(self.secret, tokens.digest(token).encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str | None, value: str | None) -> bool:
        return bool(token and value) and hmac.compare_digest(self.csrf(token or ""), value or "")


def config(request: Request) -> AuthConfig:
    auth: AuthConfig = request.app.state.auth
    return auth


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_read(request: Request) -> None:
    """Dependency of every API read: a token when the server is private."""
    auth = config(request)
    if not auth.private:
        return
    token = bearer(request) or request.cookies.get(COOKIE)
    if auth.scope(token) is None:
        raise HTTPException(
            401,
            "this server needs a token to read: send Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )


def api_write(request: Request) -> str:
    """Dependency of every API write: a write token in the Authorization header."""
    auth = config(request)
    token = bearer(request)
    scope = auth.scope(token)
    if scope is None:
        raise HTTPException(
            401,
            "writing needs a token: send Authorization: Bearer TOKEN "
            "(create one with `splice store token add NAME`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scope != "write":
        raise HTTPException(403, "this token may only read; writing needs a write token")
    return str(token)


@dataclass
class Viewer:
    """Who looks at a page: their token's scope (None: anonymous) and CSRF value."""

    scope: str | None
    csrf: str = ""

    @property
    def can_write(self) -> bool:
        return self.scope == "write"


def viewer(request: Request) -> Viewer:
    auth = config(request)
    token = request.cookies.get(COOKIE)
    scope = auth.scope(token)
    return Viewer(scope, auth.csrf(token) if token and scope else "")
