"""Custom checks in Python (`check: module:function`), imported from the project folder
when the suite loads and called with each result of a real HTTP server."""

from __future__ import annotations

import pytest

from splice._internal.errors import SuiteError
from splice._internal.loader.suite_loader import load_suite
from splice._internal.model.results import Status

pytestmark = pytest.mark.integration

CHECKS = """
def is_echo(result):
    assert result["json"]["path"] == "/echo", "not the echo endpoint"


def totals(result, variables):
    body = result["json"]["json"]
    problems = []
    if body["total"] != sum(body["items"]):
        problems.append(f"total {body['total']} is not the sum of {body['items']}")
    if body["total"] > variables["limit"]:
        problems.append("total above the limit")
    return problems


def broken(result):
    return 1 / 0
"""


def test_checks_pass_fail_and_break_with_their_own_messages(server, write, run_suite) -> None:
    """A check passes by returning nothing, fails by asserting or returning failures, and
    a check that raises fails the step naming the exception."""
    write("splice.yaml", "name: checks\n")
    write("shop_checks/__init__.py", "")
    write("shop_checks/orders.py", CHECKS)
    path = write(
        "suites/orders.splice.yaml",
        """
        name: orders
        vars: {limit: 5}
        testcases:
          - name: passes
            steps:
              - http: {post: "{{ base }}/echo", json: {total: 3, items: [1, 2]}}
                check: [shop_checks.orders:is_echo, shop_checks.orders:totals]
          - name: fails
            steps:
              - http: {post: "{{ base }}/echo", json: {total: 9, items: [1, 2]}}
                check: shop_checks.orders:totals
          - name: breaks
            steps:
              - http: {get: "{{ base }}/echo"}
                check: shop_checks.orders:broken
    """,
    )
    run = run_suite(path, base=server.url)
    passes, fails, breaks = run.suites[0].testcases
    assert passes.status == Status.PASSED, passes.attempts[0].steps[0].failures
    assert [f.message for f in fails.attempts[0].steps[0].failures] == [
        "shop_checks.orders:totals: total 9 is not the sum of [1, 2]",
        "shop_checks.orders:totals: total above the limit",
    ]
    broken = breaks.attempts[0].steps[0].failures[0]
    assert broken.message == "shop_checks.orders:broken raised ZeroDivisionError: division by zero"


def test_a_check_that_is_not_there_is_a_load_error(write) -> None:
    """A module without the function is reported at the `check:` value."""
    write("splice.yaml", "name: checks\n")
    write("shop_checks2/__init__.py", "")
    path = write(
        "s.splice.yaml",
        """
        testcases:
          - name: t
            steps:
              - exec: "true"
                check: shop_checks2:nothing
    """,
    )
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    diag = caught.value.diagnostics[0]
    assert diag.message == "'shop_checks2' has no function 'nothing'"
    assert diag.span is not None and (diag.span.line, diag.span.column) == (5, 16)
