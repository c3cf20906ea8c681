"""The service-kind plugin API: how splice brings up one kind of dependency.

A kind (postgres, redis, process, ...) declares the pydantic model of its settings in
`splice.yaml`, the providers it supports, and implements readiness as a real protocol
exchange. Kinds register under the `splice.services` entry-point group, like executors:

    [project.entry-points."splice.services"]
    kafka = "splice_kafka:KafkaKind"
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from splice._internal.errors import SpliceError
from splice._internal.masking import Masker

if TYPE_CHECKING:
    from splice._internal.services.resources import Resources


class Settings(BaseModel):
    """Base of every kind's settings block: unknown keys are located errors."""

    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class ServiceError(SpliceError):
    """A service could not be started, reached or stopped.

    Holds what was awaited, for how long, the last lines of the service's log and a hint,
    so the message tells the user what to do next.
    """

    def __init__(
        self,
        service: str,
        message: str,
        *,
        hint: str | None = None,
        log_tail: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(f"service {service!r}: {message}")
        self.service = service
        self.message = message
        self.hint = hint
        self.log_tail = log_tail or []
        self.log_path = log_path

    def mask(self, masker: Masker) -> None:
        """Mask the secrets in the message, hint and log tail (before it is shown)."""
        self.message = masker.text(self.message)
        self.hint = masker.text(self.hint) if self.hint else self.hint
        self.log_tail = [masker.text(line) for line in self.log_tail]
        self.args = (f"service {self.service!r}: {self.message}",)


@dataclass
class Endpoint:
    """How to reach a running service; exported to templates as `services.NAME.*`."""

    url: str
    host: str = "127.0.0.1"
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_vars(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }
        out.update(self.extra)
        return out


@dataclass
class ServiceSpec:
    """One entry of `services:` in the project file, validated."""

    name: str
    kind: str
    provider: str
    settings: Any  # the kind's Settings instance (templates not yet rendered)
    depends_on: list[str] = field(default_factory=list)
    span: Any = None  # SourceSpan of the service's key in splice.yaml
    url: str | None = None  # for the external provider
    image: str | None = None  # for the docker provider
    isolation: str | None = None  # per-service override of the project's isolation
    isolation_span: Any = None  # SourceSpan of its `isolation:` value


@dataclass
class StartContext:
    """What a kind may use while starting a service."""

    spec: ServiceSpec
    project_dir: Path
    run_dir: Path  # private temporary folder for this service (data, sockets, logs)
    cache_dir: Path  # survives between runs: initialised clusters and the like
    log_path: Path
    resources: Resources  # free ports (`port()`), processes started and stopped (`spawn`, `stop`)
    vars: Mapping[str, Any]  # `services.*` of the services started before, for templates
    cancelled: threading.Event = field(default_factory=threading.Event)
    # the run's secrets: a kind that hands data to a process of its own (the mock's
    # cassettes) passes them on; the environment adds the service's password itself
    masker: Masker = field(default_factory=Masker)


class RunningService:
    """A started service: its endpoint and how to stop it."""

    def __init__(
        self,
        spec: ServiceSpec,
        endpoint: Endpoint,
        *,
        stop: Callable[[], None] | None = None,
        log_path: Path | None = None,
        pid: int | None = None,
        started_in: float = 0.0,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.endpoint = endpoint
        self._stop = stop
        self.log_path = log_path
        self.pid = pid
        self.started_in = started_in
        self.state = state or {}  # kind-specific (e.g. the admin connection URL)

    @property
    def name(self) -> str:
        return self.spec.name

    def stop(self) -> None:
        fn, self._stop = self._stop, None
        if fn is not None:
            fn()

    def log_tail(self, lines: int = 20) -> list[str]:
        return tail(self.log_path, lines)


def tail(path: Path | None, lines: int = 20) -> list[str]:
    """The last `lines` lines of a log file (empty when there is none)."""
    if path is None or not path.is_file():
        return []
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64 * 1024))
        data = f.read().decode("utf-8", "replace")
    return data.splitlines()[-lines:]


@runtime_checkable
class ServiceKind(Protocol):
    """What splice checks a kind plugin against."""

    name: ClassVar[str]
    settings_model: ClassVar[type[BaseModel]]
    providers: ClassVar[frozenset[str]]  # of "local", "docker", "external"
    # Debian/Ubuntu and macOS packages providing the local binaries, for error hints
    packages: ClassVar[Mapping[str, str]]

    def start_local(self, ctx: StartContext) -> RunningService:
        """Start a private instance on this machine; return once it is ready."""
        ...

    def external(self, spec: ServiceSpec) -> Endpoint:
        """The endpoint of an existing server given by `spec.url`."""
        ...

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        """A real protocol exchange (login and query, PING, handshake); raise on failure."""
        ...


@runtime_checkable
class RunningCheck(Protocol):
    """Optional: how a kind checks that a service it started is still up (`splice status`)
    when `check_ready(endpoint)` cannot tell, e.g. readiness declared per service."""

    def check_running(self, service: RunningService, timeout: float) -> None:
        """Raise ServiceError when the (locally started) service is not up."""
        ...


class DataKind(Protocol):
    """Optional methods of a kind that holds data (databases, caches, brokers).

    - `load_fixtures(service, files)`: load fixture files (SQL, YAML/JSON rows, keys).
    - `isolation_modes`: the modes it supports among none, rollback, truncate, template,
      snapshot (databases), flush (caches), vhost or prefix (brokers), reset (mocks).
    - `prepare_isolation(service, mode)`: once, after fixtures and once every service
      has started (e.g. turn the loaded database into a template and start a pool of
      clones, or take a snapshot of every table).
    - `acquire(service, mode, key)`: before each testcase attempt; returns an Endpoint to
      use instead of the service's own for that attempt (a cloned database), or None.
    - `release(service, mode, key, endpoint)`: after the attempt (drop the clone, truncate
      and reload fixtures, flush).
    - `shared_modes`: the modes whose release resets state every testcase sees (truncate,
      snapshot, flush, reset); without it every mode is taken to give each attempt its
      own. Under `--jobs`, attempts in a shared mode run one at a time, unless
    - `slot_copies(service, mode)` is true: then each parallel slot gets a copy of its
      own, and `acquire`/`release` get a keyword `slot=N` (0 when nothing else runs: the
      service's own data; N > 0 an endpoint of the slot's copy). See `environment.slots`.
    """

    isolation_modes: ClassVar[frozenset[str]]

    def load_fixtures(self, service: RunningService, files: list[Path]) -> None: ...
    def prepare_isolation(self, service: RunningService, mode: str) -> None: ...
    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None: ...
    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None: ...


@dataclass
class DockerPlan:
    """How a kind runs in a container (the `docker` provider, through Testcontainers)."""

    image: str
    port: int  # the port inside the container
    endpoint: Callable[[str, int], Endpoint]  # (host, mapped port) -> how to reach it
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] | str | None = None
    ready_timeout: float = 60.0
