"""Run inputs of every front end: variables from the environment, var files and
`NAME=VALUE` pairs (`splice run --var`, pytest's `--splice-var`, `splice.run(vars=...)`)."""

from __future__ import annotations

from pathlib import Path

from splice._internal.errors import SuiteError, UsageError
from splice._internal.runner.scope import ExternalVars
from splice._internal.source.yaml_source import read_yaml


def parse_var(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            f"--var expects NAME=VALUE, got {text!r}",
            "for example --var base_url=http://localhost:8000",
        )
    return name.strip(), value


def external_vars(
    pairs: tuple[str, ...], files: tuple[str, ...], secrets: tuple[str, ...]
) -> ExternalVars:
    """Collect variables from the environment, var files and --var, in that order."""
    ext = ExternalVars.from_environment()
    for raw in files:
        path = Path(raw)
        if not path.is_file():
            raise UsageError(f"--var-file {raw!r} does not exist")
        doc = read_yaml(path)
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            raise SuiteError.single(
                "a var file must be a mapping of names to values", doc.positions.value(())
            )
        ext.files.update(doc.data)
    for pair in pairs:
        name, value = parse_var(pair)
        ext.cli[name] = value
    ext.secrets = set(secrets)
    return ext
