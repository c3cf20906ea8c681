"""The public Python API: `splice.run` and `splice.check` work without the CLI (no
`splice._internal.cli` module is even imported), `splice.open_environment` opens a project's
services, and a third-party executor and service kind plug in through `splice.plugins`
and the documented entry-point groups only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import splice

pytestmark = pytest.mark.integration


def _python(code: str, cwd: Path, site: Path | None = None) -> dict[str, object]:
    """Run `code` in a fresh interpreter in `cwd`; the JSON it prints last."""
    env = {**os.environ, "NO_COLOR": "1"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


CLI_MODULES = """
        cli = sorted(m for m in sys.modules if m == "splice._internal.cli" or m.startswith("splice._internal.cli."))
"""  # indented as the code it joins


def test_run_passes_a_suite_without_importing_the_cli(tmp_path: Path) -> None:
    """`splice.run` runs a suite (variables, a capture, a teardown) and returns its result,
    listeners hear each event, and no `splice._internal.cli` module is loaded."""
    (tmp_path / "s.splice.yaml").write_text(
        textwrap.dedent("""
        name: api
        testcases:
          - name: echoes
            steps:
              - exec: "echo {{ word }}"
                expect: {stdout: "hello\\n"}
                capture: {said: stdout}
            teardown:
              - exec: "touch torn-down"
        """).lstrip()
    )
    found = _python(
        """
        import json, sys
        import splice

        class Count(splice.RunListener):
            def __init__(self):
                self.steps = 0
            def step_finished(self, suite, testcase, step):
                self.steps += 1

        count = Count()
        result = splice.run(["s.splice.yaml"], vars={"word": "hello"}, listeners=[count])
        """
        + CLI_MODULES
        + """
        [tc] = result.testcases()
        print(json.dumps({"status": result.status.value, "tc": tc.status.value,
                          "steps": count.steps, "cli": cli}))
        """,
        tmp_path,
    )
    assert found == {"status": "passed", "tc": "passed", "steps": 2, "cli": []}
    assert (tmp_path / "torn-down").exists()


def test_check_returns_located_diagnostics_without_importing_the_cli(tmp_path: Path) -> None:
    """`splice.check` returns each problem with its file, line and column (an empty list
    for a good suite) and loads no `splice._internal.cli` module."""
    (tmp_path / "good.splice.yaml").write_text(
        "name: good\ntestcases:\n  - name: t\n    steps: [{exec: 'true'}]\n"
    )
    (tmp_path / "bad.splice.yaml").write_text(
        "name: bad\ntestcases:\n  - name: t\n    steps:\n      - http: {gett: /x}\n"
    )
    found = _python(
        """
        import json, sys
        import splice

        good = splice.check(["good.splice.yaml"])
        bad = splice.check(["bad.splice.yaml"])
        """
        + CLI_MODULES
        + """
        print(json.dumps({
            "good": good,
            "bad": [(d.span.path.name, d.span.line, d.span.column) for d in bad],
            "message": bad[0].message,
            "type": type(bad[0]).__name__,
            "cli": cli,
        }))
        """,
        tmp_path,
    )
    assert found["good"] == []
    # as `splice check` shows them: `url` missing at the block, `gett` unknown at the key
    assert found["bad"] == [["bad.splice.yaml", 5, 9], ["bad.splice.yaml", 5, 16]]
    assert found["message"] == "missing required key 'url' in 'http'"
    assert found["type"] == "Diagnostic"
    assert found["cli"] == []


def test_open_environment_starts_and_stops_a_projects_services(tmp_path: Path) -> None:
    """`splice.open_environment` starts the project's services for the `with` block (their
    endpoints and suite variables at hand) and stops them at its end."""
    (tmp_path / "splice.yaml").write_text(
        textwrap.dedent("""
        name: envproject
        services:
          web:
            kind: process
            command: ["python3", "-m", "http.server", "{{ port }}", "--bind", "127.0.0.1"]
        """).lstrip()
    )
    import httpx

    with splice.open_environment(tmp_path, reuse_up=False) as env:
        url = env.services["web"].endpoint.url
        assert httpx.get(url + "/").status_code == 200
        assert env.builtins["services"]["web"]["url"] == url
        assert [entry["name"] for entry in env.summary] == ["web"]
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/", timeout=2.0)


PLUGIN = '''
"""A third-party package: a step kind and a service kind, written against splice.plugins."""

import socket
import sys
import time
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from splice.plugins import (
    Endpoint,
    HintedValueError,
    RunningService,
    ServiceError,
    Settings,
    StepError,
    StepOutput,
    did_you_mean,
)


class ShoutBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    times: int = 1


class ShoutExecutor:
    name: ClassVar[str] = "shout"
    block_model: ClassVar[type[BaseModel]] = ShoutBlock
    result_fields: ClassVar[dict[str, str]] = {"text": "the shouted text"}
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    def execute(self, block, ctx):
        if block.times > 100:
            raise StepError("too loud", hint="shout at most 100 times")
        return StepOutput({"text": (block.text.upper() + "!") * block.times})


MOODS = ("calm", "loud")


class EchoSettings(Settings):
    mood: str = "calm"

    @field_validator("mood")
    @classmethod
    def _known(cls, value):
        if value not in MOODS:
            raise HintedValueError(f"unknown mood {value!r}", did_you_mean(value, MOODS))
        return value


class EchoKind:
    """A TCP echo server (a Python process of its own) on a free port."""

    name: ClassVar[str] = "echo"
    settings_model: ClassVar[type[BaseModel]] = EchoSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "external"})
    packages: ClassVar[dict[str, str]] = {}

    def start_local(self, ctx):
        port = ctx.resources.port()
        code = (
            "import socket,sys\\n"
            "s=socket.create_server(('127.0.0.1',int(sys.argv[1])))\\n"
            "while True:\\n"
            "    c,_=s.accept(); c.sendall(c.recv(100)); c.close()\\n"
        )
        proc = ctx.resources.spawn([sys.executable, "-c", code, str(port)], log=ctx.log_path)
        endpoint = Endpoint(url=f"tcp://127.0.0.1:{port}", port=port,
                            extra={"mood": ctx.spec.settings.mood})
        try:
            self.check_ready(endpoint, timeout=20.0)
        except BaseException:
            ctx.resources.stop(proc)
            raise

        def stop():
            ctx.resources.stop(proc)
            ctx.resources.release_port(port)

        return RunningService(ctx.spec, endpoint, stop=stop, log_path=ctx.log_path, pid=proc.pid)

    def external(self, spec):
        host, _, port = spec.url.removeprefix("tcp://").partition(":")
        return Endpoint(url=spec.url, host=host, port=int(port))

    def check_ready(self, endpoint, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((endpoint.host, endpoint.port), timeout=1) as c:
                    c.sendall(b"ping")
                    if c.recv(4) == b"ping":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServiceError("echo", f"no echo on port {endpoint.port}")
            time.sleep(0.05)
'''


def _install_plugin(site: Path) -> None:
    """An installed distribution laid out by hand: a module and its entry points."""
    site.mkdir()
    (site / "splice_echo.py").write_text(PLUGIN)
    info = site / "splice_echo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: splice-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[splice.executors]\nshout = splice_echo:ShoutExecutor\n\n"
        "[splice.services]\necho = splice_echo:EchoKind\n"
    )


def test_a_third_party_executor_and_service_kind_plug_in_through_the_plugin_api(
    tmp_path: Path,
) -> None:
    """A package that imports only `splice.plugins` adds a step kind and a service kind by
    entry points: a suite uses both through `splice.run`, and a bad setting of the kind is
    a located diagnostic of `splice.check` with the plugin's own hint."""
    _install_plugin(tmp_path / "site")
    project = tmp_path / "project"
    project.mkdir()
    (project / "splice.yaml").write_text(
        "name: plugged\nservices:\n  talk: {kind: echo, mood: loud}\n"
    )
    (project / "s.splice.yaml").write_text(
        textwrap.dedent("""
        name: plugged
        testcases:
          - name: shouts at the echo service
            steps:
              - shout: {text: "{{ services.talk.mood }}", times: 2}
                expect: {text: "LOUD!LOUD!"}
              - exec: "python3 -c \\"import socket; c = socket.create_connection(('127.0.0.1', {{ services.talk.port }})); c.sendall(b'hi'); print(c.recv(2).decode())\\""
                expect: {stdout: "hi\\n"}
        """).lstrip()
    )
    found = _python(
        """
        import json, sys
        import splice
        result = splice.run(["s.splice.yaml"], reuse_up=False)
        [tc] = result.testcases()
        failures = [f.message for a in tc.attempts for s in a.steps for f in s.failures]
        """
        + CLI_MODULES
        + """
        print(json.dumps({"status": result.status.value, "failures": failures,
                          "services": [s["name"] for s in result.services], "cli": cli}))
        """,
        project,
        tmp_path / "site",
    )
    assert found == {"status": "passed", "failures": [], "services": ["talk"], "cli": []}

    (project / "splice.yaml").write_text(
        "name: plugged\nservices:\n  talk: {kind: echo, mood: lowd}\n"
    )
    found = _python(
        """
        import json
        import splice
        [d] = splice.check(["s.splice.yaml"])
        print(json.dumps([d.message, d.hint, d.span.line]))
        """,
        project,
        tmp_path / "site",
    )
    assert found == ["unknown mood 'lowd'", "did you mean 'loud'?", 3]


def test_an_executor_registered_by_program_runs(tmp_path: Path) -> None:
    """`splice.plugins.register_executor` adds a step kind to a program that embeds splice,
    without an installed package."""
    (tmp_path / "s.splice.yaml").write_text(
        "name: registered\ntestcases:\n  - name: t\n    steps:\n"
        "      - shout: {text: hey}\n        expect: {text: 'HEY!'}\n"
    )
    (tmp_path / "splice_echo.py").write_text(PLUGIN)
    found = _python(
        """
        import json, sys
        sys.path.insert(0, ".")
        import splice
        from splice.plugins import register_executor
        from splice_echo import ShoutExecutor

        register_executor("shout", ShoutExecutor)
        result = splice.run(["s.splice.yaml"])
        print(json.dumps(result.status.value))
        """,
        tmp_path,
    )
    assert found == "passed"
