"""Contracts: verification of a 200-interaction pact, splice vs pact-python's verifier;
can-i-deploy over a matrix of 10,000 verification rows; writing a pact from 200 stubs.

    .venv/bin/python -m benchmarks.contracts            # prints the Markdown section

The provider is `examples/payments/server.py` on loopback, started once and shared by both
verifiers. splice is timed as a user runs it (`splice contract verify ... --no-store`, start-up
included) and in process (the suites built from the pact, then the runner); pact-python
(Pact's reference core, Rust, through its FFI) is timed in process, its `Verifier.verify()`.
Each is the median of `runs`; the first run of each is a warm-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import ROOT, SPLICE, Table, median, ms, timed, verdict

INTERACTIONS = 200
MATRIX_ROWS = 10_000
STUBS = 200


def _pact(n: int) -> dict[str, object]:
    interaction = {
        "type": "Synchronous/HTTP",
        "request": {"method": "GET", "path": "/health"},
        "response": {
            "status": 200,
            "headers": {"Content-Type": ["application/json"]},
            "body": {"contentType": "application/json", "encoded": False, "content": {"ok": True}},
            "matchingRules": {"body": {"$.ok": {"matchers": [{"match": "boolean"}]}}},
        },
    }
    return {
        "consumer": {"name": "shop"},
        "provider": {"name": "payments"},
        "interactions": [{**interaction, "description": f"health check {i}"} for i in range(n)],
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


@contextlib.contextmanager
def _provider() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ROOT / "examples" / "payments" / "server.py"
    proc = subprocess.Popen(
        [sys.executable, str(server), "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _splice_in_process(pact: Path, url: str) -> float:
    from splice._internal.contracts.verify import VerifyTarget, verification_suites
    from splice._internal.masking import Masker
    from splice._internal.runner.events import EventBus
    from splice._internal.runner.run import Runner, RunOptions

    start = time.perf_counter()
    suites = verification_suites([pact], VerifyTarget(url))
    result = Runner(suites, RunOptions(), EventBus([]), Masker()).run()
    elapsed = time.perf_counter() - start
    if result.status.value != "passed":
        raise RuntimeError(f"splice's verification did not pass: {result.status}")
    return elapsed


def _pact_python(pact: Path, url: str) -> float | None:
    try:
        from pact import Verifier
    except ImportError:
        return None
    verifier = Verifier("payments", host="127.0.0.1").add_transport(url=url).add_source(pact)
    # its report goes to stdout; kept out of the benchmark's own output
    with Path(os.devnull).open("w") as devnull, contextlib.redirect_stdout(devnull):
        start = time.perf_counter()
        verifier.verify()
        return time.perf_counter() - start


def _verification(runs: int) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="splice-bench-pact-") as folder, _provider() as url:
        pact = Path(folder) / "shop-payments.json"
        pact.write_text(json.dumps(_pact(INTERACTIONS)))
        cli = [
            SPLICE,
            "contract",
            "verify",
            str(pact),
            "--provider-base-url",
            url,
            "--no-store",
            "-q",
        ]
        timed(cli, cwd=Path(folder))  # warm-up
        wall = median([timed(cli, cwd=Path(folder)) for _ in range(runs)])
        _splice_in_process(pact, url)
        inside = median([_splice_in_process(pact, url) for _ in range(runs)])
        peer = _pact_python(pact, url)
        peer_times = [t for t in (_pact_python(pact, url) for _ in range(runs)) if t is not None]
        rows.append(
            ["splice contract verify (CLI, start-up included)", ms(wall), ms(wall / INTERACTIONS)]
        )
        rows.append(
            ["splice, in process (suites + runner)", ms(inside), f"{ms(inside / INTERACTIONS)}"]
        )
        if peer is not None and peer_times:
            theirs = median(peer_times)
            rows.append(
                [
                    "pact-python 4 Verifier (Rust core, FFI)",
                    ms(theirs),
                    f"{ms(theirs / INTERACTIONS)}",
                ]
            )
            rows.append(
                [
                    "speed-up of splice in process",
                    f"{theirs / inside:.2f}×",
                    f"target ≥ 2×: {verdict(theirs / inside >= 2)}",
                ]
            )
            rows.append(
                ["speed-up of the splice CLI (start-up included)", f"{theirs / wall:.2f}×", ""]
            )
        else:
            rows.append(["pact-python", "not installed", "pip install pact-python"])
    return rows


def _matrix_store(folder: Path) -> object:
    from splice._internal.contracts import broker
    from splice._internal.store import Store
    from splice._internal.store import schema as t

    store = Store.open(f"sqlite:///{folder / 'broker.db'}")
    pact = _pact(3)
    consumer_versions = 100
    for v in range(consumer_versions):
        pact["metadata"] = {"pactSpecification": {"version": "4.0"}, "n": v}
        broker.publish(store, pact, f"c{v}")
    shas = {}
    with store.engine.connect() as conn:
        for version, sha in conn.execute(
            t.pacts.select().with_only_columns(t.pacts.c.consumer_version, t.pacts.c.sha)
        ):
            shas[version] = sha
    now = time.time()
    rows = [
        {
            "consumer": "shop",
            "provider": "payments",
            "pact_sha": shas[f"c{i % consumer_versions}"],
            "provider_version": f"p{i // consumer_versions}",
            "provider_branch": "main",
            "success": i % 7 != 0,
            "run_id": None,
            "verified_at": now + i,
        }
        for i in range(MATRIX_ROWS)
    ]
    with store.engine.begin() as conn:
        conn.execute(t.verifications.insert(), rows)
    broker.record_deployment(store, "payments", "p99", "production")
    return store


def _can_i_deploy(runs: int) -> list[str]:
    from splice._internal.contracts import broker

    with tempfile.TemporaryDirectory(prefix="splice-bench-matrix-") as folder:
        store = _matrix_store(Path(folder))
        broker.can_i_deploy(store, "shop", "c42", "production")  # type: ignore[arg-type]
        times = []
        for _ in range(max(runs, 20)):
            start = time.perf_counter()
            broker.can_i_deploy(store, "shop", "c42", "production")  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
        store.close()  # type: ignore[attr-defined]
    taken = median(times)
    return [
        "can-i-deploy, in process, 10,000 verification rows (SQLite)",
        ms(taken),
        f"target ≤ 100 ms: {verdict(taken <= 0.1)}",
    ]


def _exercised(i: int) -> dict[str, object]:
    return {
        "stub": {
            "name": f"stub {i}",
            "given": [{"name": "a payment exists", "params": {"id": i}}],
            "request": {
                "method": "GET",
                "path_template": "/payments/{id}",
                "headers": {"Accept": {"contains": "json"}},
            },
            "response": {"status": 200, "json": {"id": i, "ref": "{{ uuid() }}"}},
        },
        "request": {
            "method": "GET",
            "path": f"/payments/{i}",
            "query": "",
            "headers": {"accept": "application/json"},
            "body": "",
        },
        "response": {
            "status": 200,
            "headers": [["Content-Type", "application/json"]],
            "body": json.dumps({"id": i, "ref": "x"}),
        },
    }


def _write_pact(runs: int) -> list[str]:
    from splice._internal.contracts.consumer import pact_document, write_pact

    items = [_exercised(i) for i in range(STUBS)]
    with tempfile.TemporaryDirectory(prefix="splice-bench-write-") as folder:
        target = Path(folder) / "pacts" / "shop-payments.json"
        times = []
        for _ in range(max(runs, 20)):
            start = time.perf_counter()
            write_pact(target, pact_document("shop", "payments", items))  # type: ignore[arg-type]
            times.append(time.perf_counter() - start)
    taken = median(times)
    return [
        f"writing a pact from {STUBS} exercised stubs",
        ms(taken),
        f"target ≤ 50 ms: {verdict(taken <= 0.05)}",
    ]


def measure(runs: int = 3) -> Table:
    table = Table(
        f"Contracts: verify {INTERACTIONS} interactions, can-i-deploy, write a pact",
        ".venv/bin/python -m benchmarks.contracts",
        ["what", "median", "per interaction / verdict"],
    )
    table.rows += _verification(runs)
    table.rows.append(_can_i_deploy(runs))
    table.rows.append(_write_pact(runs))
    table.notes.append(
        "the provider is examples/payments/server.py (ThreadingHTTPServer) on loopback, shared"
    )
    return table


if __name__ == "__main__":
    print(measure().markdown())
