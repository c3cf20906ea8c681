"""Small parts of the runner: durations, masking, discovery, selection, external vars."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.errors import UsageError
from splice._internal.masking import MASK, Masker
from splice._internal.model.durations import parse_duration
from splice._internal.runner.planner import Selection, discover
from splice._internal.runner.scope import ExternalVars


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2.0), ("200ms", 0.2), ("1m30s", 90.0), ("1h", 3600.0), (1.5, 1.5), ("3", 3.0)],
)
def test_durations(text: object, seconds: float) -> None:
    """Durations accept numbers and unit strings."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5x", "", "-1s", -1, True, "s"])
def test_bad_durations_say_what_is_accepted(bad: object) -> None:
    """A malformed duration raises ValueError naming the accepted forms."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_masker_masks_nested_values_longest_first() -> None:
    """Secrets are masked inside nested structures; a longer secret containing a shorter is masked whole."""
    m = Masker()
    m.add("abc123")
    m.add("abc123-extended")
    m.add("xy")  # too short to mask
    value = {"h": ["token abc123-extended", "abc123"], "n": 7, "xy": "xy"}
    assert m.mask(value) == {"h": [f"token {MASK}", MASK], "n": 7, "xy": "xy"}


def test_masker_masks_numbers_that_are_secret() -> None:
    """A secret number is masked when it appears as a number."""
    m = Masker()
    m.add(123456)
    assert m.mask({"pin": 123456, "text": "pin=123456"}) == {"pin": MASK, "text": f"pin={MASK}"}


def test_discovery_of_files_folders_and_globs(tmp_path: Path) -> None:
    """Folders are searched recursively (skipping .venv), globs expand, order is sorted."""
    for name in ("b/x.splice.yaml", "a/y.splice.yaml", ".venv/z.splice.yaml", "a/other.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = discover([], tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/y.splice.yaml",
        "b/x.splice.yaml",
    ]
    assert discover(["b/*.splice.yaml"], tmp_path) == [tmp_path / "b/x.splice.yaml"]
    with pytest.raises(UsageError, match="no such file"):
        discover(["missing"], tmp_path)
    with pytest.raises(UsageError, match="no file matches"):
        discover(["c/*.yaml"], tmp_path)


def test_selection_by_keyword_and_tags() -> None:
    """-k matches substrings or globs of suite::testcase; tags include and exclude."""
    from splice._internal.model.suite import Suite

    suite = Suite("orders", Path("o.splice.yaml"))
    assert Selection(["PAID"]).keeps(suite, "a paid order", set())
    assert not Selection(["refund"]).keeps(suite, "a paid order", set())
    assert Selection(["orders::a*"]).keeps(suite, "a paid order", set())
    assert Selection(tags=["smoke"]).keeps(suite, "x", {"smoke", "api"})
    assert not Selection(tags=["smoke"], exclude_tags=["api"]).keeps(suite, "x", {"smoke", "api"})


def test_external_vars_from_the_environment() -> None:
    """SPLICE_VAR_<name> becomes a variable; files then --var override it."""
    ext = ExternalVars.from_environment(
        {"SPLICE_VAR_base": "env", "SPLICE_VAR_": "x", "OTHER": "1"}
    )
    ext.files["base"] = "file"
    assert ext.env == {"base": "env"}
    assert ext.merged() == {"base": "file"}
    ext.cli["base"] = "cli"
    assert ext.merged() == {"base": "cli"}
