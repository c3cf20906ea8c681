"""Pydantic schemas of the fixed parts of suite and template files.

They check keys and types; steps' executor blocks are checked by each executor's own
model. Field aliases are the YAML spellings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import DURATION_HINT, HintedValueError, describe
from splice._internal.templating import is_template


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


# what editors are told a template looks like where a number or a duration may be one
TEMPLATE_SCHEMA = {"type": "string", "pattern": r"\{\{.*\}\}", "description": "a template"}

# what editors are told a duration looks like (the JSON Schema of `splice schema`)
DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^ *([0-9]+(\.[0-9]+)? *((ms|s|m|h) *)?)+$"},
        TEMPLATE_SCHEMA,
    ],
    "description": "seconds, or text like 2s, 200ms, 1m30s, or a template that gives one",
}


def _duration_or_template(value: Any) -> Any:
    return value if is_template(value) else _check_duration(value)


# One check with one message, instead of a union's three "expected ..." errors. A template
# (`"{{ vars.slow }}"`) passes here and is checked once rendered (`runner.settings`).
Duration = Annotated[Any, AfterValidator(_duration_or_template), WithJsonSchema(DURATION_SCHEMA)]
OptionalDuration = Annotated[
    Any,
    AfterValidator(lambda v: v if v is None else _duration_or_template(v)),
    WithJsonSchema({"anyOf": [*DURATION_SCHEMA["anyOf"], {"type": "null"}]}),
]


def _count(minimum: int, *, optional: bool) -> Callable[[Any], Any]:
    """A check of a whole number of at least `minimum`, or a template that gives one: a
    literal is checked as `StrictInt` with `ge` would be (the same errors), a template
    when rendered."""
    adapters: list[TypeAdapter[Any]] = []  # built on first use: not at import, per count

    def check(value: Any) -> Any:
        if (optional and value is None) or is_template(value):
            return value
        if not adapters:
            adapters.append(TypeAdapter(Annotated[StrictInt, Field(ge=minimum)]))
        try:
            return adapters[0].validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PydanticCustomError(first["type"], first["msg"], first.get("ctx")) from None

    return check


def _count_schema(minimum: int, *, optional: bool) -> dict[str, Any]:
    options: list[Any] = [{"type": "integer", "minimum": minimum}, TEMPLATE_SCHEMA]
    return {"anyOf": [*options, {"type": "null"}] if optional else options}


# `retry.attempts`, `retries:`: numbers that may come from a template
Attempts = Annotated[
    Any, PlainValidator(_count(1, optional=True)), WithJsonSchema(_count_schema(1, optional=True))
]
Retries = Annotated[
    Any, PlainValidator(_count(0, optional=True)), WithJsonSchema(_count_schema(0, optional=True))
]
SuiteRetries = Annotated[
    Any,
    PlainValidator(_count(0, optional=False)),
    WithJsonSchema(_count_schema(0, optional=False)),
]


class RetrySpec(Spec):
    until: StrictStr | None = None
    timeout: Duration = 10.0
    interval: Duration = 0.2
    attempts: Attempts = None


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


class ForeachFileSpec(Spec):
    """Rows from a file next to the suite: `.csv` (header line first), `.json` or `.yaml`."""

    file: StrictStr = Field(min_length=1)


class ForeachSqlSpec(Spec):
    """Rows from a query, run once the environment is open: the block of a `sql` step
    (`service:` or `url:`, `query:`, `params:`), checked by the `sql` executor's model."""

    sql: dict[str, Any]


def _foreach_shape(value: Any) -> Any:
    if isinstance(value, str):
        raise HintedValueError(
            "foreach expects a list of rows, `{file: ...}` or `{sql: ...}`, found "
            + describe(value),
            f"write `foreach: {{file: {value}}}` to read the rows from a file",
        )
    return value


# `foreach:` is a list of mappings written inline, a file of them, or a query giving them
Foreach = Annotated[
    list[Any] | ForeachFileSpec | ForeachSqlSpec | None, BeforeValidator(_foreach_shape)
]
# `matrix:` crosses the values of its keys: {size: [s, m], colour: [red, blue]}
Matrix = dict[StrictStr, list[Any]] | None


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
    check: StrictStr | list[StrictStr] | None = None


class XfailSpec(Spec):
    """`xfail: {reason: ..., strict: false}`: an expected failure that may also pass."""

    reason: StrictStr = Field(min_length=1)
    strict: StrictBool = True


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
    retries: Retries = None
    matrix: Matrix = None
    foreach: Foreach = None
    # expected to fail: the reason (a known bug, a ticket), strict unless said otherwise
    xfail: Annotated[StrictStr, Field(min_length=1)] | XfailSpec | None = None


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
    retries: SuiteRetries = 0
    serial: StrictBool = False
    matrix: Matrix = None
    foreach: Foreach = None
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
