"""`splice run` and `splice check`: plan, validate, run, report."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice.cli.options import external_vars
from splice.errors import SuiteError, UsageError
from splice.model.results import RunResult, Status
from splice.model.suite import Suite
from splice.project.model import Project
from splice.runner.analysis import analyse
from splice.runner.planner import Selection, discover, load_all, select
from splice.runner.secrets import masked_command, run_masker

if TYPE_CHECKING:
    from splice.cli.services import StartFailed
    from splice.reporting.console import ConsoleReporter
    from splice.runner.events import EventBus
    from splice.runner.run import Runner
    from splice.store.attach import Recording

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _project() -> Project:
    from splice.project.loader import find_project, load_project

    return load_project(find_project(Path.cwd()))


def load_suites(
    paths: list[str],
    project: Project,
    var_names: set[str] | None = None,
    root: Path | None = None,
) -> list[Suite]:
    """The suites in `paths` (relative to `root`, default the project folder), analysed;
    every problem in any of them raises one SuiteError. Workflows and shards load here."""
    return _load(paths, var_names or set(), project, root=root or project.root)


def _load(
    paths: list[str], var_names: set[str], project: Project, root: Path | None = None
) -> list[Suite]:
    root = root or Path.cwd()
    if not paths and project.suites:
        root = project.root
        paths = list(project.suites)
    files = discover(paths, root)
    if not files:
        raise UsageError("no suites found", "suite files are named *.splice.yaml")
    suites, problems = load_all(files)
    known = var_names | set(project.vars)
    for suite in suites:
        analysis = analyse(suite, known)
        problems.extend(analysis.diagnostics)
        if analysis.needs_order:
            suite.serial = True
    if problems:
        raise SuiteError(problems)
    return suites


def check_command(paths: list[str], opts: dict[str, Any]) -> int:
    from rich.console import Console

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    suites = _load(paths, set(ext.merged()), project)
    n = sum(len(s.testcases) for s in suites)
    services = f", {len(project.services)} services" if project.services else ""
    Console(highlight=False).print(
        f"[green]ok[/]: {len(suites)} suite{'s' if len(suites) != 1 else ''}, "
        f"{n} testcase{'s' if n != 1 else ''}{services}, no problems found"
    )
    return EXIT_OK


def run_command(paths: list[str], opts: dict[str, Any]) -> int:
    from splice.reporting.console import ConsoleReporter
    from splice.runner.events import EventBus
    from splice.runner.run import Runner, RunOptions

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    external = ext.merged()
    project = _project()
    suites = _load(paths, set(external), project)
    selection = Selection(list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"]))
    selected = select(suites, selection)
    if not selected:
        raise UsageError(
            "no testcase matches the selection",
            "check -k and --tag; `splice check` lists what the suites contain",
        )
    console = ConsoleReporter(verbose=opts["verbose"], quiet=opts["quiet"])
    bus = EventBus([console])
    recording = _recording(bus, project, opts)
    options = RunOptions(
        jobs=opts["jobs"],
        fail_fast=opts["fail_fast"],
        retries=opts["retries"],
        external=external,
        secret_names=ext.secrets | set(project.secrets),
    )
    masker = run_masker(project, external, options.secret_names)
    if recording is not None:
        masker.add_all(recording.secrets)
    runner = Runner(selected, options, bus, masker)
    from splice.cli.interrupts import DEFAULT_GRACE, Interrupts

    grace = opts.get("term_grace")
    try:
        with (
            _debug_log(opts["verbose"] >= 2, runner.masker.text),
            Interrupts(runner, DEFAULT_GRACE if grace is None else grace),
        ):
            return _run_with_services(project, runner, console, recording, opts)
    except KeyboardInterrupt:  # before the run started: the services did not all start
        console.console.print("interrupted while starting the services", style="yellow")
        return EXIT_INTERRUPTED
    finally:
        if recording is not None:
            recording.close()


@contextlib.contextmanager
def _debug_log(enabled: bool, mask: Callable[[str], str]) -> Iterator[None]:
    """With -vv, splice's debug log (the traceback of an internal error) on stderr, masked."""
    if not enabled:
        yield
        return
    import logging
    import sys

    class Masked(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return mask(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Masked("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("splice")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _recording(bus: EventBus, project: Project, opts: dict[str, Any]) -> Recording | None:
    """The store side of the run; None with --no-store and no --report-to (then the store,
    and SQLAlchemy, are not even imported: a faster start)."""
    if opts.get("no_store") and not opts.get("report_to"):
        return None
    from rich.console import Console

    from splice.store.attach import attach

    warn = Console(stderr=True, highlight=False).print
    return attach(
        bus, project.root, project.name, opts, lambda text: warn(f"warning: {text}", markup=False)
    )


def _run_with_services(
    project: Project,
    runner: Runner,
    console: ConsoleReporter,
    recording: Recording | None,
    opts: dict[str, Any],
) -> int:
    """Start the services, run, stop them; then record the end and write the reports."""
    from rich.console import Console

    from splice.cli.services import (
        EXIT_SERVICES,
        StartFailed,
        print_serialised,
        render_service_error,
        services_for_run,
    )
    from splice.services.base import ServiceError

    started_at = time.time()
    err = Console(stderr=True, highlight=False)
    try:
        with services_for_run(project, err, runner.masker, runner.result.id) as active:
            print_serialised(active, runner.suites, runner.options.jobs, err)
            runner.options.builtins = active.builtins
            runner.options.hooks = active.hooks
            runner.options.environment = active.environment
            runner.result.services = runner.masker.mask(active.summary)
            console.service_logs, console.masker = active.logs, runner.masker
            console.logs_kept_in = project.root / ".splice" / "logs" / runner.result.id
            result = runner.run()
        result.services = runner.masker.mask(with_logs(active.summary, active.logs))
    except StartFailed as failed:
        render_service_error(failed.error, err)
        _record_failed_start(runner, project, recording, failed, started_at)
        return EXIT_SERVICES
    except ServiceError as exc:  # from a reused `splice up` environment, say
        render_service_error(exc, err)
        return EXIT_SERVICES
    if recording is not None:
        recording.finish(result)
        held = recording.gate.summary()
        if held:
            Console(highlight=False).print(held, style="yellow", markup=False)
    console.print_report_paths(write_reports(result, opts))
    return exit_code(result)


def _record_failed_start(
    runner: Runner,
    project: Project,
    recording: Recording | None,
    failed: StartFailed,
    started_at: float,
) -> None:
    """A run whose services did not start is stored too: status error, the error with the
    log tail, and the kept logs."""
    from splice.reporting.diagnostics import render_service_error

    run = runner.result
    run.started_at, run.duration = started_at, time.time() - started_at
    run.status = Status.ERROR
    run.command = masked_command(run.command, runner.masker, runner.options.secret_names)
    run.services = runner.masker.mask(with_logs(failed.active.summary, failed.active.logs))
    if recording is not None:
        total = sum(len(suite.testcases) for suite in runner.suites)
        reason = runner.masker.mask(render_service_error(failed.error))
        recording.failed_start(run, total, reason)


def with_logs(summary: list[dict[str, Any]], logs: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        {**entry, "log": str(logs[entry["name"]]) if entry["name"] in logs else None}
        for entry in summary
    ]


def write_reports(run: RunResult, opts: dict[str, Any]) -> list[tuple[str, Path]]:
    written = []
    if opts.get("junit"):
        from splice.reporting.junit import write_junit

        write_junit(run, opts["junit"])
        written.append(("JUnit", opts["junit"]))
    if opts.get("json_path"):
        from splice.reporting.json_report import write_json

        write_json(run, opts["json_path"])
        written.append(("JSON", opts["json_path"]))
    if opts.get("html"):
        from splice.reporting.html import write_html

        write_html(run, opts["html"])
        written.append(("HTML", opts["html"]))
    return written


def exit_code(run: RunResult) -> int:
    """0 all passed (flaky and skipped included), 1 tests failed, 130 interrupted."""
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if run.status == Status.PASSED else EXIT_FAILED
