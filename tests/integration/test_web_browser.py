"""The dashboard in real headless Chromium (Debian's, driven by Playwright): what a person
sees on the main pages, live progress, the quarantine from the page, and captured script
shown as text, never run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from splice._internal.store import Store, tokens
from splice._internal.store.ingest import Ingest
from splice._internal.store.synthetic import generate
from splice._internal.web import create_app
from splice._internal.web.server import BackgroundServer

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = "<script>alert('pwned')</script>"


class Site:
    def __init__(self, store: Store, url: str) -> None:
        self.store, self.url = store, url
        self.token = tokens.create(store, "browser", "write")


def _evil_run() -> list[dict[str, Any]]:
    now = time.time()
    step = {
        "index": 0,
        "name": "GET /profile",
        "executor": "http",
        "phase": "test",
        "status": "failed",
        "started_at": now,
        "duration": 0.02,
        "request": {"method": "GET", "url": "http://127.0.0.1:8000/profile"},
        "response": {"status": 200, "body": f"<html><body>{EVIL}</body></html>"},
        "failures": [
            {
                "kind": "expect",
                "message": "body differs",
                "path": "body",
                "expected": {"name": "Ann", "tags": ["a", "b"]},
                "actual": {"name": EVIL, "tags": ["a"]},
            }
        ],
    }
    return [
        {
            "event": "run_started",
            "run_id": "evil",
            "run": {"started_at": now - 5, "total": 1, "branch": "xss"},
        },
        {
            "event": "testcase_finished",
            "run_id": "evil",
            "testcase": {
                "suite": "profile",
                "name": "shows the name",
                "status": "failed",
                "started_at": now,
                "duration": 0.02,
                "attempts": [{"number": 1, "status": "failed", "steps": [step]}],
            },
        },
        {"event": "run_finished", "run_id": "evil", "run": {"status": "failed"}},
    ]


def _testcase(name: str) -> dict[str, Any]:
    return {
        "event": "testcase_finished",
        "run_id": "live",
        "testcase": {
            "suite": "live",
            "name": name,
            "status": "passed",
            "started_at": time.time(),
            "duration": 0.1,
            "attempts": [{"number": 1, "status": "passed", "steps": []}],
        },
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`splice serve` over 40 generated runs, a run with script in a body, and a running run."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('web') / 'r.db'}")
    generate(store, runs=40, tests=24, steps=4, days=20)
    Ingest(store).apply(_evil_run())
    Ingest(store).apply(
        [
            {
                "event": "run_started",
                "run_id": "live",
                "run": {"started_at": time.time(), "total": 3},
            },
            _testcase("first"),
        ]
    )
    with BackgroundServer(create_app(store, background=False)) as server:
        yield Site(store, server.url)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system package (Playwright's own download is not used)."""
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page whose dialogs (alert) and page errors are collected."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    tab = context.new_page()
    tab.dialogs, tab.errors = [], []
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


def test_the_dashboard_shows_headline_numbers_charts_and_runs(
    site: Site, page: Any, tmp_path: Path
) -> None:
    """The runs page shows its cards, both charts, the runs table with a running run's
    progress, and no script error; a screenshot is kept for a person to look at (in
    pytest's folder of the test, which pytest itself keeps for its last three runs)."""
    page.goto(site.url + "/")
    assert page.title() == "Runs · splice"
    cards = page.locator(".stat")
    assert cards.count() == 6
    assert cards.filter(has_text="Running now").locator(".value").inner_text() == "1"
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart circle").count() > 5  # pass-rate points of the days
    assert page.locator("tbody tr").count() == 42
    live = page.locator('[data-running-run="live"]')
    assert live.locator(".label").inner_text() == "1 / 3"
    page.screenshot(path=str(tmp_path / "splice-dashboard.png"), full_page=False)
    assert page.errors == []


def test_filters_narrow_the_runs_list(site: Site, page: Any) -> None:
    """Choosing a status in the filter reloads the list with only runs of that status."""
    page.goto(site.url + "/")
    page.select_option("select[name=status]", "failed")
    page.wait_for_url("**/?status=failed**")
    pills = page.locator("tbody tr td:first-child .pill")
    assert pills.count() > 0
    assert set(pills.all_inner_texts()) == {"failed"}
    page.select_option("select[name=branch]", "xss")
    page.wait_for_url("**branch=xss**")
    assert page.locator("tbody tr").count() == 1


def test_progress_of_a_running_run_updates_live(site: Site, page: Any) -> None:
    """As testcases of a running run finish, its progress moves without a reload; when the
    run ends the list shows its outcome."""
    page.goto(site.url + "/")
    label = page.locator('[data-running-run="live"] .label')
    sync_api.expect(label).to_have_text("1 / 3")
    Ingest(site.store).apply([_testcase("second")])
    sync_api.expect(label).to_have_text("2 / 3", timeout=15000)
    Ingest(site.store).apply(
        [
            _testcase("third"),
            {"event": "run_finished", "run_id": "live", "run": {"status": "passed"}},
        ]
    )
    row = page.locator("tbody tr", has=page.locator('a[href="/runs/live"]'))
    sync_api.expect(row.locator(".pill").first).to_have_text("passed", timeout=15000)


