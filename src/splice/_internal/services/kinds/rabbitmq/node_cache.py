"""An initialised node folder kept between runs, like PostgreSQL's cached cluster.

A fresh node spends ~0.3 s of its boot steps (~0.8 s on a loaded machine) creating its
database, enabling every feature flag and adding the default vhost and user; a node that
starts from a folder where that was done skips it all (measured: ~0.1 s of boot steps).
So the node's database folder (RABBITMQ_MNESIA_BASE: the Mnesia and Ra data, the
feature flags file) is made once, by a node started and cleanly stopped for it, kept
under the cache folder, and copied into each new node's folder on tmpfs.

A RabbitMQ database belongs to the node name it was made by. So the node name is fixed
per cached folder (`splice-<key>@localhost`); nodes of two runs may then share a name,
which is harmless as each registers with an epmd of its own on a private port. The key
covers what the folder depends on: the RabbitMQ and Erlang installation, the login and
vhost the broker creates at first start, the plugins, and the config lines that change
what a first boot writes (see _DATABASE_KEYS). The password is
in it only as an HMAC keyed with the machine's own generated secret, so a folder or node
name gives no way to guess it.

Building and locking are those of the postgres and mysql kinds (postgres/cache.py: a
lock file, a build folder renamed into place). The build seals the folder: a manifest of
each file's size and sha256 (~1 MB in all, a few ms to check). A cached folder whose
manifest is missing or does not match (a file damaged, truncated or gone), or that a node
fails to start from, is discarded and built again; the check comes before any node boots
from it, as a node started on a damaged database can take many seconds to give up.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from splice._internal.services.kinds.postgres import cache

FORMAT = 2  # bump when the way folders are built changes, so old ones are not used
MANIFEST = "splice-manifest.json"  # each file's size and sha256, written by `seal`


def key(install: Any, settings: Any, password: str, machine_secret: str) -> str:
    """What makes one initialised node folder differ from another, hashed."""
    login = hmac.new(machine_secret.encode(), password.encode(), hashlib.sha256).hexdigest()
    return cache.settings_key(
        "rabbitmq",
        FORMAT,
        install.version,
        install.server,
        install.erl,
        install.epmd,  # its folder names the Erlang runtime's version (erts-X/bin)
        settings.user,
        login,
        settings.vhost,
        sorted(settings.plugins),
        sorted((k, str(v)) for k, v in settings.config.items() if _in_database(k)),
    )


# `config` lines that change what a first boot writes into the database: the default
# login, vhost, permissions and tags, definitions to import, feature flags to enable.
# Others (ports, timeouts, limits) do not, so a port in `config` does not make a new
# cached folder for every run.
_DATABASE_KEYS = ("default_", "definitions", "load_definitions", "feature_flags")


def _in_database(config_key: str) -> bool:
    return config_key.startswith(_DATABASE_KEYS) or "feature_flags" in config_key


def node_name(cache_key: str) -> str:
    return f"splice-{cache_key[:8]}@localhost"


def _files(folder: Path) -> dict[str, list[Any]]:
    """Each file under `folder` (but the manifest): its size and sha256."""
    out: dict[str, list[Any]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            data = path.read_bytes()
            out[path.relative_to(folder).as_posix()] = [len(data), hashlib.sha256(data).hexdigest()]
    return out


def seal(folder: Path) -> None:
    """After the building node stopped cleanly: write the manifest of what it left."""
    (folder / MANIFEST).write_text(json.dumps(_files(folder), indent=0))


def complete(folder: Path, node: str) -> bool:
    """Whether `folder` holds what a node made and stopped cleanly leaves, unchanged
    since it was sealed."""
    if not (folder / node / "schema.DAT").is_file():
        return False
    if not (folder / f"{node}-feature_flags").is_file():
        return False
    try:
        sealed = json.loads((folder / MANIFEST).read_text())
        return bool(sealed == _files(folder))
    except (OSError, ValueError):
        return False


def discard(folder: Path) -> None:
    """Remove a cached folder; renamed away first, so no run copies half of it."""
    away = folder.with_name(f".{folder.name}.stale-{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(OSError):
        folder.rename(away)
        shutil.rmtree(away, ignore_errors=True)
