"""The broker's pacticipants, their versions and branches, read from what the store keeps.

The store has no table of pacticipants: a pacticipant is a name that published a pact
(consumer) or is the provider of one; a version of it is a consumer version that
published a pact or a provider version that recorded a verification; its branch is the
one it was published or verified from, and its tags those of `pacticipant_tags`.

The store records no *main branch* of a pacticipant either. It is taken as `main` when
the pacticipant has a version on a branch named `main`, else `master` when it has one on
`master`, else there is none: the two names repositories default to, and never a guess
from anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from splice._internal.contracts.broker import pacticipants as names
from splice._internal.store import schema as t
from splice._internal.store.core import Store

MAIN_BRANCHES = ("main", "master")


@dataclass
class Version:
    number: str
    branch: str = ""  # the first non-empty branch seen for it ("" when none was given)
    tags: list[str] = field(default_factory=list)
    created: float = 0.0  # when the store first saw it (publication or verification)
    deployed: list[str] = field(default_factory=list)  # environments it runs in now


@dataclass
class Branch:
    name: str
    latest: str  # the newest version on it
    updated: float


def versions(store: Store, pacticipant: str) -> list[Version]:
    """Every version of the pacticipant, newest first (by when the store first saw it)."""
    with store.engine.connect() as conn:
        seen = conn.execute(
            select(
                t.pacts.c.consumer_version.label("v"),
                t.pacts.c.branch.label("b"),
                t.pacts.c.published_at.label("at"),
            )
            .where(t.pacts.c.consumer == pacticipant)
            .union_all(
                select(
                    t.verifications.c.provider_version,
                    t.verifications.c.provider_branch,
                    t.verifications.c.verified_at,
                ).where(t.verifications.c.provider == pacticipant)
            )
        ).all()
        tags = conn.execute(
            select(t.pacticipant_tags.c.version, t.pacticipant_tags.c.tag).where(
                t.pacticipant_tags.c.pacticipant == pacticipant
            )
        ).all()
        deployed = conn.execute(
            select(t.deployments.c.version, t.deployments.c.environment).where(
                t.deployments.c.pacticipant == pacticipant, t.deployments.c.current.is_(True)
            )
        ).all()
    found: dict[str, Version] = {}
    for number, branch, at in sorted(seen, key=lambda row: row.at):
        version = found.setdefault(number, Version(number, created=at))
        version.branch = version.branch or branch
    for number, tag in tags:
        if number in found:
            found[number].tags.append(tag)
    for number, environment in deployed:
        if number in found:
            found[number].deployed.append(environment)
    for version in found.values():
        version.tags.sort()
        version.deployed.sort()
    return sorted(found.values(), key=lambda v: (-v.created, v.number))


def branches(store: Store, pacticipant: str) -> list[Branch]:
    """The branches the pacticipant's versions came from, by name, with the newest version
    of each."""
    return _branches(versions(store, pacticipant))


def _branches(found: list[Version]) -> list[Branch]:
    newest: dict[str, Branch] = {}
    for version in reversed(found):  # oldest first: the newest wins
        if version.branch:
            newest[version.branch] = Branch(version.branch, version.number, version.created)
    return [newest[name] for name in sorted(newest)]


def main_branch(store: Store, pacticipant: str) -> str | None:
    """`main` or `master` when the pacticipant has a version on it (see the module)."""
    return _main(versions(store, pacticipant))


def _main(found: list[Version]) -> str | None:
    have = {b.name for b in _branches(found)}
    return next((name for name in MAIN_BRANCHES if name in have), None)


def known(store: Store) -> list[str]:
    """Every pacticipant's name, sorted."""
    return sorted(names(store))


def summary(store: Store, pacticipant: str) -> dict[str, Any]:
    """What the pacticipant resource says of it beyond its name."""
    found = versions(store, pacticipant)
    return {
        "mainBranch": _main(found),
        "latestVersion": found[0].number if found else None,
        "createdAt": min((v.created for v in found), default=None),
    }
