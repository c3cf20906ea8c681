"""The warm pool: a project's servers kept running between runs (`splice run --warm`).

The first warm run starts a supervisor, `splice up --foreground` with a pool key and an
idle timeout, and waits for it to be ready; that supervisor is an ordinary `splice up`
(its own reaper, its state in `.splice/up.json`, `splice status` and `splice down`).
Each warm run then attaches to it:

1. under `.splice/warm.lock`, it checks the pool: a supervisor whose key differs (the
   services' configuration, the data plan or splice's version changed) is stopped; none
   running (never started, stopped, or killed with `kill -9`, whose reaper cleaned up) is
   started afresh;
2. it takes a lease, `.splice/warm/<n>.lease` holding its pid and start time; `n` is the
   smallest number no live run holds, and names the run's own share of the servers;
3. it gives itself fresh isolation on each service nothing else depends on: a database
   cloned from a template (PostgreSQL, MariaDB), its own vhost (RabbitMQ), its own
   numbered database, counted down from the last (Redis), a prefix (NATS, MQTT, Kafka);
   the run's per-testcase isolation then works inside that share;
4. on the way out it gives its share back and drops the lease.

A service another one depends on (the database of a `process` under test) stays shared:
the system under test connects to the one address it was started with. The supervisor
stops itself, and its servers, once no live lease has been seen for its idle timeout; a
run killed with `kill -9` leaves a lease whose pid is gone, which does not count.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.environment.up_state import (
    STATE_DIR,
    ReusedEnvironment,
    alive,
    read_state,
    reuse_up_environment,
)
from splice._internal.errors import UsageError
from splice._internal.project.model import Project
from splice._internal.services import kind_registry as registry
from splice._internal.services import owners
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError
from splice._internal.version import VERSION

DEFAULT_IDLE = 600.0  # seconds without an attached run before the pool stops
# the isolation each kind gives one attached run (Redis: a numbered database, below)
RUN_MODES = {
    "postgres": "template",
    "mysql": "template",
    "mariadb": "template",
    "rabbitmq": "vhost",
    "nats": "prefix",
    "mqtt": "prefix",
    "kafka": "prefix",
}


@dataclass(frozen=True)
class WarmOptions:
    """How a run uses the warm pool."""

    idle: float = DEFAULT_IDLE  # the supervisor's idle timeout, in seconds
    timeout: float = 300.0  # to wait for a new pool to be ready


def pool_key(project: Project) -> str:
    """What a pool must match to be attached to: splice's version, the project file, each
    service's configuration and the data plan (a pool loaded its fixtures once)."""
    services = {
        name: {
            "kind": spec.kind,
            "provider": spec.provider,
            "settings": _dumped(spec.settings),
            "depends_on": list(spec.depends_on),
            "url": spec.url,
            "image": spec.image,
            "isolation": spec.isolation,
        }
        for name, spec in sorted(project.services.items())
    }
    data = {
        "fixtures": {n: [str(f) for f in files] for n, files in project.data.fixtures.items()},
        "migrations": [repr(m.command) for m in project.data.migrations],
    }
    text = json.dumps([VERSION, str(project.path), services, data], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _dumped(settings: Any) -> Any:
    if hasattr(settings, "model_dump"):
        return settings.model_dump(by_alias=True, warnings=False)
    return settings


def _folder(project: Project) -> Path:
    return project.root / STATE_DIR / "warm"


@contextlib.contextmanager
def _locked(project: Project) -> Iterator[None]:
    path = project.root / STATE_DIR / "warm.lock"
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lease_alive(path: Path) -> bool:
    held = _lease(path)
    return bool(held) and owners.start_time(int(held["pid"])) == held["start"]


def live_leases(project: Project) -> list[int]:
    """The numbers of the runs attached now (stale leases of killed runs removed)."""
    folder = _folder(project)
    found = []
    for path in folder.glob("*.lease") if folder.is_dir() else []:
        if _lease_alive(path):
            found.append(int(path.stem))
        else:
            path.unlink(missing_ok=True)
    return sorted(found)


def _take_lease(project: Project) -> Path:
    """A lease for this process, under the lock: the smallest free number."""
    taken = set(live_leases(project))
    number = next(n for n in range(1, len(taken) + 2) if n not in taken)
    path = _folder(project) / f"{number}.lease"
    path.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    _write_private(path, json.dumps({"pid": pid, "start": owners.start_time(pid)}))
    return path


def stop_supervisor(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, and SIGKILL after `timeout` (its reaper still stops the servers)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _ensure_pool(project: Project, options: WarmOptions) -> None:
    """A ready supervisor of this project with its current key (called under the lock)."""
    key = pool_key(project)
    state = read_state(project)
    if state is not None:
        warm = state.get("warm")
        if warm is None or warm.get("key") == key:
            return  # a plain `splice up` is used as it is
        stop_supervisor(int(state["pid"]))
    folder = project.root / STATE_DIR
    folder.mkdir(exist_ok=True)
    log = folder / "warm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *[sys.executable, "-m", "splice", "up", "--foreground"],
                *["--warm-key", key, "--idle", f"{options.idle:g}"],
            ],
            cwd=project.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + options.timeout
    while time.monotonic() < deadline:
        state = read_state(project)
        if state is not None and state.get("ready") and state.get("pid") == proc.pid:
            return
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-20:]
            raise ServiceError(
                "warm pool",
                f"the supervisor exited with code {proc.returncode} before it was ready",
                hint=f"read {log}, or run without --warm",
                log_tail=tail,
            )
        time.sleep(0.02)
    stop_supervisor(proc.pid)
    raise ServiceError(
        "warm pool",
        f"the supervisor was not ready within {options.timeout:g}s",
        hint=f"read {log}",
    )


