"""Alembic migrations of the results store, run by `splice._internal.store.opening.migrate`."""
