"""The project (`splice.yaml`) after loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.errors import SourceSpan
from splice._internal.project.secrets import SecretSetting
from splice._internal.services.kind_api import ServiceSpec

PROJECT_FILE = "splice.yaml"


@dataclass
class Migration:
    service: str
    command: str | list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 300.0


@dataclass
class DataPlan:
    """Fixtures to load, migrations to apply, and how testcases are isolated."""

    isolation: str = "none"  # none | rollback | truncate | template | snapshot
    fixtures: dict[str, list[Path]] = field(default_factory=dict)  # service -> files
    migrations: list[Migration] = field(default_factory=list)
    isolation_span: SourceSpan | None = None  # where `data.isolation` is written
    # tables truncate and snapshot leave alone, or the only ones they act on (patterns)
    keep: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)


@dataclass
class Selector:
    """One consumer version selector: its keys all apply."""

    latest: bool = False
    branch: str | None = None
    tag: str | None = None
    deployed: str | None = None
    consumer: str | None = None
    # the newest pact of each consumer on its main branch (`contracts.pacticipants`:
    # `main`, else `master`, when it has versions there)
    main_branch: bool = False


@dataclass
class ContractPlan:
    """An entry of `contracts:`: a provider service and the pacts it is held to."""

    provider: str  # a service of the project
    pacts: list[Path] = field(default_factory=list)  # files (globs expanded)
    from_store: bool = False  # the pacts the selectors pick from the store
    provider_name: str = ""  # the provider's name in the pacts (store)
    selectors: list[Selector] = field(default_factory=list)
    states: Path | None = None
    state_url: str | None = None
    span: SourceSpan | None = None


@dataclass(frozen=True)
class RunDefaults:
    """splice.yaml's `run:`: the testcases run at once and the retries of a failed one,
    when the command line (or `splice.run`'s argument) does not give them."""

    jobs: int | None = None
    retries: int | None = None

    def jobs_or(self, given: int | None) -> int:
        return given if given is not None else (self.jobs or 1)

    def retries_or(self, given: int | None) -> int:
        return given if given is not None else (self.retries or 0)


@dataclass
class Project:
    name: str
    path: Path | None  # None when there is no project file
    provider: str = "local"
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # names of secret variables
    secret_settings: list[SecretSetting] = field(default_factory=list)  # services.X.KEY…
    suites: list[str] = field(default_factory=list)
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    data: DataPlan = field(default_factory=DataPlan)
    contracts: list[ContractPlan] = field(default_factory=list)
    # services with an OpenAPI document: name -> (path, as splice.yaml writes it)
    openapi: dict[str, tuple[Path, str]] = field(default_factory=dict)
    warm_idle: float | None = None  # `warm:`: runs use a warm pool with this idle timeout
    run: RunDefaults = field(default_factory=RunDefaults)  # `run:`: -j and --retries defaults

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def service_kinds(self) -> dict[str, str] | None:
        """Each service's kind by name, for checking a suite's references to them; None
        without a project file (then nothing is known about the services)."""
        if self.path is None:
            return None
        return {name: spec.kind for name, spec in self.services.items()}

    def start_order(self, wanted: list[str] | None = None) -> list[list[str]]:
        """Services in dependency levels: each level starts in parallel after the one before.

        With `wanted`, only those services and what they depend on.
        """
        needed: set[str] = set()
        stack = list(wanted if wanted is not None else self.services)
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(self.services[name].depends_on)
        levels: list[list[str]] = []
        placed: set[str] = set()
        while len(placed) < len(needed):
            level = sorted(n for n in needed - placed if set(self.services[n].depends_on) <= placed)
            if not level:  # a cycle; the loader reports those, so this is defensive
                raise ValueError(f"dependency cycle among {sorted(needed - placed)}")
            levels.append(level)
            placed.update(level)
        return levels
