"""The mock's process: `python -m splice._internal.doubles.server --config mock.json`.

Started by the `mock` kind (in its own process group, so the test runner's threads and
the mock's event loop never compete for one interpreter lock). Prints one line when it
listens, one per unmatched request and one per recorded exchange; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from splice._internal.doubles.app import MockApp, MockConfig
from splice._internal.doubles.http11 import serve


def load_config(path: Path) -> MockConfig:
    data = json.loads(path.read_text(encoding="utf-8"))
    return MockConfig(**data)


async def run(config: MockConfig) -> None:
    app = MockApp(config)
    server = await serve(app.handle, config.host, config.port)
    port = server.sockets[0].getsockname()[1]
    recording = ""
    if app.recorder is not None:
        recording = f", cassette {app.recorder.config.cassette} (mode {app.recorder.config.mode})"
    print(
        f"splice mock listening on http://{config.host}:{port} with {len(app.store)} stubs"
        f"{recording}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await app.close()
        print("splice mock stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m splice._internal.doubles.server")
    parser.add_argument("--config", required=True, type=Path, help="the mock's JSON config")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except (OSError, ValueError, TypeError) as exc:
        print(f"splice mock: cannot read {args.config}: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        asyncio.run(run(config))
    except OSError as exc:
        print(f"splice mock: cannot listen on {config.host}:{config.port}: {exc}", flush=True)
        return 1
    except ValueError as exc:  # a stub that does not compile (checked before, so rare)
        print(f"splice mock: {exc}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
