"""The drivers a run's steps need are imported while its services start
(`executors.warming`): which executors a run uses, which modules they name, the import."""

from __future__ import annotations

import sys
from pathlib import Path

from splice._internal.executors.warming import modules_of, used_executors, warm
from splice._internal.loader.suite_loader import load_suite

SUITE = """\
name: s
setup:
  - redis: {url: "redis://127.0.0.1:1/0", command: PING}
testcases:
  - name: t
    setup:
      - amqp: {url: "amqp://127.0.0.1:1/", purge: q}
    steps:
      - http: {get: "http://127.0.0.1:1/"}
      - sql: {url: "postgresql://u@127.0.0.1:1/d", query: select 1}
      - http: {get: "http://127.0.0.1:1/again"}
    teardown:
      - exec: "true"
teardown:
  - kafka: {url: "kafka://127.0.0.1:1", produce: {topic: t, value: x}}
"""


def test_used_executors_are_those_of_every_step_in_order(tmp_path: Path) -> None:
    """Suite setup, a testcase's setup, steps and teardown, and the suite teardown all
    count, each executor once, in the order it first appears."""
    path = tmp_path / "s.splice.yaml"
    path.write_text(SUITE, encoding="utf-8")
    assert used_executors([load_suite(path)]) == ["redis", "amqp", "http", "sql", "exec", "kafka"]


def test_modules_of_are_the_drivers_executors_declare() -> None:
    """Each executor's `warm_modules`, once; one without any (exec) or unknown adds none."""
    names = ["http", "sql", "exec", "no-such-executor", "http", "redis", "amqp", "kafka"]
    assert modules_of(names) == ["httpx", "sqlalchemy", "redis", "pika", "confluent_kafka"]


def test_warm_imports_in_a_thread_and_skips_what_does_not_import() -> None:
    """The modules are imported in a daemon thread; one that does not exist is skipped
    without an error, and the ones after it still load."""
    sys.modules.pop("colorsys", None)
    thread = warm(["splice_no_such_module_anywhere", "colorsys"])
    assert thread is not None
    assert thread.daemon
    thread.join()
    assert "colorsys" in sys.modules
    assert warm([]) is None
