"""Pydantic schemas of `splice.yaml`'s fixed keys; each kind validates its own settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

PROVIDERS = ("local", "docker", "external")
ISOLATION = ("none", "rollback", "truncate", "template", "snapshot")


class Spec(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)


class ServiceCommonSpec(Spec):
    """Keys every service has; the rest of its mapping belongs to the kind."""

    kind: StrictStr
    provider: Literal["local", "docker", "external"] | None = None
    url: StrictStr | None = None
    image: StrictStr | None = None
    depends_on: list[StrictStr] = []
    # per-testcase isolation of this service's data; default: `data.isolation` for
    # databases, and the kind's own way (flush, vhost, prefix) when that is not `none`
    isolation: StrictStr | None = None
    # the service's OpenAPI document: every http step against it is checked against it
    openapi: StrictStr | None = None


class MigrationSpec(Spec):
    service: StrictStr
    command: StrictStr | list[StrictStr]
    cwd: StrictStr | None = None
    env: dict[str, StrictStr] = {}
    timeout: StrictStr | int | float = "5m"


class DataSpec(Spec):
    isolation: Literal["none", "rollback", "truncate", "template", "snapshot"] = "none"
    fixtures: dict[str, list[StrictStr]] = {}
    migrations: list[MigrationSpec] = []
    keep: list[StrictStr] = []  # tables truncate and snapshot never empty (patterns)
    only: list[StrictStr] = []  # or the only tables they empty

    @field_validator("only")
    @classmethod
    def _keep_or_only(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value and info.data.get("keep"):
            raise ValueError(
                "give `keep` (the tables left alone) or `only` (the tables emptied), not both"
            )
        return value


class SelectorSpec(Spec):
    """Which consumer versions' pacts to verify from the store (Pact's consumer version
    selectors); the keys of one selector all apply, the selectors add up."""

    latest: bool | None = None  # the newest pact of each consumer (of `branch` when given)
    branch: StrictStr | None = None  # the newest pact of each consumer on this branch
    tag: StrictStr | None = None  # the newest consumer version with this tag
    deployed: StrictStr | None = None  # the consumer versions deployed to this environment
    consumer: StrictStr | None = None  # only this consumer
    main_branch: bool | None = None  # the newest pact of each consumer on `main` (or `master`)


class BrokerSpec(Spec):
    """Pacts from the broker in the results store."""

    provider_name: StrictStr | None = None  # the provider's name in the pacts
    selectors: list[SelectorSpec] = []  # default: [{latest: true}]


class ContractSpec(Spec):
    """A provider service held to consumers' pacts by `splice run` (as `splice contract
    verify` does): each interaction is a testcase of the run."""

    provider: StrictStr  # the service of `services:` that is the provider
    pacts: list[StrictStr] = []  # pact files or globs, relative to splice.yaml
    broker: BrokerSpec | None = None  # or: the latest pacts of its consumers, from the store
    states: StrictStr | None = None  # states file: each provider state's steps
    state_url: StrictStr | None = None  # or Pact's state-change URL (a template)


class RunSpec(Spec):
    """`run: {jobs: 4, retries: 1}`: what `splice run` does when its command line does not
    say (`-j`, `--retries` win)."""

    jobs: StrictInt | None = Field(default=None, ge=1, le=256)
    retries: StrictInt | None = Field(default=None, ge=0, le=20)


class WarmSpec(Spec):
    """`warm: {idle: 10m}`: runs use a warm pool that stops after `idle` without a run."""

    idle: StrictStr | int | float = "10m"

    @field_validator("idle")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        from splice._internal.model.durations import parse_duration

        parse_duration(value)
        return value


class ProjectSpec(Spec):
    name: StrictStr | None = None
    provider: Literal["local", "docker", "external"] = "local"
    vars: dict[str, Any] = {}
    secrets: list[StrictStr] = []
    suites: list[StrictStr] = []
    services: dict[str, Any] = {}
    data: DataSpec = Field(default_factory=DataSpec)
    contracts: list[ContractSpec] = []
    # `true` or `{idle: 10m}`: `splice run` uses a warm pool (`--no-warm` turns it off)
    warm: bool | WarmSpec = False
    # `run: {jobs: 4, retries: 1}`: defaults of `splice run -j` and `--retries`
    run: RunSpec = Field(default_factory=RunSpec)
    workflows: Any = (
        None  # validated by splice._internal.workflows.loader, which reads it with positions
    )


SERVICE_COMMON_KEYS = frozenset(
    (info.alias or name) for name, info in ServiceCommonSpec.model_fields.items()
)
