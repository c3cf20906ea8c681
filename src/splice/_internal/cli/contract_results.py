"""Verification results recorded in the store's broker against a provider version: by
`splice contract verify --provider-version` and by `splice run --provider-version` (the
pacts of splice.yaml's `contracts:`), one row per pact, for `can-i-deploy`'s matrix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splice._internal.errors import UsageError
from splice._internal.model.results import RunResult
from splice._internal.model.suite import Suite


def pact_paths(suites: list[Suite]) -> list[Path]:
    """The pact files among a run's suites (those `contracts.verify` made: a pact's path,
    every testcase an interaction tagged `contract`)."""
    return [
        suite.path
        for suite in suites
        if suite.path.suffix == ".json"
        and suite.testcases
        and all("contract" in testcase.tags for testcase in suite.testcases)
    ]


def verification_recorder(
    pacts: list[Path], version: str | None, branch: str, opts: dict[str, Any]
) -> Callable[[RunResult], None] | None:
    """What records, after the run, one verification result per pact of `pacts` (passed
    when all its interactions passed) against the provider's `version` in the store of
    `opts`; None without a version."""
    if not version:
        return None
    if opts.get("no_store"):
        raise UsageError(
            "--provider-version records results in the store, which --no-store turns off",
            "leave out one of them",
        )
    if not pacts:
        raise UsageError(
            "--provider-version records the results of pact verifications, and this run "
            "verifies none",
            "run the project's `contracts:` (no PATHS, or --contracts), or leave out "
            "--provider-version",
        )
    store_url = opts.get("store")

    def record(run: RunResult) -> None:
        from splice._internal.cli.store_commands import _open
        from splice._internal.contracts.broker import canonical, record_verification

        suites = {Path(suite.path): suite for suite in run.suites}
        store = _open(store_url)
        try:
            for path in pacts:
                suite = suites.get(Path(path))
                if suite is None:  # not selected (-k, --tag), or in another shard
                    continue
                document = json.loads(path.read_text(encoding="utf-8"))
                _, sha = canonical(document)
                record_verification(
                    store,
                    consumer=str(document["consumer"]["name"]),
                    provider=str(document["provider"]["name"]),
                    pact_sha=sha,
                    provider_version=version,
                    branch=branch,
                    success=all(t.status.value in ("passed", "flaky") for t in suite.testcases),
                    run_id=run.id,
                )
        finally:
            store.close()

    return record
