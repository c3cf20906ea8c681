"""The warm pool's settings and key, without servers: `warm:` in splice.yaml (with its
located error), and what a pool's key changes with."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from splice._internal.environment import warm
from splice._internal.errors import SuiteError
from splice._internal.project.loader import load_project
from splice._internal.project.model import Project

BASE = """
    name: keyed
    services:
      db: {kind: postgres, database: app}
      cache: {kind: redis}
"""


def _load(tmp_path: Path, text: str) -> Project:
    path = tmp_path / "splice.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return load_project(path)


@pytest.mark.parametrize(
    ("setting", "idle"),
    [("", None), ("warm: false\n", None), ("warm: true\n", 600.0), ("warm: {idle: 90s}\n", 90.0)],
)
def test_warm_setting_gives_the_idle_timeout(tmp_path: Path, setting: str, idle: float) -> None:
    """`warm: true` uses the default idle timeout, a mapping its own; none: no pool."""
    project = _load(tmp_path, BASE + "    " + setting if setting else BASE)
    assert project.warm_idle == idle


def test_a_bad_idle_timeout_is_a_located_error(tmp_path: Path) -> None:
    """`warm: {idle: soon}` names the file, line and the forms a duration takes."""
    with pytest.raises(SuiteError) as raised:
        _load(tmp_path, BASE + "    warm: {idle: soon}\n")
    text = str(raised.value.diagnostics[0].message) + repr(raised.value.diagnostics[0].span)
    assert "duration" in text and "splice.yaml" in text


def test_the_pool_key_follows_the_service_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same project: same key; a changed service setting or splice version: another."""
    same = warm.pool_key(_load(tmp_path, BASE))
    assert warm.pool_key(_load(tmp_path, BASE)) == same
    changed = BASE.replace("{kind: redis}", "{kind: redis, databases: 8}")
    assert warm.pool_key(_load(tmp_path, changed)) != same
    monkeypatch.setattr(warm, "VERSION", "99.0.0")
    assert warm.pool_key(_load(tmp_path, BASE)) != same
