"""The one error the store raises for what a user can fix: a bad URL, an unreachable server."""

from __future__ import annotations

from splice.errors import UsageError


class StoreError(UsageError):
    """The results store cannot be opened or used; `hint` says what to change.

    A `UsageError`, so the command line shows it with its hint and exits 2, never a traceback.
    """
