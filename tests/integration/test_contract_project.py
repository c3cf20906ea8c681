"""`contracts:` in splice.yaml: `splice run` verifies pacts beside the suites, against the
provider it started, each interaction a testcase of the run's reports and store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from splice._internal.store.core import Store
from splice._internal.store.query_runs import get_run, list_runs
from tests.support.cli import on_a_terminal, splice_cli
from tests.support.docs_blocks import check_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

PROJECT = """\
name: payments
services:
  payments:
    kind: process
    command: python server.py --port {{ port }}
    ready: {http: /health}
contracts:
  - provider: payments
    pacts: [pacts/*.json]
    states: states.yaml
"""

SUITE = """\
name: health
testcases:
  - name: the provider is healthy
    steps:
      - http: {get: "{{ services.payments.url }}/health"}
        expect: {status: 200}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("server.py", "states.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    shutil.copytree(EXAMPLE / "pacts", tmp_path / "pacts")
    (tmp_path / "splice.yaml").write_text(PROJECT)
    (tmp_path / "health.splice.yaml").write_text(SUITE)
    return tmp_path


def _names(run_json: Path) -> list[str]:
    run = json.loads(run_json.read_text())
    return [f"{s['name']} › {t['name']}" for s in run["suites"] for t in s["testcases"]]


def test_splice_run_verifies_the_contracts_beside_the_suites(project: Path) -> None:
    """One run: the suite's testcase and a testcase per interaction, in the JSON report
    and the store (so history and flaky detection see them)."""
    code, out = on_a_terminal(project, "run", "--json", "run.json")
    assert code == 0, out
    check_output("contract-run", out)
    assert _names(project / "run.json") == [
        "health › the provider is healthy",
        "pact shop → payments › a request for a payment (given a payment exists)",
        "pact shop → payments › a new payment",
        "pact shop → payments › a request for a payment that does not exist",
    ]
    store = Store.open(f"sqlite:///{project / '.splice' / 'results.db'}")
    try:
        [recorded] = list_runs(store)
        detail = get_run(store, recorded["id"])
        assert detail is not None
        assert sum(len(suite["testcases"]) for suite in detail["suites"]) == 4
    finally:
        store.close()


def test_a_drifted_provider_fails_the_run_at_the_right_path(project: Path) -> None:
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("--port {{ port }}", "--port {{ port }} --drifted")
    )
    done = splice_cli(project, "run", "--no-store")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "body.amount: expected a decimal, got string '12.50'" in done.stdout
    assert "2 passed, 2 failed" in done.stdout


def test_no_contracts_and_paths_leave_them_out(project: Path) -> None:
    """`--no-contracts` runs only the suites; PATHS alone too; `--contracts` adds them."""
    done = splice_cli(project, "run", "--no-store", "--no-contracts")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout
    done = splice_cli(project, "run", "--no-store", "health.splice.yaml")
    assert "1 passed, 0 failed" in done.stdout, done.stdout + done.stderr
    done = splice_cli(project, "run", "--no-store", "--contracts", "health.splice.yaml")
    assert "4 passed, 0 failed" in done.stdout, done.stdout + done.stderr
    done = splice_cli(project, "run", "--no-store", "--tag", "contract")
    assert "3 passed, 0 failed" in done.stdout, done.stdout + done.stderr


def test_contracts_alone_need_no_suite_file(project: Path) -> None:
    (project / "health.splice.yaml").unlink()
    done = splice_cli(project, "run", "--no-store")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 0 failed" in done.stdout


def test_pacts_from_the_store_by_selector(project: Path) -> None:
    """`broker:` verifies the pacts its selectors pick: here the shop's pact on main (a
    pact published from a feature branch, which the provider breaks, is left out)."""
    good = project / "pacts" / "shop-payments.json"
    bad = json.loads(good.read_text())
    bad["interactions"][0]["response"]["body"]["content"]["amount"] = "12.50"
    bad["interactions"][0]["response"]["matchingRules"] = {}
    (project / "feature.json").write_text(json.dumps(bad))
    assert (
        splice_cli(
            project, "contract", "publish", str(good), "--version", "1", "--branch", "main"
        ).returncode
        == 0
    )
    assert (
        splice_cli(
            project, "contract", "publish", "feature.json", "--version", "2", "--branch", "feat"
        ).returncode
        == 0
    )
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("pacts: [pacts/*.json]", "broker: {selectors: [{branch: main}]}")
    )
    done = splice_cli(project, "run", "--json", "run.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed, 0 failed" in done.stdout
    config.write_text(config.read_text().replace("{branch: main}", "{main_branch: true}"))
    done = splice_cli(project, "run")
    assert done.returncode == 0, done.stdout + done.stderr  # main's pact, not the feature's
    assert "4 passed, 0 failed" in done.stdout
    config.write_text(config.read_text().replace("{main_branch: true}", "{latest: true}"))
    done = splice_cli(project, "run")
    assert done.returncode == 1, done.stdout + done.stderr  # the newest pact is the feature's
    assert "body.amount" in done.stdout


def test_provider_version_records_the_verifications_in_the_broker(project: Path) -> None:
    """`splice run --provider-version V` records one verification result per pact of
    `contracts:` against V (failed when an interaction failed), as `splice contract verify
    --provider-version` does; without pacts to verify, or with --no-store, it is refused."""
    from sqlalchemy import select

    from splice._internal.store import schema as t

    done = splice_cli(project, "run", "--provider-version", "2.0", "--provider-branch", "main")
    assert done.returncode == 0, done.stdout + done.stderr
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("--port {{ port }}", "--port {{ port }} --drifted")
    )
    done = splice_cli(project, "run", "--provider-version", "2.1")
    assert done.returncode == 1, done.stdout + done.stderr
    store = Store.open(f"sqlite:///{project / '.splice' / 'results.db'}")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.verifications.c.consumer,
                    t.verifications.c.provider,
                    t.verifications.c.provider_version,
                    t.verifications.c.provider_branch,
                    t.verifications.c.success,
                ).order_by(t.verifications.c.id)
            ).all()
    finally:
        store.close()
    assert [tuple(row) for row in rows] == [
        ("shop", "payments", "2.0", "main", True),
        ("shop", "payments", "2.1", "", False),
    ]
    done = splice_cli(project, "run", "--no-contracts", "--provider-version", "3")
    assert done.returncode == 2
    assert "this run verifies none" in done.stderr
    done = splice_cli(project, "run", "--no-store", "--provider-version", "3")
    assert done.returncode == 2
    assert "which --no-store turns off" in done.stderr


def test_contracts_asked_for_without_a_section_is_a_usage_error(project: Path) -> None:
    """`--contracts` on a project without `contracts:` says so, with the section to add."""
    config = project / "splice.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("contracts:")])
    done = splice_cli(project, "run", "--no-store", "--contracts")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "splice.yaml has no `contracts:` section" in done.stderr
    assert "add `contracts: [{provider: SERVICE" in done.stderr


API_RUN = """
import json, sys
import splice

def names(result):
    return [f"{t.suite} › {t.name}" for t in result.testcases()]

whole = splice.run(project=".")
suites_only = splice.run(["health.splice.yaml"], project=".")
added = splice.run(["health.splice.yaml"], project=".", contracts=True)
left_out = splice.run(project=".", contracts=False)
loaded = sorted(m for m in sys.modules if m.startswith(("splice._internal.cli", "splice._internal.store")))
print(json.dumps({"whole": [whole.status.value, names(whole)], "suites_only": names(suites_only),
                  "added": len(names(added)), "left_out": len(names(left_out)), "loaded": loaded}))
"""


def test_the_python_api_verifies_the_contracts_as_splice_run_does(project: Path) -> None:
    """`splice.run` verifies `contracts:` by the rules of `splice run` (no paths: with
    them; `contracts=True` adds them to paths, False leaves them out), through the same
    loader, and imports neither the CLI nor the store."""
    done = subprocess.run(
        [sys.executable, "-c", API_RUN],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["whole"] == [
        "passed",
        [
            "health › the provider is healthy",
            "pact shop → payments › a request for a payment (given a payment exists)",
            "pact shop → payments › a new payment",
            "pact shop → payments › a request for a payment that does not exist",
        ],
    ]
    assert found["suites_only"] == ["health › the provider is healthy"]
    assert (found["added"], found["left_out"]) == (4, 1)
    assert found["loaded"] == []


API_ERRORS = """
import json
import splice

try:
    splice.run(project=".")
except splice.SuiteError as exc:
    [problem] = exc.diagnostics
    print(json.dumps([problem.message, problem.span.line, problem.hint]))
problems = splice.check(project=".")
print(json.dumps(len(problems)))
"""


def test_the_python_api_says_where_a_store_contract_is(project: Path) -> None:
    """An entry with `broker:` needs the store, which `splice.run` does not open: a
    located error with the way out, not a silent skip; `splice.check` passes it, as
    `splice check` does."""
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("pacts: [pacts/*.json]", "broker: {selectors: [{latest: true}]}")
    )
    done = subprocess.run(
        [sys.executable, "-c", API_ERRORS],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    error, checked = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    message, line, hint = error
    assert "reads its pacts from the store, which splice.run() does not open" in message
    assert line == 8
    assert "pass contracts=False" in hint
    assert checked == 0


@pytest.mark.parametrize(
    ("change", "message", "where", "hint"),
    [
        ("provider: payments", "provider: paymnets", ":8:15", "did you mean 'payments'?"),
        ("states: states.yaml", "stats: states.yaml", ":10:5", "did you mean 'states'?"),
        ("pacts: [pacts/*.json]", "pacts: [nope/*.json]", ":9:13", "paths are relative to"),
        ("states: states.yaml", "states: missing.yaml", ":10:13", "paths are relative to"),
        (
            "    states: states.yaml",
            "    states: states.yaml\n    state_url: http://x",
            ":11:16",
            "not both",
        ),
    ],
)
def test_bad_contracts_are_located_errors(
    project: Path, change: str, message: str, where: str, hint: str
) -> None:
    config = project / "splice.yaml"
    config.write_text(config.read_text().replace(change, message))
    done = splice_cli(project, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "splice.yaml" + where in done.stderr, done.stderr
    assert hint in done.stderr
    assert "Traceback" not in done.stderr


def test_check_reads_the_pacts(project: Path) -> None:
    """`splice check` validates the pacts (and their states) without starting anything."""
    (project / "states.yaml").write_text("states: {}\n")
    done = splice_cli(project, "check")
    assert done.returncode == 2
    assert "provider state 'a payment exists' has no steps defined" in done.stderr
    assert "shop-payments.json:7:22" in done.stderr


TEST_PACT = """
def test_the_shop_pact(splice_contract):
    results = splice_contract(
        "pacts/shop-payments.json", provider="payments", states="states.yaml"
    )
    assert [r.status.value for r in results] == ["passed"] * 3
"""


def test_the_splice_contract_fixture_verifies_a_pact(pytester: pytest.Pytester) -> None:
    """A pytest test verifies a pact against the provider the plugin started; a drifted
    provider fails the test with splice's located diff."""
    for name in ("server.py", "states.yaml"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    shutil.copytree(EXAMPLE / "pacts", pytester.path / "pacts")
    (pytester.path / "splice.yaml").write_text(
        PROJECT.replace("python server.py", f"{sys.executable} server.py")
    )
    pytester.makepyfile(test_pact=TEST_PACT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    (pytester.path / "splice.yaml").write_text(
        PROJECT.replace(
            "python server.py --port {{ port }}",
            f"{sys.executable} server.py --port {{{{ port }}}} --drifted",
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "2 of 3 interaction(s) broke the pact" in out
    assert "body.amount: expected a decimal, got string '12.50'" in out
    assert "Traceback" not in out
