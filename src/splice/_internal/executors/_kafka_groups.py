"""A consumer group's committed offsets and lag, for `kafka: {group: ...}` steps.

Did the service under test consume and commit? Its group's committed offset on each
partition, the partition's end offset, and the difference (the lag) answer that; with
`retry: {until: "result.lag == 0"}` a step waits until the service caught up.
"""

from __future__ import annotations

from typing import Any

from splice._internal.errors import StepError
from splice._internal.executors import _kafka_clients as kc
from splice._internal.executors._kafka_consume import true_ends
from splice._internal.executors.executor_api import StepContext


def describe(
    ctx: StepContext,
    bootstrap: str,
    group: str,
    topics: list[str],
    *,
    prefix: str,
    timeout: float,
) -> dict[str, Any]:
    ck = kc.driver()
    from confluent_kafka.admin import AdminClient

    problems = kc.Problems()
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "error_cb": problems.callback,
        "logger": problems.logger,
        "socket.nagle.disable": True,
    }
    admin = AdminClient(config)
    request = ck.ConsumerGroupTopicPartitions(group)
    try:
        found = admin.list_consumer_group_offsets([request], request_timeout=timeout)
        offsets = found[group].result(timeout)
        state, members = _members(admin, group, timeout)
    except ck.KafkaException as exc:
        error = exc.args[0]
        raise StepError(f"could not read consumer group {group!r}: {error.str()}") from exc
    except Exception as exc:  # a timeout of the future
        fatal = problems.fatal() or problems.last()
        raise kc.unreachable(str(fatal or exc)) from exc
    committed: dict[str, dict[str, int]] = {}
    for part in offsets.topic_partitions or []:
        if topics and part.topic not in topics:
            continue
        if part.offset >= 0:
            committed.setdefault(part.topic, {})[str(part.partition)] = int(part.offset)
    reader, reader_problems = kc.reader(ctx, bootstrap)
    metadata = reader.list_topics(timeout=timeout)
    parts = []
    for topic in topics or list(committed):
        info = metadata.topics.get(topic)
        if info is not None and info.error is None:
            for partition in sorted(info.partitions):
                parts.append(ck.TopicPartition(topic, partition))
    high = true_ends(ctx, reader, reader_problems, parts, timeout)
    ends: dict[str, dict[str, int]] = {}
    lag: dict[str, dict[str, int]] = {}
    for part in parts:
        key = str(part.partition)
        end = high[(part.topic, part.partition)]
        ends.setdefault(part.topic, {})[key] = end
        done = committed.get(part.topic, {}).get(key, 0)
        lag.setdefault(part.topic, {})[key] = max(0, end - done)
    strip = len(prefix)
    return {
        "group": group[strip:] if prefix and group.startswith(prefix) else group,
        "state": state,
        "members": members,
        "committed": {t[strip:]: v for t, v in committed.items()},
        "end": {t[strip:]: v for t, v in ends.items()},
        "lag": sum(v for parts in lag.values() for v in parts.values()),
        "lag_by_partition": {t[strip:]: v for t, v in lag.items()},
    }


def _members(admin: Any, group: str, timeout: float) -> tuple[str | None, int]:
    try:
        found = admin.describe_consumer_groups([group], request_timeout=timeout)
        description = found[group].result(timeout)
    except Exception:  # noqa: BLE001 - brokers without DescribeGroups: offsets still tell
        return None, 0
    state = getattr(description.state, "name", None)
    return (state.lower() if isinstance(state, str) else None), len(description.members or [])
