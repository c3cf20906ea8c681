"""Static shards: `splice run --shard I/N` runs the I-th of N shards of the selection, so
a CI matrix or a Kubernetes Indexed Job splits one run over N machines without a
coordinator.

Every machine must compute the same plan, so a static plan uses only what each of them is
given: the suites, the selection and, optionally, a durations file (`--durations FILE`,
written by `splice shard durations`). It never reads the results store: two machines
may see different stores, and even one server's history changes while the shards run (the
first shard to finish adds durations before the last one plans). Without a durations file
the split is by counts. `I` counts from 1; `k8s/N` takes the index from
`$JOB_COMPLETION_INDEX`, which Kubernetes counts from 0.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.errors import UsageError
from splice._internal.model.suite import Suite
from splice._internal.shards.planner import Shard, plan

K8S_INDEX = "JOB_COMPLETION_INDEX"
_SPEC = re.compile(r"\s*(\d+|k8s)\s*/\s*(\d+)\s*")
_RUN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_HINT = (
    "write --shard I/N with I from 1 to N (`--shard 1/4` … `--shard 4/4`), or "
    f"`--shard k8s/N` to take I from ${K8S_INDEX} (counted from 0)"
)


@dataclass(frozen=True)
class ShardSpec:
    index: int  # from 1
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: str, env: Mapping[str, str] | None = None) -> ShardSpec:
    """`I/N` (1 ≤ I ≤ N), or `k8s/N` with I = $JOB_COMPLETION_INDEX + 1."""
    env = os.environ if env is None else env
    match = _SPEC.fullmatch(value)
    if match is None:
        raise UsageError(f"--shard {value!r} is not INDEX/COUNT", _HINT)
    count = int(match.group(2))
    if count < 1:
        raise UsageError(f"--shard {value!r}: the count must be at least 1", _HINT)
    if match.group(1) == "k8s":
        raw = env.get(K8S_INDEX, "")
        if not raw.strip().isdigit():
            raise UsageError(
                f"--shard {value!r} reads ${K8S_INDEX}, which is {raw!r}",
                "run it in a pod of a Kubernetes Indexed Job (`splice k8s job`), or "
                "give the index yourself: --shard I/N",
            )
        index = int(raw) + 1
        if index > count:
            raise UsageError(
                f"${K8S_INDEX} is {raw}, but there are only {count} shards (0 to {count - 1})",
                "the Job's completions and the N of --shard k8s/N must be the same",
            )
        return ShardSpec(index, count)
    index = int(match.group(1))
    if not 1 <= index <= count:
        raise UsageError(f"--shard {value!r}: the index must be from 1 to {count}", _HINT)
    return ShardSpec(index, count)


def check_run_id(value: str) -> str:
    if not _RUN_ID.fullmatch(value):
        raise UsageError(
            f"--run-id {value!r} is not a run id",
            "use up to 64 letters, digits and . _ : - (e.g. --run-id ci-1234)",
        )
    return value


def read_durations(path: Path) -> dict[str, float]:
    """A durations file: a JSON object of `suite::testcase` → seconds."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot read the durations file {str(path)!r}: {exc.strerror}",
            "write one with `splice shard durations -o FILE`",
        ) from exc
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}:{exc.lineno}:{exc.colno}: the durations file is not JSON: {exc.msg}",
            "write one with `splice shard durations -o FILE`",
        ) from exc
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}:1:1: the durations file must be an object of 'suite::testcase': seconds",
            "write one with `splice shard durations -o FILE`",
        )
    out: dict[str, float] = {}
    for key, seconds in data.items():
        ok = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not ok or not math.isfinite(seconds) or seconds < 0:
            raise UsageError(
                f"{path}: the duration of {key!r} is {seconds!r}, not a number of seconds",
                "each value must be a number ≥ 0",
            )
        out[str(key)] = float(seconds)
    return out


def static_plan(suites: list[Suite], durations: dict[str, float], count: int) -> list[Shard]:
    """Exactly `count` shards (the last ones empty when there are fewer units), the same
    on every machine for the same suites, selection and durations."""
    shards = plan(suites, durations, count)
    return shards + [Shard(i) for i in range(len(shards), count)]


def shard_suites(suites: list[Suite], keys: set[str]) -> list[Suite]:
    """The suites cut down to `keys`, testcases in written order."""
    out = []
    for suite in suites:
        kept = [tc for tc in suite.testcases if f"{suite.name}::{tc.name}" in keys]
        if kept:
            out.append(Suite(**{**suite.__dict__, "testcases": kept}))
    return out


@dataclass
class Chosen:
    suites: list[Suite]  # the shard's own
    reporting: int  # shards with testcases: the ones that report to the run


def choose(suites: list[Suite], spec: ShardSpec, durations: dict[str, float]) -> Chosen:
    shards = static_plan(suites, durations, spec.count)
    keys = shards[spec.index - 1].keys
    return Chosen(shard_suites(suites, keys), sum(1 for s in shards if s.units))
