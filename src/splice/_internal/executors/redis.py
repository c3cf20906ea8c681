"""The `redis` executor: any Redis command, or several in one round trip.

- redis: {service: cache, command: GET user:1}             # a string is split like a shell
- redis: {service: cache, command: [HSET, user:1, name, Alice]}
- redis:
    service: cache
    commands: [[SET, k, 1], [INCR, k], [GET, k]]           # a pipeline; `values` has each reply
  expect: {values: [OK, 2, "2"]}

Replies are what Redis sent (RESP3 where the server speaks it), not reshaped by a client
library: a hash is a mapping, a missing key is null, `SET` answers `OK`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from splice._internal.errors import StepError
from splice._internal.executors._messages import redact, target
from splice._internal.executors.executor_api import Block, StepContext, StepOutput, block_properties
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError

Arg = str | int | float | bool | dict[str, Any] | list[Any]
_DEFAULT_TIMEOUT = 10.0


class RedisBlock(Block):
    service: str | None = None
    url: str | None = None
    command: str | list[Arg] | None = None
    commands: list[str | list[Arg]] | None = None
    transaction: bool = False  # commands: wrap them in MULTI/EXEC
    timeout: str | float | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one(self) -> RedisBlock:
        if (self.command is None) == (self.commands is None):
            raise HintedValueError(
                "give `command` (one) or `commands` (a pipeline)"
                + (", not both" if self.command is not None else ""),
                "for example `command: GET user:1` or `command: [SET, k, v]`",
            )
        for one in [self.command] if self.command is not None else self.commands or []:
            if not one or (isinstance(one, str) and not one.strip()):
                raise HintedValueError("a command is empty", "for example `GET user:1`")
        if self.transaction and self.commands is None:
            raise HintedValueError(
                "`transaction` wraps `commands` in MULTI/EXEC",
                "remove it, or list the commands under `commands`",
            )
        return self


class RedisExecutor:
    """Runs Redis commands; the result has the reply (`value`) and its `type`."""

    name: ClassVar[str] = "redis"
    # its driver, imported while a run's services start (executors.warming)
    warm_modules: ClassVar[tuple[str, ...]] = ("redis",)
    block_model: ClassVar[type[RedisBlock]] = RedisBlock
    result_fields: ClassVar[dict[str, str]] = {
        "value": "the reply (of the last command of a pipeline); text when it is UTF-8",
        "values": "with `commands`: every reply, in order",
        "type": "the reply's type: string, integer, double, boolean, nil, array, map",
        "json": "the reply parsed as JSON when it is JSON text (null otherwise)",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def shorthand(raw: Any) -> Any:
        """`redis: GET user:1` or `redis: [GET, user:1]` with the project's one Redis."""
        return {"command": raw} if isinstance(raw, str | list) else raw

    @staticmethod
    def shorthand_schema(block: dict[str, Any]) -> list[Any]:
        """`redis: GET user:1` or `redis: [GET, user:1]`: the command alone."""
        return [block_properties(block)["command"]]

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        command = block.get("command")
        if command is None:
            return f"redis pipeline of {len(block.get('commands') or [])}"
        text = command if isinstance(command, str) else " ".join(map(str, command))
        return f"redis {text[:60]}"

    def execute(self, block: RedisBlock, ctx: StepContext) -> StepOutput:
        where = target(ctx, block.service, block.url, ("redis", "rediss", "unix"), "Redis")
        timeout = (
            parse_duration(block.timeout)
            if block.timeout is not None
            else (ctx.timeout or _DEFAULT_TIMEOUT)
        )
        client = _client(ctx, where.url, timeout)
        given = block.commands if block.commands is not None else [block.command]
        commands = [_args(c) for c in given]
        request = {
            "url": redact(where.url),
            "commands" if block.commands else "command": commands
            if block.commands
            else commands[0],
        }
        try:
            if block.commands is None:
                replies = [client.execute_command(*commands[0])]
            else:
                pipe = client.pipeline(transaction=block.transaction)
                for args in commands:
                    pipe.execute_command(*args)
                replies = pipe.execute(raise_on_error=False)
        except Exception as exc:
            raise _explain(exc, where.url, commands[0], timeout) from exc
        for args, reply in zip(commands, replies, strict=True):
            if isinstance(reply, Exception):
                raise StepError(
                    f"Redis refused `{_show(args)}`: {reply}",
                    "check the command's arguments and the key's type",
                )
        values = [_plain(r) for r in replies]
        value = values[-1]
        result = {
            "value": value,
            "values": values if block.commands is not None else None,
            "type": _type(replies[-1]),
            "json": _json(value),
        }
        response = {"value": value, "type": result["type"]}
        if block.commands is not None:
            response["values"] = values
        return StepOutput(result, request, response)


