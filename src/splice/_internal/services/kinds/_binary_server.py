"""What the one-binary servers (redis, nats, mqtt) share: finding the binary, starting it
on a reserved port with its data on tmpfs, waiting for a real protocol answer, stopping it.

These servers are ready 5-15 ms after they are spawned, so everything here avoids fixed
sleeps and extra processes; the readiness probes speak the wire protocol over a plain
socket (no driver import, which alone would cost more than the server's start).
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from splice._internal.services.kind_api import ServiceError, StartContext
from splice._internal.services.readiness import wait_ready

# Debian installs some servers (nats-server, mosquitto) in /usr/sbin, which is not on
# the PATH of unprivileged users; Homebrew's folders are missing from some shells' PATH
EXTRA_DIRS: tuple[str, ...] = (
    "/usr/sbin",
    "/usr/local/sbin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
)


def find_binary(service: str, binary: str, packages: Mapping[str, str], image: str) -> str:
    """The path of `binary`, or an error naming the packages and the other providers."""
    path = shutil.which(binary)
    if path is None:
        for folder in EXTRA_DIRS:
            candidate = Path(folder) / binary
            if candidate.is_file():
                return str(candidate)
        raise ServiceError(
            service,
            f"`{binary}` was not found on this machine (the local provider runs it)",
            hint=(
                f"install it (Debian/Ubuntu: `apt-get install {packages.get('debian', binary)}`; "
                f"macOS: `brew install {packages.get('macos', binary)}`), or use "
                f"`provider: docker` (image {image}) or `provider: external` with a `url:`"
            ),
        )
    return path


def check_version(service: str, binary: str, wanted: str | None, found: str) -> None:
    """Fail when the installed version does not start with the wanted one ("7" ~ "7.0.15")."""
    if wanted is None:
        return
    if found != wanted and not found.startswith(f"{wanted}."):
        raise ServiceError(
            service,
            f"version {wanted!r} was asked for, but the local `{binary}` is {found}",
            hint="install that version, remove `version:`, or use `provider: docker`, "
            "which runs the image of that version",
        )


def version_of(binary: str, args: Sequence[str], parse: Callable[[str], str | None]) -> str:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10, check=False)
    return parse(done.stdout + done.stderr) or "an unknown version"


def start_server(
    ctx: StartContext,
    args: Sequence[str],
    *,
    port: int,
    probe: Callable[[], Any],
    awaited: str,
    timeout: float,
    data_dir: Path,
    hint: str | None = None,
    stop_signal: int = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Callable[[], None]]:
    """Spawn the server, wait until `probe` succeeds; return it and how to stop it.

    On any failure the process, port and data folder are released before raising.
    """
    name = ctx.spec.name
    try:
        proc = ctx.resources.spawn(list(args), log=ctx.log_path, cwd=data_dir, env=env)
    except OSError as exc:
        _release(ctx, port, data_dir)
        raise ServiceError(name, f"cannot run {args[0]!r}: {exc.strerror or exc}") from exc

    def stop() -> None:
        terminate(ctx, proc, stop_signal)
        _release(ctx, port, data_dir)

    try:
        wait_ready(
            name,
            probe,
            awaited=awaited,
            timeout=timeout,
            proc=proc,
            log_path=ctx.log_path,
            interval=0.002,
            hint=hint,
        )
    except BaseException:
        stop()
        raise
    return proc, stop


def terminate(
    ctx: StartContext, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 3.0
) -> None:
    """Signal and reap the server ourselves, then let Resources forget it.

    Reaping first matters: a zombie still counts as a member of its process group, so
    Resources.stop alone would wait out its whole grace period for an exited server.
    """
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    ctx.resources.stop(proc, grace=0.5)


def _release(ctx: StartContext, port: int, data_dir: Path) -> None:
    ctx.resources.release_port(port)
    ctx.resources.remove_dir(data_dir)


def connect(host: str, port: int, *, tls: bool, timeout: float) -> socket.socket:
    """A connected socket, wrapped in TLS for the `rediss://`, `tls://`, `mqtts://` URLs."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls:
        context = ssl.create_default_context()
        return context.wrap_socket(sock, server_hostname=host)
    return sock


def read_line(sock: socket.socket, buffer: bytearray, deadline: float) -> bytes:
    """One CRLF-terminated line from a text protocol (RESP, NATS), without the CRLF."""
    while b"\r\n" not in buffer:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\r\n")
    buffer[:] = rest
    return line


def config_value(value: object, true: str = "yes", false: str = "no") -> str:
    """A directive's value as config files write it (redis: yes/no, mosquitto: true/false)."""
    if isinstance(value, bool):
        return true if value else false
    return str(value)


def read_exact(sock: socket.socket, buffer: bytearray, size: int, deadline: float) -> bytes:
    """Exactly `size` bytes (a message payload that follows a protocol line)."""
    while len(buffer) < size:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(max(4096, size - len(buffer)))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer.extend(chunk)
    data = bytes(buffer[:size])
    del buffer[:size]
    return data
