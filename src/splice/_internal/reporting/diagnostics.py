"""Render located errors the way compilers do: message, place, source line, caret, hint;
and a service that could not start: message, log tail, hint."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from splice._internal.errors import Diagnostic, SourceSpan, where

if TYPE_CHECKING:
    from splice._internal.masking import Masker
    from splice._internal.services.kind_api import ServiceError

LINE_WINDOW = 160  # characters of a long source line shown around the column


def _lines(path: Path) -> list[str]:
    try:
        stat = path.stat()
    except (OSError, ValueError):
        return []
    # keyed by modification time and size too, so an edited file is read again
    return _read_lines(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_lines(path: Path, mtime_ns: int, size: int) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def source_line(span: SourceSpan) -> str | None:
    """The text of the line a span points at, tabs shown as spaces."""
    lines = _lines(span.path)
    if 0 < span.line <= len(lines):
        return lines[span.line - 1].replace("\t", " ")
    return None


def render_diagnostic(diag: Diagnostic, severity: str = "error") -> str:
    """The full multi-line text of one diagnostic."""
    out = [f"{severity}: {diag.message}"]
    span = diag.span
    if span is not None:
        out.append(f"  --> {where(span)}")
        lines = _lines(span.path) or [""]  # an empty file still shows its (empty) line 1
        if 0 < span.line <= len(lines):
            source = lines[span.line - 1].replace("\t", " ")
            gutter = " " * len(str(span.line))
            width = 1
            if span.end_column is not None and span.end_column > span.column:
                width = span.end_column - span.column
            source, column = line_window(source, span.column)
            width = max(1, min(width, len(source) - column + 1))
            out.append(f" {gutter} |")
            out.append(f" {span.line} | {source}".rstrip())
            out.append(f" {gutter} | {' ' * (column - 1)}{'^' * width}")
        if diag.hint:
            out.append(f" {' ' * len(str(span.line))} = hint: {diag.hint}")
    elif diag.hint:
        out.append(f"  = hint: {diag.hint}")
    return "\n".join(out)


def line_window(source: str, column: int) -> tuple[str, int]:
    """A line cut to `LINE_WINDOW` characters around `column` (a minified file is one line
    of megabytes), and the column in the cut line."""
    if len(source) <= LINE_WINDOW:
        return source, column
    start = max(0, min(column - 1 - LINE_WINDOW // 2, len(source) - LINE_WINDOW))
    cut = source[start : start + LINE_WINDOW]
    prefix = "…" if start else ""
    suffix = "…" if start + LINE_WINDOW < len(source) else ""
    return prefix + cut + suffix, column - start + len(prefix)


def render_diagnostics(diags: list[Diagnostic]) -> str:
    body = "\n\n".join(render_diagnostic(d) for d in diags)
    files = {d.span.path for d in diags if d.span}
    count = f"{len(diags)} error{'s' if len(diags) != 1 else ''}"
    where_ = f" in {len(files)} file{'s' if len(files) != 1 else ''}" if files else ""
    return f"{body}\n\n{count}{where_}"


def render_service_error(exc: ServiceError, masker: Masker | None = None) -> str:
    """A service that could not start, as plain text: the message, the last lines of its
    log (and where the whole log is), the hint; masked first when `masker` is given."""
    if masker is not None:
        exc.mask(masker)
    lines = [f"error: {exc}"]
    if exc.log_tail:
        where = f" of {exc.log_path}" if exc.log_path else ""
        lines.append(f"  last {len(exc.log_tail)} log lines{where}:")
        lines += [f"  | {line}" for line in exc.log_tail]
    if exc.hint:
        lines.append(f"  = hint: {exc.hint}")
    return "\n".join(lines)
