"""Avro values of kafka steps: a step's JSON value checked against a schema and made
ready for fastavro, and a decoded value turned back into JSON.

fastavro writes and reads Avro's binary encoding; what it does not do is say which part
of a value is wrong ("an integer is required on field id" names neither the path nor
the schema's type, and it ignores fields the schema does not have). So the value is
walked here first, with the schema: a mismatch is a `Mismatch` naming its path
(`avro.items[1].qty`), the type the schema expects and what was found.

The JSON forms, the same both ways (what a consume shows is what a produce accepts):
a union's value is written plainly (the first branch it fits is taken); bytes and fixed
are text of code points 0-255 (Avro's JSON encoding); decimals are text ("12.50") or
numbers; timestamps and dates ISO 8601 text (`2026-01-02T03:04:05.678+00:00`,
`2026-01-02`) or the numbers Avro stores; UUIDs text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

from splice._internal.source.validation import did_you_mean

_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
_NAMES = {
    "null": "null",
    "boolean": "a boolean",
    "int": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "bytes": "text",
    "string": "text",
}


class Mismatch(ValueError):
    """A value that does not fit its schema: where, and what is wrong there."""

    def __init__(self, path: ValuePath, detail: str, *, at_key: bool = False) -> None:
        super().__init__(f"{dotted(path)}: {detail}")
        self.path = path
        self.detail = detail
        self.at_key = at_key  # the last part of the path is a key that should not be there


ValuePath = tuple[str | int, ...]


def dotted(path: ValuePath) -> str:
    """A path as steps write it: `messages[0].avro.items[1].sku`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _expected(path: ValuePath, expected: str, value: Any) -> Mismatch:
    return Mismatch(path, f"expected {expected}, got {_shown(value)}")


def fit(schema: Any, value: Any, path: ValuePath) -> Any:
    """`value` as fastavro writes it for `schema` (parsed by fastavro.parse_schema);
    Mismatch when it does not fit."""
    return _fit(
        schema, value, path, schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    )