def _args(command: Any) -> list[str]:
    if isinstance(command, str):
        try:
            parts = shlex.split(command)
        except ValueError as exc:
            raise StepError(
                f"cannot split the command {command!r}: {exc}",
                "close the quote, or give the command as a list",
            ) from exc
        return parts
    out = []
    for arg in command:
        if arg is None:
            raise StepError(
                f"a command argument is null in {command!r}",
                "give a value; quote '' for empty text",
            )
        if isinstance(arg, bool | dict | list):
            out.append(json.dumps(arg, ensure_ascii=False))  # structured values as JSON
        else:
            out.append(str(arg))
    return out


def _show(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)[:120]


def _client(ctx: StepContext, url: str, timeout: float) -> Any:
    """One client per URL and timeout for the testcase attempt."""
    key = f"redis.client.{url}.{timeout}"
    client = ctx.session.state.get(key)
    if client is not None:
        return client
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise StepError(
            "the redis executor needs the Redis driver", "pip install 'splice[redis]'"
        ) from exc
    try:
        client = redis.Redis.from_url(
            url,
            protocol=3,
            socket_timeout=timeout,
            socket_connect_timeout=min(timeout, 5.0),
            # no retries: a refused password would be retried for seconds, and a blocking
            # command that times out would wait its whole timeout again
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise StepError(
            f"invalid Redis URL {redact(url)!r}: {exc}", "write redis://[:password@]host:port/db"
        ) from exc
    # splice shows replies as Redis sent them: no reshaping by redis-py's callbacks
    client.response_callbacks.clear()  # the client's own copy of the table
    ctx.session.state[key] = client
    ctx.session.on_close(client.close)
    return client


def _explain(exc: Exception, url: str, args: list[str], timeout: float) -> StepError:
    import redis.exceptions as rex

    if isinstance(exc, rex.AuthenticationError | rex.AuthorizationError):
        return StepError(
            f"Redis at {redact(url)} refused the credentials: {exc}",
            "check the password in the URL or the service's settings",
        )
    if isinstance(exc, rex.TimeoutError):
        return StepError(
            f"Redis did not answer `{_show(args)}` within {timeout:g}s",
            "raise `timeout:`; a blocking command needs a longer one",
        )
    if isinstance(exc, rex.ConnectionError):
        return StepError(
            f"cannot connect to Redis at {redact(url)}: {exc}",
            "is the server running and listening on that host and port?",
        )
    if isinstance(exc, rex.ResponseError):
        return StepError(
            f"Redis refused `{_show(args)}`: {exc}", "check the command's name and arguments"
        )
    return StepError(f"redis step failed: {exc}")


def _plain(reply: Any) -> Any:
    """A reply as plain data for expectations and reports: bytes -> text."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "backslashreplace")
    if isinstance(reply, list | tuple):
        return [_plain(r) for r in reply]
    if isinstance(reply, set | frozenset):
        return sorted((_plain(r) for r in reply), key=str)
    if isinstance(reply, dict):
        return {_key(k): _plain(v) for k, v in reply.items()}
    return reply


def _key(key: Any) -> Any:
    plain = _plain(key)
    return plain if isinstance(plain, str | int | float | bool) or plain is None else str(plain)


def _type(reply: Any) -> str:
    if reply is None:
        return "nil"
    if isinstance(reply, bool):
        return "boolean"
    if isinstance(reply, int):
        return "integer"
    if isinstance(reply, float):
        return "double"
    if isinstance(reply, bytes | str):
        return "string"
    if isinstance(reply, dict):
        return "map"
    if isinstance(reply, set | frozenset):
        return "set"
    return "array"


def _json(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
