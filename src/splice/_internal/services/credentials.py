"""Passwords of the servers splice starts: the one a service's settings give, else one
generated once per machine and kept in splice's cache folder.

A generated password, not a fixed word: passwords are masked in every output, and masking a
word like "splice" would also hide every `.splice/` path and every user named so.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from pathlib import Path


def service_password(setting: str | None, cache_dir: Path | None = None) -> str:
    """The password a service's settings give, else the machine's generated one (used by
    every kind with a login: postgres, mysql/mariadb, rabbitmq)."""
    if setting is not None:
        return setting
    if cache_dir is None:
        from splice._internal.services.resources import cache_root

        cache_dir = cache_root()
    return default_password(cache_dir)


def default_password(cache_root: Path) -> str:
    """A random password made once per machine and user, kept in the cache folder;
    stable, so the cached clusters that have it baked in stay usable between runs."""
    path = cache_root / "password"
    with contextlib.suppress(OSError):
        return path.read_text().strip() or _new_password(path)
    return _new_password(path)


def _new_password(path: Path) -> str:
    password = secrets.token_hex(8)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".password-{uuid.uuid4().hex[:8]}")
        temp.write_text(password + "\n")
        temp.chmod(0o600)
        if not path.exists():  # two runs at once: the first one's password stays
            temp.rename(path)
        temp.unlink(missing_ok=True)
        return path.read_text().strip() or password
    return password
