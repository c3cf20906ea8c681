"""The http executor's transport: the one part of it that needs httpx's classes when its
module loads, kept apart so that loading the executor (to check a suite) does not import
httpx."""

from __future__ import annotations

from typing import Any

import httpx


class TrustFirst(httpx.BaseTransport):
    """A transport that has the CA bundle loaded before each https request (a redirect's
    too): see `HttpExecutor._tls_context`."""

    def __init__(self, transport: httpx.BaseTransport, trust: Any) -> None:
        self._transport, self._load = transport, trust

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self._load()
        return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()
