"""What `splice contract verify` reads besides its options: the pacts chosen from the store
(consumer version selectors, work-in-progress pacts, which are pending), and the services
a verification starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice._internal.cli.store_commands import _open
from splice._internal.errors import UsageError


def parse_wip_since(value: str | None, from_store: bool) -> float | None:
    """--include-wip-since as a timestamp (a date is its midnight, UTC)."""
    from datetime import UTC, datetime

    if value is None:
        return None
    if not from_store:
        raise UsageError(
            "--include-wip-since selects pacts from the store: add --from-store",
            "work-in-progress pacts are the store's newest unverified pacts of each branch",
        )
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--include-wip-since {value!r} is not a date",
            "write a date such as 2026-12-01 or a date-time such as 2026-12-01T09:30:00Z",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def parse_selectors(texts: tuple[str, ...], from_store: bool) -> list[Any]:
    """--consumer-version-selectors as the store's selectors (`contracts.selectors`)."""
    from splice._internal.contracts.selectors import SelectorProblem, parse_json_selectors

    if not texts:
        return []
    if not from_store:
        raise UsageError(
            "--consumer-version-selectors selects pacts from the store: add --from-store",
            "PACT files are verified as they are",
        )
    try:
        return parse_json_selectors(texts, "--consumer-version-selectors")
    except SelectorProblem as problem:
        raise UsageError(
            f"{problem.where}: {problem.message}",
            problem.hint or """for example --consumer-version-selectors '{"branch": "main"}'""",
        ) from None


def pacts_from_store(
    provider: str,
    root: Path,
    store_url: str | None,
    wip_since: float | None = None,
    selectors: list[Any] | None = None,
) -> tuple[list[Path], set[Path], dict[Path, str]]:
    """The pacts the selectors pick (none: the latest pact of each consumer), and the
    work-in-progress pacts since `wip_since`, written under .splice/pacts/ to be verified;
    which of them are pending; the WIP ones with their branch."""
    import json

    from splice._internal.contracts.broker import pacts_for_verification

    store = _open(store_url)
    try:
        found = pacts_for_verification(
            store, provider, include_wip_since=wip_since, selectors=selectors or None
        )
    finally:
        store.close()
    if not found:
        raise UsageError(
            f"the store holds no pact for the provider {provider!r}"
            + (" that the consumer version selectors pick" if selectors else ""),
            "widen the selectors, or publish one with `splice contract publish`"
            if selectors
            else "publish one with `splice contract publish`",
        )
    folder = root / ".splice" / "pacts"
    folder.mkdir(parents=True, exist_ok=True)
    paths, pending, wip = [], set(), {}
    for pact in found:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in pact["version"])
        path = folder / f"{pact['consumer']}-{provider}-{safe}.json"
        path.write_text(json.dumps(pact["content"], indent=2), encoding="utf-8")
        paths.append(path)
        if pact["pending"]:
            pending.add(path)
        if pact["wip"]:
            wip[path] = str(pact["branch"] or "")
    return paths, pending, wip


@dataclass
class PendingOutcome:
    """Which pending pacts failed, and whether any other pact did."""

    failed: list[Path] = field(default_factory=list)
    others_failed: bool = False


def pending_watch(pacts: list[Path], pending: set[Path], outcome: PendingOutcome, then: Any) -> Any:
    """After the run: the failed pacts that are pending, and whether others failed (only
    those fail the verification)."""

    def watch(run: Any) -> None:
        if then is not None:
            then(run)
        for path, suite in zip(pacts, run.suites, strict=False):
            if any(t.status.value in ("failed", "error") for t in suite.testcases):
                if path in pending:
                    outcome.failed.append(path)
                else:
                    outcome.others_failed = True

    return watch


def brokers(project: Any, suites: list[Any]) -> list[str]:
    """The services that messages are received from (`messages:` of the states file):
    each a step's `service:`, else every service of the step's kind."""
    from splice._internal.contracts.message_routes import KINDS

    found: set[str] = set()
    for suite in suites:
        for testcase in suite.testcases:
            for step in testcase.steps:
                if step.executor not in KINDS or not isinstance(step.block, dict):
                    continue
                name = step.block.get("service")
                if isinstance(name, str):
                    found.add(name)
                elif "subscribe" in step.block or "consume" in step.block:
                    kind = "rabbitmq" if step.executor == "amqp" else step.executor
                    found.update(n for n, s in project.services.items() if s.kind == kind)
    return sorted(found)


def only(project: Any, wanted: list[str]) -> Any:
    """The project with only the provider and what it depends on (none for a URL)."""
    import dataclasses

    keep = {name for level in project.start_order(wanted) for name in level} if wanted else set()
    services = {name: spec for name, spec in project.services.items() if name in keep}
    return dataclasses.replace(project, services=services)
