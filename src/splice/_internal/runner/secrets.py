"""The secrets of one run, gathered in its masker before anything starts, for `splice run`
and the pytest plugin alike; and the run's command line as it may be shown.

What is secret (docs/reference/secrets.md): variables named by `--secret` (pytest:
`--splice-secret`), by the project's or a suite's `secrets:`; service settings named by
path in the project's `secrets:`; every service's password (added by the environment as
each service starts); template inputs and captures marked `secret: true` (added by the
runner when they get a value); the write token and any URL password of the store and
server a run reports to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from splice._internal.masking import MASK, Masker
from splice._internal.project.model import Project
from splice._internal.project.secrets import literals

# options whose value is always a secret, and options that carry NAME=VALUE variables
_SECRET_OPTIONS = frozenset({"--report-token", "--splice-report-token"})
_VAR_OPTIONS = frozenset({"--var", "--splice-var"})
# the password of a URL's user (postgresql://user:PASSWORD@host)
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):([^/@\s]+)@")


def run_masker(
    project: Project | None, external: Mapping[str, Any], names: Iterable[str]
) -> Masker:
    """A masker that knows every secret declared before the run starts."""
    masker = Masker()
    declare(masker, project, external, names)
    return masker


def declare(
    masker: Masker, project: Project | None, external: Mapping[str, Any], names: Iterable[str]
) -> None:
    """Add to `masker` the values of the secret variables and the literal values of the
    secret settings."""
    wanted = set(names) | set(project.secrets if project is not None else ())
    for name in sorted(wanted):
        if name in external:
            masker.add(external[name])
        if project is not None and name in project.vars:
            masker.add(project.vars[name])
    if project is not None:
        masker.add_all(literals(project.secret_settings))


def url_password(url: str | None) -> str | None:
    """The password in `url`'s user part, if any (a store's or server's URL)."""
    if not url:
        return None
    found = _URL_PASSWORD.search(url)
    return found.group(2) if found else None


def masked_command(argv: Iterable[str], masker: Masker, names: Iterable[str]) -> list[str]:
    """The command line with its secrets masked: the values of secret variables (however
    short), the report token, URL passwords, and every secret the masker knows."""
    secret_names = set(names)
    out: list[str] = []
    previous = ""
    for arg in argv:
        shown = arg
        option, equals, value = arg.partition("=")
        if previous in _SECRET_OPTIONS:
            shown = MASK
        elif previous in _VAR_OPTIONS:
            shown = _var(arg, secret_names)
        elif equals and option in _SECRET_OPTIONS:
            shown = f"{option}={MASK}"
        elif equals and option in _VAR_OPTIONS:
            shown = f"{option}={_var(value, secret_names)}"
        shown = _URL_PASSWORD.sub(rf"\1:{MASK}@", shown)
        out.append(masker.text(shown))
        previous = arg
    return out


def _var(pair: str, secret_names: set[str]) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}={MASK}" if equals and name.strip() in secret_names else pair
