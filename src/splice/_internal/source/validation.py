"""Turn pydantic validation errors into located, readable diagnostics.

pydantic's own wording ("Input should be a valid dictionary") never reaches the user:
each error becomes "expected X, found Y" at the value's line and column, with a hint.
A validator (ours or a plugin's) can give its own hint in either of two ways: raise an
exception with a `hint` attribute (`HintedValueError`), or word the message as
`problem: expected ...`, whose second half becomes the hint.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from splice._internal.errors import Diagnostic, SourceSpan
from splice._internal.model.positions import PathKey, Positions
from splice._internal.templating import is_template

_TYPE_NAMES: dict[type, str] = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    type(None): "nothing (null)",
    dt.date: "a date",
    dt.datetime: "a timestamp",
    bytes: "binary data",
}

DURATION_HINT = "write seconds as a number (1.5) or text like '2s', '200ms' or '1m30s'"


class HintedValueError(ValueError):
    """A validation problem with the next step to take, for validators to raise.

    `span` places the problem in another file than the one validated (a stub file that a
    project setting names); by default it is the value's own place."""

    def __init__(
        self, message: str, hint: str | None = None, span: SourceSpan | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.span = span


def describe(value: Any) -> str:
    """`a string 'abc'`, `an integer 3`: how a found value reads in a message."""
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, dict | list | bytes) or value is None:
        return kind
    text = str(value) if isinstance(value, dt.date) else repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """A hint naming the closest option, or listing the options when none is close."""
    options = sorted(set(options))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if options and len(options) <= 12:
        return "expected one of " + ", ".join(options)
    return None


def model_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def key_did_you_mean(word: str, model: type[BaseModel]) -> str | None:
    """A hint for an unknown key of `model`: its closest key, or a key of a nested mapping
    when the word joins the two (`ready_timeout` -> `ready: {timeout: …}`)."""
    keys = model_keys(model)
    nested: dict[str, str] = {}
    for name, info in model.model_fields.items():
        inner = _inner_model(info.annotation)
        if inner is not None:
            outer = info.alias or name
            for sub in model_keys(inner):
                nested[f"{outer}_{sub}"] = f"did you mean `{outer}: {{{sub}: …}}`?"
    close = difflib.get_close_matches(word, [*keys, *nested], n=1, cutoff=0.6)
    if close and close[0] in nested:
        return nested[close[0]]
    return did_you_mean(word, keys)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `loc` (for did-you-mean on keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        found = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if found is None:
            return None
        current = _inner_model(found.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_MISSING_HINTS = {
    "testcases": "add `testcases:` with a list of testcases, each with `name:` and `steps:`",
    "name": "start the testcase with `- name: ...`",
    "steps": "add `steps:` with the list of steps to run",
    "template": "name the template: `template: NAME`",
}

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_LIMITS = {  # pydantic's constraint -> its key in ctx, the message's words, the hint's
    "greater_than_equal": ("ge", "at least", "{} or more"),
    "greater_than": ("gt", "more than", "a number above {}"),
    "less_than_equal": ("le", "at most", "{} or less"),
    "less_than": ("lt", "less than", "a number below {}"),
}


def from_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    positions: Positions,
    prefix: PathKey = (),
    *,
    skip_templates: bool = False,
    data: Any = None,
    rename: Mapping[str, str] | None = None,
) -> list[Diagnostic]:
    """One diagnostic per problem in `exc`, located through `positions`.

    `data` is the validated input, which tells mapping keys from the names pydantic puts
    in error locations for union members; `rename` maps a key of the validated input to
    the key the user wrote (after a shorthand was expanded). With `skip_templates`,
    errors whose input is a template string are dropped: the value is only known at run
    time, where it is validated again after rendering.
    """
    errors: list[tuple[PathKey, Any]] = []
    for found in exc.errors():
        loc = _clean(tuple(found["loc"]), data, keep_last=found["type"] == "missing")
        if rename and loc and isinstance(loc[0], str) and loc[0] in rename:
            loc = (rename[loc[0]], *loc[1:])
        if skip_templates and is_template(found.get("input")):
            continue
        errors.append((loc, found))
    # A type error at a value that other errors look inside comes from another member of
    # a union (`str | CaptureSpec` given a mapping): the deeper errors are the real ones.
    deeper = {loc[:n] for loc, _ in errors for n in range(len(loc))}
    errors = [(loc, e) for loc, e in errors if not (e["type"] in _EXPECTED and loc in deeper)]

    unknown = {
        loc: key_did_you_mean(str(loc[-1]), owner_model)
        for loc, e in errors
        if e["type"] == "extra_forbidden" and (owner_model := _model_at(model, loc[:-1]))
    }
    out: list[Diagnostic] = []
    grouped: dict[PathKey, list[dict[str, Any]]] = {}
    for loc, detail in errors:
        grouped.setdefault(loc, []).append(detail)
    for loc, errs in grouped.items():
        full = (*prefix, *loc)
        err = errs[0]
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            hint = unknown.get(loc)
            out.append(Diagnostic(f"unknown key {key!r}", positions.key(full), hint))
        elif kind == "missing":
            key = str(loc[-1])
            if any(h == f"did you mean {key!r}?" for u, h in unknown.items() if u[:-1] == loc[:-1]):
                continue  # the misspelt key is reported, with this key as its suggestion
            owner = full[:-1]
            where = f" in {owner[-1]!r}" if owner and isinstance(owner[-1], str) else ""
            out.append(
                Diagnostic(
                    f"missing required key {key!r}{where}",
                    positions.key(owner),
                    _MISSING_HINTS.get(key, f"add `{key}: ...`"),
                )
            )
        elif all(e["type"] in _EXPECTED for e in errs):
            out.append(_type_error(errs, full, positions.value(full)))
        else:
            bad = next(e for e in errs if e["type"] not in _EXPECTED)
            out.append(_other_error(bad, loc, full, positions))
    return out


def _clean(loc: PathKey, data: Any, *, keep_last: bool) -> PathKey:
    """`loc` without the names pydantic adds for union members ('str', 'CaptureSpec')."""
    out: list[str | int] = []
    current = data
    known = data is not None
    for n, part in enumerate(loc):
        if keep_last and n == len(loc) - 1:
            out.append(part)
            break
        if known:
            if isinstance(current, dict) and part in current:
                current = current[part]
                out.append(part)
                continue
            if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
                current = current[part]
                out.append(part)
                continue
            if isinstance(part, str):
                continue  # not a key of the input: a union member's name
            known = False
        if not _is_union_tag(part):
            out.append(part)
    return tuple(out)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool", "dict", "list", "none"}
        or "[" in part
        or part.startswith("function-")
    )


