"""JSON Schema validators (draft 2020-12 unless a schema names its own draft), for the
`$schema` matcher of `expect:` and the mock's `json_schema` request matcher.

jsonschema-rs is compiled (Rust) and an optional extra: a missing package or an invalid
schema is a ValueError whose message says what to do.
"""

from __future__ import annotations

import functools
import json
from typing import Any

INSTALL = "pip install 'splice[mock]'"


def compile_schema(schema: Any) -> Any:
    """A validator of `schema`; ValueError when jsonschema-rs is missing or the schema is
    invalid."""
    try:
        import jsonschema_rs
    except ImportError as exc:
        raise ValueError(f"JSON Schema checks need jsonschema-rs: {INSTALL}") from exc
    try:
        return jsonschema_rs.validator_for(schema)
    except Exception as exc:  # jsonschema-rs raises ValidationError or ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"invalid JSON schema: {first}") from exc


@functools.lru_cache(maxsize=256)
def _cached(text: str) -> Any:
    return compile_schema(json.loads(text))


def cached_validator(schema: Any) -> Any:
    """`compile_schema`, once per distinct schema (steps run the same one many times)."""
    return _cached(json.dumps(schema, sort_keys=True, default=str))
