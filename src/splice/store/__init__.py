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
    "DEFAULT_PATH": "splice.store.location",
    "ENV_VAR": "splice.store.location",
    "resolve_url": "splice.store.location",
    "Store": "splice.store.core",
    "StoreError": "splice.store.errors",
}

__all__ = ["DEFAULT_PATH", "ENV_VAR", "Store", "StoreError", "resolve_url"]

if TYPE_CHECKING:
    from splice.store.core import Store
    from splice.store.errors import StoreError
    from splice.store.location import DEFAULT_PATH, ENV_VAR, resolve_url


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splice.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
