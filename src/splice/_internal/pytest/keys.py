"""Where the plugin keeps its objects on pytest's `config.stash` (imports only pytest, so
the `pytest11` entry point can use the keys without loading splice)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path  # noqa: F401 - in a StashKey's type
    from typing import Any  # noqa: F401 - in a StashKey's type

    from splice._internal.pytest.recording import SessionRecording  # noqa: F401 - in a StashKey's type
    from splice._internal.pytest.results import ResultCollector  # noqa: F401 - in a StashKey's type
    from splice._internal.pytest.state import State  # noqa: F401 - in a StashKey's type

STATE = pytest.StashKey["State"]()
PROJECT_FILE = pytest.StashKey["Path | None"]()
COLLECTOR = pytest.StashKey["ResultCollector"]()
RECORDING = pytest.StashKey["SessionRecording"]()
HELD = pytest.StashKey["dict[str, Any]"]()  # services a test holds: name -> handle
WRITTEN = pytest.StashKey["list[str]"]()  # reports written, for the terminal summary
