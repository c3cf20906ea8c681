"""The `message_pact` step: a message the consumer received, held to what it expects and
written as a message interaction (Pact V4 `Asynchronous/Messages`) of the consumer's pact.

    - nats: {receive: created}
      capture: {event: json}
    - message_pact:
        consumer: shop
        provider: orders
        description: an order created event
        given: [{name: an order exists, params: {id: 42}}]
        message: "{{ event }}"               # what the consume step received
        contents:                            # what the consumer relies on
          id: {$type: integer}
          sku: {$regex: "^[A-Z]-[0-9]+$"}
          status: created
        metadata: {topic: orders.created}

`contents` is the message as the consumer expects it, in splice's matcher vocabulary: a
plain value must be equal; `$type`, `$regex`, `$any`, `$contains` (text) and `$each` (every
element of a list) become Pact matching rules, with the received message's value as the
pact's example. Keys the consumer does not name are left out of the pact (a contract says
what the consumer uses; the provider may send more). Without `contents`, the whole
received message is the expectation, by equality.

The step fails, with the located mismatches of the Pact matching engine, when the received
message does not honour `contents`; a message that does is written to the pact file
(`file`, by default `pacts/CONSUMER-PROVIDER.json` beside splice.yaml) at once: the first
`message_pact` step of a process that writes a file drops the file's earlier messages and
keeps its HTTP interactions; later steps add theirs (one per description and states).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from splice._internal.contracts.compare import compare_body
from splice._internal.contracts.consumer import provider_states, write_pact
from splice._internal.contracts.model import Body
from splice._internal.contracts.problems import PactProblem
from splice._internal.contracts.rules import Rules
from splice._internal.errors import StepError
from splice._internal.executors.executor_api import Block, BlockProblem, StepContext, StepOutput
from splice._internal.expect.vocabulary import TYPE_NAMES
from splice._internal.source.validation import did_you_mean
from splice._internal.version import VERSION

_MISSING = object()
_EACH = object()  # the `[*]` of a path: every element of a list
_JSON = "application/json"
_OPERATORS = ("$type", "$regex", "$any", "$contains", "$each")
_TYPE_MATCHERS = {"integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}


class MessagePactBlock(Block):
    consumer: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    description: str = Field(min_length=1)
    message: Any = None
    contents: Any = None
    given: Any = None
    metadata: dict[str, Any] = {}
    content_type: str | None = None
    file: str | None = None


def _expr(parts: tuple[Any, ...]) -> str:
    out = "$"
    for part in parts:
        if part is _EACH:
            out += "[*]"
        elif isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def _rule(*matchers: dict[str, Any]) -> dict[str, Any]:
    return {"combine": "AND", "matchers": list(matchers)}


def example(shape: Any, actual: Any, path: tuple[Any, ...], rules: dict[str, Any]) -> Any:
    """The pact's example for `shape` (the received values where a matcher stands), and
    the matching rules the matchers imply, under `rules` by JSON path."""
    if isinstance(shape, dict) and any(str(k).startswith("$") for k in shape):
        return _matcher(shape, actual, path, rules)
    if isinstance(shape, dict):
        got = actual if isinstance(actual, dict) else {}
        return {k: example(v, got.get(k, _MISSING), (*path, k), rules) for k, v in shape.items()}
    if isinstance(shape, list):
        got_list = actual if isinstance(actual, list) else []
        return [
            example(v, got_list[i] if i < len(got_list) else _MISSING, (*path, i), rules)
            for i, v in enumerate(shape)
        ]
    return shape


def _matcher(
    shape: dict[str, Any], actual: Any, path: tuple[Any, ...], rules: dict[str, Any]
) -> Any:
    unknown = sorted(str(k) for k in shape if k not in _OPERATORS)
    if unknown or len(shape) != 1:
        raise StepError(
            f"contents{_expr(path)[1:]}: {', '.join(unknown) or 'several matchers'} cannot "
            "be written as a Pact matching rule",
            f"use one of {', '.join(_OPERATORS)} per value in a message_pact's contents",
        )
    op, arg = next(iter(shape.items()))
    value = None if actual is _MISSING else actual
    where = _expr(path)
    if op == "$type":
        kind = str(arg)
        if kind not in TYPE_NAMES:
            raise StepError(
                f"contents{_expr(path)[1:]}: unknown type name {kind!r}",
                did_you_mean(kind, TYPE_NAMES),
            )
        rules[where] = _rule({"match": _TYPE_MATCHERS.get(kind, "type")})
        if kind not in _TYPE_MATCHERS and value is None:
            value = {"string": "", "array": [], "object": {}}.get(kind)
    elif op == "$regex":
        rules[where] = _rule({"match": "regex", "regex": str(arg)})
    elif op == "$any":
        rules[where] = _rule({"match": "type"})
    elif op == "$contains":
        rules[where] = _rule({"match": "include", "value": str(arg)})
    else:  # $each: every element like the shape
        rules[where] = _rule({"match": "type", "min": 1})
        items = actual if isinstance(actual, list) and actual else [_MISSING]
        value = [example(arg, item, (*path, _EACH), rules) for item in items[:1]]
    return value


def _check_shape(shape: Any, path: tuple[str | int, ...], found: list[BlockProblem]) -> None:
    if isinstance(shape, list):
        for i, item in enumerate(shape):
            _check_shape(item, (*path, i), found)
        return
    if not isinstance(shape, dict):
        return
    ops = [k for k in shape if str(k).startswith("$")]
    if not ops:
        for key, value in shape.items():
            _check_shape(value, (*path, str(key)), found)
        return
    for op in ops:
        if op not in _OPERATORS:
            hint = did_you_mean(str(op), _OPERATORS) or ""
            if not hint.startswith("did"):
                hint = f"use one of {', '.join(_OPERATORS)} per value in a message_pact's contents"
            message = f"{op} cannot be written as a Pact matching rule"
            found.append(BlockProblem((*path, op), message, hint, key=True))
            return
    if len(shape) != 1:
        found.append(
            BlockProblem(path, "one matcher per value", f"keep one of {', '.join(map(str, shape))}")
        )
        return
    op, arg = next(iter(shape.items()))
    if isinstance(arg, str) and "{{" in arg:
        return  # rendered when the step runs
    if op == "$type" and arg not in TYPE_NAMES:
        found.append(
            BlockProblem(
                (*path, op),
                f"unknown type name {arg!r}",
                did_you_mean(str(arg), TYPE_NAMES),
            )
        )
    elif op == "$regex":
        try:
            re.compile(str(arg))
        except re.error as exc:
            found.append(
                BlockProblem(
                    (*path, op),
                    f"the pattern does not compile: {exc}",
                    "the provider's verifier matches it too: keep to the syntax regex engines "
                    "share (classes, anchors, groups, repetition)",
                )
            )
    elif op == "$each":
        _check_shape(arg, (*path, op), found)


def _received(message: Any) -> tuple[Any, str]:
    """The received message as a JSON value (text that parses as JSON is parsed)."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    if isinstance(message, str):
        try:
            return json.loads(message), _JSON
        except ValueError:
            return message, "text/plain"
    return message, _JSON


