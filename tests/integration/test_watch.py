"""`splice run --watch` driven by real file changes: the services start once, a changed
suite reruns alone, any other change reruns every suite, a suite that stops loading is
reported without ending the watch, and Ctrl-C stops the services and exits."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("watchfiles")

pytestmark = pytest.mark.integration

WAIT = 60.0  # seconds for one round; the file events arrive within a second


class Watching:
    """A `splice run --watch` process whose output is read line by line."""

    def __init__(self, cwd: Path) -> None:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "splice", "run", "--watch", "--no-store"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put)).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append)).start()

    @staticmethod
    def _pump(stream, put) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            put(line)
        stream.close()

    def round(self) -> str:
        """The output of the next run, up to the line that says it waits again."""
        out: list[str] = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith("watching "):
                return "".join(out)
            out.append(line)
        raise AssertionError("no rerun: " + "".join(out) + "".join(self.stderr))

    def said(self, text: str) -> bool:
        """Whether stderr has a line with `text`, waiting for it a little: stderr is read
        by its own thread, so it may trail the stdout line that ends a round."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(text in line for line in self.stderr):
                return True
            time.sleep(0.05)
        return False

    def descendants(self) -> set[int]:
        """Processes started by the watch (the mock's server among them)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = set(), {self.proc.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "splice", "init"], cwd=tmp_path, check=True, capture_output=True
    )
    first = tmp_path / "suites" / "first.splice.yaml"
    (tmp_path / "suites" / "second.splice.yaml").write_text(
        first.read_text().replace("name: first", "name: second")
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "code.py").write_text("VERSION = 1\n")
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_watch_reruns_what_a_change_affects_with_the_services_up(project: Path) -> None:
    """Each change reruns the right suites against the same running services."""
    watch = Watching(project)
    try:
        first = watch.round()
        assert "splice running 2 testcases from 2 suites" in first
        assert "2 passed, 0 failed" in first
        children = watch.descendants()
        assert children, "the mock runs in a process of its own"

        suite = project / "suites" / "first.splice.yaml"
        suite.write_text(suite.read_text() + "# a comment\n")
        assert "splice running 1 testcase from 1 suite\n" in watch.round()

        (project / "app" / "code.py").write_text("VERSION = 2\n")
        assert "splice running 2 testcases from 2 suites" in watch.round()

        second = project / "suites" / "second.splice.yaml"
        good = second.read_text()
        second.write_text(good.replace("testcases:", "testcase:"))
        assert "splice running" not in watch.round()
        assert watch.said("unknown key 'testcase'"), watch.stderr

        second.write_text(good.replace("message: hello", "message: bye"))
        failed = watch.round()
        assert "✗ second › the greeter says hello" in failed
        assert "expected 'bye', got 'hello'" in failed
        assert watch.descendants() == children, "the services were not restarted"
    finally:
        watch.proc.send_signal(signal.SIGINT)
        code = watch.proc.wait(WAIT)
    assert code == 130
    assert "".join(watch.stderr).count("services ready") == 1
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "a service outlived the watch"


def test_a_change_to_the_project_file_restarts_the_services(project: Path) -> None:
    """splice.yaml is read again and the services start anew with it."""
    watch = Watching(project)
    try:
        assert "2 passed" in watch.round()
        config = project / "splice.yaml"
        config.write_text(config.read_text().replace("name:", "# renamed\nname:"))
        again = watch.round()
        assert "splice.yaml changed: restarting the services" in again
        assert "2 passed" in again
    finally:
        watch.proc.send_signal(signal.SIGINT)
        code = watch.proc.wait(WAIT)
    assert code == 130
    assert "".join(watch.stderr).count("services ready") == 2


def test_a_change_to_a_file_the_services_read_restarts_them(project: Path) -> None:
    """The mock's stub file is read when the mock starts: changing it restarts the
    services, and the suites see the new stub."""
    watch = Watching(project)
    try:
        assert "2 passed" in watch.round()
        stubs = project / "mocks" / "greeter.yaml"
        stubs.write_text(stubs.read_text().replace("message: hello", "message: bye"))
        again = watch.round()
        assert "mocks/greeter.yaml changed: restarting the services" in again
        assert "expected 'hello', got 'bye'" in again
    finally:
        watch.proc.send_signal(signal.SIGINT)
        code = watch.proc.wait(WAIT)
    assert code == 130
