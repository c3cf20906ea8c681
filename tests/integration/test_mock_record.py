"""Record and replay: the mock proxies a real local server, writes a scrubbed cassette,
replays it with the server stopped, and no file holds a secret; the four modes;
cassettes turned into stubs."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from splice._internal.cli.mock_command import mock as mock_cli
from splice._internal.doubles.client import MockClient
from splice._internal.environment.services import Environment
from splice._internal.errors import SuiteError
from splice._internal.masking import Masker
from splice._internal.project.loader import load_project
from tests.support.echo_server import EchoServer

pytestmark = pytest.mark.integration

SECRETS = ("tok-S3CRET-header", "k-S3CRET-query", "pw-S3CRET-json")


def _project(root: Path, record: dict[str, Any], extra: str = "") -> Any:
    settings = yaml.safe_dump({"kind": "mock", "record": record}, default_flow_style=True)
    (root / "splice.yaml").write_text(f"name: rec\nservices:\n  api: {settings}{extra}")
    return load_project(root / "splice.yaml")


def _calls(url: str) -> list[httpx.Response]:
    """What the system under test sends: secrets in a header, the query and the body."""
    with httpx.Client(base_url=url, timeout=10) as client:
        return [
            client.post(
                "/echo",
                params={"api_key": SECRETS[1], "page": "1"},
                headers={"Authorization": f"Bearer {SECRETS[0]}"},
                json={"user": "ann", "password": SECRETS[2]},
            ),
            client.get("/status", params={"code": "201"}),
        ]


def _files_holding_secrets(*folders: Path) -> list[str]:
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {s}" for s in SECRETS if s.encode() in data]
    return found


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def test_record_scrub_then_replay_with_the_server_stopped(tmp_path: Path) -> None:
    """A cassette recorded against a real server has every secret scrubbed (also where
    the server echoed it back); it replays with the server stopped, for requests that
    carry the secrets again; no file anywhere, and not the journal, holds a secret."""
    record = {
        "cassette": "cassettes/echo.yaml",
        "mode": "once",
        "scrub": {"headers": ["Authorization"], "query": ["api_key"], "json": ["password"]},
    }
    with EchoServer() as server:
        record["target"] = server.url
        project = _project(tmp_path, record)
        with Environment(project) as env:
            env.start()
            url = env.services["api"].endpoint.url
            live = _calls(url)
            journal = json.dumps(MockClient(url).journal())  # what a suite's report shows
            assert [s for s in SECRETS if s in journal] == []
            assert env.run_dir is not None
            assert _files_holding_secrets(env.run_dir) == []  # logs and config included
        hits = dict(server.hits)
    assert [r.status_code for r in live] == [200, 201]
    assert live[0].json()["headers"]["authorization"] == f"Bearer {SECRETS[0]}"  # the real reply
    cassette = (tmp_path / "cassettes" / "echo.yaml").read_text()
    assert "<scrubbed>" in cassette
    assert _files_holding_secrets(tmp_path) == []
    recorded = yaml.safe_load(cassette)["interactions"]
    assert recorded[0]["request"]["query"] == {"api_key": "<scrubbed>", "page": "1"}
    assert recorded[0]["response"]["json"]["headers"]["authorization"] == "<scrubbed>"

    # the server is gone: every answer now comes from the cassette
    with Environment(_project(tmp_path, record)) as env:
        env.start()
        url = env.services["api"].endpoint.url
        replayed = _calls(url)
        missing = httpx.get(url + "/never-recorded")
        assert env.run_dir is not None
        assert _files_holding_secrets(env.run_dir, tmp_path) == []
    assert hits == {"/echo": 1, "/status": 1}
    assert [r.status_code for r in replayed] == [200, 201]
    assert replayed[0].json()["json"] == {"user": "ann", "password": "<scrubbed>"}
    assert missing.status_code == 404
    assert "no stub matched GET /never-recorded" in missing.text
    assert "'POST /echo'" in missing.text  # nearest recorded exchanges are listed


def test_declared_secrets_are_scrubbed_from_cassettes_without_any_rule(tmp_path: Path) -> None:
    """A recording mock with no scrub rules keeps the run's declared secrets (known when it
    starts, or learnt later, like a captured token) out of its cassette: in headers, basic
    auth, the query, the path, JSON and binary bodies, the response; and replays them."""
    early, late = "early-S3cret-value", "late-S3cret-value"
    record = {"cassette": "c.yaml", "mode": "once"}
    masker = Masker()
    masker.add(early)
    with EchoServer() as server:
        record["target"] = server.url
        with Environment(_project(tmp_path, record), masker=masker) as env:
            env.start()
            url = env.services["api"].endpoint.url
            masker.add(late)  # as a capture marked secret would be, after the start

            def calls() -> list[tuple[int, str | None]]:
                """Status and whether the mock matched nothing, of each call."""
                with httpx.Client(base_url=url, timeout=10) as client:
                    answers = [
                        client.get(f"/status/{late}"),  # the real server's 404 is recorded
                        client.post("/echo", params={"k": early}, json={"t": late},
                                    auth=("ann", early)),
                        client.post("/echo", content=b"\xff\x00" + early.encode() + b"\xfe",
                                    headers={"X-Key": f"Bearer {late}"}),
                    ]  # fmt: skip
                return [(a.status_code, a.headers.get("x-splice-unmatched")) for a in answers]

            assert calls() == [(404, None), (200, None), (200, None)]
    cassette = (tmp_path / "c.yaml").read_text()
    assert early not in cassette and late not in cassette, cassette
    assert "Basic <scrubbed>" in cassette and "/status/<scrubbed>" in cassette
    binary = yaml.safe_load(cassette)["interactions"][2]["request"]["base64"]
    assert base64.b64decode(binary) == b"\xff\x00<scrubbed>\xfe"  # still valid base64
    with Environment(_project(tmp_path, record), masker=masker) as env:  # the server is gone
        env.start()
        url = env.services["api"].endpoint.url
        assert calls() == [(404, None), (200, None), (200, None)]


def test_mode_new_records_only_what_is_missing(tmp_path: Path, echo: EchoServer) -> None:
    """`new` replays what the cassette has and records the rest, appending."""
    record = {"cassette": "c.yaml", "mode": "new", "target": echo.url}
    with Environment(_project(tmp_path, record)) as env:
        env.start()
        url = env.services["api"].endpoint.url
        assert httpx.get(url + "/status?code=202").status_code == 202
        assert httpx.get(url + "/status?code=202").status_code == 202  # replayed
    with Environment(_project(tmp_path, record)) as env:
        env.start()
        url = env.services["api"].endpoint.url
        assert httpx.get(url + "/status?code=202").status_code == 202
        assert httpx.get(url + "/status?code=203").status_code == 203
    assert echo.hits == {"/status": 2}
    interactions = yaml.safe_load((tmp_path / "c.yaml").read_text())["interactions"]
    assert [i["request"]["query"]["code"] for i in interactions] == ["202", "203"]


def test_mode_none_replays_only(tmp_path: Path, echo: EchoServer) -> None:
    """`none` needs the cassette, never forwards, and a request it lacks is unmatched."""
    record = {"cassette": "c.yaml", "mode": "none"}
    with pytest.raises(SuiteError, match=r"'c\.yaml', which does not exist"):
        _project(tmp_path, record)  # refused when the project loads: nothing starts
    with Environment(_project(tmp_path, {**record, "mode": "once", "target": echo.url})) as env:
        env.start()
        httpx.get(env.services["api"].endpoint.url + "/status?code=200")
    with Environment(_project(tmp_path, {**record, "target": echo.url})) as env:
        env.start()
        url = env.services["api"].endpoint.url
        assert httpx.get(url + "/status?code=200").status_code == 200
        assert httpx.get(url + "/status?code=500").status_code == 404
    assert echo.hits == {"/status": 1}


def test_mode_all_rerecords_everything(tmp_path: Path, echo: EchoServer) -> None:
    """`all` forwards every request and rewrites the cassette from scratch."""
    record = {"cassette": "c.yaml", "mode": "all", "target": echo.url}
    for _ in range(2):
        with Environment(_project(tmp_path, record)) as env:
            env.start()
            url = env.services["api"].endpoint.url
            httpx.get(url + "/status?code=200")
            httpx.get(url + "/status?code=200")
    assert echo.hits == {"/status": 4}
    assert len(yaml.safe_load((tmp_path / "c.yaml").read_text())["interactions"]) == 2


def test_match_on_is_configurable(tmp_path: Path, echo: EchoServer) -> None:
    """With match_on [method, path], a replay ignores the query and the body."""
    record = {"cassette": "c.yaml", "mode": "new", "target": echo.url}
    with Environment(_project(tmp_path, {**record, "match_on": ["method", "path"]})) as env:
        env.start()
        url = env.services["api"].endpoint.url
        assert httpx.post(url + "/echo?a=1", json={"n": 1}).json()["query"] == {"a": "1"}
        replayed = httpx.post(url + "/echo?a=2", json={"n": 2})
        assert replayed.json()["query"] == {"a": "1"}
        assert httpx.get(url + "/echo?a=3").json()["method"] == "GET"  # another method
    assert echo.hits == {"/echo": 2}


def test_unreachable_target_answers_502_and_records_nothing(tmp_path: Path) -> None:
    """When the real API cannot be reached, the client gets a 502 saying so."""
    record = {"cassette": "c.yaml", "mode": "once", "target": "http://127.0.0.1:9"}
    with Environment(_project(tmp_path, record)) as env:
        env.start()
        response = httpx.get(env.services["api"].endpoint.url + "/x")
    assert response.status_code == 502
    assert "cannot reach http://127.0.0.1:9" in response.text
    assert not (tmp_path / "c.yaml").exists()


def test_cassette_to_stubs_serves_the_same_answers(tmp_path: Path, echo: EchoServer) -> None:
    """`splice mock cassette-to-stubs` writes a stub file that answers like the cassette."""
    record = {"cassette": "c.yaml", "mode": "once", "target": echo.url}
    with Environment(_project(tmp_path, record)) as env:
        env.start()
        url = env.services["api"].endpoint.url
        first = httpx.post(url + "/echo?x=1", json={"a": 1}).json()
    result = CliRunner().invoke(
        mock_cli, ["cassette-to-stubs", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "s.yaml")]
    )
    assert result.exit_code == 0, result.output
    stubs = yaml.safe_load((tmp_path / "s.yaml").read_text())
    assert stubs[0]["request"] == {
        "method": "POST",
        "path": "/echo",
        "query": {"x": "1"},
        "body": {"json": {"a": 1}},
    }
    (tmp_path / "splice.yaml").write_text(
        textwrap.dedent(
            """
            name: stubs
            services:
              api: {kind: mock, stubs: [s.yaml]}
            """
        )
    )
    with Environment(load_project(tmp_path / "splice.yaml")) as env:
        env.start()
        url = env.services["api"].endpoint.url
        assert httpx.post(url + "/echo?x=1", json={"a": 1}).json() == first
        assert httpx.post(url + "/echo?x=1", json={"a": 2}).status_code == 404
    bad = CliRunner().invoke(mock_cli, ["cassette-to-stubs", str(tmp_path / "nope.yaml")])
    assert bad.exit_code != 0
