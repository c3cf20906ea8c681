"""`splice serve`: the dashboard (server-rendered pages) and the REST API over a store.

`create_app(store)` gives the ASGI application; `splice._internal.cli.serve_command.serve` runs it
with uvicorn. Pages live in `pages*.py` with their templates in `templates/`, the API in
`api*.py`, authentication in `auth.py`, charts in `charts.py`.
"""

from __future__ import annotations

from splice._internal.web.app import create_app

__all__ = ["create_app"]
