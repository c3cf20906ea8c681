"""Waiting for a service to become ready, with an error that says what was awaited."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splice._internal.services.kind_api import ServiceError, tail


def wait_ready(
    service: str,
    probe: Callable[[], Any],
    *,
    awaited: str,
    timeout: float,
    proc: subprocess.Popen[Any] | None = None,
    log_path: Path | None = None,
    interval: float = 0.005,
    max_interval: float = 0.1,
    hint: str | None = None,
) -> Any:
    """Call `probe` until it returns without raising; fail after `timeout` seconds.

    The interval starts tiny (servers that start in 10 ms should not wait 100 ms) and
    backs off. If the process exits meanwhile, fail at once with its log.
    """
    start = time.monotonic()
    last: Exception | None = None
    while True:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                service,
                f"exited with code {proc.returncode} before it was ready ({awaited})",
                hint=hint or "read the log lines above; the command or its settings may be wrong",
                log_tail=tail(log_path),
                log_path=log_path,
            )
        try:
            return probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = exc
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            reason = f": last attempt said {_short(last)}" if last else ""
            raise ServiceError(
                service,
                f"not ready after {timeout:g}s; waited for {awaited}{reason}",
                hint=hint or "raise its ready timeout if it is slow to start, or read its log",
                log_tail=tail(log_path),
                log_path=log_path,
            )
        time.sleep(min(interval, max(0.0, timeout - elapsed)))
        interval = min(interval * 1.5, max_interval)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def tcp_probe(host: str, port: int) -> Callable[[], None]:
    def probe() -> None:
        with socket.create_connection((host, port), timeout=1):
            pass

    return probe
