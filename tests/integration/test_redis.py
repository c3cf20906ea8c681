"""The redis kind (local, external, docker) and the redis executor against real servers."""

from __future__ import annotations

import gc
import os
import socket
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import StepError, SuiteError
from splice._internal.executors.executor_api import StepContext, TestcaseSession
from splice._internal.executors.redis import RedisBlock, RedisExecutor
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.services import kind_registry as registry
from splice._internal.services.kind_api import ServiceError
from splice._internal.services.kinds import _binary_server
from splice._internal.services.kinds.redis import ping

pytestmark = pytest.mark.integration


def _project(folder: Path, text: str, files: dict[str, str] | None = None) -> Any:
    for name, body in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body).lstrip())
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


FIXTURES = {
    "fixtures/cache.yaml": """
        greeting: hello
        count: 3
        user:1: {name: Alice, plan: pro}
        queue:jobs: [a, b, c]
        tags: {set: [red, blue]}
        scores: {zset: {alice: 10, bob: 7.5}}
        session:9: {value: token, ttl: 100}
        order:1: {json: {id: 1, lines: []}}
        plain: {hash: {value: x}}
    """,
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """A private redis-server with fixtures and flush isolation, shared by this module."""
    folder = tmp_path_factory.mktemp("redis")
    project = _project(
        folder,
        """
        services:
          cache: {kind: redis, isolation: flush, config: {maxmemory: 64mb}}
        data:
          fixtures: {cache: [fixtures/*.yaml]}
    """,
        FIXTURES,
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        yield env, manager


def _ctx(services: dict[str, Any], session: TestcaseSession | None = None) -> StepContext:
    return StepContext(
        vars={"services": services}, session=session or TestcaseSession(), base_dir=Path.cwd()
    )


def _run(ctx: StepContext, block: Any) -> dict[str, Any]:
    raw = RedisExecutor.shorthand(block)
    return RedisExecutor().execute(RedisBlock.model_validate(raw), ctx).result


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_local_server_starts_answers_and_leaves_nothing(tmp_path: Path) -> None:
    """A local redis answers PING with its password, and its process, port and data folder
    are gone after stop."""
    project = _project(tmp_path, "services: {c: {kind: redis, password: 's3 cret'}}")
    before = set(Path("/dev/shm").glob("splice-redis-*")) if Path("/dev/shm").is_dir() else set()
    with Environment(project) as env:
        env.start()
        service = env.services["c"]
        url = service.endpoint.url
        assert url.startswith("redis://:s3%20cret@127.0.0.1:")
        with redis.Redis.from_url(url) as client:
            assert client.ping()
        with pytest.raises(ConnectionError, match="NOAUTH"):
            ping("127.0.0.1", service.endpoint.port or 0)
        pid, port = service.pid, service.endpoint.port
    assert pid is not None and port is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _listening(port)
    after = set(Path("/dev/shm").glob("splice-redis-*")) if Path("/dev/shm").is_dir() else set()
    assert after <= before


def test_config_directives_reach_the_server(cache: Any) -> None:
    """`config:` entries become redis.conf directives; nothing is saved to disk."""
    env, _ = cache
    with redis.Redis.from_url(env.services["cache"].endpoint.url, decode_responses=True) as c:
        assert c.config_get("maxmemory") == {"maxmemory": str(64 * 1024 * 1024)}
        assert c.config_get("save") == {"save": ""}
        assert c.config_get("appendonly") == {"appendonly": "no"}


def test_settings_splice_manages_are_located_errors(tmp_path: Path) -> None:
    """A directive splice sets itself (port) is refused at its line with a hint."""
    with pytest.raises(SuiteError) as info:
        _project(
            tmp_path,
            """
            services:
              c:
                kind: redis
                config: {port: 7000}
        """,
        )
    diag = info.value.diagnostics[0]
    assert "'port' is set by splice" in diag.message
    assert diag.span is not None and diag.span.line == 4
    assert diag.hint == "splice assigns a free port"


def test_version_mismatch_names_the_installed_version(tmp_path: Path) -> None:
    """Asking for a version the local binary is not fails before starting, naming both."""
    project = _project(tmp_path, "services: {c: {kind: redis, version: '99'}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "version '99' was asked for, but the local `redis-server` is 7." in str(info.value)
    assert "provider: docker" in (info.value.hint or "")


def test_missing_binary_names_packages_and_other_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without redis-server on this machine, the error names the packages to install and
    the docker and external providers."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_binary_server, "EXTRA_DIRS", ())
    project = _project(tmp_path, "services: {c: {kind: redis}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "`redis-server` was not found" in str(info.value)
    hint = info.value.hint or ""
    assert "apt-get install redis-server" in hint and "brew install redis" in hint
    assert "provider: docker" in hint and "provider: external" in hint


# docker-py leaves the socket of a failed engine probe open (splice._internal.services.docker does
# not close the client when ping fails); collected here, so it does not fail a later test
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """With no Docker engine, the docker provider fails with what to do instead; with one,
    the container answers PING."""
    from splice._internal.services.docker import docker_available

    project = _project(tmp_path, "services: {c: {kind: redis, provider: docker}}")
    plan = registry.get("redis").docker_plan(project.services["c"])  # type: ignore[attr-defined]
    assert plan.image == "redis:7" and plan.port == 6379
    with Environment(project) as env:
        if docker_available() is None:
            env.start()
            with redis.Redis.from_url(env.services["c"].endpoint.url) as client:
                assert client.ping()
            return
        with pytest.raises(ServiceError) as info:
            env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)
    assert "provider: local" in (info.value.hint or "")


def test_external_provider_uses_this_machines_server(tmp_path: Path) -> None:
    """An external redis is checked with PING, used under a key prefix, never flushed by a
    project-wide isolation mode, and not stopped."""
    project = _project(
        tmp_path,
        """
        services: {ext: {kind: redis, url: "redis://127.0.0.1:6379/0"}}
        data: {isolation: truncate}
    """,
    )
    key = f"splice-test:{uuid.uuid4().hex}"
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        ctx = _ctx(env.vars())
        assert _run(ctx, ["SET", key, "kept"])["value"] == "OK"
        scope: dict[str, Any] = {"services": env.vars()}
        manager.attempt_started(None, None, scope, ctx.session)
        manager.attempt_finished(None, None, scope, True)
        assert _run(ctx, ["GET", key])["value"] == "kept"
        assert _run(ctx, ["DEL", key])["value"] == 1
        ctx.session.close()
    with redis.Redis(port=6379) as client:
        assert client.ping()


def test_fixtures_load_every_form(cache: Any) -> None:
    """Strings, hashes, lists, sets, sorted sets, JSON values and TTLs load as written."""
    env, _ = cache
    ctx = _ctx(env.vars())
    assert _run(ctx, "GET greeting")["value"] == "hello"
    assert _run(ctx, "GET count")["value"] == "3"
    assert _run(ctx, "HGETALL user:1")["value"] == {"name": "Alice", "plan": "pro"}
    assert _run(ctx, "LRANGE queue:jobs 0 -1")["value"] == ["a", "b", "c"]
    assert sorted(_run(ctx, "SMEMBERS tags")["value"]) == ["blue", "red"]
    assert _run(ctx, "ZRANGE scores 0 -1")["value"] == ["bob", "alice"]
    assert 0 < _run(ctx, "TTL session:9")["value"] <= 100
    assert _run(ctx, "GET order:1")["json"] == {"id": 1, "lines": []}
    assert _run(ctx, "HGETALL plain")["value"] == {"value": "x"}
    ctx.session.close()


def test_flush_isolation_restores_the_fixtures(cache: Any) -> None:
    """After a testcase attempt, what it wrote is gone and the fixtures are back."""
    env, manager = cache
    scope: dict[str, Any] = {"services": env.vars()}
    session = TestcaseSession()
    manager.attempt_started(None, None, scope, session)
    ctx = _ctx(scope["services"], session)
    _run(ctx, "SET scratch 1")
    _run(ctx, "DEL greeting")
    session.close()
    manager.attempt_finished(None, None, scope, True)
    ctx = _ctx(env.vars())
    assert _run(ctx, "EXISTS scratch")["value"] == 0
    assert _run(ctx, "GET greeting")["value"] == "hello"
    ctx.session.close()


def test_bad_fixture_files_are_located_errors(tmp_path: Path) -> None:
    """Mistakes in a fixture file point at their line and column with a hint."""
    from splice._internal.services.kinds.redis_fixtures import parse_files

    bad = tmp_path / "bad.yaml"
    bad.write_text("ok: 1\nnested: {a: {b: 1}}\nempty: []\nscore: {zset: {a: high}}\n")
    with pytest.raises(SuiteError) as info:
        parse_files([bad])
    found = [(d.span.line, d.span.column, d.message) for d in info.value.diagnostics if d.span]
    assert found[0][:2] == (2, 13) and "expected text or a number" in found[0][2]
    assert found[1][0] == 3 and "non-empty list" in found[1][2]
    assert found[2][0] == 4 and "score of 'a'" in found[2][2]
    assert "{json: ...}" in (info.value.diagnostics[0].hint or "")
    with pytest.raises(SuiteError) as info:
        parse_files([tmp_path / "keys.txt"])
    assert "YAML or JSON files" in info.value.diagnostics[0].message


def test_executor_commands_pipelines_and_reply_types(cache: Any) -> None:
    """Strings split like a shell, lists keep their items, structured args become JSON,
    pipelines and transactions return every reply, with the reply's type."""
    env, _ = cache
    ctx = _ctx(env.vars())
    assert _run(ctx, {"service": "cache", "command": "SET k 'two words'"})["value"] == "OK"
    assert _run(ctx, "GET k") == {
        "value": "two words",
        "values": None,
        "type": "string",
        "json": None,
    }
    assert _run(ctx, ["SET", "j", {"id": 7}])["value"] == "OK"
    assert _run(ctx, "GET j")["json"] == {"id": 7}
    assert _run(ctx, "GET missing")["type"] == "nil"
    assert _run(ctx, "INCR n")["type"] == "integer"
    out = _run(ctx, {"commands": [["SET", "p", 1], "INCR p", ["GET", "p"]]})
    assert out["values"] == ["OK", 2, "2"] and out["value"] == "2"
    out = _run(ctx, {"commands": ["INCR p", "INCR p"], "transaction": True})
    assert out["values"] == [3, 4]
    assert _run(ctx, "HGETALL user:1")["type"] == "map"
    clients = [k for k in ctx.session.state if k.startswith("redis.client.")]
    assert len(clients) == 1, "one client per URL for the whole attempt"
    ctx.session.close()


def test_executor_errors_are_step_errors(cache: Any) -> None:
    """A refused command, an unknown service and an unreachable server give StepErrors
    that say why, without the password."""
    env, _ = cache
    ctx = _ctx(env.vars())
    with pytest.raises(StepError, match=r"Redis refused `INCR greeting`: value is not an int"):
        _run(ctx, "INCR greeting")
    with pytest.raises(StepError, match=r"refused `INCR x` .*|Redis refused `INCR x`"):
        _run(ctx, {"commands": [["SET", "x", "a"], ["INCR", "x"]]})
    with pytest.raises(StepError, match="unknown service 'cahce'") as info:
        _run(ctx, {"service": "cahce", "command": "PING"})
    assert info.value.hint == "did you mean 'cache'?"
    with pytest.raises(StepError, match=r"cannot connect to Redis at redis://:\*\*\*@127"):
        _run(ctx, {"url": "redis://:secret@127.0.0.1:1/0", "command": "PING"})
    ctx.session.close()


def test_suite_checks_the_cache_through_the_runner(cache: Any, write: Any, run_suite: Any) -> None:
    """A YAML suite writes and expects keys with the redis executor and the shorthand."""
    env, _ = cache
    path = write(
        "r.splice.yaml",
        """
        name: redis
        testcases:
          - name: cache entry
            steps:
              - redis: {service: cache, command: [HSET, "user:2", name, Bob]}
                expect: {value: 1, type: integer}
              - redis: HGETALL user:2
                expect: {value: {name: Bob}}
              - redis: {commands: [[DEL, "user:2"], [EXISTS, "user:2"]]}
                expect: {values: [1, 0]}
    """,
    )
    run = run_suite(path, services=env.vars())
    assert run.status == Status.PASSED, run.testcases()[0].attempts[0].steps


def test_blocking_command_sees_a_concurrent_writer(cache: Any) -> None:
    """BLPOP waits for a value another client pushes while the step runs."""
    env, _ = cache
    url = env.services["cache"].endpoint.url

    def push() -> None:
        with redis.Redis.from_url(url) as client:
            client.rpush("jobs:new", "j1")

    timer = threading.Timer(0.1, push)
    timer.start()
    ctx = _ctx(env.vars())
    assert _run(ctx, {"command": "BLPOP jobs:new 5", "timeout": "6s"})["value"] == [
        "jobs:new",
        "j1",
    ]
    timer.join()
    ctx.session.close()
