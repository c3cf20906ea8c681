"""A Pact broker in the results store: pacts by consumer version, verification results by
provider version, deployments by environment, and `can_i_deploy` from that matrix.

The tables are `pacts`, `pacticipant_tags`, `verifications` and `deployments` of
`splice._internal.store.schema` (SQLite by default, PostgreSQL for a team), so a team needs no extra
server: `splice serve` answers Pact Broker-style calls from the same store.

- A pact is identified by the sha256 of its canonical JSON, so republishing the same
  contract under a new consumer version needs no new verification (as in the Pact Broker).
- A pact whose content no version of the provider has verified successfully is *pending*:
  its failures are reported but do not fail the provider's verification.
- A *work-in-progress* pact (`pacts_for_verification(..., include_wip_since=T)`) is the
  newest pact of a consumer branch, published since T, that no version of the provider
  has verified successfully and that the latest pacts do not already include: a consumer's
  feature branch gets its pact verified by the provider's builds before anyone asks for
  it, and its failures never fail those builds (it is pending too).
- `can_i_deploy(P, V, E)` answers from the deployments in E: as a consumer, every provider
  deployed in E must have verified V's pacts; as a provider, V must have verified the pact
  of every consumer version deployed in E.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from splice._internal.errors import UsageError
from splice._internal.project.model import Selector
from splice._internal.store import schema as t
from splice._internal.store.core import Store


def canonical(document: Mapping[str, Any]) -> tuple[str, str]:
    """The pact as canonical JSON text (sorted keys) and its sha256."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text, hashlib.sha256(text.encode()).hexdigest()


def _names(document: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return str(document["consumer"]["name"]), str(document["provider"]["name"])
    except (KeyError, TypeError):
        raise UsageError(
            "the pact names no consumer or provider", 'a pact has "consumer": {"name": ...}'
        ) from None


def publish(
    store: Store,
    document: Mapping[str, Any],
    version: str,
    branch: str = "",
    tags: Iterable[str] = (),
) -> dict[str, Any]:
    """Store the pact of a consumer version (replacing what that version had published)."""
    if not version.strip():
        raise UsageError("the consumer version is empty", "pass --version, e.g. a commit sha")
    consumer, provider = _names(document)
    content, sha = canonical(document)
    now = time.time()
    with store.engine.begin() as conn:
        key = and_(
            t.pacts.c.consumer == consumer,
            t.pacts.c.provider == provider,
            t.pacts.c.consumer_version == version,
        )
        existing = conn.execute(select(t.pacts.c.sha).where(key)).scalar()
        values = {"branch": branch, "sha": sha, "content": content, "published_at": now}
        if existing is None:
            conn.execute(
                insert(t.pacts).values(
                    consumer=consumer, provider=provider, consumer_version=version, **values
                )
            )
        else:
            conn.execute(update(t.pacts).where(key).values(**values))
        for tag in tags:
            exists = conn.execute(
                select(func.count()).where(
                    t.pacticipant_tags.c.pacticipant == consumer,
                    t.pacticipant_tags.c.version == version,
                    t.pacticipant_tags.c.tag == tag,
                )
            ).scalar()
            if not exists:
                conn.execute(
                    insert(t.pacticipant_tags).values(
                        pacticipant=consumer, version=version, tag=tag
                    )
                )
    return {
        "consumer": consumer,
        "provider": provider,
        "version": version,
        "sha": sha,
        "replaced": existing is not None and existing != sha,
    }


def record_verification(
    store: Store,
    *,
    consumer: str,
    provider: str,
    pact_sha: str,
    provider_version: str,
    success: bool,
    branch: str = "",
    run_id: str | None = None,
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.verifications).values(
                consumer=consumer,
                provider=provider,
                pact_sha=pact_sha,
                provider_version=provider_version,
                provider_branch=branch,
                success=success,
                run_id=run_id,
                verified_at=time.time(),
            )
        )


