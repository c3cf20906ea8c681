"""Which tables `truncate` and `snapshot` act on: every table but the migration tables of
common frameworks, narrowed by the project's `data.keep` or `data.only`.

    data:
      isolation: truncate
      keep: [app_users, "directus_*"]     # never emptied (nor restored by snapshot)
      # only: [orders, "order_*"]         # or: only these are emptied

Names are matched case-insensitively, as `table` or `schema.table` (for MySQL the
schema is the database), with shell-style wildcards (`*`, `?`, `[abc]`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Tables in which migration tools record what ran. Emptying one makes the next start of
# the application (or `alembic upgrade`, `flyway migrate`...) run every migration again on
# a schema that has them, so they are kept whatever the isolation mode and whatever
# `only:` says. Names as the tools create them (compared case-insensitively).
MIGRATION_TABLES = frozenset(
    name.lower()
    for name in (
        "alembic_version",  # Alembic
        "django_migrations",  # Django
        "flyway_schema_history",  # Flyway
        "schema_version",  # Flyway before 5
        "databasechangelog",  # Liquibase
        "databasechangeloglock",  # Liquibase
        "knex_migrations",  # knex
        "knex_migrations_lock",  # knex
        "_prisma_migrations",  # Prisma
        "schema_migrations",  # Rails, golang-migrate, Ecto, dbmate
        "ar_internal_metadata",  # Rails
        "directus_migrations",  # Directus
        "sequelizemeta",  # Sequelize (SequelizeMeta)
        "migrations",  # TypeORM, Laravel, MikroORM's default is below
        "mikro_orm_migrations",  # MikroORM
        "typeorm_metadata",  # TypeORM
        "goose_db_version",  # goose
        "__diesel_schema_migrations",  # Diesel
        "_sqlx_migrations",  # SQLx
        "refinery_schema_history",  # refinery
        "__efmigrationshistory",  # Entity Framework Core (__EFMigrationsHistory)
        "doctrine_migration_versions",  # Doctrine Migrations
        "migration_versions",  # Doctrine Migrations before 3
        "phinxlog",  # Phinx, CakePHP
        "pgmigrations",  # node-pg-migrate
        "kysely_migration",  # Kysely
        "kysely_migration_lock",  # Kysely
        "__drizzle_migrations",  # Drizzle
        "gorp_migrations",  # sql-migrate
        "atlas_schema_revisions",  # Atlas
        "_yoyo_migration",  # yoyo-migrations
        "_yoyo_log",  # yoyo-migrations
        "_yoyo_version",  # yoyo-migrations
        "yoyo_lock",  # yoyo-migrations
        "migratehistory",  # peewee-migrate
        "aerich",  # Aerich (Tortoise ORM)
        "piccolo_migration",  # Piccolo
    )
)


@dataclass(frozen=True)
class TableChoice:
    """`keep` or `only` patterns: which tables an isolation empties or restores."""

    keep: tuple[str, ...] = ()
    only: tuple[str, ...] = ()

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TableChoice:
        """The choice a DataManager wrote into a service's state (see `as_state`)."""
        saved = state.get("sql.tables") or {}
        return cls(tuple(saved.get("keep") or ()), tuple(saved.get("only") or ()))

    def as_state(self) -> dict[str, list[str]]:
        return {"keep": list(self.keep), "only": list(self.only)}

    def acts_on(self, schema: str, table: str) -> bool:
        """Whether truncate or snapshot empties and restores this table."""
        if table.lower() in MIGRATION_TABLES:
            return False
        names = (table.lower(), f"{schema}.{table}".lower())
        if self.only and not _matches(names, self.only):
            return False
        return not _matches(names, self.keep)

    def keeps(self, name: str, default_schema: str) -> bool:
        """Whether a table named as in a fixture file (`table` or `schema.table`) is left
        alone."""
        schema, _, table = name.rpartition(".")
        return not self.acts_on(schema or default_schema, table)


def _matches(names: tuple[str, str], patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns for name in names)
