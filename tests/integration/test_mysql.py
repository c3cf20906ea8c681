"""The mysql and mariadb kinds against real servers: local (cached data folder),
external, docker; fixtures with located errors; every isolation mode."""

from __future__ import annotations

import gc
import os
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
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

pytestmark = pytest.mark.integration

FILES = {
    "db/schema.sql": """
        -- users first: orders refer to them
        create table users (id int auto_increment primary key, name varchar(40) not null,
                            meta json, name_len int as (char_length(name)));
        create table orders (id int auto_increment primary key, user_id int,
                             total decimal(10, 2), note varchar(20) default 'a;b',
                             foreign key (user_id) references users (id));
    """,
    "fixtures/1-users.yaml": """
        users:
          - {id: 1, name: alice, meta: {plan: pro}}
          - {id: 2, name: bob}
    """,
    "fixtures/2-orders.json": '{"orders": [{"id": 10, "user_id": 1, "total": 9.5}]}',
    "fixtures/3-more.sql": "insert into users (name) values ('carol'); # the third user\n",
}


def _project(folder: Path, text: str, files: dict[str, str] | None = None) -> Any:
    for name, body in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body).lstrip())
    (folder / "splice.yaml").write_text(textwrap.dedent(text).lstrip())
    return load_project(folder / "splice.yaml")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Environment, DataManager]]:
    """Private MariaDB servers with the same schema and fixtures, one per isolation mode."""
    folder = tmp_path_factory.mktemp("my")
    service = "{kind: mariadb, database: shop, init: [db/schema.sql], isolation: %s}"
    fixtures = "[fixtures/*.yaml, fixtures/*.json, fixtures/*.sql]"
    project = _project(
        folder,
        f"""
        services:
          tpl: {service % "template"}
          trunc: {service % "truncate"}
          rb: {service % "rollback"}
        data:
          fixtures: {{tpl: {fixtures}, trunc: {fixtures}, rb: {fixtures}}}
        """,
        FILES,
    )
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        yield env, manager


def _rows(endpoint: Any, query: str, database: str | None = None) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password or "",
        database=database or endpoint.database,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_fixtures_load_and_the_endpoint_is_exported(servers: Any) -> None:
    """YAML, JSON and SQL fixtures load in file order; the endpoint has the mysql URL, the
    SQLAlchemy URL and the flavour; under root the server is not root."""
    env, _ = servers
    service = env.services["rb"]
    endpoint = service.endpoint
    password = endpoint.password
    assert password and len(password) == 16  # generated once per machine, not a word
    assert endpoint.url == f"mysql://splice:{password}@127.0.0.1:{endpoint.port}/shop"
    assert endpoint.extra["sqlalchemy_url"].startswith(f"mysql+pymysql://splice:{password}@")
    assert endpoint.extra["flavor"] == "mariadb"
    assert _rows(endpoint, "select id, name, meta from users order by id") == [
        (1, "alice", '{"plan": "pro"}'),
        (2, "bob", None),
        (3, "carol", None),
    ]
    assert _rows(endpoint, "select user_id, total, note from orders") == [(1, 9.5, "a;b")]
    uid = int(Path(f"/proc/{service.pid}/status").read_text().split("Uid:")[1].split()[0])
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


@pytest.mark.parametrize("service", ["tpl", "trunc", "rb"])
def test_two_testcases_writing_the_same_row_do_not_see_each_other(
    servers: Any, service: str, tmp_path: Path
) -> None:
    """With template (tables copied), truncate and rollback isolation, both testcases
    insert row 50 and see only the fixtures plus their own row."""
    env, manager = servers
    path = tmp_path / "s.splice.yaml"
    path.write_text(textwrap.dedent(SAME_ROW.replace("SVC", service)))
    suites, problems = load_all([path])
    assert not problems
    suites[0].serial = True
    run = Runner(
        suites, RunOptions(builtins={"services": env.vars()}, hooks=[manager]), EventBus()
    ).run()
    assert [tc.status for tc in run.suites[0].testcases] == [Status.PASSED, Status.PASSED]
    if service != "tpl":
        assert _rows(env.services[service].endpoint, "select count(*) from users") == [(3,)]


def test_template_clones_keep_foreign_keys_and_generated_columns(servers: Any) -> None:
    """A clone has the tables with their foreign keys, generated columns and rows."""
    env, _ = servers
    kind = registry.get("mariadb")
    service = env.services["tpl"]
    clone = kind.acquire(service, "template", "a")  # type: ignore[attr-defined]
    try:
        assert clone.database != "shop" and clone.url.endswith(f"/{clone.database}")
        assert _rows(clone, "select name, name_len from users where id = 1") == [("alice", 5)]
        with pytest.raises(pymysql.err.IntegrityError):
            _rows(clone, "insert into orders (user_id) values (999)")
    finally:
        kind.release(service, "template", "a", clone)  # type: ignore[attr-defined]


