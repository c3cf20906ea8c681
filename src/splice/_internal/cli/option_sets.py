"""Options that several commands share: selecting testcases and giving variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

_selection_options = [
    click.option(
        "-k",
        "keywords",
        multiple=True,
        metavar="TEXT",
        help="Only testcases whose 'suite::testcase' name contains TEXT (or matches a glob).",
    ),
    click.option("--tag", "tags", multiple=True, help="Only testcases with this tag (repeatable)."),
    click.option(
        "--exclude-tag", "exclude_tags", multiple=True, help="Leave out testcases with this tag."
    ),
]
_var_options = [
    click.option(
        "--var",
        "var_pairs",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a variable (highest precedence, repeatable).",
    ),
    click.option(
        "--var-file",
        "var_files",
        multiple=True,
        metavar="FILE",
        help="YAML file of variables (repeatable).",
    ),
    click.option(
        "--secret",
        "secret_names",
        multiple=True,
        metavar="NAME",
        help="Mask this variable's value in every output (repeatable).",
    ),
]


def _apply(options: list[Any]) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap
