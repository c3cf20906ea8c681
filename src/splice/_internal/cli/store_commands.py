"""Commands of the results store: `import`, `quarantine` and `store` (`serve`:
`splice._internal.cli.serve_command`).

Each is a click command (or group) the main CLI adds with `cli.add_command(...)`.
(The options `splice run` takes to record and stream its run: `splice._internal.cli.store_options`.)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from splice._internal.cli.store_options import store_run_options
from splice._internal.errors import UsageError
from splice._internal.reporting.terminal import make_console
from splice._internal.words import count

__all__ = ["import_", "quarantine", "store", "store_run_options"]

_store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="The results store: a SQLite path or postgresql+psycopg://... "
    "[default: $SPLICE_STORE_URL, else .splice/results.db in the project]",
)


def _out() -> Console:
    return make_console(soft_wrap=True)


def _root() -> Path:
    from splice._internal.project.loader import find_project

    found = find_project(Path.cwd())
    return found.parent if found is not None else Path.cwd()


def _open(url: str | None) -> Any:
    from splice._internal.store import Store

    return Store.open(url, _root())


def _days(text: str) -> float:
    """'90d', '2w', '12h' or a number of days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dwh]?)\s*", text)
    if not match:
        raise UsageError(f"--max-age expects an age like 90d, 2w or 12h, got {text!r}")
    value, unit = float(match.group(1)), match.group(2) or "d"
    return value * {"d": 1.0, "w": 7.0, "h": 1 / 24}[unit]


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_store_option
@click.option("--branch", default=None, help="Branch of the imported runs [default: from git/CI].")
@click.option("--commit", default=None, help="Commit of the imported runs [default: from git/CI].")
@click.option("--ci-url", default=None, help="CI job URL of the imported runs.")
@click.option("--project", default="", help="Project name shown with the runs.")
def import_(
    *,
    files: tuple[Path, ...],
    store_url: str | None,
    branch: str | None,
    commit: str | None,
    ci_url: str | None,
    project: str,
) -> None:
    """Store runs from JUnit XML (any tool) or splice JSON reports."""
    from splice._internal.errors import SourceSpan, SuiteError
    from splice._internal.store.errors import BadImport
    from splice._internal.store.importing import store_file
    from splice._internal.store.ingest import IngestError
    from splice._internal.store.meta import detect

    store = _open(store_url)
    out = _out()
    meta = detect(Path.cwd(), project, source="junit")
    meta.pid = meta.pid_start = None  # an imported run has no live process
    meta.commit_sha = commit if commit is not None else meta.commit_sha
    meta.branch = branch if branch is not None else meta.branch
    meta.ci_url = ci_url if ci_url is not None else meta.ci_url
    try:
        for path in files:
            meta.source = "junit" if path.suffix.lower() == ".xml" else "upload"
            try:
                done = store_file(store, path, meta)
            except IngestError as exc:
                raise UsageError(f"{path}: {exc}") from exc
            except BadImport as exc:
                if exc.line is None:
                    raise UsageError(f"{path}: {exc.message}", exc.hint) from exc
                span = SourceSpan(path, exc.line, exc.column or 1)
                raise SuiteError.single(exc.message, span, exc.hint) from exc
            out.print(
                f"imported {escape(str(path))} as run [bold]{done.run_id}[/] "
                f"({done.status}, {count(done.testcases, 'testcase')})"
            )
    finally:
        store.close()


@click.group()
def quarantine() -> None:
    """Tests whose failures are reported but do not fail a run."""


@quarantine.command("add")
@click.argument("test")
@click.option("--reason", default="", help="Why, for whoever releases it later.")
@_store_option
def quarantine_add(test: str, reason: str, store_url: str | None) -> None:
    """Quarantine TEST ('suite::testcase')."""
    from splice._internal.store import quarantine as q

    store = _open(store_url)
    added = q.add(store, test, reason, added_by="cli")
    _out().print(f"{escape(test)} is {'now' if added else 'already'} quarantined")


@quarantine.command("remove")
@click.argument("test")
@_store_option
def quarantine_remove(test: str, store_url: str | None) -> None:
    """Release TEST from the quarantine."""
    from splice._internal.store import quarantine as q

    if not q.remove(_open(store_url), test):
        raise UsageError(f"{test!r} is not quarantined", "`splice quarantine list` shows who is")
    _out().print(f"{escape(test)} is released from the quarantine")


@quarantine.command("list")
@_store_option
def quarantine_list(store_url: str | None) -> None:
    """Show the quarantined tests."""
    from splice._internal.store import quarantine as q

    entries = q.listing(_open(store_url))
    out = _out()
    if not entries:
        out.print("no test is quarantined")
        return
    table = Table("test", "reason", "last result", box=None)
    for e in entries:
        table.add_row(escape(e["test"]), escape(e["reason"] or "—"), e["last_status"] or "—")
    out.print(table)


@click.group()
def store() -> None:
    """Look after the results store: retention, tokens, webhooks, demo data."""


@store.command("info")
@_store_option
def store_info(store_url: str | None) -> None:
    """Where the store is, its size and what it holds."""
    from sqlalchemy import func, select

    from splice._internal.store import schema as t
    from splice._internal.store.retention import size_on_disk

    db = _open(store_url)
    with db.engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("runs", t.runs), ("tests", t.tests), ("steps", t.steps))
        }
    size = size_on_disk(db)
    out = _out()
    out.print(f"store:    {escape(db.engine.url.render_as_string())}")
    out.print(f"schema:   {t.HEAD}")
    out.print(f"size:     {'unknown' if size is None else f'{size / 1e6:.1f} MB'}")
    for name, n in counts.items():
        out.print(f"{name + ':':9} {n}")


