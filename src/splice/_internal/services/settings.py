"""Validators that the settings of service kinds share: durations, versions, project files.

Every kind declares its settings as a pydantic model; these types make a mistake in one of
them a located error of `splice check`, not a failure when the service starts:

    class MySettings(Settings):
        version: Version = None
        init: list[ProjectFile] = []
        ready_timeout: Duration = "10s"

Files are looked up relative to the project folder, which the project loader passes as
pydantic's validation context (`{"project_dir": Path}`). Settings validated without it
(again after their templates are rendered, when the service starts) skip the look-up, and
a value that is a template is only known then: the kind reports those when it starts.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ValidationInfo, model_validator

from splice._internal.errors import display_path
from splice._internal.model.durations import parse_duration
from splice._internal.regexes import RegexError, compile_user_regex
from splice._internal.services.kind_api import Settings
from splice._internal.source.validation import HintedValueError
from splice._internal.templating import is_template

PROJECT_DIR = "project_dir"


def project_dir(info: ValidationInfo) -> Path | None:
    """The project folder the settings are checked against, when the loader gave one."""
    context = info.context
    folder = context.get(PROJECT_DIR) if isinstance(context, dict) else None
    return folder if isinstance(folder, Path) else None


def _duration(value: Any) -> Any:
    if not is_template(value):
        parse_duration(value)  # its ValueError reads "expected a duration like ..."
    return value


Duration = Annotated[str | float, AfterValidator(_duration)]
"""Seconds as a number or text like `2s`, `200ms`, `1m30s`."""


_VERSION = re.compile(r"\d+(\.\d+)*([-+][A-Za-z0-9][A-Za-z0-9._-]*)?")


def user_regex(pattern: str) -> str:
    """`pattern` when it compiles as a user regex (see `splice._internal.regexes`)."""
    try:
        compile_user_regex(pattern)
    except RegexError as exc:
        raise HintedValueError(
            f"bad regular expression {pattern!r}: {exc.detail}", exc.hint
        ) from exc
    return pattern


def _version_text(value: Any) -> Any:
    # `version: 16` and `version: 7.2` are numbers in YAML; the version is their text
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _version(value: str | None) -> str | None:
    if value is not None and not is_template(value) and not _VERSION.fullmatch(value):
        raise HintedValueError(
            f"{value!r} is not a version",
            "write a version number such as 16 or '16.4', or remove `version:` "
            "to use the newest one installed",
        )
    return value


Version = Annotated[str | None, BeforeValidator(_version_text), AfterValidator(_version)]
"""A server version: `16`, `7.2`, `10.11.6`, or a tag like `16-alpine` for docker."""


def _file(value: str, info: ValidationInfo) -> str:
    root = project_dir(info)
    if root is None or is_template(value):
        return value
    path = root / value
    if not path.is_file():
        raise HintedValueError(
            f"file not found: {value!r}",
            f"looked for {display_path(path)}; paths are relative to the project folder",
        )
    return value


ProjectFile = Annotated[str, AfterValidator(_file)]
"""A file, relative to the project folder, that must exist."""


def _folder(value: str | None, info: ValidationInfo) -> str | None:
    root = project_dir(info)
    if value is None or root is None or is_template(value):
        return value
    path = root / value
    if not path.is_dir():
        raise HintedValueError(
            f"folder not found: {value!r}",
            f"looked for {display_path(path)}; paths are relative to the project folder",
        )
    return value


ProjectFolder = Annotated[str | None, AfterValidator(_folder)]
"""A folder, relative to the project folder, that must exist."""


def matching_files(pattern: str, info: ValidationInfo, what: str) -> list[Path] | None:
    """The files a glob pattern matches (None when they cannot be known yet); an error
    naming the pattern when it matches none."""
    root = project_dir(info)
    if root is None or is_template(pattern):
        return None
    full = pattern if Path(pattern).is_absolute() else str(root / pattern)
    try:
        found = sorted(glob.glob(full, recursive=True))  # noqa: PTH207 - recursive ** globs
    except (OSError, ValueError):  # a NUL byte in the pattern
        found = []
    files = [Path(f) for f in found if Path(f).is_file()]
    if not files:
        raise HintedValueError(
            f"no {what} file matches {pattern!r}",
            f"looked for {display_path(Path(full))}; paths are relative to the project folder",
        )
    return files


def http_url(value: str | None) -> str | None:
    """`value` when it is an http(s) URL (or a template); a hinted error otherwise."""
    if value is None or is_template(value):
        return value
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError when it is not a number from 0 to 65535
    except ValueError as exc:
        raise HintedValueError(
            f"invalid URL {value!r}: {exc}",
            "check the host (an IPv6 address goes in brackets: http://[::1]:8080) and the port",
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise HintedValueError(
            f"{value!r} is not an http:// or https:// URL",
            "write the whole URL, e.g. https://api.example.com",
        )
    return value


HttpUrl = Annotated[str | None, AfterValidator(http_url)]
"""An http:// or https:// URL (a template is checked when it is rendered)."""


class LoginSettings(Settings):
    """Settings of a server that may require a login: `user` needs `password` with it
    (the password alone logs in as the kind's default user)."""

    user: str | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _user_needs_password(self) -> LoginSettings:
        if self.user is not None and not self.password:
            raise HintedValueError(
                "`user` is set but `password` is not",
                "give both, or neither (then no login is needed)",
            )
        return self


def config_directives(
    value: dict[str, Any], managed: dict[str, str], name: str, conf: str, example: str
) -> dict[str, Any]:
    """Check the `config:` directives of a server's configuration file (`conf`): none of
    those splice writes itself (`managed`: directive -> why), each named as the file names
    them (`name`, a regular expression); `example` shows one in the hint."""
    for key in value:
        why = managed.get(key.lower())
        if why is not None:
            raise HintedValueError(f"config directive {key!r} is set by splice", why)
        if not re.fullmatch(name, key):
            raise HintedValueError(
                f"{key!r} is not a {conf} directive name",
                f"write directives as in {conf}, e.g. `{example}`",
            )
    return value
