"""Isolation that keeps the application's own state: `snapshot` (the database as it was
once every service, the system under test included, had started), `keep:`/`only:` for
`truncate`, and the migration tables of common frameworks kept whatever the mode.
PostgreSQL and MariaDB started by splice's local providers; the system under test is
tests/support/metadata_app.py, which writes its users, roles and migrations at start-up
and stays connected."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from splice._internal.data.tables import MIGRATION_TABLES
from splice._internal.environment.isolation import DataManager
from splice._internal.environment.services import Environment
from splice._internal.errors import SuiteError
from splice._internal.project.loader import load_project

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

APP = Path(__file__).parent.parent / "support" / "metadata_app.py"
KINDS = ["postgres", "mariadb"]


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body).lstrip())


def _app_project(kind: str, data: str) -> str:
    return f"""
        services:
          db: {{kind: {kind}}}
          app:
            kind: process
            command: [{sys.executable!r}, {str(APP)!r}]
            env: {{PORT: "{{{{ port }}}}", DATABASE_URL: "{{{{ services.db.url }}}}"}}
            ready: {{http: /health}}
            depends_on: [db]
        data:
          {data}
    """


# each testcase logs in as the app's own admin, writes through the app, sees only its own
# row with the first id, and meddles with the app's data, which the next one finds back
CASE = """
  - name: case {n}
    steps:
      - http: {{get: "{{{{ services.app.url }}}}/login?user=admin"}}
        expect: {{status: 200, json: {{user: admin}}}}
      - http: {{post: "{{{{ services.app.url }}}}/items", json: {{title: t{n}}}}}
        expect: {{status: 201, json: {{id: 1}}}}
      - http: {{get: "{{{{ services.app.url }}}}/items"}}
        expect: {{json: {{items: [{{id: 1, title: t{n}}}]}}}}
      - sql: {{service: db, query: "select count(*) from app_boots"}}
        expect: {{scalar: 1}}
      - sql: {{service: db, query: "select count(*) from app_migrations"}}
        expect: {{scalar: 3}}
      - sql: {{service: db, query: "update app_roles set name = 'gone'"}}
      - sql: {{service: db, query: "delete from items"}}
      - sql: {{service: db, query: "delete from app_users"}}
      - sql: {{service: db, query: "insert into knex_migrations (name) values ('by a test')"}}
"""


def _run(tmp_path: Path, splice_cli: Any, kind: str, data: str) -> tuple[Any, list[str]]:
    _write(
        tmp_path,
        {
            "splice.yaml": _app_project(kind, data),
            "s.splice.yaml": "name: s\ntestcases:" + "".join(CASE.format(n=n) for n in range(3)),
        },
    )
    result = splice_cli("run", "--no-store", "--json", "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = [tc["status"] for s in report["suites"] for tc in s["testcases"]]
    return result, statuses


@pytest.mark.parametrize("kind", KINDS)
def test_snapshot_keeps_what_the_app_wrote_at_start_up(
    tmp_path: Path, splice_cli: Any, kind: str
) -> None:
    """With `isolation: snapshot`, every testcase can log in as the user the app created
    at start-up, gets id 1 for its first row (sequences and AUTO_INCREMENT are put back),
    sees none of the rows of the testcase before, and finds the app's users and roles
    back after a testcase deleted and renamed them, while the app stays connected."""
    result, statuses = _run(tmp_path, splice_cli, kind, "isolation: snapshot")
    assert statuses == ["passed"] * 3, result.output


@pytest.mark.parametrize("kind", KINDS)
def test_truncate_empties_the_apps_own_tables_unless_kept(
    tmp_path: Path, splice_cli: Any, kind: str
) -> None:
    """`truncate` empties the app's own tables too (its users among them), so the testcase
    after the first cannot log in: what `snapshot` is for."""
    result, statuses = _run(tmp_path, splice_cli, kind, "isolation: truncate")
    assert statuses == ["passed", "failed", "failed"], result.output
    assert "expected 200, got 401" in result.output


def _direct(kind: str, mode: str, data: str = "") -> str:
    return f"""
        services:
          db: {{kind: {kind}, init: [schema.sql]}}
        data:
          isolation: {mode}
          fixtures: {{db: [rows.yaml]}}
          {data}
    """


def _schema(kind: str) -> str:
    key = "serial primary key" if kind == "postgres" else "int auto_increment primary key"
    q = '"' if kind == "postgres" else "`"
    tables = ["alpha", "beta", "gamma", "audit_log"]
    # every migration table, with the tools' own spelling where it differs
    spelled = {"sequelizemeta": "SequelizeMeta", "__efmigrationshistory": "__EFMigrationsHistory"}
    migrations = [spelled.get(name, name) for name in sorted(MIGRATION_TABLES)]
    return "\n".join(
        f"create table {q}{name}{q} (id {key}, note varchar(20));"
        for name in [*tables, *migrations]
    )


def _rows() -> str:
    return "\n".join(f"{t}: [{{note: fixture}}]" for t in ("alpha", "beta", "gamma", "audit_log"))


@pytest.fixture(params=KINDS)
def direct(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Start one database of a kind with four tables and every migration table; returns
    a function(mode, data) -> (manager, query(sql) -> rows)."""
    kind = request.param
    started: list[Environment] = []

    def start(mode: str, data: str = "") -> tuple[DataManager, Any]:
        folder = tmp_path / f"{mode}{len(started)}"
        _write(
            folder,
            {
                "splice.yaml": _direct(kind, mode, data),
                "schema.sql": _schema(kind),
                "rows.yaml": _rows(),
            },
        )
        project = load_project(folder / "splice.yaml")
        env = Environment(project)
        started.append(env)
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        return manager, _query(kind, env.services["db"].endpoint.url)

    yield start
    for env in started:
        env.stop()


