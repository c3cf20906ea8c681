"""The memory of splice's local schema registry, and the part of Confluent Schema
Registry's REST API that serializers, deserializers and tools call.

`SchemaStore.handle(method, segments, query, body)` answers one request with a status
and a JSON body (or a schema's text); the server process (`registry_server`) only
moves bytes. What is kept: schemas by global id (the same schema text under two subjects
has one id, as in Confluent's registry), each subject's versions, soft and permanent
deletes. What is not: compatibility checks (the level is always NONE: any other is
refused with Confluent's error 42203 rather than accepted and not enforced), Protobuf
schemas, schema references, contexts, modes other than READWRITE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Confluent's error codes (error_code in the error body)
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
VERSION_SOFT_DELETED = 40406
VERSION_NOT_SOFT_DELETED = 40407
SUBJECT_CONFIG_NOT_FOUND = 40408
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY = 42203

TYPES = ("AVRO", "JSON")  # what this registry stores: no PROTOBUF
_LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
_MAX_VERSION = 2**31 - 1
_IGNORED_FIELDS = ("metadata", "ruleSet", "normalize")  # accepted when empty


class ApiError(Exception):
    """An error answer: HTTP status, Confluent's error_code and its message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Schema:
    id: int
    type: str
    text: str  # canonical: compact JSON

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.text}
        if self.type != "AVRO":  # Confluent leaves out the default type
            out["schemaType"] = self.type
        return out


@dataclass
class Version:
    number: int
    schema_id: int
    deleted: bool = False


@dataclass
class Subject:
    versions: list[Version] = field(default_factory=list)
    compatibility: str | None = None

    def live(self) -> list[Version]:
        return [v for v in self.versions if not v.deleted]


Answer = tuple[int, Any]  # status, JSON value (a str body for the /schema endpoints is text)


