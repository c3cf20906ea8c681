"""A small system under test that, like a headless CMS, writes its own state at start-up.

    DATABASE_URL=postgresql://... PORT=8000 python metadata_app.py   (or mysql://...)

At start-up it runs its "migrations" (tables, and a row per migration in
`app_migrations` and in knex's `knex_migrations`), creates its admin user and role, and
counts its starts in `app_boots`. It then keeps ONE database connection open for as long
as it runs, as an application's pool does. HTTP:

    GET  /health             200
    GET  /login?user=admin   200 {"user": ...} when the user exists, else 401
    POST /items {"title"}    201 {"id": ...}: a row of the testcase's own
    GET  /items              200 {"items": [{"id", "title"}, ...]}
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

URL = os.environ["DATABASE_URL"]
MYSQL = URL.startswith("mysql")
KEY = "int auto_increment primary key" if MYSQL else "serial primary key"

MIGRATIONS = [
    f"create table if not exists app_migrations (id {KEY}, name varchar(80) not null)",
    f"create table if not exists knex_migrations (id {KEY}, name varchar(80) not null)",
    f"create table if not exists app_roles (id {KEY}, name varchar(40) not null unique)",
    f"""create table if not exists app_users (id {KEY}, name varchar(40) not null unique,
        role_id int not null references app_roles (id))""",
    f"create table if not exists app_boots (id {KEY}, at varchar(40))",
    f"""create table if not exists items (id {KEY}, title varchar(80) not null,
        owner_id int references app_users (id))""",
]


def _connect() -> Any:
    if MYSQL:
        import pymysql

        parts = urlsplit(URL)
        return pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username,
            password=parts.password or "",
            database=parts.path.lstrip("/"),
            autocommit=True,
        )
    import psycopg

    return psycopg.connect(URL, autocommit=True)


CONN = _connect()
LOCK = threading.Lock()


def sql(query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with LOCK:
        cur = CONN.cursor()
        cur.execute(query, params or [])
        rows = list(cur.fetchall()) if cur.description else []
        cur.close()
        return rows


def start_up() -> None:
    for statement in MIGRATIONS:
        sql(statement)
    if not sql("select 1 from app_migrations"):
        for name in ("001_init", "002_users", "003_items"):
            sql("insert into app_migrations (name) values (%s)", [name])
            sql("insert into knex_migrations (name) values (%s)", [name])
        sql("insert into app_roles (name) values ('administrator')")
        role = sql("select id from app_roles where name = 'administrator'")[0][0]
        sql("insert into app_users (name, role_id) values ('admin', %s)", [role])
    sql("insert into app_boots (at) values ('start')")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/health":
            self._send(200, {"ok": True})
        elif parts.path == "/login":
            name = parse_qs(parts.query).get("user", [""])[0]
            found = sql("select id, name from app_users where name = %s", [name])
            self._send(200, {"user": found[0][1]}) if found else self._send(401, {})
        elif parts.path == "/items":
            rows = sql("select id, title from items order by id")
            self._send(200, {"items": [{"id": i, "title": t} for i, t in rows]})
        else:
            self._send(404, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        title = json.loads(self.rfile.read(length) or b"{}").get("title", "")
        owner = sql("select id from app_users where name = 'admin'")
        if not owner:
            self._send(401, {"error": "no admin user: the app's own data is gone"})
            return
        sql("insert into items (title, owner_id) values (%s, %s)", [title, owner[0][0]])
        new = sql("select max(id) from items")[0][0]
        self._send(201, {"id": new})

    def log_message(self, *args: Any) -> None:
        pass


if __name__ == "__main__":
    start_up()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
