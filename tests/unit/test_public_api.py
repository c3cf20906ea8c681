"""The public facade stays honest: everything in `splice.__all__` exists, and nothing
heavy loads before it is needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

import splice


def test_all_names_exist() -> None:
    """Each name in __all__ resolves to an attribute of the package."""
    for name in splice.__all__:
        assert getattr(splice, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    """A name outside the facade is an AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        splice.nope  # noqa: B018 - the access is the test


def test_exported_classes_live_where_the_facade_says() -> None:
    """Each exported class is defined in a splice module (none is re-exported from a dependency)."""
    for name in splice.__all__:
        value = getattr(splice, name)
        if isinstance(value, type):
            assert value.__module__.startswith("splice."), name


def test_cli_import_is_light() -> None:
    """Importing the CLI loads neither pydantic, httpx, Jinja2 nor the runner."""
    code = (
        "import sys, splice.cli.main; "
        "print(sorted(m for m in ('pydantic', 'httpx', 'jinja2', 'splice.runner.run') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_matches_the_lazy_table() -> None:
    """__all__ lists exactly the lazily exported names (plus __version__)."""
    assert set(splice.__all__) == {*splice._EXPORTS, "__version__"}