class SchemaStore:
    """Subjects and schemas in memory, and the REST routes over them."""

    def __init__(self) -> None:
        self.schemas: dict[int, Schema] = {}
        self.by_text: dict[tuple[str, str], int] = {}
        self.subjects: dict[str, Subject] = {}
        self.compatibility = "NONE"

    # routing ------------------------------------------------------------------------
    def handle(
        self, method: str, segments: list[str], query: dict[str, str], body: bytes
    ) -> Answer:
        """Answer one request; errors become Confluent's error body."""
        try:
            return self._route(method, segments, query, body)
        except ApiError as exc:
            return exc.status, {"error_code": exc.code, "message": exc.message}

    def _route(
        self, method: str, segments: list[str], query: dict[str, str], body: bytes
    ) -> Answer:
        deleted = query.get("deleted") == "true"
        match method, segments:
            case "GET", []:
                return 200, {}
            case "GET", ["schemas", "types"]:
                return 200, list(TYPES)
            case "GET", ["schemas", "ids", schema_id]:
                return 200, self._schema(schema_id).body()
            case "GET", ["schemas", "ids", schema_id, "schema"]:
                return 200, self._schema(schema_id).text
            case "GET", ["schemas", "ids", schema_id, "subjects"]:
                found = self._schema(schema_id)
                return 200, sorted({s for s, v in self._uses(found.id, deleted)})
            case "GET", ["schemas", "ids", schema_id, "versions"]:
                found = self._schema(schema_id)
                return 200, [{"subject": s, "version": v} for s, v in self._uses(found.id, deleted)]
            case "GET", ["subjects"]:
                prefix = query.get("subjectPrefix", "")
                return 200, sorted(
                    name
                    for name, subject in self.subjects.items()
                    if name.startswith(prefix) and (deleted or subject.live())
                )
            case "GET", ["subjects", name, "versions"]:
                subject = self._subject(name, deleted)
                versions = subject.versions if deleted else subject.live()
                return 200, [v.number for v in versions]
            case "GET", ["subjects", name, "versions", version]:
                return 200, self._version_body(name, self._version(name, version, deleted))
            case "GET", ["subjects", name, "versions", version, "schema"]:
                chosen = self._version(name, version, deleted)
                return 200, self.schemas[chosen.schema_id].text
            case "GET", ["subjects", name, "versions", version, "referencedby"]:
                self._version(name, version, deleted)
                return 200, []  # references are not supported, so nothing refers to it
            case "POST", ["subjects", name, "versions"]:
                return 200, {"id": self.register(name, _request(body))}
            case "POST", ["subjects", name]:
                return 200, self._lookup(name, _request(body), deleted)
            case "DELETE", ["subjects", name]:
                return 200, self._delete_subject(name, query.get("permanent") == "true")
            case "DELETE", ["subjects", name, "versions", version]:
                return 200, self._delete_version(name, version, query.get("permanent") == "true")
            case "GET", ["config"]:
                return 200, {"compatibilityLevel": self.compatibility}
            case "PUT", ["config"]:
                self.compatibility = _level(body)
                return 200, {"compatibility": self.compatibility}
            case "GET", ["config", name]:
                configured = self.subjects.get(name)
                if configured is not None and configured.compatibility is not None:
                    return 200, {"compatibilityLevel": configured.compatibility}
                if query.get("defaultToGlobal") == "true":
                    return 200, {"compatibilityLevel": self.compatibility}
                raise ApiError(
                    404,
                    SUBJECT_CONFIG_NOT_FOUND,
                    f"Subject '{name}' does not have subject-level compatibility configured",
                )
            case "PUT", ["config", name]:
                level = _level(body)
                self.subjects.setdefault(name, Subject()).compatibility = level
                return 200, {"compatibility": level}
            case "DELETE", ["config", name]:
                subject = self._subject(name, deleted=True)
                previous, subject.compatibility = subject.compatibility, None
                return 200, {"compatibilityLevel": previous or self.compatibility}
            case "GET", ["mode"] | ["mode", _]:
                return 200, {"mode": "READWRITE"}
            case "POST", ["compatibility", "subjects", name, "versions", *rest] if len(rest) <= 1:
                _parsed(_request(body))
                if rest:
                    self._version(name, rest[0], deleted=False)
                # under level NONE every schema is compatible with every other
                return 200, {"is_compatible": True}
        if _known_path(segments):
            raise ApiError(405, 405, "HTTP 405 Method Not Allowed")
        raise ApiError(404, 404, "HTTP 404 Not Found")

    # operations ---------------------------------------------------------------------
    def register(self, name: str, request: dict[str, Any]) -> int:
        """The id of the schema under `name`: its existing version's, or a new version."""
        schema_type, text = _parsed(request)
        subject = self.subjects.setdefault(name, Subject())
        for version in subject.live():
            found = self.schemas[version.schema_id]
            if (found.type, found.text) == (schema_type, text):
                return found.id
        schema_id = self.by_text.get((schema_type, text))
        if schema_id is None:
            schema_id = len(self.schemas) + 1
            self.schemas[schema_id] = Schema(schema_id, schema_type, text)
            self.by_text[(schema_type, text)] = schema_id
        number = max((v.number for v in subject.versions), default=0) + 1
        subject.versions.append(Version(number, schema_id))
        return schema_id

    def _lookup(self, name: str, request: dict[str, Any], deleted: bool) -> dict[str, Any]:
        schema_type, text = _parsed(request)
        subject = self._subject(name, deleted)
        for version in subject.versions if deleted else subject.live():
            found = self.schemas[version.schema_id]
            if (found.type, found.text) == (schema_type, text):
                return self._version_body(name, version)
        raise ApiError(404, SCHEMA_NOT_FOUND, "Schema not found")

    def _delete_subject(self, name: str, permanent: bool) -> list[int]:
        subject = self._subject(name, deleted=True)
        if permanent:
            if subject.live():
                raise ApiError(
                    404,
                    SUBJECT_NOT_SOFT_DELETED,
                    f"Subject '{name}' was not deleted first before being permanently deleted",
                )
            del self.subjects[name]
            return [v.number for v in subject.versions]
        if not subject.live():
            raise ApiError(404, SUBJECT_SOFT_DELETED, f"Subject '{name}' was soft deleted.")
        numbers = [v.number for v in subject.live()]
        for version in subject.versions:
            version.deleted = True
        return numbers

    def _delete_version(self, name: str, text: str, permanent: bool) -> int:
        found = self._version(name, text, deleted=True)
        subject = self.subjects[name]
        if permanent:
            if not found.deleted:
                raise ApiError(
                    404,
                    VERSION_NOT_SOFT_DELETED,
                    f"Subject '{name}' Version {found.number} was not deleted first before "
                    "being permanently deleted",
                )
            subject.versions.remove(found)
            if not subject.versions and subject.compatibility is None:
                del self.subjects[name]
            return found.number
        if found.deleted:
            raise ApiError(
                404,
                VERSION_SOFT_DELETED,
                f"Subject '{name}' Version {found.number} was soft deleted.",
            )
        found.deleted = True
        return found.number

    # lookups ------------------------------------------------------------------------
    def _schema(self, text: str) -> Schema:
        schema_id = int(text) if text.isdigit() else -1
        found = self.schemas.get(schema_id)
        if found is None:
            raise ApiError(404, SCHEMA_NOT_FOUND, f"Schema {text} not found")
        return found

    def _subject(self, name: str, deleted: bool) -> Subject:
        subject = self.subjects.get(name)
        if subject is None or not subject.versions or (not deleted and not subject.live()):
            raise ApiError(404, SUBJECT_NOT_FOUND, f"Subject '{name}' not found.")
        return subject

    def _version(self, name: str, text: str, deleted: bool) -> Version:
        number = _version_number(text)
        subject = self._subject(name, deleted)
        versions = subject.versions if deleted else subject.live()
        if number == -1:
            if not versions:  # pragma: no cover - _subject refused a subject without any
                raise ApiError(404, VERSION_NOT_FOUND, f"Version {text} not found.")
            return versions[-1]
        for version in versions:
            if version.number == number:
                return version
        raise ApiError(404, VERSION_NOT_FOUND, f"Version {number} not found.")

    def _version_body(self, name: str, version: Version) -> dict[str, Any]:
        found = self.schemas[version.schema_id]
        return {"subject": name, "version": version.number, "id": found.id, **found.body()}

    def _uses(self, schema_id: int, deleted: bool) -> list[tuple[str, int]]:
        return [
            (name, version.number)
            for name, subject in sorted(self.subjects.items())
            for version in subject.versions
            if version.schema_id == schema_id and (deleted or not version.deleted)
        ]


