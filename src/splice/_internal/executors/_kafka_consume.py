"""Reading messages for a `kafka` consume step: from offsets or as a group member, until
enough messages match the step's `expect`, showing the ones that did not on failure.

A topic keeps its messages, so a consume waits for *the* message a test is about, not
the next one: each message read is checked against the message fields of `expect`
(key, json, headers, ...), the ones that do not match are skipped, and the step returns
once `count` messages matched. When time runs out, the error lists what came instead,
each with the first reason it did not match.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from splice._internal.errors import StepError
from splice._internal.executors import _kafka_clients as kc
from splice._internal.executors._kafka_values import Undecodable
from splice._internal.executors.executor_api import StepContext
from splice._internal.source.validation import did_you_mean
from splice._internal.templating import TemplateFailure, render

# result fields that describe one message: `expect` on these picks the messages
MESSAGE_FIELDS = frozenset(
    {
        "message",
        "key",
        "value",
        "json",
        "headers",
        "partition",
        "offset",
        "topic",
        "timestamp",
        "schema_id",
    }
)
# a registry-framed value as (schema id, JSON), or None for another value
Values = Callable[[bytes], "tuple[int, Any] | None"]
_SHOWN = 10  # messages that did not match, listed in a failure


@dataclass
class Wanted:
    """What a consume step reads and how long it waits."""

    topics: list[str]  # as written
    prefix: str
    start: str | int  # beginning | end | offset (negative: from the end)
    partition: int | None
    group: str | None
    commit: bool
    count: int
    timeout: float
    session_ms: int
    values: Values | None = None  # decodes registry-framed values
    # where each partition starts instead of `start` (a partition not named: its
    # beginning); see `ends_now`
    starts: Mapping[tuple[str, int], int] | None = None


@dataclass
class Outcome:
    matched: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    skipped_count: int = 0


def message_filter(ctx: StepContext) -> dict[str, Any]:
    """The message fields of the step's `expect`, rendered (empty: every message)."""
    wanted = {k: v for k, v in ctx.expect.items() if k in MESSAGE_FIELDS}
    if not wanted:
        return {}
    try:
        rendered = render(wanted, ctx.vars)
    except TemplateFailure:
        return {}  # the runner reports the template error when it checks `expect`
    return rendered if isinstance(rendered, dict) else {}


def why_not(expected: Mapping[str, Any], message: dict[str, Any]) -> str | None:
    """The first reason `message` does not match, or None when it does."""
    from splice._internal.expect import MISSING, match

    for name, value in expected.items():
        actual = message if name == "message" else message.get(name, MISSING)
        problems = match(value, actual, name, case_insensitive_keys=False)
        if problems:
            return str(problems[0])
    return None


