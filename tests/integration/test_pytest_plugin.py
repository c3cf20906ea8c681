"""The pytest plugin's fixtures: services, private instances, clocks, unit/integration
selection, errors. Each test runs pytest on a small project with `pytester`; the
services are real processes that splice starts (the `process` kind)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# A tiny HTTP service: answers every GET with its clock, pid and the path asked for, and
# leaves a file `started.<pid>` so a test can count how often it was started.
APP = """
import json, os, pathlib, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"time": time.time(), "pid": os.getpid(), "path": self.path,
                           "upstream": os.environ.get("UPSTREAM")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

pathlib.Path(f"started.{os.getpid()}").touch()
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

# the helper every generated test module imports
HELPERS = """
import json, urllib.request

def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)
"""


def app_project(pytester: pytest.Pytester, services: str = "", extra: str = "") -> None:
    """splice.yaml with the service `app` (plus `services`, indented YAML), app.py and
    helpers.py in the pytester folder."""
    pytester.makepyfile(app=APP, helpers=HELPERS)
    text = f"""
name: demo
services:
  app:
    kind: process
    command: [{json.dumps(sys.executable)}, app.py]
    ready: {{http: /health, timeout: 10s}}
{textwrap.indent(textwrap.dedent(services).strip(), "  ") if services else ""}
{textwrap.dedent(extra).strip()}
"""
    pytester.makefile(".yaml", splice=text)


