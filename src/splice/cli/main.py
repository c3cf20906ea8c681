"""The `splice` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from splice import __version__
from splice.cli.mock_command import mock
from splice.cli.store_commands import import_, quarantine, serve, store, store_run_options
from splice.errors import Diagnostic, SpliceError, SuiteError, UsageError
from splice.reporting.diagnostics import render_diagnostics

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail_usage(message: str, hint: str | None = None) -> None:
    err = _stderr()
    err.print(f"[bold red]error:[/] {message}", markup=True)
    if hint:
        err.print(f"  hint: {hint}", markup=False)
    sys.exit(EXIT_USAGE)


def _fail_diagnostics(diags: list[Diagnostic]) -> None:
    _stderr().print(render_diagnostics(diags), markup=False, highlight=False, emoji=False)
    sys.exit(EXIT_USAGE)


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


class SpliceGroup(click.Group):
    """Maps splice's own errors to rendered messages and exit code 2, never a traceback."""

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
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Testcases run in parallel, each with its own variables and HTTP session.",
)
@click.option(
    "-x", "--fail-fast", is_flag=True, help="Stop starting testcases after the first failure."
)
@click.option(
    "--retries",
    default=0,
    type=click.IntRange(0, 20),
    help="Re-run a failed testcase up to N times; a later pass is reported as flaky.",
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
@_apply(store_run_options)
def run(paths: tuple[str, ...], **opts: Any) -> None:
    """Run suites (files, folders or globs; default: the project's suites or **/*.splice.yaml)."""
    from splice.cli.run_command import run_command

    sys.exit(run_command(list(paths), opts))


@cli.command()
@click.argument("paths", nargs=-1)
@_apply(_var_options)
def check(paths: tuple[str, ...], **opts: Any) -> None:
    """Validate suites without running anything: schema, templates, variables."""
    from splice.cli.run_command import check_command

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
def up(foreground: bool, timeout: float) -> None:
    """Start the project's services and keep them running (details in .splice/up.env)."""
    from splice.cli.run_command import _project
    from splice.cli.up import up as start

    sys.exit(start(_project(), Console(highlight=False), foreground=foreground, timeout=timeout))


@cli.command()
def down() -> None:
    """Stop the services started by `splice up`."""
    from splice.cli.run_command import _project
    from splice.cli.up import down as stop

    sys.exit(stop(_project(), Console(highlight=False)))


@cli.command()
def status() -> None:
    """Show the services of `splice up` and whether each answers (exit 1 if not)."""
    from splice.cli.run_command import _project
    from splice.cli.up import status as show

    sys.exit(show(_project(), Console(highlight=False)))


for _command in (mock, serve, import_, quarantine, store):
    cli.add_command(_command)

from splice.cli.workflow_command import _register, workflow  # noqa: E402 - needs the options above

_register(workflow)
cli.add_command(workflow)

from splice.cli.shard_command import register as _register_shard  # noqa: E402
from splice.cli.shard_command import shard  # noqa: E402

_register_shard(shard)
cli.add_command(shard)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="splice", standalone_mode=True)
