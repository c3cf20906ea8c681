"""Values that go through a schema registry: a produce step's `avro:` or `json_schema:`
value, encoded with its schema and framed with the schema's id, and a consumed
registry-framed value, decoded to JSON.

Which schema a produced value uses, in the order a step may say it:
- `schema:` (inline, or a file relative to the suite): registered under the subject
  (auto-register, as Confluent's serializers do by default), or with `register: false`
  looked up there (it must be registered already);
- `schema_id: N`: that schema;
- `version: N` (or `latest`), and nothing at all: that version of the subject, i.e. the
  schema the system under test registered.
The subject is `subject:`, by default the topic's name followed by `-value` (Confluent's
TopicNameStrategy), the topic being the real one (with the testcase's prefix).

Why fastavro and framing of splice's own rather than confluent-kafka's serializers: those
bring a second HTTP client, attrs, cachetools, authlib and, for JSON Schema, jsonschema
with its referencing stack; and their errors say "an integer is required on field id"
where a test wants the path and the expected type. The framing is five bytes.
"""

from __future__ import annotations

import difflib
import io
import json
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from splice._internal.errors import StepError
from splice._internal.executors import _kafka_registry as sr
from splice._internal.executors._kafka_avro import Mismatch, ValuePath, dotted, fit, to_json
from splice._internal.executors.executor_api import BlockProblem, StepContext

INSTALL = "pip install 'splice[kafka]'"
KINDS = {"avro": "AVRO", "json_schema": "JSON"}  # value key -> the registry's schemaType


@dataclass
class Encoding:
    """How one produced value is written: its key, value and where its schema comes from."""

    key: str  # avro or json_schema
    value: Any
    path: ValuePath  # where the value is in the step: ("avro",), ("messages", 2, "json_schema")
    schema: Any = None  # inline (a mapping, or JSON text) or a file path
    subject: str | None = None
    schema_id: int | None = None
    version: int | str | None = None
    register: bool = True

    @property
    def kind(self) -> str:
        return KINDS[self.key]


class Undecodable(Exception):
    """A consumed value that looks registry-framed but cannot be decoded."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def no_registry(service: str | None, key: str) -> StepError:
    where = f"service {service!r} has none" if service else "the step names none"
    return StepError(
        f"an `{key}` value needs a schema registry, and {where}",
        "set `schema_registry: true` on the kafka service (splice runs one beside the local "
        "broker) or a registry's URL, or give the step `schema_registry: URL`",
    )


def encode(ctx: StepContext, url: str, wanted: Encoding, topic: str) -> tuple[bytes, int]:
    """The framed value and its schema's id."""
    registry = sr.registry(ctx, url)
    schema = _schema(ctx, registry, wanted, topic)
    if schema.type != wanted.kind:
        other = next(k for k, v in KINDS.items() if v == schema.type)
        raise StepError(
            f"schema id {schema.id} is {schema.described}, but the step gives an "
            f"`{wanted.key}` value",
            f"write the value under `{other}:`",
        )
    if schema.type == "AVRO":
        payload = _avro(schema, wanted)
    else:
        _check_json(schema, wanted)
        payload = json.dumps(wanted.value, ensure_ascii=False).encode()
    return sr.frame(schema.id, payload), schema.id


def _schema(ctx: StepContext, registry: sr.Registry, wanted: Encoding, topic: str) -> sr.Schema:
    subject = wanted.subject or f"{topic}-value"
    if wanted.schema_id is not None:
        try:
            return _compiled(registry.by_id(wanted.schema_id))
        except sr.RegistryError as exc:
            if exc.code == sr.SCHEMA_NOT_FOUND or exc.status == 404:
                raise StepError(
                    f"schema id {wanted.schema_id} is not in the schema registry at {registry.url}",
                    "check the id, or give `schema:` (registered on first use) or `version:`",
                ) from exc
            raise _refused(registry, exc) from exc
    if wanted.schema is None:
        return _version(registry, subject, wanted.version or "latest")
    text, where, compiled = given_schema(ctx.base_dir, wanted)
    try:
        if wanted.register:
            schema_id = registry.register(subject, wanted.kind, text)
        else:
            schema_id = registry.lookup(subject, wanted.kind, text)
    except sr.RegistryError as exc:
        if not wanted.register and exc.code in (sr.SUBJECT_NOT_FOUND, sr.SCHEMA_NOT_FOUND):
            raise StepError(
                f"the schema in {where} is not registered under subject {subject!r}",
                "drop `register: false` to register it, or check that the system under test "
                "registered it",
            ) from exc
        if exc.status == 409:
            raise StepError(
                f"the schema registry refused the schema in {where} as incompatible with "
                f"subject {subject!r}: {exc.message}",
                "register a compatible schema, or change the subject's compatibility level",
            ) from exc
        raise _refused(registry, exc) from exc
    found = registry.schemas.get(schema_id) or registry.remember(schema_id, wanted.kind, text)
    if found.compiled is None and found.type == wanted.kind:
        found.compiled = compiled
    return _compiled(found)


