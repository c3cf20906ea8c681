"""OpenAPI documents (3.0/3.1) as contracts: requests and responses checked against the
operation they hit, with openapi-core (schemas, parameters, status codes, content types).

- `OpenApiContract.load(path)` reads and validates the document (openapi-spec-validator
  through openapi-core); a document that does not validate is a located error (line and
  column in the YAML or JSON file) with the validator's reason.
- `check_request` / `check_response` return `Mismatch`es in splice's diff style
  (`response body.amount: '12.50' is not of type 'number'`); an unknown path or method and
  an undocumented status are mismatches too.

`splice contract check-openapi SPEC PACT...` checks each interaction of a pact against
the provider's document (a bi-directional contract), and a `mock` service with
`openapi: SPEC` checks each stub's response against it when the mock starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from splice._internal.contracts.problems import Mismatch, show_path
from splice._internal.errors import SourceSpan, SuiteError


def _require() -> Any:
    try:
        import openapi_core
    except ImportError:
        raise SuiteError.single(
            "checking against OpenAPI needs openapi-core",
            None,
            "pip install 'splice[openapi]'",
        ) from None
    return openapi_core


class OpenApiContract:
    """A provider's OpenAPI document, ready to check exchanges against."""

    def __init__(self, spec: Any, path: Path) -> None:
        self.spec = spec
        self.path = path

    @classmethod
    def load(cls, path: Path) -> OpenApiContract:
        from splice._internal.source.yaml_source import read_yaml

        openapi_core = _require()
        doc = read_yaml(path)  # located YAML (and JSON) errors come from the loader
        if not isinstance(doc.data, dict):
            raise SuiteError.single(
                "an OpenAPI document must be a mapping",
                doc.positions.value(()) or SourceSpan(path, 1, 1),
                "start it with `openapi: 3.1.0`",
            )
        try:
            spec = openapi_core.OpenAPI.from_dict(doc.data)
        except Exception as exc:  # noqa: BLE001 - the validator's errors have no common base
            where = tuple(getattr(exc, "path", ()) or ())
            span = None
            for n in range(len(where), -1, -1):
                span = doc.positions.value(where[:n])
                if span is not None:
                    break
            reason = str(getattr(exc, "message", exc)).splitlines()[0]
            raise SuiteError.single(
                f"the OpenAPI document does not validate: {reason}",
                span or SourceSpan(path, 1, 1),
                "fix the document (OpenAPI 3.0 or 3.1)",
            ) from None
        return cls(spec, path)

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, list[str]] | None,
        headers: Mapping[str, str] | None,
        body: Any,
        content_type: str | None,
    ) -> Any:
        from openapi_core.testing import MockRequest

        data = _bytes(body)
        args = {k: v[0] for k, v in (query or {}).items() if v}
        return MockRequest(
            "http://provider",
            method.lower(),
            path,
            args=args,
            headers=dict(headers or {}),
            data=data,
            content_type=content_type or "application/json",
        )

    def check_request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> list[Mismatch]:
        request = self._request(
            method, path, query=query, headers=headers, body=body, content_type=content_type
        )
        return [
            m for e in self.spec.iter_request_errors(request) for m in _mismatches("request", e)
        ]

    def check_response(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> list[Mismatch]:
        from openapi_core.testing import MockResponse

        request = self._request(
            method, path, query=None, headers=None, body=None, content_type=None
        )
        response = MockResponse(
            _bytes(body) or b"",
            status,
            headers=dict(headers or {}),
            content_type=content_type or "application/json",
        )
        found = []
        for error in self.spec.iter_response_errors(request, response):
            found.extend(_mismatches("response", error))
        return found


def _bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _mismatches(side: str, error: Exception) -> list[Mismatch]:
    """openapi-core's error as mismatches at their paths (`response body.amount`)."""
    name = type(error).__name__
    if name == "PathNotFound":
        return [Mismatch(f"{side} path", "no operation of the OpenAPI document has this path")]
    if name in ("OperationNotFound",):
        return [Mismatch(f"{side} method", "the OpenAPI document has no such method here")]
    if name == "ResponseNotFound":
        return [Mismatch(f"{side} status", f"not documented by the operation: {error}")]
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    if schema_errors:
        where = f"{side} body" if "Body" in name or "Data" in name else f"{side}"
        return [
            Mismatch(show_path(where, tuple(e.absolute_path)), str(e.message))
            for e in schema_errors
        ]
    return [Mismatch(side, str(cause or error).splitlines()[0])]
