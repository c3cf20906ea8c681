"""`splice init [FOLDER]`: a `splice.yaml` and a first suite that passes, for a new project
or one that already has an app, a docker-compose.yml or an OpenAPI document."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("init")
@click.argument(
    "folder", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(folder: Path, force: bool) -> None:
    """Write splice.yaml and a first suite, built on what the folder already has."""
    from splice._internal.project.scaffold import detect, propose

    if folder.exists() and not folder.is_dir():
        raise click.UsageError(f"{folder} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    proposal = propose(folder, detect(folder))
    existing = [name for name in proposal.files if (folder / name).exists()]
    if existing and not force:
        click.echo(
            "error: " + ", ".join(existing) + (" exists" if len(existing) == 1 else " exist"),
            err=True,
        )
        click.echo("  hint: nothing was written; use --force to overwrite", err=True)
        sys.exit(2)
    click.echo("found:")
    for line in proposal.found:
        click.echo(f"  {line}")
    click.echo("wrote:")
    for name, text in proposal.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"  {name}" + (" (overwritten)" if name in existing else ""))
    click.echo("next:")
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder}\n  "
    click.echo(f"  {where}" + "\n  ".join(proposal.next_steps))
