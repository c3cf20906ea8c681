"""The `sql` executor: one statement against a database, rows back as plain values.

- sql:
    service: db                      # a service of the project, or url: (any SQLAlchemy URL)
    query: select status from orders where id = :id
    params: {id: "{{ order_id }}"}
  expect: {rows: [{status: pending}], rowcount: 1}
- sql:
    service: db
    query: insert into items (sku, qty) values (:sku, :qty)
    many: [{sku: A, qty: 1}, {sku: B, qty: 2}]

Each testcase attempt has one connection per database, opened on first use. Statements
commit one by one, except when the service's endpoint says `isolation: rollback`: then
the attempt's statements share one transaction, each inside a savepoint (so a failed
statement does not spoil the next), and the transaction is rolled back at the end.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import enum
import functools
import importlib
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, model_validator

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors._watchdog import when_cancelled
from splice._internal.executors.executor_api import Block, StepContext, StepOutput

_SHOWN_ROWS = 20  # rows kept in the step's response for reports
_PG, _MY = ("postgres", "postgresql"), ("mysql", "mariadb")
_DRIVERS = dict.fromkeys(_PG, "postgresql+psycopg") | dict.fromkeys(_MY, "mysql+pymysql")
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql"}  # backend -> splice's extra
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SqlBlock(Block):
    service: str | None = None
    url: str | None = None
    query: str
    params: dict[str, Any] = {}
    many: list[dict[str, Any]] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> SqlBlock:
        if (self.service is None) == (self.url is None):
            raise ValueError("give either `service:` (a service of the project) or `url:`")
        if not self.query.strip():
            raise ValueError("the query is empty")
        return self


def sqlalchemy_url(url: str) -> str:
    """`postgres://` and `mysql://` URLs with the drivers splice installs."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in _DRIVERS else url


@dataclass
class _Target:
    label: str  # "service 'db' (127.0.0.1:5432)" or the URL without its password
    url: str
    rollback: bool


@dataclass
class _Open:
    conn: Any
    transaction: Any = None
    timeout: float | None = None


