"""The results store: every run, testcase, attempt and step, on SQLite or PostgreSQL.

    store = Store.open()                 # .splice/results.db of the project, migrated
    recorder = Recorder([LocalWriter(store, warn)], detect(Path.cwd()))
    bus.add(recorder)                    # the run is written while it happens

Modules: `schema` (tables) and `migrations` (Alembic), `location` (URLs), `engine` (opening),
`recorder`, `writers` and `stream` (recording), `ingest` and `finish` (writing), `lite` (the
default SQLite store recorded with the standard library's sqlite3, without SQLAlchemy),
`query_*` (reading), `flaky`, `quarantine`, `webhooks` and `delivery`, `tokens`, `retention`,
`importing`. Names load on first use, so importing one module of the package does not
import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DEFAULT_PATH": "splice._internal.store.location",
    "ENV_VAR": "splice._internal.store.location",
    "resolve_url": "splice._internal.store.location",
    "Store": "splice._internal.store.core",
    "StoreError": "splice._internal.store.errors",
}

__all__ = ["DEFAULT_PATH", "ENV_VAR", "Store", "StoreError", "resolve_url"]

if TYPE_CHECKING:
    from splice._internal.store.core import Store
    from splice._internal.store.errors import StoreError
    from splice._internal.store.location import DEFAULT_PATH, ENV_VAR, resolve_url


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice._internal.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
