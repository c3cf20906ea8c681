"""The pacts of `contracts:` entries with `broker:`, picked from the store by consumer
version selectors (see `contracts.project_contracts`). Only front ends that open a store
(`splice run`) import this module."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splice._internal.contracts.project_contracts import StorePacts
from splice._internal.errors import Diagnostic
from splice._internal.project.model import ContractPlan, Selector

if TYPE_CHECKING:
    from splice._internal.store.core import Store


@dataclass
class StorePact:
    consumer: str
    version: str
    sha: str
    content: dict[str, Any]
    branch: str = ""


def select_pacts(store: Store, provider: str, selectors: list[Selector]) -> list[StorePact]:
    """The pacts of `provider` the selectors pick (each once), by consumer."""
    from sqlalchemy import select

    from splice._internal.store import schema as t

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.pacts).where(t.pacts.c.provider == provider).order_by(t.pacts.c.published_at)
        ).all()
        tags: dict[tuple[str, str], set[str]] = {}
        for name, version, tag in conn.execute(
            select(
                t.pacticipant_tags.c.pacticipant,
                t.pacticipant_tags.c.version,
                t.pacticipant_tags.c.tag,
            )
        ):
            tags.setdefault((name, version), set()).add(tag)
        deployed: dict[str, set[tuple[str, str]]] = {}
        for name, version, environment in conn.execute(
            select(
                t.deployments.c.pacticipant, t.deployments.c.version, t.deployments.c.environment
            ).where(t.deployments.c.current.is_(True))
        ):
            deployed.setdefault(environment, set()).add((name, version))
    mains: dict[str, str | None] = {}
    if any(s.main_branch for s in selectors):
        from splice._internal.contracts.pacticipants import main_branch

        mains = {r.consumer: main_branch(store, r.consumer) for r in rows}
    chosen: dict[str, Any] = {}  # sha → row
    for selector in selectors:
        fits = [
            r
            for r in rows
            if (selector.consumer is None or r.consumer == selector.consumer)
            and (selector.branch is None or r.branch == selector.branch)
            and (not selector.main_branch or r.branch == mains[r.consumer])
            and (
                selector.tag is None
                or selector.tag in tags.get((r.consumer, r.consumer_version), ())
            )
            and (
                selector.deployed is None
                or (r.consumer, r.consumer_version) in deployed.get(selector.deployed, ())
            )
        ]
        if selector.deployed is None:  # latest (of a branch, of a tag): the newest each
            newest: dict[str, Any] = {}
            for row in fits:
                newest[row.consumer] = row
            fits = list(newest.values())
        for row in fits:
            chosen.setdefault(row.sha, row)
    return [
        StorePact(r.consumer, r.consumer_version, r.sha, json.loads(r.content), r.branch)
        for r in sorted(chosen.values(), key=lambda r: (r.consumer, r.published_at))
    ]


def from_store(store: Store, root: Path) -> StorePacts:
    """The `StorePacts` of `contracts.project_contracts` that reads `store`."""
    return functools.partial(_store_pacts, store, root)


def _store_pacts(
    store: Store, root: Path, plan: ContractPlan, problems: list[Diagnostic]
) -> list[Path]:
    """The selected pacts, written under .splice/pacts/ (where their interactions are
    located in reports)."""
    found = select_pacts(store, plan.provider_name, plan.selectors)
    if not found:
        problems.append(
            Diagnostic(
                f"the store holds no pact of the provider {plan.provider_name!r} that the "
                "selectors pick",
                plan.span,
                "publish one with `splice contract publish`, or widen the selectors",
            )
        )
        return []
    folder = root / ".splice" / "pacts"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for pact in found:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in pact.version)
        path = folder / f"{pact.consumer}-{plan.provider_name}-{safe}.json"
        text = json.dumps(pact.content, indent=2)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
