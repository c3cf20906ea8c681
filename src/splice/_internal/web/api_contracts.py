"""The broker's REST API: a Pact Broker-compatible subset under /api, over the store.

With `/api` as the broker's base URL, these are the Pact Broker's own paths:

- `GET  /` (that is `/api`): the index, whose `_links` name the relations below
- `PUT  /pacts/provider/{provider}/consumer/{consumer}/version/{version}`: publish a pact
  (`GET` reads it back)
- `GET  /pacts/provider/{provider}/latest`: the newest pact of each consumer (pending or not)
- `GET  /pacts/provider/{provider}/consumer/{consumer}/latest`: that pact itself
- `GET  /pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}`: a pact by content
- `POST /pacts/provider/{provider}/for-verification`: the pacts a provider's build verifies
  (`includeWipPactsSince` adds the work-in-progress ones), with `pending`/`wip`
- `POST /pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}/verification-results`:
  `{"success": true, "providerApplicationVersion": "1.2.3"}`

Answers carry HAL `_links` (absolute hrefs, `pb:` relations) as the Pact Broker's do, so
clients that navigate by links (the Pact verifiers of pact-python, pact-js, pact-jvm, the
pact CLI) find their way from the index. `GET /contracts` lists every integration with its
latest pact and verification. Writes need a write token, as every write of the API does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from splice._internal.contracts import broker
from splice._internal.contracts.selectors import SCHEMA as SELECTOR_SCHEMA
from splice._internal.contracts.selectors import SelectorProblem, read_selector
from splice._internal.errors import UsageError
from splice._internal.project.model import Selector
from splice._internal.web.api import WRITE_ERRORS, error_answer, router, store_of
from splice._internal.web.auth import api_write

Name = Annotated[str, Path(min_length=1, max_length=200)]
Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
_BASE = "/pacts/provider/{provider}"


class Party(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: StrictStr = Field(min_length=1, max_length=200)


class PactIn(BaseModel):
    """A pact file's JSON: its parties and interactions (the rest is kept as it is)."""

    model_config = ConfigDict(extra="allow")
    consumer: Party
    provider: Party
    interactions: list[dict[str, Any]] = []


class ForVerificationIn(BaseModel):
    """The Pact Broker's "pacts for verification" request: the consumer version selectors
    pick the pacts (`selectors`; none: the latest pact of each consumer)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    # validated by `contracts.selectors.read_selector` (a 400 naming the problem); the
    # document shows the selectors it answers
    consumerVersionSelectors: list[dict[str, Any]] = Field(
        default=[], json_schema_extra={"items": SELECTOR_SCHEMA}
    )
    includePendingStatus: StrictBool = False
    includeWipPactsSince: datetime | date | None = None
    providerVersionBranch: StrictStr | None = None

    @field_validator("includeWipPactsSince", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("a date as text, such as 2026-12-01 or 2026-12-01T09:30:00Z")
        return value


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    success: StrictBool
    providerApplicationVersion: StrictStr = Field(min_length=1, max_length=200)


def api_root(request: Request) -> str:
    """The broker's base URL, absolute, as HAL links give it."""
    return str(request.base_url).rstrip("/") + "/api"


def quoted(name: str) -> str:
    return quote(name, safe="")


def hal_link(href: str, **more: Any) -> dict[str, Any]:
    return {"href": href, **more}


def _pact_links(
    request: Request, provider: str, consumer: str, sha: str, version: str
) -> dict[str, Any]:
    """The `_links` of a pact: itself, its parties, where its verification results go."""
    root = api_root(request)
    pacts = f"{root}/pacts/provider/{quoted(provider)}/consumer/{quoted(consumer)}"
    return {
        "self": hal_link(
            f"{pacts}/pact-version/{sha}", name=f"Pact between {consumer} and {provider}"
        ),
        "pb:consumer": hal_link(f"{root}/pacticipants/{quoted(consumer)}", name=consumer),
        "pb:provider": hal_link(f"{root}/pacticipants/{quoted(provider)}", name=provider),
        "pb:consumer-version": hal_link(f"{pacts}/version/{quoted(version)}", name=version),
        "pb:latest-pact-version": hal_link(f"{pacts}/latest"),
        "pb:publish-verification-results": hal_link(
            f"{pacts}/pact-version/{sha}/verification-results",
            title="Publish verification results",
        ),
    }


