"""The `splice` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from splice import __version__
from splice._internal.cli.option_sets import _apply, _selection_options, _var_options
from splice._internal.cli.store_options import store_run_options
from splice._internal.errors import Diagnostic, SpliceError, SuiteError, UsageError
from splice._internal.reporting.diagnostics import render_diagnostics
from splice._internal.reporting.terminal import make_console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _stderr() -> Console:
    return make_console(stderr=True, soft_wrap=True)


def _fail_usage(message: str, hint: str | None = None) -> None:
    err = _stderr()
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    if hint:
        err.print(f"  hint: {hint}", markup=False)
    sys.exit(EXIT_USAGE)


def _fail_diagnostics(diags: list[Diagnostic]) -> None:
    _stderr().print(render_diagnostics(diags), markup=False, highlight=False, emoji=False)
    sys.exit(EXIT_USAGE)


# commands whose modules load only when the command is used (or listed in --help)
_LAZY = {
    "mock": "splice._internal.cli.mock_command:mock",
    "serve": "splice._internal.cli.serve_command:serve",
    "import": "splice._internal.cli.store_commands:import_",
    "quarantine": "splice._internal.cli.store_commands:quarantine",
    "store": "splice._internal.cli.store_commands:store",
    "contract": "splice._internal.cli.contract_command:contract",
    "schema": "splice._internal.cli.schema_command:schema",
    "init": "splice._internal.cli.init_command:init",
    "trigger": "splice._internal.cli.trigger_command:trigger",
    "k8s": "splice._internal.cli.k8s_command:k8s",
}


class SpliceGroup(click.Group):
    """Maps splice's own errors to rendered messages and exit code 2, never a traceback.

    The commands in `_LAZY` are imported when first asked for, so `splice run` does not
    load the dashboard's or the mock's command modules.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _LAZY:
            import importlib

            module, _, name = _LAZY[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), name)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SuiteError as exc:
            _fail_diagnostics(exc.diagnostics)
        except UsageError as exc:
            _fail_usage(exc.message, exc.hint)
        except SpliceError as exc:
            _fail_usage(str(exc))
        return None


@click.group(cls=SpliceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="splice")
def cli() -> None:
    """splice: integration tests against real services, from YAML suites and pytest."""


@cli.command()
@click.argument("paths", nargs=-1)
@_apply(_selection_options)
@_apply(_var_options)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    help="Testcases run in parallel, each with its own variables and HTTP session "
    "[default: splice.yaml's run.jobs, else 1].",
)
@click.option(
    "-x", "--fail-fast", is_flag=True, help="Stop starting testcases after the first failure."
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    help="Re-run a failed testcase up to N times; a later pass is reported as flaky "
    "[default: splice.yaml's run.retries, else 0].",
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the whole run as JSON here.",
)
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report here.",
)
@click.option(
    "--term-grace",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    envvar="SPLICE_TERM_GRACE",
    show_envvar=True,
    metavar="SECONDS",
    help="After SIGTERM, seconds teardowns may take before splice exits at once.",
)
@click.option("-v", "--verbose", count=True, help="List every step as it finishes.")
@click.option("-q", "--quiet", is_flag=True, help="Only failures and the summary.")
@click.option(
    "--shard",
    metavar="I/N",
    help="Run only the I-th of N shards (I from 1; `k8s/N`: I from $JOB_COMPLETION_INDEX).",
)
@click.option(
    "--durations",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Balance --shard by these durations (`splice shard durations -o FILE`).",
)
@click.option(
    "--run-id",
    metavar="ID",
    envvar="SPLICE_RUN_ID",
    show_envvar=True,
    help="The run's id in the store; shards given the same one are stored as one run.",
)
@click.option(
    "--contracts/--no-contracts",
    default=None,
    help="Verify the pacts of splice.yaml's `contracts:` beside the suites (default: when "
    "no PATHS are given).",
)
@click.option(
    "--provider-version",
    metavar="VERSION",
    envvar="SPLICE_PROVIDER_VERSION",
    show_envvar=True,
    help="Record the results of the `contracts:` verifications in the store's broker "
    "against this version of their provider (the matrix of `can-i-deploy`).",
)
@click.option(
    "--provider-branch",
    default="",
    metavar="BRANCH",
    help="With --provider-version: the provider version's branch.",
)
@click.option(
    "--warm/--no-warm",
    default=None,
    help="Keep the services running after the run, under a supervisor that stops them "
    "after an idle timeout, and attach to them on the next run with fresh isolation "
    "(default: splice.yaml's `warm:`).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep the services up and run again what a file change affects (Ctrl-C stops).",
)
@click.option(
    "--dist",
    metavar="dask[:ADDRESS]",
    help="Run in shards on Dask, as `splice shard run --on`: `dask` starts a local cluster, "
    "`dask://HOST:8786` uses that scheduler.",
)
@click.option(
    "--dist-shards",
    default=2,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="With --dist: the number of shards (each with its own environment).",
)
@_apply(store_run_options)
def run(paths: tuple[str, ...], **opts: Any) -> None:
    """Run suites (files, folders or globs; default: the project's suites or **/*.splice.yaml)."""
    if opts.get("dist"):
        from splice._internal.cli.shard_command import run_distributed

        sys.exit(run_distributed(list(paths), _distributed_options(opts)))
    opts.pop("dist")
    opts.pop("dist_shards")
    if opts.pop("watch"):
        if opts["shard"]:
            raise UsageError("--watch runs everything again on a change; it takes no --shard")
        from splice._internal.cli.watch import watch_command

        opts.pop("contracts")  # watch reruns the suites a change affects, not pacts
        if opts.pop("provider_version"):
            raise UsageError(
                "--watch verifies no pacts, so it records no results: it takes no "
                "--provider-version",
                "leave out --watch to record the verification of `contracts:`",
            )
        opts.pop("provider_branch")
        opts.pop("warm")

        sys.exit(watch_command(list(paths), opts))
    from splice._internal.cli.run_command import run_command

    sys.exit(run_command(list(paths), opts))


