"""Per-step overhead: one sequential HTTP step (GET, status check, three JSON field checks)
against a server that does no work, by splice and by hand-written loops and peer tools.

Tools with a start-up cost run N steps and 1 step in one testcase; the cost of a step is
(t(N) - t(1)) / (N - 1), so start-up and loading cancel out.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks import peers
from benchmarks.common import SPLICE, BenchError, Table, median, repeat, timed, verdict
from benchmarks.servers import running
from splice._internal.model.results import Status
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions

TARGET_OVERHEAD = 0.3e-3  # seconds per step above httpx (issue 17)
PATH = "/item"
EXPECTED = {"id": 1, "name": "widget", "price": 9.5}


def _checks_fail(status: int, body: bytes) -> bool:
    data = json.loads(body)
    return status != 200 or any(data.get(k) != v for k, v in EXPECTED.items())


def httpx_loop(url: str, n: int) -> float:
    """Seconds for n requests and checks with one httpx.Client (the floor for splice)."""
    failures = 0
    with httpx.Client() as client:
        client.get(url + PATH)  # connect first, as splice's one-step baseline does
        start = time.perf_counter()
        for _ in range(n):
            response = client.get(url + PATH)
            failures += _checks_fail(response.status_code, response.content)
        elapsed = time.perf_counter() - start
    if failures:
        raise BenchError(f"httpx loop: {failures} checks failed")
    return elapsed


def http_client_loop(url: str, n: int) -> float:
    """Seconds for n requests and checks with the standard library, one connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    failures = 0
    try:
        conn.request("GET", PATH)
        conn.getresponse().read()
        start = time.perf_counter()
        for _ in range(n):
            conn.request("GET", PATH)
            response = conn.getresponse()
            failures += _checks_fail(response.status, response.read())
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if failures:
        raise BenchError(f"http.client loop: {failures} checks failed")
    return elapsed


def write_suite(path: Path, n: int) -> Path:
    step = (
        '      - http: {get: "{{ base_url }}' + PATH + '"}\n'
        "        expect: {status: 200, json: {id: 1, name: widget, price: 9.5}}\n"
    )
    path.write_text(
        "name: overhead\ntestcases:\n  - name: steps\n    steps:\n" + step * n, encoding="utf-8"
    )
    return path


SECRETS = 20  # secret variables of the `with secrets` row: each masked in ~12 spellings


def splice_in_process(path: Path, url: str, *, with_load: bool = True, secrets: int = 0) -> float:
    """Seconds to (load and) run the suite through splice's runner API, in this process;
    with `secrets`, that many secret variables are masked in every step's result."""
    start = time.perf_counter()
    suites, problems = load_all([path])
    if problems:
        raise BenchError(f"splice cannot load {path.name}: {problems[0].message}")
    if not with_load:
        start = time.perf_counter()
    values = {f"secret_{i}": f"s3cret-value-{i:04}" for i in range(secrets)}
    options = RunOptions(external={"base_url": url, **values}, secret_names=set(values))
    result = Runner(suites, options, EventBus()).run()
    elapsed = time.perf_counter() - start
    if result.status != Status.PASSED:
        raise BenchError(f"splice in-process run of {path.name}: {result.status.value}")
    return elapsed


def per_step(run: Callable[[int], float], n: int, runs: int, budget: float) -> float:
    """(median t(n) - median t(1)) / (n - 1), each measured up to `runs` times."""
    big = median(repeat(lambda: run(n), runs, budget))
    one = median(repeat(lambda: run(1), runs, budget))
    return (big - one) / (n - 1)


def measure(n: int, runs: int, with_peers: bool) -> Table:
    table = Table(
        f"Per-step overhead: sequential GET + status + 3 JSON checks, N={n}",
        ".venv/bin/python -m benchmarks step_overhead",
        ["runner", "ms/step", "above httpx", "how"],
    )
    budget = 120.0
    results: list[tuple[str, float | None, str]] = []
    with running("fast") as url, tempfile.TemporaryDirectory(prefix="splice-bench-") as tmp:
        folder = Path(tmp)
        suites = {k: write_suite(folder / f"s{k}.splice.yaml", k) for k in (1, n)}
        loop = median(repeat(lambda: httpx_loop(url, n), runs, budget)) / n
        results.append(("httpx loop (floor)", loop, "hand-written loop, one Client"))
        stdlib = median(repeat(lambda: http_client_loop(url, n), runs, budget)) / n
        results.append(("http.client loop", stdlib, "standard library, one connection"))
        inproc = per_step(lambda k: splice_in_process(suites[k], url), n, runs, budget)
        results.append(("splice, in process", inproc, "load_all + Runner.run, (t(N)-t(1))/(N-1)"))
        run_only = per_step(
            lambda k: splice_in_process(suites[k], url, with_load=False), n, runs, budget
        )
        results.append(("splice, in process, run only", run_only, "Runner.run of a loaded suite"))
        masked = per_step(
            lambda k: splice_in_process(suites[k], url, with_load=False, secrets=SECRETS),
            n,
            runs,
            budget,
        )
        how = f"as above, {SECRETS} secret variables masked in every spelling"
        results.append((f"splice, run only, {SECRETS} secrets", masked, how))
        cli = [SPLICE, "run", "-q", "--var", f"base_url={url}"]
        cli_step = per_step(lambda k: timed([*cli, str(suites[k])]), n, runs, budget)
        results.append(("splice run (CLI)", cli_step, "`splice run -q`, (t(N)-t(1))/(N-1)"))
        if with_peers:
            for name, measured, how in peers.measure_all(url + PATH, folder, n, runs, budget):
                results.append((name, measured, how))
    for name, value, how in results:
        if value is None:
            table.rows.append([name, "skipped", "", how])
        else:
            above = f"{(value - loop) * 1000:+.3f} ms"
            table.rows.append([name, f"{value * 1000:.3f}", above, how])
    worst = max(inproc, cli_step) - loop
    table.notes.append(
        f"target: splice ≤ {TARGET_OVERHEAD * 1000:.1f} ms/step above httpx; "
        f"measured {worst * 1000:.3f} ms "
        f"(worse of in-process and CLI): {verdict(worst <= TARGET_OVERHEAD)}"
    )
    table.notes.append(
        "the gap between `in process` and `run only` is loading the suite (YAML, schema, checks)"
    )
    table.notes.append(
        "where a step's time goes (pyinstrument, `python -m benchmarks.hotspots 2000` and a "
        "profile of `load_all` of 2000 steps, 2026-12-07): loading is about three quarters "
        "YAML, building the located tree (`source/yaml_source.py`'s converter and PyYAML's "
        "scalar constructors), and one quarter `parse_step` (block validation, a deep copy "
        "of the block, the shorthand); running is mostly httpx's `Client.request` (~75% of "
        "the step), then the http executor's `_output` (~6%: encoding, digests, cookies), "
        "the expectations (~5%) and rendering the block (~3%)"
    )
    table.notes.append(f"median of up to {runs} runs each; server: raw asyncio, fixed JSON body")
    return table
