"""splice's pytest plugin entry point (registered as `pytest11`).

Kept tiny and import-light: pytest loads it in every session of every project that has
splice installed, so it imports nothing of splice until a hook needs it. A session without
a splice.yaml, suites or splice options pays for a few path checks and nothing else.

What it adds (docs/how-to/pytest.md): the fixtures `splice_env`, `splice_service`,
`splice_<name>` per service, `splice_private`, `splice_clock` and `splice_contract`
(verify a pact); `*.splice.yaml` suites as items; the `integration` marker and
`--splice-unit` / `--splice-integration`; and splice's JUnit, JSON and HTML reports of the
pytest run.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from splice._internal.pytest.keys import COLLECTOR as _COLLECTOR
from splice._internal.pytest.keys import HELD as _HELD
from splice._internal.pytest.keys import PROJECT_FILE as _PROJECT_FILE
from splice._internal.pytest.keys import RECORDING as _RECORDING
from splice._internal.pytest.keys import STATE as _STATE
from splice._internal.pytest.keys import WRITTEN as _WRITTEN

if TYPE_CHECKING:
    from splice._internal.pytest.clock import FrozenClock
    from splice._internal.pytest.contracts import ContractVerifier
    from splice._internal.pytest.handles import PrivateServices, ServiceHandle, SpliceEnv
    from splice._internal.pytest.state import State

_SUITE_SUFFIXES = (".splice.yaml", ".splice.yml")
# fixtures that bring up services: a test using any of them is an integration test
_SERVICE_FIXTURES = frozenset({"splice_env", "splice_service", "splice_private", "splice_contract"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("splice", "splice: services, isolation, suites, reports")
    add = group.addoption
    add(
        "--splice-unit",
        action="store_true",
        dest="splice_unit",
        help="run only tests that need no services (no server is started)",
    )
    add(
        "--splice-integration",
        action="store_true",
        dest="splice_integration",
        help="run only integration tests (those using splice's services or marked integration)",
    )
    add(
        "--splice-project",
        dest="splice_project",
        metavar="FILE",
        help="the project file (default: splice.yaml here or above, or at the rootdir)",
    )
    add(
        "--splice-no-up",
        action="store_true",
        dest="splice_no_up",
        help="start the services even when `splice up` runs them",
    )
    add(
        "--splice-var",
        action="append",
        dest="splice_vars",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for suites (repeatable)",
    )
    add(
        "--splice-var-file",
        action="append",
        dest="splice_var_files",
        default=[],
        metavar="FILE",
        help="a YAML file of variables for suites (repeatable)",
    )
    add(
        "--splice-secret",
        action="append",
        dest="splice_secrets",
        default=[],
        metavar="NAME",
        help="mask this variable's value in every output and report (repeatable)",
    )
    add(
        "--splice-retries",
        type=int,
        default=0,
        dest="splice_retries",
        metavar="N",
        help="retry failed suite testcases N times (flaky when a retry passes)",
    )
    add("--splice-junit", dest="splice_junit", metavar="FILE", help="write splice's JUnit XML")
    add("--splice-json", dest="splice_json", metavar="FILE", help="write splice's JSON report")
    add("--splice-html", dest="splice_html", metavar="FILE", help="write splice's HTML report")
    add("--splice-store", dest="splice_store", metavar="URL",
        help="record the session in this results store (default with a splice.yaml: "
        "$SPLICE_STORE_URL, else .splice/results.db in the project)")  # fmt: skip
    add("--splice-no-store", action="store_true", dest="splice_no_store",
        help="do not record the session in a results store")  # fmt: skip
    add("--splice-report-to", dest="splice_report_to", metavar="URL",
        help="stream results to a `splice serve` at URL while the session runs")  # fmt: skip
    add("--splice-report-token", dest="splice_report_token", metavar="TOKEN",
        help="write token for --splice-report-to (default: $SPLICE_TOKEN)")  # fmt: skip
    parser.addini("splice_project", "path of splice.yaml, relative to the rootdir", default="")
    parser.addini("splice_suites", "globs of *.splice.yaml suites to collect, from the rootdir",
                  type="linelist", default=[])  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs real services (added to tests using splice's services)"
    )
    config.addinivalue_line(
        "markers", "splice_clock(when, tick=False): the instant the splice_clock fixture starts at"
    )
    if config.getoption("splice_unit") and config.getoption("splice_integration"):
        raise pytest.UsageError("--splice-unit and --splice-integration exclude each other")
    path = _project_file(config)
    config.stash[_PROJECT_FILE] = path
    reports = _report_paths(config)
    if path is not None or config.getini("splice_suites") or _suites_named(config) or any(reports):
        state = state_of(config)
        if state.service_fixtures:
            _register_service_fixtures(config, state.service_fixtures)
    if hasattr(config, "workerinput"):  # xdist's controller writes reports and records
        return
    record = _recording_wanted(config, path)
    if any(reports) or record:
        from splice._internal.pytest.results import ResultCollector

        collector = ResultCollector(config.rootpath)
        config.stash[_COLLECTOR] = collector
        config.pluginmanager.register(collector, "splice-results")  # its logreport hook
        if record:
            from splice._internal.pytest.recording import SessionRecording

            known = config.stash.get(_STATE, None)
            name = known.project.name if known is not None and known.project is not None else ""
            config.stash[_RECORDING] = SessionRecording(config, collector, path, name)


def _recording_wanted(config: pytest.Config, project_file: Path | None) -> bool:
    """Record the session in a store? As `splice run` does in a project, or when a store
    or a server to report to is named; --splice-no-store turns the store off."""
    if config.getoption("splice_report_to"):
        return True
    if config.getoption("splice_no_store"):
        return False
    named = config.getoption("splice_store") or os.environ.get("SPLICE_STORE_URL")
    return bool(named) or project_file is not None


def state_of(config: pytest.Config) -> State:
    """The plugin's state in this process, made on first need."""
    from splice._internal.pytest.state import state_of as made

    return made(config)


