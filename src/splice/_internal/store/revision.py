"""The schema revision the code expects: the newest migration in `splice/store/migrations`.

A store whose `alembic_version` holds it is used as it is, without Alembic (and, for SQLite,
without SQLAlchemy: `splice._internal.store.lite`). Bump it with every new migration.
"""

HEAD = "0005"
