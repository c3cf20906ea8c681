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

from splice._internal.cli.contract_results import verification_recorder
from splice._internal.cli.contract_sources import (
    PendingOutcome,
    brokers,
    only,
    pacts_from_store,
    parse_selectors,
    parse_wip_since,
    pending_watch,
)
from splice._internal.cli.store_commands import _open, _store_option, store_run_options
from splice._internal.errors import UsageError

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
@click.argument("pacts", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from-store",
    is_flag=True,
    help="Verify the latest pact of each consumer of the provider, from the results store; "
    "a pending pact (never verified yet) does not fail the verification.",
)
@click.option(
    "--consumer-version-selectors",
    "selectors",
    multiple=True,
    metavar="JSON",
    help="With --from-store: which consumer versions' pacts to verify, a Pact consumer "
    """version selector such as '{"branch": "main"}', '{"mainBranch": true}', """
    """'{"deployed": true, "environment": "production"}' (repeatable, or a JSON list; """
    "they add up). Default: the latest pact of each consumer.",
)
@click.option(
    "--include-wip-since",
    "wip_since",
    metavar="DATE",
    help="With --from-store: also verify the work-in-progress pacts, the newest of each "
    "consumer branch published since DATE (2026-12-01 or an ISO date-time) that no provider "
    "version verified yet; their failures do not fail the verification.",
)
@click.option(
    "--provider-name",
    metavar="NAME",
    help="The provider's name in the pacts (default: the --provider service's name).",
)
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
    "--messages-path",
    default="/",
    show_default=True,
    metavar="PATH",
    help="The provider's message producer, under its base URL: POSTed {description, "
    "providerStates} for each message interaction, it answers the message.",
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
@click.option(
    "--provider-version",
    metavar="VERSION",
    help="The provider's version: the verification results are recorded in the store "
    "against it (the matrix of `can-i-deploy`).",
)
@click.option("--provider-branch", default="", metavar="BRANCH", help="The provider's branch.")
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
    from splice._internal.contracts.consumer import (
        exercised_from_cassette,
        pact_document,
        write_pact,
    )
    from splice._internal.doubles.cassette import Cassette, CassetteError

    try:
        recorded = Cassette.load(cassette)
    except CassetteError as exc:
        raise UsageError(str(exc), "record one with a mock's `record:` setting") from exc
    target = output or Path("pacts") / f"{consumer}-{provider}.json"
    document = pact_document(consumer, provider, exercised_from_cassette(recorded.interactions))
    write_pact(target, document)
    click.echo(f"wrote {target}: {len(document['interactions'])} interaction(s)")


def verify_command(pacts: list[Path], opts: dict[str, Any]) -> int:
    from splice._internal.cli.run_command import _project, run_suites
    from splice._internal.contracts.verify import VerifyTarget, verification_suites

    provider, base_url = opts.pop("provider"), opts.pop("provider_base_url")
    from_store, provider_name = opts.pop("from_store"), opts.pop("provider_name")
    wip_since = parse_wip_since(opts.pop("wip_since"), from_store)
    selectors = parse_selectors(opts.pop("selectors"), from_store)
    if bool(pacts) == bool(from_store):
        raise UsageError(
            "give PACT files or --from-store (one of them)",
            "--from-store verifies the latest pacts of the provider's consumers",
        )
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
    pending: set[Path] = set()
    wip: dict[Path, str] = {}
    if from_store:
        name = provider_name or provider
        if not name:
            raise UsageError(
                "--from-store with --provider-base-url needs --provider-name NAME",
                "the provider's name in the pacts",
            )
        pacts, pending, wip = pacts_from_store(
            name, project.root, opts.get("store"), wip_since, selectors
        )
    states_file, state_url = opts.pop("states_file"), opts.pop("state_url")
    if states_file is not None and not states_file.is_file():
        raise UsageError(f"states file {str(states_file)!r} does not exist", "check --states")
    target = VerifyTarget(
        base_url, states_file, state_url, opts.pop("messages_path"), sorted(project.services)
    )
    suites = verification_suites(pacts, target)
    wanted += brokers(project, suites)
    if not any(suite.testcases for suite in suites):
        raise UsageError(
            "the pacts hold no interaction to verify",
            "a pact lists its HTTP interactions and messages under `interactions` "
            "(or a V3 message pact under `messages`)",
        )
    project = only(project, wanted)
    on_finish = verification_recorder(
        pacts, opts.pop("provider_version"), opts.pop("provider_branch"), opts
    )
    outcome = PendingOutcome()
    if pending:
        on_finish = pending_watch(pacts, pending, outcome, on_finish)
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
    code = run_suites(project, suites, {**defaults, **opts}, on_finish=on_finish)
    for path in outcome.failed:
        if path in wip:
            click.echo(
                f"wip: the pact {path.name} (branch {wip[path] or '-'}) is work in progress: "
                "never verified, so its failures do not fail this verification"
            )
        else:
            click.echo(
                f"pending: the pact {path.name} has never been verified, so its failures do "
                "not fail this verification"
            )
    if code == 1 and outcome.failed and not outcome.others_failed:
        return 0
    return code


