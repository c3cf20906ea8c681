"""Alembic environment: migrations run on the connection the store hands over.

There is no alembic.ini: `store.opening.migrate` builds the configuration in code and
puts its open connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from splice._internal.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
