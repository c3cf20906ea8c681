"""What `splice.run`, `splice.check` and `splice.open_environment` do; the CLI is built on
the same functions (`find_project`, `load_suites`, `run_suites`), adding a console, the
store and reports on top.

Nothing here imports `splice._internal.cli`: a program that embeds splice loads the loader, the
runner, the environment lifecycle and the executors its suites use, and nothing more. The
runner and the lifecycle load only when something runs, so checking suites (`splice check`,
`splice.check`) does not import them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice._internal.errors import Diagnostic, SuiteError, UsageError
from splice._internal.model.suite import Suite
from splice._internal.project.model import Project
from splice._internal.runner.analysis import analyse
from splice._internal.runner.inputs import external_vars
from splice._internal.runner.planner import Selection, discover, load_all, select

if TYPE_CHECKING:
    from splice._internal.environment.lifecycle import OpenEnvironment, StartListener
    from splice._internal.environment.warm import WarmOptions
    from splice._internal.masking import Masker
    from splice._internal.model.results import RunResult
    from splice._internal.runner.events import Listener
    from splice._internal.runner.hooks import AttemptHook
    from splice._internal.runner.run import Runner

if TYPE_CHECKING:
    from splice._internal.contracts.project_contracts import StorePacts

StrPath = str | PathLike[str]


def find_project(project: StrPath | Project | None = None) -> Project:
    """The project: a `Project`, the path of a splice.yaml or of its folder, or (None) the
    splice.yaml here or in the nearest folder above (an empty project when there is none)."""
    from splice._internal.project.loader import find_project as nearest
    from splice._internal.project.loader import load_project
    from splice._internal.project.model import PROJECT_FILE

    if isinstance(project, Project):
        return project
    if project is None:
        return load_project(nearest(Path.cwd()))
    path = Path(project)
    if path.is_dir():
        path = path / PROJECT_FILE
    if not path.is_file():
        raise UsageError(f"no project file at {path}", "name a splice.yaml or its folder")
    return load_project(path)


def load_suites(
    paths: Sequence[StrPath],
    project: Project,
    var_names: Iterable[str],
    root: Path | None = None,
) -> list[Suite]:
    """Suites of `paths` (files, folders, globs from `root`, default here; none: the
    project's `suites:`, else every *.splice.yaml here), checked: raises `SuiteError` with
    every problem found, located."""
    root = root or Path.cwd()
    names = [str(p) for p in paths]
    if not names and project.suites:
        root = project.root
        names = list(project.suites)
    files = discover(names, root)
    if not files:
        raise UsageError("no suites found", "suite files are named *.splice.yaml")
    suites, problems = load_all(files)
    known = set(var_names) | set(project.vars)
    for suite in suites:
        analysis = analyse(suite, known, project.service_kinds())
        problems.extend(analysis.diagnostics)
        if analysis.needs_order:
            suite.serial = True
    if problems:
        raise SuiteError(problems)
    return suites


def load_run_suites(
    paths: Sequence[StrPath],
    project: Project,
    var_names: Iterable[str],
    *,
    contracts: bool | None = None,
    store_pacts: StorePacts | None = None,
) -> list[Suite]:
    """What a run runs (`splice run`, `splice check`, `splice.run`, `splice.check`): the
    suites of `paths` (as `load_suites`) and, when `contracts` asks (None: when no paths
    are given), one suite per pact of the project's `contracts:`, the pacts of its entries
    with `broker:` from `store_pacts` (default: a located error, no store is open). With
    contracts, a project without suite files is fine. Raises `SuiteError` with every
    problem of both, located."""
    wanted = False
    if project.contracts or contracts:  # else no contracts module is imported
        from splice._internal.contracts.project_contracts import contracts_wanted

        wanted = contracts_wanted(project, paths, contracts)
    problems: list[Diagnostic] = []
    suites: list[Suite] = []
    try:
        suites = load_suites(paths, project, var_names)
    except SuiteError as exc:
        problems.extend(exc.diagnostics)
    except UsageError as exc:
        if not (wanted and not paths and exc.message.startswith("no suites")):
            raise
    if wanted:
        from splice._internal.contracts.project_contracts import contract_suites, no_store

        try:
            suites.extend(contract_suites(project, store_pacts or no_store))
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SuiteError(problems)
    return suites


def check(
    paths: Sequence[StrPath] = (),
    *,
    project: StrPath | Project | None = None,
    vars: Mapping[str, Any] | None = None,
    var_files: Sequence[StrPath] = (),
    contracts: bool | None = None,
) -> list[Diagnostic]:
    """Validate the project file and suites without running anything; the problems found
    (empty when there are none), each with its file, line, column and hint. `contracts`
    as in `run`: the pact and states files of `contracts:` are read too (pacts kept in the
    store are not).

    Raises `UsageError` when no suite is found, `SuiteError` when a var file is broken."""
    ext = external_vars((), tuple(str(f) for f in var_files), ())
    ext.cli.update(vars or {})
    try:
        found = find_project(project)
        store_pacts: StorePacts | None = None
        if found.contracts:
            from splice._internal.contracts.project_contracts import skip_store

            store_pacts = skip_store
        load_run_suites(paths, found, ext.merged(), contracts=contracts, store_pacts=store_pacts)
    except SuiteError as exc:
        return list(exc.diagnostics)
    return []


def run(
    paths: Sequence[StrPath] = (),
    *,
    project: StrPath | Project | None = None,
    vars: Mapping[str, Any] | None = None,
    var_files: Sequence[StrPath] = (),
    secrets: Iterable[str] = (),
    jobs: int | None = None,
    retries: int | None = None,
    fail_fast: bool = False,
    keywords: Sequence[str] = (),
    tags: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    listeners: Iterable[Listener] = (),
    hooks: Iterable[AttemptHook] = (),
    reuse_up: bool = True,
    contracts: bool | None = None,
    warm: bool | None = None,
) -> RunResult:
    """Run suites as `splice run` does, without its console, store or reports: the
    project's services are started (or those of a running `splice up` reused) and stopped
    again; `listeners` hear every event; the result says what happened. The pacts of the
    project's `contracts:` are verified beside the suites as `splice run` verifies them:
    by default when no `paths` are given; `contracts=True` adds them to `paths`, False
    leaves them out (entries with `broker:` need the store: `splice run`). `warm` is
    `--warm`/`--no-warm` (default: splice.yaml's `warm:`); `jobs` and `retries` default to
    splice.yaml's `run:` (else 1 and 0), as `-j` and `--retries` do.

    Raises `SuiteError` (with every located problem) before anything runs, `UsageError`
    when nothing is selected, and `splice.StartFailed` when the services do not start."""
    from splice._internal.runner.events import EventBus
    from splice._internal.runner.run import Runner, RunOptions
    from splice._internal.runner.secrets import run_masker

    ext = external_vars((), tuple(str(f) for f in var_files), tuple(secrets))
    ext.cli.update(vars or {})
    external = ext.merged()
    found = find_project(project)
    suites = load_run_suites(paths, found, external, contracts=contracts)
    selected = select(suites, Selection(list(keywords), list(tags), list(exclude_tags)))
    if not selected:
        raise UsageError("no testcase matches the selection", "check keywords and tags")
    options = RunOptions(
        jobs=found.run.jobs_or(jobs),
        fail_fast=fail_fast,
        retries=found.run.retries_or(retries),
        external=external,
        secret_names=ext.secrets | set(found.secrets),
        hooks=list(hooks),
    )
    masker = run_masker(found, external, options.secret_names)
    runner = Runner(selected, options, EventBus(listeners), masker)
    return run_suites(runner, found, reuse_up=reuse_up, warm=warm_options(found, warm))


def warm_options(project: Project, wanted: bool | None) -> WarmOptions | None:
    """How a run uses the project's warm pool: `wanted` (`--warm`, `--no-warm`), else
    splice.yaml's `warm:`; None: no pool (and its module is not imported)."""
    if wanted is False or (wanted is None and project.warm_idle is None):
        return None
    from splice._internal.environment.warm import DEFAULT_IDLE, WarmOptions

    return WarmOptions(idle=project.warm_idle if project.warm_idle is not None else DEFAULT_IDLE)


def run_suites(
    runner: Runner,
    project: Project,
    *,
    reuse_up: bool = True,
    listener: StartListener | None = None,
    on_open: Callable[[OpenEnvironment], None] | None = None,
    warm: WarmOptions | None = None,
) -> RunResult:
    """Open the project's environment, run `runner` in it, close it: the services'
    variables, data isolation and summary go to the run (`on_open` sees the environment
    first; `warm` attaches to the project's warm pool). Raises `StartFailed`, or
    `ServiceError` when a reused environment fails.

    Services with an `openapi:` document: every http step against them is checked against
    it, and the run's `openapi` holds the documents' operation coverage."""
    from splice._internal.environment import lifecycle

    monitor = None
    if project.openapi:  # read before anything starts: a broken document is a located error
        from splice._internal.contracts.openapi_steps import OpenApiMonitor, load_documents

        monitor = OpenApiMonitor(load_documents(project.openapi))
    warming = None
    if project.services:  # the drivers of the steps load while the services start
        from splice._internal.executors import warming as warm_imports

        warming = warm_imports.warm(
            warm_imports.modules_of(warm_imports.used_executors(runner.suites))
        )
    try:
        with lifecycle.open_environment(
            project,
            masker=runner.masker,
            run_id=runner.result.id,
            reuse_up=reuse_up,
            listener=listener,
            warm=warm,
        ) as opened:
            runner.options.builtins = opened.builtins
            runner.options.hooks = [*opened.hooks, *runner.options.hooks]
            runner.options.guards = [*opened.guards, *runner.options.guards]
            if monitor is not None:
                monitor.attach(opened.builtins, runner.options.hooks)
            runner.result.services = runner.masker.mask(opened.summary)
            if on_open is not None:
                on_open(opened)
            result = runner.run()
    finally:
        if warming is not None:
            warming.join()  # long done; a daemon thread must not be importing at exit
    result.services = opened.described()
    if monitor is not None:
        result.openapi = monitor.coverage()
    return result


@contextlib.contextmanager
def open_environment(
    project: StrPath | Project | None = None,
    *,
    reuse_up: bool = True,
    masker: Masker | None = None,
) -> Iterator[OpenEnvironment]:
    """The project's services, running (started, or those of `splice up`) with their data
    prepared, for the `with` block; stopped at its end. See `splice.open_environment`."""
    from splice._internal.environment import lifecycle

    found = find_project(project)
    with lifecycle.open_environment(found, masker=masker, reuse_up=reuse_up) as opened:
        yield opened
