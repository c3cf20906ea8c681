"""Where PostgreSQL's programs are: Debian's versioned folders, PATH, Homebrew, Postgres.app."""

from __future__ import annotations

import functools
import glob
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from splice._internal.services.kind_api import ServiceError

PACKAGES = {"debian": "postgresql", "macos": "postgresql@16"}
DEFAULT_IMAGE_VERSION = "16"

# folders named after the major version, newest first once sorted
_VERSIONED = (
    "/usr/lib/postgresql/{v}/bin",  # Debian, Ubuntu
    "/usr/pgsql-{v}/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@{v}/bin",  # Homebrew on Apple silicon
    "/usr/local/opt/postgresql@{v}/bin",  # Homebrew on Intel
    "/Applications/Postgres.app/Contents/Versions/{v}/bin",
)
_UNVERSIONED = (
    "/opt/homebrew/opt/postgresql/bin",
    "/usr/local/opt/postgresql/bin",
    "/usr/local/pgsql/bin",  # built from source
)


@dataclass(frozen=True)
class Binaries:
    """One PostgreSQL installation."""

    bin_dir: Path
    major: str  # "15"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def find(service: str, version: str | None) -> Binaries:
    """The installation to use: `version` when given, else the newest one found."""
    candidates = _candidates(version)
    for folder in candidates:
        if (folder / "postgres").is_file() and (folder / "initdb").is_file():
            major = _major(str(folder / "postgres"))
            if version is None or major == version.split(".")[0]:
                return Binaries(folder, major)
    wanted = f"PostgreSQL {version}" if version else "PostgreSQL"
    found = ""
    if version is not None:
        others = sorted(
            {
                _major(str(f / "postgres"))
                for f in _candidates(None)
                if (f / "postgres").is_file() and (f / "initdb").is_file()
            }
        )
        found = f" (found: {', '.join(others)})" if others else ""
    debian = PACKAGES["debian"] + (f"-{version}" if version else "")
    macos = f"postgresql@{version}" if version else PACKAGES["macos"]
    raise ServiceError(
        service,
        f"{wanted} (`postgres` and `initdb`) was not found on this machine{found}",
        hint=(
            f"install it (Debian/Ubuntu: `apt-get install {debian}`; macOS: "
            f"`brew install {macos}`), or use `provider: docker` (image "
            f"postgres:{version or DEFAULT_IMAGE_VERSION}) or `provider: external` with a "
            "`url:`"
        ),
    )


def _candidates(version: str | None) -> list[Path]:
    folders: list[Path] = []
    if version is not None:
        major = version.split(".")[0]
        folders += [Path(p.format(v=major)) for p in _VERSIONED]
    else:
        found: list[tuple[int, Path]] = []
        for pattern in _VERSIONED:
            for match in glob.glob(pattern.format(v="*")):  # noqa: PTH207
                number = re.search(r"(\d+)(?:\D*/bin)$", match)
                if number:
                    found.append((int(number.group(1)), Path(match)))
        folders += [path for _, path in sorted(found, key=lambda item: -item[0])]
    on_path = shutil.which("postgres")
    if on_path is not None:
        folders.append(Path(on_path).resolve().parent)
    folders += [Path(p) for p in _UNVERSIONED]
    return folders


@functools.cache
def _major(postgres: str) -> str:
    """The major version of a `postgres` binary, from its folder name or `postgres -V`."""
    match = re.search(r"/(?:postgresql[@/]|pgsql-|Versions/)(\d+)(?:\.\d+)?/", postgres)
    if match:
        return match.group(1)
    try:
        done = subprocess.run(
            [postgres, "-V"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "unknown"
    # "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"; before 10: "9.6.24"
    number = re.search(r"\)\s*(\d+)(?:\.(\d+))?", done.stdout)
    if not number:
        return "unknown"
    major = int(number.group(1))
    return f"{major}.{number.group(2)}" if major < 10 and number.group(2) else str(major)
