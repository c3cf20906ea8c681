"""The postgres kind against real servers: local (cached cluster), external, docker;
fixtures in every format with located errors; every isolation mode."""

from __future__ import annotations

import gc
import os
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import SuiteError
from splice._internal.model.results import Status
from splice._internal.project.loader import load_project
from splice._internal.runner.events import EventBus
from splice._internal.runner.planner import load_all
from splice._internal.runner.run import Runner, RunOptions
from splice._internal.services import kind_registry as registry
from splice._internal.services.kind_api import ServiceError
from splice._internal.services.kinds.postgres.data import live

pytestmark = pytest.mark.integration

SCHEMA = """
    create table users (id serial primary key, name text not null unique, tags text[],
                        meta jsonb);
    create table orders (id serial primary key, user_id int references users (id),
                         total numeric(10, 2));
"""
FILES = {
    "db/schema.sql": SCHEMA,
    "fixtures/1-users.yaml": """
        users:
          - {id: 1, name: alice, tags: [admin, dev], meta: {plan: pro}}
          - {id: 2, name: bob, meta: [1, 2]}
    """,
    "fixtures/2-orders.json": '{"orders": [{"id": 10, "user_id": 1, "total": 9.5}]}',
    "fixtures/3-more.sql": "insert into users (name) values ('carol');",
}


