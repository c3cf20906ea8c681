"""How the CLI shows an environment: its start (a spinner, then one line) and its
errors; opening and closing it is `splice._internal.environment.lifecycle`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from splice._internal import words
from splice._internal.environment.lifecycle import OpenEnvironment
from splice._internal.model.suite import Suite
from splice._internal.reporting.diagnostics import render_service_error
from splice._internal.services.kind_api import ServiceError

EXIT_SERVICES = 3  # the environment could not be started


class ConsoleStart:
    """Shows the start of the services on the console (stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None

    def starting(self, count: int) -> None:
        self._status = self.console.status(f"starting {words.count(count, 'service')}…")
        self._status.start()

    def start_ended(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def reused(self, pid: int, *, warm: bool = False) -> None:
        if warm:
            self.console.print(
                f"[dim]using the warm pool (pid {pid}), with a share of each service of its "
                "own; `splice down` stops it[/]"
            )
        else:
            self.console.print(f"[dim]using the environment of `splice up` (pid {pid})[/]")

    def ready(self, started_in: Mapping[str, float]) -> None:
        ready = ", ".join(f"{n} {seconds * 1000:.0f} ms" for n, seconds in started_in.items())
        self.console.print(f"[dim]services ready: {escape(ready)}[/]")


def print_serialised(
    opened: OpenEnvironment, suites: Sequence[Suite], jobs: int, console: Console
) -> None:
    """Under --jobs, say which isolation makes testcases run one at a time, and why."""
    if jobs <= 1:
        return
    for why in opened.serialised(suites):
        console.print(f"[yellow]note:[/] {escape(why.message(Path.cwd()))}", soft_wrap=True)
        console.print(
            "  = hint: see docs/reference/isolation.md for `--jobs` with each isolation mode",
            highlight=False,
        )


def print_service_error(exc: ServiceError, console: Console) -> None:
    """A service error as `reporting.diagnostics.render_service_error` writes it."""
    head, _, rest = render_service_error(exc).partition("\n")
    console.print(f"[bold red]error:[/] {escape(head.removeprefix('error: '))}")
    if rest:
        console.print(rest, markup=False, highlight=False)