# `splice run` options a run in shards cannot honour, and what to do instead
_NOT_WITH_DIST = {
    "shard": "--shard runs one static shard; --dist runs them all on Dask: choose one",
    "durations": "--dist balances shards by the store's recorded durations",
    "watch": "--watch reruns on a change in one environment; leave out --dist",
    "warm": "each shard starts its own services on its worker; leave out --warm",
    "fail_fast": "shards run at once on their workers; leave out -x",
    "run_id": "a run on Dask is one run already; leave out --run-id",
    "provider_version": "a run on Dask verifies no pacts; record them with `splice run`",
}


def _distributed_options(opts: dict[str, Any]) -> dict[str, Any]:
    """`splice run --dist ...`'s options as `splice shard run` takes them; a usage error
    for one that a run in shards cannot honour (never silently dropped)."""
    for key, hint in _NOT_WITH_DIST.items():
        if opts.get(key):
            option = "-x" if key == "fail_fast" else "--" + key.replace("_", "-")
            raise UsageError(f"{option} does not go with --dist", hint)
    if opts.get("contracts"):
        raise UsageError(
            "--contracts does not go with --dist: the shards run suites, not pacts",
            "verify the pacts with `splice contract verify` or a `splice run` without --dist",
        )
    return {**opts, "on": opts["dist"], "on_option": "--dist", "shards": opts["dist_shards"]}


@cli.command()
@click.argument("paths", nargs=-1)
@_apply(_var_options)
@click.option(
    "--contracts/--no-contracts",
    default=None,
    help="Check the pact files of `contracts:` too (default: when no PATHS are given).",
)
def check(paths: tuple[str, ...], **opts: Any) -> None:
    """Validate suites without running anything: schema, templates, variables."""
    from splice._internal.cli.run_command import check_command

    sys.exit(check_command(list(paths), opts))


@cli.command()
@click.option("--foreground", is_flag=True, help="Stay in the foreground until Ctrl-C.")
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=float,
    help="Seconds to wait for every service to be ready.",
)
@click.option("--warm-key", hidden=True, help="As the supervisor of a warm pool: its key.")
@click.option("--idle", type=float, hidden=True, help="A warm pool's idle timeout (seconds).")
def up(foreground: bool, timeout: float, warm_key: str | None, idle: float | None) -> None:
    """Start the project's services and keep them running (details in .splice/up.env)."""
    from splice._internal.cli.run_command import _project
    from splice._internal.cli.up import up as start

    code = start(
        _project(),
        make_console(),
        foreground=foreground,
        timeout=timeout,
        warm_key=warm_key,
        idle=idle,
    )
    sys.exit(code)


@cli.command()
def down() -> None:
    """Stop the services started by `splice up`."""
    from splice._internal.cli.run_command import _project
    from splice._internal.cli.up import down as stop

    sys.exit(stop(_project(), make_console()))


@cli.command()
def status() -> None:
    """Show the services of `splice up` and whether each answers (exit 1 if not)."""
    from splice._internal.cli.run_command import _project
    from splice._internal.cli.up import status as show

    sys.exit(show(_project(), make_console()))


from splice._internal.cli.workflow_command import _register, workflow  # noqa: E402 - needs the options above

_register(workflow)
cli.add_command(workflow)

from splice._internal.cli.shard_command import register as _register_shard  # noqa: E402
from splice._internal.cli.shard_command import shard  # noqa: E402

_register_shard(shard)
cli.add_command(shard)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="splice", standalone_mode=True)
