"""API tokens of `splice serve`: `write` (upload runs, manage quarantine and webhooks;
implies read) or `read` (only needed when the server is started with `--private`).

Only a SHA-256 digest of each token is stored: tokens are 256 random bits, so a digest
cannot be reversed and a stolen database grants nothing. A token is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from sqlalchemy import delete, select, update

from splice._internal.store import schema as t
from splice._internal.store.core import Store
from splice._internal.store.errors import StoreError

SCOPES = ("read", "write")
PREFIX = "spl_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(store: Store, name: str, scope: str = "write") -> str:
    """A new token named `name`; the returned value is not stored anywhere."""
    if scope not in SCOPES:
        raise StoreError(f"unknown token scope {scope!r}", "use read or write")
    if not name.strip():
        raise StoreError("a token needs a name", "for example: splice store token add ci")
    token = PREFIX + secrets.token_urlsafe(32)
    with store.engine.begin() as conn:
        taken = conn.execute(select(t.tokens.c.id).where(t.tokens.c.name == name)).first()
        if taken:
            raise StoreError(
                f"a token named {name!r} exists",
                f"revoke it first (splice store token revoke {name}) or choose another name",
            )
        conn.execute(
            t.tokens.insert().values(
                name=name, digest=digest(token), scope=scope, created_at=time.time()
            )
        )
    return token


def scope_of(store: Store, token: str) -> str | None:
    """The scope of `token`, None when it is not a token of this store."""
    if not token:
        return None
    wanted = digest(token)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.tokens.c.id, t.tokens.c.digest, t.tokens.c.scope).where(
                t.tokens.c.digest == wanted
            )
        ).first()
    # the lookup is by digest; the constant-time compare guards the last step anyway
    if row is None or not hmac.compare_digest(row.digest, wanted):
        return None
    return str(row.scope)


def touch(store: Store, token: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(t.tokens)
            .where(t.tokens.c.digest == digest(token))
            .values(last_used_at=time.time())
        )


def listing(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                t.tokens.c.name, t.tokens.c.scope, t.tokens.c.created_at, t.tokens.c.last_used_at
            ).order_by(t.tokens.c.name)
        ).all()
    return [dict(row._mapping) for row in rows]


def revoke(store: Store, name: str) -> bool:
    with store.engine.begin() as conn:
        return bool(conn.execute(delete(t.tokens).where(t.tokens.c.name == name)).rowcount)