def _fit(schema: Any, value: Any, path: ValuePath, named: Mapping[str, Any]) -> Any:
    if isinstance(schema, list):
        return _union(schema, value, path, named)
    if isinstance(schema, str):
        if schema in _NAMES:
            return _primitive(schema, value, path)
        return _fit(named[schema], value, path, named)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical is not None:
        converted = _logical(logical, schema, value, path)
        if converted is not _NOT_LOGICAL:
            return converted
    if kind == "record":
        return _record(schema, value, path, named)
    if kind == "enum":
        if not isinstance(value, str) or value not in schema["symbols"]:
            symbols = ", ".join(schema["symbols"])
            raise _expected(path, f"one of the symbols of enum {schema['name']}: {symbols}", value)
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise _expected(path, "an array", value)
        return [_fit(schema["items"], item, (*path, i), named) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _expected(path, "a map (an object)", value)
        return {k: _fit(schema["values"], v, (*path, k), named) for k, v in value.items()}
    if kind == "fixed":
        raw = _latin1(value, path, f"{schema['size']} bytes (fixed {schema['name']})")
        if len(raw) != schema["size"]:
            raise Mismatch(
                path, f"expected {schema['size']} bytes (fixed {schema['name']}), got {len(raw)}"
            )
        return raw
    if kind in _NAMES:
        return _primitive(kind, value, path)
    return _fit(kind, value, path, named)  # a named type written as {"type": "shop.Item"}


def _record(
    schema: Mapping[str, Any], value: Any, path: ValuePath, named: Mapping[str, Any]
) -> Any:
    name = schema["name"]
    if not isinstance(value, dict):
        raise _expected(path, f"an object (record {name})", value)
    fields = {f["name"]: f for f in schema["fields"]}
    for key in value:
        if key not in fields:
            hint = did_you_mean(key, list(fields))
            raise Mismatch(
                (*path, key),
                f"record {name} has no field {key!r}" + (f"; {hint}" if hint else ""),
                at_key=True,
            )
    out = {}
    for field_name, spec in fields.items():
        if field_name in value:
            out[field_name] = _fit(spec["type"], value[field_name], (*path, field_name), named)
        elif "default" not in spec:
            raise Mismatch(
                (*path, field_name),
                f"missing: the field ({_type_name(spec['type'])}) has no default",
            )
    return out


def _union(branches: list[Any], value: Any, path: ValuePath, named: Mapping[str, Any]) -> Any:
    inside: list[Mismatch] = []
    for branch in branches:
        try:
            return _fit(branch, value, path, named)
        except Mismatch as exc:
            if exc.path != path:  # it got inside this branch: its own error says more
                inside.append(exc)
    if inside:
        raise inside[0]
    raise _expected(path, "one of " + ", ".join(_type_name(b) for b in branches), value)


def _primitive(kind: str, value: Any, path: ValuePath) -> Any:
    if kind == "null":
        ok = value is None
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in ("int", "long"):
        low, high = _INT if kind == "int" else _LONG
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not low <= value <= high:
            raise _expected(path, f"{kind} (from {low} to {high})", value)
    elif kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "bytes":
        return _latin1(value, path, "bytes (text of code points 0-255)")
    else:
        ok = isinstance(value, str)
    if not ok:
        raise _expected(path, kind, value)
    return value


_NOT_LOGICAL = object()
_TIMESTAMPS = frozenset(
    {"timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"}
)


def _logical(logical: str, schema: Mapping[str, Any], value: Any, path: ValuePath) -> Any:
    """A logical type's value as fastavro takes it, or _NOT_LOGICAL for one it does not
    know (Avro says to use the underlying type then)."""
    kind = schema["type"]
    if logical == "decimal" and kind in ("bytes", "fixed"):
        scale = int(schema.get("scale", 0))
        try:
            number = (
                decimal.Decimal(str(value))
                if isinstance(value, int | float | str) and not isinstance(value, bool)
                else None
            )
        except decimal.InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise _expected(path, f"a decimal (scale {scale}) as a number or text", value)
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > scale:
            raise _expected(path, f"a decimal with at most {scale} digits after the point", value)
        return number
    if logical in _TIMESTAMPS and kind == "long":
        if isinstance(value, str):
            try:
                stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise _expected(path, f"{logical}: ISO 8601 text or a number", value) from None
            if logical.startswith("local"):
                return stamp.replace(tzinfo=None)
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
        return _primitive("long", value, path)
    if logical == "date" and kind == "int":
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise _expected(
                    path, "a date: ISO 8601 text (2026-01-31) or days since 1970", value
                ) from None
        return _primitive("int", value, path)
    if logical in ("time-millis", "time-micros") and kind in ("int", "long"):
        if isinstance(value, str):
            try:
                return dt.time.fromisoformat(value)
            except ValueError:
                raise _expected(
                    path, f"{logical}: text (12:30:00.250) or a number", value
                ) from None
        return _primitive(kind, value, path)
    if logical == "uuid" and kind == "string":
        try:
            uuid.UUID(str(value))
        except ValueError:
            raise _expected(path, "a UUID", value) from None
        if not isinstance(value, str):
            raise _expected(path, "a UUID as text", value)
        return value
    return _NOT_LOGICAL


def _latin1(value: Any, path: ValuePath, expected: str) -> bytes:
    if not isinstance(value, str):
        raise _expected(path, expected, value)
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise Mismatch(path, f"expected {expected}, got text with characters past U+00FF") from None


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return " or ".join(_type_name(b) for b in schema)
    if schema.get("logicalType"):
        return f"{schema['logicalType']} ({schema['type']})"
    if schema["type"] in ("record", "enum", "fixed"):
        return f"{schema['type']} {schema['name']}"
    return str(schema["type"])


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "text",
        list: "an array",
        dict: "an object",
    }
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({kinds.get(type(value), type(value).__name__)})"


def to_json(value: Any) -> Any:
    """A value fastavro decoded, as JSON (the forms in the module's docstring)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value
