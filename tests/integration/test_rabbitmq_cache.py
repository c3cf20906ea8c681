"""The rabbitmq kind's cached, initialised node folder (node_cache.py): made once, copied
for each node, made again when removed or damaged, and made once when two runs want it
at the same time. Each test has a cache folder of its own (SPLICE_CACHE_DIR)."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from splice._internal.environment.services import Environment
from splice._internal.project.loader import load_project
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install
from splice._internal.services.kinds.rabbitmq import node_cache
from splice._internal.services.kinds.rabbitmq.client import handshake

pytestmark = pytest.mark.integration


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    try:
        rabbitmq_install.find("b")
    except Exception:  # noqa: BLE001 - any reason it cannot run here
        pytest.skip("needs a local RabbitMQ")
    folder = tmp_path / "cache"
    monkeypatch.setenv("SPLICE_CACHE_DIR", str(folder))
    return folder


def _project(folder: Path) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "splice.yaml").write_text(
        textwrap.dedent(
            """
            services:
              b: {kind: rabbitmq, user: shop, password: pw}
            """
        ).lstrip()
    )
    return load_project(folder / "splice.yaml")


def _start(folder: Path) -> tuple[str, Path]:
    """Start a node, check it serves AMQP with its login; its name and database folder
    (the copy it ran on, gone after the stop)."""
    with Environment(_project(folder)) as env:
        env.start()
        service = env.services["b"]
        handshake(service.endpoint.url)
        node = str(service.state["rabbitmq.node"])
        database = Path(service.state["rabbitmq.admin"]["home"]).parent / "mnesia"
        # a copy of the sealed cached folder, which the running node has changed since
        assert (database / node / "schema.DAT").is_file()
        assert (database / node_cache.MANIFEST).is_file()
    assert not database.exists()
    return node, database


def _cached(cache_dir: Path) -> list[Path]:
    root = cache_dir / "rabbitmq"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def _leftovers(cache_dir: Path) -> list[str]:
    """Build or discarded folders left in the cache (lock files are kept)."""
    root = cache_dir / "rabbitmq"
    return [p.name for p in root.iterdir() if p.name.startswith(".") and p.is_dir()]


def test_node_starts_from_the_cached_folder_and_it_is_made_again_when_removed(
    tmp_path: Path, cache_dir: Path
) -> None:
    """The first start makes the cached folder; the next one copies it (the folder is
    not made again); removed, it is made again on the next start."""
    node, _ = _start(tmp_path / "p")
    [made] = _cached(cache_dir)
    assert node_cache.complete(made, node)
    schema = made / node / "schema.DAT"
    first = schema.stat().st_ino
    again, _ = _start(tmp_path / "p")
    assert again == node
    assert _cached(cache_dir) == [made] and schema.stat().st_ino == first
    for entry in sorted(made.rglob("*"), reverse=True):
        entry.rmdir() if entry.is_dir() else entry.unlink()
    made.rmdir()
    third, _ = _start(tmp_path / "p")
    assert third == node and _cached(cache_dir) == [made] and node_cache.complete(made, node)
    assert _leftovers(cache_dir) == []


def test_two_first_starts_at_once_make_the_folder_once(tmp_path: Path, cache_dir: Path) -> None:
    """Two runs starting a node at the same time on an empty cache: both nodes serve
    AMQP, one cached folder is made, no build folder is left."""
    results: dict[int, tuple[str, Path]] = {}
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = _start(tmp_path / f"p{n}")
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and sorted(results) == [0, 1]
    assert results[0][0] == results[1][0]  # the same name, from the same folder
    assert results[0][1] != results[1][1]  # each on a copy of its own
    [made] = _cached(cache_dir)
    assert node_cache.complete(made, results[0][0])
    assert _leftovers(cache_dir) == []


@pytest.mark.parametrize("damage", ["garbage schema", "feature flags file gone"])
def test_a_damaged_cached_folder_is_made_again(
    tmp_path: Path, cache_dir: Path, damage: str
) -> None:
    """A cached folder whose database the node cannot start from, or that lacks a file
    a clean shutdown leaves, is discarded and made again: the start still succeeds."""
    node, _ = _start(tmp_path / "p")
    [made] = _cached(cache_dir)
    schema = made / node / "schema.DAT"
    if damage == "garbage schema":
        schema.write_bytes(b"not a schema" * 100)
    else:
        (made / f"{node}-feature_flags").unlink()
    again, _ = _start(tmp_path / "p")
    assert again == node
    [remade] = _cached(cache_dir)
    assert remade == made and node_cache.complete(made, node)
    assert b"not a schema" not in schema.read_bytes()
    assert _leftovers(cache_dir) == []
