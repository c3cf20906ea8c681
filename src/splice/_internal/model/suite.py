"""The typed model of a suite after loading: what the runner executes.

Raw YAML is validated by `splice._internal.loader` into these dataclasses; template strings stay
unrendered until run time, so every value here is exactly what the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.errors import SourceSpan
from splice._internal.model.positions import Positions


@dataclass
class Capture:
    """Take a value out of a step's result into a variable.

    kind is `expr` (an expression over the result's fields: `json.id`), `jsonpath`
    (`$.items[*].id` into the JSON body), `regex` (first group, or the whole match,
    searched in `source` field, default `text`) or `header`.
    """

    name: str
    kind: str
    source: str
    field: str | None = None  # for regex: which result field to search
    all: bool = False  # for jsonpath and regex: every match as a list
    group: int | str | None = None  # for regex: which group
    secret: bool = False
    default: Any = None
    has_default: bool = False
    span: SourceSpan | None = None


@dataclass
class Retry:
    """Run a step again until its expectations (and `until`) hold, or time runs out.

    A number given as a template (`"{{ vars.tries }}"`) stays a string here until the
    step runs; the runner renders and checks it then (`runner.settings`)."""

    until: str | None = None
    timeout: float | str = 10.0
    interval: float | str = 0.2
    attempts: int | str | None = None


@dataclass
class Step:
    """One call of an executor (or of a step template) with its checks."""

    index: int
    name: str
    span: SourceSpan | None
    executor: str | None = None  # None when the step uses a template
    block: Any = None
    positions: Positions | None = None  # positions of the whole step mapping
    raw: Any = None  # the step mapping as written, for locating later findings
    expect: dict[str, Any] = field(default_factory=dict)
    assertions: list[str] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)
    retry: Retry | None = None
    timeout: float | str | None = None  # a str is a template, rendered when the step runs
    skip: Any = None  # bool or expression: skip when true
    only: Any = None  # bool or expression: run only when true
    template: str | None = None  # `use:` name
    inputs: dict[str, Any] = field(default_factory=dict)  # `with:` values
    checks: list[str] = field(default_factory=list)  # `check:` functions, `module:function`


@dataclass
class TemplateInput:
    name: str
    required: bool = True
    default: Any = None
    secret: bool = False


@dataclass
class StepTemplate:
    """A user-defined step: inputs in, steps run in their own scope, outputs back."""

    name: str
    path: Path
    span: SourceSpan | None
    inputs: dict[str, TemplateInput] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class RowOrigin:
    """The row a data-driven testcase was made from (`matrix:` or `foreach:`)."""

    source: str  # `matrix`, `foreach`, or the rows file as the suite names it
    index: int  # 1-based
    columns: tuple[str, ...]
    span: SourceSpan | None


@dataclass(frozen=True)
class LaterRows:
    """Rows known only once the environment is open: `foreach: {sql: ...}`.

    The testcase stands for one testcase per row until the runner expands it
    (`runner.later_rows`), after the services started and the data loaded."""

    executor: str  # "sql"
    block: dict[str, Any]  # the executor's block as written (templates unrendered)
    span: SourceSpan | None  # the query, where a failing query's error points
    key_span: SourceSpan | None  # the `foreach:` key
    service_span: SourceSpan | None = None  # the block's `service:` value
    # `-k` expressions the rows' names must match (the written name cannot tell yet)
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Xfail:
    """`xfail:`: the testcase is expected to fail (its expectations not to hold).

    A failed testcase is then `xfailed` (the run does not fail); one that passes is
    `xpassed`, which fails the run when `strict` (the default)."""

    reason: str
    strict: bool = True


@dataclass
class Testcase:
    """An ordered list of steps; the unit that passes or fails and the unit of isolation."""

    __test__ = False

    name: str
    span: SourceSpan | None
    tags: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    setup: list[Step] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    teardown: list[Step] = field(default_factory=list)
    skip: Any = None
    only: Any = None
    retries: int | str | None = None  # a str is a template, rendered when the testcase runs
    retries_span: SourceSpan | None = None
    row: RowOrigin | None = None  # set when the testcase is one row of a data-driven one
    xfail: Xfail | None = None
    later: LaterRows | None = None  # rows from a query: expanded when the run starts
    # why the rows of `later` could not be had (the query failed, gave no rows): the
    # testcase is then reported as an error with this message, hint and place
    rows_error: tuple[str, str | None, SourceSpan | None] | None = None


@dataclass
class Suite:
    """One `*.splice.yaml` file."""

    name: str
    path: Path
    span: SourceSpan | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    setup: list[Step] = field(default_factory=list)
    testcases: list[Testcase] = field(default_factory=list)
    teardown: list[Step] = field(default_factory=list)
    templates: dict[str, StepTemplate] = field(default_factory=dict)
    retries: int | str = 0  # a str is a template, rendered when a testcase runs
    retries_span: SourceSpan | None = None
    serial: bool = False  # run testcases one after another even with --jobs
    isolation: str | None = None  # overrides the project's data.isolation
    isolation_span: SourceSpan | None = None  # where the suite's `isolation:` is written
