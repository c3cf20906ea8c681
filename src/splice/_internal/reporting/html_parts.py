"""What the HTML report derives from a run at render time, so the run costs nothing for it:
the tail of each service's log, message fields made readable, and what a step checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.expect.vocabulary import is_array, is_matcher, is_object, render_loc
from splice._internal.masking import Masker
from splice._internal.model.results import StepResult

__all__ = ["Check", "ServiceLog", "checks", "readable", "service_logs"]

LOG_LINES = 50  # lines of each service's log the report embeds
LOG_BYTES = 64 * 1024  # at most this much of a log's end is read to find them
LOG_LINE_LIMIT = 2000  # characters of one log line shown before cutting
CHECK_LIMIT = 60  # checks of one step listed before "… N more"
VALUE_LIMIT = 300  # characters of one expected value shown in the list of checks
# fields that hold a message as text, next to `json` holding the same message parsed
_TEXT_FIELDS = ("body", "data", "payload", "text", "value", "stdout")
# fields whose JSON text is shown parsed at any depth: message bodies (not a command's
# arguments, say, which stay the strings that were sent)
_BODY_FIELDS = frozenset({*_TEXT_FIELDS, "bodies", "message", "messages", "reply", "values"})


@dataclass(frozen=True)
class ServiceLog:
    """One service of the run, with the last lines of its kept log (when it was found)."""

    name: str
    kind: str
    provider: str
    url: str
    started_in: float
    file: str | None  # the log's file name, where a CI artifact keeps it beside the report
    lines: list[str] | None  # None: the run named no log, or the file is gone
    cut: bool  # the log has more lines before the ones shown


@dataclass(frozen=True)
class Check:
    """One thing a step checked: where (`json.items[0].id`), how (`==`, `$len`, `assert`)
    and the expected value as compact JSON (or the assert expression itself)."""

    path: str
    matcher: str
    expected: str


def service_logs(services: list[dict[str, Any]], masker: Masker | None = None) -> list[ServiceLog]:
    """The run's services with their log tails, masked again (the kept log already is)."""
    out = []
    for entry in services:
        log = entry.get("log")
        lines, cut = _tail(Path(log)) if log else (None, False)
        if lines is not None and masker:
            lines = [masker.text(line) for line in lines]
        out.append(
            ServiceLog(
                name=str(entry.get("name", "")),
                kind=str(entry.get("kind", "")),
                provider=str(entry.get("provider", "")),
                url=str(entry.get("url", "")),
                started_in=float(entry.get("started_in") or 0.0),
                file=Path(log).name if log else None,
                lines=lines,
                cut=cut,
            )
        )
    return out


def _tail(path: Path, count: int = LOG_LINES) -> tuple[list[str] | None, bool]:
    """The last `count` lines of `path` (reading at most `LOG_BYTES` of its end), and
    whether lines come before them; (None, False) when the file cannot be read."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            start = max(0, size - LOG_BYTES)
            f.seek(start)
            data = f.read()
    except OSError:
        return None, False
    lines = data.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line read is probably the end of a longer one
    cut = start > 0 or len(lines) > count
    return [_cut_line(line) for line in lines[-count:]], cut


def _cut_line(line: str) -> str:
    if len(line) <= LOG_LINE_LIMIT:
        return line
    return f"{line[:LOG_LINE_LIMIT]} … ({len(line) - LOG_LINE_LIMIT} more characters)"


def readable(message: Mapping[str, Any] | None) -> dict[str, Any]:
    """A request or response for reading: JSON text inside it parsed (a message body in a
    list of messages, say), and a text field left out where `json` beside it holds the same
    message parsed, so a body is shown once."""
    if not message:
        return {}
    return _readable_dict(message)


def _readable(value: Any, body: bool) -> Any:
    """`value` with JSON text parsed in message bodies (`body`: `value` is one, or a list
    of them) and in the body fields of objects inside it."""
    if isinstance(value, Mapping):
        return _readable_dict(value)
    if isinstance(value, list | tuple):
        return [_readable(v, body) for v in value]
    if body and isinstance(value, str | bytes):
        return _parsed(value, value)
    return value


def _readable_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    parsed = value.get("json")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if parsed is not None and key in _TEXT_FIELDS and _parsed(item, None) == parsed:
            continue  # the same message as `json` shows, unparsed
        if key == "messages" and _only_message(item, value.get("message")):
            continue  # the one message, also given as `message`
        out[key] = item if key == "json" else _readable(item, key in _BODY_FIELDS)
    return out


def _only_message(messages: Any, message: Any) -> bool:
    return isinstance(messages, list) and len(messages) == 1 and messages[0] == message


def _parsed(text: Any, default: Any) -> Any:
    """`text` parsed when it is JSON text of an object or an array, else `default`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or text.lstrip()[:1] not in ("{", "["):
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def checks(step: StepResult) -> tuple[list[Check], int]:
    """What `step` checked, one row per compared value or matcher, and how many rows past
    `CHECK_LIMIT` were left out."""
    found: list[Check] = []
    for name, expected in (step.expect or {}).items():
        _flatten(expected, str(name), (), found)
    found += [Check(expression, "assert", "") for expression in step.asserted]
    return found[:CHECK_LIMIT], max(0, len(found) - CHECK_LIMIT)


def _flatten(value: Any, root: str, loc: tuple[Any, ...], out: list[Check]) -> None:
    path = render_loc(root, loc)
    if is_matcher(value):
        out.extend(Check(path, str(op), _compact(operand)) for op, operand in value.items())
    elif is_object(value) and value:
        for key, item in value.items():
            _flatten(item, root, (*loc, key), out)
    elif is_array(value) and any(is_object(v) or is_array(v) for v in value):
        out.append(Check(path, "$len", str(len(value))))
        for index, item in enumerate(value):
            _flatten(item, root, (*loc, index), out)
    else:
        out.append(Check(path, "==", _compact(value)))


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    if len(text) <= VALUE_LIMIT:
        return text
    return f"{text[:VALUE_LIMIT]} … ({len(text) - VALUE_LIMIT} more characters)"
