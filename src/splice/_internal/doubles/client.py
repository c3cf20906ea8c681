"""A small synchronous client of the mock's admin API (for the executor, the kind,
pytest tests and scripts).

    from splice._internal.doubles.client import MockClient
    mock = MockClient("http://127.0.0.1:24817")
    mock.add({"request": {"method": "POST", "path": "/v1/charges"},
              "response": {"status": 201, "json": {"id": "ch_1"}}})
    ...
    assert mock.find({"method": "POST", "path": "/v1/charges"})["count"] == 1
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

ADMIN = "/__splice"


class MockAdminError(Exception):
    """The admin API refused a call (or could not be reached); `problems` lists why."""

    def __init__(self, message: str, status: int | None = None, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.problems = problems or []


class MockClient:
    """Calls a running splice mock's admin API."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        base = url.rstrip("/")
        self.admin = base if base.endswith(ADMIN) else base + ADMIN
        self.timeout = timeout

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.admin + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}")
            except ValueError:
                detail = {}
            raise MockAdminError(
                detail.get("error") or f"HTTP {exc.code}", exc.code, detail.get("problems")
            ) from exc
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise MockAdminError(f"cannot reach the mock at {self.admin}: {reason}") from exc

    # stubs ---------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/health")
        if result.get("status") != "ok":
            raise MockAdminError(f"the mock at {self.admin} is not healthy: {result}")
        return result

    def add(self, *stubs: dict[str, Any], base: bool = False) -> list[str]:
        """Add stubs; with `base`, they survive resets (like the mock's stub files)."""
        suffix = "?base=true" if base else ""
        ids: list[str] = self.call("POST", "/stubs" + suffix, {"stubs": list(stubs)})["ids"]
        return ids

    def replace(self, key: str, stub: dict[str, Any]) -> str:
        ident: str = self.call("PUT", f"/stubs/{quote(key, safe='')}", stub)["id"]
        return ident

    def remove(self, key: str) -> None:
        self.call("DELETE", f"/stubs/{quote(key, safe='')}")

    def stubs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", "/stubs")["stubs"]
        return found

    def exercised(self) -> list[dict[str, Any]]:
        """Each stub's first exchange (a mock started with `contract`)."""
        found: list[dict[str, Any]] = self.call("GET", "/exercised")["exercised"]
        return found

    def reset(self, *, stubs: bool = True, journal: bool = True, scenarios: bool = True) -> None:
        self.call("POST", "/reset", {"stubs": stubs, "journal": journal, "scenarios": scenarios})

    # scenarios -----------------------------------------------------------------------
    def scenarios(self) -> dict[str, str]:
        found: dict[str, str] = self.call("GET", "/scenarios")["scenarios"]
        return found

    def set_scenario(self, name: str, state: str) -> None:
        self.call("PUT", f"/scenarios/{quote(name, safe='')}", {"state": state})

    # journal -------------------------------------------------------------------------
    def journal(self, *, limit: int = 1000, unmatched: bool = False) -> dict[str, Any]:
        query = urlencode({"limit": limit, "unmatched": "true" if unmatched else "false"})
        result: dict[str, Any] = self.call("GET", f"/journal?{query}")
        return result

    def find(self, request: dict[str, Any], limit: int = 100) -> dict[str, Any]:
        """Requests received that match a request pattern: count, requests, near_misses."""
        result: dict[str, Any] = self.call(
            "POST", "/journal/find", {"request": request, "limit": limit}
        )
        return result

    def near_misses(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The stubs nearest to a request described as {method, url, headers, body|json}."""
        found: list[dict[str, Any]] = self.call("POST", "/near-misses", request)["near_misses"]
        return found
