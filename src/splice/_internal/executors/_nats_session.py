"""One asyncio event loop in a background thread per testcase attempt, for nats-py.

nats-py is asyncio-only while steps run in worker threads. Each attempt gets its own
loop thread (starting one costs well under a millisecond) that owns the attempt's
connections and subscriptions; steps submit coroutines to it and wait in short slices,
so Ctrl-C stops a wait promptly. Closing the session closes the connections, then the
loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors._messages import redact
from splice._internal.executors.executor_api import StepContext

T = TypeVar("T")
_SLICE = 0.05


class NatsSession:
    """The loop thread and the NATS connections (one per URL) of one testcase attempt."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="splice-nats", daemon=True)
        self._thread.start()
        self.connections: dict[str, Any] = {}

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float, ctx: StepContext) -> T:
        """Run `coro` on the loop; TimeoutError after `timeout`, StepError on Ctrl-C."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        deadline = time.monotonic() + timeout
        while True:
            done, _ = concurrent.futures.wait([future], timeout=_SLICE)
            if done:
                return future.result()
            if ctx.cancelled.is_set():
                future.cancel()
                raise StepInterrupted("interrupted while waiting for NATS")
            if time.monotonic() >= deadline:
                future.cancel()
                raise TimeoutError(f"no answer within {timeout:g}s")

    def connection(self, url: str, ctx: StepContext) -> Any:
        """The attempt's connection to `url`, made on first use."""
        found = self.connections.get(url)
        if found is not None:
            return found
        try:
            import nats
        except ImportError as exc:
            raise StepError(
                "the nats executor needs the NATS driver", "pip install 'splice[nats]'"
            ) from exc
        problems: list[str] = []

        async def on_error(exc: Exception) -> None:
            problems.append(str(exc) or type(exc).__name__)

        async def connect() -> Any:
            return await nats.connect(
                servers=[url],
                name="splice",
                connect_timeout=5,
                # one try, no waiting: with 0 attempts nats-py retries until its caller
                # gives up, and a test step should fail at once when nothing listens
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=on_error,
            )

        try:
            client = self.call(connect(), 10.0, ctx)
        except StepError:
            raise
        except Exception as exc:
            reason = problems[-1] if problems else (str(exc) or type(exc).__name__)
            raise StepError(
                f"cannot connect to NATS at {redact(url)}: {reason}",
                "is the server running on that host and port, with these credentials?",
            ) from exc
        self.connections[url] = client
        return client

    def run(self, fn: Callable[[], Awaitable[T]], timeout: float, ctx: StepContext) -> T:
        async def wrapped() -> T:
            return await fn()

        return self.call(wrapped(), timeout, ctx)

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def close_all() -> None:
            for client in self.connections.values():
                with contextlib.suppress(Exception):  # a connection already gone
                    await asyncio.wait_for(client.close(), 2.0)
            # let the tasks nats-py cancelled finish, so none is destroyed while pending
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):  # closing must not hide a step's result
            asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


def session_for(ctx: StepContext) -> NatsSession:
    found: NatsSession | None = ctx.session.state.get("nats.session")
    if found is None:
        found = NatsSession()
        ctx.session.state["nats.session"] = found
        ctx.session.on_close(found.close)
    return found
