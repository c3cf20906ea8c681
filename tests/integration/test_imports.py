"""What `splice check` and a one-step `splice run` import: only what the command uses.

Structural (the names in `sys.modules` when the command ends), not timed: the time these
imports cost is measured beside its floor in `benchmarks/startup.py`.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.echo_server import EchoServer
from tests.support.modules import heavy, imported_by

ONE_STEP = """\
name: one
testcases:
  - name: one step
    steps:
      - http: {get: "{{ base_url }}/echo"}
        expect: {status: 200}
"""

# never needed by a check or a one-step HTTP run into the default SQLite store
NEVER = ("sqlalchemy", "alembic", "jinja2", "jsonschema", "starlette", "uvicorn", "psycopg")
SPLICE_NEVER = (
    "splice._internal.cli.store_commands",  # the store's own commands (rich.table)
    "splice._internal.cli.serve_command",
    "splice._internal.contracts",
    "splice._internal.web",
    "splice._internal.store.query",
    "splice._internal.environment.warm",  # only with --warm or `warm:`
)


def _splice(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules for p in prefixes if m == p or m.startswith(p + ".")}


def test_check_loads_no_http_client_runner_or_environment(tmp_path: Path) -> None:
    """`splice check` of a suite with a templated URL imports neither httpx, the runner,
    the environment lifecycle nor the store: it only loads and validates."""
    (tmp_path / "one.splice.yaml").write_text(ONE_STEP, encoding="utf-8")
    code, modules = imported_by(["check", "one.splice.yaml", "--var", "base_url=x"], tmp_path)
    assert code == 0
    assert heavy(modules, (*NEVER, "httpx", "httpcore", "h11")) == set()
    assert "splice._internal.executors.http" in modules  # its block model checked the step
    assert (
        _splice(
            modules,
            (
                *SPLICE_NEVER,
                "splice._internal.runner.run",
                "splice._internal.environment",
                "splice._internal.store",
            ),
        )
        == set()
    )


def test_a_recorded_one_step_http_run_loads_only_what_it_uses(
    tmp_path: Path, server: EchoServer
) -> None:
    """A one-step HTTP run recorded in the default store (created by an earlier run) loads
    httpx and the sqlite3 writer, and no SQLAlchemy, Alembic, Jinja2, dashboard or
    contracts module."""
    (tmp_path / "one.splice.yaml").write_text(ONE_STEP, encoding="utf-8")
    args = ["run", "one.splice.yaml", "--var", f"base_url={server.url}"]
    first, _ = imported_by(args, tmp_path)  # creates .splice/results.db
    code, modules = imported_by(args, tmp_path)
    assert (first, code) == (0, 0)
    assert (tmp_path / ".splice" / "results.db").is_file()
    assert {"httpx", "splice._internal.store.lite_ingest"} <= modules
    assert heavy(modules, NEVER) == set()
    assert _splice(modules, SPLICE_NEVER) == set()
