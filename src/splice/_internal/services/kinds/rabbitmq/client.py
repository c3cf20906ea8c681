"""AMQP 0-9-1 with pika, as the rabbitmq kind and the amqp executor use it.

Connections, URLs, and the broker's refusals translated into one message and a hint
(`AmqpProblem`); the callers raise it as a ServiceError or a StepError. pika is the
optional `amqp` extra, imported only when a connection is made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from splice._internal.services.kind_api import Endpoint

INSTALL_HINT = "install the AMQP driver: pip install 'splice[amqp]'"


class AmqpProblem(Exception):
    """Something the broker or the network refused, in words a user can act on."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def pika_module() -> Any:
    """The pika package, or an AmqpProblem naming the extra to install."""
    try:
        import pika
    except ImportError as exc:
        raise AmqpProblem("the AMQP driver (pika) is not installed", INSTALL_HINT) from exc
    return pika


@dataclass(frozen=True)
class AmqpUrl:
    """The parts of an `amqp://user:password@host:port/vhost` URL (vhost decoded)."""

    host: str
    port: int
    user: str | None
    password: str | None
    vhost: str
    tls: bool


def parse_url(url: str) -> AmqpUrl:
    """Split an AMQP URL as pika reads it: no path or `/` is the vhost `/`."""
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise AmqpProblem(
            f"{redact(url)!r} is not an AMQP URL",
            "write amqp://user:password@host:port/vhost (the vhost `/` is written %2F)",
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return AmqpUrl(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (5671 if parts.scheme == "amqps" else 5672),
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        vhost=unquote(path) if path else "/",
        tls=parts.scheme == "amqps",
    )


def endpoint_for(url: str) -> Endpoint:
    """The endpoint of an AMQP URL; `vhost` and `prefix` are extras."""
    parts = parse_url(url)
    return Endpoint(
        url=url,
        host=parts.host,
        port=parts.port,
        user=parts.user,
        password=parts.password,
        extra={"vhost": parts.vhost, "prefix": ""},
    )


def make_url(host: str, port: int, user: str, password: str, vhost: str) -> str:
    """`amqp://user:password@host:port/vhost`, every part percent-encoded (`/` is %2F)."""
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"amqp://{auth}@{host}:{port}/{quote(vhost, safe='')}"


def with_vhost(url: str, vhost: str) -> str:
    """The same URL pointing at another vhost (the query, if any, is kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, timeout: float = 10.0) -> Any:
    """A pika BlockingConnection to `url`, or an AmqpProblem saying why not.

    Heartbeats are off unless the URL asks for them: a testcase may hold a connection
    idle through a long HTTP step, and a blocking connection only answers heartbeats
    while it is used, so the broker would close it after two missed beats.
    """
    pika = pika_module()
    from pika import exceptions as errors

    params = pika.URLParameters(url)
    given = parse_qs(urlsplit(url).query)
    if "heartbeat" not in given:
        params.heartbeat = 0
    if "socket_timeout" not in given:
        params.socket_timeout = max(0.5, timeout)
    if "blocked_connection_timeout" not in given:
        params.blocked_connection_timeout = max(1.0, timeout)
    params.client_properties = {"connection_name": "splice"}
    target = parse_url(url)
    where = f"{target.host}:{target.port}"
    try:
        return pika.BlockingConnection(params)
    except errors.ProbableAuthenticationError as exc:
        raise AmqpProblem(
            f"the broker at {where} refused the login of user {target.user or 'guest'!r}",
            "check the user and password in the URL; RabbitMQ lets `guest` log in from "
            "localhost only",
        ) from exc
    except errors.ProbableAccessDeniedError as exc:
        raise AmqpProblem(
            f"the broker at {where} refused access to vhost {target.vhost!r}",
            "the vhost may not exist, or the user has no permissions on it",
        ) from exc
    except errors.IncompatibleProtocolError as exc:
        raise AmqpProblem(
            f"{where} does not speak AMQP 0-9-1",
            "is that the broker's AMQP port (5672), not its management or TLS port?",
        ) from exc
    except errors.AMQPConnectionError as exc:
        raise AmqpProblem(
            f"cannot connect to the broker at {where}: {_reason(exc)}",
            "is the broker running and listening on that host and port?",
        ) from exc
    except OSError as exc:
        raise AmqpProblem(
            f"cannot connect to the broker at {where}: {_reason(exc)}",
            "check the host and port in the URL",
        ) from exc


def handshake(url: str, timeout: float = 5.0) -> None:
    """Readiness: a complete AMQP handshake (protocol header, login, vhost open), closed."""
    connection = connect(url, timeout)
    try:
        channel = connection.channel()
        channel.close()
    finally:
        connection.close()


def is_login_problem(problem: AmqpProblem) -> bool:
    """Refusals that waiting will not cure (wrong password, unknown vhost)."""
    return "refused the login" in problem.message or "refused access" in problem.message


def wait_for_handshake(url: str, timeout: float) -> None:
    """Retry the handshake until it succeeds; a login refusal fails at once."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            handshake(url, min(5.0, max(0.5, deadline - time.monotonic())))
            return
        except AmqpProblem as problem:
            if is_login_problem(problem) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def channel_problem(exc: Exception, what: str, *, hint: str | None = None) -> AmqpProblem:
    """A ChannelClosedByBroker (404, 406, 403...) about `what` ("queue 'x'"), explained."""
    code = getattr(exc, "reply_code", None)
    text = str(getattr(exc, "reply_text", "") or exc)
    if code == 404:
        return AmqpProblem(
            f"{what} does not exist ({text})",
            hint or "declare it first, e.g. with a `declare:` step earlier in the testcase",
        )
    if code == 406:
        return AmqpProblem(
            f"{what} exists with other settings ({text})",
            "declare it with the settings it already has (durable, auto_delete, "
            "arguments), or with `passive: true` to only check that it exists",
        )
    if code == 403:
        return AmqpProblem(
            f"the broker refused access to {what} ({text})",
            "names starting with `amq.` are reserved; otherwise the user lacks permissions",
        )
    if code == 405:
        return AmqpProblem(
            f"{what} is locked by another connection ({text})",
            "an exclusive queue belongs to the connection that declared it",
        )
    return AmqpProblem(f"the broker closed the channel while using {what}: {text}")


def _reason(exc: BaseException) -> str:
    """pika wraps the socket error in its own exceptions: find the words a user knows."""
    text = repr(exc)
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if "timed out" in text or "Timeout" in text:
        return "timed out"
    if "Name or service not known" in text or "gaierror" in text:
        return "unknown host (DNS lookup failed)"
    return (str(exc) or type(exc).__name__)[:200]
