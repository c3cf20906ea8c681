"""Isolation as fixtures: a test's own database (template clone, truncate, rollback), a
flushed Redis, a private vhost; the same isolation for suite items. Real servers started
by splice's kinds; a kind not yet importable skips its test."""

from __future__ import annotations

import pytest

from tests.integration.test_pytest_plugin import app_project

pytest_plugins = ["pytester"]


def test_postgres_template_truncate_and_rollback_per_test(pytester: pytest.Pytester) -> None:
    """template: each test gets its own clone of the loaded database; truncate: what a
    test wrote is gone for the next; rollback: the shared database, marked for rollback."""
    pytest.importorskip("splice._internal.services.kinds.postgres")
    pytest.importorskip("psycopg")
    (pytester.path / "schema.sql").write_text(
        "create table items (id serial primary key, name text not null);\n"
        "insert into items (name) values ('seed');\n"
    )
    db = "{kind: postgres, database: shop, init: [schema.sql], isolation: %s}"
    app_project(
        pytester,
        services=f"""
        tpl: {db % "template"}
        trunc: {db % "truncate"}
        roll: {db % "rollback"}
        """,
    )
    pytester.makepyfile(
        test_db="""
        import psycopg, pytest

        def count_and_add(url, name="mine"):
            with psycopg.connect(url) as conn:
                count = conn.execute("select count(*) from items").fetchone()[0]
                conn.execute("insert into items (name) values (%s)", [name])
            return count

        def mine(url):
            with psycopg.connect(url) as conn:
                return conn.execute("select count(*) from items where name = 'mine'").fetchone()[0]

        names = set()

        @pytest.mark.parametrize("n", range(3))
        def test_template(splice_tpl, splice_env, n):
            assert splice_tpl.isolation == "template"
            assert splice_tpl.database != splice_env.services["tpl"].database
            names.add(splice_tpl.database)
            assert count_and_add(splice_tpl.url) == 1

        def test_clones_were_distinct():
            assert len(names) == 3

        @pytest.mark.parametrize("n", range(2))
        def test_truncate(splice_trunc, n):
            assert splice_trunc.isolation == "truncate"
            assert mine(splice_trunc.url) == 0  # emptied after the test before
            count_and_add(splice_trunc.url)

        def test_rollback(splice_roll, splice_env):
            assert splice_roll.isolation == "rollback"
            assert splice_roll["isolation"] == "rollback"
            assert splice_roll.database == splice_env.services["roll"].database

        def test_the_template_database_itself_is_untouched(splice_env):
            with psycopg.connect(splice_env.services["tpl"].url) as conn:
                assert conn.execute("select count(*) from items").fetchone()[0] == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=8)


def test_redis_is_flushed_after_each_test_and_each_suite_testcase(
    pytester: pytest.Pytester,
) -> None:
    """A test and a suite testcase each start with an empty Redis."""
    pytest.importorskip("splice._internal.services.kinds.redis")
    pytest.importorskip("redis")
    app_project(
        pytester,
        services="cache: {kind: redis, isolation: flush}",
        extra="suites: [suites/*.splice.yaml]",
    )
    pytester.makepyfile(
        test_cache="""
        import pytest, redis

        @pytest.mark.parametrize("n", range(2))
        def test_empty(splice_cache, n):
            client = redis.Redis.from_url(splice_cache.url)
            assert client.dbsize() == 0
            client.set("left", "behind")
        """
    )
    step = "      - redis: {service: cache, command: %s}\n        expect: {value: %s}\n"
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "c.splice.yaml").write_text(
        "name: c\ntestcases:\n"
        + "".join(
            f"  - name: case {n}\n    steps:\n" + step % ("DBSIZE", 0) + step % ("SET k v", "OK")
            for n in (1, 2)
        )
    )
    pytester.runpytest().assert_outcomes(passed=4)


def test_rabbitmq_gives_each_test_a_private_vhost(pytester: pytest.Pytester) -> None:
    """Each test gets its own vhost on the broker."""
    pytest.importorskip("splice._internal.services.kinds.rabbitmq")
    app_project(pytester, services="bus: {kind: rabbitmq, isolation: vhost}")
    pytester.makepyfile(
        test_bus="""
        hosts = set()

        def test_one(splice_bus):
            hosts.add(splice_bus.url)

        def test_two(splice_bus, splice_env):
            hosts.add(splice_bus.url)
            assert len(hosts) == 2
            assert splice_env.services["bus"].url not in hosts
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