@contextlib.contextmanager
def attached(project: Project, options: WarmOptions) -> Iterator[ReusedEnvironment]:
    """The pool's services with this run's own share of each (see the module)."""
    with _locked(project):
        lease = _take_lease(project)
        try:
            _ensure_pool(project, options)
        except BaseException:
            lease.unlink(missing_ok=True)
            raise
    try:
        reused = reuse_up_environment(project)
        if reused is None:
            raise UsageError(
                "the running `splice up` does not have every service of the project",
                "stop it with `splice down`, then run again",
            )
        state = read_state(project) or {}
        warm = state.get("warm") and state.get("pid") == reused.pid
        share = _claim(project, lease, reused.pid, options.timeout) if warm else {}
        services = dict(reused.services)
        for name, saved in share.items():
            pooled = services[name]
            services[name] = RunningService(
                pooled.spec,
                Endpoint(**saved),
                log_path=pooled.log_path,
                pid=pooled.pid,
                state=dict(pooled.state),
            )
        try:
            yield ReusedEnvironment(reused.pid, services, warm=bool(warm))
        finally:
            for name in share:
                with contextlib.suppress(Exception):
                    services[name].stop()  # the run's own isolation (templates, pools)
    finally:
        lease.unlink(missing_ok=True)  # the supervisor gives the share back


def _claim(project: Project, lease: Path, supervisor: int, timeout: float) -> dict[str, Any]:
    """Move one ready share of the supervisor into this run's lease (waiting for one)."""
    folder = _folder(project)
    deadline = time.monotonic() + timeout
    while True:
        with _locked(project):
            ready = sorted(folder.glob(f"{supervisor}-*.ready"))
            if ready:
                share: dict[str, Any] = json.loads(ready[0].read_text())
                held = json.loads(lease.read_text())
                _write_private(lease, json.dumps({**held, "share": ready[0].stem}))
                ready[0].unlink()
                return share
        if not alive(supervisor):
            raise ServiceError(
                "warm pool",
                "the supervisor stopped while this run waited for its share",
                hint=f"read {project.root / STATE_DIR / 'warm.log'}, then run again",
            )
        if time.monotonic() > deadline:
            raise ServiceError(
                "warm pool",
                f"the supervisor had no share ready within {timeout:g}s",
                hint=f"read {project.root / STATE_DIR / 'warm.log'}",
            )
        time.sleep(0.02)


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the user alone (shares hold passwords)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(text)
    tmp.replace(path)


