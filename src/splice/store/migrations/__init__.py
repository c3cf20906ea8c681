"""Alembic migrations of the results store, run by `splice.store.opening.migrate`."""
