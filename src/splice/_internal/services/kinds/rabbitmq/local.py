"""A private RabbitMQ node: its own name, ports, cookie, epmd and tmpfs folder.

Nothing is shared with the machine's own broker or another splice run:

- the node is `splice-<key>@localhost`, the name of its cached initialised database
  (node_cache.py); AMQP, distribution and epmd ports are reserved through Resources; its
  files (a copy of that database, logs, config, cookie in a private HOME) live in one
  temporary folder on tmpfs;
- it registers with an epmd of its own on a private port (ERL_EPMD_PORT), spawned and
  stopped with it. The machine's shared epmd (4369) is never used and never started,
  so no daemon outlives the run, even on a machine that had none;
- /etc/rabbitmq (rabbitmq-env.conf, rabbitmq.conf, enabled_plugins) is not read.

Start time (docs/reference/services/rabbitmq.md, benchmarks/services_rabbitmq.py, which
also times each phase from the node's log): a plain `rabbitmq-server` is ready in ~3.9 s
on a quiet 2-core machine. What splice does instead: a plugins folder holding only the
applications the broker needs; `erl` started directly with the script's arguments (no
shells, and no ERL_LIBS of the whole plugins folder, ~70 more folders on the code path);
one folder of links to every module the node loads, first on the code path, so that none
of the ~950 modules it loads at boot is looked for in ~100 folders in turn; Erlang
distribution started at boot with `-sname`, so the broker skips its one-off "epmd
starter" VM; and every module it loads at boot loaded first, in parallel (see
_PRELOAD_EVAL). Scheduler flags (`+S 1:1`, fewer dirty schedulers) were measured too and
made it slower or no faster; what remains is Erlang loading and JIT-compiling those
modules. It is stopped with SIGKILL (see STOP_SIGNAL).
"""

from __future__ import annotations

import os
import secrets
import signal
import string
import subprocess
from pathlib import Path
from typing import Any

from splice._internal.model.durations import parse_duration
from splice._internal.services.credentials import service_password
from splice._internal.services.kind_api import Endpoint, RunningService, ServiceError, StartContext
from splice._internal.services.kinds.postgres import cache
from splice._internal.services.kinds.rabbitmq import admin as rabbitmq_admin
from splice._internal.services.kinds.rabbitmq import install as rabbitmq_install
from splice._internal.services.kinds.rabbitmq import node_cache
from splice._internal.services.kinds.rabbitmq.client import endpoint_for, handshake, make_url
from splice._internal.services.readiness import tcp_probe, wait_ready

# The node is thrown away with its folder when it stops, so nothing its graceful
# shutdown (~1 s after SIGTERM, most of it Erlang's own) would save is ever read again:
# it is killed, and the grace is only for the kernel to end the processes.
STOP_SIGNAL = signal.SIGKILL
STOP_GRACE = 10.0


