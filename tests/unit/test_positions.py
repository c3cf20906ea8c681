"""`Positions.spans` of a view: what a scan of the whole table finds, also after it grew."""

from __future__ import annotations

from pathlib import Path

from splice._internal.errors import SourceSpan
from splice._internal.model.positions import PathKey, Positions


def _scan(pos: Positions, root: PathKey) -> list[tuple[PathKey, SourceSpan]]:
    n = len(root)
    found = [(k[n:], v) for k, v in pos.values.items() if k[:n] == root]
    return sorted(found, key=lambda kv: (kv[1].line, kv[1].column))


def test_a_views_spans_are_those_under_its_root_in_file_order() -> None:
    """Each step's view lists its own values only, relative to itself, as a full scan would."""
    path = Path("suite.yaml")
    pos = Positions(path)
    line = 0
    for tc in range(5):
        for step in range(3):
            for key in ("http", "expect"):
                line += 1
                pos.values[("testcases", tc, "steps", step, key)] = SourceSpan(path, line, 7)
    for root in [(), ("testcases", 2), ("testcases", 2, "steps", 1), ("nothing",)]:
        assert pos.sub(root).spans() == _scan(pos, root)
    view = pos.sub(("testcases", 4))
    assert [loc for loc, _ in view.spans()][:2] == [("steps", 0, "http"), ("steps", 0, "expect")]


def test_values_added_after_a_first_look_up_are_found() -> None:
    """The index follows the table as the reader fills it (and drops removed paths)."""
    path = Path("suite.yaml")
    pos = Positions(path, {("a", 0): SourceSpan(path, 1, 1)})
    view = pos.sub(("a",))
    assert [loc for loc, _ in view.spans()] == [(0,)]
    pos.values[("a", 1)] = SourceSpan(path, 2, 1)
    assert [loc for loc, _ in view.spans()] == [(0,), (1,)]
    del pos.values[("a", 0)]
    assert [loc for loc, _ in view.spans()] == [(1,)]
