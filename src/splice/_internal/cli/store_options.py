"""The options `splice run` takes to record and stream its run (apart from the store's own
commands in `splice._internal.cli.store_commands`, which `splice run` does not import)."""

from __future__ import annotations

import click

store_run_options = [
    click.option(
        "--store",
        "store",
        metavar="URL",
        help="Record the run in this store [default: $SPLICE_STORE_URL, else "
        ".splice/results.db in the project].",
    ),
    click.option("--no-store", is_flag=True, help="Do not record this run in a results store."),
    click.option(
        "--report-to",
        metavar="URL",
        help="Stream results to a `splice serve` at URL while running (token: $SPLICE_TOKEN).",
    ),
    click.option(
        "--report-token",
        metavar="TOKEN",
        envvar="SPLICE_TOKEN",
        show_envvar=True,
        help="Write token for --report-to.",
    ),
]
