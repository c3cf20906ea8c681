"""The `splice_contract` fixture: verify a pact against the provider from a pytest test.

    def test_the_shop_pact(splice_contract):
        splice_contract("pacts/shop-payments.json", provider="payments", states="states.yaml")

Each interaction runs as a testcase of `contracts.verify.verification_suites` (provider
states as splice steps in the testcase's isolation, or Pact's state-change URL), inside
the plugin's environment (the provider started once for the session, or reused from
`splice up`). The test fails with splice's located report of every interaction that
broke the pact; the call returns the testcases' results when all passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from splice._internal.errors import SuiteError
from splice._internal.model.results import TestcaseResult

if TYPE_CHECKING:
    from splice._internal.pytest.state import State


class ContractVerifier:
    """`splice_contract(PACT..., provider=NAME | base_url=URL, states=FILE | state_url=URL)`."""

    def __init__(self, state: State) -> None:
        self.state = state

    def __call__(
        self,
        *pacts: str | Path,
        provider: str | None = None,
        base_url: str | None = None,
        states: str | Path | None = None,
        state_url: str | None = None,
    ) -> list[TestcaseResult]:
        from splice._internal.contracts.verify import VerifyTarget, verification_suites
        from splice._internal.pytest.suites import SuiteRun

        if not pacts:
            pytest.fail("splice_contract: name at least one pact file", pytrace=False)
        if (provider is None) == (base_url is None):
            pytest.fail(
                "splice_contract: give provider=SERVICE or base_url=URL (one of them)",
                pytrace=False,
            )
        project = self.state.project
        if provider is not None:
            known = set(project.services) if project is not None else set()
            if provider not in known:
                from splice._internal.source.validation import did_you_mean

                hint = did_you_mean(provider, known) or "add it under `services:` in splice.yaml"
                pytest.fail(
                    f"splice_contract: provider {provider!r} is not a service of the project "
                    f"({hint})",
                    pytrace=False,
                )
            base_url = f"{{{{ services.{provider}.url }}}}"
        assert base_url is not None
        root = project.root if project is not None else Path.cwd()
        paths = [self._path(root, p) for p in pacts]
        states_file = self._path(root, states) if states is not None else None
        try:
            suites = verification_suites(paths, VerifyTarget(base_url, states_file, state_url))
        except SuiteError as exc:
            from splice._internal.reporting.diagnostics import render_diagnostics

            pytest.fail(render_diagnostics(exc.diagnostics), pytrace=False)
        results: list[TestcaseResult] = []
        for suite in suites:
            run = SuiteRun(suite, self.state)
            failed = run.setup()
            if failed:
                pytest.fail(failed, pytrace=False)
            try:
                results.extend(run.run(testcase) for testcase in suite.testcases)
            finally:
                run.teardown()
        broken = [r for r in results if not r.status.ok]
        if broken:
            from splice._internal.reporting.failures import failure_report

            lines = [f"{len(broken)} of {len(results)} interaction(s) broke the pact"]
            for result in broken:
                lines.append(failure_report(result))
            pytest.fail("\n".join(lines), pytrace=False)
        return results

    @staticmethod
    def _path(root: Path, path: str | Path) -> Path:
        found = Path(path)
        found = found if found.is_absolute() else root / found
        if not found.is_file():
            pytest.fail(f"splice_contract: file {str(path)!r} does not exist", pytrace=False)
        return found
