"""The broker's pacticipant resources under /api, read-only, as the Pact Broker has them:

- `GET /pacticipants`: every pacticipant, HAL `_embedded.pacticipants`
- `GET /pacticipants/{name}`: one, with its main branch and latest version
- `GET /pacticipants/{name}/versions`: its versions, newest first (`_embedded.versions`)
- `GET /pacticipants/{name}/versions/{version}`: one version
- `GET /pacticipants/{name}/branches`: its branches (`_embedded.branches`)

What they say comes from `contracts.pacticipants` (what the store keeps of pacts,
verifications, tags and deployments). An unknown name or version is a 404 whose message
names the known ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request

from splice._internal.contracts import pacticipants as p
from splice._internal.source.validation import did_you_mean
from splice._internal.store.core import Store
from splice._internal.web.api import error_answer, router, store_of
from splice._internal.web.api_contracts import Name, api_root, hal_link, quoted

_UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: error_answer("no pacticipant (or version) of that name")
}


def _when(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _base(request: Request, name: str) -> str:
    return f"{api_root(request)}/pacticipants/{quoted(name)}"


def _known(store: Store, name: str) -> None:
    known = p.known(store)
    if name in known:
        return
    if not known:
        raise HTTPException(404, f"unknown pacticipant {name!r}; publish a pact first")
    listed = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    hint = f"known pacticipants: {listed}"
    close = did_you_mean(name, known)
    if close and close.startswith("did you mean"):
        hint += f"; {close}"
    raise HTTPException(404, f"unknown pacticipant {name!r}; {hint}")


def _version(request: Request, name: str, v: p.Version) -> dict[str, Any]:
    href = f"{_base(request, name)}/versions/{quoted(v.number)}"
    return {
        "number": v.number,
        "branch": v.branch or None,
        "tags": v.tags,
        "deployedTo": v.deployed,
        "createdAt": _when(v.created),
        "_links": {
            "self": hal_link(href, title="Version", name=v.number),
            "pb:pacticipant": hal_link(_base(request, name), name=name),
        },
    }


def _pacticipant(request: Request, store: Store, name: str) -> dict[str, Any]:
    base = _base(request, name)
    about = p.summary(store, name)
    latest = about["latestVersion"]
    links = {
        "self": hal_link(base, name=name),
        "pb:versions": hal_link(f"{base}/versions", title="Versions"),
        "pb:branches": hal_link(f"{base}/branches", title="Branches"),
    }
    if latest is not None:
        links["pb:latest-version"] = hal_link(f"{base}/versions/{quoted(latest)}", name=latest)
    return {
        "name": name,
        "mainBranch": about["mainBranch"],
        "latestVersion": latest,
        "createdAt": _when(about["createdAt"]),
        "_links": links,
    }


@router.get("/pacticipants", tags=["contracts"])
def list_pacticipants(request: Request) -> dict[str, Any]:
    """Every pacticipant (a consumer or provider of a published pact), by name."""
    store = store_of(request)
    return {
        "_embedded": {"pacticipants": [_pacticipant(request, store, n) for n in p.known(store)]},
        "_links": {"self": hal_link(f"{api_root(request)}/pacticipants", title="Pacticipants")},
    }


@router.get("/pacticipants/{name}", tags=["contracts"], responses=_UNKNOWN)
def pacticipant(request: Request, name: Name) -> dict[str, Any]:
    """One pacticipant: its main branch (`main` or `master` when it has versions there),
    its latest version and the links to its versions and branches."""
    store = store_of(request)
    _known(store, name)
    return _pacticipant(request, store, name)


@router.get("/pacticipants/{name}/versions", tags=["contracts"], responses=_UNKNOWN)
def versions(request: Request, name: Name) -> dict[str, Any]:
    """The pacticipant's versions, newest first, each with its branch, tags and the
    environments it is deployed to now."""
    store = store_of(request)
    _known(store, name)
    found = [_version(request, name, v) for v in p.versions(store, name)]
    return {
        "_embedded": {"versions": found},
        "_links": {
            "self": hal_link(f"{_base(request, name)}/versions", title="Versions"),
            "pb:pacticipant": hal_link(_base(request, name), name=name),
        },
    }


@router.get("/pacticipants/{name}/versions/{version}", tags=["contracts"], responses=_UNKNOWN)
def version(request: Request, name: Name, version: Name) -> dict[str, Any]:
    """One version of the pacticipant."""
    store = store_of(request)
    _known(store, name)
    found = p.versions(store, name)
    for v in found:
        if v.number == version:
            return _version(request, name, v)
    latest = ", ".join(v.number for v in found[:5])
    raise HTTPException(
        404, f"unknown version {version!r} of {name!r}; its latest versions: {latest}"
    )


@router.get("/pacticipants/{name}/branches", tags=["contracts"], responses=_UNKNOWN)
def branches(request: Request, name: Name) -> dict[str, Any]:
    """The branches the pacticipant's versions came from, each with its newest version."""
    store = store_of(request)
    _known(store, name)
    base = _base(request, name)
    found = [
        {
            "name": b.name,
            "latestVersion": b.latest,
            "updatedAt": _when(b.updated),
            "_links": {
                "pb:latest-version": hal_link(f"{base}/versions/{quoted(b.latest)}", name=b.latest)
            },
        }
        for b in p.branches(store, name)
    ]
    return {
        "_embedded": {"branches": found},
        "_links": {
            "self": hal_link(f"{base}/branches", title="Branches"),
            "pb:pacticipant": hal_link(base, name=name),
        },
    }
