"""Where a PostgreSQL script's statements begin, and which one fails.

An init script or SQL fixture runs on PostgreSQL as one simple query (so `DO` blocks and
function bodies need no special handling). When the server reports an error without a
position (`role "x" does not exist`), the failing statement is found by running the
statements one at a time inside a transaction that is rolled back, each under its own
savepoint, and taking the first that fails with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
# statements that would end or nest the transaction the search runs in
_TRANSACTION = re.compile(
    r"(begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction)\b",
    re.I,
)


def split(text: str) -> list[tuple[int, str]]:
    """(offset, statement) for each statement of a PostgreSQL script: `;` outside quotes
    ('…', E'…', "…"), comments (--, nested /* */) and dollar-quoted bodies ($tag$…$tag$)."""
    out: list[tuple[int, str]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":
            escapes = i > 0 and text[i - 1] in "eE" and (i < 2 or not _word(text[i - 2]))
            i = _end_of_quote(text, i, "'", escapes)
            continue
        if ch == '"':
            i = _end_of_quote(text, i, '"', False)
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            i = _end_of_comment(text, i)
            continue
        if ch == "$" and (i == 0 or not _word(text[i - 1])):
            tag = _DOLLAR.match(text, i)
            if tag:
                end = text.find(tag.group(), tag.end())
                i = n if end < 0 else end + len(tag.group())
                continue
        if ch == ";":
            _add(out, text, start, i)
            start = i + 1
        i += 1
    _add(out, text, start, n)
    return out


def failing_statement(
    cur: Any, text: str, message: str, message_of: Callable[[Exception], str]
) -> int | None:
    """The offset of the first statement of `text` that fails with `message`, or None.

    Runs in a transaction that is always rolled back (the failed script left nothing:
    PostgreSQL runs a multi-statement query as one implicit transaction)."""
    import psycopg

    conn = cur.connection
    conn.rollback()
    found: int | None = None
    try:
        with conn.transaction():
            for offset, statement in split(text):
                if _TRANSACTION.match(statement):
                    continue
                try:
                    with conn.transaction():  # a savepoint: a failure does not end the search
                        cur.execute(statement)
                except psycopg.Error as exc:
                    if message_of(exc) == message:
                        found = offset
                        break
            raise psycopg.Rollback()
    except psycopg.Error:
        return found
    return found


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _end_of_quote(text: str, i: int, quote: str, escapes: bool) -> int:
    j, n = i + 1, len(text)
    while j < n:
        if escapes and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            if text.startswith(quote * 2, j):
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _end_of_comment(text: str, i: int) -> int:
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return n


def _add(out: list[tuple[int, str]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    body = re.sub(r"/\*.*?\*/|--[^\n]*", " ", chunk, flags=re.S).strip()
    if body:
        lead = len(chunk) - len(chunk.lstrip())
        # a statement starts after the comments that precede it
        while True:
            rest = chunk[lead:]
            skip = re.match(r"(--[^\n]*\n?|/\*.*?\*/)\s*", rest, flags=re.S)
            if not skip:
                break
            lead += skip.end()
        out.append((start + lead, chunk[lead:].strip()))
