"""`secrets:` of `splice.yaml`: names of variables, and paths of service settings.

    secrets:
      - api_token                      # a variable (project vars, suite vars, --var ...)
      - services.app.env.API_TOKEN     # a setting of a service, as written in this file
      - services.payments.record.target

A path names a value of this file; it must exist (a typo is an error pointing at it). A
mapping or list at a path makes each of its values secret. A literal value is masked from
the moment the project is loaded (so a service that prints it while failing to start is
masked too); a templated one once the service's settings are rendered, when it starts.
A key that holds a dot is matched whole (`services.app.env.my.key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from splice._internal.loader.steps import Collector
from splice._internal.model.positions import Positions
from splice._internal.source.validation import did_you_mean

PREFIX = "services."


@dataclass(frozen=True)
class SecretSetting:
    """A service setting declared secret: the service, the keys within its mapping, and
    the value as written (None when it is a template, known only once rendered)."""

    service: str
    keys: tuple[str | int, ...]
    literal: Any = None


def declared(
    entries: list[str], data: dict[str, Any], pos: Positions, out: Collector
) -> tuple[list[str], list[SecretSetting]]:
    """The entries of `secrets:` as variable names and service settings; a path that
    names nothing in the file is reported at its entry."""
    names: list[str] = []
    settings: list[SecretSetting] = []
    raw = data.get("services")
    services: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for i, entry in enumerate(entries):
        if "." not in entry:
            names.append(entry)
            continue
        span = pos.value(("secrets", i))
        if not entry.startswith(PREFIX):
            out.add(
                f"secret {entry!r} is neither a variable name nor a path of a service setting",
                span,
                "write a variable's name (api_token) or services.NAME.KEY (services.app.env.TOKEN)",
            )
            continue
        rest = entry[len(PREFIX) :]
        service, found = _key(services, rest.split("."))
        if service is None:
            out.add(
                f"secret {entry!r} names no service",
                span,
                did_you_mean(rest.split(".")[0], services) or "splice.yaml has no services",
            )
            continue
        keys, problem, hint = _walk(services[service], found)
        if problem is not None:
            out.add(f"secret {entry!r}: {problem}", span, hint)
            continue
        value = _at(services[service], keys)
        settings.append(SecretSetting(service, keys, _literal(value)))
    return names, settings


def literals(settings: list[SecretSetting]) -> list[Any]:
    """The values of declared settings that are known before anything starts."""
    return [s.literal for s in settings if s.literal is not None]


def rendered_values(settings: list[SecretSetting], service: str, dump: dict[str, Any]) -> list[Any]:
    """The values of `service`'s declared settings in its rendered settings (`dump`)."""
    out = []
    for setting in settings:
        if setting.service == service:
            try:
                out.append(_at(dump, setting.keys))
            except (KeyError, IndexError, TypeError):
                continue  # a kind that renamed or dropped the key: its literal is masked
    return out


def _key(mapping: dict[str, Any], parts: list[str]) -> tuple[str | None, list[str]]:
    """The longest run of `parts` (joined by dots) that is a key of `mapping`."""
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in mapping:
            return key, parts[n:]
    return None, parts


def _walk(value: Any, parts: list[str]) -> tuple[tuple[str | int, ...], str | None, str | None]:
    """The keys of `parts` inside `value`; else what is missing, and a hint."""
    keys: list[str | int] = []
    while parts:
        where = ".".join(map(str, keys)) or "the service"
        if isinstance(value, dict):
            key, parts = _key(value, parts)
            if key is None:
                hint = did_you_mean(parts[0], [str(k) for k in value])
                return tuple(keys), f"{where} has no key {parts[0]!r}", hint
            keys.append(key)
            value = value[key]
        elif isinstance(value, list) and parts[0].isdigit() and int(parts[0]) < len(value):
            keys.append(int(parts[0]))
            value = value[int(parts[0])]
            parts = parts[1:]
        else:
            return (
                tuple(keys),
                f"{where} holds no {parts[0]!r}",
                "it must name a value of this file",
            )
    return tuple(keys), None, None


def _at(value: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        value = value[key]
    return value


def _literal(value: Any) -> Any:
    """`value` without its templated parts (those are masked once rendered)."""
    if isinstance(value, dict):
        kept = {k: _literal(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None} or None
    if isinstance(value, list):
        return [v for v in map(_literal, value) if v is not None] or None
    if isinstance(value, str) and "{{" in value:
        return None
    return value
