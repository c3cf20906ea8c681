"""The admin API, on the mock's own port under `/__splice/` (never matched by stubs,
never journaled). Used by the `mock` executor, by tests and by hand with curl.

    GET    /__splice/health                 {"status": "ok", "stubs": N}
    GET    /__splice/stubs                  every stub in matching order, with hit counts
    POST   /__splice/stubs[?base=true]      add: a stub, a list, or {"stubs": [...]}; with
                                            base=true they survive resets
    DELETE /__splice/stubs                  remove every stub (a reset brings the files back)
    GET    /__splice/stubs/KEY              one stub by id or name
    PUT    /__splice/stubs/KEY              replace it (keeps its id)
    DELETE /__splice/stubs/KEY              remove it
    POST   /__splice/reset                  {"stubs", "journal", "scenarios"}: all true by default
    GET    /__splice/scenarios              {"scenarios": {NAME: STATE}}
    PUT    /__splice/scenarios/NAME         {"state": "Paid"}
    GET    /__splice/journal?limit=&unmatched=true
    DELETE /__splice/journal
    POST   /__splice/journal/find           {"request": SPEC, "limit": 100}: count, requests,
                                            and the nearest requests when none matched
    POST   /__splice/near-misses            {"method", "url", "headers", "body"}: nearest stubs
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from pydantic import ValidationError

from splice._internal.doubles.http11 import Request, response_bytes
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.journal import Journal
from splice._internal.doubles.matching import RequestMatcher
from splice._internal.doubles.model import RequestSpec, StubSpec, stub_list
from splice._internal.doubles.nearmiss import nearest_requests, nearest_stubs
from splice._internal.doubles.recorder import Recorder
from splice._internal.doubles.stubs import STARTED, StubStore


class AdminTarget(Protocol):
    """What the admin API works on: the double's stubs, journal and recorder
    (`splice._internal.doubles.app.MockApp`, which serves the admin API under `PREFIX`)."""

    store: StubStore
    journal: Journal
    recorder: Recorder | None
    base: list[tuple[StubSpec, str | None]]
    exercised: dict[str, dict[str, Any]]  # the first exchange of each stub a request matched

    def restore(self) -> None:
        """Back to the stubs the double started with."""


PREFIX = "/__splice"
_FIND_LIMIT = 100


class AdminError(Exception):
    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


class Admin:
    """Routes of the admin API."""

    def __init__(self, app: AdminTarget) -> None:
        self.app = app

    def handle(self, request: Request) -> bytes:
        parts = [unquote(p) for p in request.path[len(PREFIX) :].split("/") if p]
        try:
            status, payload = self._route(request, parts)
        except AdminError as exc:
            status, payload = exc.status, {"error": exc.message, "problems": exc.problems}
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        return response_bytes(status, [("Content-Type", "application/json")], body)

    def _route(self, request: Request, parts: list[str]) -> tuple[int, Any]:
        method = request.method
        head = parts[0] if parts else "health"
        rest = parts[1:]
        app = self.app
        if head == "health" and method == "GET":
            return 200, {"status": "ok", "stubs": len(app.store), "journal": len(app.journal)}
        if head == "stubs":
            return self._stubs(request, rest)
        if head == "reset" and method == "POST":
            options = _json(request) or {}
            if options.get("stubs", True):
                app.restore()
            elif options.get("scenarios", True):
                for name in app.store.scenarios:
                    app.store.scenarios[name] = STARTED
            if options.get("journal", True):
                app.journal.clear()
            return 200, {"stubs": len(app.store)}
        if head == "scenarios":
            return self._scenarios(request, rest)
        if head == "journal":
            return self._journal(request, rest)
        if head == "secrets" and method == "POST":
            # the run's new secrets: recordings scrub them from now on (never shown back)
            values = (_json(request) or {}).get("values") or []
            if app.recorder is not None:
                app.recorder.declared.add_all([str(v) for v in values])
            return 200, {"secrets": len(app.recorder.declared.values) if app.recorder else 0}
        if head == "exercised" and method == "GET":  # for the pact of a `contract:` mock
            return 200, {"exercised": list(app.exercised.values())}
        if head == "near-misses" and method == "POST":
            return 200, {"near_misses": self._near_misses(_json(request) or {})}
        raise AdminError(404, f"no admin route {method} {request.path}")

    # stubs ---------------------------------------------------------------------------
    def _stubs(self, request: Request, rest: list[str]) -> tuple[int, Any]:
        store = self.app.store
        method = request.method
        if not rest:
            if method == "GET":
                return 200, {"stubs": [s.summary() for s in store.all()]}
            if method == "POST":
                specs = [_stub(raw, i) for i, raw in enumerate(stub_list(_json(request)))]
                added = [self._add(spec) for spec in specs]
                if parse_qs(request.query_string).get("base") == ["true"]:
                    # fixtures: kept by resets, like the stubs of the mock's files
                    self.app.base += [(spec, "fixtures") for spec in specs]
                return 201, {"ids": [s.id for s in added]}
            if method == "DELETE":
                store.clear()
                return 200, {"stubs": 0}
        elif len(rest) == 1:
            key = rest[0]
            if method == "GET":
                return 200, self._found(key).summary()
            if method == "PUT":
                spec = _stub(_json(request), 0)
                self._found(key)
                try:
                    stub = store.replace(key, spec)
                except ValueError as exc:
                    raise AdminError(400, str(exc)) from exc
                assert stub is not None
                return 200, {"id": stub.id}
            if method == "DELETE":
                self._found(key)
                store.remove(key)
                return 200, {"removed": key}
        raise AdminError(405, f"{method} is not allowed on {request.path}")

    def _add(self, spec: StubSpec) -> Any:
        try:
            return self.app.store.add(spec, "admin API")
        except ValueError as exc:
            raise AdminError(400, f"stub {spec.label()!r}: {exc}") from exc

    def _found(self, key: str) -> Any:
        stub = self.app.store.find_stub(key)
        if stub is None:
            raise AdminError(404, f"no stub with id or name {key!r}")
        return stub

    # scenarios -----------------------------------------------------------------------
    def _scenarios(self, request: Request, rest: list[str]) -> tuple[int, Any]:
        scenarios = self.app.store.scenarios
        if not rest and request.method == "GET":
            return 200, {"scenarios": dict(scenarios)}
        if len(rest) == 1 and request.method == "PUT":
            state = (_json(request) or {}).get("state")
            if not isinstance(state, str) or not state:
                raise AdminError(400, 'give the new state: {"state": "NAME"}')
            scenarios[rest[0]] = state
            return 200, {"scenario": rest[0], "state": state}
        raise AdminError(405, f"{request.method} is not allowed on {request.path}")

    # journal -------------------------------------------------------------------------
    def _journal(self, request: Request, rest: list[str]) -> tuple[int, Any]:
        journal = self.app.journal
        if not rest and request.method == "GET":
            query = parse_qs(request.query_string)
            limit = _int(query.get("limit", ["1000"])[0])
            entries = list(journal)
            if query.get("unmatched", ["false"])[0] in ("1", "true", "yes"):
                entries = [e for e in entries if e.stub is None]
            entries = entries[-limit:] if limit else []
            return 200, self._listing(entries, [self._shown(e) for e in entries])
        if not rest and request.method == "DELETE":
            journal.clear()
            return 200, {"total": 0}
        if rest == ["find"] and request.method == "POST":
            return 200, self._find(_json(request) or {})
        raise AdminError(405, f"{request.method} is not allowed on {request.path}")

    def _shown(self, entry: Any, **extra: Any) -> dict[str, Any]:
        described: dict[str, Any] = {**entry.as_dict(), **extra}
        recorder = self.app.recorder
        return recorder.scrub_entry(described) if recorder is not None else described

    def _listing(self, entries: list[Any], shown: list[Any]) -> dict[str, Any]:
        journal = self.app.journal
        return {
            "total": journal.total,
            "dropped": journal.dropped,
            "journal_size": journal.size,
            "requests": shown,
        }

    def _find(self, query: dict[str, Any]) -> dict[str, Any]:
        try:
            spec = RequestSpec.model_validate(query.get("request") or {})
        except ValidationError as exc:
            raise AdminError(400, "invalid request pattern", _problems(exc)) from exc
        matcher = RequestMatcher(spec)
        entries = list(self.app.journal)
        found = [e for e in entries if matcher.match(Incoming(e.request))]
        limit = _int(query.get("limit", _FIND_LIMIT))
        out = self._listing(found, [self._shown(e) for e in found[-limit:]] if limit else [])
        out["count"] = len(found)
        if not found and entries:
            out["near_misses"] = [
                self._shown(entry, differences=[d.as_dict() for d in miss.differences])
                for entry, miss in nearest_requests(matcher, entries)
            ]
        return out

    def _near_misses(self, described: dict[str, Any]) -> list[dict[str, Any]]:
        headers = {str(k).lower(): str(v) for k, v in (described.get("headers") or {}).items()}
        body = described.get("body", "")
        if "json" in described:
            body = json.dumps(described["json"])
            headers.setdefault("content-type", "application/json")
        request = Request(
            str(described.get("method", "GET")).upper(),
            str(described.get("url", "/")),
            headers,
            str(body).encode(),
            False,
        )
        app = self.app
        near = nearest_stubs(app.store.all(), Incoming(request), app.store.scenarios)
        return [n.as_dict() for n in near]


def _json(request: Request) -> Any:
    if not request.body.strip():
        return None
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise AdminError(400, f"the request body is not JSON: {exc}") from exc


def _stub(raw: Any, index: int) -> StubSpec:
    try:
        return StubSpec.model_validate(raw)
    except ValidationError as exc:
        raise AdminError(400, f"stub #{index + 1} is invalid", _problems(exc)) from exc


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError) as exc:
        raise AdminError(400, f"expected a number, got {value!r}") from exc
