"""Services of a project: the process kind, dependency order, errors, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from splice._internal.services.kinds.process import faketime_library

ECHO = Path(__file__).resolve().parents[1] / "support" / "echo_server.py"
TODO = Path(__file__).resolve().parents[2] / "examples" / "todo" / "server.py"


def _project(tmp_path: Path, yaml: str, suites: dict[str, str] | None = None) -> Path:
    (tmp_path / "splice.yaml").write_text(textwrap.dedent(yaml).lstrip())
    for name, text in (suites or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def _splice(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _processes_mentioning(text: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


TWO_SERVICES = f"""
    name: lifecycle
    services:
      api:
        kind: process
        command: [{sys.executable}, {TODO}, --port, "{{{{ port }}}}"]
        ready: {{http: /health}}
      front:
        kind: process
        command: {sys.executable} {TODO} --port {{{{ port }}}}
        env: {{UPSTREAM: "{{{{ services.api.url }}}}"}}
        ready: {{log: "listening on"}}
        depends_on: [api]
    suites: [suites]
"""


def test_services_start_in_order_and_suites_reach_them(tmp_path: Path) -> None:
    """A run starts dependencies first, passes their URLs on, and stops everything after."""
    _project(
        tmp_path,
        TWO_SERVICES,
        {
            "suites/s.splice.yaml": """
        name: reach
        testcases:
          - name: both answer
            steps:
              - http: {get: "{{ services.api.url }}/health"}
                expect: {status: 200}
              - http: {get: "{{ services.front.url }}/health"}
                expect: {status: 200}
              - exec: "echo {{ services.api.port }} {{ project }}"
                expect: {stdout: {$regex: "^\\\\d+ lifecycle\\n$"}}
    """
        },
    )
    done = _splice(tmp_path, "run", "--json", "run.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert not _processes_mentioning(str(TODO))
    import json

    services = json.loads((tmp_path / "run.json").read_text())["services"]
    assert [s["name"] for s in services] == ["api", "front"]
    assert (tmp_path / ".splice" / "logs").is_dir()


def test_a_service_that_exits_shows_its_log_and_a_hint(tmp_path: Path) -> None:
    """A process that dies before it is ready fails the run with exit 3 and its last log lines."""
    _project(
        tmp_path,
        """
        services:
          broken:
            kind: process
            command: "echo starting up; echo 'fatal: missing config' >&2; exit 7"
            ready: {http: /health}
    """,
        {"s.splice.yaml": "name: s\ntestcases: [{name: t, steps: [{exec: 'true'}]}]\n"},
    )
    done = _splice(tmp_path, "run")
    assert done.returncode == 3
    assert "service 'broken': exited with code 7 before it was ready" in done.stderr
    assert "fatal: missing config" in done.stderr
    assert "hint:" in done.stderr


def test_a_service_that_never_gets_ready_says_what_was_awaited(tmp_path: Path) -> None:
    """Not ready in time: the error names the probe, the timeout and the log."""
    _project(
        tmp_path,
        """
        services:
          slow:
            kind: process
            command: "echo still booting; sleep 30"
            ready: {log: "ready to serve", timeout: 300ms}
    """,
        {"s.splice.yaml": "name: s\ntestcases: [{name: t, steps: [{exec: 'true'}]}]\n"},
    )
    done = _splice(tmp_path, "run")
    assert done.returncode == 3
    assert "not ready after 0.3s; waited for a log line matching 'ready to serve'" in done.stderr
    assert "still booting" in done.stderr
    assert not _processes_mentioning("still booting")


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("services:\n  db: {kind: postgress}\n", "unknown service kind 'postgress'"),
        (
            "services:\n  a: {kind: process, command: x, depends_on: [b]}\n  b: {kind: process, command: y, depends_on: [a]}\n",
            "dependency cycle: a → b → a",
        ),
        (
            "services:\n  a: {kind: process, command: x, depends_on: [nope]}\n",
            "service 'a' depends on unknown service 'nope'",
        ),
        (
            "services:\n  a: {kind: process, command: 'x {{ services.bb.url }}'}\n",
            "unknown service 'bb' in a template",
        ),
        (
            "services:\n  a: {kind: process, command: x}\n  b: {kind: process, command: '{{ services.a.url }}'}\n",
            "service 'b' uses services.a but does not depend on it",
        ),
        (
            "services:\n  a: {kind: process, command: x, port: 70000}\n",
            "port must be at most 65535, found 70000",
        ),
        (
            "services:\n  a: {kind: process, command: x, provider: external}\n",
            "uses the external provider but has no `url`",
        ),
        ("services:\n  a: {kind: process, command: x, ready: {htp: /}}\n", "unknown key 'htp'"),
    ],
)
def test_malformed_project_files_give_located_errors(
    tmp_path: Path, yaml: str, message: str
) -> None:
    """Each mistake in splice.yaml is reported with its location, exit code 2."""
    (tmp_path / "splice.yaml").write_text(yaml)
    (tmp_path / "s.splice.yaml").write_text(
        "name: s\ntestcases: [{name: t, steps: [{exec: 'true'}]}]\n"
    )
    done = _splice(tmp_path, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "--> splice.yaml:" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigkill_of_splice_leaves_nothing_behind(tmp_path: Path) -> None:
    """After `kill -9` of a running `splice run`, no server, port or temp folder remains
    (nor, for a service with `clock: true`, libfaketime's shared memory)."""
    marker = tmp_path / "step-started"
    services = TWO_SERVICES
    if faketime_library() is not None:
        # a server that dies of SIGTERM (no handler): libfaketime never cleans up after it
        services = services.replace(
            "    suites: [suites]",
            f"""      clocked:
            kind: process
            command: [{sys.executable}, -m, http.server, "{{{{ port }}}}", --bind, 127.0.0.1]
            clock: true
    suites: [suites]""",
        )
        assert "clock: true" in services
    _project(
        tmp_path,
        services,
        {
            "suites/s.splice.yaml": f"""
        name: long
        testcases:
          - name: waits
            steps:
              - exec: "echo {{{{ services.api.port }}}} {{{{ services.front.port }}}} > {marker}; sleep 60.25"
                timeout: 120s
    """
        },
    )
    before = set(Path("/tmp").glob("splice-*")) | set(Path("/dev/shm").glob("*splice-*"))
    before |= set(Path("/dev/shm").glob("*faketime*"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            if marker.exists() and marker.read_text().strip():
                break
            time.sleep(0.05)
        ports = [int(p) for p in marker.read_text().split()]
        assert len(_processes_mentioning(str(TODO))) >= 2  # the shell of a string command too
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 15
    # the reaper ends the services and the running step one after the other
    while time.monotonic() < deadline and (
        _processes_mentioning(str(TODO)) or _processes_mentioning("sleep 60.25")
    ):
        time.sleep(0.1)
    assert not _processes_mentioning(str(TODO)), "a service outlived splice"
    assert not _processes_mentioning("sleep 60.25"), "the running step outlived splice"
    listening = Path("/proc/net/tcp").read_text()
    for port in ports:
        assert f":{port:04X} 00000000:0000 0A" not in listening, f"port {port} still listening"
    while time.monotonic() < deadline:
        left = (
            set(Path("/tmp").glob("splice-*"))
            | set(Path("/dev/shm").glob("*splice-*"))
            | set(Path("/dev/shm").glob("*faketime*"))
        ) - before
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"temporary folders left behind: {left}"


def test_two_runs_at_once_never_collide(tmp_path: Path) -> None:
    """Two `splice run` of the same project at the same time both pass, on different ports."""
    _project(
        tmp_path,
        TWO_SERVICES,
        {
            "suites/s.splice.yaml": """
        name: twice
        testcases:
          - name: answers
            steps:
              - http: {get: "{{ services.front.url }}/health"}
                expect: {status: 200}
    """
        },
    )
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "splice", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs


def test_up_status_run_down(tmp_path: Path) -> None:
    """`splice up` keeps services running, `run` reuses them, `status` checks, `down` stops."""
    _project(
        tmp_path,
        TWO_SERVICES,
        {
            "suites/s.splice.yaml": """
        name: reuse
        testcases:
          - name: answers
            steps:
              - http: {get: "{{ services.api.url }}/health"}
                expect: {status: 200}
    """
        },
    )
    try:
        up = _splice(tmp_path, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "api" in up.stdout and "http://127.0.0.1:" in up.stdout
        env_file = (tmp_path / ".splice" / "up.env").read_text()
        assert "SPLICE_API_URL=http://127.0.0.1:" in env_file
        pids = set(_processes_mentioning(str(TODO)))
        assert len(pids) >= 2
        status = _splice(tmp_path, "status")
        assert status.returncode == 0 and status.stdout.count("ready") == 2, status.stdout
        run = _splice(tmp_path, "run")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "using the environment of `splice up`" in run.stderr
        assert set(_processes_mentioning(str(TODO))) == pids  # nothing restarted
    finally:
        down = _splice(tmp_path, "down")
    assert down.returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_mentioning(str(TODO)):
        time.sleep(0.1)
    assert not _processes_mentioning(str(TODO))
    assert _splice(tmp_path, "status").returncode == 1
