"""confluent-kafka clients of one testcase attempt, with the settings that make tests fast.

Clients are made on first use and kept for the attempt (a producer's first message pays
for the connection and metadata; later ones take a few milliseconds), then closed with
the session. librdkafka logs to stderr and retries unreachable brokers forever by
default: here its log goes to a buffer that error messages quote, and an error callback
lets a step fail at once when every broker is down instead of waiting out its timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors.executor_api import StepContext

INSTALL = "pip install 'splice[kafka]'"
_SLICE = 0.05
# librdkafka errors after which no answer will come (names of confluent_kafka.KafkaError)
_FATAL = ("_ALL_BROKERS_DOWN", "_AUTHENTICATION", "_RESOLVE", "_SSL")


def driver() -> Any:
    """The confluent_kafka package, or a StepError naming the extra to install."""
    try:
        import confluent_kafka
    except ImportError as exc:
        raise StepError("the kafka executor needs confluent-kafka", INSTALL) from exc
    return confluent_kafka


class _Log(logging.Handler):
    """Keeps librdkafka's last log lines for error messages instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: deque[str] = deque(maxlen=20)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class Problems:
    """Errors librdkafka reported through its error callback, newest last."""

    def __init__(self) -> None:
        self.errors: deque[Any] = deque(maxlen=20)
        self.log = _Log()
        self.logger = logging.getLogger(f"splice.kafka.{id(self)}")
        self.logger.propagate = False
        self.logger.addHandler(self.log)

    def callback(self, error: Any) -> None:
        self.errors.append(error)

    def fatal(self) -> Any | None:
        for error in reversed(self.errors):
            if error.name() in _FATAL or error.fatal():
                return error
        return None

    def last(self) -> str | None:
        if self.errors:
            return str(self.errors[-1].str())
        return None


class Clients:
    """The producers and consumers of one attempt, per bootstrap address."""

    def __init__(self) -> None:
        self.producers: dict[str, tuple[Any, Problems]] = {}
        self.readers: dict[str, tuple[Any, Problems]] = {}
        self.groups: dict[tuple[str, str, tuple[str, ...]], tuple[Any, Problems]] = {}
        self.lock = threading.Lock()

    def close(self) -> None:
        for producer, _ in self.producers.values():
            producer.flush(1.0)
        for consumer, _ in [*self.readers.values(), *self.groups.values()]:
            consumer.close()  # a group member leaves its group here
        self.producers.clear()
        self.readers.clear()
        self.groups.clear()


def clients(ctx: StepContext) -> Clients:
    found: Clients | None = ctx.session.state.get("kafka.clients")
    if found is None:
        found = Clients()
        ctx.session.state["kafka.clients"] = found
        ctx.session.on_close(found.close)
    return found


def _base(bootstrap: str, problems: Problems) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": "splice",
        "socket.nagle.disable": True,
        "reconnect.backoff.ms": 10,
        "reconnect.backoff.max.ms": 500,
        "error_cb": problems.callback,
        "logger": problems.logger,
    }


def producer(ctx: StepContext, bootstrap: str) -> tuple[Any, Problems]:
    table = clients(ctx)
    with table.lock:
        if bootstrap not in table.producers:
            problems = Problems()
            config = {**_base(bootstrap, problems), "linger.ms": 0, "acks": "all"}
            table.producers[bootstrap] = (driver().Producer(config), problems)
        return table.producers[bootstrap]


def consumer_config(
    bootstrap: str, problems: Problems, group: str, session_ms: int
) -> dict[str, Any]:
    return {
        **_base(bootstrap, problems),
        "group.id": group,
        "enable.auto.commit": False,
        # "this partition has no more messages" events: `count: 0` reads up to there
        "enable.partition.eof": True,
        # a message is fetched as soon as it is there, not after the default 500 ms wait
        "fetch.wait.max.ms": 10,
        "fetch.error.backoff.ms": 10,
        # a group joins in about a second instead of tens (see the kafka kind)
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(1, session_ms // 5),
        "topic.metadata.refresh.interval.ms": 1000,
    }


def reader(ctx: StepContext, bootstrap: str) -> tuple[Any, Problems]:
    """A consumer outside any group, for reading partitions from given offsets."""
    table = clients(ctx)
    with table.lock:
        if bootstrap not in table.readers:
            problems = Problems()
            config = consumer_config(bootstrap, problems, "splice-reader", 6000)
            table.readers[bootstrap] = (driver().Consumer(config), problems)
        return table.readers[bootstrap]


def group_member(
    ctx: StepContext,
    bootstrap: str,
    group: str,
    topics: list[str],
    *,
    session_ms: int,
    reset: str,
) -> tuple[Any, Problems, bool]:
    """A consumer subscribed to `topics` as a member of `group`; True when it is new.

    The member stays for the attempt, so a later step of the same group continues where
    this one stopped, without joining again.
    """
    table = clients(ctx)
    key = (bootstrap, group, tuple(topics))
    with table.lock:
        if key in table.groups:
            consumer, problems = table.groups[key]
            return consumer, problems, False
        problems = Problems()
        config = consumer_config(bootstrap, problems, group, session_ms)
        config["auto.offset.reset"] = reset
        consumer = driver().Consumer(config)
        consumer.subscribe(topics)
        table.groups[key] = (consumer, problems)
        return consumer, problems, True


def wait(  # noqa: PLR0917 - private; each argument is one part of the wait
    ctx: StepContext,
    timeout: float,
    done: Callable[[], bool],
    step: Callable[[float], None],
    problems: Problems,
    what: str,
) -> bool:
    """Run `step(slice)` until `done()`, the timeout, Ctrl-C or a fatal librdkafka error."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if ctx.cancelled.is_set():
            raise StepInterrupted(f"interrupted while {what}")
        fatal = problems.fatal()
        if fatal is not None:
            raise unreachable(fatal.str())
        step(min(left, _SLICE))
    return True


def unreachable(reason: str) -> StepError:
    return StepError(
        f"no Kafka broker answers: {reason}",
        "check the service or `url:` of the step, and that the broker runs",
    )
