"""Shared fixtures: a real HTTP server on 127.0.0.1 and a helper to run suites."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

# pytester's in-process sessions drop every module they imported when they end; the store's
# SQLAlchemy (compiled parts included) does not survive being imported a second time, so it
# is imported once here, before any inner session records into a store.
import splice._internal.pytest.recording  # noqa: F401
from tests.support.echo_server import EchoServer


@pytest.fixture(scope="session")
def server() -> Iterator[EchoServer]:
    """A real threaded HTTP server for the whole session."""
    with EchoServer() as srv:
        yield srv


@dataclass
class CliResult:
    exit_code: int
    output: str
    stderr: str


@pytest.fixture
def splice_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the `splice` CLI in-process with cwd = tmp_path; returns CliResult."""
    from splice._internal.cli.main import cli

    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a dedented file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return _write


@pytest.fixture
def run_suite(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Load and run suite files in-process; returns the RunResult."""
    from splice._internal.runner.analysis import analyse
    from splice._internal.runner.events import EventBus
    from splice._internal.runner.planner import load_all
    from splice._internal.runner.run import Runner, RunOptions

    def _run(*paths: Path, jobs: int = 1, **external: object):  # type: ignore[no-untyped-def]
        suites, problems = load_all(list(paths))
        assert not problems, problems
        for suite in suites:
            analysis = analyse(suite, external)
            assert not analysis.diagnostics, analysis.diagnostics
            suite.serial = suite.serial or analysis.needs_order
        return Runner(suites, RunOptions(jobs=jobs, external=dict(external)), EventBus()).run()

    return _run


@pytest.fixture(scope="session")
def tls_server() -> Iterator[str]:
    """The echo server behind TLS with a certificate from a throwaway CA (trustme)."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    with EchoServer() as srv:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
        yield f"https://127.0.0.1:{srv.server_address[1]}"