def started(pytester: pytest.Pytester) -> int:
    """How many times app.py started in this project."""
    return len(list(pytester.path.glob("started.*")))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    """`import splice._internal.pytest_plugin` imports neither pydantic, httpx, jinja2, PyYAML nor rich."""
    code = (
        "import sys, splice._internal.pytest_plugin\n"
        "heavy = ('pydantic', 'httpx', 'jinja2', 'yaml', 'rich', 'splice._internal.project')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_session_without_splice_loads_none_of_it(pytester: pytest.Pytester) -> None:
    """With no splice.yaml, suites or splice options, the plugin imports nothing more."""
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            loaded = [m for m in ("splice._internal.pytest.state", "splice._internal.project.loader") if m in sys.modules]
            assert not loaded, loaded
            print("NOTHING-LOADED")
        """
    )
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*NOTHING-LOADED*"])


def test_splice_env_gives_every_service_with_its_address(pytester: pytest.Pytester) -> None:
    """splice_env starts the project once per session; each service has url, host, port."""
    app_project(pytester)
    pytester.makepyfile(
        test_env="""
        from helpers import get

        def test_one(splice_env):
            app = splice_env.services["app"]
            assert app.url == f"http://{app.host}:{app.port}"
            assert get(app.url + "/x")["path"] == "/x"
            assert splice_env.vars()["app"]["port"] == app.port
            assert not splice_env.reused
            assert splice_env.root.samefile(".")

        def test_two(splice_env):
            assert get(splice_env.services["app"].url)["pid"]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert started(pytester) == 1


def test_a_fixture_per_service_and_the_factory_share_one_handle(
    pytester: pytest.Pytester,
) -> None:
    """`splice_app` and `splice_service("app")` give the same service within a test."""
    app_project(pytester)
    pytester.makepyfile(
        test_fixtures="""
        from helpers import get

        def test_same(splice_app, splice_service, splice_env):
            assert splice_service("app") is splice_app
            assert splice_app.url == splice_env.services["app"].url
            assert splice_app["port"] == splice_app.port
            assert splice_app.isolation == "none"
            assert get(splice_app.url)["path"] == "/"
            assert "ServiceHandle 'app' process" in repr(splice_app)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_an_unknown_service_fails_with_a_hint(pytester: pytest.Pytester) -> None:
    """A misspelt service name fails the test with splice's message, not a traceback."""
    app_project(pytester)
    pytester.makepyfile(test_typo="def test_typo(splice_service):\n    splice_service('ap')\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no service 'ap' in splice.yaml*", "*hint: did you mean 'app'?*"])
    assert "Traceback" not in result.stdout.str()


def test_a_private_instance_is_fresh_and_stopped_after_the_test(
    pytester: pytest.Pytester,
) -> None:
    """splice_private starts a new instance for one test and stops it when the test ends."""
    app_project(pytester)
    pytester.makepyfile(
        test_private="""
        import pathlib
        from helpers import get

        def test_private(splice_env, splice_private):
            mine = splice_private("app")["app"]
            assert mine.port != splice_env.services["app"].port
            pid = get(mine.url)["pid"]
            assert pid != get(splice_env.services["app"].url)["pid"]
            pathlib.Path("private.pid").write_text(str(pid))
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert gone(int((pytester.path / "private.pid").read_text()))
    assert started(pytester) == 2


def test_a_private_instance_uses_shared_or_private_dependencies(
    pytester: pytest.Pytester,
) -> None:
    """A private service is wired to the shared instance of what it depends on, or to a
    private one when that is asked for too; the shared one is left running."""
    app_project(
        pytester,
        services=f"""
        front:
          kind: process
          command: [{json.dumps(sys.executable)}, app.py]
          env: {{UPSTREAM: "{{{{ services.app.url }}}}"}}
          depends_on: [app]
        """,
    )
    pytester.makepyfile(
        test_private="""
        from helpers import get

        def test_borrowed(splice_env, splice_private):
            front = splice_private("front")["front"]
            assert get(front.url)["upstream"] == splice_env.services["app"].url

        def test_both_private(splice_env, splice_private):
            private = splice_private("app", "front")
            assert private["app"].url != splice_env.services["app"].url
            assert get(private["front"].url)["upstream"] == private["app"].url

        def test_shared_still_there(splice_env):
            assert get(splice_env.services["app"].url)["path"] == "/"
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_splice_clock_freezes_this_process_and_moves(pytester: pytest.Pytester) -> None:
    """splice_clock freezes time.time and datetime at the marker's instant, moves on
    request, and is real time again after the test."""
    pytester.makepyfile(
        test_clock="""
        import datetime as dt, time
        import pytest

        @pytest.mark.splice_clock("2030-01-31 12:00")
        def test_frozen(splice_clock):
            assert dt.datetime.now(dt.UTC) == dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC)
            assert time.time() == splice_clock.now().timestamp()
            splice_clock.shift(days=1, hours=2)
            assert dt.datetime.now(dt.UTC) == dt.datetime(2030, 2, 1, 14, tzinfo=dt.UTC)
            splice_clock.move_to("2031-06-01T00:00:00+02:00")
            assert dt.datetime.now(dt.UTC) == dt.datetime(2031, 5, 31, 22, tzinfo=dt.UTC)

        def test_now(splice_clock):
            frozen = time.time()
            time.sleep(0.01)
            assert time.time() == frozen

        def test_real_again():
            import time_machine
            assert not time_machine.escape_hatch.is_travelling()
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


@pytest.mark.skipif(
    not __import__("splice._internal.services.kinds.process", fromlist=["x"]).faketime_library(),
    reason="libfaketime is not installed (Debian: apt-get install faketime)",
)
def test_a_service_clock_is_set_moved_and_reset_after_the_test(
    pytester: pytest.Pytester,
) -> None:
    """With `clock: true`, a test sets and moves the service's wall clock while it runs;
    the next test sees real time again; libfaketime's shared memory is gone afterwards."""
    shared = Path("/dev/shm")
    before = set(shared.glob("*faketime*")) if shared.is_dir() else set()
    app_project(pytester)
    text = (pytester.path / "splice.yaml").read_text()
    (pytester.path / "splice.yaml").write_text(
        text.replace("    kind: process", "    kind: process\n    clock: true")
    )
    pytester.makepyfile(
        test_service_clock="""
        import datetime as dt, time
        from helpers import get

        def near(seconds, when):
            return abs(seconds - when.timestamp()) < 5

        def test_move(splice_app):
            clock = splice_app.clock
            clock.set("2030-01-31 12:00")
            assert near(get(splice_app.url)["time"], dt.datetime(2030, 1, 31, 12, tzinfo=dt.UTC))
            clock.shift(days=-40)
            assert near(get(splice_app.url)["time"], dt.datetime(2029, 12, 22, 12, tzinfo=dt.UTC))
            assert near(clock.now().timestamp(), dt.datetime(2029, 12, 22, 12, tzinfo=dt.UTC))
            assert splice_app["clock_file"].endswith("clock")

        def test_real_again(splice_app):
            assert splice_app.clock.offset == dt.timedelta(0)
            assert abs(get(splice_app.url)["time"] - time.time()) < 5
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    if shared.is_dir():
        assert set(shared.glob("*faketime*")) - before == set()


def test_services_start_under_a_frozen_clock(pytester: pytest.Pytester) -> None:
    """A frozen in-process clock set up before the services does not stall their start."""
    app_project(pytester)
    pytester.makepyfile(
        test_frozen_first="""
        import pytest
        from helpers import get

        @pytest.mark.splice_clock("2030-01-31")
        def test_it(splice_clock, splice_app):
            assert get(splice_app.url)["path"] == "/"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_clock_without_libfaketime_names_the_packages(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`clock: true` on a machine without libfaketime fails with the packages to install."""
    monkeypatch.setenv("SPLICE_FAKETIME_LIB", str(pytester.path / "missing.so"))
    app_project(pytester)
    text = (pytester.path / "splice.yaml").read_text()
    (pytester.path / "splice.yaml").write_text(
        text.replace("    kind: process", "    kind: process\n    clock: true")
    )
    pytester.makepyfile(test_it="def test_it(splice_app): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*`clock: true` needs libfaketime*", "*apt-get install faketime*brew install libfaketime*"]
    )
    assert started(pytester) == 0


def test_a_service_without_clock_says_how_to_get_one(pytester: pytest.Pytester) -> None:
    """`.clock` on a service started without `clock: true` names the setting."""
    app_project(pytester)
    pytester.makepyfile(test_no_clock="def test_it(splice_app):\n    splice_app.clock.set(0)\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*add `clock: true` to it in splice.yaml*"])


def test_a_service_that_cannot_start_fails_its_tests_with_its_log(
    pytester: pytest.Pytester,
) -> None:
    """A service that exits fails each test using it with splice's message, log tail and
    hint, no traceback, and is tried once; unit tests still pass."""
    pytester.makepyfile(broken="import sys\nprint('cannot open the config')\nsys.exit(3)\n")
    pytester.makefile(
        ".yaml",
        splice=f"""
        services:
          app:
            kind: process
            command: [{json.dumps(sys.executable)}, broken.py]
        """,
    )
    pytester.makepyfile(
        test_broken="""
        def test_one(splice_app): pass
        def test_two(splice_env): pass
        def test_unit(): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    out = result.stdout.str()
    # once per test in the ERRORS section (with CI set, pytest also repeats whole messages in
    # its short summary, so count above it)
    assert out.split("short test summary info")[0].count("cannot open the config") == 2
    result.stdout.fnmatch_lines(["*error: service 'app': *exit*"])
    assert "Traceback" not in out


def test_errors_in_splice_yaml_are_located_and_unit_tests_still_run(
    pytester: pytest.Pytester,
) -> None:
    """A broken project file fails the tests that use splice with located errors."""
    pytester.makefile(".yaml", splice="services:\n  db: {kind: postgress}\n")
    pytester.makepyfile(
        test_it="""
        def test_env(splice_env): pass
        def test_unit(): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "splice: *splice.yaml has errors*",
            "*unknown service kind 'postgress'*",
            "*splice.yaml:2:*",
            "*did you mean 'postgres'?*",
        ]
    )


def test_no_project_file_says_where_it_looked(pytester: pytest.Pytester) -> None:
    """splice_env without a splice.yaml fails with where splice looked and what to do."""
    pytester.makepyfile(test_it="def test_env(splice_env): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no splice.yaml found*", "*--splice-project*"])


INTEGRATION_AND_UNIT = """
import pytest

@pytest.fixture
def my_client(splice_app):
    return splice_app.url

def test_uses_a_service(splice_app): pass
def test_uses_the_env(splice_env): pass
def test_through_own_fixture(my_client): pass

@pytest.mark.integration
def test_marked_by_hand(): pass

def test_pure_unit(): pass

def test_clock_only(splice_clock): pass
"""


def test_tests_using_services_are_marked_integration(pytester: pytest.Pytester) -> None:
    """The integration marker goes on every test using a service fixture, also through
    a fixture of the user's, and -m selects by it."""
    app_project(pytester)
    pytester.makepyfile(test_mixed=INTEGRATION_AND_UNIT)
    result = pytester.runpytest("--co", "-q", "-m", "integration")
    result.stdout.fnmatch_lines(
        [
            "*::test_uses_a_service",
            "*::test_uses_the_env",
            "*::test_through_own_fixture",
            "*::test_marked_by_hand",
            "4/6 tests collected (2 deselected)*",
        ]
    )


def test_splice_unit_runs_unit_tests_and_starts_no_server(pytester: pytest.Pytester) -> None:
    """--splice-unit deselects integration tests and never starts a service."""
    app_project(pytester)
    pytester.makepyfile(test_mixed=INTEGRATION_AND_UNIT)
    result = pytester.runpytest("--splice-unit")
    result.assert_outcomes(passed=2, deselected=4)
    assert started(pytester) == 0


def test_splice_unit_refuses_services_asked_for_at_run_time(pytester: pytest.Pytester) -> None:
    """A unit test that asks for services dynamically fails under --splice-unit, with a hint."""
    app_project(pytester)
    pytester.makepyfile(
        test_sneaky="def test_it(request):\n    request.getfixturevalue('splice_env')\n"
    )
    result = pytester.runpytest("--splice-unit")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--splice-unit runs only tests that need none*"])
    assert started(pytester) == 0


def test_splice_integration_runs_only_integration_tests(pytester: pytest.Pytester) -> None:
    """--splice-integration keeps only the integration tests."""
    app_project(pytester)
    pytester.makepyfile(test_mixed=INTEGRATION_AND_UNIT)
    result = pytester.runpytest("--splice-integration")
    result.assert_outcomes(passed=4, deselected=2)
    assert started(pytester) == 1


def test_unit_and_integration_together_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """Asking for both selections at once is refused."""
    result = pytester.runpytest("--splice-unit", "--splice-integration")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*exclude each other*"])


def test_a_running_splice_up_is_reused(pytester: pytest.Pytester) -> None:
    """With `splice up` running, splice_env uses its services; --splice-no-up does not."""
    app_project(pytester)
    pytester.makepyfile(
        test_up="""
        from helpers import get

        def test_it(splice_env, splice_app):
            print("REUSED", splice_env.reused, get(splice_app.url)["pid"])
        """
    )
    splice = [sys.executable, "-m", "splice"]
    up = subprocess.run(
        [*splice, "up"], cwd=pytester.path, capture_output=True, text=True, check=False
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        reused = pytester.runpytest("-s")
        own = pytester.runpytest("-s", "--splice-no-up")
    finally:
        subprocess.run([*splice, "down"], cwd=pytester.path, capture_output=True, check=True)
    reused.assert_outcomes(passed=1)
    reused.stdout.fnmatch_lines(["*REUSED True *"])
    own.stdout.fnmatch_lines(["*REUSED False *"])
    assert started(pytester) == 2  # one for `splice up`, one for --splice-no-up