class SqlExecutor:
    """Runs one statement; the result has rows, rowcount, columns, first and scalar."""

    name: ClassVar[str] = "sql"
    # its driver, imported while a run's services start (executors.warming)
    warm_modules: ClassVar[tuple[str, ...]] = ("sqlalchemy",)
    block_model: ClassVar[type[Block]] = SqlBlock
    result_fields: ClassVar[dict[str, str]] = {
        "rows": "the rows, each a mapping of column to value (empty without a result set)",
        "rowcount": "rows returned, or rows changed by INSERT/UPDATE/DELETE",
        "columns": "column names of the result, in order",
        "first": "the first row (null when there is none)",
        "scalar": "the first column of the first row (null when there is none)",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        where = block.get("service") or "url"
        return f"sql {where}: {' '.join(str(block.get('query', '')).split())[:60]}"

    def execute(self, block: SqlBlock, ctx: StepContext) -> StepOutput:
        from sqlalchemy import exc as sa_exc
        from sqlalchemy import text

        target = _target(block, ctx)
        statement = text(bindable(block.query))
        sets = [{**block.params, **one} for one in block.many or [{}]]
        for values in sets:
            missing = [k for k in statement.compile().params if k not in values]
            if missing:
                raise StepError(
                    f"the query uses :{missing[0]} but no value is given for it",
                    "add it to `params:`" + (" or to every entry of `many:`" if block.many else ""),
                )
        request = {
            "target": target.label,
            "query": block.query,
            "params": block.params or None,
            "many": block.many,
        }
        opened = self._open(target, ctx)
        self._set_timeout(opened, ctx.timeout)
        rows: list[dict[str, Any]] = []
        columns: list[str] = []
        rowcount = 0
        savepoint = opened.conn.begin_nested() if target.rollback else None
        try:
            with when_cancelled(ctx.cancelled, lambda: _cancel(opened.conn)):
                for values in sets:
                    result = opened.conn.execute(statement, _bind(values))
                    if result.returns_rows:
                        columns = list(result.keys())
                        got = [{k: plain(v) for k, v in m.items()} for m in result.mappings()]
                        rows += got
                        rowcount += len(got)
                    elif result.rowcount and result.rowcount > 0:
                        rowcount += result.rowcount
            if savepoint is not None:
                savepoint.commit()
        except sa_exc.SQLAlchemyError as exc:
            if savepoint is not None:
                with contextlib.suppress(Exception):
                    savepoint.rollback()
            raise self._failure(exc, block, target, opened, ctx) from exc
        result_fields = {
            "rows": rows,
            "rowcount": rowcount,
            "columns": columns,
            "first": rows[0] if rows else None,
            "scalar": next(iter(rows[0].values()), None) if rows else None,
        }
        response = {"rowcount": rowcount, "columns": columns, "rows": rows[:_SHOWN_ROWS]}
        return StepOutput(result_fields, request, response)

    # connections -------------------------------------------------------------------------
    def _open(self, target: _Target, ctx: StepContext) -> _Open:
        from sqlalchemy import exc as sa_exc

        state: dict[str, _Open] | None = ctx.session.state.get("sql")
        if state is None:
            state = ctx.session.state["sql"] = {}
            ctx.session.on_close(lambda: _close_all(state))
        key = f"{target.rollback}:{target.url}"
        opened = state.get(key)
        if opened is not None:
            return opened
        engine = _engine(target.url)
        try:
            conn = engine.connect()
        except sa_exc.DBAPIError as exc:
            raise StepError(
                f"cannot connect to {target.label}: {_message(exc)}",
                "check that the service is running and the URL, user and password",
            ) from exc
        if target.rollback:
            opened = _Open(conn, conn.begin())
        else:
            opened = _Open(conn.execution_options(isolation_level="AUTOCOMMIT"))
        state[key] = opened
        return opened

    def _set_timeout(self, opened: _Open, timeout: float | None) -> None:
        """The step's timeout as the server's statement timeout (0 lifts it)."""
        if timeout == opened.timeout:
            return
        from sqlalchemy import text

        seconds = timeout or 0
        dialect = opened.conn.dialect
        if dialect.name == "postgresql":
            opened.conn.execute(text(f"SET statement_timeout = {int(seconds * 1000)}"))
        elif dialect.name == "mysql" and getattr(dialect, "is_mariadb", False):
            opened.conn.execute(text(f"SET SESSION max_statement_time = {seconds:.3f}"))
        elif dialect.name == "mysql":
            opened.conn.execute(text(f"SET SESSION max_execution_time = {int(seconds * 1000)}"))
        opened.timeout = timeout

    def _failure(
        self, exc: Exception, block: SqlBlock, target: _Target, opened: _Open, ctx: StepContext
    ) -> StepError:
        from sqlalchemy import exc as sa_exc

        query = " ".join(block.query.split())
        if ctx.cancelled.is_set():
            return StepInterrupted("interrupted while the query was running")
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            _forget(ctx, opened)
            return StepError(
                f"lost the connection to {target.label}: {_message(exc)}",
                "the server stopped or closed the connection",
            )
        message = _message(exc)
        if ctx.timeout and _timed_out(message):
            return StepError(
                f"the query ran past the step's timeout of {ctx.timeout:g}s\nquery: {query}",
                "raise `timeout:` or make the query faster",
            )
        return StepError(
            f"{message}\nquery: {query}", "check the statement against the database's schema"
        )


@functools.lru_cache(maxsize=32)
def _engine(url: str) -> Any:
    """One engine per URL for the process; NullPool: it holds no connection of its own."""
    from sqlalchemy import create_engine
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    backend = ""
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        args: dict[str, Any] = {"connect_timeout": 10} if backend in _EXTRAS else {}
        if backend == "mysql" and parsed.host in _LOOPBACK and "ssl" not in str(parsed.query):
            args["ssl_disabled"] = True  # PyMySQL makes a TLS context per connection: 25 ms
        return create_engine(url, poolclass=NullPool, connect_args=args)
    except (ImportError, sa_exc.NoSuchModuleError) as exc:
        extra = _EXTRAS.get(backend)
        hint = f"pip install 'splice[{extra}]'" if extra else "install the driver the URL names"
        raise StepError(f"no database driver for this URL: {exc}", hint) from exc
    except sa_exc.ArgumentError as exc:
        raise StepError(f"not a database URL: {exc}", "e.g. postgresql://user:pw@host/db") from exc


def _target(block: SqlBlock, ctx: StepContext) -> _Target:
    if block.url is not None:
        from sqlalchemy.engine import make_url

        url = sqlalchemy_url(block.url)
        try:
            label = make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - reported when the engine is made
            label = url.split("@")[-1]
        return _Target(label, url, False)
    services = ctx.vars.get("services") or {}
    service = services.get(block.service) if isinstance(services, dict) else None
    if not isinstance(service, dict):
        from splice._internal.source.validation import did_you_mean

        known = sorted(services) if isinstance(services, dict) else []
        raise StepError(
            f"no service named {block.service!r}",
            did_you_mean(block.service or "", known)
            or "define it under `services:` in splice.yaml, or give `url:` instead",
        )
    url = service.get("sqlalchemy_url") or sqlalchemy_url(str(service.get("url") or ""))
    label = f"service {block.service!r} ({service.get('host')}:{service.get('port')})"
    return _Target(label, url, service.get("isolation") == "rollback")


# `:name` directly followed by `::type`: SQLAlchemy's text() leaves a name followed by a
# colon unbound (its pattern ends with `(?!:)`), so the cast is moved one space away
_PARAM_BEFORE_CAST = re.compile(r"(?<![:\w\\]):(\w+)(?=::)")


def bindable(query: str) -> str:
    """The query with every `:name::type` written `:name ::type`, so that the parameter is
    bound and the cast still applies (PostgreSQL allows the space)."""
    return _PARAM_BEFORE_CAST.sub(r":\1 ", query)


def _bind(values: dict[str, Any]) -> dict[str, Any]:
    # a mapping goes to a JSON column as JSON text; a list stays a list (arrays, IN)
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()}


