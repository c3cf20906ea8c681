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
        "import sys, splice._internal.cli.main; "
        "print(sorted(m for m in ('pydantic', 'httpx', 'jinja2', 'splice._internal.runner.run') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_all_matches_the_lazy_table() -> None:
    """__all__ lists exactly the lazily exported names (plus __version__)."""
    assert set(splice.__all__) == {*splice._EXPORTS, "__version__"}


def test_the_plugin_api_is_honest() -> None:
    """Each name in `splice.plugins.__all__` resolves, exported classes are splice's own,
    and the lazy table lists exactly the names that are not defined in the module."""
    from splice import plugins

    for name in plugins.__all__:
        value = getattr(plugins, name)
        assert value is not None, name
        if isinstance(value, type):
            assert value.__module__.startswith("splice."), name
    defined = {"EXECUTOR_GROUP", "SERVICE_GROUP", "register_executor", "register_service_kind"}
    assert set(plugins.__all__) == {*plugins._EXPORTS, *defined}


def test_the_entry_point_groups_are_the_registries_own() -> None:
    """The groups `splice.plugins` documents are those the registries read."""
    from splice import plugins
    from splice._internal.executors import executor_registry as executors
    from splice._internal.services import kind_registry as services

    assert (plugins.EXECUTOR_GROUP, plugins.SERVICE_GROUP) == (executors.GROUP, services.GROUP)
