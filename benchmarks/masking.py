"""What masking costs: one step's result and a 60 KB body, with 1 to 50 secrets, by the
masker (every spelling of every secret, one Aho-Corasick pass) and by the way splice
masked before it (`str.replace` of each raw value, no other spelling), side by side.
The step's strings are the same at every call, as header values and names are from step
to step, so the masker's memo of short texts plays its part, as it does in a run.

    .venv/bin/python -m benchmarks.masking
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from splice._internal.masking import Masker

STEP: dict[str, Any] = {
    "request": {
        "method": "GET",
        "url": "http://127.0.0.1:8000/item",
        "headers": {"accept": "*/*", "user-agent": "splice"},
    },
    "response": {
        "status": 200,
        "headers": {
            "content-type": "application/json",
            "content-length": "40",
            "date": "Mon, 01 Jan 2026 00:00:00 GMT",
            "server": "uvicorn",
        },
        "body": {"id": 1, "name": "widget", "price": 9.5, "description": "x" * 200},
        "elapsed_ms": 1.2,
    },
}
BODY = {"body": "lorem ipsum dolor sit amet " * 2300}  # ~60 KB of text


class RawOnly:
    """splice's masking before this masker: each raw value replaced, longest first."""

    def __init__(self, values: list[str]) -> None:
        self.values = sorted(values, key=len, reverse=True)

    def mask(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.values:
                if secret in value:
                    value = value.replace(secret, "****")
            return value
        if isinstance(value, dict):
            return {self.mask(k): self.mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask(v) for v in value]
        return value


def _per_call(fn: Callable[[], Any], seconds: float = 0.5) -> float:
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def main() -> None:
    print("| secrets | what | raw values only (before) | every spelling (masker) |")
    print("|---:|---|---:|---:|")
    for n in (1, 10, 50):
        values = [f"s3cret-value-{i:04}-{'x' * (i % 7)}" for i in range(n - 1)]
        values.append("p@ss/w0rd#1-leak")
        masker = Masker()
        masker.add_all(values)
        raw = RawOnly(values)
        for name, data in (("a step's result", STEP), ("a 60 KB body", BODY)):
            before = _per_call(lambda d=data, m=raw: m.mask(d)) * 1e6
            after = _per_call(lambda d=data, m=masker: m.mask(d)) * 1e6
            print(f"| {n} | {name} | {before:.1f} µs | {after:.1f} µs |")


if __name__ == "__main__":
    main()
