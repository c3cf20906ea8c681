"""`splice shard run`: a run split into shards, run on Dask, merged into one stored run."""

from __future__ import annotations

import sys
from typing import Any

import click


@click.group()
def shard() -> None:
    """Shards: a run split by recorded durations, run in parallel on Dask, stored as one."""


def register(group: click.Group) -> None:
    from splice._internal.cli.option_sets import _apply, _selection_options, _var_options
    from splice._internal.cli.store_commands import store_run_options

    @group.command("run")
    @click.argument("paths", nargs=-1)
    @_apply(_selection_options)
    @_apply(_var_options)
    @click.option(
        "--shards",
        default=2,
        show_default=True,
        type=click.IntRange(1, 1024),
        help="Number of shards (each with its own environment).",
    )
    @click.option(
        "--on",
        default="dask",
        show_default=True,
        metavar="dask[:ADDRESS]",
        help="Where shards run: a local Dask cluster, or the scheduler at ADDRESS.",
    )
    @click.option(
        "-j", "--jobs", default=1, type=click.IntRange(1, 256), help="Testcases per shard at once."
    )
    @click.option("--retries", default=0, type=click.IntRange(0, 20), help="Retries per testcase.")
    @_apply(store_run_options)
    def run(paths: tuple[str, ...], **opts: Any) -> None:
        """Run suites in shards balanced by their recorded durations; one run in the store."""
        from splice._internal.cli.run_command import _load, _project, exit_code
        from splice._internal.errors import UsageError
        from splice._internal.runner.inputs import external_vars
        from splice._internal.runner.planner import Selection, select
        from splice._internal.shards.execute import parse_on, run_shards

        parse_on(opts["on"])
        ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
        project = _project()
        suites = _load(list(paths), set(ext.merged()), project)
        selection = Selection(
            list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"])
        )
        selected = select(suites, selection)
        if not selected:
            raise UsageError("no testcase matches the selection", "check -k and --tag")
        chosen = list(paths) or list(project.suites)
        run = run_shards(
            project,
            selected,
            opts,
            external=ext.merged(),
            secret_names=set(ext.secrets),
            paths=chosen,
        )
        sys.exit(exit_code(run))
