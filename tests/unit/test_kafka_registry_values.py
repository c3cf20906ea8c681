"""Schema-registry values of the kafka executor without a server: Confluent's wire
framing, Avro values checked against their schema (paths and expected types), their JSON
forms both ways, and the local registry's memory and REST answers."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splice._internal.executors._kafka_avro import Mismatch, fit, to_json
from splice._internal.executors._kafka_registry import frame, unframe
from splice._internal.services.kinds.kafka.registry_server import answer
from splice._internal.services.kinds.kafka.registry_store import SchemaStore

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {
            "name": "items",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Item",
                    "fields": [{"name": "sku", "type": "string"}, {"name": "n", "type": "int"}],
                },
            },
            "default": [],
        },
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID"]}},
    ],
}


# framing ------------------------------------------------------------------------------
def test_a_framed_value_starts_with_magic_byte_and_big_endian_id() -> None:
    """frame() writes byte 0, then the id in four big-endian bytes, then the payload."""
    assert frame(258, b"xy") == b"\x00\x00\x00\x01\x02xy"


@given(st.integers(min_value=0, max_value=2**31 - 1), st.binary())
def test_unframe_reads_back_what_frame_wrote(schema_id: int, payload: bytes) -> None:
    """Any id and payload survive a frame/unframe round trip."""
    assert unframe(frame(schema_id, payload)) == (schema_id, payload)


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x01", b'{"id": 1}', b"\x01\x00\x00\x00\x01x"])
def test_values_that_are_not_framed_are_left_alone(data: bytes) -> None:
    """Shorter than the header, or another first byte: not a registry value."""
    assert unframe(data) is None


def test_an_id_out_of_range_is_refused() -> None:
    """Schema ids are non-negative 32-bit integers."""
    with pytest.raises(ValueError, match="out of range"):
        frame(2**31, b"")


# Avro values --------------------------------------------------------------------------
def _fit(value: Any, schema: Any = ORDER) -> Any:
    return fit(fastavro.parse_schema(schema), value, ("avro",))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": 1, "qty": "two", "state": "NEW"}, "avro.qty: expected int, got 'two' (text)"),
        (
            {"id": 1, "qty": 1, "state": "NEW", "items": [{"sku": "a", "n": 1}, {"sku": "b"}]},
            "avro.items[1].n: missing: the field (int) has no default",
        ),
        (
            {"id": 1, "qtty": 1, "state": "NEW"},
            "avro.qtty: record shop.Order has no field 'qtty'; did you mean 'qty'?",
        ),
        (
            {"id": 1, "qty": 1, "note": 3, "state": "NEW"},
            "avro.note: expected one of null, string, got 3 (an integer)",
        ),
        (
            {"id": 1, "qty": 2**31, "state": "NEW"},
            "avro.qty: expected int (from -2147483648 to 2147483647), got 2147483648 (an integer)",
        ),
        (
            {"id": True, "qty": 1, "state": "NEW"},
            "avro.id: expected long, got True (a boolean)",
        ),
        (
            {"id": 1, "qty": 1, "state": "LOST"},
            "avro.state: expected one of the symbols of enum shop.State: NEW, PAID, got 'LOST' (text)",
        ),
        ([1], "avro: expected an object (record shop.Order), got [1] (an array)"),
    ],
)
def test_a_value_that_does_not_fit_names_its_path_and_the_expected_type(
    value: Any, expected: str
) -> None:
    """Each mismatch says where (a path from the step's key) and what the schema wants."""
    with pytest.raises(Mismatch) as info:
        _fit(value)
    assert str(info.value) == expected


def test_a_fitting_value_gets_its_defaults_and_round_trips() -> None:
    """Missing fields with defaults are filled; fastavro writes it and reads it back."""
    parsed = fastavro.parse_schema(ORDER)
    prepared = fit(parsed, {"id": 7, "qty": 2, "state": "PAID"}, ("avro",))
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, prepared)
    back = fastavro.schemaless_reader(io.BytesIO(out.getvalue()), parsed, None)
    assert to_json(back) == {"id": 7, "qty": 2, "note": None, "items": [], "state": "PAID"}


def test_logical_types_take_and_give_the_same_json_forms() -> None:
    """Timestamps, dates, decimals, UUIDs and bytes read back in the form a step writes."""
    schema = {
        "type": "record",
        "name": "L",
        "fields": [
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {
                "name": "price",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
            {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "raw", "type": "bytes"},
        ],
    }
    value = {
        "at": "2026-01-02T03:04:05.678000+00:00",
        "day": "2026-01-31",
        "price": "12.50",
        "uid": "1c9c4f8e-8f0f-4d47-9a0e-0f0f0f0f0f0f",
        "raw": "\x00\xff",
    }
    parsed = fastavro.parse_schema(schema)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, fit(parsed, value, ("avro",)))
    back = to_json(fastavro.schemaless_reader(io.BytesIO(out.getvalue()), parsed, None))
    assert back == value
    with pytest.raises(Mismatch, match=r"avro.price: expected a decimal with at most 2 digits"):
        fit(parsed, {**value, "price": "1.005"}, ("avro",))


# the local registry -------------------------------------------------------------------
def _post(store: SchemaStore, path: str, body: Any) -> tuple[int, Any]:
    return store.handle("POST", path.strip("/").split("/"), {}, json.dumps(body).encode())


def _get(store: SchemaStore, path: str, **query: str) -> tuple[int, Any]:
    return store.handle("GET", path.strip("/").split("/"), query, b"")


