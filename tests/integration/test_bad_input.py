"""Bad input never crashes a run: each mistake is a located error, never a traceback.

Each example is checked twice: `splice check` must reject it with file:line:col (where it
can be known before running), and `splice run` must report it without a traceback and
without aborting the other testcases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import StepOutput

LOCATED = re.compile(r"--> \S+:\d+:\d+")


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text
        assert 'File "' not in text, text


def _located(result: Any, file: str) -> None:
    assert result.exit_code == 2, result.stderr + result.output
    _no_traceback(result.stderr, result.output)
    assert LOCATED.search(result.stderr), result.stderr
    assert f"--> {file}:" in result.stderr, result.stderr
    assert "= hint: " in result.stderr, result.stderr


@pytest.fixture
def both(splice_cli: Callable[..., Any]) -> Callable[..., None]:
    """`splice check` and `splice run` of one suite both give an error located in `at`
    (default: the suite itself)."""

    def run(suite: str, at: str | None = None) -> None:
        _located(splice_cli("check", suite), at or suite)
        _located(splice_cli("run", "--no-store", suite), at or suite)

    return run


def test_invalid_literal_url_is_located(write: Any, both: Callable[..., None]) -> None:
    """`get: "http://[::1"` is refused at check time, at the URL."""
    write(
        "url.splice.yaml",
        """
        name: url
        testcases:
          - name: bad url
            steps:
              - http: {get: "http://[::1"}
        """,
    )
    both("url.splice.yaml")


def test_invalid_url_from_a_template_fails_only_its_step(
    write: Any, splice_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A URL that is only invalid once rendered errors its step; the next testcase runs."""
    write(
        "url.splice.yaml",
        """
        name: url
        vars: {base: "http://[::1"}
        testcases:
          - name: bad url
            steps:
              - http: {get: "{{ base }}/x"}
          - name: next
            steps:
              - exec: "true"
        """,
    )
    result = splice_cli("run", "--no-store", "--json", "out.json", "url.splice.yaml")
    _no_traceback(result.stderr, result.output)
    assert result.exit_code == 1, result.stderr + result.output
    assert "invalid URL" in result.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["status"] == "error"  # not `interrupted`: the run went on
    statuses = [tc["status"] for s in report["suites"] for tc in s["testcases"]]
    assert statuses == ["error", "passed"]


def test_recursive_template_is_located(write: Any, both: Callable[..., None]) -> None:
    """A step template that `use:`s itself is refused at check time, at the `use:`."""
    write(
        "t/self.yaml",
        """
        template: selfish
        steps:
          - use: selfish
        """,
    )
    write(
        "rec.splice.yaml",
        """
        name: rec
        templates: [t/self.yaml]
        testcases:
          - name: recursive
            steps:
              - use: selfish
        """,
    )
    both("rec.splice.yaml", "t/self.yaml")


def test_templates_that_use_each_other_are_located(write: Any, both: Callable[..., None]) -> None:
    """Two templates that call each other are a cycle, reported with its path."""
    write("t/a.yaml", "template: a\nsteps:\n  - use: b\n")
    write("t/b.yaml", "template: b\nsteps:\n  - use: a\n")
    write(
        "cycle.splice.yaml",
        """
        name: cycle
        templates: [t/*.yaml]
        testcases:
          - name: cycle
            steps:
              - use: a
        """,
    )
    both("cycle.splice.yaml", "t/b.yaml")


def test_lone_surrogate_is_located(write: Any, both: Callable[..., None]) -> None:
    """`name: "\\ud800"` (half a surrogate pair) is refused where it is written."""
    write(
        "sur.splice.yaml",
        r"""
        name: sur
        testcases:
          - name: "\ud800"
            steps:
              - exec: "true"
        """,
    )
    both("sur.splice.yaml")


class _BoomBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""


class BoomExecutor:
    """An executor with a bug: it raises something that is not a StepError."""

    name: ClassVar[str] = "boom"
    block_model: ClassVar[type[BaseModel]] = _BoomBlock
    result_fields: ClassVar[dict[str, str]] = {"text": "text"}
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    def execute(self, block: _BoomBlock, ctx: Any) -> StepOutput:
        raise ZeroDivisionError("division by zero")


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    targets = {**registry._BUILTIN, "boom": f"{__name__}:BoomExecutor"}
    registry.reset()
    monkeypatch.setattr(registry._TARGETS, "all", lambda: targets)
    yield
    monkeypatch.undo()
    registry.reset()


