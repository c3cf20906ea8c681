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

from collections.abc import Callable, Sequence
from pathlib import Path

from splice._internal.contracts.verify import VerifyTarget, verification_suites
from splice._internal.errors import Diagnostic, SuiteError, UsageError
from splice._internal.model.suite import Suite
from splice._internal.project.model import ContractPlan, Project

StorePacts = Callable[[ContractPlan, list[Diagnostic]], list[Path]]
"""The pact files of an entry with `broker:` (its problems appended to the list); the
front end that opens the store gives one (`contracts.store_pacts.from_store`)."""


def contracts_wanted(project: Project, paths: Sequence[object], flag: bool | None) -> bool:
    """Whether a run verifies the project's `contracts:`: by default when no paths are
    given (the project's whole run); True adds them to the paths, False leaves them out."""
    if flag is True and not project.contracts:
        raise UsageError(
            "contracts were asked for (--contracts, contracts=True), but splice.yaml has no "
            "`contracts:` section",
            "add `contracts: [{provider: SERVICE, pacts: [pacts/*.json]}]`",
        )
    return bool(project.contracts) and (flag if flag is not None else not paths)


def skip_store(plan: ContractPlan, problems: list[Diagnostic]) -> list[Path]:
    """No pacts for entries with `broker:` (`splice check`: they are read when they run)."""
    return []


def no_store(plan: ContractPlan, problems: list[Diagnostic]) -> list[Path]:
    """A located error for an entry with `broker:` where no store is open (`splice.run`)."""
    problems.append(
        Diagnostic(
            f"the contract of {plan.provider!r} reads its pacts from the store, which "
            "splice.run() does not open",
            plan.span,
            "give the entry `pacts:` files, pass contracts=False, or verify it with `splice run`",
        )
    )
    return []


def contract_suites(project: Project, store_pacts: StorePacts = no_store) -> list[Suite]:
    """The suites that verify every entry of `contracts:`, the pacts of entries with
    `broker:` from `store_pacts`. Raises SuiteError with every located problem."""
    suites: list[Suite] = []
    problems: list[Diagnostic] = []
    for plan in project.contracts:
        paths = list(plan.pacts)
        if plan.from_store:
            paths = store_pacts(plan, problems)
            if not paths:
                continue
        target = VerifyTarget(
            f"{{{{ services.{plan.provider}.url }}}}",
            plan.states,
            plan.state_url,
            services=sorted(project.services),
        )
        try:
            suites.extend(verification_suites(paths, target))
        except SuiteError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise SuiteError(problems)
    return suites
