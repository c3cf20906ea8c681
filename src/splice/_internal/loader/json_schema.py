"""JSON Schemas (draft 2020-12) of suite files, for editors: completion and inline errors.

Generated from the pydantic models the loader validates with, and from each executor's
block model (plugins included), so the schema and the loader cannot drift apart. Where
the loader accepts more than a model says, the schema says so too:

- an executor's short forms (`exec: "ls"`, `http: {get: URL}`) come from the executor's
  optional `shorthand_schema`; a plugin with a `shorthand` but no schema for it may take
  any value that is not a mapping;
- inside an executor block, a template string (`"{{ n }}"`) may stand for any value, as
  the loader checks such values only after rendering;
- one step has exactly one executor key, or `use:`, or is an `include:` alone.

Checks that need more than one value's shape (undefined variables, files that must exist,
regular expressions that must compile) are `splice check`'s, not the schema's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from splice._internal.executors import executor_registry as registry
from splice._internal.loader.suite_schema import (
    StepCommonSpec,
    SuiteSpec,
    TemplateSpec,
    TestcaseSpec,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "a template, checked once rendered",
}
# a value that may be anything: what a plugin's undocumented short form accepts
_NOT_A_MAPPING: dict[str, Any] = {"not": {"type": "object"}}
_STEP_LISTS = ("setup", "steps", "teardown")


class Defs:
    """The `$defs` of one schema, gathered from several models without name clashes."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def model(
        self,
        model: type[BaseModel],
        prefix: str,
        transform: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        """`model`'s schema, its own definitions moved here under `prefix` (and passed
        through `transform`, which the returned root is not)."""
        schema = model.model_json_schema(
            by_alias=True, ref_template=f"#/$defs/{prefix}{{model}}", mode="validation"
        )
        for name, sub in schema.pop("$defs", {}).items():
            self.defs[prefix + name] = transform(sub) if transform else sub
        return schema

    def ref(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        self.defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}


def allow_templates(schema: Any) -> Any:
    """`schema` where every value that is not already any string may also be a template."""
    if not isinstance(schema, dict):
        return schema
    out = _within(schema)
    if "$ref" in out or _any_string(out):
        return out  # a referenced definition is widened where it is defined
    keep = {k: out.pop(k) for k in ("description", "default", "title") if k in out}
    return {"anyOf": [out, TEMPLATE], **keep}


def _within(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the values inside it widened (not the schema itself)."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: allow_templates(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = allow_templates(value)
        elif key == "prefixItems":
            out[key] = [allow_templates(sub) for sub in value]
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [_within(sub) if isinstance(sub, dict) else sub for sub in value]
        else:
            out[key] = value
    return out


def _any_string(schema: dict[str, Any]) -> bool:
    """Whether every string (so every template) is valid under `schema`."""
    if set(schema) <= {"description", "default", "title"}:
        return True  # anything at all
    if schema.get("type") == "string":
        return not any(k in schema for k in ("enum", "const", "pattern", "format", "minLength"))
    return any(
        isinstance(sub, dict) and "$ref" not in sub and _any_string(sub)
        for sub in schema.get("anyOf", [])
    )


def executor_schema(name: str, defs: Defs) -> dict[str, Any]:
    """What a step may give under the executor key `name`: its block or a short form."""
    cls = registry.get(name)
    block = allow_templates(defs.model(cls.block_model, f"{name}.", allow_templates))
    forms: list[Any] = [block]
    shorthand_schema = getattr(cls, "shorthand_schema", None)
    if callable(shorthand_schema):
        forms.extend(shorthand_schema(copy.deepcopy(block)))
    elif callable(getattr(cls, "shorthand", None)):
        forms.append(_NOT_A_MAPPING)
    return forms[0] if len(forms) == 1 else {"anyOf": forms}


def strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (
                {n: strip_titles(s) for n, s in v.items()}
                if k in ("properties", "$defs", "patternProperties")
                else strip_titles(v)
            )
            for k, v in schema.items()
            if k != "title"
        }
    if isinstance(schema, list):
        return [strip_titles(v) for v in schema]
    return schema


def _step(defs: Defs) -> dict[str, str]:
    common = defs.model(StepCommonSpec, "step.")
    properties: dict[str, Any] = common["properties"]
    plain = {k: v for k, v in properties.items() if k not in ("use", "with")}
    forms: list[dict[str, Any]] = []
    for name in registry.names():
        expect = {
            "type": ["object", "null"],
            "description": "expectations on the fields of the result (see the matchers)",
            "properties": {
                field: {"description": text}
                for field, text in registry.get(name).result_fields.items()
            },
            "additionalProperties": False,
        }
        forms.append(
            {
                "type": "object",
                "properties": {**plain, "expect": expect, name: executor_schema(name, defs)},
                "required": [name],
                "additionalProperties": False,
            }
        )
    forms.append(
        {
            "type": "object",
            "description": "a call of a step template",
            "properties": properties,
            "required": ["use"],
            "additionalProperties": False,
        }
    )
    forms.append(
        {
            "type": "object",
            "description": "replaced by the steps of this file, relative to the including file",
            "properties": {"include": {"type": "string", "minLength": 1}},
            "required": ["include"],
            "additionalProperties": False,
        }
    )
    return defs.ref("Step", {"description": common.get("description", ""), "anyOf": forms})


def _with_steps(schema: dict[str, Any], step: dict[str, str], required: tuple[str, ...]) -> None:
    for key in _STEP_LISTS:
        if key in schema["properties"]:
            steps: dict[str, Any] = {"type": "array", "items": step}
            if key in required:
                steps["minItems"] = 1
            schema["properties"][key] = steps


def suite_schema() -> dict[str, Any]:
    """The JSON Schema of a `*.splice.yaml` file."""
    defs = Defs()
    step = _step(defs)
    testcase = defs.model(TestcaseSpec, "testcase.")
    _with_steps(testcase, step, ("steps",))
    # `foreach: {sql: ...}` holds the block of a `sql` step
    query = defs.defs.get("testcase.ForeachSqlSpec")
    if query is not None and registry.known("sql"):
        query["properties"]["sql"] = executor_schema("sql", defs)
    root = defs.model(SuiteSpec, "suite.")
    _with_steps(root, step, ())
    root["properties"]["testcases"] = {
        "type": "array",
        "minItems": 1,
        "items": defs.ref("Testcase", testcase),
    }
    schema = {
        "$schema": DIALECT,
        "$id": "urn:splice:schema:suite",
        "description": "A splice suite (*.splice.yaml): variables, testcases, setup, teardown.",
        **{k: v for k, v in root.items() if k != "title"},
        "$defs": dict(sorted(defs.defs.items())),
    }
    return strip_titles(schema)  # type: ignore[no-any-return]


def template_schema() -> dict[str, Any]:
    """The JSON Schema of a step template file."""
    defs = Defs()
    step = _step(defs)
    root = defs.model(TemplateSpec, "template.")
    _with_steps(root, step, ("steps",))
    schema = {
        "$schema": DIALECT,
        "$id": "urn:splice:schema:template",
        **{k: v for k, v in root.items() if k != "title"},
        "$defs": dict(sorted(defs.defs.items())),
    }
    return strip_titles(schema)  # type: ignore[no-any-return]