@store.command("prune")
@_store_option
@click.option("--max-age", metavar="AGE", help="Delete runs older than AGE (90d, 2w, 12h).")
@click.option("--max-runs", type=click.IntRange(0), metavar="N", help="Keep the newest N runs.")
@click.option("--no-vacuum", is_flag=True, help="Delete only; leave the file's size as it is.")
def store_prune(
    *, store_url: str | None, max_age: str | None, max_runs: int | None, no_vacuum: bool
) -> None:
    """Delete old runs and give their space back."""
    from splice._internal.store.retention import prune

    if max_age is None and max_runs is None:
        raise UsageError("say what to delete", "give --max-age AGE, --max-runs N or both")
    report = prune(
        _open(store_url), _days(max_age) if max_age else None, max_runs, vacuum=not no_vacuum
    )
    freed = "" if report.freed is None else f", {report.freed / 1e6:.1f} MB freed"
    _out().print(f"deleted {report.runs} run{'s' if report.runs != 1 else ''}{freed}")


@store.group("token")
def token() -> None:
    """API tokens of `splice serve`."""


@token.command("add")
@click.argument("name")
@click.option("--read-only", is_flag=True, help="May only read (for a --private server).")
@_store_option
def token_add(name: str, read_only: bool, store_url: str | None) -> None:
    """Create a token NAME and print it (it is shown this once)."""
    from splice._internal.store import tokens

    value = tokens.create(_open(store_url), name, "read" if read_only else "write")
    click.echo(value)
    click.echo(
        f"token {name!r} ({'read' if read_only else 'write'}) created; it is not shown again",
        err=True,
    )


@token.command("list")
@_store_option
def token_list(store_url: str | None) -> None:
    """List tokens (names and scopes; values are not kept)."""
    from splice._internal.store import tokens

    rows = tokens.listing(_open(store_url))
    if not rows:
        _out().print("no tokens")
        return
    table = Table("name", "scope", "last used", box=None)
    for row in rows:
        table.add_row(escape(row["name"]), row["scope"], "yes" if row["last_used_at"] else "never")
    _out().print(table)


@token.command("revoke")
@click.argument("name")
@_store_option
def token_revoke(name: str, store_url: str | None) -> None:
    """Revoke the token NAME."""
    from splice._internal.store import tokens

    if not tokens.revoke(_open(store_url), name):
        raise UsageError(f"there is no token {name!r}", "`splice store token list` shows them")
    _out().print(f"token {escape(name)!r} revoked")


@store.group("webhook")
def webhook() -> None:
    """Webhooks: run.finished, run.failed, test.flaky (sent by `splice serve`)."""


@webhook.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(["run.finished", "run.failed", "test.flaky"]),
    help="Repeatable.",
)
@click.option("--secret", help="Signing secret [default: generated and printed].")
@_store_option
def webhook_add(
    url: str, events: tuple[str, ...], secret: str | None, store_url: str | None
) -> None:
    """Send EVENTs to URL, signed with HMAC-SHA256."""
    from splice._internal.store import webhooks

    hook_id, value = webhooks.add(_open(store_url), url, list(events), secret)
    _out().print(f"webhook {hook_id} added; its signing secret: {escape(value)}")


@webhook.command("list")
@_store_option
def webhook_list(store_url: str | None) -> None:
    """Webhooks and their latest delivery."""
    from splice._internal.store import webhooks

    rows = webhooks.listing(_open(store_url))
    if not rows:
        _out().print("no webhooks")
        return
    table = Table("id", "url", "events", "last delivery", box=None)
    for row in rows:
        last = row["last_delivery"]
        table.add_row(
            str(row["id"]),
            escape(row["url"]),
            ", ".join(row["events"]),
            "—" if last is None else f"{last['event']} {last['status']} ({last['attempts']} tries)",
        )
    _out().print(table)


@webhook.command("remove")
@click.argument("hook_id", type=int)
@_store_option
def webhook_remove(hook_id: int, store_url: str | None) -> None:
    """Remove webhook HOOK_ID."""
    from splice._internal.store import webhooks

    if not webhooks.remove(_open(store_url), hook_id):
        raise UsageError(f"there is no webhook {hook_id}", "`splice store webhook list`")
    _out().print(f"webhook {hook_id} removed")


@store.command("demo")
@_store_option
@click.option("--runs", default=120, show_default=True, type=click.IntRange(1, 100000))
@click.option("--tests", default=60, show_default=True, type=click.IntRange(1, 10000))
def store_demo(store_url: str | None, runs: int, tests: int) -> None:
    """Fill a store with a generated history, to try the dashboard (use a throwaway path)."""
    from splice._internal.store.synthetic import generate

    if store_url is None:
        raise UsageError(
            "give the throwaway store to fill with --store",
            "for example: splice store demo --store /tmp/demo.db && "
            "splice serve --store /tmp/demo.db",
        )
    steps = generate(_open(store_url), runs=runs, tests=tests)
    _out().print(f"generated {runs} runs of {tests} tests ({steps} steps)")
    sys.stdout.flush()
