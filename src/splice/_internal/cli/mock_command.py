"""`splice mock ...`: the HTTP mock outside a run.

splice mock serve mocks/*.yaml --port 8080          # a mock in the foreground
splice mock cassette-to-stubs cassettes/pay.yaml -o mocks/pay.yaml
splice mock import-wiremock wiremock/mappings/*.json -o mocks/imported.yaml
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from splice._internal.errors import UsageError


@click.group("mock")
def mock() -> None:
    """The HTTP mock: serve stub files, convert cassettes and WireMock mappings."""


@mock.command("serve")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--wiremock", "wiremock", multiple=True, metavar="FILE", help="WireMock mapping.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--journal-size", type=int, default=10_000, show_default=True, help="Requests kept.")
def serve(
    files: tuple[Path, ...], wiremock: tuple[str, ...], port: int, host: str, journal_size: int
) -> None:
    """Serve splice stub FILES (YAML or JSON) until Ctrl-C; the admin API is under
    /__splice/."""
    from splice._internal.doubles.app import MockConfig
    from splice._internal.doubles.server import run

    root = Path.cwd()
    stubs = _stubs([str(f) for f in files], list(wiremock), root)
    config = MockConfig(
        host=host, port=port, stubs=stubs, base_dir=str(root), journal_size=journal_size
    )
    import asyncio

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(run(config))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", "choose another --port"
            ) from exc


@mock.command("cassette-to-stubs")
@click.argument("cassette", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Stub file to write.")
@click.option(
    "--match-on",
    default="method,path,query,body",
    show_default=True,
    help="Parts of a request the stubs match on.",
)
def cassette_to_stubs(cassette: Path, output: Path | None, match_on: str) -> None:
    """Turn a recorded CASSETTE into a stub file (to stdout without --output)."""
    from splice._internal.doubles.cassette import MATCH_ON, Cassette, CassetteError, to_stubs

    parts = [p.strip() for p in match_on.split(",") if p.strip()]
    unknown = [p for p in parts if p not in MATCH_ON]
    if unknown:
        raise UsageError(
            f"unknown --match-on part {unknown[0]!r}", f"choose from {', '.join(MATCH_ON)}"
        )
    try:
        loaded = Cassette.load(cassette)
    except CassetteError as exc:
        raise UsageError(str(exc), "give the path of a cassette a mock recorded") from exc
    header = f"# stubs from the cassette {cassette}; edit freely\n"
    _write(header, to_stubs(loaded.interactions, parts), output)


@mock.command("import-wiremock")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Stub file to write.")
def import_wiremock(files: tuple[Path, ...], output: Path | None) -> None:
    """Convert WireMock mapping FILES into one splice stub file."""
    stubs = _stubs([], [str(f) for f in files], Path.cwd())
    _write("# stubs converted from WireMock mappings\n", [s["stub"] for s in stubs], output)


def _stubs(files: list[str], wiremock: list[str], root: Path) -> list[dict[str, Any]]:
    from splice._internal.doubles.files import (
        StubFileError,
        expand,
        load_stub_file,
        load_wiremock_file,
    )

    out: list[dict[str, Any]] = []
    try:
        for path in expand(files, root, "stub"):
            out += load_stub_file(path, root)
        for path in expand(wiremock, root, "WireMock mapping"):
            out += load_wiremock_file(path, root)
    except StubFileError as exc:
        raise UsageError(exc.message, exc.hint) from exc
    return out


def _write(header: str, stubs: list[dict[str, Any]], output: Path | None) -> None:
    text = header + yaml.safe_dump(
        stubs, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(stubs)} stub{'s' if len(stubs) != 1 else ''} to {output}", err=True)
