"""The `mock` executor: change a mock's stubs and verify what it received.

- mock:
    service: payments
    reset: true                                  # file stubs only, empty journal
    stub:
      request: {method: POST, path: /v1/charges}
      response: {status: 402, json: {error: card_declined}}
- http: {post: "{{ services.app.url }}/checkout", json: {amount: 42}}
- mock:
    service: payments
    verify: {method: POST, path: /v1/charges}
  expect: {count: 1, request: {json: {amount: 42}}}

Actions run in a fixed order: reset, remove, add (`stub`, `stubs`, `file`), replace,
scenarios, then the queries (`verify`, `journal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from splice._internal.doubles.client import MockAdminError, MockClient
from splice._internal.doubles.files import StubFileError, load_stub_file
from splice._internal.doubles.model import RequestSpec, StubSpec
from splice._internal.errors import StepError
from splice._internal.executors.executor_api import Block, StepContext, StepOutput
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError, did_you_mean

_ACTIONS = ("reset", "remove", "stub", "stubs", "file", "replace", "scenarios", "verify")
_QUERIES = ("verify", "journal")
_DEFAULT_TIMEOUT = 10.0


class MockBlock(Block):
    service: str | None = None
    url: str | None = None
    reset: bool | list[Literal["stubs", "journal", "scenarios"]] | None = None
    remove: str | list[str] | None = None
    stub: StubSpec | None = None
    stubs: list[StubSpec] | None = None
    file: str | list[str] | None = None
    replace: dict[str, StubSpec] | None = None
    scenarios: dict[str, str] | None = None
    verify: RequestSpec | None = None
    journal: bool | Literal["unmatched"] | None = None
    limit: int = 100
    timeout: str | float | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> MockBlock:
        given = [k for k in (*_ACTIONS, "journal") if getattr(self, k) not in (None, False)]
        if not given:
            raise HintedValueError(
                "the mock step does nothing",
                "give one of reset, stub, stubs, file, replace, remove, scenarios, verify, journal",
            )
        if self.verify is not None and self.journal:
            raise HintedValueError(
                "give `verify` (matching requests) or `journal` (all of them), not both"
            )
        return self


class MockExecutor:
    """Adds, replaces and removes stubs, sets scenarios, and reads the request journal."""

    name: ClassVar[str] = "mock"
    block_model: ClassVar[type[MockBlock]] = MockBlock
    result_fields: ClassVar[dict[str, str]] = {
        "ids": "ids of the stubs this step added or replaced",
        "count": "with verify: how many received requests matched",
        "requests": "with verify: the matching requests; with journal: every request",
        "request": "the last of `requests` (null when there is none)",
        "near_misses": "with verify and no match: the nearest requests and how they differ",
        "scenarios": "state of every scenario after the step",
        "total": "requests the journal counted since the last reset",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        actions = [k for k in (*_ACTIONS, "journal") if block.get(k) not in (None, False)]
        where = block.get("service") or block.get("url") or "mock"
        return f"mock {where}: {', '.join(actions) or 'nothing'}"

    def execute(self, block: MockBlock, ctx: StepContext) -> StepOutput:
        url, name = _target(ctx, block.service, block.url)
        timeout = parse_duration(block.timeout) if block.timeout is not None else ctx.timeout
        client = MockClient(url, timeout=timeout or _DEFAULT_TIMEOUT)
        result: dict[str, Any] = dict.fromkeys(self.result_fields)
        request: dict[str, Any] = {"mock": name or url}
        try:
            self._change(block, ctx, client, result, request)
            if block.verify is not None or block.journal or block.scenarios is not None:
                self._query(block, client, result, request)
        except MockAdminError as exc:
            raise _step_error(exc, name or url) from exc
        response = {k: v for k, v in result.items() if v is not None}
        return StepOutput(result, request, response)

    def _change(
        self,
        block: MockBlock,
        ctx: StepContext,
        client: MockClient,
        result: dict[str, Any],
        request: dict[str, Any],
    ) -> None:
        if block.reset:
            parts = set(block.reset) if isinstance(block.reset, list) else None
            client.reset(
                stubs=parts is None or "stubs" in parts,
                journal=parts is None or "journal" in parts,
                scenarios=parts is None or "scenarios" in parts,
            )
            request["reset"] = sorted(parts) if parts else True
        for key in [block.remove] if isinstance(block.remove, str) else block.remove or []:
            client.remove(key)
            request.setdefault("removed", []).append(key)
        stubs = [s.model_dump(by_alias=True, exclude_unset=True) for s in _stubs(block)]
        stubs += _file_stubs(block.file, ctx.base_dir)
        ids: list[str] = []
        if stubs:
            ids += client.add(*stubs)
            request["stubs"] = stubs
        for key, spec in (block.replace or {}).items():
            ids.append(client.replace(key, spec.model_dump(by_alias=True, exclude_unset=True)))
            request.setdefault("replaced", []).append(key)
        if ids:
            result["ids"] = ids
        for scenario, state in (block.scenarios or {}).items():
            client.set_scenario(scenario, state)
            request.setdefault("scenarios", {})[scenario] = state

    def _query(
        self,
        block: MockBlock,
        client: MockClient,
        result: dict[str, Any],
        request: dict[str, Any],
    ) -> None:
        found: dict[str, Any] | None = None
        if block.verify is not None:
            pattern = block.verify.model_dump(by_alias=True, exclude_unset=True)
            request["verify"] = pattern
            found = client.find(pattern, limit=block.limit)
            result["count"] = found["count"]
            misses = found.get("near_misses")
            result["near_misses"] = [_miss(m) for m in misses] if misses is not None else None
        elif block.journal:
            unmatched = block.journal == "unmatched"
            request["journal"] = "unmatched" if unmatched else True
            found = client.journal(limit=block.limit, unmatched=unmatched)
        if found is not None:
            if found.get("dropped"):
                raise StepError(
                    f"the mock's journal keeps the last {found['journal_size']} requests and "
                    f"has dropped {found['dropped']} since the last reset, so it cannot "
                    "count them all",
                    "raise the service's `journal_size`, or reset the mock at the start of "
                    "the testcase (`reset: true`, or `isolation: reset` on the service)",
                )
            requests = [_plain(r) for r in found["requests"]]
            result["requests"] = requests
            result["request"] = requests[-1] if requests else None
            result["total"] = found["total"]
        result["scenarios"] = client.scenarios()


def _stubs(block: MockBlock) -> list[StubSpec]:
    return ([block.stub] if block.stub is not None else []) + list(block.stubs or [])


def _file_stubs(files: str | list[str] | None, base: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in [files] if isinstance(files, str) else files or []:
        path = base / name
        if not path.is_file():
            raise StepError(
                f"stub file not found: {str(path)!r}", "paths are relative to the suite"
            )
        try:
            out += [s["stub"] for s in load_stub_file(path, base)]
        except StubFileError as exc:
            raise StepError(exc.message, exc.hint) from exc
    return out


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry as suites see it: what was sent, and which stub answered."""
    keys = ("method", "url", "path", "query", "headers", "body", "json", "stub", "stub_name")
    out = {k: entry.get(k) for k in keys}
    out["status"] = entry.get("status")
    out["time"] = entry.get("time")
    return out


