"""YAML to plain Python values, keeping where every value came from.

Values are ordinary dicts, lists and scalars, so the model can validate them; a
`Positions` table maps each value's path (a tuple of keys and indexes) to its span,
so any error found later, by pydantic or by an executor, points at the source.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from splice._internal.errors import SourceSpan, SuiteError
from splice._internal.model.positions import PathKey, Positions

# Limits that keep hostile or accidental input (an alias bomb, a 10,000-level nesting)
# from exhausting time or the stack; real suites stay far below them.
MAX_DEPTH = 64
MAX_NODES = 200_000

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STD_PREFIX = "tag:yaml.org,2002:"
_STR_TAG = "tag:yaml.org,2002:str"
# tags whose values are immutable and follow from the text alone, so one value can be
# shared by every scalar with the same text (kept in `_VALUE_CACHE`)
_SHARED_VALUE_TAGS = frozenset(_STD_PREFIX + t for t in ("int", "float", "bool", "null"))


@dataclass
class Document:
    """A parsed YAML file: its data, positions and text (for rendering errors)."""

    path: Path
    text: str
    data: Any
    positions: Positions


# A plain scalar's tag depends only on its text: the resolver's regexes are tried once per
# distinct short text (a suite repeats `200`, `get`, `true` thousands of times)
_TAG_CACHE: dict[tuple[str, tuple[bool, bool]], str] = {}
_TAG_CACHE_LIMIT = 4096
_CACHED_TEXT = 64  # longer texts are resolved each time, and not kept
_VALUE_CACHE: dict[tuple[str, str], Any] = {}
_RESOLVE: Any = yaml.resolver.BaseResolver.resolve


class _CachedResolve:
    """Remembers the tags that the implicit resolvers gave short scalars (no path
    resolvers are registered, so a tag depends on the text and its quoting alone)."""

    def resolve(self, kind: Any, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode or len(value) > _CACHED_TEXT:
            return str(_RESOLVE(self, kind, value, implicit))
        key = (value, implicit)
        tag = _TAG_CACHE.get(key)
        if tag is None:
            tag = str(_RESOLVE(self, kind, value, implicit))
            if len(_TAG_CACHE) < _TAG_CACHE_LIMIT:
                _TAG_CACHE[key] = tag
        return tag


class _Loader(_CachedResolve, yaml.SafeLoader):
    """SafeLoader that remembers where each alias (`*name`) is used, and without YAML 1.1's
    `=` value tag, which has no constructor: a plain `=` is just text."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # id of the aliased node -> (line, column, anchor name) of each use, 0-based
        self.alias_uses: dict[int, list[tuple[int, int, str]]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        use = (event.start_mark.line, event.start_mark.column, str(event.anchor or ""))
        self.alias_uses.setdefault(id(node), []).append(use)
        return node


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_FastBase: Any = getattr(yaml, "CSafeLoader", None)
if _FastBase is not None:

    class _FastLoader(_CachedResolve, _FastBase):  # type: ignore[misc]
        """libyaml's parser (about 10x faster) for documents without anchors, where no
        alias can occur; anything it rejects is parsed again by `_Loader` for the error."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.alias_uses: dict[int, list[tuple[int, int, str]]] = {}

    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def _span(path: Path, node: yaml.Node) -> SourceSpan:
    start, end = node.start_mark, node.end_mark
    end_col = end.column + 1 if end.line == start.line else None
    return SourceSpan(path, start.line + 1, start.column + 1, end_col)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_STD_PREFIX) :] if tag.startswith(_STD_PREFIX) else tag


@dataclass
class _Converter:
    """Walks the node graph once per path; refuses cycles, bombs and foreign tags."""

    loader: _Loader
    pos: Positions
    count: int = 0
    active: set[int] = field(default_factory=set)

    def fail(self, message: str, node: yaml.Node, hint: str) -> SuiteError:
        return SuiteError.single(message, _span(self.pos.path, node), hint)

    def convert(self, node: yaml.Node, loc: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the document expands to more than {MAX_NODES:,} values",
                node,
                "aliases (*name) copy their anchor each time they are used; use fewer",
            )
        if len(loc) > MAX_DEPTH:
            raise self.fail(
                f"values are nested more than {MAX_DEPTH} levels deep",
                node,
                "flatten the structure",
            )
        if isinstance(node, yaml.ScalarNode):
            self.pos.values[loc] = _span(self.pos.path, node)
            return self.scalar(node)
        if id(node) in self.active:
            raise self.recursive(node)
        self.pos.values[loc] = _span(self.pos.path, node)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            expected = _MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG
            if node.tag != expected:
                raise self.fail(
                    f"unsupported YAML tag {_short_tag(node.tag)!r}",
                    node,
                    "splice reads plain YAML: remove the tag",
                )
            self.active.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self.mapping(node, loc)
                return [self.convert(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        return self.scalar(node)

    def recursive(self, node: yaml.Node) -> SuiteError:
        """The error for an alias used inside its own anchor's value, located at the alias."""
        start: Any = node.start_mark
        end: Any = node.end_mark
        for line, column, name in self.loader.alias_uses.get(id(node), []):
            if (start.line, start.column) <= (line, column) < (end.line, end.column):
                return SuiteError.single(
                    f"alias '*{name}' is used inside the value of its own anchor '&{name}'",
                    SourceSpan(self.pos.path, line + 1, column + 1, column + 2 + len(name)),
                    "a value cannot contain itself; copy what you need instead",
                )
        return self.fail(
            "an alias refers to a value that contains it (a recursive structure)",
            node,
            "a value cannot contain itself; copy what you need instead",
        )

    def scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR_TAG:  # what the constructor would return, without its calls
            return self.checked_text(node, node.value)
        if tag not in _SHARED_VALUE_TAGS or len(node.value) > _CACHED_TEXT:
            return self.constructed(node)
        key = (tag, node.value)
        try:
            return _VALUE_CACHE[key]
        except KeyError:
            value = self.constructed(node)
            if len(_VALUE_CACHE) < _TAG_CACHE_LIMIT:
                _VALUE_CACHE[key] = value
            return value

    def checked_text(self, node: yaml.Node, value: str) -> str:
        half = _SURROGATE.search(value)
        if half is not None:
            raise self.fail(
                f"the text holds half of a surrogate pair (U+{ord(half.group()):04X}), "
                "which is not a character",
                node,
                "write the character itself, or escape it whole: \\U0001F600 "
                "rather than \\ud83d\\ude00",
            )
        return value

    def constructed(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
            return self.checked_text(node, value) if isinstance(value, str) else value
        except yaml.constructor.ConstructorError as exc:
            problem = exc.problem or "invalid value"
            if "could not determine a constructor" in problem:
                raise self.fail(
                    f"unsupported YAML tag {_short_tag(node.tag)!r}",
                    node,
                    "splice reads plain YAML: remove the tag, or quote the value "
                    "if it is text that starts with '!'",
                ) from exc
            raise self.fail(f"invalid YAML value: {problem}", node, _QUOTE_HINT) from exc
        except (ValueError, OverflowError) as exc:  # a timestamp like 2001-13-45
            raise self.fail(f"invalid YAML value {node.value!r}: {exc}", node, _QUOTE_HINT) from exc

    def merged(self, node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
        """Entries a `<<: *anchor` (or `<<: [*a, *b]`) brings in, lowest precedence first."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        entries: list[tuple[yaml.Node, yaml.Node]] = []
        for source in reversed(sources):  # earlier sources win, so they come last
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(
                    "`<<` merges a mapping, found "
                    + ("a list" if isinstance(source, yaml.SequenceNode) else "a plain value"),
                    source,
                    "write `<<: *name` where `&name` marks a mapping",
                )
            if id(source) in self.active:
                raise self.recursive(source)
            self.active.add(id(source))
            try:
                for key_node, value_node in source.value:
                    if key_node.tag == _MERGE_TAG:
                        entries.extend(self.merged(value_node))
                    else:
                        entries.append((key_node, value_node))
            finally:
                self.active.discard(id(source))
        return entries

    def mapping(self, node: yaml.MappingNode, loc: PathKey) -> dict[str, Any]:
        inherited: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                inherited.extend(self.merged(value_node))
            else:
                own.append((key_node, value_node))
        out: dict[str, Any] = {}
        explicit: set[str] = set()
        for n, (key_node, value_node) in enumerate([*inherited, *own]):
            key = self.key(key_node)
            if n >= len(inherited):
                if key in explicit:
                    raise self.fail(
                        f"duplicate key {key!r}",
                        key_node,
                        f"{key!r} is already set at line {self.pos.keys[(*loc, key)].line}; "
                        "remove one of them",
                    )
                explicit.add(key)
            self.pos.keys[(*loc, key)] = _span(self.pos.path, key_node)
            out[key] = self.convert(value_node, (*loc, key))
        return out

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(
                "a mapping key must be a plain value",
                node,
                "quote the key, or move the structure into the value",
            )
        key = self.scalar(node)
        if isinstance(key, str):
            return key
        if isinstance(key, bool):
            return str(key).lower()
        return "null" if key is None else str(key)


_QUOTE_HINT = "quote the value to keep it as text"
# a lone UTF-16 surrogate ("\ud800" in a double-quoted string) cannot be encoded as UTF-8:
# it would fail much later, in whatever prints or sends it
_SURROGATE = re.compile("[\ud800-\udfff]")


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document's values are built.

    Reading a suite allocates hundreds of thousands of small objects that all stay alive
    (nodes, values, spans) and form no cycles, so every collection the allocations set off
    walks a growing heap for nothing: half the time of loading a 2,000-step suite. The
    collector's previous state comes back afterwards (off stays off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_yaml(text: str, path: Path) -> Document:
    """Parse one YAML document; YAML syntax errors become located `SuiteError`s."""
    with gc_paused():
        return _parse_yaml(text, path)


def _parse_yaml(text: str, path: Path) -> Document:
    if _FastBase is not None and "&" not in text:
        fast = _fast_parse(text, path)
        if fast is not None:
            return fast
    pos = Positions(path)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks characters up front
        raise _located(exc, text, path) from exc
    try:
        node = loader.get_single_node()
        data = None if node is None else _Converter(loader, pos).convert(node, ())
    except yaml.YAMLError as exc:
        raise _located(exc, text, path) from exc
    except RecursionError as exc:  # PyYAML composes nested flow collections recursively
        raise SuiteError.single(
            "values are nested too deeply", SourceSpan(path, 1, 1), "flatten the structure"
        ) from exc
    finally:
        loader.dispose()
    return Document(path, text, data, pos)


def _fast_parse(text: str, path: Path) -> Document | None:
    """The document through libyaml, or None to let the pure-Python loader explain."""
    pos = Positions(path)
    try:
        loader = _FastLoader(text)
    except Exception:  # noqa: BLE001 - the slow path reports it properly
        return None
    try:
        node = loader.get_single_node()
        data = None if node is None else _Converter(loader, pos).convert(node, ())
    except SuiteError:
        raise
    except Exception:  # noqa: BLE001 - the slow path reports it properly
        return None
    finally:
        loader.dispose()
    return Document(path, text, data, pos)


def _located(exc: yaml.YAMLError, text: str, path: Path) -> SuiteError:
    lines = text.splitlines() or [""]
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _line_column(text[: exc.position])
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        return SuiteError.single(
            f"the file contains a control character (U+{char:04X})",
            _clamp(SourceSpan(path, line, column), lines),
            "remove it; YAML allows printable characters, tabs and line breaks only",
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        return SuiteError.single(f"YAML error: {exc}", SourceSpan(path, 1, 1), None)
    message, mark, hint = _explain(exc, text)
    span = SourceSpan(path, mark.line + 1, mark.column + 1) if mark else SourceSpan(path, 1, 1)
    alias = re.search(r"unknown alias '(\*[^']*)'", message)
    if alias:
        span = replace(span, end_column=span.column + len(alias.group(1)))
    return SuiteError.single(message, _clamp(span, lines), hint)


def _line_column(before: str) -> tuple[int, int]:
    """1-based line and column of the character that follows `before`."""
    parts = before.splitlines(keepends=True)
    if not parts:
        return 1, 1
    last = parts[-1]
    if last.splitlines() != [last]:  # ends with a line break
        return len(parts) + 1, 1
    return len(parts), len(last) + 1


def _clamp(span: SourceSpan, lines: list[str]) -> SourceSpan:
    """Keep a span on a line that exists: end-of-file marks point past the last line."""
    if span.line <= len(lines):
        return span
    last = len(lines)
    while last > 1 and not lines[last - 1].strip():
        last -= 1
    return SourceSpan(span.path, last, len(lines[last - 1]) + 1)


def _explain(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, Any, str | None]:
    """PyYAML's wording turned into what the user did, where, and what to do."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    mark, cmark = exc.problem_mark, exc.context_mark
    syntax = "YAML syntax error: "
    found = _token(re.split(r"but (?:found|got) ", problem)[-1]) if " but " in problem else ""
    if "quoted scalar" in context and "end of stream" in problem and cmark is not None:
        quote = _char_at(text, cmark) or '"'
        return (
            f"{syntax}unclosed quote: this string has no closing {quote}",
            cmark,
            f"add the closing {quote} at the end of the value",
        )
    flow = re.match(r"while parsing a flow (sequence|mapping)", context)
    if flow and problem.startswith("expected ','") and cmark is not None:
        opener, closer = ("[", "]") if flow.group(1) == "sequence" else ("{", "}")
        if mark is None or mark.line != cmark.line:
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the end"
            return (
                f"{syntax}this {opener!r} is never closed",
                cmark,
                f"add {closer!r} where the value ends; at {where} YAML expected ',' or "
                f"{closer!r} but found {found}",
            )
        return (
            f"{syntax}expected ',' or {closer!r}, found {found}",
            mark,
            f"separate items with ',' and end with {closer!r}; "
            "quote an item that contains ': ' or brackets",
        )
    if "expected <block end>" in problem:
        return (
            f"{syntax}this line is not indented like the lines around it",
            mark,
            "indent it exactly like the other entries of its mapping or list "
            "(YAML counts the spaces)",
        )
    if "mapping values are not allowed" in problem:
        return (
            f"{syntax}unexpected ':'",
            mark,
            "a value containing ': ' must be quoted, e.g. name: \"a: b\"; "
            "if this is a key, check its indentation",
        )
    if "mapping keys are not allowed" in problem or "sequence entries are not allowed" in problem:
        what = "a key" if "mapping keys" in problem else "a '- ' item"
        return (
            f"{syntax}{what} is not allowed here",
            mark,
            "check the indentation of this line; quote the value if it is text",
        )
    if "found character '\\t'" in problem:
        return (f"{syntax}a tab character cannot indent YAML", mark, "indent with spaces, not tabs")
    start = re.match(r"found character '(.+)' that cannot start any token", problem)
    if start:
        return (
            f"{syntax}a value cannot start with {start.group(1)!r}",
            mark,
            "quote the value: YAML reserves '@' and '`', and '%' starts a directive",
        )
    if "found undefined alias" in problem:
        name = problem.rpartition(" ")[2].strip("'")
        return (
            f"YAML error: unknown alias '*{name}'",
            mark,
            f"define the anchor (&{name}) before using the alias (*{name})",
        )
    if "found duplicate anchor" in context and cmark is not None:
        name = context.split("'")[1] if "'" in context else ""
        return (
            f"YAML error: anchor '&{name}' is defined twice",
            mark,
            f"it is first defined at line {cmark.line + 1}; give each anchor its own name",
        )
    scanning = re.match(r"while scanning an? (alias|anchor)", context)
    if scanning:
        sign = "*" if scanning.group(1) == "alias" else "&"
        return (
            f"{syntax}an {scanning.group(1)} needs a name",
            cmark or mark,
            f"write {sign}name, e.g. {sign}defaults; quote the value if {sign!r} is meant as text",
        )
    if "block scalar" in context and "indicators" in problem:
        return (
            f"{syntax}only '-', '+' or a digit may follow '|' or '>' on its line, found {found}",
            mark,
            "start the text on the next line, or quote the value",
        )
    if "found another document" in problem:
        return (
            "YAML error: a suite file holds one YAML document, found a second one",
            mark,
            "remove the '---' line, or split the file in two",
        )
    if "expected '<document start>'" in problem:
        return (
            f"{syntax}found {found} after the end of the document",
            mark,
            "check the indentation of this line against the lines above it, "
            "and that brackets match",
        )
    if "expected the node content" in problem:
        return (
            f"{syntax}a value is missing before {found}",
            mark,
            "write the value, or quote it if it is text",
        )
    if "unknown escape character" in problem:
        return (
            f"{syntax}{problem.replace('found ', '')} in a double-quoted string",
            mark,
            "use single quotes to keep backslashes as they are: '\\d+'",
        )
    if "could not find expected ':'" in problem:
        return (f"{syntax}expected ':' after a key", mark, "each line of a mapping is 'key: value'")
    if "could not determine a constructor" in problem:
        tag = problem.rpartition(" ")[2].strip("'")
        return (
            f"unsupported YAML tag {_short_tag(tag)!r}",
            mark,
            "splice reads plain YAML: remove the tag",
        )
    hint = (
        f"YAML was {context[6:]} that starts at line {cmark.line + 1}"
        if (context.startswith("while ") and cmark is not None)
        else "check the YAML syntax at this point; quote values that hold special characters"
    )
    return f"{syntax}{problem}", mark or cmark, hint


def _char_at(text: str, mark: yaml.Mark) -> str:
    lines = text.splitlines()
    if 0 <= mark.line < len(lines) and 0 <= mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""


_TOKENS = {
    "<stream end>": "the end of the file",
    "<document start>": "a '---'",
    "<document end>": "a '...'",
    "<block mapping start>": "a new mapping",
    "<block sequence start>": "a new list",
    "<block end>": "the end of a block",
    "<scalar>": "a value",
    "<alias>": "an alias",
    "<anchor>": "an anchor",
    "<tag>": "a tag",
    "?": "a key",
    "-": "a '- ' item",
}


def _token(found: str) -> str:
    """PyYAML's name of a token (`'<block mapping start>'`) as a user reads it."""
    bare = found.strip().strip("'")
    return _TOKENS.get(bare, repr(bare) if bare else "nothing")


def read_yaml(path: Path) -> Document:
    """Read and parse a YAML file, with a located error for unreadable or non-UTF-8 files."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuiteError.single(
            f"cannot read file: {exc.strerror or exc}", SourceSpan(path, 1, 1)
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw[: exc.start].decode("utf-8", errors="replace"))
        raise SuiteError.single(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at line {line}",
            SourceSpan(path, line, column, column + 1),
            "save the file as UTF-8",
        ) from exc
    # the same newline handling as reading in text mode
    return parse_yaml(text.replace("\r\n", "\n").replace("\r", "\n"), path)
