"""`splice contract verify`: a provider started by splice (or at a URL) held to a pact,
provider states set by splice steps or a state-change URL, located mismatches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from splice._internal.store.core import Store
from splice._internal.store.query_runs import get_run, list_runs
from tests.support.cli import free_port, on_a_terminal
from tests.support.docs_blocks import check_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration

# the command of the how-to (docs/how-to/contracts.md), run in a copy of the example
VERIFY = (
    "contract",
    "verify",
    "pacts/shop-payments.json",
    "--provider",
    "payments",
    "--states",
    "states.yaml",
)


def _splice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("server.py", "splice.yaml", "states.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    shutil.copytree(EXAMPLE / "pacts", tmp_path / "pacts")
    return tmp_path


def test_a_provider_that_honours_the_pact_passes(project: Path) -> None:
    """Every interaction is a passing testcase; states are set by the steps of states.yaml."""
    done = _splice(
        project,
        "contract",
        "verify",
        "pacts/shop-payments.json",
        "--provider",
        "payments",
        "--states",
        "states.yaml",
        "--json",
        "run.json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 0 failed" in done.stdout
    run = json.loads((project / "run.json").read_text())
    names = [t["name"] for s in run["suites"] for t in s["testcases"]]
    assert names == [
        "a request for a payment (given a payment exists)",
        "a new payment",
        "a request for a payment that does not exist",
    ]


def test_a_drifted_provider_fails_at_the_right_paths(project: Path) -> None:
    """A provider that answers amounts as strings fails with splice's located diff, as the
    how-to shows it (the provider started with --drifted)."""
    config = project / "splice.yaml"
    config.write_text(
        config.read_text().replace("--port {{ port }}", "--port {{ port }} --drifted")
    )
    code, out = on_a_terminal(project, *VERIFY)
    assert code == 1, out
    assert "body.amount: expected a decimal, got string '12.50'" in out
    assert "body.amount: expected number 30.0, got string '30.00'" in out  # no rule
    assert "--> pacts/shop-payments.json:7:22" in out
    assert "1 passed, 2 failed" in out
    check_output("contract-verify-drifted", out)


def test_the_run_is_recorded_in_the_store(project: Path) -> None:
    """A verification is a run of the store like any other, with a testcase per interaction;
    the console shows what the how-to does."""
    code, out = on_a_terminal(project, *VERIFY)
    assert code == 0, out
    check_output("contract-verify", out)
    store = Store.open(f"sqlite:///{project / '.splice' / 'results.db'}")
    try:
        [recorded] = list_runs(store)
        assert recorded["status"] == "passed"
        detail = get_run(store, recorded["id"])
        assert detail is not None
        assert [s["name"] for s in detail["suites"]] == ["pact shop → payments"]
        assert sum(len(suite["testcases"]) for suite in detail["suites"]) == 3
    finally:
        store.close()


@pytest.fixture
def running_provider() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "server.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "payments listening on ..."
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_provider_at_a_url_with_a_state_change_url(tmp_path: Path, running_provider: str) -> None:
    """--provider-base-url verifies a server splice did not start; states go to the URL."""
    shutil.copytree(EXAMPLE / "pacts", tmp_path / "pacts")
    done = _splice(
        tmp_path,
        "contract",
        "verify",
        "pacts/shop-payments.json",
        "--provider-base-url",
        running_provider,
        "--provider-states-setup-url",
        running_provider + "/_pact/state",
        "--no-store",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 0 failed" in done.stdout


def test_a_state_without_steps_is_a_located_error(project: Path) -> None:
    """A provider state that no steps and no URL cover is refused before anything runs."""
    (project / "empty-states.yaml").write_text("states: {}\n")
    done = _splice(
        project,
        "contract",
        "verify",
        "pacts/shop-payments.json",
        "--provider",
        "payments",
        "--states",
        "empty-states.yaml",
        "--no-store",
    )
    assert done.returncode == 2
    assert "provider state 'a payment exists' has no steps defined" in done.stderr
    assert "pacts/shop-payments.json:7:22" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    check_output("contract-state-without-steps", done.stderr)


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        (
            '{"consumer": {"name": "a"}, "provider": {"name": "b"}, "interactions": [\n  {"description": "x",}\n]}',
            "the pact file is not valid JSON",
            ":2:23",
        ),
        (
            '{"consumer": {"name": "a"}, "provider": {"name": "b"},\n "metadata": {"pactSpecification": {"version": "9.0"}}}',
            "unknown Pact specification version '9.0'",
            ":2:48",
        ),
        (
            '{"consumer": {"name": "a"}, "provider": {"name": "b"}, "interactions": [\n {"description": "x", "request": {"method": "GET", "path": "/"}}]}',
            "the interaction has no response",
            ":2:2",
        ),
        (
            '{"consumer": {"name": "a"}, "provider": {"name": "b"}, "interactions": [{"description": "x",\n "request": {"method": "GET", "path": "/"}, "response": {"status": 200,\n  "matchingRules": {"body": {"$.a": {"matchers": [{"match": "tipe"}]}}}}}]}',
            "unknown matcher 'tipe'",
            ":3:61",
        ),
    ],
)
def test_malformed_pacts_give_located_errors(
    tmp_path: Path, text: str, message: str, where: str
) -> None:
    """Bad JSON, an unknown version, a missing response, an unknown matcher: file:line:col."""
    (tmp_path / "bad.json").write_text(text)
    done = _splice(
        tmp_path, "contract", "verify", "bad.json", "--provider-base-url", "http://127.0.0.1:9"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "bad.json" + where in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["p.json"], "name the provider with --provider NAME or --provider-base-url URL"),
        (["p.json", "--provider", "nope"], "--provider 'nope' is not a service of the project"),
        (
            ["missing.json", "--provider-base-url", "http://127.0.0.1:9"],
            "pact file 'missing.json' does not exist",
        ),
    ],
)
def test_bad_arguments_are_usage_errors(project: Path, args: list[str], message: str) -> None:
    """Bad command lines exit 2 with the reason and no traceback."""
    shutil.copy(project / "pacts" / "shop-payments.json", project / "p.json")
    done = _splice(project, "contract", "verify", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
