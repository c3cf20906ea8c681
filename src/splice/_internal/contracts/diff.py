"""What changed between two versions of a pact: interactions added, removed and changed.

An interaction is known by its description and provider states (what the provider is asked
to honour); two versions of it differ where their JSON differs, each change a path with its
old and new value (`response.body.content.amount: 12.5 → '12.50'`). V3 and V4 spellings are
compared as written, so a pact rewritten from V3 to V4 shows as changed throughout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_IGNORED: Final = frozenset({"key", "_links", "interactionMarkup"})
_MAX_CHANGES: Final = 50  # per interaction; more are summed up
_ABSENT: Final = object()


@dataclass
class Change:
    path: str
    old: Any  # _ABSENT when added
    new: Any  # _ABSENT when removed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.old is not _ABSENT:
            out["old"] = self.old
        if self.new is not _ABSENT:
            out["new"] = self.new
        return out

    def __str__(self) -> str:
        if self.old is _ABSENT:
            return f"{self.path}: added {_shown(self.new)}"
        if self.new is _ABSENT:
            return f"{self.path}: removed (was {_shown(self.old)})"
        return f"{self.path}: {_shown(self.old)} → {_shown(self.new)}"


@dataclass
class Changed:
    title: str
    changes: list[Change]
    more: int = 0  # changes beyond the ones listed


@dataclass
class PactDiff:
    consumer: str
    provider: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    unchanged: int = 0
    parties: list[Change] = field(default_factory=list)  # a consumer or provider renamed

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.parties)

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "provider": self.provider,
            "same": self.same,
            "parties": [c.to_json() for c in self.parties],
            "added": self.added,
            "removed": self.removed,
            "changed": [
                {
                    "interaction": c.title,
                    "changes": [x.to_json() for x in c.changes],
                    "more": c.more,
                }
                for c in self.changed
            ],
            "unchanged": self.unchanged,
        }

    def lines(self) -> list[str]:
        summary = (
            f"pact {self.consumer} → {self.provider}: {len(self.added)} added, "
            f"{len(self.removed)} removed, {len(self.changed)} changed, "
            f"{self.unchanged} unchanged"
        )
        out = [summary]
        out += [f"  {c}" for c in self.parties]
        out += [f"+ {title}" for title in self.added]
        out += [f"- {title}" for title in self.removed]
        for item in self.changed:
            out.append(f"~ {item.title}")
            out += [f"    {c}" for c in item.changes]
            if item.more:
                out.append(f"    ... and {item.more} more change(s)")
        return out


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _name(document: Mapping[str, Any], role: str) -> str:
    party = document.get(role)
    return str(party.get("name")) if isinstance(party, Mapping) else "?"


def _items(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = document.get("interactions")
    if not isinstance(items, list):
        items = document.get("messages")
    return [i for i in items or [] if isinstance(i, Mapping)]


def _states(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    states = item.get("providerStates")
    if isinstance(states, list):
        return [dict(s) for s in states if isinstance(s, Mapping)]
    state = item.get("providerState") or item.get("provider_state")
    return [{"name": str(state)}] if state else []


def _identity(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item.get("description", "")), json.dumps(_states(item), sort_keys=True)


def title(item: Mapping[str, Any]) -> str:
    given = " and ".join(str(s.get("name")) for s in _states(item))
    description = str(item.get("description", ""))
    return f"{description} (given {given})" if given else description


def _key_part(key: Any) -> str:
    text = str(key)
    plain = text.replace("_", "").replace("-", "").isalnum()
    return f".{text}" if plain else f"[{json.dumps(text)}]"


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            if not path and key in _IGNORED:
                continue
            where = f"{path}{_key_part(key)}" if path else str(key)
            _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), where, out)
        return
    if isinstance(old, list) and isinstance(new, list) and old != new:
        for i in range(max(len(old), len(new))):
            _walk(
                old[i] if i < len(old) else _ABSENT,
                new[i] if i < len(new) else _ABSENT,
                f"{path}[{i}]",
                out,
            )
        return
    if old is _ABSENT and new is _ABSENT:
        return
    if old is _ABSENT or new is _ABSENT or old != new or type(old) is not type(new):
        out.append(Change(path, old, new))


def diff_pacts(old: Mapping[str, Any], new: Mapping[str, Any]) -> PactDiff:
    """The differences between two pact documents (as JSON), old to new."""
    result = PactDiff(_name(new, "consumer"), _name(new, "provider"))
    for role in ("consumer", "provider"):
        if _name(old, role) != _name(new, role):
            result.parties.append(Change(role, _name(old, role), _name(new, role)))
    before = {_identity(i): i for i in _items(old)}
    after = {_identity(i): i for i in _items(new)}
    for key, item in after.items():
        if key not in before:
            result.added.append(title(item))
            continue
        changes: list[Change] = []
        _walk(before[key], item, "", changes)
        if changes:
            shown = changes[:_MAX_CHANGES]
            result.changed.append(Changed(title(item), shown, len(changes) - len(shown)))
        else:
            result.unchanged += 1
    result.removed = [title(i) for key, i in before.items() if key not in after]
    return result
