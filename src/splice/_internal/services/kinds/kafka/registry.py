"""The `kafka` kind's own schema registry (`schema_registry: true`): a small
Confluent-Schema-Registry-compatible server in memory, for brokers that have none
(Tansu, Apache Kafka).

It runs in a process of its own (`registry_server`), spawned before the broker so
that both start at the same time, on a private port; `services.NAME.schema_registry_url`
points at it. What it answers is in `registry_store`.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from splice._internal.services.kind_api import ServiceError, StartContext
from splice._internal.services.readiness import wait_ready

_MODULE = "splice._internal.services.kinds.kafka.registry_server"


def _splice_package() -> Path:
    """The folder of the splice package: its parent goes on the PYTHONPATH of the
    registry's own process (found, not imported: a kind imports nothing above it)."""
    spec = importlib.util.find_spec("splice")
    assert spec is not None and spec.origin is not None  # this very module is inside it
    return Path(spec.origin).resolve().parent


class LocalRegistry:
    """One registry process of a service: spawned, then awaited, then stopped."""

    def __init__(self, ctx: StartContext) -> None:
        self.ctx = ctx
        self.port = ctx.resources.port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ctx.run_dir / "schema-registry.log"
        env = dict(os.environ)
        # the server imports splice from wherever this process does (a source checkout too)
        source_root = str(_splice_package().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
        args = [sys.executable, "-m", _MODULE, "--port", str(self.port)]
        try:
            self.proc: subprocess.Popen[bytes] | None = ctx.resources.spawn(
                args, log=self.log_path, env=env, cwd=ctx.run_dir
            )
        except OSError as exc:
            ctx.resources.release_port(self.port)
            raise ServiceError(
                ctx.spec.name, f"cannot start the schema registry: {exc.strerror or exc}"
            ) from exc

    def wait(self, timeout: float) -> None:
        """Until the registry answers GET /subjects; stops it when it does not."""
        try:
            wait_ready(
                self.ctx.spec.name,
                lambda: probe("127.0.0.1", self.port),
                awaited=f"GET {self.url}/subjects (the schema registry) to answer",
                timeout=timeout,
                proc=self.proc,
                log_path=self.log_path,
                hint="read the schema registry's log above",
                # it is ready ~50 ms after it is spawned: look often, not at 65 then 103 ms
                interval=0.002,
                max_interval=0.01,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            self.ctx.resources.stop(proc, grace=2.0)
            self.ctx.resources.release_port(self.port)


def probe(host: str, port: int) -> None:
    """One request a schema registry must answer: the list of subjects."""
    connection = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        connection.request("GET", "/subjects")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise ConnectionError(f"GET /subjects answered {response.status}")
    finally:
        connection.close()