def _with_links(request: Request, found: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = dict(found["content"])
    content["_links"] = _pact_links(
        request, found["provider"], found["consumer"], found["sha"], found["version"]
    )
    return content


def _index(request: Request) -> dict[str, Any]:
    root = api_root(request)
    provider = f"{root}/pacts/provider/{{provider}}"
    return {
        "_links": {
            "self": hal_link(root, title="Index"),
            "pb:publish-pact": hal_link(
                provider + "/consumer/{consumer}/version/{consumerApplicationVersion}",
                title="Publish a pact",
                templated=True,
            ),
            "pb:latest-provider-pacts": hal_link(
                provider + "/latest", title="Latest pacts by provider", templated=True
            ),
            "pb:provider-pacts-for-verification": hal_link(
                provider + "/for-verification",
                title="Pacts to be verified by a provider",
                templated=True,
            ),
            "pb:latest-pact": hal_link(
                provider + "/consumer/{consumer}/latest",
                title="The latest pact between a consumer and a provider",
                templated=True,
            ),
            "pb:pacticipants": hal_link(f"{root}/pacticipants", title="Pacticipants"),
            "pb:pacticipant": hal_link(
                f"{root}/pacticipants/{{pacticipant}}", title="A pacticipant", templated=True
            ),
            "pb:contracts": hal_link(f"{root}/contracts", title="Integrations and the matrix"),
            "curies": [{"name": "pb", "href": f"{root}/doc/{{rel}}", "templated": True}],
        }
    }


@router.get("", tags=["contracts"], include_in_schema=False)
def index_bare(request: Request) -> dict[str, Any]:
    return _index(request)


@router.get("/", tags=["contracts"])
def index(request: Request) -> dict[str, Any]:
    """The broker's index (Pact Broker: the root): its relations as HAL `_links`."""
    return _index(request)


@router.put(
    _BASE + "/consumer/{consumer}/version/{version}",
    tags=["contracts"],
    responses={**WRITE_ERRORS, 400: error_answer("the pact does not fit the path or is malformed")},
)
def publish_pact(
    request: Request,
    provider: Name,
    consumer: Name,
    version: Name,
    pact: PactIn,
    _token: Annotated[str, Depends(api_write)],
) -> dict[str, Any]:
    """Publish the pact of a consumer version (Pact Broker: publish a pact)."""
    if (pact.consumer.name, pact.provider.name) != (consumer, provider):
        raise HTTPException(400, "the pact's consumer and provider names differ from the path")
    try:
        done = broker.publish(store_of(request), pact.model_dump(exclude_unset=True), version)
    except UsageError as exc:
        raise HTTPException(400, exc.message) from exc
    return {
        "consumer": consumer,
        "provider": provider,
        "version": version,
        "sha": done["sha"],
        "_links": _pact_links(request, provider, consumer, done["sha"], version),
    }


@router.get(
    _BASE + "/consumer/{consumer}/version/{version}",
    tags=["contracts"],
    responses={404: error_answer("that version published no pact with the provider")},
)
def version_pact(request: Request, provider: Name, consumer: Name, version: Name) -> dict[str, Any]:
    """The pact a consumer version published, with its `_links`."""
    found = broker.find_pact(store_of(request), provider, consumer, version=version)
    if found is None:
        raise HTTPException(404, f"{consumer!r} {version!r} published no pact with {provider!r}")
    return _with_links(request, found)


@router.get(
    _BASE + "/consumer/{consumer}/pact-version/{sha}",
    tags=["contracts"],
    responses={404: error_answer("no pact of that content between the two")},
)
def pact_version(request: Request, provider: Name, consumer: Name, sha: Sha) -> dict[str, Any]:
    """A pact by the sha of its content, with its `_links` (where verification results go)."""
    found = broker.find_pact(store_of(request), provider, consumer, sha=sha)
    if found is None:
        raise HTTPException(404, f"no pact {sha[:12]} between {consumer!r} and {provider!r}")
    return _with_links(request, found)


def _since(value: datetime | date | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@router.get(_BASE + "/for-verification", tags=["contracts"])
def for_verification_resource(request: Request, provider: Name) -> dict[str, Any]:
    """The "pacts for verification" resource a HAL client navigates to before it POSTs
    its selectors there."""
    href = f"{api_root(request)}/pacts/provider/{quoted(provider)}/for-verification"
    return {
        "_links": {
            "self": hal_link(href, title="Pacts to be verified by a provider (POST selectors)"),
            "pb:provider": hal_link(
                f"{api_root(request)}/pacticipants/{quoted(provider)}", name=provider
            ),
        }
    }


def selector(given: dict[str, Any], index: int) -> Selector:
    """A Pact consumer version selector as the store's `Selector` (`contracts.selectors`);
    a key splice does not know, or one it does not interpret, is a 400 that names it and
    the way out."""
    try:
        return read_selector(given, f"consumerVersionSelectors[{index}]")
    except SelectorProblem as problem:
        raise HTTPException(400, str(problem)) from None


@router.post(
    _BASE + "/for-verification",
    tags=["contracts"],
    responses={400: error_answer("a consumer version selector splice does not know or answer")},
)
def for_verification(request: Request, provider: Name, asked: ForVerificationIn) -> dict[str, Any]:
    """The pacts a provider's build verifies (Pact Broker: pacts for verification): the
    latest of each consumer, and with `includeWipPactsSince` the work-in-progress ones;
    each says whether it is `pending` (its failures should not fail the build) and `wip`."""
    found = broker.pacts_for_verification(
        store_of(request),
        provider,
        include_wip_since=_since(asked.includeWipPactsSince),
        selectors=[selector(s, n) for n, s in enumerate(asked.consumerVersionSelectors)],
    )
    pacts = []
    for p in found:
        pending = bool(p["pending"]) and (asked.includePendingStatus or p["wip"])
        notices = [
            {
                "when": "before_verification",
                "text": f"The pact of {p['consumer']} {p['version']} is being verified because "
                + (
                    "it is work in progress: never verified, published since the date asked"
                    if p["wip"]
                    else "the consumer version selectors pick it"
                    if asked.consumerVersionSelectors
                    else "it is the latest pact of the consumer"
                ),
            }
        ]
        if pending:
            notices.append(
                {
                    "when": "before_verification",
                    "text": "It is pending: a failure does not fail the provider's build.",
                }
            )
        properties: dict[str, Any] = {"pending": pending, "notices": notices}
        if p["wip"]:
            properties["wip"] = True
        links = _pact_links(request, provider, p["consumer"], p["sha"], p["version"])
        pacts.append(
            {
                "shortDescription": (
                    f"pact of {p['consumer']} {p['version']} (selected)"
                    if asked.consumerVersionSelectors and not p["wip"]
                    else f"latest pact of {p['consumer']}"
                    + (" (work in progress)" if p["wip"] else "")
                ),
                "verificationProperties": properties,
                "_links": {"self": links["self"]},
            }
        )
    root = api_root(request)
    return {
        "_embedded": {"pacts": pacts},
        "_links": {"self": hal_link(f"{root}/pacts/provider/{quoted(provider)}/for-verification")},
    }


@router.get(_BASE + "/latest", tags=["contracts"])
def latest_pacts(request: Request, provider: Name) -> dict[str, Any]:
    """The newest pact of each consumer of the provider, marked pending when no version of
    the provider has verified it."""
    found = broker.latest_for_provider(store_of(request), provider)
    root = api_root(request)
    base = f"{root}/pacts/provider/{quoted(provider)}"
    listed = [
        {
            "consumer": p["consumer"],
            "version": p["version"],
            "sha": p["sha"],
            "pending": p["pending"],
            "href": f"/api/pacts/provider/{provider}/consumer/{p['consumer']}/latest",
        }
        for p in found
    ]
    links = [
        hal_link(
            f"{base}/consumer/{quoted(p['consumer'])}/pact-version/{p['sha']}",
            title=f"Pact between {p['consumer']} ({p['version']}) and {provider}",
            name=p["consumer"],
        )
        for p in found
    ]
    return {
        "provider": provider,
        "pacts": listed,
        "_links": {
            "self": hal_link(f"{base}/latest"),
            "pb:provider": hal_link(f"{root}/pacticipants/{quoted(provider)}", name=provider),
            "pb:pacts": links,
        },
    }


@router.get(
    _BASE + "/consumer/{consumer}/latest",
    tags=["contracts"],
    responses={404: error_answer("no pact between the two")},
)
def latest_pact(request: Request, provider: Name, consumer: Name) -> dict[str, Any]:
    """The newest pact between a consumer and a provider, as published."""
    for found in broker.latest_for_provider(store_of(request), provider):
        if found["consumer"] == consumer:
            return _with_links(request, found)
    raise HTTPException(404, f"no pact between {consumer!r} and {provider!r}")


@router.post(
    _BASE + "/consumer/{consumer}/pact-version/{sha}/verification-results",
    status_code=201,
    tags=["contracts"],
    responses=WRITE_ERRORS,
)
def verification_result(
    request: Request,
    provider: Name,
    consumer: Name,
    sha: Sha,
    result: VerificationIn,
    _token: Annotated[str, Depends(api_write)],
) -> dict[str, Any]:
    """Record a verification of a pact by a provider version (Pact Broker: publish
    verification results)."""
    success, version = result.success, result.providerApplicationVersion
    broker.record_verification(
        store_of(request),
        consumer=consumer,
        provider=provider,
        pact_sha=sha,
        provider_version=version,
        success=success,
    )
    root = api_root(request)
    pair = f"provider/{quoted(provider)}/consumer/{quoted(consumer)}"
    pact = f"{root}/pacts/{pair}/pact-version/{sha}"
    return {
        "consumer": consumer,
        "provider": provider,
        "sha": sha,
        "success": success,
        "providerApplicationVersion": version,
        "_links": {
            "self": hal_link(pact + "/verification-results"),
            "pb:pact-version": hal_link(pact),
        },
    }


def pact_diff(
    request: Request, provider: str, consumer: str, old: str | None, new: str | None
) -> dict[str, Any]:
    """What changed from the pact of consumer version `old` to that of `new` (by default
    the two newest versions); 404 when one is not there."""
    from splice._internal.contracts.diff import diff_pacts

    store = store_of(request)
    versions = [v["version"] for v in broker.pact_versions(store, provider, consumer)]
    if not versions:
        raise HTTPException(404, f"no pact between {consumer!r} and {provider!r}")
    new = new or versions[0]
    old = old or (versions[1] if len(versions) > 1 and new == versions[0] else new)
    found = {}
    for version in (old, new):
        pact = broker.find_pact(store, provider, consumer, version=version)
        if pact is None:
            raise HTTPException(
                404, f"{consumer!r} {version!r} published no pact with {provider!r}"
            )
        found[version] = pact["content"]
    result = diff_pacts(found[old], found[new]).to_json()
    return {"from": old, "to": new, "versions": versions, **result}


@router.get(
    _BASE + "/consumer/{consumer}/diff",
    tags=["contracts"],
    responses={404: error_answer("no pact of that consumer version")},
)
def diff(
    request: Request,
    provider: Name,
    consumer: Name,
    old: Annotated[str | None, Query(alias="from", max_length=200)] = None,
    new: Annotated[str | None, Query(alias="to", max_length=200)] = None,
) -> dict[str, Any]:
    """What changed in the contract from consumer version `from` to `to` (default: the
    two newest): interactions added, removed and changed, as `splice contract diff --json`."""
    return pact_diff(request, provider, consumer, old, new)


@router.get("/contracts", tags=["contracts"])
def contracts(request: Request) -> dict[str, Any]:
    """Every integration (consumer → provider) with its latest pact and verification, and
    the newest rows of the verification matrix."""
    store = store_of(request)
    return {"integrations": broker.integrations(store), "matrix": broker.matrix(store, 200)}