def config_text(settings: Any, port: int, password: str) -> str:
    """rabbitmq.conf: the listener and login, then the user's own `config` lines."""
    lines = {
        "listeners.tcp.1": f"127.0.0.1:{port}",
        "default_user": settings.user,
        "default_pass": password,
        "default_vhost": settings.vhost,
        # the default user may log in from any address (a container, a VM), not only
        # from localhost as RabbitMQ allows `guest`
        "loopback_users": "none",
        # the broker blocks publishers below its free-disk limit (50 MB by default); a
        # broker for tests on a small tmpfs must not hang them
        "disk_free_limit.absolute": "1MB",
        "log.console": "true",
        "log.console.level": "info",
    }
    for key, value in settings.config.items():
        lines[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "".join(f"{key} = {value}\n" for key, value in lines.items())


def start(ctx: StartContext, install: rabbitmq_install.Install) -> RunningService:
    """Start a node from the cached initialised folder (built first when missing; see
    node_cache.py), wait for a real AMQP handshake, return it with how to stop it."""
    settings = ctx.spec.settings
    password = service_password(settings.password, ctx.cache_dir)
    machine = service_password(None, ctx.cache_dir)
    key = node_cache.key(install, settings, password, machine)
    node = node_cache.node_name(key)

    def build(folder: Path) -> None:
        _launch(ctx, install, node, password, keep=folder).stop()
        node_cache.seal(folder)

    def cached() -> Path | None:
        return cache.cached_folder(
            ctx.cache_dir / "rabbitmq",
            key,
            build,
            service=ctx.spec.name,
            cancelled=ctx.cancelled,
        )

    seed = cached()
    if seed is not None and not node_cache.complete(seed, node):
        node_cache.discard(seed)  # damaged: built again
        seed = cached()
    try:
        return _launch(ctx, install, node, password, seed=seed)
    except ServiceError:
        if seed is None or ctx.cancelled.is_set():
            raise
    # a cached folder the node could not start from: built again, tried once more
    node_cache.discard(seed)
    return _launch(ctx, install, node, password, seed=cached())


def _launch(
    ctx: StartContext,
    install: rabbitmq_install.Install,
    node: str,
    password: str,
    *,
    seed: Path | None = None,
    keep: Path | None = None,
) -> RunningService:
    """A node on a new folder, its database copied from `seed` (else made at boot);
    with `keep`, the node's stop is a clean shutdown that leaves its database there."""
    settings = ctx.spec.settings
    res = ctx.resources
    folder = res.tempdir("rabbitmq", fast=True)
    ports: list[int] = []
    procs: list[subprocess.Popen[bytes]] = []

    def release() -> None:
        for proc in reversed(procs):
            res.stop(proc, sig=STOP_SIGNAL, grace=STOP_GRACE)
        for port in ports:
            res.release_port(port)
        res.remove_dir(folder)

    try:
        amqp_port, dist_port, epmd_port = res.port(), res.port(), res.port()
        ports += [amqp_port, dist_port, epmd_port]
        env = _prepare(
            ctx,
            install,
            folder,
            node=node,
            password=password,
            amqp_port=amqp_port,
            dist_port=dist_port,
            epmd_port=epmd_port,
            seed=seed,
        )
        procs.append(_start_epmd(ctx, install, epmd_port, folder))
        args = [
            *_command(install, folder, env),
            # distribution started by Erlang itself (see the module's docstring)
            *("-sname", node, "-start_epmd", "false"),
            *("-kernel", "inet_dist_listen_min", str(dist_port)),
            *("-kernel", "inet_dist_listen_max", str(dist_port)),
            *("-kernel", "inet_dist_use_interface", "{127,0,0,1}"),
        ]
        proc = res.spawn(args, log=ctx.log_path, env=env, cwd=folder)
        procs.append(proc)
        url = make_url("127.0.0.1", amqp_port, settings.user, password, settings.vhost)
        _wait(ctx, proc, url, amqp_port)
    except BaseException:
        release()
        raise

    def stop() -> None:
        if keep is not None:
            try:
                _keep(ctx, proc, folder / "mnesia", keep)
            finally:
                del procs[-1]
                release()
            return
        # SIGKILL to the group (beam.smp, or the script and beam.smp); Resources.stop then
        # ends what Erlang started in sessions of its own (erl_child_setup), then epmd
        res.stop(proc, sig=STOP_SIGNAL, grace=STOP_GRACE)
        del procs[-1]
        release()

    state = {
        "rabbitmq.node": node,
        "rabbitmq.admin": rabbitmq_admin.admin_state(
            node=node,
            dist_port=dist_port,
            home=str(folder / "home"),
            erl_call=install.erl_call,
            ctl=install.ctl,
            env=env,
        ),
    }
    return RunningService(
        ctx.spec, _endpoint(url, node), stop=stop, log_path=ctx.log_path, pid=proc.pid, state=state
    )


def _keep(ctx: StartContext, proc: subprocess.Popen[bytes], database: Path, into: Path) -> None:
    """Shut the node down cleanly (SIGTERM), then copy its database folder to `into`."""
    ctx.resources.stop(proc, sig=signal.SIGTERM, grace=STOP_GRACE)
    if proc.returncode != 0:
        raise ServiceError(
            ctx.spec.name,
            f"the node that initialises the cached folder {into.parent} did not shut down "
            f"cleanly (exit status {proc.returncode})",
            hint="read the broker's log above; a bad `config` line is the usual cause",
        )
    try:
        cache.copy_tree(database, into, ctx.resources)
    except OSError as exc:
        raise ServiceError(
            ctx.spec.name, f"cannot keep the node's initialised folder in {into.parent}: {exc}"
        ) from exc


def _endpoint(url: str, node: str) -> Endpoint:
    endpoint = endpoint_for(url)
    endpoint.extra["node"] = node
    return endpoint


def _prepare(
    ctx: StartContext,
    install: rabbitmq_install.Install,
    folder: Path,
    *,
    node: str,
    password: str,
    amqp_port: int,
    dist_port: int,
    epmd_port: int,
    seed: Path | None,
) -> dict[str, str]:
    """Write the node's files, its database a copy of `seed` if given; return its
    environment."""
    settings = ctx.spec.settings
    home = folder / "home"
    for sub in ("home", "log") if seed is not None else ("home", "mnesia", "log"):
        (folder / sub).mkdir()
    if seed is not None:
        try:
            cache.copy_tree(seed, folder / "mnesia", ctx.resources)
        except OSError as exc:
            raise ServiceError(
                ctx.spec.name,
                f"cannot copy the cached node folder {seed}: {exc}",
                hint=f"delete {seed} to rebuild it",
            ) from exc
    cookie = home / ".erlang.cookie"
    cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
    cookie.chmod(0o400)  # Erlang refuses a cookie others can read
    conf = folder / "rabbitmq.conf"
    conf.write_text(config_text(settings, amqp_port, password))
    conf.chmod(0o600)  # it holds the password
    plugins_file = folder / "enabled_plugins"
    plugins_file.write_text(f"[{','.join(settings.plugins)}].\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RABBITMQ_", "ERL_EPMD_"))
        and k not in ("ERL_FLAGS", "ERL_AFLAGS", "ERL_LIBS", "ERL_ZFLAGS")
    }
    env.update(
        HOME=str(home),
        ERL_EPMD_PORT=str(epmd_port),
        RABBITMQ_NODENAME=node,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(amqp_port),
        RABBITMQ_DIST_PORT=str(dist_port),
        RABBITMQ_MNESIA_BASE=str(folder / "mnesia"),
        RABBITMQ_LOG_BASE=str(folder / "log"),
        RABBITMQ_LOGS="-",  # the log goes to stdout, which is the service's log file
        RABBITMQ_CONFIG_FILE=str(conf),
        RABBITMQ_ADVANCED_CONFIG_FILE=str(folder / "advanced.config"),  # absent
        RABBITMQ_CONF_ENV_FILE=str(folder / "rabbitmq-env.conf"),  # absent: not sourced
        RABBITMQ_ENABLED_PLUGINS_FILE=str(plugins_file),
        RABBITMQ_PID_FILE=str(folder / "rabbitmq.pid"),
    )
    if install.plugins is not None:
        otp = rabbitmq_install.trimmed(
            ctx.spec.name, install.plugins, settings.plugins, folder / "plugins"
        )
        env["RABBITMQ_PLUGINS_DIR"] = str(folder / "plugins")
        names = None
        if install.erl is not None:
            names = rabbitmq_install.module_folder(
                folder / "plugins", otp, install.erl, folder / "modules"
            )
        if names is not None:
            env[_MODULES] = str(folder / "modules")
            (folder / _PRELOAD).write_text(f"[{','.join(map(_atom, names))}].\n")
    elif settings.plugins:
        raise ServiceError(
            ctx.spec.name,
            "cannot find this installation's plugins folder",
            hint="remove `plugins:`, or use `provider: docker`",
        )
    return env


