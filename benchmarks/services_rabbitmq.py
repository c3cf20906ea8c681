"""RabbitMQ through splice's local provider: time to ready and to stop, the publish ->
consume round trip through the amqp executor, and the cost of per-testcase isolation.

    .venv/bin/python -m benchmarks.services_rabbitmq

Ready time is measured around `kind.start_local()` (files, spawn, an AMQP handshake).
The peer row starts the same `rabbitmq-server` as packaged: a private node name, ports
and folders too, but the full plugins folder and the broker's own distribution start.
Vhost isolation is measured three ways (erl_call, which splice uses; rabbitmqctl; the
HTTP management API, on a node started with the management plugin).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import secrets
import signal
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import BenchError, Table, ms
from splice._internal.executors.amqp import AmqpBlock, AmqpExecutor
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.services.kind_api import RunningService, ServiceSpec, StartContext
from splice._internal.services.kind_registry import get
from splice._internal.services.kinds.rabbitmq import admin as rabbitmq_admin
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install
from splice._internal.services.kinds.rabbitmq.client import handshake
from splice._internal.services.reaper import Reaper
from splice._internal.services.resources import Resources, cache_root

COMMAND = ".venv/bin/python -m benchmarks.services_rabbitmq"
STARTS = 3
MESSAGES = 200
ISOLATIONS = 20


class _Bench:
    """Resources, a reaper and a folder for one table; everything goes on close()."""

    def __init__(self) -> None:
        self.reaper = Reaper()
        self.resources = Resources(self.reaper)
        self.folder = self.resources.tempdir("bench-rabbitmq")
        self.n = 0

    def start(self, cache_dir: Path | None = None, **settings: Any) -> tuple[RunningService, float]:
        kind = get("rabbitmq")
        self.n += 1
        spec = ServiceSpec(
            f"b{self.n}", "rabbitmq", "local", kind.settings_model.model_validate(settings)
        )
        run_dir = self.folder / spec.name
        run_dir.mkdir()
        ctx = StartContext(
            spec=spec,
            project_dir=self.folder,
            run_dir=run_dir,
            cache_dir=cache_dir or cache_root(),
            log_path=run_dir / "rabbitmq.log",
            resources=self.resources,
            vars={},
        )
        self.spawned = time.time()
        clock = time.perf_counter()
        service = kind.start_local(ctx)
        took = time.perf_counter() - clock
        self.ready_at = self.spawned + took
        self.log = ctx.log_path.read_text(errors="replace") if ctx.log_path.is_file() else ""
        return service, took

    def close(self) -> None:
        self.resources.close()
        self.reaper.close()


# the node's log lines that end each phase of its start, in order
_MARKS = (
    (
        "Erlang VM up, modules loaded (in parallel), prelaunch (config parsed, feature "
        "flags read): first log line",
        r"",
    ),
    ("logging switched, Ra systems started: `Starting broker`", r"Starting broker"),
    (
        "applications loaded and started, every module's attributes read for boot steps: "
        "first boot step",
        r"Running boot step pre_boot",
    ),
    (
        "boot steps: database, feature flags, default vhost and user, listener: "
        "`Server startup complete`",
        r"Server startup complete",
    ),
)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)([+-]\d\d:\d\d)", re.M)


def phases(log: str, spawned: float, ready_at: float) -> list[float]:
    """Seconds of each phase of `_MARKS`, then of the readiness probe, read from the
    timestamps of the node's log."""
    ends = []
    for _, pattern in _MARKS:
        for line in log.splitlines():
            stamp = _STAMP.match(line)
            if stamp and re.search(pattern, line):
                when = datetime.datetime.fromisoformat(stamp.group(1) + stamp.group(2))
                ends.append(when.timestamp())
                break
        else:
            # a line without its own stamp (`Starting broker...` follows the banner):
            # the stamp of the next stamped line after it
            at = log.find(pattern) if pattern else -1
            later = _STAMP.search(log, at) if at >= 0 else None
            if later is None:
                raise BenchError(f"the node's log has no line matching {pattern!r}")
            when = datetime.datetime.fromisoformat(later.group(1) + later.group(2))
            ends.append(when.timestamp())
    out, previous = [], spawned
    for end in [*ends, ready_at]:
        out.append(max(0.0, end - previous))
        previous = end
    return out


