"""One self-contained HTML page per run: open it from a CI artifact or mail it around.

Everything is inline (CSS, a few lines of JS); the page loads nothing from anywhere, and its
Content-Security-Policy forbids it to, so a captured body that contains markup or a URL is
shown as text and never fetched. Jinja2 autoescaping covers every value from the run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import json
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from splice._internal.masking import Masker
from splice._internal.model.results import Failure, RunResult, Status
from splice._internal.reporting.html_parts import checks, readable, service_logs

__all__ = ["write_html"]

BODY_LIMIT = 4096  # bytes of one request/response field or capture shown before cutting
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_GROUPS = {
    Status.PASSED: "passed",
    Status.FLAKY: "passed",
    Status.SKIPPED: "skipped",
    Status.FAILED: "failed",
    Status.ERROR: "failed",
    Status.INTERRUPTED: "failed",
    Status.XFAILED: "skipped",  # expected to fail: not a failure of the run
    Status.XPASSED: "failed",  # strict xfail that passed: fails the run
}


@dataclass(frozen=True)
class Shown:
    """Text to show, and how many bytes of the original were left out (0: none)."""

    text: str
    more: int = 0


def write_html(run: RunResult, path: Path, masker: Masker | None = None) -> None:
    """Write `run` as one self-contained HTML page to `path`, creating its folder; the
    service logs it embeds go through `masker` too (the kept logs already did)."""
    text = render_html(run, masker)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8", errors="replace")
    partial.replace(path)


def render_html(run: RunResult, masker: Masker | None = None) -> str:
    """The HTML page for `run`, as text."""
    base = Path(run.cwd) if run.cwd else Path.cwd()
    counts = run.counts()
    shown = ["passed", "failed", "error", "skipped", "flaky"]
    for extra in (Status.XFAILED, Status.XPASSED, Status.INTERRUPTED):
        if counts[extra.value]:
            shown.append(extra.value)
    groups = {"all": len(run.testcases()), "failed": 0, "passed": 0, "skipped": 0}
    for tc in run.testcases():
        groups[_GROUPS[tc.status]] += 1
    template = _environment().get_template("report.html.j2")
    return template.render(
        run=run,
        counts={name: counts[name] for name in shown},
        groups=groups,
        command=shlex.join(run.command),
        logs=service_logs(run.services, masker),
        generated=_when(datetime.now(UTC).timestamp()),
        rel=lambda p: _relative(p, base),
    )


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("splice._internal.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    env.filters.update(
        duration=_duration,
        when=_when,
        json=_json_value,
        csp_hash=_csp_hash,
        diff_class=_diff_class,
    )
    env.globals.update(fields=_fields, diff=_diff, checks=checks, group=lambda s: _GROUPS[s])
    return env


def _visible(value: Any) -> Any:
    """Control characters as `\\x1b`-style text: browsers would drop or garble them."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _CONTROL.sub(_escape_char, value)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shorten(text: str, limit: int = BODY_LIMIT) -> Shown:
    """At most `limit` UTF-8 bytes of `text`, cut on a character boundary."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return Shown(text)
    head = data[:limit].decode("utf-8", "ignore")
    return Shown(head, len(data) - len(head.encode("utf-8", "surrogatepass")))


def _json_value(value: Any) -> Shown:
    """A compared or captured value as indented JSON (strings keep their quotes)."""
    return _shorten(json.dumps(value, indent=2, ensure_ascii=False, default=repr))


def _pretty(value: Any) -> str:
    """A request/response field for reading: text as is (JSON text re-indented), else JSON."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if value.lstrip()[:1] in ("{", "["):
            try:
                return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def _fields(message: dict[str, Any] | None) -> list[tuple[str, Shown]]:
    """A request or response as (field, shortened text) pairs, in the executor's order."""
    return [
        (str(key), _shorten(_pretty(value)))
        for key, value in readable(message).items()
        if value is not None  # an unset field of the request says nothing
    ]


def _diff(failure: Failure) -> list[str] | None:
    """Lines of `expect.render_diff` when that exists and says more than the message.

    It gives a single line for two scalars, which the message and the expected/actual boxes
    already show; a diff is worth its space for structures and long strings.
    """
    if failure.expected is None and failure.actual is None:
        return None
    try:
        module = importlib.import_module("splice._internal.expect")
    except ImportError:
        return None
    render = getattr(module, "render_diff", None)
    if not callable(render):
        return None
    try:
        out = render(failure.expected, failure.actual)
    except Exception:  # noqa: BLE001 - a diff is a convenience; it must never cost the whole report
        return None
    lines = out.splitlines() if isinstance(out, str) else [str(line) for line in out or ()]
    return lines if len(lines) > 1 else None


def _diff_class(line: str) -> str:
    """CSS class of a diff line: group headings, `-` expected, `+` actual, `?` markers."""
    if line.endswith(":") and not line.startswith(" "):
        return "d-head"
    return {"-": "d-del", "+": "d-add", "?": "d-mark"}.get(line.lstrip()[:2].strip(), "")


def _csp_hash(script: str) -> str:
    """The CSP hash source (`sha256-…`, quoted by the caller) of exactly this inline script."""
    digest = hashlib.sha256(str(script).encode("utf-8")).digest()
    return f"sha256-{base64.b64encode(digest).decode('ascii')}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _when(epoch: float) -> str:
    if not epoch:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _relative(path: Path, base: Path) -> str:
    """`path` relative to `base` when it lies below it, else as given; always with `/`."""
    if path.is_absolute():
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()