# What `rabbitmq-server` (3.x) passes to `erl`, with its defaults: the shell script and the
# `rabbitmq-env` it sources are skipped (they cost ~0.1 s of shells), and so is the
# ERL_LIBS they set, the installation's whole plugins folder: ~70 more folders on the
# code path, searched for each of the ~950 modules the node loads.
_VM_ARGS = (
    "-noinput",
    *("-boot", "start_sasl", "+W", "w"),
    *("+MBas", "ageffcbf", "+MHas", "ageffcbf", "+MBlmbcs", "512", "+MHlmbcs", "512"),
    *("+MMmcs", "30", "+P", "1048576", "+t", "5000000", "+stbt", "db", "+zdbbl", "128000"),
    *("+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"),
    *("+B", "i"),  # SIGINT ignored, as the script does; SIGTERM stops the broker
    *("-syslog", "logger", "[]", "-syslog", "syslog_error_logger", "false"),
    *("-kernel", "prevent_overlapping_partitions", "false"),
)
_MODULES = "SPLICE_RABBITMQ_MODULES"  # in _prepare's env only: the folder of module links
_PRELOAD = "preload.eterm"  # the names of the modules the node loads at boot
# Before the broker boots, load every module it will load anyway, in parallel (one process
# per module: the JIT compiles them on every scheduler), instead of one by one in the
# boot process as its scan of module attributes for boot steps does. A failure only
# leaves modules to be loaded later as usual.
_PRELOAD_EVAL = (
    'case file:consult("{path}") of {{ok, [M]}} -> catch code:ensure_modules_loaded(M); '
    "_ -> ok end."
)


