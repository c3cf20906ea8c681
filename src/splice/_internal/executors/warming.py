"""Importing the drivers of a run's executors while its services start.

An executor imports its driver (SQLAlchemy, redis-py, httpx, pika, confluent-kafka) with
its first step, so that checking a suite loads no driver at all. In a run, that first
step is often in a race: a testcase that checks an order is still pending before the
worker ships it cannot spare the ~0.1 s SQLAlchemy takes to import. So a run names the
executors its suites use (`used_executors`), and `warm` imports the modules they declare
in `warm_modules` in a background thread while the environment starts, when the run
mostly waits for servers.

Only third-party driver modules are listed there, never a splice module: the thread then
never waits for an import lock the main thread holds, so the two cannot deadlock, and a
step that imports the same module meanwhile simply waits for it to finish. A module that
fails to import is left alone: the step that needs it reports that, with its hint.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable

from splice._internal.executors import executor_registry
from splice._internal.model.suite import Step, Suite


def used_executors(suites: Iterable[Suite]) -> list[str]:
    """The executors the steps of `suites` name (setup, testcases and teardown), in the
    order they first appear."""
    seen: dict[str, None] = {}

    def add(steps: Iterable[Step]) -> None:
        for step in steps:
            if step.executor is not None:
                seen.setdefault(step.executor, None)

    for suite in suites:
        add(suite.setup)
        for testcase in suite.testcases:
            add(testcase.setup)
            add(testcase.steps)
            add(testcase.teardown)
        add(suite.teardown)
    return list(seen)


def modules_of(names: Iterable[str]) -> list[str]:
    """The `warm_modules` the executors `names` declare (an executor without it, or one
    that does not load, declares none)."""
    found: dict[str, None] = {}
    for name in names:
        try:
            cls = executor_registry.get(name)
        except Exception:  # noqa: BLE001 - the run reports an executor that does not load
            continue
        for module in getattr(cls, "warm_modules", ()):
            found.setdefault(module, None)
    return list(found)


def warm(modules: list[str]) -> threading.Thread | None:
    """Import `modules` in a daemon thread (None when there are none); join it to wait."""
    if not modules:
        return None

    def run() -> None:
        for module in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    thread = threading.Thread(target=run, name="splice-warm-imports", daemon=True)
    thread.start()
    return thread
