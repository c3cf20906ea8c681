"""`splice k8s job`: a Kubernetes Indexed Job manifest that runs the suites as N shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.group()
def k8s() -> None:
    """Kubernetes: manifests that run splice in a cluster."""


@k8s.command("job", context_settings={"ignore_unknown_options": True})
@click.option(
    "--parallelism",
    "-n",
    required=True,
    type=click.IntRange(1, 1024),
    help="Shards: the Job's completions and pods at once.",
)
@click.option("--image", required=True, help="Container image with splice and the project.")
@click.option("--report-to", metavar="URL", help="The `splice serve` every shard reports to.")
@click.option(
    "--token-secret",
    metavar="NAME[/KEY]",
    help="Secret holding the server's write token [KEY default: token].",
)
@click.option("--name", help="The Job's name [default: splice-PROJECT].")
@click.option("--namespace", help="The Job's namespace [default: the context's].")
@click.option("--workdir", metavar="DIR", help="The project's folder inside the image.")
@click.option(
    "--durations",
    metavar="FILE",
    help="A durations file inside the image (`splice shard durations`), to balance by.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the manifest here [default: print it].",
)
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def job(run_args: tuple[str, ...], **opts: Any) -> None:
    """Print a Kubernetes Indexed Job running `splice run --shard` in N pods, reporting to one
    run. Arguments after `--` go to `splice run` (paths, -k, --tag, --var)."""
    from splice._internal.errors import UsageError
    from splice._internal.shards.k8s import JobSpec, check_name, job_name, manifest, to_yaml

    if opts["token_secret"] and not opts["report_to"]:
        raise UsageError(
            "--token-secret is the token of --report-to, which is missing",
            "add --report-to URL (the `splice serve` the shards report to)",
        )
    if opts["name"]:
        name = check_name(opts["name"])
    else:
        from splice._internal.cli.run_command import _project

        name = job_name(_project().name)
    spec = JobSpec(
        name=name,
        image=opts["image"],
        parallelism=opts["parallelism"],
        report_to=opts["report_to"],
        token_secret=opts["token_secret"],
        namespace=opts["namespace"],
        workdir=opts["workdir"],
        run_args=list(run_args),
        durations=opts["durations"],
    )
    text = to_yaml(manifest(spec))
    if opts["output"] is None:
        click.echo(text, nl=False)
    else:
        opts["output"].write_text(text, encoding="utf-8")
        click.echo(f"wrote {opts['output']}: `kubectl apply -f {opts['output']}` starts it")
