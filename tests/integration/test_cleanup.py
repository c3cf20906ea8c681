"""Nothing a run starts outlives it: helper processes killed with splice, children that
leave their service's process group, folders of runs that died; a failed start is kept on
record; `splice status` checks each service the way its readiness is declared."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
]

TODO = Path(__file__).resolve().parents[2] / "examples" / "todo" / "server.py"
ONE_TESTCASE = "name: s\ntestcases: [{name: t, steps: [{exec: 'true'}]}]\n"


def _project(folder: Path, yaml: str, suites: dict[str, str]) -> Path:
    (folder / "splice.yaml").write_text(textwrap.dedent(yaml).lstrip())
    for name, text in suites.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return folder


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **extra}


def _splice(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return out


def _running(marker: str) -> list[str]:
    """Live (non-zombie) processes whose command line contains `marker`."""
    return [
        f"{pid}: {cmd}"
        for pid, (_, state, cmd) in _table().items()
        if marker in cmd and state != "Z" and pid != os.getpid()
    ]


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _alive(pid: int) -> bool:
    state = _table().get(pid)
    return state is not None and state[1] != "Z"


def _reaper_of(pid: int) -> int | None:
    """The reaper (watchdog) process a splice process started."""
    for child, (parent, _, cmd) in _table().items():
        if parent == pid and "splice._internal.services.reaper" in cmd:
            return child
    return None


# -- kill -9 while the cached cluster is copied ---------------------------------------


def _pad(cluster: Path, folders: int = 10, files: int = 200) -> None:
    """Make the cached cluster slower to copy, so that the copy is easy to catch running
    (PostgreSQL ignores folders in its data folder that it does not know)."""
    block = b"x" * 2048
    for f in range(folders):
        padding = cluster / f"padding-{f}"
        padding.mkdir()
        for n in range(files):
            (padding / f"{n}.bin").write_bytes(block)


def _state(pid: int) -> str | None:
    entry = _table().get(pid)
    return entry[1] if entry else None


def _kill_during_copy(
    folder: Path, env: dict[str, str], cluster: Path
) -> tuple[int, Path, int | None] | None:
    """Start `splice run`; once `cp` copies `cluster`, freeze the copy (SIGSTOP: the copy
    is then certainly still under way when the run's cleanup happens) and SIGKILL splice.
    Returns the copier, its target and the reaper; None when the copy ended before it was
    frozen (aim again)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--no-store"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    copier: tuple[int, str] | None = None
    reaper = None
    try:
        deadline = time.monotonic() + 120
        while copier is None and time.monotonic() < deadline and proc.poll() is None:
            for pid, (parent, _, cmd) in _table().items():
                if parent != proc.pid:
                    continue
                if "splice._internal.services.reaper" in cmd:
                    reaper = pid
                elif cmd.split(" ", 1)[0].endswith("cp") and str(cluster) in cmd:
                    copier = (pid, cmd)
        assert copier is not None, "splice never copied the cached cluster"
        with contextlib.suppress(ProcessLookupError):
            os.kill(copier[0], signal.SIGSTOP)
        frozen = _wait_for(lambda: _state(copier[0]) in ("T", "t", "Z", None), 5)
        hit = frozen and _state(copier[0]) in ("T", "t")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    target = Path(copier[1].split()[-1])
    if not hit:  # the copy was over already: wait for the run's cleanup, then aim again
        if reaper is not None:
            _wait_for(lambda: not _alive(reaper), 30)
        return None
    return copier[0], target, reaper


def test_sigkill_while_the_cached_cluster_is_copied_leaves_nothing_in_memory(
    tmp_path: Path,
) -> None:
    """`kill -9` of splice while `cp` copies the cached PostgreSQL cluster into /dev/shm:
    the copy is stopped, then its folder removed; no process and nothing in memory stays."""
    cache = tmp_path / "cache"
    env = _env(SPLICE_CACHE_DIR=str(cache))
    _project(tmp_path, "services:\n  db: {kind: postgres}\n", {"s.splice.yaml": ONE_TESTCASE})
    first = _splice(tmp_path, "run", "--no-store", env=env)  # builds the cached cluster
    assert first.returncode == 0, first.stdout + first.stderr
    [cluster] = [p for p in (cache / "postgres").iterdir() if not p.name.startswith(".")]
    _pad(cluster)
    for _ in range(5):
        aimed = _kill_during_copy(tmp_path, env, cluster)
        if aimed is not None:
            break
    else:
        pytest.fail("the copy of the cluster was never caught running")
    copier, target, reaper = aimed
    try:
        assert target.parent.name.startswith("splice-pg-"), target
        if reaper is not None:
            assert _wait_for(lambda: not _alive(reaper), 30), "the reaper did not finish"
        assert _wait_for(lambda: not _alive(copier), 5), "the copy outlived the run"
        assert _wait_for(lambda: not target.parent.exists(), 5), f"{target.parent} was left"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(copier, signal.SIGKILL)


def test_a_run_sweeps_the_folders_of_runs_that_died_with_their_reaper(tmp_path: Path) -> None:
    """A folder left by a splice process that is gone (and whose reaper is gone) is removed
    when the next run starts its services; one of a live owner stays."""
    temp = tmp_path / "temp"
    temp.mkdir()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = temp / f"splice-pg-o{gone.stdout.strip()}.1-abcd1234"
    (stale / "data").mkdir(parents=True)
    live = temp / f"splice-pg-o{os.getpid()}.{_start_of(os.getpid())}-abcd1234"
    live.mkdir()
    _project(
        tmp_path,
        f"services:\n  web: {{kind: process, command: [{sys.executable}, -m, http.server, "
        f"'{{{{ port }}}}', --bind, 127.0.0.1]}}\n",
        {"s.splice.yaml": ONE_TESTCASE},
    )
    done = _splice(tmp_path, "run", "--no-store", env=_env(SPLICE_TMPDIR=str(temp)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not stale.exists()
    assert live.is_dir()


def _start_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


# -- a child that leaves its service's process group ----------------------------------


def _escaping_project(folder: Path, marker: str, step: str) -> None:
    """A service whose command starts a child in a session of its own (`setsid`)."""
    py = sys.executable
    command = (
        f"setsid {py} -c 'import time; time.sleep(300)' {marker} & "
        f"exec {py} -m http.server {{{{ port }}}} --bind 127.0.0.1"
    )
    _project(
        folder,
        f"""
        services:
          web:
            kind: process
            command: {json.dumps(command)}
            ready: {{tcp: true}}
        """,
        {"s.splice.yaml": f"name: s\ntestcases:\n  - name: t\n    steps:\n{step}"},
    )


def test_a_child_that_leaves_the_process_group_is_stopped_with_its_service(
    tmp_path: Path,
) -> None:
    """A `setsid` child of a `process` service runs while the tests do and is gone when
    the run ends normally."""
    marker = f"splice-escaper-{uuid.uuid4().hex[:10]}"
    # `[s]plice...` matches the child's command line but not grep's own
    probe = f"[{marker[0]}]{marker[1:]}"
    step = (
        f'      - exec: "grep -qs {probe} /proc/[0-9]*/cmdline"\n'
        "        expect: {exit_code: 0}\n"
        "        retry: {timeout: 10s}\n"
    )
    _escaping_project(tmp_path, marker, step)
    done = _splice(tmp_path, "run", "--no-store")
    assert done.returncode == 0, done.stdout + done.stderr  # the child did run
    assert _wait_for(lambda: not _running(marker), 10), _running(marker)


def test_a_child_that_leaves_the_process_group_is_stopped_after_kill_9(tmp_path: Path) -> None:
    """After `kill -9` of splice, a `setsid` child of a service is stopped as well."""
    marker = f"splice-escaper-{uuid.uuid4().hex[:10]}"
    started = tmp_path / "step-started"
    step = f'      - exec: "touch {started}; sleep 60"\n        timeout: 120s\n'
    _escaping_project(tmp_path, marker, step)
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--no-store"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(started.exists, 120), "the step never started"
        assert _wait_for(lambda: bool(_running(marker)), 10), "the child never started"
        reaper = _reaper_of(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if reaper is not None:
        assert _wait_for(lambda: not _alive(reaper), 30), "the reaper did not finish"
    assert _wait_for(lambda: not _running(marker), 10), _running(marker)


# -- every kind ------------------------------------------------------------------------


def _tagged_by(owner: str) -> list[str]:
    """Processes whose splice tag (SPLICE_OWNER) names the splice process `owner`."""
    needle = f"{owner}.".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"SPLICE_OWNER=") and needle in item:
                found.append(f"{entry.name}: {cmdline.decode(errors='replace')}")
    return found


def test_sigkill_with_a_service_of_every_kind_leaves_nothing(tmp_path: Path) -> None:
    """After `kill -9` of a run with a service of every local kind (postgres, mariadb,
    redis, rabbitmq, nats, mqtt, mock, process), no process the run started and no
    folder it made (temp folder or /dev/shm) remains."""
    started = tmp_path / "step-started"
    _project(
        tmp_path,
        f"""
        services:
          pg: {{kind: postgres}}
          my: {{kind: mariadb}}
          cache: {{kind: redis}}
          bus: {{kind: rabbitmq}}
          nats: {{kind: nats}}
          mqtt: {{kind: mqtt}}
          api: {{kind: mock}}
          web:
            kind: process
            command: {json.dumps(f"setsid sleep 300 & exec {sys.executable} -m http.server {{{{ port }}}} --bind 127.0.0.1")}
        """,
        {
            "s.splice.yaml": f"""
            name: s
            testcases:
              - name: t
                steps:
                  - exec: "touch {started}; sleep 120"
                    timeout: 200s
            """
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "splice", "run", "--no-store"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not _wait_for(started.exists, 240):
            proc.kill()
            pytest.fail(f"the step never started: {proc.communicate()[1]}")
        stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        owner = f"{proc.pid}.{stat[19]}"
        assert len(_tagged_by(owner)) >= 8, _tagged_by(owner)  # a process of each at least
        reaper = _reaper_of(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    if reaper is not None:
        assert _wait_for(lambda: not _alive(reaper), 60), "the reaper did not finish"
    assert _wait_for(lambda: not _tagged_by(owner), 10), _tagged_by(owner)
    folders = [
        path
        for root in (Path("/dev/shm"), Path(os.environ.get("TMPDIR", "/tmp")))
        for path in root.glob(f"splice-*-o{owner}-*")
    ]
    assert folders == []


# -- a failed start is recorded --------------------------------------------------------


def test_a_run_whose_services_fail_to_start_is_stored_with_its_reason_and_log(
    tmp_path: Path,
) -> None:
    """Exit 3: the run is in the store with status `error`, the reason and the service's
    log; the log file the message names exists under .splice/logs/<run id>/."""
    _project(
        tmp_path,
        """
        services:
          broken:
            kind: process
            command: "echo starting up; echo 'fatal: missing config' >&2; exit 7"
            ready: {http: /health}
        """,
        {"s.splice.yaml": ONE_TESTCASE},
    )
    done = _splice(tmp_path, "run")
    assert done.returncode == 3, done.stdout + done.stderr
    named = re.search(r"log lines of\s+(\S+\.log):", done.stderr)
    assert named, done.stderr
    log = Path(named.group(1))
    assert log.is_file(), f"the message names {log}, which does not exist"
    assert "fatal: missing config" in log.read_text()
    run_id = log.parent.name
    assert log.parent.parent == tmp_path / ".splice" / "logs"

    from splice._internal.store import Store
    from splice._internal.store.query_runs import get_run

    store = Store.open(None, tmp_path)
    try:
        run = get_run(store, run_id)
    finally:
        store.close()
    assert run is not None, f"run {run_id} is not in the store"
    assert run["status"] == "error"
    texts = {entry["kind"]: entry["content"] for entry in run["logs"]}
    assert "exited with code 7 before it was ready" in texts["error"]
    assert "fatal: missing config" in texts["error"]  # the log tail, with the reason
    assert "fatal: missing config" in texts["service-log"]
    assert [s["name"] for s in run["services"]] == ["broken"]


# -- splice status ---------------------------------------------------------------------


def test_status_checks_each_service_the_way_its_readiness_is_declared(tmp_path: Path) -> None:
    """`splice status` on the example's shape: a worker without a port is up while its
    process lives, the API while /health answers (exit 0 when all are up); a service that
    is down is reported with its whole message, wrapped, and exit 1."""
    marker = f"splice-worker-{uuid.uuid4().hex[:10]}"
    worker = (
        f'{sys.executable} -c \'import time; print("worker ready", flush=True); '
        f"time.sleep(600)' {marker}"
    )
    _project(
        tmp_path,
        f"""
        services:
          api:
            kind: process
            command: [{sys.executable}, {TODO}, --port, "{{{{ port }}}}"]
            ready: {{http: /health}}
          worker:
            kind: process
            command: {json.dumps(worker)}
            ready: {{log: "worker ready"}}
        """,
        {"s.splice.yaml": ONE_TESTCASE},
    )
    api_pids: list[int] = []
    try:
        up = _splice(tmp_path, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        status = _splice(tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
        assert "ready" in rows["api"] and "ready" in rows["worker"], status.stdout

        for found in _running(marker):
            os.kill(int(found.split(":")[0]), signal.SIGKILL)
        assert _wait_for(lambda: not _running(marker), 10)
        api_pids = [int(found.split(":")[0]) for found in _running(str(TODO))]
        for pid in api_pids:  # alive, but answering nothing
            os.kill(pid, signal.SIGSTOP)
        status = _splice(tmp_path, "status")
        assert status.returncode == 1, status.stdout
        text = " ".join(status.stdout.split())  # wrapped lines joined again
        assert re.search(r"service 'worker': its process \(pid \d+\) is not running", text), text
        port = json.loads((tmp_path / ".splice" / "up.json").read_text())["services"]["api"][
            "endpoint"
        ]["port"]
        awaited = f"waited for HTTP GET http://127.0.0.1:{port}/health to answer 2xx or 3xx"
        assert f"service 'api': not ready after 2s; {awaited}: last attempt said" in text, text
    finally:
        for pid in api_pids:
            os.kill(pid, signal.SIGCONT)
        down = _splice(tmp_path, "down")
    assert down.returncode == 0
    assert _wait_for(lambda: not _running(str(TODO)), 10)