def _version(registry: sr.Registry, subject: str, version: int | str) -> sr.Schema:
    try:
        return _compiled(registry.version(subject, version))
    except sr.RegistryError as exc:
        if exc.code == sr.SUBJECT_NOT_FOUND:
            raise StepError(
                f"subject {subject!r} is not in the schema registry at {registry.url}",
                _subject_hint(subject, registry.subjects()),
            ) from exc
        if exc.code == sr.VERSION_NOT_FOUND:
            versions = registry.versions(subject)
            raise StepError(
                f"subject {subject!r} has no version {version}",
                f"its versions are {', '.join(map(str, versions))}" if versions else None,
            ) from exc
        raise _refused(registry, exc) from exc


def _subject_hint(subject: str, known: list[str]) -> str:
    close = difflib.get_close_matches(subject, known, n=1, cutoff=0.8)
    first = f"did you mean {close[0]!r}? " if close else ""
    if known:
        shown = ", ".join(repr(s) for s in known[:10]) + (", ..." if len(known) > 10 else "")
        return f"{first}the registry has {shown}"
    return (
        "the registry has no subjects: give the step `schema:` (registered under the "
        "subject on first use), or let the system under test register its schema first"
    )


def given_schema(base_dir: Path, wanted: Encoding) -> tuple[str, str, Any]:
    """The schema a step gives: as compact JSON text, where it came from, compiled."""
    schema, where = wanted.schema, "the step's `schema`"
    if isinstance(schema, str) and not schema.lstrip().startswith(("{", "[", '"')):
        where = schema
        try:
            schema = (base_dir / schema).read_text(encoding="utf-8")
        except OSError as exc:
            raise StepError(
                f"cannot read the schema file {where!r}: {exc.strerror or exc}",
                f"a schema file's path is relative to the suite's folder ({base_dir})",
            ) from exc
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise StepError(f"the schema in {where} is not JSON: {exc}") from exc
    try:
        compiled = _compile(wanted.kind, schema)
    except StepError:
        raise
    except Exception as exc:  # fastavro and jsonschema-rs raise several kinds
        label = "an Avro schema" if wanted.kind == "AVRO" else "a JSON Schema"
        detail = str(exc).splitlines()[0] if str(exc) else ""
        if type(exc).__name__ not in ("ValueError", "ValidationError", "Exception"):
            detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise StepError(f"the schema in {where} is not {label}: {detail}") from exc
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False), where, compiled


def check(base_dir: Path, wanted: Encoding) -> BlockProblem | None:
    """At load time, with the schema the step gives: the first problem, or None. The
    caller leaves out values with templates."""
    try:
        _, where, compiled = given_schema(base_dir, wanted)
    except StepError as exc:
        return BlockProblem((*wanted.path[:-1], "schema"), exc.message, exc.hint)
    try:
        if wanted.kind == "AVRO":
            fit(compiled, wanted.value, wanted.path)
            return None
        problem = json_mismatch(compiled, wanted.value, wanted.path)
    except Mismatch as exc:
        problem = exc
    if problem is None:
        return None
    label = f"the Avro schema {_name(compiled)}" if wanted.kind == "AVRO" else "the JSON Schema"
    return BlockProblem(
        problem.path,
        f"the value does not fit {label} in {where}: {problem.detail}",
        key=problem.at_key,
    )


