"""Pact files: read (any version from 1 to 4, located errors) and written (V4).

`read_pact(path)` returns a `Pact` whose interactions know where they are written
(`Interaction.span`), or raises `SuiteError` with the file, line and column of the problem
and a hint: malformed JSON, an unknown specification version, an interaction without a
response, a matching rule with a bad path, an unknown matcher.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from splice._internal.contracts.jsonpos import nearest, positions
from splice._internal.contracts.model import Message, Request, Response
from splice._internal.contracts.problems import PactProblem
from splice._internal.errors import SourceSpan, SuiteError

V4_HTTP: Final = "Synchronous/HTTP"
V4_MESSAGE: Final = "Asynchronous/Messages"
V4_SYNC_MESSAGE: Final = "Synchronous/Messages"
SPEC_VERSIONS: Final = ("1", "1.1", "2", "3", "4")


@dataclass
class ProviderState:
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.params:
            out["params"] = self.params
        return out


@dataclass
class Interaction:
    """One HTTP request/response or one message the consumer relies on."""

    index: int
    description: str
    kind: str = "http"  # http | message
    states: list[ProviderState] = field(default_factory=list)
    request: Request | None = None
    response: Response | None = None
    message: Message | None = None
    pending: bool = False
    key: str | None = None
    span: SourceSpan | None = None

    @property
    def title(self) -> str:
        given = " and ".join(s.name for s in self.states)
        return f"{self.description} (given {given})" if given else self.description


@dataclass
class Pact:
    consumer: str
    provider: str
    spec_version: str
    interactions: list[Interaction]
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_pact(path: Path) -> Pact:
    """Read a pact file; raises SuiteError with a located problem and hint."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError.single(
            f"pact file {str(path)!r} does not exist", None, "check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError.single(f"cannot read pact file {str(path)!r}: {exc}") from None
    return parse_pact(text, path)


def parse_pact(text: str, path: Path) -> Pact:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        span = SourceSpan(path, exc.lineno, exc.colno)
        raise SuiteError.single(
            f"the pact file is not valid JSON: {exc.msg}",
            span,
            "a pact is one JSON object; check for a missing comma or quote here",
        ) from None
    try:
        pact = _pact(raw)
    except PactProblem as problem:
        line, col = nearest(positions(text), problem.where)
        where = _shown(problem.where)
        message = f"{problem.message} (at {where})" if where else problem.message
        raise SuiteError.single(message, SourceSpan(path, line, col), problem.hint) from None
    pact.path = path
    found = positions(text, depth=3)
    key = "messages" if "messages" in raw and "interactions" not in raw else "interactions"
    for interaction in pact.interactions:
        # at its description: the line that names the interaction
        line, col = nearest(found, (key, interaction.index, "description"))
        interaction.span = SourceSpan(path, line, col)
    return pact


def _shown(where: tuple[Any, ...]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _name(raw: Mapping[str, Any], role: str) -> str:
    party = raw.get(role)
    if not isinstance(party, Mapping) or not isinstance(party.get("name"), str):
        raise PactProblem(
            f"the pact names no {role}", (role,), f'write "{role}": {{"name": "..."}}'
        )
    return str(party["name"])


def _version(raw: Mapping[str, Any]) -> str:
    meta = raw.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise PactProblem("'metadata' must be an object", ("metadata",))
    spec = meta.get("pactSpecification") or meta.get("pact-specification") or {}
    version = spec.get("version") if isinstance(spec, Mapping) else None
    version = version or meta.get("pactSpecificationVersion") or "2.0.0"
    text = str(version)
    major = text.split(".", maxsplit=1)[0]
    if major not in ("1", "2", "3", "4"):
        raise PactProblem(
            f"unknown Pact specification version {text!r}",
            ("metadata", "pactSpecification", "version"),
            "splice reads pacts of specification versions 1 to 4",
        )
    return text


def _pact(raw: Any) -> Pact:
    if not isinstance(raw, Mapping):
        raise PactProblem("a pact must be a JSON object", (), "start the file with {")
    consumer, provider = _name(raw, "consumer"), _name(raw, "provider")
    version = _version(raw)
    v4 = version.startswith("4")
    key = "messages" if "messages" in raw and "interactions" not in raw else "interactions"
    items = raw.get(key, [])
    if not isinstance(items, list):
        raise PactProblem(f"'{key}' must be a list", (key,))
    interactions = [
        _interaction(item, i, (key, i), v4=v4, messages=key == "messages")
        for i, item in enumerate(items)
    ]
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    return Pact(consumer, provider, version, interactions, metadata=dict(meta or {}))


def _states(raw: Mapping[str, Any], where: tuple[Any, ...]) -> list[ProviderState]:
    if "providerStates" in raw:
        states = raw["providerStates"]
        if not isinstance(states, list):
            raise PactProblem("'providerStates' must be a list", (*where, "providerStates"))
        out = []
        for i, state in enumerate(states):
            if not isinstance(state, Mapping) or not isinstance(state.get("name"), str):
                raise PactProblem("a provider state needs a 'name'", (*where, "providerStates", i))
            params = state.get("params") or {}
            out.append(ProviderState(state["name"], dict(params)))
        return out
    state = raw.get("providerState") or raw.get("provider_state")
    if state is None:
        return []
    if not isinstance(state, str):
        raise PactProblem("'providerState' must be a string", (*where, "providerState"))
    return [ProviderState(state)]


def _interaction(
    raw: Any, index: int, where: tuple[Any, ...], *, v4: bool, messages: bool
) -> Interaction:
    if not isinstance(raw, Mapping):
        raise PactProblem("an interaction must be an object", where)
    description = raw.get("description")
    if not isinstance(description, str) or not description:
        raise PactProblem(
            "the interaction has no description", where, 'write "description": "what it does"'
        )
    kind_name = raw.get("type", V4_MESSAGE if messages else V4_HTTP)
    interaction = Interaction(
        index,
        description,
        states=_states(raw, where),
        pending=bool(raw.get("pending", False)),
        key=raw.get("key") if isinstance(raw.get("key"), str) else None,
    )
    if kind_name == V4_HTTP:
        for part in ("request", "response"):
            if part not in raw:
                raise PactProblem(
                    f"the interaction has no {part}",
                    where,
                    f'an HTTP interaction needs both "request" and "response"; add "{part}"',
                )
        interaction.request = Request.read(raw["request"], (*where, "request"), v4=v4)
        interaction.response = Response.read(raw["response"], (*where, "response"), v4=v4)
    elif kind_name == V4_MESSAGE:
        interaction.kind = "message"
        interaction.message = Message.read(raw, where, v4=v4)
    elif kind_name == V4_SYNC_MESSAGE:
        raise PactProblem(
            "synchronous message interactions are not verified by splice yet",
            (*where, "type"),
            "verify them with the plugin that defines their transport",
        )
    else:
        raise PactProblem(
            f"unknown interaction type {kind_name!r}",
            (*where, "type"),
            f"expected {V4_HTTP!r} or {V4_MESSAGE!r}",
        )
    return interaction
