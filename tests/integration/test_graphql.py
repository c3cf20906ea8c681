"""The graphql executor over HTTP against a real GraphQL server written in the tests
(graphql-core behind Starlette), and its load-time check against a schema file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from splice._internal.errors import StepError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.graphql import GraphqlBlock, GraphqlExecutor
from splice._internal.model.results import Status
from splice._internal.reporting.diagnostics import render_diagnostics
from splice._internal.runner.planner import load_all
from tests.support.docs_blocks import check_output
from tests.support.graphql_server import SDL, GraphqlServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[GraphqlServer]:
    """The shop's GraphQL API, for this module."""
    with GraphqlServer() as running:
        yield running


def _ctx(expect: dict[str, Any] | None = None, base: Path | None = None) -> StepContext:
    return StepContext(
        vars={}, session=TestcaseSession(), base_dir=base or Path.cwd(), expect=expect or {}
    )


def _run(ctx: StepContext, **block: Any) -> dict[str, Any]:
    return GraphqlExecutor().execute(GraphqlBlock.model_validate(block), ctx).result


def test_query_with_variables_and_operation_name(server: GraphqlServer) -> None:
    """A named operation with variables answers `data`; the HTTP response is there too."""
    ctx = _ctx()
    out = _run(
        ctx,
        url=server.url,
        query="query One($id: Int!) { item(id: $id) { name } } query Two { items { id } }",
        variables={"id": 7},
        operation_name="One",
    )
    assert out["data"] == {"item": {"name": "item-7"}}
    assert out["errors"] is None and out["status"] == 200
    assert out["json"] == {"data": {"item": {"name": "item-7"}}}
    renamed = _run(ctx, url=server.url, query='mutation { rename(id: 3, name: "x") { id name } }')
    assert renamed["data"] == {"rename": {"id": 3, "name": "x"}}
    ctx.session.close()


def test_errors_fail_the_step_unless_expected(server: GraphqlServer) -> None:
    """A response with `errors` fails with their messages and paths, unless `expect`
    names `errors`."""
    query = "{ item(id: 101) { name } }"
    plain, expecting = _ctx(), _ctx(expect={"errors": [{"message": "item 101 not found"}]})
    with pytest.raises(StepError) as info:
        _run(plain, url=server.url, query=query)
    assert info.value.message == (
        "the GraphQL response has errors:\n  item 101 not found (at item) [query line 1, column 3]"
    )
    out = _run(expecting, url=server.url, query=query)
    assert out["errors"][0]["path"] == ["item"] and out["data"] == {"item": None}
    plain.session.close()
    expecting.session.close()


def test_query_is_checked_against_the_introspected_schema(server: GraphqlServer) -> None:
    """A misspelt field is caught before the request is sent, by the server's schema
    (introspected once per URL), with its line and column inside the query."""
    ctx = _ctx()
    _run(ctx, url=server.url, query="{ items { id } }")  # introspects, then asks
    before = server.requests
    with pytest.raises(StepError) as info:
        _run(ctx, url=server.url, query="{\n  item(id: 7) { nme }\n}")
    assert info.value.message == (
        "the query does not fit the server's schema: Cannot query field 'nme' on type "
        "'Item'. Did you mean 'name'? (query line 2, column 17)"
    )
    assert server.requests == before  # neither introspected again nor sent
    ctx.session.close()


def test_without_introspection_the_server_answers_the_mistake() -> None:
    """A server that refuses introspection still gets the query, and its errors count."""
    with GraphqlServer(introspection=False) as closed:
        ctx = _ctx()
        with pytest.raises(StepError, match="Cannot query field 'nme'"):
            _run(ctx, url=closed.url, query="{ item(id: 1) { nme } }")
        ctx.session.close()


def test_splice_check_locates_a_mistake_inside_a_block_scalar_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `schema:`, loading the suite reports an unknown field at its own line and
    column in the file, inside the `|` query; a syntax error is located likewise."""
    (tmp_path / "schema.graphql").write_text(SDL)
    suite = tmp_path / "g.splice.yaml"
    suite.write_text(
        "name: g\n"
        "testcases:\n"
        "  - name: t\n"
        "    steps:\n"
        "      - graphql:\n"
        "          url: http://127.0.0.1:1/graphql\n"
        "          schema: schema.graphql\n"
        "          query: |\n"
        "            query {\n"
        "              item(id: 7) { nme }\n"
        "            }\n"
        "      - graphql: {url: 'http://127.0.0.1:1/graphql', query: '{ item(id: 1) { name }'}\n"
    )
    _, problems = load_all([suite])
    text = render_diagnostics(problems)
    assert [(p.span.line, p.span.column) for p in problems if p.span] == [(10, 29), (12, 84)]
    assert "Cannot query field 'nme' on type 'Item'. Did you mean 'name'?" in text
    assert "GraphQL syntax error: Expected Name, found <EOF>." in text
    monkeypatch.chdir(tmp_path)  # paths shown relative to the folder, as `splice check` does
    check_output("graphql-check-error", render_diagnostics(problems[:1]))


def test_suite_expects_data_and_captures(server: GraphqlServer, write: Any, run_suite: Any) -> None:
    """In YAML: expectations on `json` as in the issue's sketch, on `data`, and a capture."""
    path = write(
        "g.splice.yaml",
        f"""
        name: graphql
        testcases:
          - name: an item by id
            steps:
              - graphql: {{url: "{server.url}", query: "{{ item(id: 7) {{ name }} }}"}}
                expect: {{json: {{data: {{item: {{name: item-7}}}}}}}}
              - graphql:
                  url: "{server.url}"
                  query: |
                    query Items($n: Int) {{ items(first: $n) {{ id }} }}
                  variables: {{n: 3}}
                expect: {{data: {{items: [{{id: 1}}, {{id: 2}}, {{id: 3}}]}}}}
                capture: {{last: "data['items'][-1]['id']"}}
              - exec: "test {{{{ last }}}} = 3"
        """,
    )
    run = run_suite(path)
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps
