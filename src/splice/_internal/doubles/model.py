"""The schema of a stub: what a request must look like and what the mock answers.

    - name: charge accepted
      priority: 1                       # lower wins; ties: the stub added last wins
      request:
        method: POST
        path_template: /v1/customers/{id}/charges
        headers: {Authorization: {regex: "^Bearer "}}
        body: {json_partial: {currency: eur}}
      response:
        status: 201
        json: {id: "ch_{{ uuid() }}", customer: "{{ request.params.id }}"}
        delay: {min: 50ms, max: 200ms}

The same models validate stub files (in splice, with located errors) and stubs added at
run time through the admin API (in the mock's own process).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from splice._internal.model.durations import parse_duration
from splice._internal.regexes import RegexError, compile_user_regex

TEXT_OPS = ("equal", "contains", "regex", "not_regex", "absent")
DEFAULT_PRIORITY = 5
Scalar = str | int | float | bool


class Spec(BaseModel):
    """Unknown keys are errors, so a typo in a stub file is reported, not ignored."""

    # defer_build: a model's validator is built when it first validates, not at import,
    # so a run pays only for the models its suites use
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            compile_user_regex(value)
        except RegexError as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc.detail}") from exc
    return value


class TextMatch(Spec):
    """One test of a text value (a query parameter, header, cookie, form field...)."""

    equal: str | None = None
    contains: str | None = None
    regex: str | None = None
    not_regex: str | None = None
    absent: bool | None = None  # true: must not be there; false: must be there, any value
    case_insensitive: bool = False

    _check_regex = field_validator("regex", "not_regex")(_regex)

    @field_validator("equal", "contains", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return as_text(value)

    @model_validator(mode="after")
    def _one(self) -> TextMatch:
        given = [op for op in TEXT_OPS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of " + ", ".join(TEXT_OPS) + (f"; found {given}" if given else "")
            )
        return self


ValueMatch = Scalar | TextMatch


def as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class BodyMatch(Spec):
    """Tests of the request body; every one given must hold."""

    equal: str | None = None
    contains: str | None = None
    regex: str | None = None
    json_: Any = Field(default=None, alias="json")
    json_partial: Any = None
    ignore_array_order: bool = False
    json_path: dict[str, Any] | list[str] | None = None
    json_schema: dict[str, Any] | None = None
    form: dict[str, ValueMatch] | None = None
    absent: bool | None = None

    _check_regex = field_validator("regex")(_regex)

    @field_validator("json_path")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if value is None:
            return value
        from splice._internal.doubles.jsonpaths import compile_path

        for expression in value if isinstance(value, list) else list(value):
            compile_path(expression)
        return value

    @model_validator(mode="after")
    def _something(self) -> BodyMatch:
        if not self.model_fields_set - {"ignore_array_order"}:
            raise ValueError(
                "the body matcher is empty: give json, json_partial, json_path, "
                "json_schema, form, equal, contains, regex or absent"
            )
        return self


class RequestSpec(Spec):
    """What a request must look like; every part given must match (an empty spec: any)."""

    method: str | list[str] | None = None
    path: str | None = None
    path_template: str | None = None
    path_regex: str | None = None
    url: str | None = None
    url_regex: str | None = None
    query: dict[str, ValueMatch] = {}
    headers: dict[str, ValueMatch] = {}
    cookies: dict[str, ValueMatch] = {}
    body: BodyMatch | None = None

    _check_regex = field_validator("path_regex", "url_regex")(_regex)

    @field_validator("method")
    @classmethod
    def _method(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v).upper() for v in value]
        return value.upper() if isinstance(value, str) else value

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        return {"equal": value} if isinstance(value, str) else value

    @field_validator("path_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            from splice._internal.doubles.paths import compile_template

            compile_template(value)
        return value

    @model_validator(mode="after")
    def _one_path(self) -> RequestSpec:
        given = [
            k
            for k in ("path", "path_template", "path_regex", "url", "url_regex")
            if getattr(self, k) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one way to match the path, found {' and '.join(given)}")
        return self


class DelayRange(Spec):
    """A random delay, uniform between `min` and `max`."""

    min: str | float
    max: str | float

    @field_validator("min", "max")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _order(self) -> DelayRange:
        if parse_duration(self.min) > parse_duration(self.max):
            raise ValueError(f"delay min {self.min!r} is above max {self.max!r}")
        return self


class ResponseSpec(Spec):
    """What the mock answers: status, headers and one body source, or a fault."""

    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, Scalar | list[Scalar]] = {}
    body: str | None = None
    json_: Any = Field(default=None, alias="json")
    file: str | None = None
    base64: str | None = None
    template: bool | None = None  # None: templated when the body or a header holds {{ or {%
    delay: str | float | DelayRange | None = None
    fault: (
        Literal[
            "connection_reset", "empty_response", "malformed_chunk", "random_data", "never_respond"
        ]
        | None
    ) = None

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, DelayRange):
            parse_duration(value)
        return value

    @field_validator("base64")
    @classmethod
    def _b64(cls, value: str | None) -> str | None:
        if value is not None:
            import base64
            import binascii

            try:
                base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"not valid base64: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_body(self) -> ResponseSpec:
        given = [k for k in ("body", "json", "file", "base64") if k in self.given()]
        if len(given) > 1:
            raise ValueError(f"a response has one body, found {' and '.join(given)}")
        return self

    def given(self) -> set[str]:
        """Keys the user set, by their YAML names."""
        return {"json" if k == "json_" else k for k in self.model_fields_set}


class ScenarioSpec(Spec):
    """A stub that belongs to a scenario answers only in `state` (when given) and then
    moves the scenario to `next` (when given). Every scenario starts in `Started`."""

    name: str
    state: str | None = None
    next: str | None = None


class StubSpec(Spec):
    """One stub: a request pattern and the response (or sequence of responses)."""

    id: str | None = None
    name: str | None = None
    priority: int = DEFAULT_PRIORITY
    request: RequestSpec = RequestSpec()
    response: ResponseSpec | None = None
    responses: list[ResponseSpec] | None = Field(default=None, min_length=1)
    cycle: bool = False  # responses: start over after the last (default: repeat the last)
    scenario: ScenarioSpec | None = None
    # contracts: the provider states this stub assumes, and whether it belongs in the pact
    # a mock with `contract:` writes (false: a stub the real provider need not honour)
    given: str | list[str | dict[str, Any]] | None = None
    contract: bool = True

    @model_validator(mode="after")
    def _one_response(self) -> StubSpec:
        if self.response is not None and self.responses is not None:
            raise ValueError("give `response` (one) or `responses` (a sequence), not both")
        return self

    def label(self) -> str:
        return self.name or self.id or "unnamed stub"


def stub_list(data: Any) -> list[Any]:
    """The stubs in a loaded file: a list, `{stubs: [...]}`, or one stub mapping."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and set(data) == {"stubs"}:
        stubs = data["stubs"]
        return stubs if isinstance(stubs, list) else [stubs]
    if data is None:
        return []
    return [data]
