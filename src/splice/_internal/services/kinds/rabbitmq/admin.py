"""Creating and deleting vhosts on a node splice started, without AMQP (which cannot).

Three ways were measured (benchmarks/services_rabbitmq.py, docs/reference/services/
rabbitmq.md): `rabbitmqctl` boots an Erlang VM per command (~350 ms each, ~1 s for add +
permissions + delete); the HTTP management API answers in ~10 ms but needs the
management plugin, which adds ~0.5-1 s to the node's start and ~5 s to its stop;
`erl_call`, a small C program shipped with Erlang, speaks the distribution protocol to the
node's private distribution port and evaluates one expression there: ~5 ms. splice uses
`erl_call` and falls back to `rabbitmqctl` where Erlang ships without it.

The state needed (paths, the node's address) is plain data kept in RunningService.state,
so a `splice up` environment reused by a later `splice run` can still do it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

_TIMEOUT = 60.0


class AdminError(Exception):
    """The node did not do what was asked; the message holds its answer."""


def _binary(text: str) -> str:
    """An Erlang binary literal of `text`'s UTF-8 bytes (no quoting to get wrong)."""
    return "<<" + ",".join(str(b) for b in text.encode()) + ">>"


def admin_state(
    *,
    node: str,
    dist_port: int,
    home: str,
    erl_call: str | None,
    ctl: str | None,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """What `add_vhost`/`delete_vhost` need, as JSON-able data."""
    return {
        "node": node,
        "address": f"127.0.0.1:{dist_port}",
        "home": home,
        "erl_call": erl_call,
        "ctl": ctl,
        # rabbitmqctl reads the node's environment (epmd port, cookie in HOME)
        "env": {k: v for k, v in env.items() if k.startswith(("RABBITMQ_", "ERL_")) or k == "HOME"},
    }


def add_vhost(state: Mapping[str, Any], vhost: str, user: str) -> None:
    """Create `vhost` and give `user` every permission on it."""
    if state.get("erl_call"):
        v, u, all_ = _binary(vhost), _binary(user), _binary(".*")
        _evaluate(
            state,
            f"_ = rabbit_vhost:add({v}, {u}), "
            f"_ = rabbit_auth_backend_internal:set_permissions({u}, {v}, {all_}, {all_}, "
            f"{all_}, {u}), "
            f"true = rabbit_vhost:exists({v}), splice_ok.",
        )
        return
    _ctl(state, "add_vhost", vhost)
    _ctl(state, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")


def delete_vhost(state: Mapping[str, Any], vhost: str, user: str) -> None:
    """Delete `vhost` with its queues, exchanges and messages."""
    if state.get("erl_call"):
        v = _binary(vhost)
        _evaluate(
            state,
            f"_ = rabbit_vhost:delete({v}, {_binary(user)}), "
            f"false = rabbit_vhost:exists({v}), splice_ok.",
        )
        return
    _ctl(state, "delete_vhost", vhost)


def _evaluate(state: Mapping[str, Any], expression: str) -> None:
    # The cookie is read from $HOME/.erlang.cookie, the node's private one: it never
    # appears on a command line where `ps` would show it.
    env = {"HOME": str(state["home"]), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    try:
        done = subprocess.run(
            [str(state["erl_call"]), "-address", str(state["address"]), "-e"],
            input=expression + "\n",  # erl_call reads forms ending in `.` and a newline
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AdminError(f"erl_call failed: {exc}") from exc
    if done.returncode != 0 or "splice_ok" not in done.stdout:
        raise AdminError((done.stdout + done.stderr).strip()[-500:] or "no answer")


def _ctl(state: Mapping[str, Any], *args: str) -> None:
    env = {**os.environ, **dict(state.get("env") or {})}
    try:
        done = subprocess.run(
            [str(state["ctl"]), "-n", str(state["node"]), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AdminError(f"rabbitmqctl failed: {exc}") from exc
    if done.returncode != 0:
        raise AdminError((done.stdout + done.stderr).strip()[-500:] or "no answer")