def _miss(entry: dict[str, Any]) -> dict[str, Any]:
    """A near miss as one line per difference: short enough to read in a report."""
    return {
        "request": f"{entry.get('method')} {entry.get('url')}",
        "received": entry.get("seq"),
        "differences": [
            f"{d['part']}: expected {d['expected']}, got {d['actual']}"
            for d in entry.get("differences", [])
        ],
    }


def _target(ctx: StepContext, service: str | None, url: str | None) -> tuple[str, str | None]:
    if service is not None and url is not None:
        raise StepError("give either `service` or `url`, not both")
    if url is not None:
        return url, None
    services: Mapping[str, Any] = ctx.vars.get("services") or {}
    mocks = sorted(n for n, s in services.items() if isinstance(s, Mapping) and s.get("admin_url"))
    name = service
    if name is None:
        if len(mocks) != 1:
            raise StepError(
                "which mock? "
                + (
                    f"the project has {len(mocks)}: {', '.join(mocks)}"
                    if mocks
                    else "the project has no service of kind `mock`"
                ),
                "name one with `service: NAME`, or give `url:`",
            )
        name = mocks[0]
    found = services.get(name)
    if not isinstance(found, Mapping) or not found.get("url"):
        raise StepError(
            f"unknown service {name!r}",
            did_you_mean(name, services) or "services are declared in splice.yaml",
        )
    if not found.get("admin_url"):
        raise StepError(
            f"service {name!r} is not a mock",
            "the mock executor drives services of kind `mock`"
            + (f"; this project's: {', '.join(mocks)}" if mocks else ""),
        )
    return str(found["url"]), name


def _step_error(exc: MockAdminError, where: str) -> StepError:
    if exc.status is None:
        return StepError(exc.message, "is the mock service running? read its log")
    detail = "; ".join(exc.problems)
    message = f"mock {where}: {exc.message}" + (f": {detail}" if detail else "")
    if exc.status == 404:
        return StepError(message, "list the stubs with `journal`, or check the stub's name")
    return StepError(message, "check the stub against the mock's reference")
