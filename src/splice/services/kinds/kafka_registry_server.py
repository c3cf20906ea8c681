"""splice's local schema registry in its own process:
`python -m splice.services.kinds.kafka_registry_server --port PORT`.

Started by the `kafka` kind when a service says `schema_registry: true`, in its own
process group (tracked by the reaper like every server splice starts), on the asyncio
HTTP/1.1 server the mock uses. Memory only: it forgets everything when it stops. Prints
one line when it listens; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from urllib.parse import parse_qsl, unquote

from splice.doubles.http11 import Connection, Request, response_bytes, serve
from splice.services.kinds.kafka_registry_store import SchemaStore

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


def answer(store: SchemaStore, request: Request) -> bytes:
    """The HTTP response to one request."""
    raw_path = request.target.partition("?")[0]
    # split before unquoting: a subject may hold an encoded '/'
    segments = [unquote(s) for s in raw_path.split("/") if s]
    query = dict(parse_qsl(request.query_string))
    method = "GET" if request.method == "HEAD" else request.method
    status, value = store.handle(method, segments, query, request.body)
    if isinstance(value, str) and status == 200:
        # /schema endpoints answer with the schema itself, which is JSON text
        body = value.encode()
    else:
        body = json.dumps(value, ensure_ascii=False).encode()
    headers = [("Content-Type", CONTENT_TYPE)]
    if request.close:
        headers.append(("Connection", "close"))
    return response_bytes(status, headers, body, head_only=request.method == "HEAD")


async def run(host: str, port: int) -> None:
    store = SchemaStore()

    def handle(request: Request, _connection: Connection) -> bytes:
        return answer(store, request)

    server = await serve(handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"splice schema registry listening on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        print("splice schema registry stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m splice.services.kinds.kafka_registry_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.host, args.port))
    except OSError as exc:
        print(f"splice schema registry: cannot listen on {args.host}:{args.port}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
