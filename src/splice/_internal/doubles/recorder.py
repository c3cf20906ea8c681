"""Record and replay: a proxy to the real API that writes scrubbed cassettes.

Modes, as in VCR.py:

- `once`: replay the cassette when it exists, else record every request into it;
- `new`: replay what the cassette has, record what it does not;
- `none`: replay only (the cassette must exist); a request it lacks is unmatched;
- `all`: record everything, replay nothing (the cassette is rewritten from scratch).

Requests are scrubbed before they are matched, so a recording made with one API key
replays for a request carrying another. Stubs always come first: a stub can override one
recorded exchange.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from splice._internal.doubles.cassette import MATCH_ON, Cassette, body_record, match_key, to_stubs
from splice._internal.doubles.http11 import Request, response_bytes
from splice._internal.doubles.incoming import Incoming
from splice._internal.doubles.model import ResponseSpec
from splice._internal.doubles.responses import Answer
from splice._internal.doubles.scrub import Scrubber
from splice._internal.masking import Masker

MODES = ("once", "new", "none", "all")
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "host",
    "accept-encoding",  # ask for identity bodies: cassettes stay readable
    "content-encoding",  # httpx hands over decoded bodies
}


@dataclass
class RecordConfig:
    """The `record:` settings of a mock, as the server receives them."""

    mode: str
    cassette: str
    target: str | None = None
    match_on: list[str] = field(default_factory=lambda: list(MATCH_ON))
    scrub: dict[str, Any] = field(default_factory=dict)
    timeout: float = 30.0
    # the run's declared secrets: scrubbed from every part of the cassette, in every
    # spelling, whatever the scrub rules say (more arrive through the admin API)
    secrets: list[str] = field(default_factory=list)


class Recorder:
    """Replays a cassette and, in recording modes, forwards and records the rest."""

    def __init__(self, config: RecordConfig, log: Any) -> None:
        self.config = config
        self.log = log
        self.scrubber = Scrubber(**config.scrub)
        self.declared = Masker(self.scrubber.replacement)
        self.declared.add_all(config.secrets)
        path = Path(config.cassette)
        existed = path.is_file()
        self.cassette = Cassette.load(path) if existed and config.mode != "all" else Cassette(path)
        if config.target:
            self.cassette.recorded_from = config.target
        self.recording = config.mode in ("new", "all") or (config.mode == "once" and not existed)
        self.replaying = config.mode != "all"
        self._plays: dict[tuple[Any, ...], list[Answer]] = {}
        self._played: dict[tuple[Any, ...], int] = {}
        for interaction in self.cassette.interactions:
            self._index(interaction)
        self._client: Any = None

    def _index(self, interaction: dict[str, Any]) -> None:
        key = match_key(interaction["request"], self.config.match_on)
        stub = to_stubs([interaction], self.config.match_on)[0]
        answer = Answer(ResponseSpec.model_validate(stub["response"]))
        self._plays.setdefault(key, []).append(answer)

    def stubs(self) -> list[dict[str, Any]]:
        """The cassette as stubs (for near-miss reports)."""
        return to_stubs(self.cassette.interactions, self.config.match_on)

    # one request ---------------------------------------------------------------------
    def scrubbed_request(self, request: Request) -> tuple[dict[str, Any], set[str]]:
        """The request as the cassette holds it, and the secrets found in it."""
        found: set[str] = set()
        view = Incoming(request)
        record: dict[str, Any] = {"method": request.method, "path": request.path}
        if view.query:
            pairs = [(k, v) for k, values in view.query.items() for v in values]
            query: dict[str, Any] = {}
            for name, value in self.scrubber.scrub_pairs(pairs, found):
                query.setdefault(name, []).append(value)
            record["query"] = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
        headers = {k: v for k, v in request.headers.items() if k not in _HOP}
        record["headers"] = self.scrubber.scrub_headers(headers, found)
        body = body_record(
            self.declared.data(request.body), request.headers.get("content-type", "")
        )
        if "json" in body:
            body["json"] = self.scrubber.scrub_json(body["json"], found)
        elif "body" in body and "form-urlencoded" in request.headers.get("content-type", ""):
            body["body"] = self.scrubber.scrub_query_string(body["body"], found)
        record.update(body)
        scrubbed = self.declared.mask(self.scrubber.everywhere(record, found))
        return scrubbed, found

    def scrub_entry(self, described: dict[str, Any]) -> dict[str, Any]:
        """A journal entry as the admin API shows it: scrubbed like the cassette, so a
        suite's report never holds what the recording would not."""
        if self.scrubber.empty:
            return described
        found: set[str] = set()
        scrubber = self.scrubber
        out = dict(described)
        out["headers"] = scrubber.scrub_headers(described.get("headers") or {}, found)
        pairs = [(k, str(v)) for k, v in (described.get("query") or {}).items()]
        out["query"] = dict(scrubber.scrub_pairs(pairs, found))
        path, _, query = str(described.get("url", "")).partition("?")
        out["url"] = path + ("?" + scrubber.scrub_query_string(query, found) if query else "")
        if "json" in described:
            out["json"] = scrubber.scrub_json(described["json"], found)
        result: dict[str, Any] = scrubber.everywhere(out, found)
        return result

    def replay(self, request: Request) -> Answer | None:
        if not self.replaying:
            return None
        record, _ = self.scrubbed_request(request)
        key = match_key(record, self.config.match_on)
        answers = self._plays.get(key)
        if not answers:
            return None
        i = self._played.get(key, 0)
        self._played[key] = i + 1
        return answers[min(i, len(answers) - 1)]  # in recorded order; the last repeats

    async def forward(self, request: Request) -> tuple[bytes, int]:
        """Send `request` to the target, record the exchange, return the real reply."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout, follow_redirects=False)
        assert self.config.target is not None
        url = self.config.target.rstrip("/") + request.target
        headers = [(k, v) for k, v in request.headers.items() if k not in _HOP]
        try:
            reply = await self._client.request(
                request.method, url, headers=headers, content=request.body
            )
        except httpx.HTTPError as exc:
            self.log(f"recording: {request.method} {request.path} failed: {exc!r}")
            text = f"splice mock: cannot reach {self.config.target} to record: {exc!r}\n"
            return response_bytes(502, [("Content-Type", "text/plain")], text.encode()), 502
        pairs = [(k, v) for k, v in reply.headers.multi_items() if k.lower() not in _HOP]
        self._record(request, reply.status_code, pairs, reply.content)
        head_only = request.method == "HEAD"
        return response_bytes(
            reply.status_code, pairs, reply.content, head_only=head_only
        ), reply.status_code

    def _record(
        self, request: Request, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        record, found = self.scrubbed_request(request)
        scrubber = self.scrubber
        response_headers: dict[str, Any] = {}
        for name, value in headers:
            lower = name.lower()
            if lower in response_headers:
                previous = response_headers[lower]
                response_headers[lower] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
            else:
                response_headers[lower] = value
        response: dict[str, Any] = {
            "status": status,
            "headers": scrubber.scrub_headers(response_headers, found),
        }
        content = body_record(
            self.declared.data(body), str(response_headers.get("content-type", ""))
        )
        if "json" in content:
            content["json"] = scrubber.scrub_json(content["json"], found)
        response.update(content)
        interaction = {
            "request": record,
            "response": self.declared.mask(scrubber.everywhere(response, found)),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.cassette.interactions.append(interaction)
        if self.config.mode == "new":
            self._index(interaction)
        self.cassette.save()
        self.log(f"recorded {request.method} {request.path} -> {status}")

    async def close(self) -> None:
        if self._client is not None:
            await asyncio.shield(self._client.aclose())
