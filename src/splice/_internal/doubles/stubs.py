"""The stub store: priorities, the tie rule, sequences and scenario states.

Order of matching: the lowest `priority` number first (default 5, as in WireMock); among
equal priorities the stub added last wins, so a stub a suite adds at run time overrides a
stub of the same priority loaded from a file, and in one file a later stub overrides an
earlier one. Stubs with an exact `path` are indexed by it, so a mock with thousands of
recorded stubs still looks at a handful per request.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.matching import RequestMatcher
from splice._internal.doubles.model import ResponseSpec, ScenarioSpec, StubSpec
from splice._internal.doubles.responses import Answer

STARTED = "Started"
_CACHE_LIMIT = 4096
_EMPTY = ResponseSpec()


class Stub:
    """A compiled stub and its counters."""

    __slots__ = (
        "answers",
        "cycle",
        "hits",
        "id",
        "index",
        "matcher",
        "priority",
        "scenario",
        "seq",
        "source",
        "spec",
    )

    def __init__(self, spec: StubSpec, seq: int, base_dir: Path | None, source: str | None):
        self.spec = spec
        self.id = spec.id or uuid.uuid4().hex[:12]
        self.priority = spec.priority
        self.seq = seq
        self.source = source
        self.matcher = RequestMatcher(spec.request)
        responses = spec.responses or [spec.response or _EMPTY]
        self.answers = [Answer(r, base_dir) for r in responses]
        self.cycle = spec.cycle
        self.scenario: ScenarioSpec | None = spec.scenario
        self.hits = 0
        self.index = 0

    @property
    def label(self) -> str:
        return self.spec.name or self.id

    def next_answer(self) -> Answer:
        answers = self.answers
        if len(answers) == 1:
            return answers[0]
        i = self.index
        self.index += 1
        return answers[i % len(answers)] if self.cycle else answers[min(i, len(answers) - 1)]

    def summary(self) -> dict[str, Any]:
        out = self.spec.model_dump(by_alias=True, exclude_unset=True)
        out.update(id=self.id, hits=self.hits)
        if self.source:
            out["source"] = self.source
        return out


class StubStore:
    """All stubs of one mock, in matching order."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.base_dir = base_dir
        self._seq = itertools.count()
        self._stubs: dict[str, Stub] = {}
        self._by_path: dict[str, list[Stub]] = {}
        self._general: list[Stub] = []
        self._cache: dict[str, list[Stub]] = {}
        self.scenarios: dict[str, str] = {}

    # changes -------------------------------------------------------------------------
    def add(self, spec: StubSpec, source: str | None = None) -> Stub:
        """Compile and add a stub (replacing one with the same id); ValueError if invalid."""
        stub = Stub(spec, next(self._seq), self.base_dir, source)
        old = self._stubs.pop(stub.id, None)
        if old is not None:
            self._unindex(old)
        self._stubs[stub.id] = stub
        if stub.matcher.exact_path is not None:
            self._by_path.setdefault(stub.matcher.exact_path, []).append(stub)
        else:
            self._general.append(stub)
        self._cache.clear()
        if stub.scenario is not None:
            self.scenarios.setdefault(stub.scenario.name, STARTED)
        return stub

    def find_stub(self, key: str) -> Stub | None:
        """A stub by id, or else by name (the last added of that name)."""
        if key in self._stubs:
            return self._stubs[key]
        named = [s for s in self._stubs.values() if s.spec.name == key]
        return max(named, key=lambda s: s.seq) if named else None

    def remove(self, key: str) -> Stub | None:
        stub = self.find_stub(key)
        if stub is not None:
            del self._stubs[stub.id]
            self._unindex(stub)
        return stub

    def replace(self, key: str, spec: StubSpec) -> Stub | None:
        """Put `spec` in place of the stub `key` (it keeps that stub's id, and its name
        unless `spec` has one)."""
        old = self.find_stub(key)
        if old is None:
            return None
        spec = spec.model_copy(update={"id": old.id, "name": spec.name or old.spec.name})
        return self.add(spec, old.source)

    def clear(self) -> None:
        self._stubs.clear()
        self._by_path.clear()
        self._general.clear()
        self._cache.clear()
        self.scenarios.clear()

    def _unindex(self, stub: Stub) -> None:
        path = stub.matcher.exact_path
        bucket = self._by_path.get(path) if path is not None else self._general
        if bucket is not None and stub in bucket:
            bucket.remove(stub)
            if path is not None and not bucket:
                del self._by_path[path]
        self._cache.clear()

    # matching ------------------------------------------------------------------------
    def candidates(self, path: str) -> list[Stub]:
        found = self._cache.get(path)
        if found is None:
            found = sorted(
                [*self._by_path.get(path, ()), *self._general],
                key=lambda s: (s.priority, -s.seq),
            )
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[path] = found
        return found

    def find(self, request: Incoming) -> Stub | None:
        """The stub that answers `request`, or None."""
        scenarios = self.scenarios
        for stub in self.candidates(request.path):
            scenario = stub.scenario
            if (
                scenario is not None
                and scenario.state is not None
                and scenarios.get(scenario.name, STARTED) != scenario.state
            ):
                continue
            if stub.matcher.match(request):
                return stub
        return None

    def answered(self, stub: Stub) -> Answer:
        """Count the hit, pick the response and move the stub's scenario on."""
        stub.hits += 1
        answer = stub.next_answer()
        scenario = stub.scenario
        if scenario is not None and scenario.next is not None:
            self.scenarios[scenario.name] = scenario.next
        return answer

    def all(self) -> list[Stub]:
        """Every stub in matching order."""
        return sorted(self._stubs.values(), key=lambda s: (s.priority, -s.seq))

    def __len__(self) -> int:
        return len(self._stubs)
