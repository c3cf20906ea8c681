"""The broker's REST API: a Pact Broker-compatible subset under /api, over the store.

With `/api` as the broker's base URL, these are the Pact Broker's own paths:

- `PUT  /pacts/provider/{provider}/consumer/{consumer}/version/{version}`: publish a pact
- `GET  /pacts/provider/{provider}/latest`: the newest pact of each consumer (pending or not)
- `GET  /pacts/provider/{provider}/consumer/{consumer}/latest`: that pact itself
- `POST /pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}/verification-results`:
  `{"success": true, "providerApplicationVersion": "1.2.3"}`

and `GET /contracts` lists every integration with its latest pact and verification. Writes
need a write token, as every write of the API does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from splice._internal.contracts import broker
from splice._internal.errors import UsageError
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


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    success: StrictBool
    providerApplicationVersion: StrictStr = Field(min_length=1, max_length=200)


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
    return {"consumer": consumer, "provider": provider, "version": version, "sha": done["sha"]}


@router.get(_BASE + "/latest", tags=["contracts"])
def latest_pacts(request: Request, provider: Name) -> dict[str, Any]:
    """The newest pact of each consumer of the provider, marked pending when no version of
    the provider has verified it."""
    found = broker.latest_for_provider(store_of(request), provider)
    return {
        "provider": provider,
        "pacts": [
            {
                "consumer": p["consumer"],
                "version": p["version"],
                "sha": p["sha"],
                "pending": p["pending"],
                "href": f"/api/pacts/provider/{provider}/consumer/{p['consumer']}/latest",
            }
            for p in found
        ],
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
            content: dict[str, Any] = found["content"]
            return content
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
    return {"consumer": consumer, "provider": provider, "sha": sha, "success": success}


@router.get("/contracts", tags=["contracts"])
def contracts(request: Request) -> dict[str, Any]:
    """Every integration (consumer → provider) with its latest pact and verification, and
    the newest rows of the verification matrix."""
    store = store_of(request)
    return {"integrations": broker.integrations(store), "matrix": broker.matrix(store, 200)}
