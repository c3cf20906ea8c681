"""The `process` kind: the system under test (or any program), started from a command.

    app:
      kind: process
      command: uvicorn shop.app:app --port {{ port }}
      env: {DATABASE_URL: "{{ services.db.url }}"}
      ready: {http: /health, timeout: 30s}
      depends_on: [db]

splice assigns a free port (`{{ port }}` in the command or env), captures stdout and
stderr in the service's log, and waits for readiness by HTTP, TCP, a log line or a command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from splice._internal.model.durations import parse_duration
from splice._internal.regexes import compile_user_regex
from splice._internal.services.kind_api import (
    Endpoint,
    RunningService,
    ServiceError,
    Settings,
    StartContext,
)
from splice._internal.services.readiness import tcp_probe, wait_ready
from splice._internal.services.settings import Duration, ProjectFolder, http_url, user_regex
from splice._internal.templating import render


class Ready(Settings):
    http: str | None = None  # a path (or full URL) that must answer 2xx/3xx
    tcp: bool = False  # the port accepts connections
    log: str | None = None  # a regular expression the log must show
    command: str | None = None  # a command that must exit 0
    timeout: Duration = "30s"

    @field_validator("http")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return http_url(value) if value is not None and "://" in value else value

    @field_validator("log")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return user_regex(value) if value is not None else None


class ProcessSettings(Settings):
    command: str | list[str]
    env: dict[str, str | int | float | bool] = {}
    inherit_env: bool = True
    cwd: ProjectFolder = None
    port: int | None = Field(default=None, ge=1, le=65535)
    ready: Ready | None = None
    stop_signal: str = "SIGTERM"
    stop_timeout: Duration = "5s"
    clock: bool = False  # a wall clock tests can move (libfaketime), see `ServiceClock`

    @field_validator("stop_signal")
    @classmethod
    def _signal(cls, value: str) -> str:
        name = value.upper() if value.upper().startswith("SIG") else f"SIG{value.upper()}"
        if not hasattr(signal, name):
            raise ValueError(f"unknown signal {value!r}; for example SIGTERM or SIGINT")
        return name

    @model_validator(mode="after")
    def _not_empty(self) -> ProcessSettings:
        if not self.command or (isinstance(self.command, str) and not self.command.strip()):
            raise ValueError("the command is empty")
        return self


class ProcessKind:
    name: ClassVar[str] = "process"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"clock_file"})
    settings_model: ClassVar[type[Settings]] = ProcessSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "external"})
    packages: ClassVar[dict[str, str]] = {}

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: ProcessSettings = ctx.spec.settings
        name = ctx.spec.name
        port = settings.port or ctx.resources.port()
        scope = {**ctx.vars, "port": port}
        command = render(settings.command, scope)
        env = _environment(settings, scope)
        extra: dict[str, Any] = {}
        if settings.clock:
            clock_file = ctx.run_dir / "clock"
            try:
                faked = _faketime_env(name, clock_file, env)
            except ServiceError:
                ctx.resources.release_port(port)
                raise
            for key, value in faked.items():
                env.setdefault(key, value)  # the service's own `env` may tune libfaketime
            extra["clock_file"] = str(clock_file)
        cwd = ctx.project_dir / settings.cwd if settings.cwd else ctx.project_dir
        if not cwd.is_dir():
            raise ServiceError(name, f"working directory not found: {cwd}")
        args: Any = command if isinstance(command, str) else [str(a) for a in command]
        try:
            proc = ctx.resources.spawn(
                args, log=ctx.log_path, env=env, cwd=cwd, shell=isinstance(args, str)
            )
        except FileNotFoundError as exc:
            ctx.resources.release_port(port)
            raise ServiceError(
                name, f"command not found: {args[0]!r}", hint="check the spelling and PATH"
            ) from exc
        endpoint = Endpoint(
            url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port, extra=extra
        )
        ready = settings.ready or Ready(tcp=True)
        helper_env = ctx.resources.helper_env(env)  # a ready command is stopped with it
        probe, awaited = _probe(ready, endpoint, ctx.log_path, helper_env, cwd)
        try:
            wait_ready(
                name,
                probe,
                awaited=awaited,
                timeout=parse_duration(ready.timeout),
                proc=proc,
                log_path=ctx.log_path,
            )
        except BaseException:
            ctx.resources.stop(proc)
            ctx.resources.release_port(port)
            raise
        sig = getattr(signal, settings.stop_signal)
        grace = parse_duration(settings.stop_timeout)

        def stop() -> None:
            ctx.resources.stop(proc, sig=sig, grace=grace)
            ctx.resources.release_port(port)

        return RunningService(
            ctx.spec,
            endpoint,
            stop=stop,
            log_path=ctx.log_path,
            pid=proc.pid,
            state={"process.cwd": str(cwd)},
        )

    def check_running(self, service: RunningService, timeout: float) -> None:
        """Still up, checked as readiness is declared: HTTP, TCP or the ready command;
        with `ready: {log: ...}` only the process can be checked (by the caller)."""
        settings: ProcessSettings = service.spec.settings
        ready = settings.ready or Ready(tcp=True)
        if _declared(ready) == "log":
            return
        env = _environment(settings, {"port": service.endpoint.port})
        cwd = service.state.get("process.cwd") or "."
        probe, awaited = _probe(ready, service.endpoint, service.log_path, env, cwd)
        wait_ready(
            service.name,
            probe,
            awaited=awaited,
            timeout=timeout,
            log_path=service.log_path,
            hint="its process runs but does not answer; read its log",
        )

    def external(self, spec: Any) -> Endpoint:
        from urllib.parse import urlsplit

        parts = urlsplit(spec.url)
        return Endpoint(
            url=spec.url.rstrip("/"), host=parts.hostname or "127.0.0.1", port=parts.port
        )

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        wait_ready(
            "external",
            tcp_probe(endpoint.host, endpoint.port or 80),
            awaited=f"TCP connection to {endpoint.host}:{endpoint.port}",
            timeout=timeout,
        )


# where Debian/Ubuntu (any architecture), Fedora, source installs and Homebrew put it
_FAKETIME_LIBRARIES = (
    "/usr/lib/*/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/lib64/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
    "/opt/homebrew/lib/faketime/libfaketime.1.dylib",
    "/usr/local/lib/faketime/libfaketime.1.dylib",
)


def faketime_library() -> str | None:
    """The libfaketime preload library of this machine (`$SPLICE_FAKETIME_LIB` first)."""
    import glob

    explicit = os.environ.get("SPLICE_FAKETIME_LIB")
    if explicit:
        return explicit if os.path.isfile(explicit) else None  # noqa: PTH113
    for pattern in _FAKETIME_LIBRARIES:
        found = sorted(glob.glob(pattern))  # noqa: PTH207
        if found:
            return found[0]
    return None


def _faketime_env(name: str, clock_file: Any, env: dict[str, str]) -> dict[str, str]:
    """Variables that load libfaketime and make it read the offset in `clock_file`.

    The file holds an offset from real time (`+0` at start, so readiness sees real
    time); a test rewrites it while the service runs and, with FAKETIME_NO_CACHE, the
    next clock read sees it. The monotonic clock is left alone: servers time their own
    waits with it, and a jump there would fire or stall their timers.
    """
    library = faketime_library()
    if library is None:
        raise ServiceError(
            name,
            "`clock: true` needs libfaketime, which is not installed",
            hint="install it: `apt-get install faketime` (Debian/Ubuntu), "
            "`brew install libfaketime` (macOS); or set SPLICE_FAKETIME_LIB to the library; "
            "or drop `clock: true` if the tests need not move this service's clock",
        )
    clock_file.write_text("+0\n")
    out = {
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    if library.endswith(".dylib"):  # macOS loads it through dyld
        out["DYLD_INSERT_LIBRARIES"] = library
        out["DYLD_FORCE_FLAT_NAMESPACE"] = "1"
    else:
        out["LD_PRELOAD"] = " ".join(p for p in (library, env.pop("LD_PRELOAD", "")) if p)
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _environment(settings: ProcessSettings, scope: dict[str, Any]) -> dict[str, str]:
    """The service's environment: this process's (unless `inherit_env: false`), its own
    `env` rendered with `scope`, and PORT."""
    env = dict(os.environ) if settings.inherit_env else {}
    env.update({k: _text(render(v, scope)) for k, v in settings.env.items()})
    env.setdefault("PORT", str(scope["port"]))
    return env


def _declared(ready: Ready) -> str:
    """Which readiness the block declares: the first of http, log, command; else tcp."""
    if ready.http is not None:
        return "http"
    if ready.log is not None:
        return "log"
    return "command" if ready.command is not None else "tcp"


def _probe(
    ready: Ready, endpoint: Endpoint, log_path: Path | None, env: dict[str, str], cwd: Any
) -> tuple[Callable[[], None], str]:
    """The probe of the declared readiness and what it awaits (`env`: the ready
    command's environment)."""
    assert endpoint.port is not None
    if ready.http is not None:
        url = ready.http if "://" in ready.http else f"{endpoint.url}/{ready.http.lstrip('/')}"

        def http_probe() -> None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status >= 400:
                        raise OSError(f"HTTP {response.status}")
            except urllib.error.HTTPError as exc:
                raise OSError(f"HTTP {exc.code}") from exc

        return http_probe, f"HTTP GET {url} to answer 2xx or 3xx"
    if ready.log is not None:
        pattern = compile_user_regex(ready.log)

        def log_probe() -> None:
            exists = log_path is not None and log_path.exists()
            text = log_path.read_text(errors="replace") if log_path and exists else ""
            if not pattern.finds(text):
                raise OSError("not in the log yet")

        return log_probe, f"a log line matching {ready.log!r}"
    if ready.command is not None:
        command = ready.command

        def command_probe() -> None:
            done = subprocess.run(
                command,
                shell=True,
                cwd=cwd,
                env=env,
                timeout=10,
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                raise OSError(f"exit code {done.returncode}")

        return command_probe, f"`{command}` to exit 0"
    return tcp_probe("127.0.0.1", endpoint.port), f"TCP port {endpoint.port} to accept connections"