@contract.command("check-openapi")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("pacts", nargs=-1, required=True, type=click.Path(path_type=Path))
def check_openapi(spec: Path, pacts: tuple[Path, ...]) -> None:
    """Check each interaction of the PACT files against the provider's OpenAPI document
    SPEC: the request and the response the consumer expects must be ones the documented
    API allows (exit 0 all fit, 1 a mismatch, 2 bad input)."""
    from rich.console import Console

    from splice._internal.contracts.openapi import OpenApiContract
    from splice._internal.contracts.pact import read_pact

    if not spec.is_file():
        raise UsageError(f"OpenAPI document {str(spec)!r} does not exist", "check the path")
    contract = OpenApiContract.load(spec)
    out = Console(highlight=False, soft_wrap=True)
    checked = failed = 0
    for path in pacts:
        pact = read_pact(path)
        for interaction in pact.interactions:
            if interaction.request is None or interaction.response is None:
                continue
            checked += 1
            found = _openapi_mismatches(contract, interaction)
            if found:
                failed += 1
                where = interaction.span.shown() if interaction.span else str(path)
                out.print(f"✗ {interaction.title}  {where}", markup=False)
                for mismatch in found:
                    out.print(f"    {mismatch}", markup=False)
    verdict = "fit" if not failed else f"{failed} do not fit"
    out.print(f"{checked} interaction(s) checked against {spec}: {verdict}", markup=False)
    sys.exit(1 if failed else 0)


def _openapi_mismatches(contract: Any, interaction: Any) -> list[Any]:
    request, response = interaction.request, interaction.response
    headers = {k: ", ".join(v) for k, v in request.headers.items()}
    body = request.body.content if request.body and not request.body.empty else None
    found = contract.check_request(
        request.method,
        request.path,
        query=request.query,
        headers=headers,
        body=body,
        content_type=request.body.content_type if request.body else None,
    )
    answer = response.body.content if response.body and not response.body.empty else None
    found += contract.check_response(
        request.method,
        request.path,
        response.status or 200,
        body=answer,
        content_type=response.body.content_type if response.body else None,
    )
    return list(found)


@contract.command("publish")
@click.argument("pacts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--version", "version", required=True, help="The consumer's version (a commit sha).")
@click.option("--branch", default="", help="The consumer's branch.")
@click.option("--tag", "tags", multiple=True, help="A tag of this version (repeatable).")
@_store_option
def publish(
    pacts: tuple[Path, ...], version: str, branch: str, tags: tuple[str, ...], store_url: str | None
) -> None:
    """Store PACT files in the results store as the pacts of a consumer version."""
    from splice._internal.contracts.broker import publish as publish_pact
    from splice._internal.contracts.pact import read_pact

    documents = []
    for path in pacts:
        read_pact(path)  # a located error for a malformed pact, before anything is stored
        import json

        documents.append(json.loads(path.read_text(encoding="utf-8")))
    store = _open(store_url)
    try:
        for path, document in zip(pacts, documents, strict=True):
            done = publish_pact(store, document, version, branch, tags)
            note = " (replaced the version's earlier pact)" if done["replaced"] else ""
            click.echo(
                f"published {path}: {done['consumer']} → {done['provider']} version {version}{note}"
            )
    finally:
        store.close()