def _key_name(loc: PathKey) -> str | None:
    return next((p for p in reversed(loc) if isinstance(p, str)), None)


def _type_error(errs: list[dict[str, Any]], loc: PathKey, span: Any) -> Diagnostic:
    value = errs[0].get("input")
    wanted = list(dict.fromkeys(_EXPECTED[e["type"]] for e in errs))
    if len(wanted) > 1:
        wanted = [w.replace("true or false", "true/false") for w in wanted]
        expected = ", ".join(wanted[:-1]) + " or " + wanted[-1]
    else:
        expected = wanted[0]
    return Diagnostic(
        f"expected {expected}, found {describe(value)}", span, _type_hint(wanted, value, loc)
    )


def _type_hint(wanted: list[str], value: Any, loc: PathKey) -> str | None:
    key = _key_name(loc)
    if len(loc) >= 2 and loc[-2] == "capture":
        return "write an expression over the result, e.g. json.id, or {jsonpath: '$.id'}"
    if key in ("skip", "only"):
        return f"write true, false or an expression, e.g. {key}: \"env == 'ci'\""
    if wanted == ["a list"]:
        if isinstance(value, dict):
            return "write each item on its own line, starting with '- '"
        if isinstance(value, str) and re.fullmatch(r"[\w./-]{1,30}", value) and key:
            return f"write a list, e.g. `{key}: [{value}]`"
        return "write a list, e.g. [a, b]"
    if wanted == ["a mapping"]:
        if isinstance(value, list):
            return "write `name: value` lines, without a '- ' in front"
        return f"write `name: value` pairs, e.g. `{key}: {{name: value}}`" if key else None
    if value is None:
        return "write a value after the ':' (nothing there means null)"
    if isinstance(value, dict | list):
        return "write a single value here, not a " + (
            "mapping" if isinstance(value, dict) else "list"
        )
    if "a string" in wanted and isinstance(value, int | float | bool):
        return "quote the value to make it text"
    if wanted == ["an integer"]:
        return "write a whole number" + (", without quotes" if isinstance(value, str) else "")
    if wanted == ["true or false"]:
        return "write true or false" + (", without quotes" if isinstance(value, str) else "")
    if len(wanted) > 1 and "a mapping" in wanted and key:
        others = " or ".join(w for w in wanted if w != "a mapping")
        return f"write {others}, or `name: value` pairs, e.g. `{key}: {{name: value}}`"
    if len(wanted) > 1:
        return "write " + " or ".join(wanted)
    return None


