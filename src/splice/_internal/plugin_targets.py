"""Where the classes of one plugin kind come from: built-ins, entry points, `register`.

The executor registry and the service-kind registry each hold one `PluginTargets`; what
they do with a loaded class (check its API, make an instance) stays with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PluginTargets:
    """Names and their targets ("module:Class" or a class) for one entry-point group.

    Precedence: what a program registered (`register`), then the built-ins (which win
    over a plugin of the same name), then the plugins' entry points. A built-in is found
    without reading entry points: importing importlib.metadata and scanning them costs a
    short run ~20 ms."""

    def __init__(self, group: str, builtin: Mapping[str, str]) -> None:
        self.group = group
        self.builtin = dict(builtin)
        self.registered: dict[str, Any] = {}
        self._all: dict[str, Any] | None = None

    def all(self) -> dict[str, Any]:
        if self._all is None:
            from importlib.metadata import entry_points

            found: dict[str, Any] = {ep.name: ep.value for ep in entry_points(group=self.group)}
            found.update(self.builtin)
            found.update(self.registered)
            self._all = found
        return self._all

    def target(self, name: str) -> Any:
        """The target of `name`; KeyError when nothing is registered under it."""
        if name in self.registered:
            return self.registered[name]
        return self.builtin.get(name) or self.all()[name]

    def known(self, name: str) -> bool:
        return name in self.registered or name in self.builtin or name in self.all()

    def register(self, name: str, target: str | type) -> None:
        self.registered[name] = target
        self.forget()

    def forget(self) -> None:
        """Read the entry points again next time (a test installed a plugin)."""
        self._all = None


def load(target: Any) -> Any:
    """The class a target names ("module:Class"), or the target itself when it is one."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    module = __import__(module_name, fromlist=[attr or "_"])
    return getattr(module, attr) if attr else module
