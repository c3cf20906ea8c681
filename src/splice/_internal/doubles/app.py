"""The mock: stubs first, then the cassette (replay, then record), else a near-miss 404.

Everything runs on one event loop thread, so the store, the scenarios and the journal
need no locks.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from splice._internal.doubles.admin import PREFIX, Admin
from splice._internal.doubles.http11 import Connection, Reply, Request, response_bytes
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.journal import DEFAULT_BODY_LIMIT, DEFAULT_SIZE, Journal
from splice._internal.doubles.model import StubSpec
from splice._internal.doubles.nearmiss import log_line, nearest_stubs, report
from splice._internal.doubles.responses import MALFORMED_CHUNK, RANDOM_DATA, Answer
from splice._internal.doubles.stubs import StubStore

if TYPE_CHECKING:
    from splice._internal.doubles.recorder import Recorder


@dataclass
class MockConfig:
    """What the `mock` kind hands to the server process (as JSON)."""

    host: str = "127.0.0.1"
    port: int = 0
    stubs: list[dict[str, Any]] = field(default_factory=list)  # {"stub": {...}, "source": ...}
    base_dir: str | None = None
    journal_size: int = DEFAULT_SIZE
    journal_body_limit: int = DEFAULT_BODY_LIMIT
    unmatched_status: int = 404
    record: dict[str, Any] | None = None
    contract: bool = False  # remember each stub's first exchange, for a pact


class MockApp:
    """Dispatches every request; owns the stubs, the journal and the recorder."""

    def __init__(self, config: MockConfig, log: Any = None) -> None:
        self.config = config
        self.log = log or _print
        self.base_dir = Path(config.base_dir) if config.base_dir else None
        self.store = StubStore(self.base_dir)
        self.base: list[tuple[StubSpec, str | None]] = [
            (StubSpec.model_validate(s["stub"]), s.get("source")) for s in config.stubs
        ]
        self.journal = Journal(config.journal_size, config.journal_body_limit)
        self.recorder: Recorder | None = None
        if config.record:  # imported only when used: it brings YAML and, later, httpx
            from splice._internal.doubles.recorder import RecordConfig, Recorder

            self.recorder = Recorder(RecordConfig(**config.record), self.log)
        # stub -> its first exchange; kept across resets: a pact lists what the run used
        self.exercised: dict[str, dict[str, Any]] = {}
        self.admin = Admin(self)
        self._cassette_cache: tuple[int, list[Any]] = (-1, [])
        self.restore()

    def restore(self) -> None:
        """Back to the stubs the mock started with; scenarios back to `Started`."""
        self.store.clear()
        for spec, source in self.base:
            self.store.add(spec, source)

    def add_stub(self, raw: Any, source: str | None = None) -> Any:
        """Validate and add a stub given as data; ValidationError or ValueError if bad."""
        return self.store.add(StubSpec.model_validate(raw), source)

    # the hot path --------------------------------------------------------------------
    def handle(self, request: Request, conn: Connection) -> Reply:
        if request.path.startswith(PREFIX) and (
            len(request.path) == len(PREFIX) or request.path[len(PREFIX)] == "/"
        ):
            return self.admin.handle(request)
        view = Incoming(request)
        store = self.store
        stub = store.find(view)
        if stub is not None:
            answer = store.answered(stub)
            self.journal.add(request, stub.id, stub.label, None if answer.fault else answer.status)
            if answer.fault is None and answer.delay is None:
                reply = answer.render(view)
                if self.config.contract and stub.spec.contract:
                    self._exercised(stub.spec, request, reply)
                return reply
            return self._later(answer, view, conn, stub.spec)
        recorder = self.recorder
        if recorder is not None:
            replayed = recorder.replay(request)
            if replayed is not None:
                self.journal.add(request, "cassette", "cassette", replayed.status, "cassette")
                return replayed.render(view)
            if recorder.recording:
                return self._forward(request)
        return self.unmatched(view)

    def _exercised(self, spec: StubSpec, request: Request, reply: bytes) -> None:
        stub = spec.model_dump(by_alias=True, exclude_unset=True)
        key = json.dumps(stub, sort_keys=True, default=str)
        if key in self.exercised:
            return
        head, _, body = reply.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.exercised[key] = {
            "stub": stub,
            "request": {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "headers": dict(request.headers),
                "body": request.body.decode("utf-8", "replace"),
            },
            "response": {
                "status": int(status_line.split(" ")[1]),
                "headers": [line.split(": ", 1) for line in header_lines if ": " in line],
                "body": body.decode("utf-8", "replace"),
            },
        }

    async def _later(
        self, answer: Answer, view: Incoming, conn: Connection, spec: StubSpec
    ) -> bytes | None:
        pause = answer.pause()
        if pause:
            await asyncio.sleep(pause)
        fault = answer.fault
        if fault is None:
            reply = answer.render(view)
            if self.config.contract and spec.contract:
                self._exercised(spec, view.request, reply)
            return reply
        if fault == "connection_reset":
            conn.reset()
        elif fault == "empty_response":
            conn.hang_up()
        elif fault == "malformed_chunk":
            conn.hang_up(MALFORMED_CHUNK)
        elif fault == "random_data":
            conn.hang_up(RANDOM_DATA)
        else:  # never_respond: wait until the client gives up (the task is cancelled)
            await asyncio.Event().wait()
        return None

    async def _forward(self, request: Request) -> bytes:
        assert self.recorder is not None
        data, status = await self.recorder.forward(request)
        self.journal.add(request, "proxy", "recorded", status, "proxy")
        return data

    def unmatched(self, view: Incoming) -> bytes:
        stubs = self.store.all() + self._cassette_stubs()
        near = nearest_stubs(stubs, view, self.store.scenarios)
        self.journal.add(view.request, None, None, self.config.unmatched_status, "unmatched")
        self.log(log_line(view, near))
        body = report(view, near, len(stubs)).encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("X-Splice-Unmatched", "true")]
        return response_bytes(
            self.config.unmatched_status, headers, body, head_only=view.method == "HEAD"
        )

    def _cassette_stubs(self) -> list[Any]:
        """The cassette as stubs, for near-miss reports; compiled again only when the
        cassette has grown."""
        recorder = self.recorder
        if recorder is None or not recorder.replaying:
            return []
        size = len(recorder.cassette.interactions)
        if self._cassette_cache[0] != size:
            from splice._internal.doubles.stubs import Stub

            out = []
            for i, raw in enumerate(recorder.stubs()):
                try:
                    spec = StubSpec.model_validate(raw)
                except ValidationError:
                    continue
                out.append(Stub(spec, -i, None, f"cassette {recorder.config.cassette}"))
            self._cassette_cache = (size, out)
        return self._cassette_cache[1]

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.close()


def _print(message: str) -> None:
    print(message, file=sys.stdout, flush=True)