def test_fixture_mistakes_are_located(servers: Any, tmp_path: Path) -> None:
    """A wrong column, a wrong table, a row that breaks a constraint among rows inserted
    as one batch, and a SQL error (MySQL counts lines per statement) each point at their
    line; nothing of the failed load stays."""
    env, _ = servers
    kind = registry.get("mariadb")
    service = env.services["rb"]
    cases = {
        "col.yaml": ("users:\n  - {name: x}\n  - name: y\n    nmae: z\n", 4, "nmae"),
        "table.yml": ("nope:\n  - {a: 1}\n", 1, "nope"),
        "dup.yaml": (
            "users:\n  - {id: 70, name: p}\n  - {id: 70, name: r}\n",
            3,
            "Duplicate entry",
        ),
        "bad.sql": (
            "insert into users (name) values ('w');\n\nselect *\n  frm users;\n",
            4,
            "syntax",
        ),
    }
    for name, (text, line, needle) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SuiteError) as info:
            kind.load_fixtures(service, [path])  # type: ignore[attr-defined]
        diag = info.value.diagnostics[0]
        assert needle in diag.message, name
        assert diag.span is not None and diag.span.path == path and diag.span.line == line, name
    assert _rows(service.endpoint, "select count(*) from users where name in ('x', 'w', 'p')") == [
        (0,)
    ]


def test_mysql_kind_runs_on_mariadb_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """`kind: mysql` is served by the installed MariaDB; after stop its process, port and
    folder are gone."""
    project = _project(tmp_path, "services: {db: {kind: mysql, user: root, password: ''}}")
    with Environment(project) as env:
        env.start()
        service = env.services["db"]
        endpoint = service.endpoint
        assert endpoint.extra["flavor"] == "mariadb"
        assert _rows(endpoint, "select current_user()")[0][0].startswith("root@")
        folder = Path(endpoint.extra["socket"]).parent
        pid, port = service.pid, endpoint.port
    assert pid is not None and port is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert not folder.exists()


def test_missing_version_names_packages_and_other_providers(tmp_path: Path) -> None:
    """A MariaDB version that is not installed fails before starting, naming the installed
    one and the docker provider."""
    project = _project(tmp_path, "services: {db: {kind: mariadb, version: '99'}}")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    assert "version '99' was asked for, but the local `mariadbd` is 10." in str(info.value)
    assert "provider: docker` (image mariadb:99)" in (info.value.hint or "")


def test_external_provider_checks_and_never_stops_the_server(tmp_path: Path) -> None:
    """An external server (this machine's :3306) is checked with a login and a query and
    reachable through the endpoint."""
    project = _project(
        tmp_path, "services: {ext: {kind: mariadb, url: 'mysql://root@127.0.0.1:3306/test'}}"
    )
    with Environment(project) as env:
        env.start()
        endpoint = env.services["ext"].endpoint
        assert endpoint.url == "mysql://root@127.0.0.1:3306/test"
        assert _rows(endpoint, "select database()") == [("test",)]
    assert _rows(endpoint, "select 1") == [(1,)]


# docker-py leaves the socket of a failed engine probe open; collected here
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_docker_provider_without_engine_is_a_clear_error(tmp_path: Path) -> None:
    """The docker plans use the mysql and mariadb images; with no Docker engine, starting
    fails with what to do instead."""
    from splice._internal.services.docker import docker_available

    project = _project(
        tmp_path,
        """
        services:
          a: {kind: mysql, provider: docker, password: pw}
          b: {kind: mariadb, provider: docker, user: root, password: ''}
    """,
    )
    mysql = registry.get("mysql").docker_plan(project.services["a"])  # type: ignore[attr-defined]
    assert mysql.image == "mysql:8" and mysql.port == 3306
    assert mysql.env == {
        "MYSQL_DATABASE": "splice",
        "MYSQL_ROOT_PASSWORD": "pw",
        "MYSQL_USER": "splice",
        "MYSQL_PASSWORD": "pw",
    }
    maria = registry.get("mariadb").docker_plan(project.services["b"])  # type: ignore[attr-defined]
    assert maria.image == "mariadb:11"
    assert maria.env == {"MARIADB_DATABASE": "splice", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "yes"}
    if docker_available() is None:
        pytest.skip("a Docker engine answers here; the container path is exercised instead")
    with Environment(project) as env, pytest.raises(ServiceError) as info:
        env.start()
    gc.collect()
    assert "cannot use the docker provider" in str(info.value)