AVRO_TEXT = json.dumps({"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]})


def test_one_schema_has_one_id_across_subjects_and_versions_count_per_subject() -> None:
    """Registering is idempotent per subject; the same text under another subject gets
    the same global id; a new schema is version 2 of its subject."""
    store = SchemaStore()
    assert _post(store, "subjects/a-value/versions", {"schema": AVRO_TEXT}) == (200, {"id": 1})
    assert _post(store, "subjects/a-value/versions", {"schema": AVRO_TEXT}) == (200, {"id": 1})
    assert _post(store, "subjects/b-value/versions", {"schema": AVRO_TEXT}) == (200, {"id": 1})
    other = {"schema": '{"type": "object"}', "schemaType": "JSON"}
    assert _post(store, "subjects/a-value/versions", other) == (200, {"id": 2})
    assert _get(store, "subjects/a-value/versions") == (200, [1, 2])
    status, latest = _get(store, "subjects/a-value/versions/latest")
    assert status == 200
    assert latest == {
        "subject": "a-value",
        "version": 2,
        "id": 2,
        "schema": '{"type":"object"}',
        "schemaType": "JSON",
    }
    assert _get(store, "schemas/ids/1") == (
        200,
        {"schema": json.dumps(json.loads(AVRO_TEXT), separators=(",", ":"))},
    )
    assert _get(store, "subjects") == (200, ["a-value", "b-value"])
    assert _get(store, "schemas/ids/1/versions") == (
        200,
        [{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}],
    )
    status, found = _post(store, "subjects/b-value", {"schema": AVRO_TEXT})
    assert (status, found["id"], found["version"]) == (200, 1, 1)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "subjects/nope/versions", None, 404, 40401),
        ("GET", "subjects/a/versions/9", None, 404, 40402),
        ("GET", "subjects/a/versions/zero", None, 422, 42202),
        ("GET", "schemas/ids/99", None, 404, 40403),
        ("POST", "subjects/a", {"schema": '{"type": "string"}'}, 404, 40403),
        ("POST", "subjects/a/versions", {"schema": '{"type": "nope"}'}, 422, 42201),
        ("POST", "subjects/a/versions", {"schema": "not json"}, 422, 42201),
        (
            "POST",
            "subjects/a/versions",
            {"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"},
            422,
            42201,
        ),
        (
            "POST",
            "subjects/a/versions",
            {"schema": '"int"', "references": [{"name": "x", "subject": "y", "version": 1}]},
            422,
            42201,
        ),
        ("PUT", "config", {"compatibility": "BACKWARD"}, 422, 42203),
        ("PUT", "config", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("GET", "config/a", None, 404, 40408),
        ("PATCH", "subjects", None, 405, 405),
        ("GET", "nothing/here", None, 404, 404),
    ],
)
def test_errors_carry_confluents_error_codes(
    method: str, path: str, body: Any, status: int, code: int
) -> None:
    """Each documented error answers with Confluent's HTTP status and error_code."""
    store = SchemaStore()
    _post(store, "subjects/a/versions", {"schema": AVRO_TEXT})
    raw = b"" if body is None else json.dumps(body).encode()
    got_status, got = store.handle(method, path.split("/"), {}, raw)
    assert (got_status, got["error_code"]) == (status, code), got
    assert got["message"]


def test_compatibility_is_none_and_every_schema_is_compatible() -> None:
    """The level reads NONE globally and per subject with defaultToGlobal; NONE can be
    set; a compatibility test answers true."""
    store = SchemaStore()
    _post(store, "subjects/a/versions", {"schema": AVRO_TEXT})
    assert _get(store, "config") == (200, {"compatibilityLevel": "NONE"})
    assert _get(store, "config/a", defaultToGlobal="true") == (200, {"compatibilityLevel": "NONE"})
    assert store.handle("PUT", ["config", "a"], {}, b'{"compatibility": "none"}') == (
        200,
        {"compatibility": "NONE"},
    )
    assert _post(store, "compatibility/subjects/a/versions/latest", {"schema": '"string"'}) == (
        200,
        {"is_compatible": True},
    )


def test_soft_then_permanent_delete_of_a_subject() -> None:
    """A soft-deleted subject is hidden (but listed with deleted=true) and its schema id
    still resolves; a permanent delete needs the soft one first."""
    store = SchemaStore()
    _post(store, "subjects/a/versions", {"schema": AVRO_TEXT})
    permanent = {"permanent": "true"}
    assert store.handle("DELETE", ["subjects", "a"], permanent, b"")[1]["error_code"] == 40405
    assert store.handle("DELETE", ["subjects", "a"], {}, b"") == (200, [1])
    assert _get(store, "subjects") == (200, [])
    assert _get(store, "subjects", deleted="true") == (200, ["a"])
    assert _get(store, "schemas/ids/1")[0] == 200
    assert _post(store, "subjects/a/versions", {"schema": '"string"'}) == (200, {"id": 2})
    assert _get(store, "subjects/a/versions") == (200, [2])


def test_the_server_splits_the_path_before_unquoting_a_subject() -> None:
    """A subject with an encoded '/' is one path segment; a /schema endpoint answers with
    the schema text itself."""
    store = SchemaStore()
    body = json.dumps({"schema": AVRO_TEXT}).encode()
    made = answer(store, "POST", "/subjects/team%2Forders-value/versions?normalize=false", body)
    assert made == (200, b'{"id": 1}')
    status, text = answer(store, "GET", "/subjects/team%2Forders-value/versions/1/schema", b"")
    assert (status, json.loads(text)) == (200, json.loads(AVRO_TEXT))
    assert store.subjects.keys() == {"team/orders-value"}
