"""What the plugin keeps for one pytest process: the project, the session of services,
which files are suites, run inputs (`--splice-var`…) and the results being collected."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest

from splice._internal.project.model import Project
from splice._internal.pytest.keys import PROJECT_FILE, STATE
from splice._internal.pytest.session import SpliceSession, worker_id
from splice._internal.pytest.signals import PytestStopListener, SessionInterrupts, SplicedSteps
from splice._internal.runner.control import RunControl

SERVICE_FIXTURE_PREFIX = "splice_"
# splice's own fixtures: a service named like one of them gets no fixture of its own
RESERVED = frozenset({"env", "service", "private", "clock", "contract"})


def fixture_name(service: str) -> str | None:
    """`splice_<name>` for a service, None when that is no identifier or is reserved."""
    ident = service.replace("-", "_").replace(".", "_")
    if not ident.isidentifier() or ident in RESERVED:
        return None
    return SERVICE_FIXTURE_PREFIX + ident


def state_of(config: pytest.Config) -> State:
    """The plugin's state in this process, made on first need."""
    state = config.stash.get(STATE, None)
    if state is None:
        state = State(config, config.stash.get(PROJECT_FILE, None))
        config.stash[STATE] = state
    return state


class State:
    """The plugin's state in this process (a worker's own under xdist)."""

    def __init__(self, config: pytest.Config, project_path: Path | None) -> None:
        self.config = config
        project, error = _load_project(project_path)
        self.project: Project | None = project
        self.external, self.secret_names = _external(config)
        if project is not None:
            self.secret_names |= set(project.secrets)
        from splice._internal.runner.secrets import run_masker

        # the session's secrets, as `splice run` gathers them (splice/runner/secrets.py)
        self.masker = run_masker(project, self.external, self.secret_names)
        self.session = SpliceSession(
            project,
            project_error=error,
            worker=worker_id(config),
            reuse_up=not config.getoption("splice_no_up"),
            services_allowed=not config.getoption("splice_unit"),
            masker=self.masker,
        )
        self.retries: int = config.getoption("splice_retries")
        self.has_xdist = config.pluginmanager.hasplugin("xdist")
        self.suite_files = self._suite_files(config)
        self.service_fixtures: dict[str, str] = {}  # fixture name -> service
        if project is not None:
            for name in project.services:
                fixture = fixture_name(name)
                if fixture is not None:
                    self.service_fixtures[fixture] = name
        self._processes: Any = None
        self._openapi: Any = None
        self._tags: set[str] = set()
        # how suites stop on Ctrl-C and SIGTERM, as under `splice run` (pytest/signals.py)
        self.control = RunControl(PytestStopListener(config))
        self.interrupts = SessionInterrupts(self.control)
        self.interrupts.install()  # also SIGTERM outside suites: teardowns and reports run

    # suites ----------------------------------------------------------------------------
    def _suite_files(self, config: pytest.Config) -> set[Path]:
        """Suites pytest collects: the project's `suites:`, the ini option `splice_suites`
        (globs from the rootdir), and suite files named on the command line. Nothing else,
        so suites that are meant to fail (a tool's own test data) stay out of the way."""
        found: set[Path] = set()
        patterns: list[tuple[Path, str]] = []
        if self.project is not None and self.project.path is not None:
            patterns += [(self.project.root, p) for p in self.project.suites]
        patterns += [(config.rootpath, p) for p in config.getini("splice_suites")]
        for root, pattern in patterns:
            full = Path(pattern) if Path(pattern).is_absolute() else root / pattern
            for match in glob.glob(str(full), recursive=True):  # noqa: PTH207
                path = Path(match)
                files = path.rglob("*.splice.y*ml") if path.is_dir() else [path]
                found.update(f.resolve() for f in files)
        for arg in config.args:
            path = Path(arg.split("::")[0])
            path = path if path.is_absolute() else config.invocation_params.dir / path
            if path.is_file() and _is_suite_name(path):
                found.add(path.resolve())
        return found

    def is_suite(self, path: Path) -> bool:
        return _is_suite_name(path) and path.resolve() in self.suite_files

    def marker_for_tag(self, tag: str) -> str:
        """A suite tag as a marker name, registered so --strict-markers accepts it."""
        if tag not in self._tags:
            self._tags.add(tag)
            self.config.addinivalue_line("markers", f"{tag}: splice suite tag")
        return tag

    # running suites --------------------------------------------------------------------
    @property
    def processes(self) -> Any:
        if self._processes is None:
            from splice._internal.services.reaper import LazyReaper

            self._processes = LazyReaper()
        return self._processes

    def builtins(self) -> dict[str, Any]:
        """The lowest-precedence variables of suites: project, vars, services, run id."""
        if self.session.project_error is not None:
            self.session.require_project()  # fails with the project file's errors
        project = self.project
        out: dict[str, Any] = {"run_id": self.session.run_id, "services": {}}
        if project is not None:
            out.update({"project": project.name, **project.vars})
            if project.services:
                env = self.session.environment()
                out["services"] = env.vars()
                for handle in env.services.values():
                    if handle.password:
                        self.masker.add(handle.password)
        return out

    def openapi_hooks(self, services: dict[str, Any]) -> list[Any]:
        """The OpenAPI monitor of the session (built once), when a service has an
        `openapi:` document: suite items' http steps are checked against it."""
        if self.project is None or not self.project.openapi:
            return []
        if self._openapi is None:
            from splice._internal.contracts.openapi_steps import OpenApiMonitor, load_documents

            self._openapi = OpenApiMonitor(load_documents(self.project.openapi))
            for doc in self._openapi.documents:
                doc.base_url = str((services.get(doc.service) or {}).get("url") or "")
        return [self._openapi]

    def steps(self) -> SplicedSteps:
        """A `with` block in which a suite's steps run: a first signal then stops the run
        as `splice run` does instead of raising KeyboardInterrupt into a step."""
        return SplicedSteps(self.interrupts)

    def close(self) -> None:
        self.interrupts.uninstall()
        self.session.close()
        if self._processes is not None:
            self._processes.close()


def _is_suite_name(path: Path) -> bool:
    return path.name.endswith((".splice.yaml", ".splice.yml"))


def _load_project(path: Path | None) -> tuple[Project | None, str | None]:
    if path is None:
        return None, None
    from splice._internal.errors import SuiteError
    from splice._internal.project.loader import load_project

    try:
        return load_project(path), None
    except SuiteError as exc:
        from splice._internal.reporting.diagnostics import render_diagnostics

        return None, render_diagnostics(exc.diagnostics)


def _external(config: pytest.Config) -> tuple[dict[str, Any], set[str]]:
    """The variables of `--splice-var`, `--splice-var-file` and the environment, and the
    names `--splice-secret` and the project's `secrets:` mark secret."""
    from splice._internal.errors import SpliceError
    from splice._internal.runner.inputs import external_vars

    try:
        ext = external_vars(
            tuple(config.getoption("splice_vars") or ()),
            tuple(config.getoption("splice_var_files") or ()),
            tuple(config.getoption("splice_secrets") or ()),
        )
    except SpliceError as exc:
        hint = getattr(exc, "hint", None)
        raise pytest.UsageError(f"splice: {exc}" + (f" ({hint})" if hint else "")) from None
    return ext.merged(), ext.secrets
