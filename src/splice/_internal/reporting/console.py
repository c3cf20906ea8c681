"""The terminal view of a run: a line per testcase as it finishes, then the failures
in full and a summary. Colours and a live counter when the output is a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from splice._internal.errors import display_path, where
from splice._internal.model.results import (
    FAIL_FAST,
    RUN_INTERRUPTED,
    RunResult,
    Status,
    StepResult,
    SuiteResult,
    TestcaseResult,
)
from splice._internal.reporting.failures import blocking_setup_step, failure_report, step_lines
from splice._internal.reporting.terminal import make_console
from splice._internal.runner.events import RunListener
from splice._internal.words import count

_STYLE = {
    Status.PASSED: ("✓", "green"),
    Status.FAILED: ("✗", "red"),
    Status.ERROR: ("!", "red"),
    Status.SKIPPED: ("-", "dim"),
    Status.FLAKY: ("~", "yellow"),
    Status.INTERRUPTED: ("×", "yellow"),
    Status.XFAILED: ("x", "yellow"),
    Status.XPASSED: ("X", "red"),
}


def _ms(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


class ConsoleReporter(RunListener):
    """A run listener that writes to a rich Console; `verbose` lists every step."""

    def __init__(self, console: Console | None = None, verbose: int = 0, quiet: bool = False):
        self.console = console or make_console(soft_wrap=True)
        self.verbose = verbose
        self.quiet = quiet
        self.total = 0
        self.done = 0
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.running: dict[int, str] = {}
        # service logs to show after failures: name -> path, and the run's masker
        self.service_logs: dict[str, Any] = {}
        self.logs_kept_in: Any = None  # where the logs are copied when the run ends
        self.masker: Any = None

    def run_started(self, run: RunResult, total: int) -> None:
        self.total = total
        if self.console.is_terminal and not self.console.is_dumb_terminal:
            # a live bar under the finished lines; it disappears when the run ends
            self.progress = Progress(
                TextColumn("[bold]running[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.description}[/]"),
                console=self.console,
                transient=True,
            )
            self.task = self.progress.add_task("", total=total)
            self.progress.start()
        if not self.quiet:
            n = len(run.suites)
            self.console.print(
                f"[bold]splice[/] running {count(total, 'testcase')} from {count(n, 'suite')}"
            )

    def suite_finished(self, suite: SuiteResult) -> None:
        for step in [*suite.setup, *suite.teardown]:
            if not step.status.ok:
                self.console.print(
                    f"[red]! suite {escape(suite.name)} {step.phase.value} failed[/]"
                )

    def step_finished(
        self, suite: SuiteResult, testcase: TestcaseResult | None, step: StepResult
    ) -> None:
        if self.verbose >= 1 and not self.quiet:
            icon, colour = _STYLE[step.status]
            self.console.print(
                f"    [{colour}]{icon}[/] {escape(step.name)} [dim]{_ms(step.duration)}[/]"
            )

    def testcase_started(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        self.running[id(testcase)] = f"{suite.name} › {testcase.name}"
        self._describe()

    def _describe(self) -> None:
        if self.progress is not None and self.task is not None:
            names = list(self.running.values())
            more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
            self.progress.update(
                self.task, completed=self.done, description=escape(names[0] + more) if names else ""
            )

    def testcase_finished(self, suite: SuiteResult, testcase: TestcaseResult) -> None:
        if testcase.skip_reason in (RUN_INTERRUPTED, FAIL_FAST):
            return  # never started: the summary counts it, a line each would only be noise
        self.done += 1
        self.running.pop(id(testcase), None)
        self._describe()
        if self.quiet:
            return
        icon, colour = _STYLE[testcase.status]
        extra = ""
        if testcase.status == Status.FLAKY:
            extra = f" [yellow](passed on attempt {len(testcase.attempts)})[/]"
        if testcase.skip_reason:
            extra = f" [dim]({escape(testcase.skip_reason)})[/]"
        if testcase.xfail_reason is not None:
            extra += _xfail_note(testcase)
        blocker = blocking_setup_step(testcase)
        if blocker is not None:
            at = f" at {where(blocker.location)}" if blocker.location else ""
            extra = f" [red](not run: the suite setup failed{escape(at)})[/]"
        cut = _cut_step(testcase) if testcase.status == Status.INTERRUPTED else None
        if cut is not None:
            extra = f" [yellow](interrupted in {escape(cut.name)})[/]"
        counter = f"[dim][{self.done}/{self.total}][/] " if self.total > 1 else ""
        self.console.print(
            f"{counter}[{colour}]{icon}[/] {escape(suite.name)} › {escape(testcase.name)} "
            f"[dim]{_ms(testcase.duration)}[/]{extra}"
        )

    def interrupted(self, message: str) -> None:
        self.console.print(escape(message), style="yellow")

    def forced_exit(self, message: str) -> None:
        self.console.print(escape(message), style="red")

    def run_finished(self, run: RunResult) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        bad = [
            tc
            for tc in run.testcases()
            if tc.status in (Status.FAILED, Status.ERROR) and blocking_setup_step(tc) is None
        ]
        for tc in bad:
            self.console.print()
            self.console.rule(f"[red]{escape(tc.suite)} › {escape(tc.name)}[/]", align="left")
            self.console.print(f"[dim]{escape(display_path(tc.path))}:{tc.line}[/]")
            self.console.print(escape(failure_report(tc, title=False)), highlight=False)
        for suite in run.suites:
            for step in [*suite.setup, *suite.teardown]:
                if not step.status.ok:
                    self.console.print()
                    self.console.rule(
                        f"[red]{escape(suite.name)} suite {step.phase.value}[/]", align="left"
                    )
                    self.console.print(escape("\n".join(step_lines(step))))
        if run.status in (Status.FAILED, Status.ERROR) and self.service_logs:
            self.print_service_logs(self.service_logs, self.masker)
        self.console.print()
        self.console.print(summary_line(run))

    def print_service_logs(self, logs: dict[str, Any], masker: Any) -> None:
        """The last lines of each service's log, after a run with failures."""
        from splice._internal.services.kind_api import tail

        for name, path in logs.items():
            lines = tail(path, 12)
            if not lines:
                continue
            self.console.print()
            self.console.rule(
                f"[dim]log of service {escape(name)} (last {len(lines)} lines)[/]", align="left"
            )
            for line in lines:
                shown = masker.text(line) if masker is not None else line
                self.console.print(escape(shown), highlight=False)
            kept = self.logs_kept_in / f"{name}.log" if self.logs_kept_in else path
            self.console.print(f"[dim]full log: {escape(display_path(kept))}[/]")

    def print_report_paths(self, paths: list[tuple[str, Any]]) -> None:
        for kind, path in paths:
            self.console.print(f"[dim]{kind} report: {escape(display_path(path))}[/]")


