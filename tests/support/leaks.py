"""Finding secrets in what splice produced: every spelling a secret can take on its way
out (raw, percent-encoded, base64, base64 of `user:secret`, JSON-escaped, inside longer
base64 data) and a grep of files and texts for all of them."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote, quote_plus

_BASIC_SHOWN = re.compile(rb"(?i)\bbasic[ \t]+(?!\*\*\*\*|<scrubbed>)[A-Za-z0-9+/=_-]{6}")
# users a secret may be paired with in a basic-auth credential
USERS = ("leak-user", "splice", "postgres", "")


def _b64_variants(data: bytes) -> set[str]:
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    return {std, std.rstrip("="), url, url.rstrip("=")}


def _b64_inside(data: bytes) -> set[str]:
    """The part of the base64 of any longer data that holds `data` at each of the three
    alignments, and only `data`'s bits."""
    out = set()
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data + b"\0\0").decode()
        start, end = -(-4 * k // 3), 4 * (k + len(data)) // 3
        core = encoded[start:end]
        if len(core) >= 8:
            out |= {core, core.replace("+", "-").replace("/", "_")}
    return out


def forms(secret: str) -> dict[str, str]:
    """Each spelling of `secret` that must never appear, by a short name."""
    raw = secret.encode()
    found: dict[str, str] = {"raw": secret}

    def put(name: str, text: str) -> None:
        if text and text not in found.values():
            found[name] = text

    for name, text in (
        ("percent", quote(secret, safe="")),
        ("percent-path", quote(secret)),
        ("percent-plus", quote_plus(secret)),
    ):
        put(name, text)
        put(name + "-lower", _lower_hex(text))
    put("json", json.dumps(secret, ensure_ascii=False)[1:-1])
    put("json-ascii", json.dumps(secret)[1:-1])
    for i, text in enumerate(sorted(_b64_variants(raw))):
        put(f"base64-{i}", text)
    for user in USERS:
        for i, text in enumerate(sorted(_b64_variants(f"{user}:{secret}".encode()))):
            put(f"basic-{user or 'empty'}-{i}", text)
    for i, text in enumerate(sorted(_b64_inside(raw))):
        put(f"base64-inside-{i}", text)
    return found


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


class Grep:
    """Counts, per source (a file or a named text), hits of every form of every secret."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.needles: list[tuple[str, str, bytes]] = []
        for way, secret in secrets.items():
            for form, text in forms(secret).items():
                self.needles.append((way, form, text.encode()))
        self.hits: dict[str, Counter[str]] = {}

    def data(self, source: str, data: bytes) -> None:
        counts: Counter[str] = Counter()
        # a basic credential is masked whole, the user's name too
        for _ in _BASIC_SHOWN.finditer(data):
            counts["basic credential shown"] += 1
        for way, form, needle in self.needles:
            n = data.count(needle)
            if n:
                counts[f"{way}/{form}"] += n
        if counts:
            self.hits[source] = self.hits.get(source, Counter()) + counts

    def text(self, source: str, text: str) -> None:
        self.data(source, text.encode())

    def file(self, path: Path, label: str | None = None) -> None:
        self.data(label or str(path), path.read_bytes())

    def report(self) -> str:
        lines = [
            f"{sum(sum(c.values()) for c in self.hits.values())} hits in {len(self.hits)} sources:"
        ]
        for source, counts in sorted(self.hits.items()):
            detail = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
            lines.append(f"  {source}: {sum(counts.values())} ({detail})")
        return "\n".join(lines)


def snapshot(folder: Path) -> dict[Path, bytes]:
    """Every file under `folder` and its content."""
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def produced(folder: Path, before: dict[Path, bytes]) -> list[Path]:
    """Files under `folder` that are new or changed since `before`."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and before.get(p) != p.read_bytes())
