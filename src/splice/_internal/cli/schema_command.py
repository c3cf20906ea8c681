"""`splice schema suite|project|template`: the JSON Schema of a file format, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import click

FORMATS = ("suite", "project", "template")


@click.command("schema")
@click.argument("format_", metavar="suite|project|template", type=click.Choice(FORMATS))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of printing it.",
)
def schema(format_: str, output: Path | None) -> None:
    """Print the JSON Schema of suite files, the project file or step template files."""
    if format_ == "project":
        from splice._internal.project.json_schema import project_schema

        document = project_schema()
    else:
        from splice._internal.loader.json_schema import suite_schema, template_schema

        document = suite_schema() if format_ == "suite" else template_schema()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
