"""pytest-xdist: each worker starts its own services on its own ports; nothing is shared
between workers, and splice's reports are written once, by the controller."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_pytest_plugin import app_project, gone, started

pytest_plugins = ["pytester"]

pytest.importorskip("xdist")

# Other plugins installed next to splice take seconds to import in each of the three
# processes of a run; they are not under test here.
QUIET = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio",
         "-p", "no:pytest_postgresql")  # fmt: skip

RECORD = """
import json, os, pathlib
from helpers import get

def record(name, handle, **more):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    data = {"port": handle.port, "pid": get(handle.url)["pid"], **more}
    pathlib.Path(f"{name}-{worker}.json").write_text(json.dumps(data))
"""


def test_two_workers_get_their_own_services(pytester: pytest.Pytester) -> None:
    """With two workers, each runs every test (`--dist each`) against its own instance of
    the service: different ports, different processes, all stopped at the end; the
    controller writes one report with the suite's steps from the workers."""
    app_project(pytester, extra="suites: [suites/*.splice.yaml]")
    pytester.makepyfile(
        record=RECORD,
        test_workers="""
        from record import record

        def test_app(splice_app):
            record("app", splice_app)
        """,
    )
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "s.splice.yaml").write_text(
        "name: s\ntestcases:\n  - name: up\n    steps:\n"
        "      - http: {get: '{{ services.app.url }}/'}\n        expect: {status: 201}\n"
    )
    result = pytester.runpytest_subprocess(
        *QUIET, "-n", "2", "--dist", "each", "--splice-json=run.json"
    )
    result.assert_outcomes(passed=2, failed=2)
    seen = [json.loads(p.read_text()) for p in sorted(pytester.path.glob("app-gw*.json"))]
    assert len(seen) == 2
    assert seen[0]["port"] != seen[1]["port"]
    assert seen[0]["pid"] != seen[1]["pid"]
    assert started(pytester) == 2  # one per worker, shared by its Python tests and suites
    assert all(gone(s["pid"]) for s in seen)
    run = json.loads((pytester.path / "run.json").read_text())
    suite = next(s for s in run["suites"] if s["name"] == "s")
    step = suite["testcases"][0]["attempts"][0]["steps"][0]
    assert step["failures"][0]["message"] == "expected 201, got 200"
    assert step["response"]["status"] == 200


def test_two_workers_get_their_own_isolated_redis(pytester: pytest.Pytester) -> None:
    """Each worker has its own Redis, flushed after each test: tests that write the same
    key at the same time on two workers never see each other's data."""
    pytest.importorskip("splice._internal.services.kinds.redis")
    pytest.importorskip("redis")
    app_project(pytester, services="cache: {kind: redis, isolation: flush}")
    pytester.makepyfile(
        test_cache="""
        import os, time
        import pytest, redis

        @pytest.mark.parametrize("n", range(4))
        def test_alone(splice_cache, n):
            client = redis.Redis.from_url(splice_cache.url)
            assert client.dbsize() == 0  # flushed after the test before
            client.set("owner", os.environ["PYTEST_XDIST_WORKER"])
            time.sleep(0.05)
            assert client.get("owner").decode() == os.environ["PYTEST_XDIST_WORKER"]
        """
    )
    result = pytester.runpytest_subprocess(*QUIET, "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=8)
