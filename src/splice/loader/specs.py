"""Pydantic schemas of the fixed parts of suite and template files.

They check keys and types; steps' executor blocks are checked by each executor's own
model. Field aliases are the YAML spellings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from splice.loader.diagnostics import DURATION_HINT, HintedValueError, describe
from splice.model.durations import parse_duration


class Spec(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)


def _check_duration(value: Any) -> Any:
    try:
        parse_duration(value)
    except ValueError:
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise HintedValueError(
                f"a duration cannot be negative, found {value!r}", DURATION_HINT
            ) from None
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            raise HintedValueError(f"invalid duration {value!r}", DURATION_HINT) from None
        raise HintedValueError(
            f"expected a duration, found {describe(value)}", DURATION_HINT
        ) from None
    return value


# One check with one message, instead of a union's three "expected ..." errors.
Duration = Annotated[Any, AfterValidator(_check_duration)]
OptionalDuration = Annotated[Any, AfterValidator(lambda v: v if v is None else _check_duration(v))]


class RetrySpec(Spec):
    until: StrictStr | None = None
    timeout: Duration = 10.0
    interval: Duration = 0.2
    attempts: StrictInt | None = Field(default=None, ge=1)


class CaptureSpec(Spec):
    expr: StrictStr | None = None
    jsonpath: StrictStr | None = None
    regex: StrictStr | None = None
    header: StrictStr | None = None
    from_: StrictStr | None = Field(default=None, alias="from")
    group: StrictInt | StrictStr | None = None
    all: StrictBool = False
    secret: StrictBool = False
    default: Any = None


Condition = StrictBool | StrictStr | None


class StepCommonSpec(Spec):
    """Keys every step may have besides its executor key."""

    name: StrictStr | None = None
    expect: dict[str, Any] | None = None
    assert_: StrictStr | list[StrictStr] | None = Field(default=None, alias="assert")
    capture: dict[str, StrictStr | CaptureSpec] | None = None
    retry: RetrySpec | None = None
    timeout: OptionalDuration = None
    skip: Condition = None
    only: Condition = None
    use: StrictStr | None = None
    with_: dict[str, Any] | None = Field(default=None, alias="with")


class TestcaseSpec(Spec):
    __test__ = False

    name: StrictStr
    description: StrictStr | None = None
    tags: list[StrictStr] = []
    vars: dict[str, Any] = {}
    setup: list[Any] = []
    steps: list[Any]
    teardown: list[Any] = []
    skip: Condition = None
    only: Condition = None
    retries: StrictInt | None = Field(default=None, ge=0)


class SuiteSpec(Spec):
    name: StrictStr | None = None
    description: StrictStr | None = None
    tags: list[StrictStr] = []
    vars: dict[str, Any] = {}
    secrets: list[StrictStr] = []
    templates: list[StrictStr] = []
    setup: list[Any] = []
    testcases: list[Any]
    teardown: list[Any] = []
    retries: StrictInt = Field(default=0, ge=0)
    serial: StrictBool = False
    # per-testcase isolation of the project's databases for this suite's testcases
    isolation: Literal["none", "rollback", "truncate", "template", "snapshot"] | None = None


class InputSpec(Spec):
    default: Any = None
    description: StrictStr | None = None
    secret: StrictBool = False
    required: StrictBool | None = None


class TemplateSpec(Spec):
    template: StrictStr
    description: StrictStr | None = None
    inputs: dict[str, InputSpec | None] = {}
    steps: list[Any]
    outputs: dict[str, Any] = {}
