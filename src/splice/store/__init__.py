"""The results store: every run, testcase, attempt and step, on SQLite or PostgreSQL.

    store = Store.open()                 # .splice/results.db of the project, migrated
    recorder = Recorder([LocalWriter(store, warn)], detect(Path.cwd()))
    bus.add(recorder)                    # the run is written while it happens

Modules: `schema` (tables) and `migrations` (Alembic), `engine` (URLs, opening), `recorder`,
`writers` and `stream` (recording), `ingest` and `finish` (writing), `query_*` (reading),
`flaky`, `quarantine`, `webhooks` and `delivery`, `tokens`, `retention`, `importing`.
"""

from __future__ import annotations

from splice.store.core import Store
from splice.store.errors import StoreError
from splice.store.opening import DEFAULT_PATH, ENV_VAR, resolve_url

__all__ = ["DEFAULT_PATH", "ENV_VAR", "Store", "StoreError", "resolve_url"]
