"""The broker in the store, through the CLI: publish, verification results by provider
version, deployments, and can-i-deploy's answer with its table of why."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs_blocks import check_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration


def _splice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("server.py", "splice.yaml", "states.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    shutil.copytree(EXAMPLE / "pacts", tmp_path / "pacts")
    pact = json.loads((tmp_path / "pacts" / "shop-payments.json").read_text())
    pact["interactions"].append(
        {
            "type": "Synchronous/HTTP",
            "description": "a refund",
            "request": {"method": "POST", "path": "/payments/7/refund"},
            "response": {"status": 200},
        }
    )
    (tmp_path / "pacts" / "shop-payments-v2.json").write_text(json.dumps(pact))
    return tmp_path


def test_can_i_deploy_follows_the_matrix(project: Path) -> None:
    """A consumer version whose pact the deployed provider verified may go; one whose new
    expectation failed may not; a provider version may go where it verified the consumers."""
    out = _ok(
        _splice(
            project,
            "contract",
            "publish",
            "pacts/shop-payments.json",
            "--version",
            "1.4.0",
            "--branch",
            "main",
        )
    )
    assert out.strip() == "published pacts/shop-payments.json: shop → payments version 1.4.0"
    verify = ["contract", "verify", "--provider", "payments", "--states", "states.yaml"]
    _ok(_splice(project, *verify, "pacts/shop-payments.json", "--provider-version", "2.0.1"))
    _ok(
        _splice(
            project,
            "contract",
            "record-deployment",
            "--pacticipant",
            "payments",
            "--version",
            "2.0.1",
            "--environment",
            "production",
        )
    )

    yes = _ok(
        _splice(
            project,
            "contract",
            "can-i-deploy",
            "--pacticipant",
            "shop",
            "--version",
            "1.4.0",
            "--to-environment",
            "production",
        )
    )
    check_output("contract-can-i-deploy", yes)  # the table of docs/reference/contracts.md

    _ok(
        _splice(project, "contract", "publish", "pacts/shop-payments-v2.json", "--version", "1.5.0")
    )
    no = _ok(
        _splice(
            project,
            "contract",
            "can-i-deploy",
            "--pacticipant",
            "shop",
            "--version",
            "1.5.0",
            "--to-environment",
            "production",
        ),
        1,
    )
    assert "no verification of this pact by this version" in no
    assert "can i deploy shop 1.5.0 to production: no" in no

    _ok(_splice(project, *verify, "pacts/shop-payments-v2.json", "--provider-version", "2.0.1"), 1)
    failed = _ok(
        _splice(
            project,
            "contract",
            "can-i-deploy",
            "--pacticipant",
            "shop",
            "--version",
            "1.5.0",
            "--to-environment",
            "production",
        ),
        1,
    )
    assert "verification failed" in failed

    _ok(
        _splice(
            project,
            "contract",
            "record-deployment",
            "--pacticipant",
            "shop",
            "--version",
            "1.4.0",
            "--environment",
            "production",
        )
    )
    provider = _ok(
        _splice(
            project,
            "contract",
            "can-i-deploy",
            "--pacticipant",
            "payments",
            "--version",
            "2.0.1",
            "--to-environment",
            "production",
        )
    )
    assert "can i deploy payments 2.0.1 to production: yes" in provider


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["--pacticipant", "nobody", "--version", "1"],
            "unknown pacticipant 'nobody'",
            "known: payments, shop",
        ),
        (
            ["--pacticipant", "shop", "--version", "s9"],
            "unknown version 's9' of 'shop'",
            "latest versions: s1",
        ),
    ],
)
def test_unknown_pacticipants_and_versions_are_named(
    project: Path, args: list[str], message: str, hint: str
) -> None:
    """can-i-deploy for an unknown pacticipant or version exits 2 with what is known."""
    _ok(_splice(project, "contract", "publish", "pacts/shop-payments.json", "--version", "s1"))
    done = _splice(project, "contract", "can-i-deploy", *args, "--to-environment", "production")
    assert done.returncode == 2
    assert message in done.stderr and hint in done.stderr
    assert "Traceback" not in done.stderr


def test_publishing_a_malformed_pact_stores_nothing(project: Path) -> None:
    """A bad pact is a located error and the store holds no pact afterwards."""
    (project / "bad.json").write_text(
        '{"consumer": {"name": "shop"}, "provider": {"name": "payments"}, "interactions": [{"description": "x"}]}'
    )
    done = _splice(
        project, "contract", "publish", "pacts/shop-payments.json", "bad.json", "--version", "s1"
    )
    assert done.returncode == 2
    assert "bad.json:1:" in done.stderr
    after = _splice(
        project,
        "contract",
        "can-i-deploy",
        "--pacticipant",
        "shop",
        "--version",
        "s1",
        "--to-environment",
        "production",
    )
    assert "unknown pacticipant 'shop'" in after.stderr


def test_a_pending_pact_does_not_fail_the_provider_until_first_verified(project: Path) -> None:
    """--from-store verifies the latest pact of each consumer; a new consumer's pact that
    no provider version verified yet is pending: its failure is reported, the exit is 0,
    while a failure of an already verified contract fails the build."""
    _ok(_splice(project, "contract", "publish", "pacts/shop-payments.json", "--version", "s1"))
    verify = [
        "contract",
        "verify",
        "--from-store",
        "--provider",
        "payments",
        "--states",
        "states.yaml",
    ]
    _ok(
        _splice(project, *verify, "--provider-version", "p1")
    )  # shop s1 verified: no longer pending
    web = json.loads((project / "pacts" / "shop-payments-v2.json").read_text())
    web["consumer"] = {"name": "web"}
    (project / "web.json").write_text(json.dumps(web))
    _ok(_splice(project, "contract", "publish", "web.json", "--version", "w1"))
    done = _splice(project, *verify, "--provider-version", "p2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pending: the pact web-payments-w1.json has never been verified" in done.stdout
    assert "FAILED" in done.stdout  # the failure is reported all the same
    # shop republishes its verified contract as s3; a regression of it fails the build
    _ok(_splice(project, "contract", "publish", "pacts/shop-payments.json", "--version", "s3"))
    drifted = (
        (project / "splice.yaml")
        .read_text()
        .replace("--port {{ port }}", "--port {{ port }} --drifted")
    )
    (project / "splice.yaml").write_text(drifted)
    failed = _splice(project, *verify, "--provider-version", "p3")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "body.amount: expected a decimal, got string '12.50'" in failed.stdout


def test_wip_pacts_are_verified_without_failing_the_build(project: Path) -> None:
    """--include-wip-since adds the newest pact of each consumer branch published since
    then that no provider version verified (a feature branch's new expectation): it is
    verified and reported, and its failure does not fail the build; without the option,
    or with a later date, only the latest pacts are verified."""
    publish = ["contract", "publish", "--version"]
    verify = ["contract", "verify", "--from-store", "--provider", "payments"]
    verify += ["--states", "states.yaml"]
    _ok(_splice(project, *publish, "s1", "--branch", "main", "pacts/shop-payments.json"))
    _ok(_splice(project, *verify, "--provider-version", "p1"))
    # a feature branch adds a refund the provider does not offer yet; main moves on
    _ok(_splice(project, *publish, "s2", "--branch", "refunds", "pacts/shop-payments-v2.json"))
    _ok(_splice(project, *publish, "s3", "--branch", "main", "pacts/shop-payments.json"))
    plain = _ok(_splice(project, *verify))
    assert "3 passed, 0 failed" in plain  # the latest pact only: s3, already verified
    assert "wip:" not in plain
    done = _splice(project, *verify, "--include-wip-since", "2020-01-01")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 testcases from 2 suites" in done.stdout, done.stdout
    assert "FAILED" in done.stdout  # the refund fails, and is reported
    assert (
        "wip: the pact shop-payments-s2.json (branch refunds) is work in progress: never "
        "verified, so its failures do not fail this verification"
    ) in done.stdout
    later = _ok(_splice(project, *verify, "--include-wip-since", "2999-01-01"))
    assert "3 passed, 0 failed" in later


def test_include_wip_since_needs_the_store_and_a_date(project: Path) -> None:
    verify = ["contract", "verify", "--provider", "payments"]
    done = _splice(
        project, *verify, "pacts/shop-payments.json", "--include-wip-since", "2026-01-01"
    )
    assert done.returncode == 2
    assert "--include-wip-since selects pacts from the store: add --from-store" in done.stderr
    bad = _splice(project, *verify, "--from-store", "--include-wip-since", "last week")
    assert bad.returncode == 2
    assert "--include-wip-since 'last week' is not a date" in bad.stderr
    assert "Traceback" not in done.stderr + bad.stderr


def test_consumer_version_selectors_pick_the_pacts_verified(project: Path) -> None:
    """--consumer-version-selectors (Pact's JSON, repeatable) picks the consumer versions
    whose pacts are verified, by the broker's own selection: the main branch's pact, not
    the newest one published from a feature branch; a tag; several add up."""
    publish = ["contract", "publish", "--version"]
    _ok(
        _splice(
            project, *publish, "s1", "--branch", "main", "--tag", "prod", "pacts/shop-payments.json"
        )
    )
    _ok(_splice(project, *publish, "s2", "--branch", "refunds", "pacts/shop-payments-v2.json"))
    verify = ["contract", "verify", "--from-store", "--provider", "payments"]
    verify += ["--states", "states.yaml", "--no-store", "--consumer-version-selectors"]
    main = _ok(_splice(project, *verify, '{"branch": "main"}'))
    assert "running 3 testcases from 1 suite" in main, main
    assert "3 passed, 0 failed" in main
    tagged = _ok(_splice(project, *verify, '{"tag": "prod", "consumer": "shop"}'))
    assert "3 passed, 0 failed" in tagged
    both = _splice(
        project,
        *verify,
        '{"mainBranch": true}',
        "--consumer-version-selectors",
        '{"branch": "refunds"}',
    )
    assert "running 7 testcases from 2 suites" in both.stdout, both.stdout + both.stderr
    files = _splice(
        project,
        "contract",
        "verify",
        "pacts/shop-payments.json",
        "--provider",
        "payments",
        "--consumer-version-selectors",
        '{"latest": true}',
    )
    assert files.returncode == 2
    assert "add --from-store" in files.stderr
    none = _splice(project, *verify, '{"branch": "nowhere"}')
    assert none.returncode == 2
    assert (
        "the store holds no pact for the provider 'payments' that the consumer version selectors pick"
        in none.stderr
    )


@pytest.mark.parametrize(
    ("given", "message", "hint"),
    [
        (
            "{branch: main}",
            "--consumer-version-selectors '{branch: main}': not JSON",
            "quote the object for the shell",
        ),
        (
            '{"brnch": "main"}',
            "--consumer-version-selectors[0]: unknown selector key 'brnch'",
            "did you mean 'branch'?",
        ),
        (
            '[{"latest": true}, {}]',
            "--consumer-version-selectors[1]: a selector picks by latest, branch",
            '{"branch": "main"}',
        ),
        (
            '{"mainBranch": "yes"}',
            "--consumer-version-selectors[0].mainBranch: expected true or false, got 'yes'",
            "",
        ),
        (
            '"main"',
            "--consumer-version-selectors[0]: a selector is a JSON object, found a string",
            "",
        ),
    ],
    ids=["not-json", "typo", "empty", "not-a-bool", "not-an-object"],
)
def test_bad_consumer_version_selectors_are_usage_errors(
    project: Path, given: str, message: str, hint: str
) -> None:
    """Each names the selector, what is wrong and the way out; nothing runs."""
    verify = ["contract", "verify", "--from-store", "--provider", "payments"]
    done = _splice(project, *verify, "--consumer-version-selectors", given)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert hint in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