class Shares:
    """In the supervisor: keeps `READY` shares made ahead (`<id>.ready`), and gives back
    each one handed out once no live lease holds it (its run ended or was killed)."""

    READY = 2

    def __init__(self, project: Project, services: dict[str, RunningService]) -> None:
        self.project = project
        self.folder = _folder(project)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.ready"):  # of a supervisor killed before
            stale.unlink(missing_ok=True)
        depended = {d for spec in project.services.values() for d in spec.depends_on}
        # a service another one depends on stays shared: it knows only its one address
        self.services = {
            n: s
            for n, s in services.items()
            if n not in depended and s.spec.provider != "external" and _mode_of(s) is not None
        }
        self.made: dict[str, list[tuple[str, Any]]] = {}  # share id -> how to give it back
        self._ids = iter(range(1, 1 << 62))
        self._slots = {
            n: list(range(1, int(getattr(s.spec.settings, "databases", 16))))
            for n, s in self.services.items()
            if s.spec.kind == "redis"
        }
        for service in self.services.values():
            mode = _mode_of(service)
            assert mode is not None
            registry.get(service.spec.kind).prepare_isolation(service, mode)  # type: ignore[attr-defined]

    def tick(self) -> int:
        """Give back what no run holds, make shares up to READY; the runs attached."""
        with _locked(self.project):
            leases = [p for p in self.folder.glob("*.lease") if _lease_alive(p)]
            held = {_lease(p).get("share") for p in leases}
            ready = {p.stem for p in self.folder.glob("*.ready")}
            gone = [i for i in self.made if i not in held and i not in ready]
        for share_id in gone:
            self._give_back(share_id)
        for _ in range(self.READY - len(ready)):
            self._make()
        return len(leases)

    def _make(self) -> None:
        share_id = f"{os.getpid()}-s{next(self._ids)}"
        endpoints: dict[str, Any] = {}
        undo: list[tuple[str, Any]] = []
        self.made[share_id] = undo
        for name, service in self.services.items():
            kind: Any = registry.get(service.spec.kind)
            mode = _mode_of(service)
            extra: dict[str, int] = {}
            if name in self._slots:
                if not self._slots[name]:
                    return  # every database is handed out: a run waits for one
                extra = {"slot": self._slots[name].pop()}
            endpoint = kind.acquire(service, mode, share_id, **extra)
            undo.append((name, (endpoint, extra)))
            if endpoint is not None:
                endpoints[name] = endpoint.__dict__
        _write_private(self.folder / f"{share_id}.ready", json.dumps(endpoints))

    def _give_back(self, share_id: str) -> None:
        for name, (endpoint, extra) in reversed(self.made.pop(share_id, [])):
            service = self.services[name]
            kind: Any = registry.get(service.spec.kind)
            with contextlib.suppress(Exception):
                kind.release(service, _mode_of(service), share_id, endpoint, **extra)
            if "slot" in extra:
                self._slots[name].append(extra["slot"])


def forget_shares(project: Project) -> None:
    """In a supervisor that stops: its shares made ahead go (they name its servers)."""
    for ready in _folder(project).glob(f"{os.getpid()}-*.ready"):
        ready.unlink(missing_ok=True)


def _mode_of(service: RunningService) -> str | None:
    """The isolation that gives a run its own share of a pooled service."""
    return "flush" if service.spec.kind == "redis" else RUN_MODES.get(service.spec.kind)


def _lease(path: Path) -> dict[str, Any]:
    try:
        held: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return held


def supervise(
    project: Project, services: dict[str, RunningService], idle: float, stop: threading.Event
) -> threading.Thread:
    """In the supervisor: keep shares ready and give back those of runs that ended; set
    `stop` once no run has been attached for `idle` seconds."""
    shares = Shares(project, services)

    def tick() -> int:
        try:
            return shares.tick()
        except Exception as exc:  # noqa: BLE001 - a server gone wrong: said in warm.log
            print(f"warm pool: could not make or give back a share: {exc}", flush=True)
            return 1  # not idle: a run may be waiting

    def watch() -> None:
        last = time.monotonic()
        tick()
        while not stop.wait(min(0.05, idle / 4)):
            if tick():
                last = time.monotonic()
            elif time.monotonic() - last >= idle:
                stop.set()

    thread = threading.Thread(target=watch, name="splice-warm", daemon=True)
    thread.start()
    return thread
