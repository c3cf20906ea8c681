"""Numbers and durations written as templates (`retry.attempts`, `retry.interval`,
`retry.timeout`, a step's `timeout`, `retries`): rendered when used, and a bad rendered
value fails the step with the message a literal would get, at the template's place."""

from __future__ import annotations

from pathlib import Path

import pytest

from splice._internal.errors import SuiteError
from splice._internal.loader.suite_loader import load_suite
from splice._internal.model.results import Status

pytestmark = pytest.mark.integration

SUITE = """
name: settings
vars: {{tries: {tries}, pause: {pause}, slow: {slow}, again: {again}}}
testcases:
  - name: polls
    retries: "{{{{ again }}}}"
    steps:
      - http: {{get: "{base}/echo"}}
        expect: {{status: 299}}
        timeout: "{{{{ slow }}}}"
        retry: {{attempts: "{{{{ tries }}}}", interval: "{{{{ pause }}}}", timeout: 30s}}
"""


def _suite(write, server, **values: object) -> Path:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{server.server_address[1]}"
    given = {"tries": 3, "pause": "0ms", "slow": "5s", "again": 1, **values}
    return write("settings.splice.yaml", SUITE.format(base=base, **given))  # type: ignore[no-any-return]


def test_templated_numbers_are_used_once_rendered(write, server, run_suite) -> None:  # type: ignore[no-untyped-def]
    """`attempts`, `interval`, `timeout` and `retries` from variables drive the run."""
    run = run_suite(_suite(write, server))
    (tc,) = run.testcases()
    assert tc.status == Status.FAILED
    assert len(tc.attempts) == 2  # retries: 1
    step = tc.attempts[0].steps[0]
    assert step.polls == 3
    assert "retry.attempts: 3" in step.failures[0].message


def test_a_number_given_as_text_on_the_command_line_counts(write, server, run_suite) -> None:  # type: ignore[no-untyped-def]
    """A variable from `--var` is text; a whole number in it is still a number of tries."""
    run = run_suite(_suite(write, server, tries="'2'"))
    assert run.testcases()[0].attempts[0].steps[0].polls == 2


@pytest.mark.parametrize(
    "case",
    [
        (
            {"tries": 0},
            "`retry.attempts: {{ tries }}` gave 0: attempts must be at least 1, found 0",
            "use 1 or more",
            (10, 27),
        ),
        (
            {"slow": "5x"},
            "`timeout: {{ slow }}` gave '5x': invalid duration '5x'",
            "write seconds as a number",
            (9, 18),
        ),
        (
            {"pause": "soon"},
            "`retry.interval: {{ pause }}` gave 'soon': invalid duration 'soon'",
            "write seconds as a number",
            (10, 52),
        ),
    ],
)
def test_a_bad_rendered_step_setting_is_located(write, server, run_suite, case) -> None:  # type: ignore[no-untyped-def]
    """The step errors with the literal's message and hint, placed at the template."""
    values, message, hint, place = case
    path = _suite(write, server, **values)
    step = run_suite(path).testcases()[0].attempts[0].steps[0]
    assert step.status == Status.ERROR
    assert step.failures[0].message == message
    assert hint in (step.failures[0].hint or "")
    assert step.location is not None
    assert (step.location.path, (step.location.line, step.location.column)) == (path, place)


def test_bad_rendered_retries_is_an_error_of_the_testcase(write, server, run_suite) -> None:  # type: ignore[no-untyped-def]
    """`retries` that renders below zero makes the testcase an error, located at it."""
    path = _suite(write, server, again=-1)
    (tc,) = run_suite(path).testcases()
    assert tc.status == Status.ERROR
    step = tc.attempts[0].steps[0]
    assert step.failures[0].message == (
        "`retries: {{ again }}` gave -1: retries must be at least 0, found -1"
    )
    assert step.location is not None
    assert (step.location.line, step.location.column) == (5, 14)


def test_a_template_loads_but_a_bad_literal_does_not(write) -> None:  # type: ignore[no-untyped-def]
    """At load time a template is accepted where a number goes; a literal is still checked."""
    good = write(
        "good.splice.yaml",
        """
        name: ok
        retries: "{{ n }}"
        vars: {n: 1}
        testcases:
          - name: t
            steps:
              - exec: {command: "true"}
                retry: {attempts: "{{ n }}"}
        """,
    )
    suite = load_suite(good)
    assert suite.retries == "{{ n }}"
    assert suite.testcases[0].steps[0].retry.attempts == "{{ n }}"  # type: ignore[union-attr]
    bad = write(
        "bad.splice.yaml",
        """
        name: bad
        testcases:
          - name: t
            steps:
              - exec: {command: "true"}
                retry: {attempts: 0}
        """,
    )
    with pytest.raises(SuiteError) as caught:
        load_suite(bad)
    assert caught.value.diagnostics[0].message == "attempts must be at least 1, found 0"
