"""The console of `splice workflow run`: a live tree of jobs on a terminal, one line per
job's start and end elsewhere (CI logs, pipes), and a summary.

    ci
    ├── ✓ api         passed   3 testcases  0.4 s
    ├── ⠋ python      running
    └── · load        pending  needs api
"""

from __future__ import annotations

import threading
import time

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from splice._internal.workflows.jobs import JobOutcome
from splice._internal.workflows.model import Job, JobStatus, Workflow

MARKS = {
    JobStatus.PENDING: ("·", "dim"),
    JobStatus.RUNNING: ("▶", "cyan"),
    JobStatus.PASSED: ("✓", "green"),
    JobStatus.FAILED: ("✗", "red"),
    JobStatus.ERROR: ("!", "red"),
    JobStatus.SKIPPED: ("↷", "yellow"),
    JobStatus.INTERRUPTED: ("■", "yellow"),
}


class WorkflowConsole:
    """A WorkflowListener that draws the jobs' progress."""

    def __init__(self, workflow: Workflow, console: Console | None = None) -> None:
        self.workflow = workflow
        self.console = console or Console(highlight=False)
        self.status = dict.fromkeys(workflow.jobs, JobStatus.PENDING)
        self.outcomes: dict[str, JobOutcome] = {}
        self.begun: dict[str, float] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self.width = max(len(n) for n in workflow.jobs)

    def __enter__(self) -> WorkflowConsole:
        if self.console.is_terminal:
            self._live = Live(
                get_renderable=self.tree,
                console=self.console,
                refresh_per_second=8,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def job_started(self, job: Job) -> None:
        with self._lock:
            self.status[job.name] = JobStatus.RUNNING
            self.begun[job.name] = time.perf_counter()
        if self._live is None:
            self.console.print(f"▶ {escape(job.name)} started", style="cyan")

    def job_finished(self, job: Job, outcome: JobOutcome) -> None:
        with self._lock:
            self.status[job.name] = outcome.status
            self.outcomes[job.name] = outcome
        if self._live is None:
            self.console.print(self._line(job.name), soft_wrap=True)

    def interrupted(self, message: str) -> None:
        self.console.print(message, style="yellow", markup=False)

    def forced_exit(self, message: str) -> None:
        self.console.print(message, style="yellow", markup=False)

    def _line(self, name: str) -> Text:
        status = self.status[name]
        mark, style = MARKS[status]
        line = Text(f"{mark} ", style=style)
        line.append(name.ljust(self.width), style="bold")
        line.append(f"  {status.value:<11}", style=style)
        outcome = self.outcomes.get(name)
        if status is JobStatus.RUNNING:
            line.append(f" {time.perf_counter() - self.begun[name]:.0f} s", style="dim")
        elif status is JobStatus.PENDING:
            needs = self.workflow.jobs[name].needs
            if needs:
                line.append(" needs " + ", ".join(needs), style="dim")
        elif outcome is not None:
            count = len(outcome.testcases)
            if count:
                line.append(f" {count} testcase{'s' if count != 1 else ''}")
            if outcome.attempts > 1:
                line.append(f" · {outcome.attempts} attempts")
            if status is not JobStatus.SKIPPED:
                line.append(f" · {outcome.duration:.1f} s", style="dim")
            if outcome.message:
                line.append(f" — {outcome.message.splitlines()[0]}", style=style)
        return line

    def tree(self) -> RenderableType:
        with self._lock:
            tree = Tree(Text(self.workflow.name, style="bold"))
            for name in self.workflow.jobs:
                tree.add(self._line(name))
            return Group(tree)

    def summary(self, stored_as: str | None) -> None:
        counts: dict[str, int] = {}
        for status in self.status.values():
            counts[status.value] = counts.get(status.value, 0) + 1
        testcases = sum(len(o.testcases) for o in self.outcomes.values())
        parts = ", ".join(f"{n} {s}" for s, n in counts.items())
        self.console.print(
            f"workflow {self.workflow.name}: {len(self.status)} jobs ({parts}), "
            f"{testcases} testcases",
            markup=False,
        )
        for name, outcome in self.outcomes.items():
            if outcome.status in (JobStatus.ERROR, JobStatus.FAILED) and outcome.message:
                lines = outcome.message.splitlines()
                if len(lines) > 1:
                    self.console.print(f"{name}:", style="bold red", markup=False)
                    self.console.print("\n".join(lines), markup=False)
        if stored_as:
            self.console.print(f"stored as run {stored_as}", style="dim", markup=False)
