"""The `contracts:` section of splice.yaml: pacts verified by `splice run` beside the suites.

Each entry names a provider service and its pacts (files, or the store's pacts picked by
consumer version selectors); `contract_suites` turns them into the suites of
`contracts.verify.verification_suites`, so every interaction is a testcase of the run
(console, JUnit, JSON, HTML, store: history and flaky detection see them like any other).

Selectors, as Pact's consumer version selectors (their keys all apply; selectors add up):

- `latest: true`: the newest pact of each consumer (with `branch:`, on that branch);
- `branch: B`: the newest pact of each consumer published from branch B;
- `tag: T`: the newest pact of each consumer whose version has tag T;
- `deployed: E`: the pacts of the consumer versions currently deployed to E;
- `consumer: C`: only consumer C (narrows the others).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.contracts.verify import VerifyTarget, verification_suites
from splice._internal.errors import Diagnostic, SuiteError
from splice._internal.model.suite import Suite
from splice._internal.project.model import ContractPlan, Project, Selector


@dataclass
class StorePact:
    consumer: str
    version: str
    sha: str
    content: dict[str, Any]


def contract_suites(project: Project, store: Any = None) -> list[Suite]:
    """The suites that verify every entry of `contracts:`; `store` (a `Store`) is needed
    only for entries with `broker:`. Raises SuiteError with every located problem."""
    suites: list[Suite] = []
    problems: list[Diagnostic] = []
    for plan in project.contracts:
        paths = list(plan.pacts)
        if plan.from_store:
            paths = _store_pacts(plan, project.root, store, problems)
            if not paths:
                continue
        target = VerifyTarget(
            f"{{{{ services.{plan.provider}.url }}}}", plan.states, plan.state_url
        )
        try:
            suites.extend(verification_suites(paths, target))
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SuiteError(problems)
    return suites


def select_pacts(store: Any, provider: str, selectors: list[Selector]) -> list[StorePact]:
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
    chosen: dict[str, Any] = {}  # sha → row
    for selector in selectors:
        fits = [
            r
            for r in rows
            if (selector.consumer is None or r.consumer == selector.consumer)
            and (selector.branch is None or r.branch == selector.branch)
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
        StorePact(r.consumer, r.consumer_version, r.sha, json.loads(r.content))
        for r in sorted(chosen.values(), key=lambda r: (r.consumer, r.published_at))
    ]


def _store_pacts(
    plan: ContractPlan, root: Path, store: Any, problems: list[Diagnostic]
) -> list[Path]:
    """The selected pacts, written under .splice/pacts/ (where their interactions are
    located in reports)."""
    if store is None:
        problems.append(
            Diagnostic(
                f"the contract of {plan.provider!r} reads pacts from the store, which is off",
                plan.span,
                "leave out --no-store, or give `pacts:` files",
            )
        )
        return []
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