def _query(kind: str, url: str) -> Any:
    def run(sql: str) -> list[tuple[Any, ...]]:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                cur = conn.execute(sql)
                return list(cur.fetchall()) if cur.description else []
        import pymysql
        from sqlalchemy.engine import make_url

        u = make_url(url)
        conn = pymysql.connect(
            host=u.host,
            port=u.port,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
        )
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    return run


def _one_attempt(manager: DataManager, query: Any, statements: list[str]) -> None:
    hold = manager.hold(manager.modes)
    for statement in statements:
        query(statement)
    hold.release()


def test_truncate_keep_and_only_choose_the_tables(direct: Any) -> None:
    """`keep:` leaves the named tables (a wildcard too) as the testcase left them and
    empties the rest; `only:` empties just the named ones; fixtures come back either
    way."""
    manager, query = direct("truncate", "keep: [alpha, 'gam*']")
    _one_attempt(
        manager,
        query,
        ["insert into alpha (note) values ('test')", "insert into beta (note) values ('test')"],
    )
    assert query("select note from alpha order by id") == [("fixture",), ("test",)]
    assert query("select note from beta") == [("fixture",)]
    manager, query = direct("truncate", "only: [beta]")
    _one_attempt(
        manager,
        query,
        ["insert into alpha (note) values ('test')", "insert into beta (note) values ('test')"],
    )
    assert query("select note from alpha order by id") == [("fixture",), ("test",)]
    assert query("select note from beta") == [("fixture",)]


@pytest.mark.parametrize("mode", ["truncate", "snapshot"])
def test_migration_tables_are_kept_whatever_the_mode(direct: Any, mode: str) -> None:
    """Every migration table of the common frameworks (Alembic, Django, Flyway, Liquibase,
    knex, Prisma, Rails, Directus, Sequelize, TypeORM, goose, Diesel, ...) keeps the rows
    a testcase wrote, even under `only:` naming one; the other tables are put back."""
    manager, query = direct(mode, "only: [alpha, alembic_version]")
    q = '"' if "postgres" in str(manager.env.services["db"].spec.kind) else "`"
    spelled = {"sequelizemeta": "SequelizeMeta", "__efmigrationshistory": "__EFMigrationsHistory"}
    names = [spelled.get(n, n) for n in sorted(MIGRATION_TABLES)]
    _one_attempt(
        manager,
        query,
        [
            "insert into alpha (note) values ('test')",
            *(f"insert into {q}{n}{q} (note) values ('ran')" for n in names),
        ],
    )
    assert query("select note from alpha") == [("fixture",)]
    for name in names:
        assert query(f"select note from {q}{name}{q}") == [("ran",)], name


