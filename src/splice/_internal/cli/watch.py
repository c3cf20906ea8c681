"""`splice run --watch`: run, then run again what a change affects, services kept up.

The project's services start once. After each run splice waits for files under the
project to change (watchfiles: the operating system's file events, debounced), reloads the
suites and runs

- the suites a change concerns, when every changed file is a suite or a file a suite reads
  (an included step file, a step template, a `foreach` rows file);
- every suite, when anything else changed: a fixture, a file of the system under test;
- every suite after restarting the services, when `splice.yaml` changed or a file the
  services read when they start (data fixtures, a mock's stubs, `init` SQL files).

A suite that no longer loads is reported and the watch goes on. Ctrl-C (or SIGTERM) during
a run stops it as in `splice run` (teardowns run); between runs it stops the services and
exits. Reruns are not recorded in the results store.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console

from splice._internal.errors import SuiteError, UsageError
from splice._internal.model.suite import Suite
from splice._internal.project.model import Project
from splice._internal.runner.inputs import external_vars
from splice._internal.runner.planner import Selection, select
from splice._internal.runner.secrets import run_masker

if TYPE_CHECKING:
    from splice._internal.environment.lifecycle import OpenEnvironment

EXIT_INTERRUPTED, EXIT_SERVICES = 130, 3
DEBOUNCE_MS = 300
# written by runs themselves: watching them would rerun for ever
_IGNORED_DIRS = {".splice", "reports"}
_IGNORED_SUFFIXES = (".log", ".db", ".db-journal", ".db-wal", ".sqlite", ".sqlite3", ".pyc")


def suite_files(suite: Suite) -> set[Path]:
    """Every file `suite` was made from: itself, its included step files, its step
    templates and the files its `foreach` rows came from."""
    files = {suite.path.resolve()}
    steps = [*suite.setup, *suite.teardown]
    for tc in suite.testcases:
        steps += [*tc.setup, *tc.steps, *tc.teardown]
        if tc.row is not None and tc.row.span is not None:
            files.add(tc.row.span.path.resolve())
    for template in suite.templates.values():
        files.add(template.path.resolve())
        steps += template.steps
    files |= {s.span.path.resolve() for s in steps if s.span is not None}
    return files


def affected(suites: list[Suite], changed: set[Path]) -> list[Suite] | None:
    """The suites `changed` concerns, or None when a change concerns them all."""
    owners: dict[Path, set[Path]] = {}
    for suite in suites:
        for path in suite_files(suite):
            owners.setdefault(path, set()).add(suite.path.resolve())
    hit: set[Path] = set()
    for path in changed:
        if path.name.endswith((".splice.yaml", ".splice.yml")):
            hit.add(path)  # a suite: also a new one, or one that failed to load before
        elif path in owners:
            hit |= owners[path]
        else:
            return None
    return [s for s in suites if s.path.resolve() in hit]


def service_files(project: Project) -> set[Path]:
    """Files the services read when they start: data fixtures, and every file a service
    setting names (a mock's stub globs, PostgreSQL's `init` scripts, a .proto file)."""
    files = {p.resolve() for paths in project.data.fixtures.values() for p in paths}
    root = project.root
    for spec in project.services.values():
        dump = getattr(spec.settings, "model_dump", None)
        for text in _strings(dump() if callable(dump) else {}):
            if "{{" in text or "\n" in text or len(text) > 300 or not ("/" in text or "." in text):
                continue
            try:
                files |= {p.resolve() for p in root.glob(text) if p.is_file()}
            except (ValueError, NotImplementedError, OSError):
                continue  # not a pattern: a command, a URL
    return files


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class _Filter:
    """watchfiles' default filter (VCS folders, caches, virtualenvs), plus what runs write."""

    def __init__(self, root: Path, outputs: list[Path]) -> None:
        from watchfiles import DefaultFilter

        self.default = DefaultFilter()
        self.root = root.resolve()
        self.outputs = {p.resolve() for p in outputs}

    def __call__(self, change: Any, path: str) -> bool:
        resolved = Path(path)
        if not self.default(change, path) or resolved in self.outputs:
            return False
        try:
            parts = resolved.relative_to(self.root).parts
        except ValueError:
            parts = resolved.parts
        return not (_IGNORED_DIRS & set(parts)) and not path.endswith(_IGNORED_SUFFIXES)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (between runs: stop watching)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Changes:
    """File events from a thread of their own, queued until the watch asks for them."""

    def __init__(self, watchfiles: Any, root: Path, watch_filter: _Filter) -> None:
        self._queue: queue.Queue[set[tuple[Any, str]]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._pump, args=(watchfiles, root, watch_filter), daemon=True
        )
        self._thread.start()

    def _pump(self, watchfiles: Any, root: Path, watch_filter: _Filter) -> None:
        for changes in watchfiles.watch(
            root,
            watch_filter=watch_filter,
            debounce=DEBOUNCE_MS,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            self._queue.put(changes)

    def next(self) -> set[Path]:
        """The files changed since the last call (waiting for one when there is none)."""
        while True:
            try:
                changes = self._queue.get(timeout=0.5)  # short waits: Ctrl-C gets through
                break
            except queue.Empty:
                continue
        while not self._queue.empty():
            changes |= self._queue.get_nowait()
        return {Path(path).resolve() for _, path in changes}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Watch:
    """One watch session: its options, the project, and the file events."""

    def __init__(self, paths: list[str], opts: dict[str, Any]) -> None:
        try:
            import watchfiles
        except ImportError:
            raise UsageError(
                "--watch needs the watchfiles package",
                "install it with: pip install 'splice[watch]'",
            ) from None
        self.watchfiles = watchfiles
        self.paths = paths
        self.opts = opts
        self.ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
        self.err = Console(stderr=True, highlight=False)
        self.out = Console(highlight=False)
        self.suites: list[Suite] = []

    def run(self) -> int:
        from splice._internal.cli.run_command import _project

        project = _project()
        outputs = [self.opts[k] for k in ("junit", "json_path", "html") if self.opts.get(k)]
        # watching starts now, before the first run, so no change is missed (nor one made
        # while a run runs: it is taken up after it)
        events = _Changes(self.watchfiles, project.root, _Filter(project.root, outputs))
        with _stop_on_signals():
            try:
                while True:
                    restart = self._with_services(project, events)
                    if restart is not None:
                        return restart
                    project = self._reloaded_project(events)
            except KeyboardInterrupt:
                self.out.print("stopped watching", style="yellow")
                return EXIT_INTERRUPTED
            finally:
                events.close()

    def _reloaded_project(self, events: _Changes) -> Project:
        from splice._internal.cli.run_command import _project

        while True:
            try:
                return _project()
            except SuiteError as exc:
                self._diagnostics(exc)
                self._wait(events)

    def _with_services(self, project: Project, events: _Changes) -> int | None:
        """Start the services, run on every change; None when splice.yaml changed (start
        again with the new file), an exit code to stop."""
        from splice._internal.cli.services import ConsoleStart, print_service_error
        from splice._internal.environment.lifecycle import StartFailed, open_environment
        from splice._internal.services.kind_api import ServiceError

        masker = run_masker(project, self.ext.merged(), self.ext.secrets | set(project.secrets))
        try:
            with open_environment(
                project, masker=masker, listener=ConsoleStart(self.err)
            ) as active:
                changed: set[Path] | None = None
                while True:
                    code = self._round(project, active, changed)
                    if code is not None:
                        return code
                    self.out.print(
                        f"[dim]watching {project.root} for changes; Ctrl-C to stop[/]",
                        soft_wrap=True,
                    )
                    changed = self._wait(events)
                    if project.path is not None and project.path.resolve() in changed:
                        self.out.print("splice.yaml changed: restarting the services")
                        return None
                    read = changed & service_files(project)
                    if read:
                        shown = ", ".join(sorted(_shown(p, project.root) for p in read))
                        self.out.print(f"{shown} changed: restarting the services")
                        return None
        except (StartFailed, ServiceError) as exc:
            print_service_error(exc.error if isinstance(exc, StartFailed) else exc, self.err)
            self._wait(events)
            return None

    def _round(
        self, project: Project, active: OpenEnvironment, changed: set[Path] | None
    ) -> int | None:
        """Reload the suites and run those `changed` concerns; an exit code to stop."""
        from splice._internal.cli.run_command import _load

        try:
            suites = _load(self.paths, set(self.ext.merged()), project)
        except SuiteError as exc:
            self._diagnostics(exc)
            return None
        except UsageError as exc:
            self.err.print(f"error: {exc.message}", markup=False)
            return None
        previous, self.suites = self.suites, suites
        chosen = suites
        if changed is not None:
            concerned = affected([*previous, *suites], changed)
            if concerned is not None:
                wanted = {s.path.resolve() for s in concerned} | {
                    p for p in changed if p.name.endswith((".splice.yaml", ".splice.yml"))
                }
                chosen = [s for s in suites if s.path.resolve() in wanted]
        opts = self.opts
        selection = Selection(
            list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"])
        )
        selected = select(chosen, selection)
        if selected:
            interrupted = self._run(project, active, selected)
            if interrupted:
                return EXIT_INTERRUPTED
        else:
            self.out.print("no testcase to run for this change")
        return None

    def _run(self, project: Project, active: OpenEnvironment, suites: list[Suite]) -> bool:
        """One run with the services up; whether it was interrupted."""
        from splice._internal.cli.run_command import write_reports
        from splice._internal.reporting.console import ConsoleReporter
        from splice._internal.runner.events import EventBus
        from splice._internal.runner.interrupts import DEFAULT_GRACE, Interrupts
        from splice._internal.runner.run import Runner, RunOptions

        opts = self.opts
        console = ConsoleReporter(verbose=opts["verbose"], quiet=opts["quiet"])
        options = RunOptions(
            jobs=project.run.jobs_or(opts.get("jobs")),
            fail_fast=opts["fail_fast"],
            retries=project.run.retries_or(opts.get("retries")),
            external=self.ext.merged(),
            secret_names=self.ext.secrets | set(project.secrets),
        )
        masker = run_masker(project, self.ext.merged(), options.secret_names)
        runner = Runner(suites, options, EventBus([console]), masker)
        runner.options.builtins = {**active.builtins, "run_id": runner.result.id}
        runner.options.hooks = [*active.hooks, *runner.options.hooks]
        runner.options.guards = [*active.guards, *runner.options.guards]
        runner.result.services = runner.masker.mask(active.summary)
        console.service_logs, console.masker = active.logs, runner.masker
        grace = opts.get("term_grace")
        with Interrupts(runner.control, DEFAULT_GRACE if grace is None else grace):
            result = runner.run()
        console.print_report_paths(write_reports(result, opts, runner.masker))
        return result.interrupted

    def _wait(self, events: _Changes) -> set[Path]:
        return events.next()

    def _diagnostics(self, exc: SuiteError) -> None:
        from splice._internal.reporting.diagnostics import render_diagnostics

        self.err.print(
            render_diagnostics(exc.diagnostics), markup=False, highlight=False, emoji=False
        )


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def watch_command(paths: list[str], opts: dict[str, Any]) -> int:
    return Watch(paths, opts).run()
