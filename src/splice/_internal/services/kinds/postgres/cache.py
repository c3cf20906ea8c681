"""Initialised data folders kept between runs, and servers that refuse to run as root.

Used by the postgres, mysql and rabbitmq kinds alike. Making a database's data folder (`initdb`,
`mariadb-install-db`) takes 0.5-1.5 s; copying a made one takes a tenth of that. So the
folder is made once per version and settings, kept under the cache folder, and copied
into a fresh temporary folder (tmpfs) for each start.

Two runs may want the same folder at once: the builder holds a lock file while it
builds in a temporary folder next to the final one, and renames it into place, so a
reader sees either no folder or a complete one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from splice._internal.services.kind_api import ServiceError

CACHE_FORMAT = 2  # bump when the way folders are built changes, so old ones are not used
LOCK_TIMEOUT = 300.0
PRUNE_AFTER = 30 * 24 * 3600.0  # seconds unused before a cached folder is removed


def settings_key(*parts: Any) -> str:
    """A short stable hash of what makes one initialised folder differ from another."""
    text = json.dumps([CACHE_FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def server_user(preferred: Sequence[str]) -> str | None:
    """The unprivileged user to run a server as when splice runs as root, else None.

    PostgreSQL refuses to run as root, and MySQL only does with `--user=root`; running
    them as their own system user (or `nobody`) is what their packages do.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    for name in (*preferred, "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServiceError(
        preferred[0] if preferred else "server",
        "splice runs as root and there is no unprivileged user to run the server as",
        hint="run splice as an ordinary user, or create the `nobody` user",
    )


def give_to(path: Path, user: str | None) -> None:
    """Make `user` own `path`; nothing when user is None (splice is not root)."""
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def copy_tree(source: Path, target: Path, resources: Any) -> None:
    """Copy a data folder keeping modes and owners (`cp -a`: faster than shutil here).

    `cp` carries the tag of `resources`: if splice is killed mid-copy, the reaper stops it
    before it removes the target, which `cp` would otherwise go on filling."""
    cp = shutil.which("cp")
    if cp is not None:
        done = subprocess.run(
            [cp, "-a", str(source), str(target)],
            capture_output=True,
            text=True,
            check=False,
            env=resources.helper_env(),
        )
        if done.returncode == 0:
            return
        shutil.rmtree(target, ignore_errors=True)
        raise OSError(done.stderr.strip() or f"cp exited with {done.returncode}")
    shutil.copytree(source, target, symlinks=True)


def cached_folder(
    root: Path,
    name: str,
    build: Callable[[Path], None],
    *,
    service: str,
    cancelled: Any = None,
) -> Path | None:
    """`root/name`, built once by `build(folder)` under a lock; None when the cache
    folder cannot be written (the caller then builds into its own temporary folder)."""
    final = root / name
    if final.is_dir():
        with contextlib.suppress(OSError):
            os.utime(final)  # marks it used, so pruning keeps it
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock_file = (root / f".{name}.lock").open("a")
    except OSError:
        return None
    with lock_file, _locked(lock_file, service, final, cancelled):
        if final.is_dir():  # built by another run while we waited
            return final
        for stale in root.glob(f".{name}.build-*"):  # left by a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        _prune(root)
        building = root / f".{name}.build-{uuid.uuid4().hex[:8]}"
        try:
            build(building)
            try:
                building.rename(final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(building, ignore_errors=True)  # another run got there first
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return final


def _prune(root: Path) -> None:
    """Remove folders no run has used for PRUNE_AFTER (other versions, old settings)."""
    cutoff = time.time() - PRUNE_AFTER
    for entry in root.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.name.startswith(".") and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _locked(handle: Any, service: str, final: Path, cancelled: Any) -> Iterator[None]:
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline or (cancelled is not None and cancelled.is_set()):
                raise ServiceError(
                    service,
                    f"another splice run has been building {final} for over {LOCK_TIMEOUT:g}s",
                    hint=f"if no other run is active, delete {final.parent} and try again",
                ) from None
            time.sleep(0.05)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


def scratch_dir(resources: Any, prefix: str, user: str | None) -> Path:
    """A tracked temporary folder on tmpfs that the server user may write."""
    path: Path = resources.tempdir(prefix, fast=True)
    give_to(path, user)
    return path


def run_as(
    args: Sequence[str],
    *,
    resources: Any,
    user: str | None,
    service: str,
    what: str,
    cwd: Path,
    timeout: float = 120.0,
    stdin: str | None = None,
) -> str:
    """Run a setup command (initdb, install-db) as the server user, tagged by `resources`
    (see `copy_tree`); its output, or an error with the output's last lines."""
    ids: dict[str, Any] = {}
    if user is not None:
        # the user's own group too, not root's: files made are the server user's
        ids = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
    try:
        done = subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
            env=resources.helper_env(clean_env()),
            **ids,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(service, f"{what} ran past {timeout:g}s") from exc
    except OSError as exc:
        raise ServiceError(service, f"cannot run {args[0]!r}: {exc.strerror or exc}") from exc
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        raise ServiceError(
            service,
            f"{what} failed with exit code {done.returncode}",
            hint="read its output above; deleting the cache folder forces a rebuild",
            log_tail=output.strip().splitlines()[-20:],
        )
    return output


def clean_env() -> dict[str, str]:
    """The environment without variables that would point the tools at another server."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", "MARIADB"))}


def temp_file(folder: Path, text: str, user: str | None) -> Path:
    """A private file the server user can read (a password file for initdb)."""
    fd, name = tempfile.mkstemp(dir=folder)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path = Path(name)
    give_to(path, user)
    return path
