"""Stub files (YAML or JSON) and WireMock mappings, read and checked in splice's process.

Checking here, before the mock starts, gives errors with the file, line and column of
the mistake (`mocks/pay.yaml:7:9: unknown key 'staus'`) instead of a failed start.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splice._internal.doubles.model import StubSpec
from splice._internal.doubles.stubs import Stub
from splice._internal.errors import SourceSpan, SuiteError


class StubFileError(ValueError):
    """A stub file that cannot be used; `message` names the place, `hint` the fix.

    When the place is known, `span` holds it and `problem` the message without it (for a
    located error of `splice check`)."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        span: SourceSpan | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.span = span
        self.problem = problem or message


def expand(patterns: list[str], root: Path, what: str) -> list[Path]:
    """Files matching glob patterns relative to `root`; an error for a pattern that
    matches nothing (a typo would otherwise silently give a mock without stubs)."""
    files: list[Path] = []
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        found = sorted(glob.glob(full, recursive=True))  # noqa: PTH207 - recursive ** globs
        if not found:
            raise StubFileError(
                f"no {what} file matches {pattern!r}", f"paths are relative to {root}"
            )
        files += [Path(f) for f in found if Path(f).is_file()]
    return files


def load_stub_file(path: Path, root: Path) -> list[dict[str, Any]]:
    """The stubs of one splice stub file, checked, as `{"stub": ..., "source": ...}`."""
    from splice._internal.source.validation import from_validation_error
    from splice._internal.source.yaml_source import read_yaml

    try:
        doc = read_yaml(path)
    except SuiteError as exc:
        raise _from_suite_error(exc, root) from exc
    data = doc.data
    wiremock = _wiremock_key(data)
    if wiremock is not None:
        span = doc.positions.key(wiremock) or SourceSpan(path, 1, 1)
        problem = f"{_rel(path, root)} is a WireMock mapping file, not a splice stub file"
        raise StubFileError(
            f"{_span(span, root)}: {problem}",
            "list it under the service's `wiremock:` instead of `stubs:`, e.g. "
            f"`wiremock: [{_rel(path, root)}]`",
            span,
            problem,
        )
    prefix: tuple[str, ...] | None
    if isinstance(data, list):
        items, prefix = data, ()
    elif isinstance(data, dict) and set(data) == {"stubs"} and isinstance(data["stubs"], list):
        items, prefix = data["stubs"], ("stubs",)
    elif isinstance(data, dict):
        items, prefix = [data], None
    elif data is None:
        return []
    else:
        raise StubFileError(
            f"{_rel(path, root)}: expected a list of stubs or a mapping",
            "write `- request: ...` items, or `stubs:` with a list",
        )
    out = []
    for i, raw in enumerate(items):
        loc = (*prefix, i) if prefix is not None else ()
        where = (doc.positions.key(loc) if loc else None) or SourceSpan(path, 1, 1)
        try:
            spec = StubSpec.model_validate(raw)
        except ValidationError as exc:
            diags = from_validation_error(exc, StubSpec, doc.positions, loc, data=raw)
            first = diags[0]
            span = first.span or where
            raise StubFileError(
                f"{_span(span, root)}: {first.message}", first.hint, span, first.message
            ) from exc
        out.append(checked(spec, path.parent, f"{_span(where, root)}", where))
    return out


# keys only WireMock's mapping format has (splice's stubs share `request`, `response`, `url`)
_WIREMOCK_TOP = ("mappings", "scenarioName", "requiredScenarioState", "newScenarioState", "uuid")
_WIREMOCK_REQUEST = (
    "urlPath",
    "urlPattern",
    "urlPathPattern",
    "urlPathTemplate",
    "bodyPatterns",
    "queryParameters",
)
_WIREMOCK_RESPONSE = ("jsonBody", "bodyFileName", "base64Body", "fixedDelayMilliseconds")


def _wiremock_key(data: Any) -> tuple[str | int, ...] | None:
    """Where a stub file shows that it is WireMock's mapping format (the first such key),
    or None."""
    items: list[tuple[tuple[str | int, ...], Any]] = (
        [((i,), item) for i, item in enumerate(data)] if isinstance(data, list) else [((), data)]
    )
    for loc, item in items:
        if not isinstance(item, dict):
            continue
        for key in _WIREMOCK_TOP:
            if key in item:
                return (*loc, key)
        for part, keys in (("request", _WIREMOCK_REQUEST), ("response", _WIREMOCK_RESPONSE)):
            inner = item.get(part)
            if isinstance(inner, dict):
                for key in keys:
                    if key in inner:
                        return (*loc, part, key)
    return None


def checked(
    spec: StubSpec, base_dir: Path, source: str, span: SourceSpan | None = None
) -> dict[str, Any]:
    """Compile the stub once (regexes, templates, schemas, body files) and return it as
    data for the server, with body files made absolute."""
    try:
        Stub(spec, 0, base_dir, source)
    except ValueError as exc:
        problem = f"stub {spec.label()!r}: {exc}"
        hint = getattr(exc, "hint", None) or "fix the stub; the message says what"
        raise StubFileError(f"{source}: {problem}", hint, span, problem) from exc
    data = spec.model_dump(by_alias=True, exclude_unset=True)
    for response in [data.get("response"), *(data.get("responses") or [])]:
        if response and response.get("file") and not Path(response["file"]).is_absolute():
            response["file"] = str((base_dir / response["file"]).resolve())
    return {"stub": data, "source": source}


def load_wiremock_file(path: Path, root: Path) -> list[dict[str, Any]]:
    """The stubs of one WireMock mapping file (one mapping or `{"mappings": [...]}`)."""
    from splice._internal.doubles.wiremock import WireMockError, convert

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StubFileError(f"cannot read {_rel(path, root)}: {exc.strerror}") from exc
    except ValueError as exc:
        raise StubFileError(f"{_rel(path, root)}: not valid JSON: {exc}") from exc
    mappings = data.get("mappings", [data]) if isinstance(data, dict) else data
    if not isinstance(mappings, list):
        raise StubFileError(f"{_rel(path, root)}: expected a mapping or `mappings: [...]`")
    files_dir = path.parent.parent / "__files"  # WireMock's layout: mappings/ and __files/
    out = []
    for i, mapping in enumerate(mappings):
        source = f"{_rel(path, root)}#{i + 1}"
        try:
            raw = convert(mapping)
            spec = StubSpec.model_validate(raw)
        except WireMockError as exc:
            raise StubFileError(f"{source}: {exc}", exc.hint) from exc
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise StubFileError(
                f"{source}: converted mapping is invalid at "
                f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}"
            ) from exc
        out.append(checked(spec, files_dir if files_dir.is_dir() else path.parent, source))
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _span(span: SourceSpan, root: Path) -> str:
    return f"{_rel(span.path, root)}:{span.line}:{span.column}"


def _from_suite_error(exc: SuiteError, root: Path) -> StubFileError:
    diag = exc.diagnostics[0] if exc.diagnostics else None
    if diag is None:
        return StubFileError(str(exc))
    where = f"{_span(diag.span, root)}: " if diag.span else ""
    return StubFileError(f"{where}{diag.message}", diag.hint, diag.span, diag.message)
