"""One paho-mqtt connection per broker URL and testcase attempt, with subscriptions that
route each message to the inboxes whose topic filter matches it.

paho runs its network loop in its own thread (`loop_start`); steps wait on events and
inboxes. Every subscribe waits for the broker's SUBACK, so a message published after the
step returns is never missed.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors._messages import Inbox, decode, redact, strip
from splice._internal.executors.executor_api import StepContext


class MqttConnection:
    """A connected paho client and the routes of its subscriptions."""

    def __init__(self, url: str, timeout: float) -> None:
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError as exc:
            raise StepError(
                "the mqtt executor needs the MQTT driver", "pip install 'splice[mqtt]'"
            ) from exc
        self._mqtt = mqtt
        self.url = url
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise StepError(f"{url!r} is not an MQTT URL", "write mqtt://host:port")
        tls = parts.scheme in ("mqtts", "ssl")
        self._lock = threading.Condition()
        self._routes: list[tuple[str, str, Inbox]] = []  # (filter, prefix, inbox)
        self._acks: dict[int, list[int]] = {}
        self._connected: int | None = None  # reason code of CONNACK
        self._reason: Any = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"splice-{secrets.token_hex(6)}",
            clean_session=True,
            reconnect_on_failure=False,
        )
        if parts.username:
            client.username_pw_set(
                unquote(parts.username), unquote(parts.password) if parts.password else None
            )
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client
        host, port = parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883)
        try:
            client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise StepError(
                f"cannot connect to MQTT at {redact(url)}: {exc.strerror or exc}",
                "is the broker running on that host and port?",
            ) from exc
        sock = client.socket()
        if isinstance(sock, socket.socket):
            # small packets at once: with Nagle on, every acknowledged publish and every
            # SUBACK waits ~40 ms for the peer's delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.loop_start()
        with self._lock:
            self._lock.wait_for(lambda: self._connected is not None, timeout)
            code = self._connected
        if code != 0:
            self.close()
            reason = "no CONNACK in time" if code is None else str(self._reason)
            raise StepError(
                f"MQTT broker at {redact(url)} refused the connection: {reason}",
                "check the user and password in the URL or the service",
            )

    # paho callbacks (its network thread) -------------------------------------------------
    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            self._reason = reason
            self._connected = 0 if not reason.is_failure else int(reason.value)
            self._lock.notify_all()

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        with self._lock:
            self._acks[mid] = [int(r.value) for r in reasons]
            self._lock.notify_all()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            routes = list(self._routes)
        for topic_filter, prefix, inbox in routes:
            if self._mqtt.topic_matches_sub(topic_filter, msg.topic):
                text, parsed = decode(msg.payload)
                inbox.put(
                    {
                        "topic": strip(prefix, msg.topic),
                        "payload": text,
                        "json": parsed,
                        "qos": msg.qos,
                        "retain": bool(msg.retain),
                    }
                )

    # used by steps ----------------------------------------------------------------------
    def subscribe(
        self, topic_filter: str, prefix: str, qos: int, timeout: float, ctx: StepContext
    ) -> Inbox:
        inbox = Inbox()
        with self._lock:  # routed before SUBSCRIBE goes out: retained messages come at once
            self._routes.append((topic_filter, prefix, inbox))
        try:
            code, mid = self.client.subscribe(topic_filter, qos=qos)
        except ValueError as exc:
            self.unsubscribe(topic_filter, inbox, send=False)
            raise StepError(
                f"invalid topic filter {topic_filter!r}",
                "# may only come last and + must fill a whole level, "
                "e.g. sensors/+/temp or sensors/#",
            ) from exc
        if code != 0 or mid is None:
            self.unsubscribe(topic_filter, inbox)
            raise StepError(
                f"cannot subscribe to {topic_filter!r}: {self._mqtt.error_string(code)}"
            )
        granted = self._wait(lambda: self._acks.pop(mid, None), timeout, ctx)
        if granted is None or any(g >= 0x80 for g in granted):
            self.unsubscribe(topic_filter, inbox)
            raise StepError(
                f"the broker refused the subscription to {topic_filter!r}"
                if granted
                else f"no SUBACK for {topic_filter!r} within {timeout:g}s",
                "check the topic filter (# only last, + a whole level) and ACLs",
            )
        return inbox

    def unsubscribe(self, topic_filter: str, inbox: Inbox, *, send: bool = True) -> None:
        with self._lock:
            self._routes = [r for r in self._routes if r[2] is not inbox]
            still_used = any(r[0] == topic_filter for r in self._routes)
        if send and not still_used and self.client.is_connected():
            self.client.unsubscribe(topic_filter)

    def publish(
        self, topic: str, data: bytes, *, qos: int, retain: bool, timeout: float, ctx: StepContext
    ) -> None:
        try:
            info = self.client.publish(topic, data, qos=qos, retain=retain)
        except ValueError as exc:
            raise StepError(
                f"invalid topic {topic!r}: {exc}", "a topic to publish on has no wildcards (+ or #)"
            ) from exc
        if info.rc != 0:
            raise StepError(f"cannot publish to {topic!r}: {self._mqtt.error_string(info.rc)}")
        deadline = time.monotonic() + timeout
        while not info.is_published():  # qos 0: written to the socket; 1 and 2: acknowledged
            if time.monotonic() >= deadline:
                raise StepError(
                    f"the broker did not acknowledge the message on {topic!r} within {timeout:g}s"
                )
            if ctx.cancelled.is_set():
                raise StepInterrupted("interrupted while publishing")
            info.wait_for_publish(0.05)

    def _wait(self, probe: Any, timeout: float, ctx: StepContext) -> Any:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = probe()
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if ctx.cancelled.is_set():
                    raise StepInterrupted("interrupted while waiting for the broker")
                self._lock.wait(min(left, 0.05))

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def connection_for(ctx: StepContext, url: str, timeout: float) -> MqttConnection:
    """The attempt's connection to `url`, made on first use and closed with the attempt."""
    key = f"mqtt.connection.{url}"
    found: MqttConnection | None = ctx.session.state.get(key)
    if found is None:
        found = MqttConnection(url, timeout)
        ctx.session.state[key] = found
        ctx.session.on_close(found.close)
    return found
