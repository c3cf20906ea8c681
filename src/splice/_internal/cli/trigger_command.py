"""`splice trigger`: start a workflow (or suites by tag) on a `splice serve --project`,
and with `--wait` follow it to its end, for CI and deploy pipelines.

Exit codes: 0 the run passed (or, without --wait, was accepted); 1 it failed, could not
run, or was stopped; 2 the server refused the request (no token, unknown workflow, a
mistake in the project); 3 the server could not be reached, is full or shutting down;
4 --timeout passed before the run ended (the run goes on on the server).

Once the run is accepted, `--wait` rides out a server that stops answering for a while (a
restart: the queue is in the store, `web.triggers`) and goes on polling until --timeout
(exit 3 if the server is still away then).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from splice._internal.store.attach import TOKEN_ENV

EXIT_PASSED, EXIT_FAILED, EXIT_REFUSED, EXIT_SERVER, EXIT_TIMEOUT = 0, 1, 2, 3, 4
POLL_SECONDS = 2.0
_DONE = {"passed", "failed", "error", "interrupted", "cancelled"}
_AWAY = (502, 503, 504)  # a proxy in front of a restarting server, or one shutting down


@click.command()
@click.argument("workflow", required=False)
@click.option("--server", envvar="SPLICE_SERVER", show_envvar=True, required=True, metavar="URL",
              help="The `splice serve --project DIR` that runs it.")  # fmt: skip
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, metavar="TOKEN",
              help="A write token of the server (never printed).")  # fmt: skip
@click.option("--suite", "suites", multiple=True, metavar="GLOB",
              help="Without WORKFLOW: these suites (repeatable).")  # fmt: skip
@click.option("--tag", "tags", multiple=True,
              help="Without WORKFLOW: only testcases with this tag (repeatable).")  # fmt: skip
@click.option("--branch", help="Branch recorded with the run [default: from CI or git here].")
@click.option("--commit", help="Commit recorded with the run [default: from CI or git here].")
@click.option("--environment", default="", help="The environment it tests (e.g. staging).")
@click.option("--ci-url", help="The pipeline job's URL [default: from CI variables].")
@click.option("--wait", is_flag=True, help="Follow the run; exit 0 if it passed, 1 if not.")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              metavar="SECONDS", help="With --wait: give up after this long (exit 4).")  # fmt: skip
def trigger(
    workflow: str | None,
    *,
    server: str,
    token: str | None,
    suites: tuple[str, ...],
    tags: tuple[str, ...],
    branch: str | None,
    commit: str | None,
    environment: str,
    ci_url: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Start the workflow WORKFLOW (or suites by --tag/--suite) on a splice server."""
    from splice._internal.errors import UsageError
    from splice._internal.store.meta import detect

    if workflow and (suites or tags):
        raise UsageError(
            "give a WORKFLOW or --suite/--tag, not both",
            "a workflow names its own suites; leave out --suite and --tag",
        )
    if not workflow and not (suites or tags):
        raise UsageError(
            "nothing to start: name a WORKFLOW, or suites with --suite or --tag",
            "for example `splice trigger smoke --server URL --wait`",
        )
    here = detect(Path.cwd())
    body: dict[str, Any] = {
        "branch": here.branch if branch is None else branch,
        "commit": here.commit_sha if commit is None else commit,
        "environment": environment,
        "ci_url": here.ci_url if ci_url is None else ci_url,
    }
    base = server.rstrip("/")
    if workflow:
        from urllib.parse import quote

        path = f"/api/workflows/{quote(workflow, safe='')}/runs"
    else:
        path = "/api/suites/runs"
        body |= {"suites": list(suites), "tags": list(tags)}
    sys.exit(_trigger(base, path, body, token, wait=wait, timeout=timeout))


def _trigger(
    base: str, path: str, body: dict[str, Any], token: str | None, *, wait: bool, timeout: float
) -> int:
    import httpx

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(headers=headers, timeout=30) as client:
        try:
            answer = client.post(base + path, json=body)
        except httpx.HTTPError as exc:
            return _unreachable(err, base, exc)
        if answer.status_code != 202:
            return _refused(err, answer, token)
        started = answer.json()
        run_id, status = started["id"], started["status"]
        place = f", {_ordinal(started['position'])} in the queue" if started.get("position") else ""
        out.print(f"started run {run_id} ({status}{place}): {escape(started['dashboard_url'])}")
        if not wait:
            return EXIT_PASSED
        deadline = time.monotonic() + timeout
        shown, now, away = status, started, False
        while status not in _DONE:
            if time.monotonic() >= deadline and away:
                err.print(
                    f"[bold red]error:[/] the splice server at {escape(base)} did not answer "
                    f"again within --timeout {timeout:g} s (run {run_id} was {status})"
                )
                err.print("  hint: check that `splice serve --project DIR` runs", markup=False)
                return EXIT_SERVER
            if time.monotonic() >= deadline:
                err.print(
                    f"[bold red]error:[/] run {run_id} is still {status} after {timeout:g} s",
                )
                err.print(
                    f"  hint: it goes on on the server: {escape(started['dashboard_url'])}; "
                    "give a longer --timeout to wait for it",
                    markup=False,
                )
                return EXIT_TIMEOUT
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            polled = _poll(client, started["status_url"])
            if polled is None or polled.status_code in _AWAY:
                if not away:
                    out.print(f"run {run_id}: the server does not answer; waiting for it")
                away = True
                continue
            if polled.status_code != 200:
                return _refused(err, polled, token)
            if away:
                out.print(f"run {run_id}: the server answers again")
                away = False
            now = polled.json()
            status = now["status"]
            if status != shown and status not in _DONE:
                out.print(f"run {run_id}: {status}")
                shown = status
    if status == "passed":
        out.print(f"run {run_id} passed: {escape(started['dashboard_url'])}")
        return EXIT_PASSED
    err.print(f"[bold red]run {run_id} {status}[/]: {escape(started['dashboard_url'])}")
    if now.get("reason"):
        err.print(f"  why: {now['reason']}", markup=False)
    tail = now.get("log") or []
    if tail:
        err.print("  its last lines:", markup=False)
        for line in tail[-20:]:
            err.print(f"  | {line}", markup=False)
    return EXIT_FAILED


def _poll(client: Any, url: str) -> Any:
    """The status answer, or None when the server cannot be reached."""
    import httpx

    try:
        return client.get(url)
    except httpx.HTTPError:
        return None


def _refused(err: Console, answer: Any, token: str | None) -> int:
    try:
        detail = str(answer.json().get("detail", answer.text))
    except ValueError:
        detail = answer.text[:500]
    if token:
        detail = detail.replace(token, "***")
    code = answer.status_code
    wait = answer.headers.get("Retry-After", "?")
    err.print(f"[bold red]error:[/] the server answered {code}: {escape(detail)}")
    hints = {
        401: f"pass a write token with --token or ${TOKEN_ENV} (`splice store token add NAME` "
        "on the server's store)",
        403: "this token may only read: create a write token with `splice store token add NAME`",
        429: f"the server's queue is full; try again in {wait} s",
        503: f"the server is shutting down; try again in {wait} s",
    }
    if code in hints:
        err.print(f"  hint: {hints[code]}", markup=False)
    return EXIT_SERVER if code in (429, 503) or code >= 500 else EXIT_REFUSED


def _unreachable(err: Console, base: str, exc: Exception) -> int:
    err.print(f"[bold red]error:[/] cannot reach the splice server at {escape(base)}: {exc}")
    err.print(
        "  hint: check --server and that `splice serve --project DIR` runs there", markup=False
    )
    return EXIT_SERVER


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