def test_executor_bug_is_an_internal_error_of_its_step(
    boom: None, write: Any, splice_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """An executor that raises is reported as an internal error of that step (named as a
    bug, with the cause), the run goes on and ends `error`, not `interrupted`."""
    write(
        "boom.splice.yaml",
        """
        name: boom
        testcases:
          - name: bug
            steps:
              - boom: {text: x}
          - name: next
            steps:
              - exec: "true"
        """,
    )
    result = splice_cli("run", "--no-store", "--json", "out.json", "boom.splice.yaml")
    _no_traceback(result.stderr, result.output)
    assert result.exit_code == 1
    assert "internal error in executor 'boom': ZeroDivisionError: division by zero" in (
        result.output
    )
    assert "report" in result.output  # the hint says to report the bug
    assert "boom.splice.yaml:5" in result.output  # located at the step
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["status"] == "error"  # not `interrupted`: the run went on
    statuses = [tc["status"] for s in report["suites"] for tc in s["testcases"]]
    assert statuses == ["error", "passed"]


def test_executor_bug_traceback_is_shown_with_vv(
    boom: None, write: Any, splice_cli: Callable[..., Any]
) -> None:
    """With -vv the internal error's traceback is printed, for the bug report."""
    write(
        "boom.splice.yaml",
        """
        name: boom
        testcases:
          - name: bug
            steps:
              - boom: {text: x}
        """,
    )
    result = splice_cli("run", "--no-store", "-vv", "boom.splice.yaml")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "ZeroDivisionError" in result.stderr


SUITE = """
name: ok
testcases:
  - name: t
    steps:
      - exec: "true"
"""

# (splice.yaml, other files, the file the error is located in)
PROJECT_MISTAKES: dict[str, tuple[str, dict[str, bytes], str]] = {
    "undefined variable in a setting's template": (
        'services:\n  app: {kind: process, command: "sleep {{ nothing }}"}\n',
        {},
        "splice.yaml",
    ),
    "template syntax error in a setting": (
        'services:\n  app: {kind: process, command: "sleep {{ port"}\n',
        {},
        "splice.yaml",
    ),
    "missing cwd": (
        "services:\n  app: {kind: process, command: sleep 1, cwd: nowhere}\n",
        {},
        "splice.yaml",
    ),
    "bad stop_timeout": (
        "services:\n  app: {kind: process, command: sleep 1, stop_timeout: xs}\n",
        {},
        "splice.yaml",
    ),
    "bad ready timeout": (
        "services:\n  app: {kind: process, command: sleep 1, ready: {tcp: true, timeout: soon}}\n",
        {},
        "splice.yaml",
    ),
    "missing init file": (
        "services:\n  db: {kind: postgres, init: [db/missing.sql]}\n",
        {},
        "splice.yaml",
    ),
    "bad version": (
        "services:\n  db: {kind: postgres, version: banana}\n",
        {},
        "splice.yaml",
    ),
    "missing stub file": (
        "services:\n  pay: {kind: mock, stubs: [mocks/*.yaml]}\n",
        {},
        "splice.yaml",
    ),
    "mistake inside a stub file": (
        "services:\n  pay: {kind: mock, stubs: [mocks/*.yaml]}\n",
        {
            "mocks/pay.yaml": b"- request: {method: GET, path: /x, bogus: 1}\n  response: {status: 200}\n"
        },
        "mocks/pay.yaml",
    ),
    "cassette that is not UTF-8": (
        "services:\n  pay: {kind: mock, record: {cassette: tape.yaml, mode: none}}\n",
        {"tape.yaml": b"interactions: [\xff\xfe]\n"},
        "splice.yaml",
    ),
    "bad record target": (
        "services:\n  pay: {kind: mock, record: {cassette: tape.yaml, target: 'api.example.com'}}\n",
        {},
        "splice.yaml",
    ),
    "bad external URL": (
        'services:\n  cache: {kind: redis, url: "redis://[::1"}\n',
        {},
        "splice.yaml",
    ),
    "external URL of another kind": (
        'services:\n  cache: {kind: redis, url: "http://127.0.0.1:6379"}\n',
        {},
        "splice.yaml",
    ),
    "isolation template on a mock": (
        "services:\n  pay: {kind: mock, isolation: template}\n",
        {},
        "splice.yaml",
    ),
    "isolation on a kind without any": (
        "services:\n  app: {kind: process, command: sleep 1, isolation: truncate}\n",
        {},
        "splice.yaml",
    ),
    "migration in a missing folder": (
        "services:\n  db: {kind: postgres}\n"
        "data:\n  migrations:\n    - {service: db, command: 'true', cwd: nope}\n",
        {},
        "splice.yaml",
    ),
}


@pytest.mark.parametrize("case", sorted(PROJECT_MISTAKES))
def test_project_file_mistake_is_located_by_check_and_run(
    case: str, write: Any, tmp_path: Path, both: Callable[..., None]
) -> None:
    """Each project-file mistake is a located error of `splice check`, and `splice run`
    stops with the same error before starting any service."""
    project, files, located = PROJECT_MISTAKES[case]
    write("splice.yaml", project)
    write("ok.splice.yaml", SUITE)
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    both("ok.splice.yaml", located)


def test_template_in_a_typed_setting_keeps_the_service(
    write: Any, splice_cli: Callable[..., Any]
) -> None:
    """A setting whose template is not yet a valid value (`port: "{{ p }}"`) does not
    drop the service: it is validated once rendered, and a bad value names its file."""
    write(
        "splice.yaml",
        """
        vars: {p: nope}
        services:
          app: {kind: process, command: "sleep 30", port: "{{ p }}"}
        """,
    )
    write("ok.splice.yaml", SUITE)
    checked = splice_cli("check", "ok.splice.yaml")
    assert checked.exit_code == 0
    assert "1 service," in checked.output
    result = splice_cli("run", "--no-store", "ok.splice.yaml")
    _no_traceback(result.stderr, result.output)
    assert result.exit_code == 3
    assert "after templating, its settings (splice.yaml:3:3) are invalid: port:" in " ".join(
        result.stderr.split()
    )


def test_catastrophic_regex_does_not_hang_the_run(
    write: Any, splice_cli: Callable[..., Any]
) -> None:
    """`$regex: "^(a+)+$"` against 40 a's and a '!' fails its expectation at once (RE2),
    in the step's time, instead of hanging the run; so does a regex capture."""
    write(
        "regex.splice.yaml",
        """
        name: regex
        testcases:
          - name: catastrophic expectation
            steps:
              - exec: "printf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"
                timeout: 5s
                expect: {stdout: {$regex: "^(a+)+$"}}
          - name: catastrophic capture
            steps:
              - exec: "printf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"
                capture: {run: {regex: "^(a+)+$"}}
        """,
    )
    result = splice_cli("run", "--no-store", "regex.splice.yaml")
    _no_traceback(result.stderr, result.output)
    assert result.exit_code == 1
    assert "does not match regex '^(a+)+$'" in result.output
    assert "found nothing" in result.output