def _known_versions(store: Store, pacticipant: str) -> list[str]:
    with store.engine.connect() as conn:
        consumer = select(t.pacts.c.consumer_version.label("v"), t.pacts.c.published_at.label("at"))
        consumer = consumer.where(t.pacts.c.consumer == pacticipant)
        provider = select(
            t.verifications.c.provider_version.label("v"), t.verifications.c.verified_at.label("at")
        ).where(t.verifications.c.provider == pacticipant)
        rows = conn.execute(consumer.union_all(provider)).all()
    newest: dict[str, float] = {}
    for version, at in rows:
        newest[version] = max(at, newest.get(version, 0.0))
    return sorted(newest, key=lambda v: -newest[v])


def _check_known(store: Store, pacticipant: str, version: str) -> None:
    versions = _known_versions(store, pacticipant)
    if not versions:
        known = sorted(pacticipants(store))
        raise UsageError(
            f"unknown pacticipant {pacticipant!r}",
            "known: " + ", ".join(known) if known else "publish a pact first",
        )
    if version not in versions:
        raise UsageError(
            f"unknown version {version!r} of {pacticipant!r}",
            "latest versions: " + ", ".join(versions[:5]),
        )


def pacticipants(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.pacts.c.consumer, t.pacts.c.provider).distinct()).all()
    return {name for row in rows for name in row}


def record_deployment(store: Store, pacticipant: str, version: str, environment: str) -> None:
    """V of P is now what runs in E (the version deployed before is no longer current)."""
    _check_known(store, pacticipant, version)
    with store.engine.begin() as conn:
        conn.execute(
            update(t.deployments)
            .where(
                t.deployments.c.pacticipant == pacticipant,
                t.deployments.c.environment == environment,
                t.deployments.c.current.is_(True),
            )
            .values(current=False)
        )
        conn.execute(
            insert(t.deployments).values(
                pacticipant=pacticipant,
                version=version,
                environment=environment,
                deployed_at=time.time(),
                current=True,
            )
        )


def _verified_shas(conn: Any, provider: str) -> set[str]:
    """The pacts (by sha) that some version of `provider` verified successfully: those
    no longer pending."""
    query = select(t.verifications.c.pact_sha).where(
        t.verifications.c.provider == provider, t.verifications.c.success.is_(True)
    )
    return {sha for (sha,) in conn.execute(query)}


def _selected(store: Store, provider: str, selectors: list[Selector]) -> list[dict[str, Any]]:
    """The pacts `selectors` pick (`contracts.store_pacts.select_pacts`), each with whether
    it is pending (never verified successfully by any version of the provider)."""
    from splice._internal.contracts.store_pacts import select_pacts

    picked = select_pacts(store, provider, selectors)
    with store.engine.connect() as conn:
        verified = _verified_shas(conn, provider)
    return [
        {
            "consumer": p.consumer,
            "provider": provider,
            "version": p.version,
            "branch": p.branch,
            "sha": p.sha,
            "pending": p.sha not in verified,
            "content": p.content,
        }
        for p in picked
    ]


def latest_for_provider(
    store: Store, provider: str, branch: str | None = None
) -> list[dict[str, Any]]:
    """The newest pact of each consumer of `provider` (on `branch` when given), with
    whether it is pending (never verified successfully by any version of the provider)."""
    with store.engine.connect() as conn:
        query = select(t.pacts).where(t.pacts.c.provider == provider)
        if branch is not None:
            query = query.where(t.pacts.c.branch == branch)
        rows = conn.execute(query.order_by(t.pacts.c.published_at)).all()
        newest: dict[str, Any] = {}
        for row in rows:
            newest[row.consumer] = row
        verified = _verified_shas(conn, provider)
    return [
        {
            "consumer": row.consumer,
            "provider": provider,
            "version": row.consumer_version,
            "branch": row.branch,
            "sha": row.sha,
            "pending": row.sha not in verified,
            "content": json.loads(row.content),
        }
        for row in sorted(newest.values(), key=lambda r: r.consumer)
    ]