def _compiled(schema: sr.Schema) -> sr.Schema:
    if schema.compiled is None:
        try:
            schema.compiled = _compile(schema.type, json.loads(schema.text))
        except StepError:
            raise
        except Exception as exc:  # fastavro and jsonschema-rs raise several kinds
            raise StepError(
                f"schema id {schema.id} from the registry is not {schema.described}: {exc}"
            ) from exc
    return schema


def _compile(kind: str, schema: Any) -> Any:
    if kind == "AVRO":
        return _fastavro().parse_schema(schema)
    if not isinstance(schema, dict | bool):
        raise ValueError("a JSON Schema is an object or a boolean")
    return _jsonschema().validator_for(schema)


def _avro(schema: sr.Schema, wanted: Encoding) -> bytes:
    parsed = schema.compiled
    try:
        prepared = fit(parsed, wanted.value, wanted.path)
    except Mismatch as exc:
        raise StepError(
            f"the value does not fit the Avro schema {_name(parsed)} (id {schema.id}): {exc}",
            "compare the value with the schema",
        ) from exc
    out = io.BytesIO()
    try:
        _fastavro().schemaless_writer(out, parsed, prepared)
    except Exception as exc:  # what the walk above did not foresee
        raise StepError(f"{dotted(wanted.path)} could not be written as Avro: {exc}") from exc
    return out.getvalue()


def _check_json(schema: sr.Schema, wanted: Encoding) -> None:
    problem = json_mismatch(schema.compiled, wanted.value, wanted.path)
    if problem is not None:
        raise StepError(
            f"the value does not fit the JSON Schema (id {schema.id}): {problem}",
            "compare the value with the schema",
        )


def json_mismatch(validator: Any, value: Any, path: ValuePath) -> Mismatch | None:
    """The first place where `value` does not fit a JSON Schema, or None."""
    errors = list(islice(validator.iter_errors(value), 1))
    if not errors:
        return None
    return Mismatch((*path, *errors[0].instance_path), errors[0].message)


def _name(parsed: Any) -> str:
    if isinstance(parsed, dict) and parsed.get("name"):
        return str(parsed["name"])
    return json.dumps(parsed if not isinstance(parsed, dict) else parsed.get("type"))


def _refused(registry: sr.Registry, exc: sr.RegistryError) -> StepError:
    code = f" (error {exc.code})" if exc.code is not None else ""
    return StepError(
        f"the schema registry at {registry.url} answered {exc.status}{code}: {exc.message}"
    )


class Decoder:
    """Decodes registry-framed values read from a topic, through one registry."""

    def __init__(self, ctx: StepContext, url: str) -> None:
        self.ctx = ctx
        self.url = url

    def __call__(self, data: bytes) -> tuple[int, Any] | None:
        """(schema id, the value as JSON), or None for a value that is not framed."""
        framed = sr.unframe(data)
        if framed is None:
            return None
        schema_id, payload = framed
        registry = sr.registry(self.ctx, self.url)
        try:
            schema = _compiled(registry.by_id(schema_id))
        except sr.RegistryError as exc:
            if exc.code == sr.SCHEMA_NOT_FOUND or exc.status == 404:
                raise Undecodable(
                    f"its value names schema id {schema_id}, which the schema registry at "
                    f"{self.url} does not have",
                    "was it written through another registry? `schema_registry: false` on "
                    "the step reads values as they are",
                ) from exc
            raise _refused(registry, exc) from exc
        try:
            if schema.type == "AVRO":
                decoded = _fastavro().schemaless_reader(io.BytesIO(payload), schema.compiled, None)
                return schema_id, to_json(decoded)
            return schema_id, json.loads(payload)
        except StepError:
            raise
        except Exception as exc:  # a payload that does not fit its schema
            raise Undecodable(
                f"its value does not decode with schema id {schema_id} ({schema.label}): "
                f"{str(exc) or type(exc).__name__}",
                "the producer wrote it with another schema than the id says",
            ) from exc


def _fastavro() -> Any:
    try:
        import fastavro
    except ImportError as exc:
        raise StepError("Avro values need fastavro", INSTALL) from exc
    return fastavro


def _jsonschema() -> Any:
    try:
        import jsonschema_rs
    except ImportError as exc:
        raise StepError("JSON Schema values need jsonschema-rs", INSTALL) from exc
    return jsonschema_rs
