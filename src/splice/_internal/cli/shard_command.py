"""`splice shard run`: a run split into shards, run on Dask, merged into one stored run;
`splice shard plan` and `splice shard durations`: the static shards of `splice run --shard`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from splice._internal.cli.option_sets import _apply, _selection_options, _var_options


@click.group()
def shard() -> None:
    """Shards: a run split by durations, on Dask (run) or as `splice run --shard I/N`."""


def register(group: click.Group) -> None:
    from splice._internal.cli.store_options import store_run_options

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
        "-j",
        "--jobs",
        type=click.IntRange(1, 256),
        help="Testcases per shard at once [default: splice.yaml's run.jobs, else 1].",
    )
    @click.option(
        "--retries",
        type=click.IntRange(0, 20),
        help="Retries per testcase [default: splice.yaml's run.retries, else 0].",
    )
    @_apply(store_run_options)
    def run(paths: tuple[str, ...], **opts: Any) -> None:
        """Run suites in shards balanced by their recorded durations; one run in the store."""
        sys.exit(run_distributed(list(paths), opts))


def run_distributed(paths: list[str], opts: dict[str, Any]) -> int:
    """`splice shard run` and `splice run --dist`: the selected testcases in `opts["shards"]`
    shards on the back end `opts["on"]`, one stored run; the reports `opts` asks for
    (`junit`, `json_path`, `html`) written from the merged run. Returns the exit code."""
    from splice._internal.cli.run_command import _load, _project, exit_code, write_reports
    from splice._internal.errors import UsageError, display_path
    from splice._internal.runner.inputs import external_vars
    from splice._internal.runner.planner import Selection, select
    from splice._internal.runner.secrets import run_masker
    from splice._internal.shards.execute import parse_on, run_shards

    parse_on(opts["on"], opts.get("on_option", "--on"))
    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    if project.contracts and not paths and opts.get("contracts") is None:
        click.echo(
            "note: the pacts of `contracts:` are not verified in shards; "
            "`splice contract verify` or a `splice run` without --dist verifies them",
            err=True,
        )
    suites = _load(paths, set(ext.merged()), project)
    selection = Selection(list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"]))
    selected = select(suites, selection)
    if not selected:
        raise UsageError("no testcase matches the selection", "check -k and --tag")
    chosen = paths or list(project.suites)
    run = run_shards(
        project,
        selected,
        opts,
        external=ext.merged(),
        secret_names=set(ext.secrets),
        paths=chosen,
    )
    if any(opts.get(key) for key in ("junit", "json_path", "html")):
        masker = run_masker(project, ext.merged(), set(ext.secrets) | set(project.secrets))
        for kind, path in write_reports(run, opts, masker):
            click.echo(f"{kind} report: {display_path(path)}")
    return exit_code(run)


@shard.command("plan")
@click.argument("paths", nargs=-1)
@_apply(_selection_options)
@_apply(_var_options)
@click.option(
    "--shards",
    required=True,
    type=click.IntRange(1, 1024),
    help="Number of shards, as in `splice run --shard I/N`.",
)
@click.option(
    "--durations",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Balance by these durations (`splice shard durations -o FILE`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(paths: tuple[str, ...], **opts: Any) -> None:
    """Show which testcases each `splice run --shard I/N` runs (the same on every machine)."""
    from splice._internal.shards.planner import imbalance
    from splice._internal.shards.static import read_durations, static_plan

    selected = _selected(paths, opts)
    durations = read_durations(opts["durations"]) if opts["durations"] else {}
    shards = static_plan(selected, durations, opts["shards"])
    order = {f"{s.name}::{tc.name}": i for i, (s, tc) in enumerate(_written(selected))}
    listed: list[dict[str, Any]] = [
        {
            "shard": f"{shard.index + 1}/{len(shards)}",
            "expected_seconds": round(shard.expected, 3),
            "testcases": sorted(shard.keys, key=order.__getitem__),
        }
        for shard in shards
    ]
    used = [s for s in shards if s.units]
    if opts["as_json"]:
        body = {"shards": listed, "imbalance": round(imbalance(used), 4)}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for entry in listed:
        names = entry["testcases"]
        click.echo(
            f"shard {entry['shard']}: {len(names)} testcases, "
            f"expected {entry['expected_seconds']:.1f} s"
        )
        for key in names:
            click.echo(f"  {key}")
    source = "the durations file" if durations else "counts (no --durations)"
    click.echo(f"balanced by {source}; imbalance {imbalance(used):.1%}")


@shard.command("durations")
@click.argument("paths", nargs=-1)
@_apply(_var_options)
@click.option("--store", metavar="URL", help="Read this store [default: the project's].")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the file here [default: print it].",
)
def durations_command(paths: tuple[str, ...], **opts: Any) -> None:
    """Write the recorded median durations of the suites' testcases, for `--durations`."""
    from splice._internal.cli.run_command import _load, _project
    from splice._internal.errors import UsageError
    from splice._internal.runner.inputs import external_vars
    from splice._internal.store.core import Store
    from splice._internal.store.errors import StoreError
    from splice._internal.store.query_durations import median_durations

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    suites = _load(list(paths), set(ext.merged()), project)
    keys = [f"{s.name}::{tc.name}" for s, tc in _written(suites)]
    try:
        store = Store.open(opts["store"], project.root)
    except StoreError as exc:
        raise UsageError(exc.message, "give the store with --store URL") from exc
    try:
        found = median_durations(store, keys)
    finally:
        store.close()
    text = json.dumps({k: round(found[k], 3) for k in sorted(found)}, indent=1) + "\n"
    if opts["output"] is None:
        click.echo(text, nl=False)
        return
    opts["output"].write_text(text, encoding="utf-8")
    click.echo(f"{len(found)} of {len(keys)} testcases have recorded durations: {opts['output']}")


def _written(suites: list[Any]) -> list[tuple[Any, Any]]:
    return [(s, tc) for s in suites for tc in s.testcases]


def _selected(paths: tuple[str, ...], opts: dict[str, Any]) -> list[Any]:
    from splice._internal.cli.run_command import _load, _project
    from splice._internal.errors import UsageError
    from splice._internal.runner.inputs import external_vars
    from splice._internal.runner.planner import Selection, select

    ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
    project = _project()
    suites = _load(list(paths), set(ext.merged()), project)
    selection = Selection(list(opts["keywords"]), list(opts["tags"]), list(opts["exclude_tags"]))
    selected = select(suites, selection)
    if not selected:
        raise UsageError("no testcase matches the selection", "check -k and --tag")
    return selected
