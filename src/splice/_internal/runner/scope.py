"""Variables of a run and their precedence.

From lowest to highest: built-ins (`suite`, `testcase`), suite `vars`, testcase `vars`,
environment variables `SPLICE_VAR_<NAME>`, `--var-file` files (in order), `--var k=v`
(in order), then captures, newest first: a capture is the latest value, so it wins.
Captures made in a suite's setup and in a testcase are passed on to the testcases that
start after it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from splice._internal.templating import is_template, render

ENV_PREFIX = "SPLICE_VAR_"


@dataclass
class ExternalVars:
    """Variables from outside the suite: environment, var files, command line."""

    env: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    cli: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ExternalVars:
        environ = os.environ if environ is None else environ
        found = {k[len(ENV_PREFIX) :]: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        return cls(env={k: v for k, v in found.items() if k})

    def merged(self) -> dict[str, Any]:
        return {**self.env, **self.files, **self.cli}


def layer(base: dict[str, Any], declared: Mapping[str, Any], external: Mapping[str, Any]) -> None:
    """Add `declared` vars to `base` in order, rendering each with what came before;
    a name set externally keeps its external value."""
    for name, value in declared.items():
        if name in external:
            continue
        base[name] = render(value, base) if _has_template(value) else value


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False
