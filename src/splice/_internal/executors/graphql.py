"""The `graphql` executor: a GraphQL operation over HTTP, through the `http` executor.

- graphql: {url: "{{ services.api.url }}/graphql", query: "{ item(id: 7) { name } }"}
  expect: {data: {item: {name: item-7}}}
- graphql:
    url: "{{ services.api.url }}/graphql"
    query: |
      query Item($id: Int!) { item(id: $id) { name } }
    variables: {id: 7}
    operation_name: Item
    schema: schema.graphql          # checked by `splice check`, and before sending
  expect: {errors: [{message: {$contains: not found}}]}

The request is a POST with the JSON body of the GraphQL over HTTP convention, sent with
the testcase's HTTP client (its cookies, TLS settings and interrupt handling). The query
is validated against the schema first: the `schema:` file (SDL, or an introspection
result as JSON), else the server's own, by introspection once per URL and run. A
response with `errors` fails the step unless `expect` names `errors`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from splice._internal.errors import StepError
from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import Block, BlockProblem, StepContext, StepOutput
from splice._internal.executors.http_blocks import Auth, HttpBlock
from splice._internal.source.validation import HintedValueError
from splice._internal.templating import is_template

INSTALL = "pip install 'splice[graphql]'"
_LOCK = threading.Lock()
_INTROSPECTED: dict[str, Any] = {}  # URL -> schema, or None when the server refused
_FILES: dict[tuple[str, int], Any] = {}  # (path, mtime) -> schema
_VALID: dict[tuple[int, str], list[Any]] = {}  # (id(schema), query) -> errors


class GraphqlBlock(Block):
    url: str
    query: str | None = None
    query_file: str | None = None  # a .graphql file beside the suite
    variables: dict[str, Any] = {}
    operation_name: str | None = None
    headers: dict[str, str | int | float | bool] = {}
    auth: Auth | None = None
    verify: bool = True
    timeout: str | float | None = None
    schema_: str | None = Field(default=None, alias="schema")  # SDL or introspection JSON
    validate_: bool = Field(default=True, alias="validate")

    @model_validator(mode="after")
    def _one_query(self) -> GraphqlBlock:
        if (self.query is None) == (self.query_file is None):
            raise HintedValueError(
                "give `query` or `query_file`" + (", not both" if self.query else ""),
                "e.g. `query: '{ item(id: 7) { name } }'`",
            )
        return self


_HINT = "check the query's braces, names and arguments against the schema"


class GraphqlExecutor:
    """Sends a GraphQL operation; the result has data, errors and the HTTP response."""

    name: ClassVar[str] = "graphql"
    block_model: ClassVar[type[GraphqlBlock]] = GraphqlBlock
    result_fields: ClassVar[dict[str, str]] = {
        "data": "the response's `data`",
        "errors": "the response's `errors` (null when there are none)",
        "extensions": "the response's `extensions`",
        "json": "the whole response body as JSON",
        "status": "HTTP status code",
        "headers": "HTTP response headers, names in lower case",
        "text": "the body as text",
        "elapsed": "seconds from sending the request to the end of the response",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset({"headers"})

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        name = block.get("operation_name")
        return f"graphql {name}" if name else "graphql"

    @staticmethod
    def check(block: dict[str, Any], base_dir: Path) -> list[BlockProblem]:
        """At load time: the query's syntax, and the query against `schema:` when both
        are written out (no template in them)."""
        query, schema_file = block.get("query"), block.get("schema")
        if not isinstance(query, str) or is_template(query):
            return []
        syntax = _syntax_error(query)
        if syntax is not None:
            message, line, column = syntax
            return [
                BlockProblem(("query",), f"GraphQL syntax error: {message}", _HINT, line, column)
            ]
        if not isinstance(schema_file, str) or is_template(schema_file):
            return []
        if block.get("validate") is False:
            return []
        try:
            schema = _schema_file(base_dir / schema_file)
        except StepError as exc:
            return [BlockProblem(("schema",), exc.message, exc.hint)]
        return [
            BlockProblem(("query",), message, _HINT, line=line, column=column)
            for message, line, column in _validate(schema, query)
        ]

    def execute(self, block: GraphqlBlock, ctx: StepContext) -> StepOutput:
        query = (
            block.query
            if block.query is not None
            else _read(ctx.base_dir / (block.query_file or ""))
        )
        http = registry.instance("http")
        if block.validate_:
            schema = (
                _schema_file(ctx.base_dir / block.schema_)
                if block.schema_ is not None
                else _introspected(block, ctx)
            )
            if schema is not None:
                problems = _validate(schema, query)
                if problems:
                    message, line, column = problems[0]
                    where = "its `schema:` file" if block.schema_ else "the server's schema"
                    raise StepError(
                        f"the query does not fit {where}: {message} (query line {line}, "
                        f"column {column})",
                        _HINT,
                    )
        body: dict[str, Any] = {"query": query}
        if block.variables:
            body["variables"] = block.variables
        if block.operation_name is not None:
            body["operationName"] = block.operation_name
        output = http.execute(_http_block(block, body), ctx)
        response = output.result
        parsed = response.get("json")
        found = parsed if isinstance(parsed, dict) else {}
        errors = found.get("errors") or None
        result = {
            "data": found.get("data"),
            "errors": errors,
            "extensions": found.get("extensions"),
            **{k: response.get(k) for k in ("json", "status", "headers", "text", "elapsed")},
        }
        expected = set(ctx.expect)
        json_expect = ctx.expect.get("json")
        if isinstance(json_expect, dict):
            expected |= {f"json.{k}" for k in json_expect}
        if errors and not expected & {"errors", "json.errors"}:
            raise StepError(
                _errors_text(errors), "if the test expects them, add `errors` to `expect`"
            )
        if parsed is None and "status" not in expected:
            status = response.get("status")
            raise StepError(
                f"the server answered HTTP {status} without a GraphQL (JSON) response",
                "check the URL: GraphQL is usually served at /graphql",
            )
        request = {"url": block.url, "query": query, "variables": block.variables or None}
        if block.operation_name:
            request["operation_name"] = block.operation_name
        return StepOutput(result, request, output.response)


def _http_block(block: GraphqlBlock, body: dict[str, Any]) -> HttpBlock:
    return HttpBlock(
        method="POST",
        url=block.url,
        headers={"Accept": "application/graphql-response+json, application/json", **block.headers},
        json=body,
        auth=block.auth,
        verify=block.verify,
        timeout=block.timeout,
    )


def _driver() -> Any:
    try:
        import graphql
    except ImportError as exc:
        raise StepError("the graphql executor needs graphql-core", INSTALL) from exc
    return graphql


def _syntax_error(query: str) -> tuple[str, int, int] | None:
    graphql = _driver()
    try:
        graphql.parse(query)
    except graphql.GraphQLError as exc:
        where = (exc.locations or [None])[0]
        message = exc.message.removeprefix("Syntax Error: ")
        return message, (where.line if where else 1), (where.column if where else 1)
    return None


def _validate(schema: Any, query: str) -> list[tuple[str, int, int]]:
    """(message, line, column) of each way `query` does not fit `schema`; cached."""
    key = (id(schema), query)
    with _LOCK:
        if key in _VALID:
            return list(_VALID[key])
    graphql = _driver()
    syntax = _syntax_error(query)
    if syntax is not None:
        found = [(f"GraphQL syntax error: {syntax[0]}", syntax[1], syntax[2])]
    else:
        found = []
        for error in graphql.validate(schema, graphql.parse(query)):
            where = (error.locations or [None])[0]
            found.append((error.message, where.line if where else 1, where.column if where else 1))
    with _LOCK:
        _VALID[key] = found
    return list(found)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise StepError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _schema_file(path: Path) -> Any:
    """A schema from SDL (`.graphql`) or an introspection result (`.json`), cached."""
    import json

    graphql = _driver()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise StepError(f"cannot read the schema {path}: {exc.strerror or exc}") from exc
    key = (str(path), mtime)
    with _LOCK:
        if key in _FILES:
            return _FILES[key]
    text = _read(path)
    try:
        if path.suffix == ".json":
            loaded = json.loads(text)
            loaded = loaded.get("data", loaded) if isinstance(loaded, dict) else loaded
            schema = graphql.build_client_schema(loaded)
        else:
            schema = graphql.build_schema(text)
    except (ValueError, TypeError, graphql.GraphQLError) as exc:
        raise StepError(
            f"{path} is not a GraphQL schema: {exc}",
            "give the schema in SDL (.graphql) or an introspection result (.json)",
        ) from exc
    with _LOCK:
        _FILES[key] = schema
    return schema


def _introspected(block: GraphqlBlock, ctx: StepContext) -> Any:
    """The server's schema by introspection, once per URL and run; None when the server
    does not answer it (introspection is often switched off in production)."""
    with _LOCK:
        if block.url in _INTROSPECTED:
            return _INTROSPECTED[block.url]
    graphql = _driver()
    http = registry.instance("http")
    body = {"query": graphql.get_introspection_query()}
    schema = None
    try:
        answer = http.execute(_http_block(block, body), ctx).result.get("json")
        if isinstance(answer, dict) and isinstance(answer.get("data"), dict):
            schema = graphql.build_client_schema(answer["data"])
    except StepError:
        raise
    except Exception:  # noqa: BLE001 - a schema splice cannot build: the server validates
        schema = None
    with _LOCK:
        _INTROSPECTED[block.url] = schema
    return schema


def _errors_text(errors: Any) -> str:
    lines = ["the GraphQL response has errors:"]
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            lines.append(f"  {error}")
            continue
        text = f"  {error.get('message')}"
        if error.get("path"):
            text += f" (at {'.'.join(str(p) for p in error['path'])})"
        places = error.get("locations") or []
        if places and isinstance(places[0], dict):
            text += f" [query line {places[0].get('line')}, column {places[0].get('column')}]"
        lines.append(text)
    return "\n".join(lines)
