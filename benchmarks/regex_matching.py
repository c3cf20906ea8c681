"""Stub matching with regexes, in process: requests matched per second.

    .venv/bin/python -m benchmarks.regex_matching

The mock's matcher (`splice._internal.doubles.matching.RequestMatcher`) against 20 stubs whose
path, a header and the body are regexes, the way a WireMock-style mapping set looks; the
request matches the last stub, so every stub is tried. Run it from two source trees
(PYTHONPATH=other/src) to compare engines: this measures what the regex engine costs,
without HTTP around it.
"""

from __future__ import annotations

import time

STUBS = 20
SECONDS = 3.0


def measure(seconds: float = SECONDS) -> tuple[float, float]:
    """(matches per second, microseconds per request over all stubs)."""
    from splice._internal.doubles.http11 import Request
    from splice._internal.doubles.incoming import Incoming
    from splice._internal.doubles.matching import RequestMatcher
    from splice._internal.doubles.model import RequestSpec

    matchers = [
        RequestMatcher(
            RequestSpec.model_validate(
                {
                    "method": "POST",
                    "path_regex": rf"^/v1/customers/(?P<id>cus_\w+)/orders/{i}$",
                    "headers": {"authorization": {"regex": r"^Bearer [A-Za-z0-9._-]{20,}$"}},
                    "body": {"regex": r'"amount":\s*\d+'},
                }
            )
        )
        for i in range(STUBS)
    ]
    body = b'{"amount": 4200, "currency": "eur", "description": "' + b"x" * 400 + b'"}'
    headers = {"authorization": "Bearer " + "a1b2c3d4" * 6}
    target = f"/v1/customers/cus_4fXy9a/orders/{STUBS - 1}"
    requests = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        request = Incoming(Request("POST", target, headers, body, False))
        matched = [m.match(request) for m in matchers]
        assert matched[-1] and not any(matched[:-1])
        requests += 1
    elapsed = time.perf_counter() - started
    return requests / elapsed, elapsed / requests * 1e6


def main() -> None:
    rate, micros = measure()
    print(f"{rate:,.0f} requests/s matched against {STUBS} regex stubs ({micros:.1f} µs each)")


if __name__ == "__main__":
    main()
