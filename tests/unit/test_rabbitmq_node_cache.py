"""The rabbitmq kind's cached node folder: what changes the database a first boot writes
changes its key, and nothing else does; its seal tells a damaged folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splice._internal.services.kinds.rabbitmq import RabbitmqSettings, node_cache
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install

INSTALL = rabbitmq_install.Install(
    server="/usr/lib/rabbitmq/bin/rabbitmq-server",
    ctl=None,
    plugins=None,
    version="3.10.8",
    epmd="/usr/lib/erlang/erts-13.1.5/bin/epmd",
    erl_call=None,
    erl="/usr/bin/erl",
)


def _key(password: str = "pw", secret: str = "machine", **settings: Any) -> str:
    return node_cache.key(INSTALL, RabbitmqSettings(**settings), password, secret)


def test_key_follows_what_the_first_boot_writes() -> None:
    """The login, vhost, plugins and database-shaping config lines change the key."""
    base = _key()
    assert _key() == base
    assert _key(user="shop") != base
    assert _key(password="other") != base
    assert _key(vhost="v") != base
    assert _key(plugins=["rabbitmq_management"]) != base
    assert _key(config={"default_user_tags.administrator": True}) != base
    assert _key(config={"forced_feature_flags_on_init": "[quorum_queue]"}) != base


def test_key_ignores_ports_and_limits() -> None:
    """A port or a limit in `config` does not make a new cached folder per run."""
    base = _key()
    assert _key(config={"management.tcp.port": 15999, "heartbeat": 30}) == base


def test_password_enters_only_through_the_machine_secret() -> None:
    """The same password gives another key on a machine with another secret, so a key
    seen elsewhere says nothing about a password; the node name comes from the key."""
    assert _key(secret="a") != _key(secret="b")
    assert node_cache.node_name(_key()) == f"splice-{_key()[:8]}@localhost"


def test_a_sealed_folder_is_complete_until_a_file_changes(tmp_path: Path) -> None:
    """The manifest a build writes tells a damaged folder before a node boots from it."""
    node = "splice-abc@localhost"
    folder = tmp_path / "made"
    (folder / node).mkdir(parents=True)
    schema = folder / node / "schema.DAT"
    schema.write_bytes(b"schema" * 10)
    (folder / f"{node}-feature_flags").write_text("[quorum_queue].\n")
    assert not node_cache.complete(folder, node)  # not sealed yet
    node_cache.seal(folder)
    assert node_cache.complete(folder, node)
    schema.write_bytes(b"schemA" * 10)  # same size, other bytes
    assert not node_cache.complete(folder, node)
    node_cache.seal(folder)
    (folder / node / "extra.LOG").write_text("x")
    assert not node_cache.complete(folder, node)
    (folder / node / "extra.LOG").unlink()
    (folder / node_cache.MANIFEST).write_text("{not json")
    assert not node_cache.complete(folder, node)
