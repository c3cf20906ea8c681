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
import dataclasses
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
    try:
        pid, start = path.read_text().split()
    except (OSError, ValueError):
        return False
    return owners.start_time(int(pid)) == start


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


def _take_lease(project: Project) -> tuple[int, Path]:
    """A lease for this process, under the lock: the smallest free number."""
    taken = set(live_leases(project))
    number = next(n for n in range(1, len(taken) + 2) if n not in taken)
    path = _folder(project) / f"{number}.lease"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()} {owners.start_time(os.getpid())}")
    return number, path


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
        number, lease = _take_lease(project)
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
        with _own_share(project, reused, number) as share:
            yield share
    finally:
        lease.unlink(missing_ok=True)


@contextlib.contextmanager
def _own_share(
    project: Project, reused: ReusedEnvironment, number: int
) -> Iterator[ReusedEnvironment]:
    depended = {d for spec in project.services.values() for d in spec.depends_on}
    key = f"w{number}"
    services: dict[str, RunningService] = {}
    undo: list[Any] = []
    try:
        for name, pooled in reused.services.items():
            if name in depended or pooled.spec.provider == "external":
                services[name] = pooled
                continue
            endpoint, release = _share(pooled, key, number)
            if endpoint is None:
                services[name] = pooled
                continue
            undo.append(release)
            services[name] = RunningService(
                pooled.spec,
                endpoint,
                log_path=pooled.log_path,
                pid=pooled.pid,
                state=dict(pooled.state),
            )
        yield ReusedEnvironment(reused.pid, services)
    finally:
        for name, service in services.items():
            if service is not reused.services.get(name):
                with contextlib.suppress(Exception):
                    service.stop()  # the run's own isolation objects (templates, pools)
        for release in reversed(undo):
            with contextlib.suppress(Exception):
                release()


def _share(pooled: RunningService, key: str, number: int) -> tuple[Endpoint | None, Any]:
    """This run's endpoint of a pooled service, and how to give it back."""
    kind: Any = registry.get(pooled.spec.kind)
    holder = RunningService(pooled.spec, pooled.endpoint, state=dict(pooled.state))
    if pooled.spec.kind == "redis":
        databases = int(getattr(pooled.spec.settings, "databases", 16))
        slot = databases - number
        if slot < 1:
            raise ServiceError(
                pooled.name,
                f"{number} warm runs at once need {number + 1} Redis databases, "
                f"but the server has {databases}",
                hint="raise `databases:` for this service",
            )
        kind.prepare_isolation(holder, "flush")
        endpoint: Endpoint = kind.acquire(holder, "flush", key, slot=slot)

        def release_redis() -> None:
            kind.release(holder, "flush", key, endpoint, slot=slot)

        return endpoint, release_redis
    mode = RUN_MODES.get(pooled.spec.kind)
    if mode is None:
        return None, None
    kind.prepare_isolation(holder, mode)
    got: Endpoint | None = kind.acquire(holder, mode, key)
    if got is None:
        holder.stop()
        return None, None

    def release() -> None:
        try:
            kind.release(holder, mode, key, got)
        finally:
            holder.stop()

    return dataclasses.replace(got), release


def watch_idle(project: Project, idle: float, stop: threading.Event) -> threading.Thread:
    """In the supervisor: set `stop` once no run has been attached for `idle` seconds."""

    def watch() -> None:
        last = time.monotonic()
        while not stop.wait(min(0.2, idle / 4)):
            if live_leases(project):
                last = time.monotonic()
            elif time.monotonic() - last >= idle:
                stop.set()

    thread = threading.Thread(target=watch, name="splice-warm-idle", daemon=True)
    thread.start()
    return thread