def phase_times(starts: int = STARTS) -> Table:
    table = Table(
        f"RabbitMQ: where a start's time goes (splice local provider, median of {starts})",
        COMMAND,
        ["phase (ends at)", "median", "of the starts"],
    )
    bench = _Bench()
    rows: list[list[float]] = []
    try:
        for _ in range(starts):
            service, _ = bench.start()
            assert service.log_path is not None
            deadline = time.monotonic() + 10  # the broker writes its log a moment later
            log = bench.log
            while "Server startup complete" not in log and time.monotonic() < deadline:
                time.sleep(0.05)
                log = service.log_path.read_text(errors="replace")
            rows.append(phases(log, bench.spawned, bench.ready_at))
            service.stop()
    finally:
        bench.close()
    labels = [label for label, _ in _MARKS] + ["readiness probe: AMQP handshake answered"]
    for i, label in enumerate(labels):
        values = [r[i] for r in rows]
        table.rows.append([label, ms(statistics.median(values)), ", ".join(ms(v) for v in values)])
    table.notes.append(
        "phases end at the timestamps of the node's own log lines; the first one starts "
        "when splice writes the node's files and spawns `erl`"
    )
    return table


def _packaged(bench: _Bench) -> tuple[float, float]:
    """`rabbitmq-server` as packaged, on a private node: (ready, stop) seconds."""
    install = rabbitmq_install.find("bench")
    res = bench.resources
    folder = res.tempdir("bench-rabbitmq-plain", fast=True)
    port, dist = res.port(), res.port()
    for sub in ("home", "mnesia", "log"):
        (folder / sub).mkdir()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{port}\ndefault_user = b\ndefault_pass = b\n"
        "loopback_users = none\n"
    )
    (folder / "enabled_plugins").write_text("[].\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
    env.update(
        HOME=str(folder / "home"),
        RABBITMQ_NODENAME=f"bench-{secrets.token_hex(4)}@localhost",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(dist),
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(folder / "log"),
        RABBITMQ_LOGS="-",
        RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
        RABBITMQ_CONF_ENV_FILE=str(folder / "none.conf"),
    )
    url = f"amqp://b:b@127.0.0.1:{port}/%2F"
    clock = time.perf_counter()
    proc = res.spawn([install.server], log=folder / "log" / "out.log", env=env, cwd=folder)
    deadline = clock + 120
    while True:
        try:
            handshake(url, 2.0)
            break
        except Exception:
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise
            time.sleep(0.02)
    ready = time.perf_counter() - clock
    clock = time.perf_counter()
    res.stop(proc, sig=signal.SIGTERM, grace=10)
    stop = time.perf_counter() - clock
    res.remove_dir(folder)
    return ready, stop


def ready_times(starts: int = STARTS) -> Table:
    table = Table(
        f"RabbitMQ: node ready time (median of {starts} starts)",
        COMMAND,
        ["how", "ready (median)", "ready (min-max)", "stop (median)"],
    )
    bench = _Bench()
    try:
        runs: dict[str, list[tuple[float, float]]] = {"splice": [], "packaged": []}
        for _ in range(starts):  # interleaved: the machine's load hits both alike
            service, took = bench.start()
            clock = time.perf_counter()
            service.stop()
            runs["splice"].append((took, time.perf_counter() - clock))
            runs["packaged"].append(_packaged(bench))
        # a cache folder of its own: the node folder is built first (a node started and
        # cleanly stopped), as on the first start with new settings
        cold_cache = bench.folder / "cold-cache"
        service, took = bench.start(cache_dir=cold_cache)
        clock = time.perf_counter()
        service.stop()
        runs["cold"] = [(took, time.perf_counter() - clock)]
        labels = {
            "splice": "splice local provider (`erl` started directly, trimmed plugins "
            "folder, one folder of module links first on the code path, modules loaded "
            "in parallel before boot, the cached initialised node folder, `-sname`, own "
            "epmd; stopped with SIGKILL)",
            "cold": "the same, first start with new settings (once): the cached node folder "
            "is made first",
            "packaged": "`rabbitmq-server` as packaged, private node (peer)",
        }
        for key, label in labels.items():
            ready = [r for r, _ in runs[key]]
            table.rows.append(
                [
                    label,
                    ms(statistics.median(ready)),
                    f"{ms(min(ready))} - {ms(max(ready))}",
                    ms(statistics.median(s for _, s in runs[key])),
                ]
            )
    finally:
        bench.close()
    table.notes.append(
        "ready = files + spawn + an AMQP handshake (login, vhost open); stop: splice "
        "kills its throwaway node (SIGKILL), the packaged row is stopped with SIGTERM, the "
        "broker's graceful shutdown (~1 s of it is Erlang's own); folder removed"
    )
    return table


def _median(fn: Callable[[], object], times: int) -> float:
    fn()  # warm up: connections, imports
    out = []
    for _ in range(times):
        clock = time.perf_counter()
        fn()
        out.append(time.perf_counter() - clock)
    return statistics.median(out)


def round_trips(messages: int = MESSAGES) -> Table:
    table = Table(
        f"RabbitMQ: publish -> consume through the amqp executor (median of {messages})",
        COMMAND,
        ["path", "median"],
    )
    bench = _Bench()
    try:
        service, _ = bench.start()
        ctx = StepContext(
            vars={"services": {"bus": service.endpoint.as_vars()}},
            session=TestcaseSession(),
            base_dir=bench.folder,
        )
        executor = AmqpExecutor()

        def step(**block: Any) -> dict[str, Any]:
            return executor.execute(
                AmqpBlock.model_validate({"service": "bus", **block}), ctx
            ).result

        step(
            declare={
                "exchanges": [{"name": "ev", "type": "topic"}],
                "queues": ["q"],
                "bindings": [{"exchange": "ev", "queue": "q", "routing_key": "#"}],
            }
        )
        cases: dict[str, Callable[[], object]] = {
            "publish step (to a queue) + consume step": lambda: (
                step(publish={"queue": "q"}, json={"n": 1}),
                step(consume="q"),
            ),
            "publish step (topic exchange) + consume step": lambda: (
                step(publish="ev", routing_key="a.b", json={"n": 1}),
                step(consume="q"),
            ),
            "publish step + get step": lambda: (
                step(publish={"queue": "q"}, body="x"),
                step(get="q"),
            ),
            "a testcase's first steps (connect, publish, get)": lambda: _fresh(ctx, step),
        }
        for label, fn in cases.items():
            table.rows.append([label, ms(_median(fn, messages if "first" not in label else 20))])
        ctx.session.close()
    finally:
        bench.close()
    table.notes.append(
        "publish waits for the broker's confirm; consume registers a consumer, waits for "
        "the message, acknowledges it and cancels"
    )
    return table


def _fresh(ctx: StepContext, step: Callable[..., object]) -> None:
    ctx.session.close()
    ctx.session = TestcaseSession()
    step(publish={"queue": "q"}, body="x")
    step(get="q")


def isolation_costs(times: int = ISOLATIONS) -> Table:
    table = Table(
        "RabbitMQ: per-testcase isolation, acquire + release",
        COMMAND,
        ["mode", "median", "runs"],
    )
    kind: Any = get("rabbitmq")
    bench = _Bench()
    try:
        service, _ = bench.start()
        keys = iter(range(10**6))

        def cycle(mode: str) -> None:
            key = f"t{next(keys)}"
            endpoint = kind.acquire(service, mode, key)
            kind.release(service, mode, key, endpoint)

        state = service.state["rabbitmq.admin"]
        ctl = {**state, "erl_call": None}
        table.rows += [
            [
                "prefix (names get `tN-run.`)",
                ms(_median(lambda: cycle("prefix"), times)),
                str(times),
            ],
            [
                "vhost via erl_call (splice's way)",
                ms(_median(lambda: cycle("vhost"), times)),
                str(times),
            ],
            ["vhost via rabbitmqctl", ms(_median(lambda: _ctl_cycle(ctl, next(keys)), 3)), "3"],
        ]
        service.stop()
        port = bench.resources.port()
        management = {
            "plugins": ["rabbitmq_management"],
            "config": {"management.tcp.ip": "127.0.0.1", "management.tcp.port": port},
        }
        warm, _ = bench.start(**management)  # its cached node folder made, if need be
        warm.stop()
        http, ready = bench.start(
            plugins=["rabbitmq_management"],
            config={"management.tcp.ip": "127.0.0.1", "management.tcp.port": port},
        )
        api = f"http://127.0.0.1:{port}/api"
        table.rows.append(
            [
                "vhost via the HTTP management API",
                ms(_median(lambda: _http_cycle(api, http, next(keys)), times)),
                str(times),
            ]
        )
        clock = time.perf_counter()
        http.stop()
        table.notes.append(
            f"the management plugin makes the node ready in {ms(ready)} and stop in "
            f"{ms(time.perf_counter() - clock)} (see the ready-time table without it)"
        )
    finally:
        bench.close()
    table.notes.append(
        "vhost: create it, grant the user, delete it (no fixtures); prefix: no broker "
        "work unless fixtures are declared again under the prefix"
    )
    return table


def _ctl_cycle(state: dict[str, Any], n: int) -> None:
    rabbitmq_admin.add_vhost(state, f"c{n}", "splice")
    rabbitmq_admin.delete_vhost(state, f"c{n}", "splice")


def _http_cycle(api: str, service: RunningService, n: int) -> None:
    # the node's own login: its password is generated once per machine, not `splice`
    login = f"{service.endpoint.user}:{service.endpoint.password}".encode()
    auth = "Basic " + base64.b64encode(login).decode()

    def call(method: str, path: str, body: object = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            api + path,
            method=method,
            data=data,
            headers={"Authorization": auth, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    call("PUT", f"/vhosts/h{n}", {})
    every = {"configure": ".*", "write": ".*", "read": ".*"}
    call("PUT", f"/permissions/h{n}/{service.endpoint.user}", every)
    call("DELETE", f"/vhosts/h{n}")


def run() -> str:
    """The three tables as one Markdown section."""
    tables = (ready_times(), phase_times(), round_trips(), isolation_costs())
    return "\n".join(t.markdown() for t in tables)


if __name__ == "__main__":
    print(run())
