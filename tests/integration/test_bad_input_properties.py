"""Property: no generated bad suite or project file crashes `splice check` or `splice run`.

Hypothesis takes a small valid project (suite, step template, stub file, splice.yaml with
cheap `mock` services), puts a bad value at a random place (or breaks the YAML text), and
runs `splice check` and `splice run` in process. Whatever the input:

- neither raises (no traceback), and each ends within a per-example time limit;
- an error exit (2) prints only located diagnostics (file:line:col), and `run` prints
  exactly what `check` does (it starts nothing);
- a project `check` accepts never fails to start (exit 3): its mistakes are all found
  before anything runs.
"""

from __future__ import annotations

import contextlib
import copy
import re
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splice._internal.cli.main import cli

pytestmark = pytest.mark.integration

EXAMPLE_LIMIT = 20  # seconds one example (check and run) may take

SUITE: dict[str, Any] = yaml.safe_load(
    textwrap.dedent(
        r"""
        name: props
        vars: {base: "http://127.0.0.1:9"}
        templates: [greet.yaml]
        testcases:
          - name: one
            steps:
              - exec: "echo id=42"
                timeout: 2s
                expect: {exit_code: 0, stdout: {$regex: 'id=\d+'}}
                capture: {id: {regex: 'id=(\d+)'}}
              - use: greet
                with: {who: "{{ id }}"}
          - name: two
            steps:
              - exec: "true"
                retry: {attempts: 2, interval: 10ms, timeout: 1s}
          - name: three
            steps:
              - http: {get: "{{ base }}/x", timeout: 1s}
                expect: {status: 200}
        """
    )
)
TEMPLATE: dict[str, Any] = {
    "template": "greet",
    "inputs": {"who": {}},
    "steps": [{"exec": "echo {{ who }}", "expect": {"stdout": {"$regex": "^[0-9]+"}}}],
}
STUBS: list[Any] = [
    {
        "request": {"method": "GET", "path_regex": "^/a+$", "headers": {"x": {"regex": "^b"}}},
        "response": {"status": 200, "json": {"ok": True}},
    }
]
PROJECT: dict[str, Any] = {
    "name": "props",
    "vars": {"greeting": "hi"},
    "services": {
        "pay": {
            "kind": "mock",
            "stubs": ["stubs.yaml"],
            "ready_timeout": "5s",
            "record": {"cassette": "tape.yaml", "mode": "once", "target": "http://127.0.0.1:9"},
        },
        "other": {"kind": "mock", "depends_on": ["pay"], "unmatched_status": 404},
    },
    "data": {"isolation": "none"},
}
# never mutated: a valid port that another program uses would fail the start, rightly
FROZEN = {"port"}

BAD_VALUES: list[Any] = [
    "http://[::1",
    "localhost:8080/x",
    "^(a+)+$",
    "(",
    "(a)\\1(?<=b)",
    "xs",
    -1,
    10**30,
    1.5e308,
    "{{ x",
    "{{ nope }}",
    "{{ services.nothing.url }}",
    None,
    [],
    {},
    True,
    "",
    "a" * 3000,
    {"$regex": "^(a+)+$"},
    {"$nope": 1},
    {"use": "greet"},
    [{"use": "greet"}],
    "banana",
    "template",
    "missing/*.yaml",
    "\\",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value can be replaced."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in FROZEN:
                out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    document = copy.deepcopy(document)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@st.composite
def broken(draw: st.DrawFn) -> dict[str, str]:
    """The files of a project with one or two mistakes."""
    documents: dict[str, Any] = {
        "suite.splice.yaml": SUITE,
        "greet.yaml": TEMPLATE,
        "stubs.yaml": STUBS,
        "splice.yaml": PROJECT,
    }
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(documents)))
        path = draw(st.sampled_from(_paths(documents[name])))
        value = draw(st.sampled_from(BAD_VALUES))
        documents[name] = _replace(documents[name], path, value)
    texts = {
        name: yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        for name, doc in documents.items()
    }
    if draw(st.booleans()):  # now and then, break the YAML text itself
        name = draw(st.sampled_from(sorted(texts)))
        text = texts[name]
        at = draw(st.integers(0, len(text)))
        junk = draw(st.sampled_from(["", ":", "- ", "{", "'", "\t", "&a *a", "!!python/x "]))
        texts[name] = text[:at] + junk + text[at + draw(st.integers(0, 3)) :]
    return texts


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"an example took more than {seconds}s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _invoke(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"splice {args[0]} raised") from result.exception
    return result.exit_code, result.stderr


def _assert_located(stderr: str) -> None:
    blocks = stderr.strip().split("\n\n")
    assert re.fullmatch(r"\d+ errors? in \d+ files?", blocks[-1]), stderr
    for block in blocks[:-1]:
        lines = block.splitlines()
        assert lines[0].startswith("error: "), stderr
        assert re.fullmatch(r"  --> \S+:\d+:\d+", lines[1]), stderr


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(files=broken())
def test_bad_input_never_crashes_check_or_run(
    files: dict[str, str], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated bad suites and project files: no traceback, no unlocated error, no hang,
    and nothing that `check` accepts fails to start."""
    folder = tmp_path_factory.mktemp("bad")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("COLUMNS", "200")
    with _time_limit(EXAMPLE_LIMIT):
        checked, check_err = _invoke(folder, "check", "suite.splice.yaml")
        ran, run_err = _invoke(folder, "run", "--no-store", "suite.splice.yaml")
    assert checked in (0, 2), check_err
    assert "Traceback" not in check_err + run_err
    if checked == 2:
        _assert_located(check_err)
        assert ran == 2, run_err
        assert run_err == check_err
    else:
        assert ran in (0, 1), run_err  # never 3: the project's mistakes were all found
