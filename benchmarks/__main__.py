"""Run the benchmarks, print their tables and rewrite BENCHMARKS.md.

.venv/bin/python -m benchmarks                  # everything (a few minutes)
.venv/bin/python -m benchmarks startup          # one benchmark; BENCHMARKS.md untouched
.venv/bin/python -m benchmarks startup --write  # ... and its sections replaced in place
.venv/bin/python -m benchmarks --quick --no-peers
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable

from benchmarks import (
    contracts,
    data_driven,
    example_env,
    isolation_restore,
    machine,
    mock_server,
    parallel,
    protocols,
    services_light,
    services_rabbitmq,
    services_sql,
    sharding,
    startup,
    step_overhead,
    step_overhead_versions,
    store,
    warm_pool,
)
from benchmarks.common import ROOT, BenchError, Table

HEADER = """\
# Benchmarks

Written by `.venv/bin/python -m benchmarks` (or `./dev bench`); do not edit by hand.
Each table names the command that reproduces it. Servers run on 127.0.0.1 in their own
processes. The machine is shared and noisy, so read differences under ~20% as noise.
Python's bytecode cache is on for every run, as on a user's machine.

How splice's per-step cost is measured: a suite of N steps and a suite of 1 step run in
one testcase each; (t(N) - t(1)) / (N - 1) leaves out start-up and fixed costs. Hand-written
loops are timed directly, after one warm-up request. To see where splice spends a step's
time: `.venv/bin/pip install pyinstrument && .venv/bin/python -m benchmarks.hotspots`.

"""


def _benchmarks(args: argparse.Namespace) -> dict[str, Callable[[], str]]:
    """Each benchmark by name, returning its Markdown section."""
    n = 100 if args.quick else 500
    runs = 2 if args.quick else 5
    return {
        "startup": lambda: startup.measure(runs=3 if args.quick else 10).markdown(),
        "step_overhead": lambda: step_overhead.measure(
            n, runs, with_peers=not args.no_peers
        ).markdown(),
        "step_overhead_versions": lambda: step_overhead_versions.measure(
            n, 3 if args.quick else 7
        ).markdown(),
        "parallel": lambda: parallel.measure(runs=1 if args.quick else 3).markdown(),
        "services_sql": lambda: services_sql.run(runs=3 if args.quick else 7),
        "isolation": lambda: isolation_restore.run(runs=5 if args.quick else 15),
        "services_light": services_light.run,
        "services_rabbitmq": services_rabbitmq.run,
        "mock_server": lambda: "\n".join(
            t.markdown() for t in mock_server.measure(*((3.0, 30_000) if args.quick else ()))
        ),
        "store": lambda: store.run(quick=args.quick),
        "example_env": lambda: example_env.measure(runs=1 if args.quick else 3).markdown(),
        "protocols": lambda: protocols.run(quick=args.quick),
        "contracts": lambda: contracts.measure(runs=1 if args.quick else 3).markdown(),
        "sharding": lambda: sharding.measure(testcases=60 if args.quick else 200).markdown(),
        "data_driven": lambda: data_driven.measure(
            n=200 if args.quick else 1000, runs=1 if args.quick else 3
        ).markdown(),
        "warm_pool": lambda: warm_pool.measure(runs=3 if args.quick else 7).markdown(),
    }


def _failed(name: str, exc: Exception) -> str:
    command = f".venv/bin/python -m benchmarks {name}"
    table = Table(f"{name}: could not be measured", command, ["error"])
    table.rows.append([str(exc).replace("|", "/")])
    return table.markdown()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer steps and runs")
    parser.add_argument("--no-peers", action="store_true", help="skip Tavern and newman")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--write",
        action="store_true",
        help="with named benchmarks: replace their sections of BENCHMARKS.md, keep the rest",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so every server and temporary folder is cleaned up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # measure as on a user's machine, where Python caches bytecode (some CI images turn
    # that off, which adds ~0.1 s to every start; the start-up table shows both)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # `splice run` records every run, as for a user; into a store of this benchmark run,
    # not into the repository's .splice/
    with tempfile.TemporaryDirectory(prefix="splice-bench-store-") as store:
        os.environ.setdefault("SPLICE_STORE_URL", f"sqlite:///{store}/results.db")
        return _main(args, parser)


def _main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    available = _benchmarks(args)
    unknown = [name for name in args.names if name not in available]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(available)}")
    names = args.names or list(available)
    info = machine.describe()
    print("\n".join(f"{key}: {value}" for key, value in info), "\n", flush=True)
    sections = []
    for name in names:
        print(f"running {name}...", file=sys.stderr, flush=True)
        try:
            section = available[name]()
        except BenchError as exc:
            section = _failed(name, exc)
        except Exception as exc:  # noqa: BLE001 - report it and go on to the next benchmark
            traceback.print_exc()
            section = _failed(name, exc)
        print(section, flush=True)
        sections.append(section.rstrip("\n") + "\n")
    if args.names and args.write and not (args.quick or args.no_write):
        path = ROOT / "BENCHMARKS.md"
        info_of = dict(info)
        when, load = info_of["date"], info_of["load average at start"]
        stamp = (
            f"\n- measured {when} (load average at start {load}) by `python -m benchmarks "
            f"{' '.join(names)} --write`; the machine table above is of the last full run\n"
        )
        new = {
            name: section.rstrip("\n") + stamp
            for name, section in zip(names, sections, strict=True)
        }
        path.write_text(replace_sections(path.read_text(encoding="utf-8"), new), encoding="utf-8")
        print(f"replaced the sections of {', '.join(names)} in {path}", file=sys.stderr)
        return 0
    if args.no_write or args.names or args.quick:
        print("BENCHMARKS.md not rewritten (a subset, --quick or --no-write)", file=sys.stderr)
        return 0
    machine_table = "| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in info)
    body = "\n".join(sections)
    text = f"{HEADER}## Machine\n\n{machine_table}\n{body}"
    (ROOT / "BENCHMARKS.md").write_text(text, encoding="utf-8")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", file=sys.stderr)
    return 0


def _reproduces(section: str, name: str) -> bool:
    """Whether `section` (one "## " block) is written by the benchmark `name`: its
    Reproduce line names the module (`-m benchmarks NAME` or `benchmarks.NAME`)."""
    line = next((ln for ln in section.splitlines() if ln.startswith("Reproduce:")), "")
    return (
        f"benchmarks {name}`" in line
        or f"benchmarks.{name}" in line
        or (f"benchmarks import {name}" in line)
    )


def replace_sections(text: str, new: dict[str, str]) -> str:
    """`text` of BENCHMARKS.md with the sections of each benchmark in `new` replaced by
    its new output (where its first old section was; at the end when it had none)."""
    head, *blocks = text.split("\n## ")
    sections = [f"## {block.rstrip()}\n" for block in blocks]
    out: list[str] = []
    placed: set[str] = set()
    for section in sections:
        owner = next((name for name in new if _reproduces(section, name)), None)
        if owner is None:
            out.append(section)
        elif owner not in placed:
            out.append(new[owner].rstrip("\n") + "\n")
            placed.add(owner)
    out += [new[name].rstrip("\n") + "\n" for name in new if name not in placed]
    return head.rstrip("\n") + "\n\n" + "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
