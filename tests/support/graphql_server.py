"""A real GraphQL server for tests: graphql-core behind Starlette, served by uvicorn on a
private port in a thread. `introspection=False` refuses introspection queries, as
production servers often do."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from graphql import GraphQLError, build_schema, graphql_sync
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SDL = """
type Query {
  item(id: Int!): Item
  items(first: Int = 2): [Item!]!
}
type Mutation {
  rename(id: Int!, name: String!): Item
}
type Item {
  id: Int!
  name: String!
  tags: [String!]!
}
"""


def _item(_root: Any, _info: Any, id: int) -> dict[str, Any]:
    if id > 100:
        raise GraphQLError(f"item {id} not found")
    return {"id": id, "name": f"item-{id}", "tags": ["a"]}


def _items(_root: Any, _info: Any, first: int) -> list[dict[str, Any]]:
    return [{"id": n, "name": f"item-{n}", "tags": []} for n in range(1, first + 1)]


def _rename(_root: Any, _info: Any, id: int, name: str) -> dict[str, Any]:
    return {"id": id, "name": name, "tags": []}


class GraphqlServer:
    """`with GraphqlServer() as server:` serves POST `server.url` (…/graphql)."""

    def __init__(self, *, introspection: bool = True) -> None:
        self.schema = build_schema(SDL)
        self.schema.query_type.fields["item"].resolve = _item  # type: ignore[union-attr]
        self.schema.query_type.fields["items"].resolve = _items  # type: ignore[union-attr]
        self.schema.mutation_type.fields["rename"].resolve = _rename  # type: ignore[union-attr]
        self.introspection = introspection
        self.requests = 0
        app = Starlette(routes=[Route("/graphql", self._endpoint, methods=["POST"])])
        self._sock = socket.socket()
        # accepted connections inherit it: answers are not held back by Nagle's algorithm
        # waiting for the client's delayed ACK (~40 ms a request)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        config = uvicorn.Config(app, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    async def _endpoint(self, request: Request) -> JSONResponse:
        self.requests += 1
        body = await request.json()
        query = body.get("query", "")
        if not self.introspection and "__schema" in query:
            return JSONResponse({"errors": [{"message": "introspection is disabled"}]})
        result = graphql_sync(
            self.schema,
            query,
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
        return JSONResponse(result.formatted)

    def __enter__(self) -> GraphqlServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
