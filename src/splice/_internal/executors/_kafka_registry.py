"""A Confluent-compatible schema registry as kafka steps use it: the wire format of a
registry-framed value, and the REST calls (register, look up, fetch by id or version).

The wire format (Confluent's, shared by its serializers in every language, Redpanda's
and Apicurio's compatibility mode): byte 0 is the magic byte 0, bytes 1-4 the schema id
(big-endian), the rest the value in the schema's encoding (Avro binary, or JSON text for
JSON Schema). Protobuf values carry message indexes after the id; they are not supported.

One client per registry URL and testcase attempt (its HTTP connection is kept); schemas
fetched by id are cached with it, since an id never changes its schema.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext

MAGIC = 0
_HEADER = struct.Struct(">BI")
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
# Confluent's error codes the steps tell apart
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
_TIMEOUT = 5.0


def frame(schema_id: int, payload: bytes) -> bytes:
    """A value as registry-aware clients write it: magic byte, schema id, payload."""
    if not 0 <= schema_id < 2**31:
        raise ValueError(f"schema id {schema_id} is out of range")
    return _HEADER.pack(MAGIC, schema_id) + payload


def unframe(data: bytes) -> tuple[int, bytes] | None:
    """(schema id, payload) of a registry-framed value; None when it is not one."""
    if len(data) < _HEADER.size or data[0] != MAGIC:
        return None
    _, schema_id = _HEADER.unpack_from(data)
    return schema_id, data[_HEADER.size :]


class RegistryError(Exception):
    """An error answer of the registry: HTTP status, Confluent's error_code, message."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Schema:
    """A schema the registry holds, with what encodes and decodes by it."""

    id: int
    type: str  # AVRO or JSON
    text: str
    compiled: Any = None  # fastavro's parsed schema, or a jsonschema-rs validator

    @property
    def label(self) -> str:
        return "Avro" if self.type == "AVRO" else "JSON Schema"

    @property
    def described(self) -> str:
        return "an Avro schema" if self.type == "AVRO" else "a JSON Schema"


@dataclass
class Registry:
    """The REST API of one registry."""

    url: str
    client: httpx.Client
    schemas: dict[int, Schema] = field(default_factory=dict)
    registered: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self.client.request(
                method, path, content=None if body is None else json.dumps(body).encode()
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            code = data.get("error_code") if isinstance(data, dict) else None
            message = data.get("message") if isinstance(data, dict) else None
            raise RegistryError(
                response.status_code,
                code if isinstance(code, int) else None,
                str(message or response.text[:200] or response.reason_phrase),
            )
        if data is None:
            raise StepError(
                f"{self.url}{path} answered {response.status_code} with something that is not JSON",
                "is this URL a schema registry? check the service's `schema_registry:`",
            )
        return data

    def register(self, subject: str, schema_type: str, text: str) -> int:
        """The id of `text` under `subject`, registering it when it is new there."""
        key = (subject, schema_type, text)
        if key not in self.registered:
            body = {
                "schema": text,
                **({"schemaType": schema_type} if schema_type != "AVRO" else {}),
            }
            found = self._call("POST", f"/subjects/{_quote(subject)}/versions", body)
            self.registered[key] = _id(found)
        return self.registered[key]

    def lookup(self, subject: str, schema_type: str, text: str) -> int:
        """The id of `text` under `subject`, which must be registered there already."""
        body = {"schema": text, **({"schemaType": schema_type} if schema_type != "AVRO" else {})}
        return _id(self._call("POST", f"/subjects/{_quote(subject)}", body))

    def by_id(self, schema_id: int) -> Schema:
        found = self.schemas.get(schema_id)
        if found is None:
            data = self._call("GET", f"/schemas/ids/{schema_id}")
            found = self.remember(schema_id, _type(data), _text(data))
        return found

    def version(self, subject: str, version: int | str) -> Schema:
        data = self._call("GET", f"/subjects/{_quote(subject)}/versions/{version}")
        schema_id = _id(data)
        return self.schemas.get(schema_id) or self.remember(schema_id, _type(data), _text(data))

    def subjects(self) -> list[str]:
        try:
            found = self._call("GET", "/subjects")
        except (StepError, RegistryError):
            return []
        return [str(s) for s in found] if isinstance(found, list) else []

    def versions(self, subject: str) -> list[int]:
        try:
            found = self._call("GET", f"/subjects/{_quote(subject)}/versions")
        except (StepError, RegistryError):
            return []
        return [int(v) for v in found] if isinstance(found, list) else []

    def remember(self, schema_id: int, schema_type: str, text: str) -> Schema:
        schema = Schema(schema_id, schema_type, text)
        self.schemas[schema_id] = schema
        return schema


def registry(ctx: StepContext, url: str) -> Registry:
    """The attempt's client of the registry at `url` (made on first use)."""
    table: dict[str, Registry] | None = ctx.session.state.get("kafka.registries")
    if table is None:
        table = {}
        ctx.session.state["kafka.registries"] = table

        def close() -> None:
            for found in table.values():
                found.client.close()

        ctx.session.on_close(close)
    url = url.rstrip("/")
    if url not in table:
        timeout = min(ctx.timeout, _TIMEOUT) if ctx.timeout else _TIMEOUT
        client = httpx.Client(
            base_url=url,
            timeout=timeout,
            headers={"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE},
            trust_env=False,
        )
        table[url] = Registry(url, client)
    return table[url]


def unreachable(url: str, exc: Exception) -> StepError:
    reason = str(exc) or type(exc).__name__
    return StepError(
        f"the schema registry at {url} did not answer: {reason}",
        "is it running? check the service's `schema_registry:` (or the step's); "
        "`schema_registry: true` on a kafka service starts one beside the local broker",
    )


def _quote(subject: str) -> str:
    return quote(subject, safe="")


def _id(data: Any) -> int:
    if isinstance(data, dict) and isinstance(data.get("id"), int):
        return int(data["id"])
    raise StepError(f"the schema registry answered without a schema id: {str(data)[:200]}")


def _type(data: Any) -> str:
    return str(data.get("schemaType") or "AVRO").upper() if isinstance(data, dict) else "AVRO"


def _text(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("schema"), str):
        return str(data["schema"])
    raise StepError(f"the schema registry answered without a schema: {str(data)[:200]}")
