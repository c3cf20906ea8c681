"""`splice run` and `splice check`: plan, validate, run, report."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice._internal.errors import UsageError
from splice._internal.model.results import RunResult, Status, given_run_id
from splice._internal.model.suite import Suite
from splice._internal.project.model import Project
from splice._internal.reporting.terminal import make_console
from splice._internal.runner.inputs import external_vars
from splice._internal.runner.planner import Selection, select
from splice._internal.runner.secrets import masked_command, run_masker
from splice._internal.words import count

if TYPE_CHECKING:
    from splice._internal.environment.lifecycle import StartFailed
    from splice._internal.masking import Masker
    from splice._internal.reporting.console import ConsoleReporter
    from splice._internal.runner.events import EventBus
    from splice._internal.runner.run import Runner
    from splice._internal.store.attach import Recording

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _project() -> Project:
    from splice._internal.api import find_project

    return find_project()


def _load(paths: list[str], var_names: set[str], project: Project) -> list[Suite]:
    from splice._internal.api import load_suites

    return load_suites(paths, project, var_names)


def check_command(paths: list[str], opts: dict[str, Any]) -> int:

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    # the store's pacts are checked when they run
    suites = _load_with_contracts(
        paths, set(ext.merged()), project, opts.pop("contracts", None), read_store=False
    )
    if project.openapi:  # the services' OpenAPI documents must validate
        from splice._internal.contracts.openapi_steps import load_documents

        load_documents(project.openapi)
    n = sum(len(s.testcases) for s in suites)
    services = f", {count(len(project.services), 'service')}" if project.services else ""
    later = sum(1 for s in suites for tc in s.testcases if tc.later is not None)
    # rows from a query exist only once the services run: such a testcase counts as one
    expanded = f" ({later} expanded at run time)" if later else ""
    make_console().print(
        f"[green]ok[/]: {count(len(suites), 'suite')}, "
        f"{count(n, 'testcase')}{expanded}{services}, no problems found"
    )
    return EXIT_OK


def run_command(paths: list[str], opts: dict[str, Any]) -> int:
    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    suites = _load_with_contracts(
        paths, set(ext.merged()), project, opts.pop("contracts", None), opts.get("store")
    )
    from splice._internal.cli.contract_results import pact_paths, verification_recorder

    on_finish = verification_recorder(
        pact_paths(suites),
        opts.pop("provider_version", None),
        opts.pop("provider_branch", ""),
        opts,
    )
    return run_suites(project, suites, opts, on_finish=on_finish)


def _load_with_contracts(
    paths: list[str],
    var_names: set[str],
    project: Project,
    flag: bool | None,
    store_url: str | None = None,
    *,
    read_store: bool = True,
) -> list[Suite]:
    """The suites and the pacts of `contracts:` (`api.load_run_suites`), those of entries
    with `broker:` read from the store at `store_url` (not read with `read_store` False:
    `splice check`)."""
    from splice._internal.api import load_run_suites

    if not project.contracts:  # no contracts module imported (--contracts: a located error)
        return load_run_suites(paths, project, var_names, contracts=flag)
    from splice._internal.contracts.project_contracts import skip_store

    if not read_store or not any(plan.from_store for plan in project.contracts):
        return load_run_suites(paths, project, var_names, contracts=flag, store_pacts=skip_store)
    from splice._internal.contracts.store_pacts import from_store
    from splice._internal.store import Store

    store = Store.open(store_url, project.root)
    try:
        return load_run_suites(
            paths, project, var_names, contracts=flag, store_pacts=from_store(store, project.root)
        )
    finally:
        store.close()


def run_suites(
    project: Project,
    suites: list[Suite],
    opts: dict[str, Any],
    on_finish: Callable[[RunResult], None] | None = None,
) -> int:
    """Run loaded suites with the project's services, the reports and the store (`splice
    run`, and `splice contract verify` with the suites it makes from pacts)."""
    from splice._internal.reporting.console import ConsoleReporter
    from splice._internal.runner.events import EventBus
    from splice._internal.runner.run import Runner, RunOptions

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    external = ext.merged()
    selection = Selection(list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"]))
    selected = select(suites, selection)
    if not selected:
        raise UsageError(
            "no testcase matches the selection",
            "check -k and --tag; `splice check` lists what the suites contain",
        )
    if opts.get("shard") or opts.get("durations"):
        selected, opts = _static_shard(selected, opts)
        if not selected:
            return EXIT_OK
    console = ConsoleReporter(verbose=opts["verbose"], quiet=opts["quiet"])
    bus = EventBus([console])
    recording = _recording(bus, project, opts)
    options = RunOptions(
        jobs=project.run.jobs_or(opts.get("jobs")),
        fail_fast=opts["fail_fast"],
        retries=project.run.retries_or(opts.get("retries")),
        external=external,
        secret_names=ext.secrets | set(project.secrets),
    )
    masker = run_masker(project, external, options.secret_names)
    if recording is not None:
        masker.add_all(recording.secrets)
    runner = Runner(selected, options, bus, masker)
    if opts.get("run_id"):
        from splice._internal.shards.static import check_run_id

        runner.result.id = check_run_id(opts["run_id"])
    else:
        runner.result.id = given_run_id() or runner.result.id  # started by `splice serve`
    from splice._internal.runner.interrupts import DEFAULT_GRACE, Interrupts

    grace = opts.get("term_grace")
    try:
        with (
            _debug_log(opts["verbose"] >= 2, runner.masker.text),
            Interrupts(runner.control, DEFAULT_GRACE if grace is None else grace),
        ):
            return _run_with_services(
                project, runner, console, recording, opts, on_finish=on_finish
            )
    except KeyboardInterrupt:  # before the run started: the services did not all start
        console.console.print("interrupted while starting the services", style="yellow")
        return EXIT_INTERRUPTED
    finally:
        if recording is not None:
            recording.close()


def _static_shard(
    selected: list[Suite], opts: dict[str, Any]
) -> tuple[list[Suite], dict[str, Any]]:
    """`--shard I/N`: the I-th shard of the selection (none: an empty shard, said so), and
    the options that make the run report as that shard."""
    from splice._internal.shards.static import choose, parse_shard, read_durations

    if not opts.get("shard"):
        raise UsageError(
            "--durations plans static shards, but there is no --shard",
            "add --shard I/N, or leave out --durations",
        )
    spec = parse_shard(opts["shard"])
    if opts.get("report_to") and not opts.get("run_id"):
        raise UsageError(
            f"shard {spec} reports to {opts['report_to']} without --run-id",
            "give every shard the same --run-id (e.g. --run-id ci-$CI_PIPELINE_ID), so "
            "the server stores them as one run",
        )
    durations = read_durations(opts["durations"]) if opts.get("durations") else {}
    chosen = choose(selected, spec, durations)
    total = sum(len(s.testcases) for s in selected)
    mine = sum(len(s.testcases) for s in chosen.suites)
    out = make_console()
    if not chosen.suites:
        out.print(
            f"shard {spec}: no testcases (the {count(total, 'testcase')} fill "
            f"{count(chosen.reporting, 'shard')}); nothing to run",
            markup=False,
        )
        return [], opts
    if not opts.get("quiet"):
        out.print(f"shard {spec}: {mine} of {count(total, 'testcase')}", markup=False)
    if not opts.get("run_id"):  # a run of its own: nothing to join
        return chosen.suites, opts
    return chosen.suites, {**opts, "shard_of_run": (spec.index, chosen.reporting)}


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

    from splice._internal.store.attach import StoreOptions, attach

    warn = make_console(stderr=True).print
    options = StoreOptions.from_cli(opts)
    return attach(
        bus,
        project.root,
        project.name,
        options,
        lambda text: warn(f"warning: {text}", markup=False),
    )


def _run_with_services(
    project: Project,
    runner: Runner,
    console: ConsoleReporter,
    recording: Recording | None,
    opts: dict[str, Any],
    *,
    on_finish: Callable[[RunResult], None] | None = None,
) -> int:
    """Open the environment, run, close it; then record the end and write the reports
    (`on_finish` sees the finished run first)."""

    from splice._internal.api import run_suites as run_in_environment
    from splice._internal.api import warm_options
    from splice._internal.cli.services import (
        EXIT_SERVICES,
        ConsoleStart,
        print_serialised,
        print_service_error,
    )
    from splice._internal.environment.lifecycle import OpenEnvironment, StartFailed
    from splice._internal.services.kind_api import ServiceError

    started_at = time.time()
    err = make_console(stderr=True)

    def on_open(opened: OpenEnvironment) -> None:
        print_serialised(opened, runner.suites, runner.options.jobs, err)
        console.service_logs, console.masker = opened.logs, runner.masker
        console.logs_kept_in = opened.logs_folder

    try:
        result = run_in_environment(
            runner,
            project,
            listener=ConsoleStart(err),
            on_open=on_open,
            warm=warm_options(project, opts.get("warm")),
        )
    except StartFailed as failed:
        print_service_error(failed.error, err)
        _record_failed_start(runner, recording, failed, started_at)
        return EXIT_SERVICES
    except ServiceError as exc:  # from a reused `splice up` environment, say
        print_service_error(exc, err)
        return EXIT_SERVICES
    if recording is not None:
        recording.finish(result)
    if on_finish is not None:
        on_finish(result)
    if result.openapi:
        from splice._internal.contracts.openapi_steps import coverage_lines

        for line in coverage_lines(result.openapi):
            make_console().print(line, markup=False)
    if recording is not None:
        held = recording.gate.summary()
        if held:
            make_console().print(held, style="yellow", markup=False)
    console.print_report_paths(write_reports(result, opts, runner.masker))
    return exit_code(result)


def _record_failed_start(
    runner: Runner,
    recording: Recording | None,
    failed: StartFailed,
    started_at: float,
) -> None:
    """A run whose services did not start is stored too: status error, the error with the
    log tail, and the kept logs."""
    from splice._internal.reporting.diagnostics import render_service_error

    run = runner.result
    run.started_at, run.duration = started_at, time.time() - started_at
    run.status = Status.ERROR
    run.command = masked_command(run.command, runner.masker, runner.options.secret_names)
    run.services = failed.environment.described()
    if recording is not None:
        total = sum(len(suite.testcases) for suite in runner.suites)
        reason = runner.masker.mask(render_service_error(failed.error))
        recording.failed_start(run, total, reason)


def write_reports(
    run: RunResult, opts: dict[str, Any], masker: Masker | None = None
) -> list[tuple[str, Path]]:
    """Write the reports `opts` asks for; `masker` masks the log tails the HTML embeds."""
    written = []
    if opts.get("junit"):
        from splice._internal.reporting.junit import write_junit

        write_junit(run, opts["junit"])
        written.append(("JUnit", opts["junit"]))
    if opts.get("json_path"):
        from splice._internal.reporting.json_report import write_json

        write_json(run, opts["json_path"])
        written.append(("JSON", opts["json_path"]))
    if opts.get("html"):
        from splice._internal.reporting.html import write_html

        write_html(run, opts["html"], masker)
        written.append(("HTML", opts["html"]))
    return written


def exit_code(run: RunResult) -> int:
    """0 all passed (flaky and skipped included), 1 tests failed, 130 interrupted."""
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if run.status == Status.PASSED else EXIT_FAILED
