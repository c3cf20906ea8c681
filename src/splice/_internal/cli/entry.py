"""The `splice` console script: answers `splice --version` before importing the command
line's libraries (click, rich), so scripts that ask for the version pay for nothing else."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from splice import __version__

        print(f"splice, version {__version__}")
        return
    from splice._internal.cli.main import main as full

    full(argv)
