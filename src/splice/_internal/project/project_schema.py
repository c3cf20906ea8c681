"""Pydantic schemas of `splice.yaml`'s fixed keys; each kind validates its own settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

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


class ProjectSpec(Spec):
    name: StrictStr | None = None
    provider: Literal["local", "docker", "external"] = "local"
    vars: dict[str, Any] = {}
    secrets: list[StrictStr] = []
    suites: list[StrictStr] = []
    services: dict[str, Any] = {}
    data: DataSpec = Field(default_factory=DataSpec)
    workflows: Any = (
        None  # validated by splice._internal.workflows.loader, which reads it with positions
    )


SERVICE_COMMON_KEYS = frozenset(
    (info.alias or name) for name, info in ServiceCommonSpec.model_fields.items()
)
