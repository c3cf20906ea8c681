"""`splice contract ...`: Pact contracts between services.

splice contract verify pacts/shop-payments.json --provider payments --states states.yaml
splice contract verify pacts/*.json --provider-base-url http://localhost:8000 \\
    --provider-states-setup-url http://localhost:8000/_pact/state
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from splice.cli.store_commands import store_run_options
from splice.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Any]) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap


@click.group("contract")
def contract() -> None:
    """Pact contracts: verify a provider against consumers' pacts."""


@contract.command("verify")
@click.argument("pacts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--provider",
    metavar="NAME",
    help="The service of splice.yaml that is the provider: splice starts it and its "
    "dependencies, and replays each interaction against its URL.",
)
@click.option(
    "--provider-base-url",
    metavar="URL",
    help="Verify a provider that splice did not start, at this URL.",
)
@click.option(
    "--states",
    "states_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="YAML file mapping each provider state to the splice steps that set it up.",
)
@click.option(
    "--provider-states-setup-url",
    "state_url",
    metavar="URL",
    help="POST {state, params, action} here to set up (and tear down) provider states.",
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
    "--html", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report here."
)
@click.option("-v", "--verbose", count=True, help="List every step as it finishes.")
@click.option("-q", "--quiet", is_flag=True, help="Only failures and the summary.")
@_apply(store_run_options)
def verify(pacts: tuple[Path, ...], **opts: Any) -> None:
    """Replay every interaction of the PACT files against the provider; each interaction
    is a testcase of the run (exit 0 all honoured, 1 a mismatch, 2 bad input)."""
    sys.exit(verify_command(list(pacts), opts))


@contract.command("from-cassette")
@click.argument("cassette", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--consumer", required=True, help="The consumer's name in the pact.")
@click.option("--provider", required=True, help="The provider's name in the pact.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Pact file to write [default: pacts/CONSUMER-PROVIDER.json].",
)
def from_cassette(cassette: Path, consumer: str, provider: str, output: Path | None) -> None:
    """Turn a cassette recorded from the real API into a Pact V4 file (one interaction per
    distinct request, its first recording)."""
    from splice.contracts.consumer import exercised_from_cassette, pact_document, write_pact
    from splice.doubles.cassette import Cassette, CassetteError

    try:
        recorded = Cassette.load(cassette)
    except CassetteError as exc:
        raise UsageError(str(exc), "record one with a mock's `record:` setting") from exc
    target = output or Path("pacts") / f"{consumer}-{provider}.json"
    document = pact_document(consumer, provider, exercised_from_cassette(recorded.interactions))
    write_pact(target, document)
    click.echo(f"wrote {target}: {len(document['interactions'])} interaction(s)")


def verify_command(pacts: list[Path], opts: dict[str, Any]) -> int:
    from splice.cli.run_command import _project, run_suites
    from splice.contracts.verify import VerifyTarget, verification_suites

    provider, base_url = opts.pop("provider"), opts.pop("provider_base_url")
    if bool(provider) == bool(base_url):
        raise UsageError(
            "name the provider with --provider NAME or --provider-base-url URL (one of them)",
            "--provider starts a service of splice.yaml; --provider-base-url targets a "
            "running server",
        )
    project = _project()
    if provider:
        if provider not in project.services:
            known = ", ".join(sorted(project.services)) or "none"
            raise UsageError(
                f"--provider {provider!r} is not a service of the project",
                f"services in splice.yaml: {known}",
            )
        base_url = f"{{{{ services.{provider}.url }}}}"
        wanted = [provider]
    else:
        wanted = []
    states_file, state_url = opts.pop("states_file"), opts.pop("state_url")
    if states_file is not None and not states_file.is_file():
        raise UsageError(f"states file {str(states_file)!r} does not exist", "check --states")
    suites = verification_suites(pacts, VerifyTarget(base_url, states_file, state_url))
    if not any(suite.testcases for suite in suites):
        raise UsageError(
            "the pacts hold no HTTP interaction to verify",
            "message interactions are verified by message steps",
        )
    project = _only(project, wanted)
    defaults: dict[str, Any] = {
        "var_pairs": (),
        "var_files": (),
        "secret_names": (),
        "keywords": (),
        "tags": (),
        "exclude_tags": (),
        "jobs": 1,
        "fail_fast": False,
        "retries": 0,
        "term_grace": None,
    }
    return run_suites(project, suites, {**defaults, **opts})


def _only(project: Any, wanted: list[str]) -> Any:
    """The project with only the provider and what it depends on (none for a URL)."""
    import dataclasses

    keep = {name for level in project.start_order(wanted) for name in level} if wanted else set()
    services = {name: spec for name, spec in project.services.items() if name in keep}
    return dataclasses.replace(project, services=services)