def _xfail_note(testcase: TestcaseResult) -> str:
    reason = escape(testcase.xfail_reason or "")
    if testcase.status == Status.XFAILED:
        return f" [yellow](expected to fail: {reason})[/]"
    if testcase.status == Status.XPASSED:
        return f" [red](expected to fail, but passed; xfail is strict: {reason})[/]"
    if testcase.status in (Status.PASSED, Status.FLAKY):
        return f" [dim](expected to fail, but passed: {reason})[/]"
    return ""


def _cut_step(testcase: TestcaseResult) -> StepResult | None:
    final = testcase.final_attempt
    steps = final.steps if final else []
    return next((s for s in steps if s.status == Status.INTERRUPTED), None)


def summary_line(run: RunResult) -> str:
    counts = run.counts()
    parts = []
    for status, colour in (
        ("passed", "green"),
        ("failed", "red"),
        ("error", "red"),
        ("flaky", "yellow"),
        ("skipped", "dim"),
        ("xfailed", "yellow"),
        ("xpassed", "red"),
        ("interrupted", "yellow"),
    ):
        n = counts[status]
        if n or status in ("passed", "failed"):
            name = "errors" if status == "error" and n != 1 else status
            parts.append(f"[{colour}]{n} {name}[/]" if n else f"{n} {name}")
    state = {
        Status.PASSED: "[bold green]PASSED[/]",
        Status.FAILED: "[bold red]FAILED[/]",
        Status.ERROR: "[bold red]ERROR[/]",
        Status.INTERRUPTED: "[bold yellow]INTERRUPTED[/]",
    }.get(run.status, run.status.value)
    return f"{state} {', '.join(parts)} in {_ms(run.duration)}"


__all__ = ["ConsoleReporter", "summary_line", "where"]