def _project_file(config: pytest.Config) -> Path | None:
    explicit = config.getoption("splice_project")
    base = config.invocation_params.dir
    if not explicit and config.getini("splice_project"):
        explicit, base = config.getini("splice_project"), config.rootpath
    if explicit:
        path = Path(explicit) if Path(explicit).is_absolute() else base / explicit
        if not path.is_file():
            raise pytest.UsageError(f"splice: project file not found: {path}")
        return path
    for start in (config.invocation_params.dir, config.rootpath):
        for folder in (start, *start.parents):
            if (folder / "splice.yaml").is_file():
                return folder / "splice.yaml"
    return None


def _suites_named(config: pytest.Config) -> bool:
    return any(a.split("::")[0].endswith(_SUITE_SUFFIXES) for a in config.args)


def _report_paths(config: pytest.Config) -> tuple[str | None, str | None, str | None]:
    return (
        config.getoption("splice_junit"),
        config.getoption("splice_json"),
        config.getoption("splice_html"),
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    path = config.stash.get(_PROJECT_FILE, None)
    if path is None:
        return None
    state = state_of(config)
    if state.project is None:
        return f"splice: {path} has errors (shown by the tests that use it)"
    names = ", ".join(state.project.services) or "none"
    return f"splice: {path} (services: {names})"


# collection ----------------------------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.name.endswith(_SUITE_SUFFIXES):
        return None
    if not state_of(parent.config).is_suite(file_path):
        return None
    from splice._internal.pytest.suites import SuiteFile

    return SuiteFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)  # before -m and -k, so they see the integration marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash.get(_STATE, None)
    services = _SERVICE_FIXTURES | set(state.service_fixtures if state else ())
    for item in items:
        if services.intersection(getattr(item, "fixturenames", ())):
            item.add_marker("integration")
    unit, integration = config.getoption("splice_unit"), config.getoption("splice_integration")
    if not (unit or integration):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        wanted = (item.get_closest_marker("integration") is not None) == bool(integration)
        (kept if wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# results -------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    state = item.config.stash.get(_STATE, None)
    if state is not None and state.masker:
        from splice._internal.pytest.results import mask_report

        mask_report(report, state.masker)  # before pytest, a reporter or xdist sees it
    suite = getattr(item, "splice_suite", None)
    if suite is not None:  # a suite's testcase: its full result travels with the report
        report.splice_suite = suite
        result = getattr(item, "result", None)
        if call.when == "call" and result is not None:
            from splice._internal.pytest.suites import testcase_json

            report.splice_testcase = testcase_json(result)
    return report


def command_line(config: pytest.Config) -> list[str]:
    """pytest's command line as reports and the store show it: secrets masked."""
    import sys

    from splice._internal.masking import Masker
    from splice._internal.runner.secrets import masked_command

    state = config.stash.get(_STATE, None)
    masker = state.masker if state is not None else Masker()
    names = state.secret_names if state is not None else set()
    return masked_command(sys.argv, masker, names)


def _run_id(config: pytest.Config) -> str:
    state = config.stash.get(_STATE, None)
    if state is not None:
        run_id: str = state.session.run_id
        return run_id
    from splice._internal.model.results import new_run_id

    return new_run_id()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    recording = session.config.stash.get(_RECORDING, None)
    if recording is not None and not session.config.option.collectonly:
        state = session.config.stash.get(_STATE, None)
        if state is not None:
            state.masker.add_all(recording.recording.secrets)
        command = command_line(session.config)
        recording.start(_run_id(session.config), session.testscollected, command)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(_STATE, None)
    collector = config.stash.get(_COLLECTOR, None)
    recording = config.stash.get(_RECORDING, None)
    try:
        if collector is not None:
            from splice._internal.pytest.results import write_reports

            if session.exitstatus == pytest.ExitCode.INTERRUPTED:
                collector.interrupted(session.items)
            run_id = recording.run_id if recording and recording.run_id else _run_id(config)
            services = state.session.summary(keep_logs=True) if state else []
            run = collector.run(run_id, services, command_line(config))
            if recording is not None:
                recording.finish(session, run, state.session.start_error if state else None)
            config.stash[_WRITTEN] = write_reports(run, *_report_paths(config))
    finally:
        if recording is not None:
            recording.close()
        if state is not None:
            state.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for line in config.stash.get(_WRITTEN, []):
        terminalreporter.write_line(f"splice: wrote {line}")
    recording = config.stash.get(_RECORDING, None)
    for line in recording.summary() if recording is not None else []:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


# fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def splice_env(request: pytest.FixtureRequest) -> SpliceEnv:
    """The project's services, started once (per xdist worker) or reused from `splice up`."""
    return state_of(request.config).session.environment()


@pytest.fixture
def splice_service(request: pytest.FixtureRequest) -> Iterator[Callable[[str], ServiceHandle]]:
    """`splice_service("db")`: a service for this test, isolated as splice.yaml says."""
    releases: list[tuple[tuple[str, ...], Callable[[], None]]] = []
    yield lambda name: _take(request, name, releases)
    _give_back(request, releases)


@pytest.fixture
def splice_private(request: pytest.FixtureRequest) -> Iterator[Callable[..., PrivateServices]]:
    """`splice_private("db", ...)`: fresh instances of services for this test alone."""
    stops: list[Callable[[], None]] = []

    def start(*names: str) -> PrivateServices:
        services, stop = state_of(request.config).session.private(names)
        stops.append(stop)
        return services

    yield start
    for stop in reversed(stops):
        stop()


@pytest.fixture
def splice_contract(request: pytest.FixtureRequest) -> ContractVerifier:
    """`splice_contract("pacts/shop-payments.json", provider="payments", states=...)`:
    verify a pact against the provider; the test fails with each broken interaction."""
    from splice._internal.pytest.contracts import ContractVerifier

    return ContractVerifier(state_of(request.config))


@pytest.fixture
def splice_clock(request: pytest.FixtureRequest) -> Iterator[FrozenClock]:
    """This process's clock, frozen (time-machine) at `@pytest.mark.splice_clock(when)`
    or at the moment the test starts; back to real time after the test."""
    from splice._internal.pytest.clock import FrozenClock

    marker = request.node.get_closest_marker("splice_clock")
    clock = FrozenClock(*marker.args, **marker.kwargs) if marker else FrozenClock()
    yield clock
    clock.stop()


def _take(
    request: pytest.FixtureRequest,
    name: str,
    releases: list[tuple[tuple[str, ...], Callable[[], None]]],
) -> ServiceHandle:
    """A service for the test; the same handle for every fixture of one test, released
    by the fixture that acquired it."""
    held = request.node.stash.setdefault(_HELD, {})
    if name not in held:
        # also the isolation of what the service writes to (the app's database)
        handles, release = state_of(request.config).session.acquire(name, held=set(held))
        for taken, handle in handles.items():
            held.setdefault(taken, handle)
        releases.append((tuple(handles), release))
    return held[name]  # type: ignore[no-any-return]


def _give_back(
    request: pytest.FixtureRequest, releases: list[tuple[tuple[str, ...], Callable[[], None]]]
) -> None:
    held = request.node.stash.get(_HELD, {})
    for names, release in reversed(releases):
        for name in names:
            held.pop(name, None)
        release()


def _register_service_fixtures(config: pytest.Config, fixtures: dict[str, str]) -> None:
    """One `splice_<name>` fixture per service, registered as a plugin of its own."""
    holder = types.ModuleType("splice_service_fixtures")
    for fixture, service in fixtures.items():
        setattr(holder, fixture, _service_fixture(fixture, service))
    config.pluginmanager.register(holder, "splice-service-fixtures")


def _service_fixture(fixture: str, service: str) -> Any:
    def service_fixture(request: pytest.FixtureRequest) -> Iterator[ServiceHandle]:
        releases: list[tuple[tuple[str, ...], Callable[[], None]]] = []
        yield _take(request, service, releases)
        _give_back(request, releases)

    service_fixture.__name__ = fixture
    service_fixture.__doc__ = f"Service {service!r} for one test (its own when isolated)."
    return pytest.fixture(name=fixture)(service_fixture)