def _project(folder: Path, text: str, files: dict[str, str] | None = None) -> Any:
    for name, body in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body).lstrip())
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """Four private servers with the same schema and fixtures, one per isolation mode."""
    folder = tmp_path_factory.mktemp("pg")
    service = "{kind: postgres, database: shop, init: [db/schema.sql], isolation: %s}"
    fixtures = "[fixtures/*.yaml, fixtures/*.json, fixtures/*.sql]"
    project = _project(
        folder,
        f"""
        services:
          tpl: {service % "template"}
          trunc: {service % "truncate"}
          rb: {service % "rollback"}
          plain: {service % "none"}
        data:
          fixtures: {{tpl: {fixtures}, trunc: {fixtures}, rb: {fixtures}, plain: {fixtures}}}
        """,
        FILES,
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        yield env, manager


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_fixtures_in_every_format_are_loaded_in_order(servers: Any) -> None:
    """YAML rows (arrays, JSON), JSON rows and SQL scripts load in file order, and the
    sequences move past the ids the fixtures gave, so new rows do not collide."""
    env, _ = servers
    url = env.services["plain"].endpoint.url
    users = _rows(url, "select id, name, tags, meta from users order by id")
    assert users == [
        (1, "alice", ["admin", "dev"], {"plan": "pro"}),
        (2, "bob", None, [1, 2]),
        (3, "carol", None, None),
    ]
    assert _rows(url, "select id, user_id, total::float from orders") == [(10, 1, 9.5)]
    assert _rows(url, "select nextval('orders_id_seq')") == [(11,)]


def test_endpoint_exports_urls_and_runs_as_an_unprivileged_user(servers: Any) -> None:
    """The endpoint has the URL, the SQLAlchemy URL and the socket folder; under root the
    server runs as another user."""
    env, _ = servers
    endpoint = env.services["plain"].endpoint
    password = endpoint.password
    assert password and len(password) == 16  # generated once per machine, not a word
    assert endpoint.url == f"postgresql://splice:{password}@127.0.0.1:{endpoint.port}/shop"
    assert endpoint.extra["sqlalchemy_url"].startswith(f"postgresql+psycopg://splice:{password}@")
    assert Path(endpoint.extra["socket_dir"], f".s.PGSQL.{endpoint.port}").exists()
    assert _rows(endpoint.url, "show fsync") == [("off",)]
    pid = env.services["plain"].pid
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    assert (uid != 0) if os.geteuid() == 0 else (uid == os.geteuid())


SAME_ROW = """
    name: isolation
    testcases:
      - name: first
        steps:
          - sql: {service: SVC, query: "insert into users (id, name) values (50, 'zed')"}
          - sql: {service: SVC, query: "select count(*) from users"}
            expect: {scalar: 4}
      - name: second
        steps:
          - sql: {service: SVC, query: "insert into users (id, name) values (50, 'zed')"}
          - sql: {service: SVC, query: "select count(*) from users"}
            expect: {scalar: 4}
"""


def _run_isolated(
    env: Environment, manager: DataManager, service: str, folder: Path
) -> list[Status]:
    path = folder / f"{service}.splice.yaml"
    path.write_text(textwrap.dedent(SAME_ROW.replace("SVC", service)))
    suites, problems = load_all([path])
    assert not problems
    suites[0].serial = True
    options = RunOptions(builtins={"services": env.vars()}, hooks=[manager])
    run = Runner(suites, options, EventBus()).run()
    return [tc.status for tc in run.suites[0].testcases]


@pytest.mark.parametrize("service", ["tpl", "trunc", "rb"])
def test_two_testcases_writing_the_same_row_do_not_see_each_other(
    servers: Any, service: str, tmp_path: Path
) -> None:
    """With template, truncate and rollback isolation, both testcases insert row 50 and
    see only the fixtures plus their own row."""
    env, manager = servers
    assert _run_isolated(env, manager, service, tmp_path) == [Status.PASSED, Status.PASSED]
    if service != "tpl":  # truncate and rollback: the service's own database is clean again
        assert _rows(env.services[service].endpoint.url, "select count(*) from users") == [(3,)]


def test_without_isolation_the_second_testcase_sees_the_first(servers: Any, tmp_path: Path) -> None:
    """The same two testcases with `isolation: none` collide: the second one fails."""
    env, manager = servers
    statuses = _run_isolated(env, manager, "plain", tmp_path)
    assert statuses == [Status.PASSED, Status.ERROR]


def test_template_clones_come_from_a_pool_and_are_dropped(servers: Any) -> None:
    """Each acquire gives a fresh clone with the fixtures; released clones are dropped."""
    env, _ = servers
    kind = registry.get("postgres")
    service = env.services["tpl"]
    first = kind.acquire(service, "template", "a")  # type: ignore[attr-defined]
    second = kind.acquire(service, "template", "b")  # type: ignore[attr-defined]
    assert first.database != second.database
    assert first.url.endswith(f"/{first.database}")
    assert _rows(first.url, "select count(*) from users") == [(3,)]
    kind.release(service, "template", "a", first)  # type: ignore[attr-defined]
    kind.release(service, "template", "b", second)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # dropped in the background, after new clones
        names = {r[0] for r in _rows(service.endpoint.url, "select datname from pg_database")}
        if first.database not in names and second.database not in names:
            break
        time.sleep(0.05)
    assert first.database not in names and second.database not in names


def test_template_is_made_while_the_system_under_test_is_connected(servers: Any) -> None:
    """A session held open on the database (as a system under test does) does not stop the
    template from being made: it is copied with pg_dump instead, and its clones work."""
    from splice._internal.services.kinds.postgres.isolation import Template

    env, _ = servers
    service = env.services["plain"]
    with psycopg.connect(service.endpoint.url) as held:
        held.execute("select 1")
        template = Template(service)
    try:
        clone = template.acquire()
        assert _rows(clone.url, "select name from users where id = 1") == [("alice",)]
        template.release(clone)
    finally:
        template.close()
        with psycopg.connect(service.endpoint.url, autocommit=True) as conn:
            conn.execute(f'drop database "{template.template}"')


def test_fixture_mistakes_are_located(servers: Any, tmp_path: Path) -> None:
    """A wrong column, a wrong table, a row that is not a mapping, a row that breaks a
    constraint among rows inserted as one batch, and a SQL syntax error each point at
    their line; nothing of the failed load stays."""
    env, _ = servers
    kind = registry.get("postgres")
    service = env.services["plain"]
    cases = {
        "col.yaml": ("users:\n  - {name: x}\n  - name: y\n    nmae: z\n", 4, "nmae"),
        "table.yml": ("users:\n  - {name: q}\nnope:\n  - {a: 1}\n", 3, "nope"),
        "row.yaml": ("users:\n  - just text\n", 2, "must be a mapping"),
        "dup.yaml": ("users:\n  - {id: 70, name: p}\n  - {id: 70, name: r}\n", 3, "duplicate key"),
        "list.json": ("[1, 2]", 1, "maps table names"),
        "bad.sql": ("insert into users (name) values ('w');\nselec 1;\n", 2, "selec"),
    }
    for name, (text, line, needle) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SuiteError) as info:
            kind.load_fixtures(service, [path])  # type: ignore[attr-defined]
        diag = info.value.diagnostics[0]
        assert needle in diag.message, name
        assert diag.span is not None and diag.span.path == path and diag.span.line == line, name
    assert _rows(
        service.endpoint.url, "select count(*) from users where name in ('x', 'q', 'w', 'p')"
    ) == [(0,)]