def _request(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, 400, f"Unexpected character in the request body: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(422, 422, "the request body must be a JSON object")
    return data


def _parsed(request: dict[str, Any]) -> tuple[str, str]:
    """The schema's type and canonical text, or Confluent's 42201 for an invalid one."""
    unknown = sorted(set(request) - {"schema", "schemaType", "references", *_IGNORED_FIELDS})
    if unknown:
        raise ApiError(422, 422, f"Unrecognized field: {unknown[0]}")
    for name in _IGNORED_FIELDS:
        if request.get(name) not in (None, {}, [], False):
            raise ApiError(
                422, INVALID_SCHEMA, f"`{name}` is not supported by splice's local schema registry"
            )
    if request.get("references"):
        raise ApiError(
            422, INVALID_SCHEMA, "schema references are not supported by splice's local registry"
        )
    schema_type = str(request.get("schemaType") or "AVRO").upper()
    if schema_type not in TYPES:
        raise ApiError(
            422,
            INVALID_SCHEMA,
            f"Invalid schema type {schema_type}: splice's local schema registry stores "
            f"{' and '.join(TYPES)} schemas",
        )
    text = request.get("schema")
    if not isinstance(text, str):
        raise ApiError(422, 422, "Empty schema")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ApiError(422, INVALID_SCHEMA, f"Invalid schema: {exc}") from exc
    problem = _avro_problem(value) if schema_type == "AVRO" else _json_schema_problem(value)
    if problem:
        raise ApiError(422, INVALID_SCHEMA, f"Invalid schema {text}, details: {problem}")
    return schema_type, json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _avro_problem(value: Any) -> str | None:
    import fastavro

    if (
        isinstance(value, dict)
        and value.get("type") == "record"
        and not isinstance(value.get("fields"), list)
    ):
        return "a record needs a list of fields"
    try:
        fastavro.parse_schema(value)
    except Exception as exc:  # noqa: BLE001 - fastavro raises several kinds for a bad schema
        return f"{type(exc).__name__}: {exc}"
    return None


def _json_schema_problem(value: Any) -> str | None:
    if not isinstance(value, dict | bool):
        return "a JSON Schema is an object or a boolean"
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the kafka extra brings it
        return None
    try:
        jsonschema_rs.validator_for(value)
    except Exception as exc:  # noqa: BLE001 - jsonschema-rs raises ValidationError or ValueError
        return str(exc).splitlines()[0]
    return None


def _version_number(text: str) -> int:
    if text in ("latest", "-1"):
        return -1
    if text.isdigit() and 1 <= int(text) <= _MAX_VERSION:
        return int(text)
    raise ApiError(
        422,
        INVALID_VERSION,
        f"The specified version '{text}' is not a valid version id. Allowed values are "
        'between [1, 2^31-1] and the string "latest"',
    )


def _level(body: bytes) -> str:
    level = str(_request(body).get("compatibility") or "").upper()
    if level == "NONE":
        return level
    if level in _LEVELS:
        message = (
            f"compatibility {level} is not supported: splice's local schema registry does not "
            "check compatibility, so its level is always NONE"
        )
    else:
        message = f"Invalid compatibility level {level or '(none)'}"
    raise ApiError(422, INVALID_COMPATIBILITY, message)


def _known_path(segments: list[str]) -> bool:
    return bool(segments) and segments[0] in ("schemas", "subjects", "config", "mode")
