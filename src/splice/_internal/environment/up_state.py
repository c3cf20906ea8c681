"""The state file of a running `splice up` (`.splice/up.json`, `.splice/up.env`): written
by the process that keeps the services running, read by every later front end of the
project that reuses them (`splice run`, pytest, `splice.run`, `splice status`)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.masking import Masker
from splice._internal.project.model import Project
from splice._internal.services import owners
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceSpec

STATE_DIR = ".splice"


def state_path(project: Project) -> Path:
    return project.root / STATE_DIR / "up.json"


def env_file_path(project: Project) -> Path:
    return project.root / STATE_DIR / "up.env"


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is not running
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def read_state(project: Project) -> dict[str, Any] | None:
    """The state of the project's running `splice up`; None (and the stale file removed)
    when none runs."""
    path = state_path(project)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not alive(int(state.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return state


@dataclass
class ReusedEnvironment:
    """The services of a running `splice up`, as a run sees them."""

    pid: int
    services: dict[str, RunningService]
    warm: bool = False  # a warm pool's supervisor, and the run holds its own shares

    def vars(self) -> dict[str, Any]:
        return {name: s.endpoint.as_vars() for name, s in self.services.items()}

    def logs(self) -> dict[str, Path]:
        return {n: s.log_path for n, s in self.services.items() if s.log_path}


def reuse_up_environment(project: Project) -> ReusedEnvironment | None:
    """The running `splice up` of this project, when it has every service of the project."""
    state = read_state(project)
    if state is None or set(state["services"]) != set(project.services):
        return None
    services = {}
    for name, saved in state["services"].items():
        services[name] = saved_service(project.services[name], saved)
    return ReusedEnvironment(int(state["pid"]), services)


def saved_service(spec: ServiceSpec, saved: dict[str, Any]) -> RunningService:
    """A service of `splice up` as its state file describes it."""
    return RunningService(
        spec,
        Endpoint(**saved["endpoint"]),
        log_path=Path(saved["log"]) if saved.get("log") else None,
        pid=saved.get("pid"),
        state=saved.get("state") or {},
    )


def write_state(
    project: Project, services: dict[str, RunningService], warm: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write the state of this process's `splice up` (and up.env), readable by the user
    alone since it holds passwords; the state written. `warm` (its key and idle timeout)
    when it is the supervisor of a warm pool (`environment.warm`)."""
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "project": str(project.path),
        "ready": True,
        "started_at": time.time(),
        "services": {
            name: {
                "kind": s.spec.kind,
                "provider": s.spec.provider,
                "endpoint": s.endpoint.__dict__,
                "log": str(s.log_path) if s.log_path else None,
                "pid": s.pid,
                "pid_start": owners.start_time(s.pid) if s.pid else None,
                "state": _jsonable(s.state),
            }
            for name, s in services.items()
        },
    }
    if warm is not None:
        state["warm"] = warm
    path = state_path(project)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)  # connection details, passwords included: the user's alone
    tmp.write_text(json.dumps(state, indent=2))
    _write_env_file(project, state)
    tmp.replace(path)
    return state


def remove_state(project: Project) -> None:
    state_path(project).unlink(missing_ok=True)
    env_file_path(project).unlink(missing_ok=True)


def _jsonable(state: dict[str, Any]) -> dict[str, Any]:
    """The entries of a service's state a later process can read (not its live objects)."""
    kept = {}
    for key, value in state.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


def _write_env_file(project: Project, state: dict[str, Any]) -> None:
    lines = []
    for name, saved in state["services"].items():
        for key, value in saved["endpoint"].items():
            if value is None or isinstance(value, dict):
                continue
            var = f"SPLICE_{name}_{key}".upper().replace("-", "_")
            lines.append(f"{var}={value}")
    env_file = env_file_path(project)
    env_file.touch(mode=0o600)
    env_file.write_text("\n".join(lines) + "\n")


def passwords(state: dict[str, Any]) -> Masker:
    """A masker of the services' passwords: printed URLs hide them (up.env holds them)."""
    masker = Masker()
    masker.add_all(saved["endpoint"].get("password") for saved in state["services"].values())
    return masker
