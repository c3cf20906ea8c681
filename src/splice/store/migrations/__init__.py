"""Alembic migrations of the results store, run by `splice.store.engine.migrate`."""
