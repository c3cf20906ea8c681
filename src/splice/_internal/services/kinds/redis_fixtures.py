"""Redis fixtures: YAML or JSON files of keys, turned into commands with their source spans.

    greeting: hello                        # text or a number -> SET
    user:1: {name: Alice, plan: pro}       # mapping          -> HSET
    queue:jobs: [a, b, c]                  # list             -> RPUSH
    tags: {set: [red, blue]}               # SADD
    scores: {zset: {alice: 10, bob: 7.5}}  # ZADD
    session:9: {value: token, ttl: 10}     # any of the forms above, expiring (seconds or 2m)
    order:1: {json: {id: 1, lines: []}}    # SET of the value as JSON text
    plain: {hash: {value: x}}              # a hash whose only field is named like a form

Each key is deleted first, so loading the same files twice gives the same data. Every
mistake points at its line and column, also those Redis itself rejects when loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.errors import Diagnostic, SourceSpan, SuiteError
from splice._internal.model.durations import parse_duration
from splice._internal.model.positions import Positions
from splice._internal.source.validation import describe
from splice._internal.source.yaml_source import read_yaml

_FORMS = ("value", "hash", "list", "set", "zset", "json")
_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class FixtureCommand:
    """One Redis command made from a fixture file, and the place in the file it came from."""

    args: tuple[str, ...]
    span: SourceSpan | None


class _Problems:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, message: str, span: SourceSpan | None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(message, span, hint))


def parse_files(files: list[Path]) -> list[FixtureCommand]:
    """Commands for all files, in order; a SuiteError listing every located mistake."""
    commands: list[FixtureCommand] = []
    problems = _Problems()
    for path in files:
        if path.suffix.lower() not in _SUFFIXES:
            problems.add(
                f"redis fixtures are YAML or JSON files, found {path.name!r}",
                SourceSpan(path, 1, 1),
                "name it *.yaml, *.yml or *.json; each top-level key is one Redis key",
            )
            continue
        doc = read_yaml(path)
        commands += _document(doc.data, doc.positions, problems)
    if problems.items:
        raise SuiteError(problems.items)
    return commands


def _document(data: Any, pos: Positions, problems: _Problems) -> list[FixtureCommand]:
    if data is None:
        return []
    if not isinstance(data, dict):
        problems.add(
            f"a redis fixture file is a mapping of keys, found {describe(data)}",
            pos.value(()),
            "write one `key: value` per line",
        )
        return []
    out: list[FixtureCommand] = []
    for key, value in data.items():
        if isinstance(key, bool) or not isinstance(key, str | int | float):
            problems.add(
                f"a Redis key must be text, found {describe(key)}", pos.key((key,)), "quote the key"
            )
            continue
        out += _key(str(key), value, (key,), pos, problems)
    return out


def _key(
    key: str, value: Any, loc: tuple[Any, ...], pos: Positions, problems: _Problems
) -> list[FixtureCommand]:
    span = pos.value(loc)
    ttl: float | None = None
    form = "value"
    if isinstance(value, dict) and _is_form(value):
        form = next(k for k in value if k != "ttl")
        if "ttl" in value:
            try:
                ttl = parse_duration(value["ttl"])
            except ValueError as exc:
                problems.add(
                    str(exc), pos.value((*loc, "ttl")), "write seconds (10) or a duration ('2m')"
                )
                return []
        loc = (*loc, form)
        value = value[form]
    elif isinstance(value, dict) and set(value) == {"ttl"}:
        problems.add(
            f"key {key!r} has a `ttl` but no value",
            span,
            "add one of: " + ", ".join(f"`{f}`" for f in _FORMS),
        )
        return []
    args = _write(key, form, value, loc=loc, pos=pos, problems=problems)
    if args is None:
        return []
    out = [FixtureCommand(("DEL", key), span), FixtureCommand(args, span)]
    if ttl is not None:
        out.append(FixtureCommand(("PEXPIRE", key, str(max(1, round(ttl * 1000)))), span))
    return out


def _is_form(value: dict[Any, Any]) -> bool:
    forms = [k for k in value if k in _FORMS]
    return len(forms) == 1 and set(value) <= {forms[0], "ttl"}


def _write(
    key: str, form: str, value: Any, *, loc: tuple[Any, ...], pos: Positions, problems: _Problems
) -> tuple[str, ...] | None:
    span = pos.value(loc)
    if form == "json":
        return ("SET", key, json.dumps(value, ensure_ascii=False, default=str))
    if form == "value":
        form = "hash" if isinstance(value, dict) else "list" if isinstance(value, list) else "text"
    if form == "text":
        text = _scalar(value, loc, pos, problems)
        return None if text is None else ("SET", key, text)
    wanted = dict if form in ("hash", "zset") else list
    if not isinstance(value, wanted) or not value:
        found = (
            f"an empty {'mapping' if wanted is dict else 'list'}"
            if isinstance(value, wanted)
            else describe(value)
        )
        problems.add(
            f"`{form}` of key {key!r} must be a non-empty "
            f"{'mapping' if wanted is dict else 'list'}, found {found}",
            span,
            "Redis stores no empty collections; leave the key out instead"
            if isinstance(value, wanted)
            else None,
        )
        return None
    if isinstance(value, dict) and form == "hash":
        pairs = [(str(k), _scalar(v, (*loc, k), pos, problems)) for k, v in value.items()]
        if any(v is None for _, v in pairs):
            return None
        return ("HSET", key, *(x for pair in pairs for x in pair if x is not None))
    if isinstance(value, dict):  # zset
        scored: list[str] = []
        for member, score in value.items():
            if isinstance(score, bool) or not isinstance(score, int | float):
                problems.add(
                    f"the score of {member!r} in {key!r} must be a number, found {describe(score)}",
                    pos.value((*loc, member)),
                )
                return None
            scored += [repr(float(score)), str(member)]
        return ("ZADD", key, *scored)
    items = [_scalar(v, (*loc, i), pos, problems) for i, v in enumerate(value)]
    if any(v is None for v in items):
        return None
    return ("RPUSH" if form == "list" else "SADD", key, *(v for v in items if v is not None))


def _scalar(value: Any, loc: tuple[Any, ...], pos: Positions, problems: _Problems) -> str | None:
    if isinstance(value, bool):
        problems.add(
            f"{describe(value)} is ambiguous as a Redis value",
            pos.value(loc),
            "quote it: 'true', or write 1 or 0",
        )
        return None
    if isinstance(value, str | int | float):
        return str(value)
    if value is None:
        problems.add(
            "no value here (null)", pos.value(loc), "write a value, or quote '' for empty text"
        )
        return None
    problems.add(
        f"expected text or a number here, found {describe(value)}",
        pos.value(loc),
        "a nested value can be stored as JSON text: `{json: ...}` on the key",
    )
    return None


def apply(service: str, client: Any, commands: list[FixtureCommand]) -> None:
    """Send all commands in one round trip; a Redis error points at its fixture."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command.args)
    try:
        results = pipe.execute(raise_on_error=False)
    except Exception as exc:
        raise SuiteError.single(
            f"service {service!r}: loading redis fixtures failed: {exc}",
            commands[0].span,
            "is the server running, and is the password in its URL right?",
        ) from exc
    problems = [
        Diagnostic(f"Redis refused {command.args[0]} {command.args[1]!r}: {result}", command.span)
        for command, result in zip(commands, results, strict=True)
        if isinstance(result, Exception)
    ]
    if problems:
        raise SuiteError(problems)