def _atom(name: str) -> str:
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{quoted}'"


def _command(install: rabbitmq_install.Install, folder: Path, env: dict[str, str]) -> list[str]:
    """`erl` with the broker's arguments, or the `rabbitmq-server` script where this
    installation's layout is not known well enough to skip it."""
    modules = env.pop(_MODULES, None)
    if install.erl is None or install.plugins is None or modules is None:
        return [install.server]
    env.update(ERL_LIBS=str(folder / "plugins"), ERL_MAX_ETS_TABLES="50000", ERL_MAX_PORTS="65536")
    preload = _PRELOAD_EVAL.format(
        path=str(folder / _PRELOAD).replace("\\", "\\\\").replace('"', '\\"')
    )
    return [install.erl, "-pa", modules, *_VM_ARGS, "-eval", preload, "-s", "rabbit", "boot"]


def _start_epmd(
    ctx: StartContext, install: rabbitmq_install.Install, port: int, folder: Path
) -> subprocess.Popen[bytes]:
    log = folder / "log" / "epmd.log"
    proc: subprocess.Popen[bytes] = ctx.resources.spawn(
        [install.epmd, "-port", str(port), "-address", "127.0.0.1"], log=log, cwd=folder
    )
    wait_ready(
        ctx.spec.name,
        tcp_probe("127.0.0.1", port),
        awaited=f"epmd on port {port}",
        timeout=10.0,
        proc=proc,
        log_path=log,
    )
    return proc


def _wait(ctx: StartContext, proc: subprocess.Popen[bytes], url: str, port: int) -> None:
    wait_ready(
        ctx.spec.name,
        # one attempt per call: wait_ready retries and watches the process
        lambda: handshake(url, 2.0),
        awaited=f"an AMQP handshake (login, vhost open) on 127.0.0.1:{port}",
        timeout=parse_duration(ctx.spec.settings.ready_timeout),
        proc=proc,
        log_path=ctx.log_path,
        interval=0.02,
        hint="read the broker's log above; a bad `config` line is the usual cause",
    )
