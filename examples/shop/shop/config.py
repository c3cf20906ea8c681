"""Settings from the environment, the way a twelve-factor service takes them."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    """Where the shop's dependencies are, and how it behaves."""

    database_url: str
    redis_url: str
    amqp_url: str
    port: int = 8000
    host: str = "127.0.0.1"
    ship_delay: float = 0.2  # seconds the worker "works" on an order before shipping it
    kafka_bootstrap: str | None = None  # where shipment events go; none: not published

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        """Read DATABASE_URL, REDIS_URL, AMQP_URL (required), PORT, HOST, SHIP_DELAY and
        KAFKA_BOOTSTRAP;
        exit with a one-line message naming what is missing or wrong."""
        missing = [k for k in ("DATABASE_URL", "REDIS_URL", "AMQP_URL") if not env.get(k)]
        if missing:
            sys.exit(f"shop: set {', '.join(missing)} in the environment")
        try:
            port = int(env.get("PORT", "8000"))
            ship_delay = float(env.get("SHIP_DELAY", "0.2"))
        except ValueError as exc:
            sys.exit(f"shop: PORT must be an integer and SHIP_DELAY a number of seconds ({exc})")
        return cls(
            database_url=_libpq_url(env["DATABASE_URL"]),
            redis_url=env["REDIS_URL"],
            amqp_url=env["AMQP_URL"],
            port=port,
            host=env.get("HOST", "127.0.0.1"),
            ship_delay=ship_delay,
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP") or None,
        )


def _libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's spelling) is `postgresql://...` to libpq."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def configure_logging() -> None:
    """Timestamped lines on stderr (splice keeps them in the service's log)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("pika").setLevel(logging.WARNING)  # it narrates every connection
