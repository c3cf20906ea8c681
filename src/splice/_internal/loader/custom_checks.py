"""Custom checks in Python: `check: mypkg.checks:is_valid` on a step.

The function is imported from the project (the folder of `splice.yaml` above the suite, or
the suite's own folder, comes first on the import path) when the suite loads, so a name
that cannot be imported is a located error before anything runs. After the step's `expect`
and `assert` pass or fail, it is called with the step's result fields (and the variables,
when it takes a second argument). It passes by returning None or True; it fails by
raising AssertionError (its message is the failure), returning False, or returning a
string or a list of strings (one failure each). Any other exception fails the step with
the exception's type and message.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from splice._internal.errors import display_path
from splice._internal.model.results import Failure, FailureKind

NAME_HINT = "name a function as `package.module:function`, importable from the project folder"


class CheckImportError(ValueError):
    """A check that cannot be found: message and hint for a located error."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def project_folder(suite_dir: Path) -> Path:
    """The folder of the nearest `splice.yaml` at or above `suite_dir`, else `suite_dir`."""
    for folder in (suite_dir, *suite_dir.parents):
        if (folder / "splice.yaml").is_file():
            return folder
    return suite_dir


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def resolve(name: str, suite_dir: Path) -> Callable[..., Any]:
    """The function `name` names; CheckImportError when there is none."""
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise CheckImportError(f"{name!r} is not `module:function`", NAME_HINT)
    folder = project_folder(suite_dir)
    with _on_path(folder):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CheckImportError(
                f"cannot import {module_name!r} for check {name!r}: {exc}",
                f"modules are looked for in {display_path(folder)}/ (the project folder) "
                "and on the Python path",
            ) from exc
        except Exception as exc:
            raise CheckImportError(
                f"importing {module_name!r} for check {name!r} raised {type(exc).__name__}: {exc}",
                "fix the module; splice imports it when the suite loads",
            ) from exc
    found = getattr(module, attr, None)
    if not callable(found):
        raise CheckImportError(
            f"{module_name!r} has no function {attr!r}",
            "define `def " + attr + "(result): ...` in it",
        )
    return found  # type: ignore[no-any-return]


def run_checks(
    checks: list[Callable[..., Any]],
    names: list[str],
    result: dict[str, Any],
    scope: dict[str, Any],
) -> list[Failure]:
    """The failures the custom checks report for one step result."""
    failures: list[Failure] = []
    for name, fn in zip(names, checks, strict=True):
        try:
            takes_vars = len(inspect.signature(fn).parameters) >= 2
        except (TypeError, ValueError):
            takes_vars = False
        try:
            returned = fn(result, dict(scope)) if takes_vars else fn(result)
        except AssertionError as exc:
            failures.append(Failure(FailureKind.CHECK, f"{name}: {exc or 'assertion failed'}"))
            continue
        except Exception as exc:  # noqa: BLE001 - the user's check broke: its failure
            failures.append(
                Failure(
                    FailureKind.CHECK,
                    f"{name} raised {type(exc).__name__}: {exc}",
                    hint="a check fails by raising AssertionError or returning failures",
                )
            )
            continue
        if returned is False:
            failures.append(Failure(FailureKind.CHECK, f"{name} returned false"))
        elif isinstance(returned, str):
            failures.append(Failure(FailureKind.CHECK, f"{name}: {returned}"))
        elif isinstance(returned, list | tuple):
            failures += [Failure(FailureKind.CHECK, f"{name}: {item}") for item in returned]
    return failures