def test_snapshot_puts_back_only_what_changed(direct: Any) -> None:
    """A snapshot restore leaves tables the testcase did not touch as they are (the same
    row versions on PostgreSQL) and puts back inserted, updated and deleted rows."""
    manager, query = direct("snapshot")
    kind = manager.env.services["db"].spec.kind
    version = "select xmin::text from alpha" if kind == "postgres" else "select 1 from alpha"
    before = query(version)
    _one_attempt(
        manager,
        query,
        [
            "insert into beta (note) values ('test')",
            "update gamma set note = 'x'",
            "delete from audit_log",
        ],
    )
    assert query(version) == before
    for table in ("alpha", "beta", "gamma", "audit_log"):
        assert query(f"select id, note from {table}") == [(1, "fixture")], table
    query("insert into beta (note) values ('next')")
    assert query("select max(id) from beta") == [(2,)]  # the sequence was put back too


def test_keep_and_only_together_is_a_located_error(tmp_path: Path) -> None:
    """`keep:` and `only:` together point at `only:` in splice.yaml."""
    _write(
        tmp_path,
        {"splice.yaml": "data:\n  isolation: truncate\n  keep: [a]\n  only: [b]\n"},
    )
    with pytest.raises(SuiteError) as caught:
        load_project(tmp_path / "splice.yaml")
    problem = caught.value.diagnostics[0]
    assert "give `keep`" in problem.message
    assert problem.span is not None and (problem.span.line, problem.span.column) == (4, 9)


def test_pytest_tests_through_the_app_get_the_snapshot_back(pytester: pytest.Pytester) -> None:
    """In pytest, a test that takes the app (`splice_app`) gets the app's database put
    back to the snapshot after it, as a testcase of `splice run` does: every test logs
    in and sees its own item with id 1."""
    (pytester.path / "splice.yaml").write_text(
        textwrap.dedent(_app_project("postgres", "isolation: snapshot")).lstrip()
    )
    pytester.makepyfile(
        test_app="""
        import httpx, pytest

        @pytest.mark.parametrize("n", range(3))
        def test_through_the_app(splice_app, n):
            assert httpx.get(f"{splice_app.url}/login", params={"user": "admin"}).status_code == 200
            made = httpx.post(f"{splice_app.url}/items", json={"title": f"t{n}"})
            assert made.json() == {"id": 1}
            assert [i["title"] for i in httpx.get(f"{splice_app.url}/items").json()["items"]] == [f"t{n}"]
            httpx.post(f"{splice_app.url}/items", json={"title": "more"})

        def test_and_the_database_itself(splice_db):
            import psycopg
            with psycopg.connect(splice_db.url) as conn:
                assert conn.execute("select count(*) from items").fetchone()[0] == 0
                assert conn.execute("select count(*) from app_users").fetchone()[0] == 1
                conn.execute("delete from app_users")
        """
    )
    pytester.runpytest().assert_outcomes(passed=4)


PG_SCHEMA = """
create schema app;
create table app.nodes (id int generated always as identity primary key,
                        parent_id int references app.nodes (id), name text,
                        name_len int generated always as (length(name)) stored);
create table a (id int primary key, b_id int);
create table b (id int primary key, a_id int references a (id));
alter table a add foreign key (b_id) references b (id);
create table events (id serial, at date not null, note text) partition by range (at);
create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01');
create table audit (id serial primary key, what text);
create table zeta (id serial primary key, note text);
create function log_insert() returns trigger language plpgsql as
  $$ begin insert into audit (what) values (tg_table_name); return new; end $$;
create trigger zeta_audit after insert on zeta for each row execute function log_insert();
create sequence tickets;
-- what the application writes at start-up
insert into app.nodes (name) values ('root');
insert into app.nodes (parent_id, name) values (1, 'child');
insert into a values (1, null);
insert into b values (1, 1);
update a set b_id = 1;
insert into events (at, note) values ('2024-05-01', 'launch');
insert into zeta (note) values ('first');
select nextval('tickets'), nextval('tickets');
"""

PG_STATE = {
    "select id, parent_id, name, name_len from app.nodes order by id": [
        (1, None, "root", 4),
        (2, 1, "child", 5),
    ],
    "select a.id, a.b_id, b.a_id from a join b on b.id = a.b_id": [(1, 1, 1)],
    "select at::text, note from events": [("2024-05-01", "launch")],
    "select what from audit": [("zeta",)],
    "select note from zeta": [("first",)],
}


