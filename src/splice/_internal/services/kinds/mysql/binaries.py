"""Where the MySQL or MariaDB server is: PATH, /usr/sbin, Homebrew; and which it is."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from splice._internal.services.kind_api import ServiceError

_FOLDERS = (
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/libexec",
    "/usr/local/bin",
    "/usr/bin",
    "/opt/homebrew/opt/{name}/bin",
    "/usr/local/opt/{name}/bin",
    "/opt/homebrew/bin",
    "/usr/local/mysql/bin",
)


@dataclass(frozen=True)
class Server:
    """One installed server: its binaries, flavour and version."""

    daemon: str
    installer: str | None  # mariadb-install-db; None for MySQL (mysqld --initialize)
    flavor: str  # "mariadb" or "mysql"
    version: str  # "10.11.19"


def find(
    service: str, flavor: str, version: str | None, packages: dict[str, str], image: str
) -> Server:
    """The server binary for `flavor` (a `mysql` service may run on MariaDB, a drop-in)."""
    daemons = ("mariadbd", "mysqld") if flavor == "mariadb" else ("mysqld", "mariadbd")
    homebrew = [f"{flavor}@{version}" if version else flavor, flavor]
    for daemon in daemons:
        path = _which(daemon, homebrew)
        if path is None:
            continue
        found_flavor, found_version = _version(path)
        if flavor == "mariadb" and found_flavor != "mariadb":
            continue
        if (
            version is not None
            and found_version != version
            and not found_version.startswith(f"{version}.")
        ):
            raise ServiceError(
                service,
                f"version {version!r} was asked for, but the local `{daemon}` is {found_version}",
                hint=f"install that version, remove `version:`, or use `provider: docker` "
                f"(image {image})",
            )
        installer = None
        if found_flavor == "mariadb":
            installer = _which("mariadb-install-db", homebrew) or _which(
                "mysql_install_db", homebrew
            )
            if installer is None:
                continue
        return Server(path, installer, found_flavor, found_version)
    raise ServiceError(
        service,
        f"no {'MariaDB' if flavor == 'mariadb' else 'MySQL or MariaDB'} server "
        f"(`{daemons[0]}`) was found on this machine",
        hint=(
            f"install it (Debian/Ubuntu: `apt-get install {packages['debian']}`; macOS: "
            f"`brew install {packages['macos']}`), or use `provider: docker` (image {image}) "
            "or `provider: external` with a `url:`"
        ),
    )


def _which(name: str, homebrew: list[str]) -> str | None:
    path = shutil.which(name)
    if path is not None:
        return path
    for folder in _FOLDERS:
        for formula in homebrew:
            candidate = Path(folder.format(name=formula)) / name
            if candidate.is_file():
                return str(candidate)
    return None


@functools.cache
def _version(daemon: str) -> tuple[str, str]:
    """("mariadb", "10.11.19") from `mariadbd --version`."""
    try:
        done = subprocess.run(
            [daemon, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except OSError:
        return "unknown", "unknown"
    text = done.stdout + done.stderr
    match = re.search(r"Ver\s+(\d+\.\d+\.\d+)", text)
    flavor = "mariadb" if "mariadb" in text.lower() else "mysql"
    return flavor, match.group(1) if match else "unknown"