def _other_error(
    err: dict[str, Any], loc: PathKey, full: PathKey, positions: Positions
) -> Diagnostic:
    kind = err["type"]
    value = err.get("input")
    span = positions.value(full)
    if kind in _LIMITS:
        name, words, advice = _LIMITS[kind]
        limit = (err.get("ctx") or {}).get(name)
        key = _key_name(loc) or "the value"
        return Diagnostic(
            f"{key} must be {words} {limit}, found {value!r}", span, "use " + advice.format(limit)
        )
    if kind in ("value_error", "assertion_error"):
        error = (err.get("ctx") or {}).get("error")
        message, hint = split_message(str(error) if error is not None else err["msg"])
        hint = getattr(error, "hint", None) or hint
        elsewhere = getattr(error, "span", None)
        if elsewhere is not None:
            return Diagnostic(message, elsewhere, hint)
        if isinstance(value, dict):
            mentioned = [k for k in value if re.search(_word(str(k)), message)]
            if mentioned:
                span = positions.key((*full, mentioned[-1]))
                if hint is None and len(mentioned) > 1 and re.search(r"\b(one|either)\b", message):
                    hint = "keep only one of " + ", ".join(map(repr, mentioned))
        return Diagnostic(message, span, hint)
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        return Diagnostic(f"expected {expected}, found {describe(value)}", span, None)
    message = re.sub(r"^Input should be ", "expected ", str(err["msg"]))
    return Diagnostic(f"{message}, found {describe(value)}", span, None)


def narrow_span(span: SourceSpan, text: str, needle: str, pattern: str | None = None) -> SourceSpan:
    """The span of `needle` (or of the first match of `pattern`) inside a one-line value
    whose source is `text`; the value's own span when it is not found there."""
    if span.end_column is None:
        return span
    lines = text.splitlines()
    if not 0 < span.line <= len(lines):
        return span
    start = span.column - 1
    segment = lines[span.line - 1][start : span.end_column - 1]
    if pattern is not None:
        found = re.search(pattern, segment)
        where, width = (found.start(), len(found.group())) if found else (-1, 0)
    else:
        where, width = segment.find(needle), len(needle)
    if where < 0:
        return span
    return replace(span, column=span.column + where, end_column=span.column + where + width)


def span_inside(span: SourceSpan, text: str, value: str, line: int, column: int) -> SourceSpan:
    """The place in the file of (`line`, `column`) (1-based) inside the string `value`,
    whose YAML scalar starts at `span`: a block scalar (`|`, `>`), a quoted or a plain
    one. Falls back to `span` when the source does not hold the value as expected."""
    lines = text.splitlines()
    if not 0 < span.line <= len(lines):
        return span
    head = lines[span.line - 1][span.column - 1 :]
    offset = sum(len(part) + 1 for part in value.split("\n")[: line - 1]) + column - 1
    if head[:1] in ("|", ">"):
        # the content lines follow the header, indented alike; `|` keeps line breaks and
        # `>` folds them into spaces: either way one character separates two lines
        indent = None
        at = 0
        for number in range(span.line + 1, len(lines) + 1):
            source = lines[number - 1]
            if indent is None:
                if not source.strip():
                    at += 1
                    continue
                indent = len(source) - len(source.lstrip(" "))
            content = source[indent:] if source.strip() else ""
            if offset <= at + len(content):
                return SourceSpan(span.path, number, indent + (offset - at) + 1, None)
            at += len(content) + 1
        return span
    if "\n" in value:
        return span  # a multi-line flow scalar: its folding is not worth undoing
    quote = 1 if head[:1] in ("'", '"') else 0
    return SourceSpan(span.path, span.line, span.column + quote + offset, None)


def _word(key: str) -> str:
    return rf"(?<![\w-]){re.escape(key)}(?![\w-])"


def split_message(message: str) -> tuple[str, str | None]:
    """A validator's message cut into the problem and the hint, when it holds both."""
    duration = re.match(r"expected a duration like .*, got (?P<got>.+)$", message)
    if duration:
        return f"invalid duration {duration.group('got')}", DURATION_HINT
    problem, sep, expected = message.partition(": expected ")
    if sep and problem:
        return problem, "expected " + expected
    return message, None