def _close_all(state: dict[str, _Open]) -> None:
    for opened in state.values():
        with contextlib.suppress(Exception):
            if opened.transaction is not None:
                opened.transaction.rollback()  # isolation: rollback
        with contextlib.suppress(Exception):
            opened.conn.close()
    state.clear()


def _forget(ctx: StepContext, opened: _Open) -> None:
    """Drop a broken connection, so the attempt's next statement opens a new one."""
    state: dict[str, _Open] = ctx.session.state.get("sql") or {}
    _close_all({k: state.pop(k) for k, v in list(state.items()) if v is opened})


def _message(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    if orig is None:
        return str(exc).split("\n(Background")[0].strip()
    args: tuple[Any, ...] = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1]} (error {args[0]})"  # PyMySQL: (code, message)
    return str(orig).strip()


def _timed_out(message: str) -> bool:
    # PostgreSQL, MariaDB and MySQL say so in these words
    words = ("statement timeout", "max_statement_time", "maximum statement execution time")
    return any(w in message.lower() for w in words)


def _cancel(conn: Any) -> None:
    """Cancel the running statement from another thread (Ctrl-C while a query runs)."""
    raw = conn.connection.dbapi_connection
    if hasattr(raw, "cancel_safe"):
        raw.cancel_safe()  # psycopg
    elif hasattr(raw, "cancel"):
        raw.cancel()
    elif hasattr(raw, "thread_id"):  # PyMySQL: KILL QUERY from a second connection
        pymysql = importlib.import_module("pymysql")
        other = pymysql.connect(
            host=raw.host, port=raw.port, user=raw.user, password=raw.password, connect_timeout=5
        )
        with contextlib.closing(other), other.cursor() as cur:
            cur.execute(f"KILL QUERY {int(raw.thread_id())}")


def plain(value: Any) -> Any:
    """A database value as JSON-friendly data: numbers, text, lists and mappings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    return str(value)  # UUID, IP addresses, ranges: their text form


def _decimal(value: decimal.Decimal) -> int | float | str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and abs(value) < 2**63:
        return int(value)
    as_float = float(value)
    # exact as a float (9.50 -> 9.5): a number; else the digits as text, none lost
    return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
