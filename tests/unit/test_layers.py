"""The layers of docs/explanation/architecture.md hold: import-linter's contracts in
pyproject.toml pass, and each documented layer boundary has a contract."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_import_contracts_are_kept() -> None:
    """`lint-imports` finds no import that crosses a layer the wrong way."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_each_layer_boundary_has_a_contract() -> None:
    """The front ends, the environment and runner, the plugins and the toolkit are each
    kept apart by a contract, and the core may not import reports, store or web."""
    contracts = _contracts()
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert isinstance(layers, list)
    order = [layer.split()[0] for layer in layers]
    for upper, lower in [
        ("cli", "environment"),
        ("environment", "runner"),
        ("runner", "executors"),
        ("executors", "source"),
        ("executors", "model"),
    ]:
        assert order.index(upper) < order.index(lower), (upper, lower)
    forbidden = [c for c in contracts if c["type"] == "forbidden"]
    core_bans = next(c for c in forbidden if "splice._internal.runner" in c["source_modules"])  # type: ignore[operator]
    assert {"splice._internal.reporting", "splice._internal.store", "splice._internal.web"} <= set(
        core_bans["forbidden_modules"]
    )  # type: ignore[arg-type]