def decode(raw: Any, topic: str, prefix: str, values: Values | None = None) -> dict[str, Any]:
    """One confluent_kafka Message as the step's result shows it; with `values`, a
    registry-framed value is shown decoded (`json`, and `value` as its JSON text)."""
    value: bytes = raw.value() or b""
    framed = _registry_value(raw, value, topic, prefix, values) if values else None
    schema_id = None
    if framed is not None:
        schema_id, parsed = framed
        text = json.dumps(parsed, ensure_ascii=False)
    else:
        text = value.decode("utf-8", "backslashreplace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
    key = raw.key()
    headers: dict[str, Any] = {}
    for name, data in raw.headers() or []:
        headers[name] = None if data is None else data.decode("utf-8", "backslashreplace")
    _, stamp = raw.timestamp()
    return {
        "topic": topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic,
        "partition": raw.partition(),
        "offset": raw.offset(),
        "key": None if key is None else key.decode("utf-8", "backslashreplace"),
        "value": text,
        "json": parsed,
        "base64": base64.b64encode(value).decode("ascii"),
        "headers": headers,
        "timestamp": stamp,
        "schema_id": schema_id,
    }


def _registry_value(
    raw: Any, value: bytes, topic: str, prefix: str, values: Values
) -> tuple[int, Any] | None:
    try:
        return values(value)
    except Undecodable as exc:
        shown = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
        raise StepError(
            f"the message on {shown!r} at partition {raw.partition()} offset {raw.offset()}: "
            f"{exc.message}",
            exc.hint,
        ) from exc


def consume(ctx: StepContext, bootstrap: str, wanted: Wanted) -> Outcome:
    expected = message_filter(ctx)
    topics = [wanted.prefix + t for t in wanted.topics]
    assigned: list[Any] = []
    if wanted.group is not None:
        consumer, problems, _ = kc.group_member(
            ctx,
            bootstrap,
            wanted.prefix + wanted.group,
            topics,
            session_ms=wanted.session_ms,
            reset="latest" if wanted.start == "end" else "earliest",
        )
    else:
        consumer, problems = kc.reader(ctx, bootstrap)
        _await_topics(ctx, consumer, problems, wanted, topics)
        assigned = _assignment(ctx, consumer, problems, wanted, topics)
        consumer.assign(assigned)
    outcome = Outcome()
    # `count: 0`: every partition said it has no more (Tansu's ListOffsets counts a batch
    # of records as one, so the end is what the fetches see, not what it answers)
    unfinished = {(p.topic, p.partition) for p in assigned} if wanted.count == 0 else set()
    try:

        def done() -> bool:
            if wanted.count == 0:
                return not unfinished
            return len(outcome.matched) >= wanted.count

        def step(slice_: float) -> None:
            raw = consumer.poll(slice_)
            if raw is None:
                return
            error = raw.error()
            if error is not None:
                if error.name() == "_PARTITION_EOF":
                    unfinished.discard((raw.topic(), raw.partition()))
                    return
                if error.name() == "UNKNOWN_TOPIC_OR_PART":
                    return
                raise StepError(f"Kafka consume failed: {error.str()}")
            message = decode(raw, raw.topic(), wanted.prefix, wanted.values)
            reason = why_not(expected, message) if expected else None
            if reason is None:
                outcome.matched.append(message)
            else:
                outcome.skipped_count += 1
                outcome.skipped.append((message, reason))
                del outcome.skipped[:-_SHOWN]

        complete = kc.wait(ctx, wanted.timeout, done, step, problems, "waiting for messages")
    finally:
        if wanted.group is None:
            consumer.unassign()
    if wanted.group is not None and wanted.commit and (outcome.matched or outcome.skipped_count):
        _commit(consumer)
    if not complete and wanted.count:
        raise _missing(wanted, outcome, bool(expected))
    return outcome


def _await_topics(
    ctx: StepContext, consumer: Any, problems: kc.Problems, wanted: Wanted, topics: list[str]
) -> None:
    """Wait (within the timeout) for the topics to exist: a system under test may create
    its topic with its first message."""
    known: set[str] = set()

    def done() -> bool:
        return all(t in known for t in topics)

    def step(slice_: float) -> None:
        metadata = consumer.list_topics(timeout=max(slice_, 1.0))
        known.clear()
        known.update(t for t, m in metadata.topics.items() if m.error is None)
        if not done():
            ctx.cancelled.wait(0.05)

    if kc.wait(ctx, wanted.timeout, done, step, problems, "waiting for the topic"):
        return
    missing = next(t for t in topics if t not in known)
    shown = missing[len(wanted.prefix) :]
    others = [t[len(wanted.prefix) :] for t in known if t.startswith(wanted.prefix)]
    hint = did_you_mean(shown, [t for t in others if not t.startswith("_")])
    raise StepError(
        f"topic {shown!r} does not exist"
        + (f" (under this testcase's prefix {wanted.prefix!r})" if wanted.prefix else "")
        + f"; waited {wanted.timeout:g}s for it",
        hint or "declare it under the service's `topics:`, or produce to it first",
    )


def _assignment(
    ctx: StepContext, consumer: Any, problems: kc.Problems, wanted: Wanted, topics: list[str]
) -> list[Any]:
    ck = kc.driver()
    metadata = consumer.list_topics(timeout=5)
    out = []
    for topic in topics:
        partitions = sorted(metadata.topics[topic].partitions)
        if wanted.partition is not None:
            if wanted.partition not in partitions:
                raise StepError(
                    f"topic {topic[len(wanted.prefix) :]!r} has no partition {wanted.partition}",
                    f"its partitions are 0 to {len(partitions) - 1}",
                )
            partitions = [wanted.partition]
        for partition in partitions:
            part = ck.TopicPartition(topic, partition)
            part.offset = _offset(ctx, consumer, problems, part, wanted)
            out.append(part)
    return out


def _offset(
    ctx: StepContext, consumer: Any, problems: kc.Problems, part: Any, wanted: Wanted
) -> int:
    ck = kc.driver()
    if wanted.starts is not None:
        return wanted.starts.get((part.topic, part.partition), int(ck.OFFSET_BEGINNING))
    if wanted.start == "beginning":
        return int(ck.OFFSET_BEGINNING)
    if wanted.start == "end":
        return int(ck.OFFSET_END)
    assert isinstance(wanted.start, int)
    if wanted.start >= 0:
        return wanted.start
    low, _ = consumer.get_watermark_offsets(part, timeout=5)
    end = true_ends(ctx, consumer, problems, [part], wanted.timeout)[(part.topic, part.partition)]
    return max(int(low), end + wanted.start)


def ends_now(
    ctx: StepContext, bootstrap: str, topics: list[str], timeout: float
) -> dict[tuple[str, int], int]:
    """Where each partition of `topics` ends now, for a later consume to read only what
    came after (`Wanted.starts`); a topic that does not exist yet has no entry, so it is
    read from its beginning once it appears."""
    ck = kc.driver()
    reader, problems = kc.reader(ctx, bootstrap)
    try:
        metadata = reader.list_topics(timeout=max(timeout, 1.0))
    except ck.KafkaException as exc:
        raise kc.unreachable(problems.last() or str(exc.args[0].str())) from exc
    parts = [
        ck.TopicPartition(topic, partition)
        for topic in topics
        if topic in metadata.topics and metadata.topics[topic].error is None
        for partition in sorted(metadata.topics[topic].partitions)
    ]
    return true_ends(ctx, reader, problems, parts, timeout) if parts else {}


def true_ends(
    ctx: StepContext, reader: Any, problems: kc.Problems, parts: list[Any], timeout: float
) -> dict[tuple[str, int], int]:
    """Each partition's end offset, as a fetch of its last batch sees it.

    Not ListOffsets alone: Tansu answers it with one more than the base offset of the
    last batch, which is short when several messages were produced together. Reading
    from there to the end (one batch) gives the end a fetch reports, on any broker.
    """
    ck = kc.driver()
    ends: dict[tuple[str, int], int] = {}
    starts = []
    for part in parts:
        low, high = reader.get_watermark_offsets(
            ck.TopicPartition(part.topic, part.partition), timeout=timeout
        )
        ends[(part.topic, part.partition)] = int(high)
        starts.append(ck.TopicPartition(part.topic, part.partition, max(int(low), int(high) - 1)))
    unfinished = {key for key, end in ends.items() if end > 0}
    if not unfinished:
        return ends

    def step(slice_: float) -> None:
        raw = reader.poll(slice_)
        if raw is not None and raw.error() is not None and raw.error().name() == "_PARTITION_EOF":
            unfinished.discard((raw.topic(), raw.partition()))

    reader.assign(starts)
    try:
        kc.wait(ctx, timeout, lambda: not unfinished, step, problems, "reading end offsets")
        for part in parts:
            _, seen = reader.get_watermark_offsets(
                ck.TopicPartition(part.topic, part.partition), cached=True
            )
            key = (part.topic, part.partition)
            ends[key] = max(ends[key], int(seen))
    finally:
        reader.unassign()
    return ends


def _commit(consumer: Any) -> None:
    ck = kc.driver()
    try:
        consumer.commit(asynchronous=False)
    except ck.KafkaException as exc:
        error = exc.args[0]
        if error.name() != "_NO_OFFSET":
            raise StepError(f"could not commit the group's offsets: {error.str()}") from exc


def _missing(wanted: Wanted, outcome: Outcome, filtered: bool) -> StepError:
    what = ", ".join(repr(t) for t in wanted.topics)
    where = f"topic {what}" if len(wanted.topics) == 1 else f"topics {what}"
    got, count = len(outcome.matched), wanted.count
    if not outcome.skipped_count:
        text = (
            f"no message on {where} within {wanted.timeout:g}s"
            if not got
            else f"only {got} of {count} messages on {where} within {wanted.timeout:g}s"
        )
        hint = "check that the producer runs and writes to this topic, or raise `timeout:`" + (
            "; with `from: end` only messages sent after the step started count"
            if wanted.start == "end"
            else ""
        )
        if wanted.prefix:
            hint = (
                f"this step read {wanted.prefix}{wanted.topics[0]} (the testcase's prefix, "
                f"isolation `prefix`); if the system under test writes to "
                f"{wanted.topics[0]} itself, add `prefix: false` to the step"
            )
        return StepError(text, hint)
    matched = f"only {got} of {count} matched" if got else "none matched"
    lines = [
        f"{outcome.skipped_count} message(s) on {where} within {wanted.timeout:g}s, {matched} "
        "the expectation; the last that did not:"
    ]
    for message, reason in outcome.skipped:
        lines.append(
            f"  partition {message['partition']} offset {message['offset']} "
            f"key {_short(message['key'])}: {reason}"
        )
    return StepError(
        "\n".join(lines), "compare the expectation with the messages above" if filtered else None
    )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
