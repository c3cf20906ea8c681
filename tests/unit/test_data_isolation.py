"""The parts of isolation that need no server: parallel slot numbers, the gate that keeps
an exclusive attempt alone, and which tables truncate and snapshot act on."""

from __future__ import annotations

import threading
from pathlib import Path

from splice._internal.data.tables import MIGRATION_TABLES, TableChoice
from splice._internal.environment.slots import Gate, Serialised, Slots
from splice._internal.errors import SourceSpan


def test_each_running_thread_holds_the_lowest_free_slot() -> None:
    """Threads that hold at once get 0, 1, 2; a freed number is the next one given; a
    thread that holds twice (a pytest test taking two services) keeps its one slot."""
    slots = Slots()
    assert slots.enter() == 0
    assert slots.enter() == 0  # the same thread again
    got: dict[str, int] = {}
    release = threading.Event()

    def hold(name: str, entered: threading.Event) -> None:
        got[name] = slots.enter()
        entered.set()
        release.wait(5)
        slots.leave()

    threads = []
    for name in ("first", "second"):
        entered = threading.Event()
        threads.append(threading.Thread(target=hold, args=(name, entered)))
        threads[-1].start()
        assert entered.wait(5)
    first, second = threads
    assert (got["first"], got["second"]) == (1, 2)
    release.set()
    first.join()
    second.join()
    slots.leave()
    slots.leave()
    assert slots.enter() == 0  # every slot is free again


class _Holder(threading.Thread):
    """A thread that takes the gate (`got`), then gives it back once told (`done`)."""

    def __init__(self, gate: Gate, *, exclusive: bool) -> None:
        super().__init__()
        self.gate, self.exclusive = gate, exclusive
        self.got, self.done = threading.Event(), threading.Event()
        self.start()

    def run(self) -> None:
        with self.gate.held(exclusive=self.exclusive):
            self.got.set()
            self.done.wait(5)

    def finish(self) -> None:
        self.done.set()
        self.join()


def _until_waiting(gate: Gate, count: int) -> None:
    """Until `count` threads wait to hold the gate exclusively (no clock involved)."""
    while gate._waiting != count:
        threading.Event().wait(0.001)


def test_the_gate_is_shared_by_many_or_held_by_one() -> None:
    """Shared holders run at once; an exclusive one waits for them to end, and once it
    waits, a new shared holder waits behind it (no starvation); re-entrant per thread."""
    gate = Gate()
    first, second = _Holder(gate, exclusive=False), _Holder(gate, exclusive=False)
    assert first.got.wait(5) and second.got.wait(5)  # two shared holders at once
    alone = _Holder(gate, exclusive=True)
    _until_waiting(gate, 1)
    late = _Holder(gate, exclusive=False)
    assert not alone.got.is_set()
    first.finish()
    second.finish()
    assert alone.got.wait(5)
    assert not late.got.is_set()  # it queued behind the exclusive holder
    alone.finish()
    assert late.got.wait(5)
    late.finish()
    with gate.held(exclusive=True), gate.held(exclusive=True), gate.held(exclusive=False):
        pass  # the holder of the gate takes it again without waiting for itself
    with gate.held(exclusive=False), gate.held(exclusive=False):
        pass


def test_table_choice_keeps_migration_tables_and_matches_names_and_wildcards() -> None:
    """Migration tables are never acted on, even under `only`; `keep` and `only` match
    `table` or `schema.table`, in any case, with wildcards."""
    everything = TableChoice()
    assert everything.acts_on("public", "orders")
    assert not any(everything.acts_on("public", name) for name in MIGRATION_TABLES)
    assert not everything.acts_on("public", "SequelizeMeta")
    keep = TableChoice(keep=("directus_*", "audit.log"))
    assert not keep.acts_on("public", "Directus_Users")
    assert not keep.acts_on("audit", "log")
    assert keep.acts_on("public", "log")
    only = TableChoice(only=("orders", "order_?"))
    assert only.acts_on("public", "orders") and only.acts_on("shop", "order_x")
    assert not only.acts_on("public", "users")
    assert not TableChoice(only=("alembic_version",)).acts_on("public", "alembic_version")
    assert keep.keeps("audit.log", "public") and not keep.keeps("log", "public")


def test_serialised_note_names_service_mode_place_and_reason(tmp_path: Path) -> None:
    """The note says which service, which mode, where it is set (relative to the
    folder given) and why."""
    span = SourceSpan(tmp_path / "splice.yaml", 10, 14)
    note = Serialised("db", "truncate", span, "is reset after each testcase")
    assert note.message(tmp_path) == (
        "testcases run one at a time: service 'db' (isolation truncate, splice.yaml:10:14) "
        "is reset after each testcase"
    )
