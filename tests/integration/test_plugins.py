"""A third-party executor plugs in through the `splice.executors` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = """
from typing import ClassVar
from pydantic import BaseModel, ConfigDict
from splice import StepOutput


class ShoutBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    times: int = 1


class ShoutExecutor:
    name: ClassVar[str] = "shout"
    block_model: ClassVar[type[BaseModel]] = ShoutBlock
    result_fields: ClassVar[dict[str, str]] = {"text": "the shouted text"}
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    def execute(self, block, ctx):
        return StepOutput({"text": (block.text.upper() + "!") * block.times})
"""


def _install_plugin(site: Path) -> None:
    """Lay out an installed distribution by hand: a module plus dist-info with entry points."""
    (site / "splice_shout.py").write_text(PLUGIN)
    info = site / "splice_shout-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: splice-shout\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[splice.executors]\nshout = splice_shout:ShoutExecutor\n"
    )


def _splice(cwd: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_third_party_executor_runs_and_its_schema_errors_are_located(tmp_path: Path) -> None:
    """The plugin's steps run, and a bad block gets the same located error as built-ins."""
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    (tmp_path / "ok.splice.yaml").write_text(
        textwrap.dedent("""
        name: plugin
        testcases:
          - name: shouting
            steps:
              - shout: {text: hey, times: 2}
                expect: {text: "HEY!HEY!"}
    """)
    )
    ok = _splice(tmp_path, site, "run", "ok.splice.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 passed" in ok.stdout

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.splice.yaml").write_text(
        textwrap.dedent("""
        name: plugin
        testcases:
          - name: shouting
            steps:
              - shout: {text: hey, times: many, volume: 11}
                expect: {txt: "HEY!"}
    """)
    )
    bad = _splice(tmp_path, site, "check", "bad")
    assert bad.returncode == 2
    err = bad.stderr
    assert "--> bad/bad.splice.yaml:6:35" in err  # times: many
    assert "expected an integer, found a string 'many'" in err
    assert "unknown key 'volume'" in err
    assert "'shout' results have no field 'txt'" in err and "did you mean 'text'?" in err
    assert "Traceback" not in err


def test_a_plugins_executor_is_in_the_editor_schema(tmp_path: Path) -> None:
    """`splice schema suite` describes the plugin's step with its own block model and
    result fields, so editors complete and check it like a built-in one."""
    import json

    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    done = _splice(tmp_path, site, "schema", "suite")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    forms = schema["$defs"]["Step"]["anyOf"]
    shout = next(f for f in forms if "shout" in f.get("required", []))
    block = shout["properties"]["shout"]["anyOf"][0]
    assert set(block["properties"]) == {"text", "times"}
    assert block["required"] == ["text"]
    assert set(shout["properties"]["expect"]["properties"]) == {"text"}
