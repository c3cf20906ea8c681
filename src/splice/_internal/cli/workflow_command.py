"""`splice workflow run NAME` and `splice workflow list`."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape


@click.group()
def workflow() -> None:
    """Workflows: jobs of suites, pytest and commands writing JUnit, recorded as one run."""


@workflow.command("list")
def list_() -> None:
    """List the project's workflows and their jobs (and check them: exit 2 on a mistake)."""
    from splice._internal.cli.run_command import _project
    from splice._internal.workflows.loader import load_workflows

    console = Console(highlight=False)
    workflows = load_workflows(_project())
    if not workflows:
        console.print("no workflows: add `workflows:` to splice.yaml or a *.workflow.yaml file")
    for name, wf in workflows.items():
        console.print(f"[bold]{escape(name)}[/] ({len(wf.jobs)} jobs)")
        for job in wf.jobs.values():
            needs = f" needs {', '.join(job.needs)}" if job.needs else ""
            console.print(f"  {escape(job.name)}: {job.kind.value}{escape(needs)}")


def _register(group: click.Group) -> None:
    from splice._internal.cli.option_sets import _apply, _var_options
    from splice._internal.cli.store_options import store_run_options

    @group.command("run")
    @click.argument("name")
    @_apply(_var_options)
    @click.option(
        "-j",
        "--jobs",
        type=click.IntRange(1, 256),
        help="Testcases of a suites job run in parallel [default: splice.yaml's run.jobs, else 1].",
    )
    @click.option(
        "--term-grace",
        type=click.FloatRange(min=0),
        default=20.0,
        show_default=True,
        envvar="SPLICE_TERM_GRACE",
        metavar="SECONDS",
        help="After SIGTERM, seconds teardowns may take before splice exits at once.",
    )
    @_apply(store_run_options)
    def run(name: str, **opts: Any) -> None:
        """Run the workflow NAME: its jobs in the order `needs` gives, one stored run."""
        from splice._internal.cli.run_command import _project
        from splice._internal.runner.inputs import external_vars
        from splice._internal.workflows.execute import run_workflow
        from splice._internal.workflows.loader import find_workflow

        ext = external_vars(opts["var_pairs"], opts["var_files"], opts["secret_names"])
        project = _project()
        chosen = find_workflow(project, name)
        sys.exit(
            run_workflow(
                project, chosen, opts, external=ext.merged(), secret_names=set(ext.secrets)
            )
        )