def test_from_a_failed_run_to_the_failing_step(site: Site, page: Any) -> None:
    """A failed run lists its failing testcases; the testcase page opens the failing step
    with expected and actual values and their line diff."""
    page.goto(site.url + "/runs/evil")
    assert page.locator("h2", has_text="Failing testcases").count() == 1
    page.locator("table a", has_text="profile::shows the name").click()
    page.wait_for_url("**/runs/evil/results/*")
    step = page.locator("details.step")
    assert step.get_attribute("open") is not None  # failed steps are open
    assert step.locator(".fmsg").inner_text() == "expect: body differs"
    assert step.locator(".cmp h5").all_inner_texts() == ["EXPECTED", "ACTUAL"]
    assert (
        page.locator(".diff .d-minus").count() >= 1 and page.locator(".diff .d-plus").count() >= 1
    )


def test_captured_script_is_shown_as_text_and_never_runs(site: Site, page: Any) -> None:
    """A response body holding <script> appears as text and no alert ever opens."""
    page.goto(site.url + "/runs/evil")
    page.locator("table a", has_text="shows the name").first.click()
    page.wait_for_load_state("networkidle")
    assert EVIL in page.locator("details.step").inner_text()
    assert page.locator("script").count() == 1  # splice.js only
    page.goto(site.url + "/runs/evil")
    assert page.dialogs == [] and page.errors == []


def test_signing_in_and_quarantining_a_test_from_its_page(site: Site, page: Any) -> None:
    """Signed in with a write token, a person quarantines a flaky test with a reason from
    its page, sees it listed, and releases it again."""
    page.goto(site.url + "/flaky")
    first = page.locator("tbody tr").first
    name = first.locator("td a").first.inner_text()
    assert (
        first.locator(".pill", has_text="confirmed").count() + first.locator(".score").count() >= 1
    )
    first.locator("td a").first.click()
    assert "Sign in with a write token" in page.content()
    page.goto(site.url + "/login")
    page.fill("#token", site.token)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")
    page.goto(site.url + "/flaky")
    page.locator("tbody tr td a", has_text=name).first.click()
    page.fill("input[name=reason]", "flaky since the cache change")
    page.locator("button", has_text="Quarantine").click()
    page.wait_for_load_state()
    assert (
        "flaky since the cache change" in page.locator(".card", has_text="Quarantined").inner_text()
    )
    page.goto(site.url + "/quarantine")
    assert page.locator("tbody tr", has_text=name).count() == 1
    page.locator("tbody tr", has_text=name).locator("button", has_text="Release").click()
    page.wait_for_load_state()
    assert "No test is quarantined" in page.content()


def test_history_trends_and_comparison_pages(site: Site, page: Any) -> None:
    """A test's history chart has a bar per result; trends show four charts and the failing
    integration points; comparing two runs lists what changed."""
    page.goto(site.url + "/tests")
    page.locator("tbody tr td a").first.click()
    bars = page.locator("svg.chart a rect")
    rows = page.locator("table tbody tr")
    assert bars.count() == rows.count() > 10
    page.goto(site.url + "/trends")
    assert page.locator("svg.chart").count() == 4
    services = page.locator("table", has_text="Service").first
    assert {"app", "db", "cache"} <= set(services.locator("tbody td:first-child").all_inner_texts())
    page.goto(site.url + "/compare")
    page.click("button[type=submit]")
    page.wait_for_url("**/compare?base=*")
    assert page.locator("h2", has_text="Newly failing").count() == 1
    assert page.locator("h2", has_text="Fixed").count() == 1
    assert page.errors == []


def _shard_event(kind: str, index: int, **run: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "run_id": "sharded",
        "run": {**run, "shard": {"index": index, "count": 2}},
    }


def test_the_shards_of_a_running_run_update_live(site: Site, page: Any) -> None:
    """A sharded run's page lists its shards; as one ends and the other starts the table
    follows without a reload by hand, and once both ended it shows their imbalance."""
    started = time.time()
    Ingest(site.store).apply(
        [_shard_event("run_started", 1, started_at=started, total=2, host="ci-a", pid=11)]
    )
    page.goto(site.url + "/runs/sharded")
    rows = page.locator("table.shards tbody tr")
    sync_api.expect(rows).to_have_count(2)
    sync_api.expect(rows.nth(0).locator(".pill")).to_have_text("running")
    sync_api.expect(rows.nth(1).locator(".pill")).to_have_text("pending")
    assert "ci-a" in rows.nth(0).inner_text()
    end = {"status": "passed", "duration": 2.0, "finished_at": started + 2}
    Ingest(site.store).apply(
        [
            _shard_event("run_finished", 1, **end),
            _shard_event("run_started", 2, started_at=started, total=2, host="ci-b", pid=12),
        ]
    )
    sync_api.expect(rows.nth(0).locator(".pill")).to_have_text("passed", timeout=15000)
    sync_api.expect(rows.nth(1).locator(".pill")).to_have_text("running")
    assert "ci-b" in rows.nth(1).inner_text()
    Ingest(site.store).apply([_shard_event("run_finished", 2, **{**end, "duration": 6.0})])
    # 6 s against a mean of 4 s
    sync_api.expect(page.locator("p.sub", has_text="imbalance")).to_contain_text(
        "imbalance 50.0%", timeout=15000
    )
    assert page.errors == []
