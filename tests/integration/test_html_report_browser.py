"""The HTML report in real headless Chromium (Debian's, driven by Playwright): what a person
sees when every section is opened, and a screenshot of it kept in the tests' artifacts
(`$SPLICE_TEST_ARTIFACTS`, else `reports/test-artifacts/` of the checkout, which git
ignores) so a change to the page can be looked at, not only asserted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from splice._internal.masking import Masker
from splice._internal.model.results import Failure, Phase, Status, StepResult
from splice._internal.reporting.html import write_html
from tests.integration.test_web_browser import CHROMIUM_ARGS
from tests.unit.test_html_report_content import make_run

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
]
ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-token-value"


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("SPLICE_TEST_ARTIFACTS") or ROOT / "reports" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _report(root: Path) -> Path:
    """A report with a passing http step (what it checked), a NATS message with a JSON body,
    a failing step, and an application log holding a secret."""
    log = root / ".splice" / "logs" / "r1" / "app.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"GET /items/{n} 200 token={SECRET}\n" for n in range(80)))
    body = '{"id": 7, "items": [{"sku": "A", "qty": 2}]}'
    steps = [
        StepResult(
            1,
            "GET /items",
            "http",
            Phase.TEST,
            Status.PASSED,
            request={"method": "GET", "url": "http://127.0.0.1:8000/items"},
            response={"status": 200, "body": '{"status": "ok", "items": [1]}'},
            expect={"status": 200, "json": {"status": "ok", "items": {"$len": 1}}},
            asserted=["result.elapsed_ms < 500"],
        ),
        StepResult(
            2,
            "nats receive created",
            "nats",
            Phase.TEST,
            Status.PASSED,
            response={"message": {"subject": "orders", "data": body}, "count": 1},
            expect={"json": {"id": 7}},
        ),
        StepResult(
            3,
            "GET /missing",
            "http",
            Phase.TEST,
            Status.FAILED,
            failures=[Failure("expect", "status: expected 200, got 404", "status", 200, 404)],
        ),
    ]
    run = make_run(
        root,
        steps,
        status=Status.FAILED,
        services=[
            {
                "name": "app",
                "kind": "process",
                "provider": "local",
                "url": "http://127.0.0.1:8000",
                "started_in": 0.4,
                "log": str(log),
            }
        ],
    )
    run.suites[0].status = run.suites[0].testcases[0].status = Status.FAILED
    masker = Masker()
    masker.add(SECRET)
    out = root / "report.html"
    write_html(run, out, masker)
    return out


def test_report_in_a_browser_shows_checks_messages_and_logs(tmp_path: Path) -> None:
    """Opened in Chromium with every section expanded, the page shows what a passing step
    checked, a message body as JSON, the log tail masked; no script error; screenshot kept."""
    report = _report(tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            page.click("#expand")
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            checks = page.locator("table.checks").first
            assert checks.is_visible()
            assert "json.items" in checks.inner_text() and "$len" in checks.inner_text()
            message = page.locator("dd", has_text='"subject": "orders"').first
            assert '"qty": 2' in message.inner_text() and '\\"' not in message.inner_text()
            log = page.locator("#log-app pre.log")
            assert log.is_visible()
            assert "GET /items/79 200 token=****" in log.inner_text()
            assert SECRET not in page.content()
            assert not errors
            shot = artifacts_dir() / "html-report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