def pacts_for_verification(
    store: Store,
    provider: str,
    *,
    include_wip_since: float | None = None,
    selectors: list[Selector] | None = None,
) -> list[dict[str, Any]]:
    """The pacts a provider's build verifies: those the consumer version `selectors` pick
    (none: the newest of each consumer; `wip` false), and with `include_wip_since` the
    work-in-progress pacts (`wip` and `pending` true): of each consumer branch the newest
    pact published since then that no provider version has verified successfully and that
    is not one of those already chosen."""
    found = (
        _selected(store, provider, selectors) if selectors else latest_for_provider(store, provider)
    )
    for pact in found:
        pact["wip"] = False
    if include_wip_since is None:
        return found
    chosen = {p["sha"] for p in found}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.pacts)
            .where(t.pacts.c.provider == provider, t.pacts.c.published_at >= include_wip_since)
            .order_by(t.pacts.c.published_at)
        ).all()
        verified = _verified_shas(conn, provider)
    newest: dict[tuple[str, str], Any] = {}
    for row in rows:
        newest[(row.consumer, row.branch)] = row
    wip = []
    for (consumer, _branch), row in sorted(newest.items()):
        if row.sha in verified or row.sha in chosen:
            continue
        chosen.add(row.sha)
        wip.append(
            {
                "consumer": consumer,
                "provider": provider,
                "version": row.consumer_version,
                "branch": row.branch,
                "sha": row.sha,
                "pending": True,
                "wip": True,
                "content": json.loads(row.content),
            }
        )
    return found + wip


def find_pact(
    store: Store,
    provider: str,
    consumer: str,
    *,
    sha: str | None = None,
    version: str | None = None,
) -> dict[str, Any] | None:
    """One published pact, by its content's sha or by the consumer version (the newest
    publication of that content); None when there is none."""
    with store.engine.connect() as conn:
        query = select(t.pacts).where(
            t.pacts.c.provider == provider, t.pacts.c.consumer == consumer
        )
        if sha is not None:
            query = query.where(t.pacts.c.sha == sha)
        if version is not None:
            query = query.where(t.pacts.c.consumer_version == version)
        row = conn.execute(query.order_by(t.pacts.c.published_at.desc()).limit(1)).first()
    if row is None:
        return None
    return {
        "consumer": consumer,
        "provider": provider,
        "version": row.consumer_version,
        "branch": row.branch,
        "sha": row.sha,
        "content": json.loads(row.content),
    }