def test_start_and_stop_leave_nothing_behind(tmp_path: Path) -> None:
    """After stop, the server process, its port and its temporary folder are gone."""
    project = _project(tmp_path, "services: {db: {kind: postgres, password: ''}}")
    with Environment(project) as env:
        env.start()
        service = env.services["db"]
        folder = Path(service.endpoint.extra["socket_dir"])
        pid, port = service.pid, service.endpoint.port
        assert _rows(service.endpoint.url, "select current_user") == [("splice",)]
    assert pid is not None and port is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _listening(port)
    assert not folder.exists()


def test_concurrent_starts_build_the_cache_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two environments starting at once with an empty cache both start; one cluster is
    cached and no half-built folder is left."""
    monkeypatch.setenv("SPLICE_CACHE_DIR", str(tmp_path / "cache"))
    project = _project(tmp_path, "services: {db: {kind: postgres, database: other}}")
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with Environment(project) as env:
                env.start()
                assert _rows(env.services["db"].endpoint.url, "select 1") == [(1,)]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = sorted(p.name for p in (tmp_path / "cache" / "postgres").iterdir())
    assert len([e for e in entries if not e.startswith(".")]) == 1
    assert not [e for e in entries if ".build-" in e]


def test_missing_version_names_packages_and_other_providers(tmp_path: Path) -> None:
    """A version that is not installed fails before starting, naming the Debian and macOS
    packages and the docker and external providers."""
    project = _project(tmp_path, "services: {db: {kind: postgres, version: 99}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "PostgreSQL 99 (`postgres` and `initdb`) was not found" in str(info.value)
    hint = info.value.hint or ""
    assert "apt-get install postgresql-99" in hint and "brew install postgresql@99" in hint
    assert "provider: docker" in hint and "postgres:99" in hint and "provider: external" in hint


def test_init_script_errors_point_at_the_statement(tmp_path: Path) -> None:
    """A failing init script is a located error at the line of the bad statement, and the
    server it was meant for is stopped."""
    project = _project(
        tmp_path,
        "services: {db: {kind: postgres, init: [bad.sql]}}",
        {"bad.sql": "create table a (id int);\ncreate table b (id nosuchtype);\n"},
    )
    with Environment(project) as env, pytest.raises(SuiteError) as info:
        env.start()
    diag = info.value.diagnostics[0]
    assert 'type "nosuchtype" does not exist' in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.column, diag.span.end_column) == (
        2,
        20,
        30,
    )


def test_init_script_errors_without_a_position_point_at_the_statement(tmp_path: Path) -> None:
    """An error the server reports without a position (a missing role) is placed at the
    statement that failed, past quotes, comments and dollar-quoted bodies holding `;`."""
    script = (
        "create table a (id int);  -- a comment; with a semicolon\n"
        "create function f() returns int as $body$ select 1; $body$ language sql;\n"
        "insert into a values (1); /* ; */ select 'x;y';\n"
        "grant select on a to nobody_here;\n"
    )
    project = _project(
        tmp_path, "services: {db: {kind: postgres, init: [bad.sql]}}", {"bad.sql": script}
    )
    with Environment(project) as env, pytest.raises(SuiteError) as info:
        env.start()
    diag = info.value.diagnostics[0]
    assert 'role "nobody_here" does not exist' in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.column) == (4, 1)


def test_settings_splice_manages_are_located_errors(tmp_path: Path) -> None:
    """A server setting splice sets itself (port) is refused at its line with the reason."""
    with pytest.raises(SuiteError) as info:
        _project(tmp_path, "services:\n  db:\n    kind: postgres\n    config: {port: 1}\n")
    diag = info.value.diagnostics[0]
    assert "'port' is set by splice" in diag.message
    assert diag.span is not None and diag.span.line == 4


def test_external_provider_checks_and_never_stops_the_server(tmp_path: Path) -> None:
    """An external server (this machine's :5432) is checked with a login and a query,
    reachable through the endpoint, refused a project-wide truncate, and left running."""
    project = _project(
        tmp_path,
        """
        services: {ext: {kind: postgres, url: "postgres://postgres@127.0.0.1:5432/test"}}
        data: {isolation: truncate}
        """,
    )
    with Environment(project) as env:
        env.start()
        endpoint = env.services["ext"].endpoint
        assert endpoint.url == "postgresql://postgres@127.0.0.1:5432/test"
        assert endpoint.extra["sqlalchemy_url"].startswith("postgresql+psycopg://")
        assert _rows(endpoint.url, "select current_database()") == [("test",)]
        with pytest.raises(ServiceError) as info:
            DataManager(env, project).prepare()
        assert "would empty every table of this external database" in str(info.value)
    assert _rows("postgresql://postgres@127.0.0.1:5432/test", "select 1") == [(1,)]


def test_external_template_clones_are_dropped_when_the_run_ends(tmp_path: Path) -> None:
    """Template isolation on an external server makes its template and clones there and
    drops them all when the environment stops."""
    project = _project(
        tmp_path,
        """
        services:
          ext: {kind: postgres, url: "postgresql://postgres@127.0.0.1:5432/test",
                isolation: template}
        """,
    )
    with Environment(project) as env:
        env.start()
        DataManager(env, project).prepare()
        service = env.services["ext"]
        kind = registry.get("postgres")
        clone = kind.acquire(service, "template", "a")  # type: ignore[attr-defined]
        assert _rows(clone.url, "select current_database()") == [(clone.database,)]
        kind.release(service, "template", "a", clone)  # type: ignore[attr-defined]
        template = live(service)["template"].template
        prefix, token = template.rsplit("_tpl_", 1)[0], template.rsplit("_", 1)[1]
    names = [
        r[0]
        for r in _rows(
            "postgresql://postgres@127.0.0.1:5432/test", "select datname from pg_database"
        )
    ]
    assert prefix == "test"
    assert not [n for n in names if token in n]


def test_external_provider_that_does_not_answer_says_so(tmp_path: Path) -> None:
    """A wrong external URL fails readiness with what was awaited and a hint."""
    project = _project(
        tmp_path, "services: {ext: {kind: postgres, url: 'postgresql://x@127.0.0.1:1/y'}}"
    )
    kind = registry.get("postgres")
    endpoint = kind.external(project.services["ext"])
    with pytest.raises(ServiceError) as info:
        kind.check_ready(endpoint, timeout=0.3)
    assert "a login and `SELECT 1` on 127.0.0.1:1" in str(info.value)
    assert "check the URL" in (info.value.hint or "")


# docker-py leaves the socket of a failed engine probe open; collected here
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """The docker plan uses the postgres image with the settings as environment; with no
    Docker engine, starting fails with what to do instead."""
    from splice._internal.services.docker import docker_available

    project = _project(
        tmp_path,
        "services: {db: {kind: postgres, provider: docker, version: 15, user: u, password: pw}}",
    )
    plan = registry.get("postgres").docker_plan(project.services["db"])  # type: ignore[attr-defined]
    assert plan.image == "postgres:15" and plan.port == 5432
    assert plan.env == {
        "POSTGRES_USER": "u",
        "POSTGRES_DB": "splice",
        "POSTGRES_PASSWORD": "pw",
    }
    assert plan.endpoint("h", 1).url == "postgresql://u:pw@h:1/splice"
    if docker_available() is None:
        pytest.skip("a Docker engine answers here; the container path is exercised instead")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)