class _Book:
    """The message interactions of each pact file this process writes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[Path, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = {}

    def add(self, path: Path, consumer: str, provider: str, item: dict[str, Any]) -> None:
        with self.lock:
            if path not in self.files:
                self.files[path] = (_kept(path), {})
            kept, messages = self.files[path]
            key = json.dumps([item["description"], item.get("providerStates", [])])
            messages[key] = item
            ordered = [messages[k] for k in sorted(messages)]
            document = {
                "consumer": {"name": consumer},
                "provider": {"name": provider},
                "interactions": kept + ordered,
                "metadata": {
                    "pactSpecification": {"version": "4.0"},
                    "splice": {"version": VERSION},
                },
            }
            write_pact(path, document)


def _kept(path: Path) -> list[dict[str, Any]]:
    """The HTTP interactions of a pact file already there (a mock's), kept beside messages."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    items = old.get("interactions") if isinstance(old, dict) else None
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and i.get("type") == "Synchronous/HTTP"]


BOOK = _Book()


def _root(base_dir: Path) -> Path:
    """The folder of splice.yaml above the suite (else the suite's folder)."""
    for folder in (base_dir, *base_dir.parents):
        if (folder / "splice.yaml").is_file():
            return folder
    return base_dir


class MessagePactExecutor:
    name: ClassVar[str] = "message_pact"
    block_model: ClassVar[type[Block]] = MessagePactBlock
    result_fields: ClassVar[dict[str, str]] = {
        "interaction": "the message interaction written to the pact (V4 JSON)",
        "mismatches": "every way the received message breaks `contents`, as 'path: message'",
        "file": "the pact file the interaction was written to",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        return f"message pact {block.get('description', '')!r}".strip()

    @staticmethod
    def check(block: dict[str, Any], base_dir: Path) -> list[BlockProblem]:
        """At load time: every matcher of `contents` is one a Pact matching rule can say,
        with a known type name and a pattern that compiles."""
        found: list[BlockProblem] = []
        _check_shape(block.get("contents"), ("contents",), found)
        return found

    def execute(self, block: MessagePactBlock, ctx: StepContext) -> StepOutput:
        received, ctype = _received(block.message)
        ctype = block.content_type or ctype
        rules: dict[str, Any] = {}
        shape = block.contents if "contents" in block.model_fields_set else received
        content = example(shape, received, (), rules)
        try:
            parsed = Rules.read({"content": rules} if rules else None, ("contents",))
        except PactProblem as problem:
            raise StepError(f"contents: {problem.message}", problem.hint) from None
        expected = Body(content, ctype)
        mismatches = compare_body(expected, Body(received, ctype), parsed, allow_extra=True)
        interaction: dict[str, Any] = {
            "type": "Asynchronous/Messages",
            "description": block.description,
        }
        states = provider_states(block.given)
        if states:
            interaction["providerStates"] = states
        interaction["contents"] = {"content": content, "contentType": ctype, "encoded": False}
        interaction["metadata"] = {"contentType": ctype, **block.metadata}
        if rules:
            interaction["matchingRules"] = {"content": rules}
        target = Path(block.file or f"pacts/{block.consumer}-{block.provider}.json")
        if not target.is_absolute():
            target = (ctx.base_dir if block.file else _root(ctx.base_dir)) / target
        if not mismatches:
            try:
                BOOK.add(target, block.consumer, block.provider, interaction)
            except OSError as exc:
                raise StepError(f"cannot write the pact {target}: {exc}") from None
        return StepOutput(
            result={
                "interaction": interaction,
                "mismatches": [str(m) for m in mismatches],
                "file": str(target),
            },
            request={"description": block.description, "message": received},
            response=None,
            problems=[(m.path.replace("body", "contents", 1), m.message) for m in mismatches],
        )