def pact_versions(store: Store, provider: str, consumer: str) -> list[dict[str, Any]]:
    """Every consumer version that published a pact with the provider, newest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                t.pacts.c.consumer_version, t.pacts.c.branch, t.pacts.c.sha, t.pacts.c.published_at
            )
            .where(t.pacts.c.provider == provider, t.pacts.c.consumer == consumer)
            .order_by(t.pacts.c.published_at.desc())
        ).all()
    return [
        {
            "version": r.consumer_version,
            "branch": r.branch,
            "sha": r.sha,
            "published_at": r.published_at,
        }
        for r in rows
    ]


def is_pending(store: Store, provider: str, sha: str) -> bool:
    with store.engine.connect() as conn:
        found = conn.execute(
            select(func.count()).where(
                t.verifications.c.provider == provider,
                t.verifications.c.pact_sha == sha,
                t.verifications.c.success.is_(True),
            )
        ).scalar()
    return not found


@dataclass
class MatrixRow:
    consumer: str
    consumer_version: str
    provider: str
    provider_version: str
    ok: bool
    reason: str


@dataclass
class Decision:
    ok: bool
    rows: list[MatrixRow] = field(default_factory=list)


def can_i_deploy(store: Store, pacticipant: str, version: str, environment: str) -> Decision:
    """Whether V of P may go to E, with a row of the matrix for each integration."""
    _check_known(store, pacticipant, version)
    rows: list[MatrixRow] = []
    with store.engine.connect() as conn:
        deployed = {
            (name, v)
            for name, v in conn.execute(
                select(t.deployments.c.pacticipant, t.deployments.c.version).where(
                    t.deployments.c.environment == environment, t.deployments.c.current.is_(True)
                )
            )
        }

        def verified(provider: str, sha: str, provider_version: str) -> bool | None:
            found = conn.execute(
                select(t.verifications.c.success)
                .where(
                    t.verifications.c.provider == provider,
                    t.verifications.c.pact_sha == sha,
                    t.verifications.c.provider_version == provider_version,
                )
                .order_by(t.verifications.c.verified_at.desc())
                .limit(1)
            ).scalar()
            return None if found is None else bool(found)

        # as a consumer: the providers deployed in E must have verified V's pacts
        for provider, sha in conn.execute(
            select(t.pacts.c.provider, t.pacts.c.sha).where(
                t.pacts.c.consumer == pacticipant, t.pacts.c.consumer_version == version
            )
        ):
            versions = [v for name, v in deployed if name == provider]
            if not versions:
                rows.append(
                    MatrixRow(
                        pacticipant, version, provider, "-", True, f"not deployed to {environment}"
                    )
                )
            for pv in versions:
                rows.append(_row(pacticipant, version, provider, pv, verified(provider, sha, pv)))
        # as a provider: V must have verified the pact of each consumer version deployed in E
        for name, cv in sorted(deployed):
            sha = conn.execute(
                select(t.pacts.c.sha).where(
                    t.pacts.c.consumer == name,
                    t.pacts.c.provider == pacticipant,
                    t.pacts.c.consumer_version == cv,
                )
            ).scalar()
            if sha is not None:
                rows.append(
                    _row(name, cv, pacticipant, version, verified(pacticipant, sha, version))
                )
    return Decision(all(r.ok for r in rows), rows)


def _row(consumer: str, cv: str, provider: str, pv: str, result: bool | None) -> MatrixRow:
    if result is None:
        return MatrixRow(
            consumer, cv, provider, pv, False, "no verification of this pact by this version"
        )
    if result:
        return MatrixRow(consumer, cv, provider, pv, True, "verified")
    return MatrixRow(consumer, cv, provider, pv, False, "verification failed")


def matrix(
    store: Store, limit: int = 500, *, consumer: str | None = None, provider: str | None = None
) -> list[dict[str, Any]]:
    """The newest verification rows, with the consumer versions whose pact they verified
    (of one consumer or provider when given)."""
    where = []
    if consumer is not None:
        where.append(t.verifications.c.consumer == consumer)
    if provider is not None:
        where.append(t.verifications.c.provider == provider)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                t.verifications.c.consumer,
                t.pacts.c.consumer_version,
                t.verifications.c.provider,
                t.verifications.c.provider_version,
                t.verifications.c.success,
                t.verifications.c.verified_at,
                t.verifications.c.run_id,
            )
            .select_from(
                t.verifications.join(
                    t.pacts,
                    and_(
                        t.pacts.c.sha == t.verifications.c.pact_sha,
                        t.pacts.c.consumer == t.verifications.c.consumer,
                        t.pacts.c.provider == t.verifications.c.provider,
                    ),
                )
            )
            .where(*where)
            .order_by(t.verifications.c.verified_at.desc())
            .limit(limit)
        ).all()
    return [dict(row._mapping) for row in rows]


def integrations(store: Store) -> list[dict[str, Any]]:
    """Each consumer → provider pair with its latest pact and latest verification."""
    with store.engine.connect() as conn:
        pacts = conn.execute(select(t.pacts).order_by(t.pacts.c.published_at)).all()
        latest: dict[tuple[str, str], Any] = {}
        for row in pacts:
            latest[(row.consumer, row.provider)] = row
        out = []
        for (consumer, provider), row in sorted(latest.items()):
            last = conn.execute(
                select(t.verifications.c.success, t.verifications.c.provider_version)
                .where(
                    t.verifications.c.consumer == consumer,
                    t.verifications.c.provider == provider,
                    t.verifications.c.pact_sha == row.sha,
                )
                .order_by(t.verifications.c.verified_at.desc())
                .limit(1)
            ).first()
            out.append(
                {
                    "consumer": consumer,
                    "provider": provider,
                    "version": row.consumer_version,
                    "branch": row.branch,
                    "sha": row.sha,
                    "published_at": row.published_at,
                    "verified": None if last is None else bool(last.success),
                    "verified_by": None if last is None else last.provider_version,
                    "interactions": len(json.loads(row.content).get("interactions") or []),
                }
            )
    return out