def test_snapshot_restores_identity_generated_cycles_partitions_without_triggers(
    tmp_path: Path,
) -> None:
    """PostgreSQL snapshot: identity (GENERATED ALWAYS) and generated columns, a
    self-reference, two tables that reference each other, a partitioned table, another
    schema, a sequence of no table; the application's trigger does not fire on the
    restore, and every sequence gives the next value after start-up again."""
    _write(
        tmp_path,
        {
            "splice.yaml": "services:\n  db: {kind: postgres, init: [schema.sql]}\n"
            "data: {isolation: snapshot}\n",
            "schema.sql": PG_SCHEMA,
        },
    )
    project = load_project(tmp_path / "splice.yaml")
    with Environment(project) as env:
        env.start()
        manager = DataManager(env, project)
        manager.prepare()
        query = _query("postgres", env.services["db"].endpoint.url)
        for _ in range(2):
            _one_attempt(
                manager,
                query,
                [
                    "insert into app.nodes (parent_id, name) values (2, 'leaf')",
                    "update a set b_id = null",
                    "delete from b",
                    "delete from a",
                    "insert into events (at, note) values ('2024-06-01', 'more')",
                    "insert into zeta (note) values ('second')",
                    "select nextval('tickets')",
                ],
            )
            for sql, rows in PG_STATE.items():
                assert query(sql) == rows, sql
        assert query("select nextval('tickets')") == [(3,)]
        assert query("insert into app.nodes (name) values ('new') returning id") == [(3,)]
        assert query("insert into zeta (note) values ('n') returning id") == [(2,)]


def test_snapshot_without_superuser_restores_everything_in_foreign_key_order(
    tmp_path: Path,
) -> None:
    """A user that may not set `session_replication_role` (an external server's
    ordinary user) still gets the snapshot back: every table emptied and copied back,
    referenced tables first."""
    import psycopg

    _write(tmp_path, {"splice.yaml": "services:\n  db: {kind: postgres}\n"})
    project = load_project(tmp_path / "splice.yaml")
    with Environment(project) as env:
        env.start()
        admin = env.services["db"].endpoint
        with psycopg.connect(admin.url, autocommit=True) as conn:
            conn.execute("create role plain login password 'plain-pw'")
            conn.execute("create database plaindb owner plain")
        url = f"postgresql://plain:plain-pw@127.0.0.1:{admin.port}/plaindb"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table z_parent (id serial primary key, name text)")
            conn.execute(
                "create table a_child (id serial primary key, "
                "parent_id int not null references z_parent (id))"
            )
            conn.execute("insert into z_parent (name) values ('p')")
            conn.execute("insert into a_child (parent_id) values (1)")
        _write(
            tmp_path / "ext",
            {
                "splice.yaml": f"services:\n  db: {{url: '{url}', kind: postgres, "
                "isolation: snapshot}\n"
            },
        )
        ext_project = load_project(tmp_path / "ext" / "splice.yaml")
        with Environment(ext_project) as ext:
            ext.start()
            manager = DataManager(ext, ext_project)
            manager.prepare()
            query = _query("postgres", url)
            _one_attempt(
                manager,
                query,
                [
                    "insert into z_parent (name) values ('q')",
                    "insert into a_child (parent_id) values (2)",
                    "delete from a_child where id = 1",
                ],
            )
            assert query("select id, name from z_parent") == [(1, "p")]
            assert query("select id, parent_id from a_child") == [(1, 1)]
            assert query("insert into z_parent (name) values ('r') returning id") == [(2,)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_restore_that_fails_is_that_testcases_error_and_the_run_goes_on(
    tmp_path: Path, splice_cli: Any, kind: str
) -> None:
    """A testcase that drops a table the snapshot holds: the rest is restored, that
    testcase is an error saying which table is gone and why (with a hint), and the next
    testcases run and pass, their own rows removed."""
    _write(
        tmp_path,
        {
            "splice.yaml": f"services:\n  db: {{kind: {kind}, init: [schema.sql]}}\n"
            "data: {isolation: snapshot}\n",
            "schema.sql": "create table notes (id serial primary key, who text);\n"
            "create table other (id serial primary key, who text);",
            "s.splice.yaml": """
                name: s
                testcases:
                  - name: drops a table
                    steps:
                      - sql: {service: db, query: "drop table notes"}
                  - name: runs after it
                    steps:
                      - sql: {service: db, query: "insert into other (who) values ('me')"}
                  - name: and finds its rows gone
                    steps:
                      - sql: {service: db, query: "select count(*) from other"}
                        expect: {scalar: 0}
            """,
        },
    )
    result = splice_cli("run", "--no-store", "--json", "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = [tc["status"] for s in report["suites"] for tc in s["testcases"]]
    assert statuses == ["error", "passed", "passed"], result.output
    assert "notes" in result.output and "of the snapshot no longer exist" in result.output
    assert result.exit_code == 1
