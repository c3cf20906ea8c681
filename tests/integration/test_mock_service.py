"""The `mock` kind as a service: located errors in stub files, its process gone after
stop, the external provider, `reset` isolation and stub fixtures through the data
manager, and `splice mock serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from splice._internal.doubles.client import MockClient
from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import SuiteError
from splice._internal.project.loader import load_project
from splice._internal.services.kind_api import ServiceError
from tests.support.echo_server import EchoServer

pytestmark = pytest.mark.integration


def _project(root: Path, text: str, files: dict[str, str] | None = None) -> Any:
    for name, body in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(body).lstrip())
    (root / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(root / "splice.yaml")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stub_file_mistake_is_located_and_nothing_starts(tmp_path: Path) -> None:
    """A typo in a stub file is an error of the project (as `splice check` shows it), at
    its file, line and column, with a hint: nothing starts."""
    with pytest.raises(SuiteError) as caught:
        _project(
            tmp_path,
            "name: t\nservices:\n  pay: {kind: mock, stubs: [mocks/*.yaml]}\n",
            {"mocks/a.yaml": "- request: {path: /a}\n  respons: {status: 200}\n"},
        )
    (diag,) = caught.value.diagnostics
    assert diag.message == "unknown key 'respons'"
    assert diag.span is not None
    assert (diag.span.path.name, diag.span.line, diag.span.column) == ("a.yaml", 2, 3)
    assert diag.hint == "did you mean 'response'?"


def test_a_pattern_matching_no_file_is_an_error(tmp_path: Path) -> None:
    """`stubs:` naming files that do not exist is an error, not an empty mock."""
    with pytest.raises(SuiteError, match="no stub file matches"):
        _project(tmp_path, "name: t\nservices:\n  pay: {kind: mock, stubs: mock/*.yml}\n")


def test_the_mock_process_is_gone_after_stop(tmp_path: Path) -> None:
    """Stopping the environment stops the mock's process and frees its port."""
    project = _project(tmp_path, "name: t\nservices:\n  pay: {kind: mock}\n")
    with Environment(project) as env:
        env.start()
        service = env.services["pay"]
        assert service.pid is not None and _alive(service.pid)
        url = service.endpoint.url
    assert not _alive(service.pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/__splice/health")


def test_external_provider_uses_a_running_mock(tmp_path: Path) -> None:
    """`url:` points at a running splice mock; readiness asks its admin API, and a
    server that is not a splice mock is refused with a hint."""
    for name in "abc":
        (tmp_path / name).mkdir()
    first = _project(tmp_path / "a", "name: a\nservices:\n  pay: {kind: mock}\n")
    with Environment(first) as running:
        running.start()
        url = running.services["pay"].endpoint.url
        project = _project(
            tmp_path / "b", f"name: b\nservices:\n  pay: {{kind: mock, url: '{url}'}}\n"
        )
        with Environment(project) as env:
            env.start()
            vars_ = env.vars()["pay"]
            assert vars_["admin_url"] == f"{url}/__splice"
            MockClient(vars_["url"]).add({"request": {"path": "/x"}, "response": {"status": 204}})
        assert httpx.get(url + "/x").status_code == 204
    with EchoServer() as echo:
        project = _project(
            tmp_path / "c", f"name: c\nservices:\n  pay: {{kind: mock, url: '{echo.url}'}}\n"
        )
        with Environment(project) as env, pytest.raises(ServiceError) as caught:
            env.start()
    assert "splice mock serve" in (caught.value.hint or "")


def test_reset_isolation_and_stub_fixtures(tmp_path: Path) -> None:
    """With isolation `reset`, each testcase attempt starts with the file and fixture
    stubs only, an empty journal and scenarios in Started."""
    project = _project(
        tmp_path,
        """
        name: t
        services:
          pay: {kind: mock, stubs: [mocks/base.yaml], isolation: reset}
        data:
          fixtures: {pay: [mocks/fixture.yaml]}
        """,
        {
            "mocks/base.yaml": "- request: {path: /base}\n",
            "mocks/fixture.yaml": "- request: {path: /fixture}\n  response: {status: 202}\n",
        },
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        assert manager.modes == {"pay": "reset"}
        url = env.services["pay"].endpoint.url
        admin = MockClient(url)
        scope: dict[str, Any] = {"services": env.vars()}
        manager.attempt_started(None, None, scope, None)
        admin.add({"request": {"path": "/runtime"}})
        assert httpx.get(url + "/runtime").status_code == 200
        assert httpx.get(url + "/fixture").status_code == 202
        manager.attempt_finished(None, None, scope, True)
        manager.attempt_started(None, None, scope, None)
        assert httpx.get(url + "/runtime").status_code == 404
        assert httpx.get(url + "/fixture").status_code == 202
        assert httpx.get(url + "/base").status_code == 200
        assert [r["path"] for r in admin.journal()["requests"]] == ["/runtime", "/fixture", "/base"]
        manager.attempt_finished(None, None, scope, True)


def test_splice_mock_serve_runs_until_interrupted(tmp_path: Path) -> None:
    """`splice mock serve FILES --port N` serves the stubs and stops on SIGINT."""
    (tmp_path / "s.yaml").write_text("- request: {path: /hi}\n  response: {body: hello}\n")
    from splice._internal.services.resources import Resources

    resources = Resources()
    port = resources.port()
    code = "from splice._internal.cli.mock_command import mock; mock()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "s.yaml", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    try:
        assert proc.stdout is not None
        assert "splice mock listening" in proc.stdout.readline()
        assert httpx.get(f"http://127.0.0.1:{port}/hi").text == "hello"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        resources.close()