@contract.command("record-deployment")
@click.option("--pacticipant", required=True, help="The consumer or provider deployed.")
@click.option("--version", "version", required=True, help="Its version.")
@click.option("--environment", required=True, help="Where it now runs (production, staging).")
@_store_option
def record_deployment(
    pacticipant: str, version: str, environment: str, store_url: str | None
) -> None:
    """Record that VERSION of PACTICIPANT now runs in ENVIRONMENT."""
    from splice._internal.contracts.broker import record_deployment as record

    store = _open(store_url)
    try:
        record(store, pacticipant, version, environment)
    finally:
        store.close()
    click.echo(f"recorded: {pacticipant} {version} is deployed to {environment}")


@contract.command("can-i-deploy")
@click.option("--pacticipant", required=True, help="The consumer or provider to deploy.")
@click.option("--version", "version", required=True, help="The version to deploy.")
@click.option("--to-environment", "environment", required=True, help="Where to deploy it.")
@_store_option
def can_i_deploy(pacticipant: str, version: str, environment: str, store_url: str | None) -> None:
    """Whether VERSION of PACTICIPANT is compatible with what runs in the environment
    (exit 0 yes, 1 no), with the rows of the matrix that decide it."""
    from rich.console import Console
    from rich.table import Table

    from splice._internal.contracts.broker import can_i_deploy as decide

    store = _open(store_url)
    try:
        decision = decide(store, pacticipant, version, environment)
    finally:
        store.close()
    table = Table(box=None, pad_edge=False)
    for column in ("CONSUMER", "C.VERSION", "PROVIDER", "P.VERSION", "OK?", "WHY"):
        table.add_column(column)
    for row in decision.rows:
        table.add_row(
            row.consumer,
            row.consumer_version,
            row.provider,
            row.provider_version,
            "yes" if row.ok else "no",
            row.reason,
        )
    out = Console(highlight=False, soft_wrap=True)
    if decision.rows:
        out.print(table)
    else:
        out.print(f"no integration of {pacticipant} {version} with {environment}")
    if decision.ok:
        out.print(f"can i deploy {pacticipant} {version} to {environment}: yes")
    else:
        out.print(f"can i deploy {pacticipant} {version} to {environment}: no")
    sys.exit(0 if decision.ok else 1)


@contract.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--consumer",
    metavar="NAME",
    help="With --provider: OLD and NEW are consumer versions in "
    "the store (a pact file's path is still read as a file).",
)
@click.option("--provider", metavar="NAME", help="The provider of the pacts in the store.")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@_store_option
def diff(old: str, new: str, **opts: Any) -> None:
    """What changed from the OLD pact to the NEW one: interactions added, removed and
    changed (each change a path with its old and new value). OLD and NEW are pact files,
    or consumer versions in the store with --consumer and --provider (exit 0 the same,
    1 different, 2 bad input)."""
    import json

    from splice._internal.contracts.diff import diff_pacts

    consumer, provider, store_url = opts["consumer"], opts["provider"], opts["store_url"]
    opened: list[Any] = []
    try:
        before = _pact_source(old, consumer, provider, store_url, opened)
        after = _pact_source(new, consumer, provider, store_url, opened)
    finally:
        for store in opened:
            store.close()
    found = diff_pacts(before, after)
    if opts["as_json"]:
        click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in found.lines():
            click.echo(line)
    sys.exit(0 if found.same else 1)


def _pact_source(
    arg: str, consumer: str | None, provider: str | None, store_url: str | None, opened: list[Any]
) -> dict[str, Any]:
    """A pact file's JSON (checked: a malformed pact is a located error), or the pact a
    consumer version published, from the store."""
    import json

    from splice._internal.contracts.broker import find_pact
    from splice._internal.contracts.pact import read_pact

    path = Path(arg)
    if path.is_file():
        read_pact(path)
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document
    if not (consumer and provider):
        raise UsageError(
            f"{arg!r} is not a pact file",
            "give two pact files, or two consumer versions with --consumer NAME --provider NAME",
        )
    if not opened:
        opened.append(_open(store_url))
    found = find_pact(opened[0], provider, consumer, version=arg)
    if found is None:
        raise UsageError(
            f"the store holds no pact of {consumer} version {arg!r} with {provider}",
            "publish it with `splice contract publish PACT --version V`",
        )
    content: dict[str, Any] = found["content"]
    return content
