"""`splice contract diff OLD NEW`: what changed between two versions of a pact, from files
or from consumer versions in the store, as text or JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs_blocks import check_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payments"

pytestmark = pytest.mark.integration


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
def versions(tmp_path: Path) -> Path:
    """The example's pact (old) and a new version: an amount as text, a refund added, the
    missing-payment interaction gone."""
    old = json.loads((EXAMPLE / "pacts" / "shop-payments.json").read_text())
    new = json.loads(json.dumps(old))
    new["interactions"] = [i for i in new["interactions"] if "not exist" not in i["description"]]
    first = new["interactions"][0]
    first["response"]["body"]["content"]["amount"] = "12.50"
    del first["response"]["matchingRules"]["body"]["$.amount"]
    new["interactions"].append(
        {
            "type": "Synchronous/HTTP",
            "description": "a refund",
            "request": {"method": "POST", "path": "/payments/7/refund"},
            "response": {"status": 200},
        }
    )
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "old.json").write_text(json.dumps(old, indent=2))
    (tmp_path / "pacts" / "new.json").write_text(json.dumps(new, indent=2))
    return tmp_path


def test_two_pact_files_differ_by_interaction(versions: Path) -> None:
    done = _splice(versions, "contract", "diff", "pacts/old.json", "pacts/new.json")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "pact shop → payments: 1 added, 1 removed, 1 changed, 1 unchanged" in out
    assert "+ a refund" in out
    assert "- a request for a payment that does not exist" in out
    assert "~ a request for a payment (given a payment exists)" in out
    assert "response.body.content.amount: 12.5 → '12.50'" in out
    assert 'response.matchingRules.body["$.amount"]: removed' in out
    check_output("contract-diff", out)
    same = _splice(versions, "contract", "diff", "pacts/old.json", "pacts/old.json")
    assert same.returncode == 0
    assert "0 added, 0 removed, 0 changed, 3 unchanged" in same.stdout


def test_store_versions_and_json(versions: Path) -> None:
    """Consumer versions published to the store compare the same way; --json for tools."""
    for version, name in (("1.0", "old"), ("1.1", "new")):
        published = _splice(
            versions, "contract", "publish", f"pacts/{name}.json", "--version", version
        )
        assert published.returncode == 0, published.stderr
    done = _splice(
        versions,
        "contract",
        "diff",
        "1.0",
        "1.1",
        "--consumer",
        "shop",
        "--provider",
        "payments",
        "--json",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    found = json.loads(done.stdout)
    assert found["added"] == ["a refund"]
    assert found["removed"] == ["a request for a payment that does not exist"]
    [changed] = found["changed"]
    assert {"path": "response.body.content.amount", "old": 12.5, "new": "12.50"} in changed[
        "changes"
    ]
    assert found["unchanged"] == 1 and found["same"] is False


def test_bad_arguments_are_usage_errors(versions: Path) -> None:
    missing = _splice(versions, "contract", "diff", "nope.json", "pacts/new.json")
    assert missing.returncode == 2
    assert "'nope.json' is not a pact file" in missing.stderr
    assert "hint:" in missing.stderr
    unknown = _splice(
        versions,
        "contract",
        "diff",
        "9.9",
        "pacts/new.json",
        "--consumer",
        "shop",
        "--provider",
        "payments",
    )
    assert unknown.returncode == 2
    assert "the store holds no pact of shop version '9.9' with payments" in unknown.stderr
    (versions / "bad.json").write_text("{")
    bad = _splice(versions, "contract", "diff", "bad.json", "pacts/new.json")
    assert bad.returncode == 2
    assert "bad.json:1:2" in bad.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr + bad.stderr
