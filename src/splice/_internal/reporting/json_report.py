"""The run as one JSON document, for scripts, dashboards and other tools.

The shape is `RunResult.to_dict()` plus two keys: `"schema"` names the format version
(`splice-run/1`; a breaking change to the shape bumps it) and `"counts"` gives the number of
testcases per status, so a consumer need not walk every suite to tell how a run went.
`"openapi"` holds the operation coverage of the services' OpenAPI documents (empty when no
service has one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splice._internal.model.results import RunResult

__all__ = ["SCHEMA", "report_dict", "write_json"]

SCHEMA = "splice-run/1"


def report_dict(run: RunResult) -> dict[str, Any]:
    """The JSON-ready document `write_json` writes: schema, the run's fields, then counts."""
    return {"schema": SCHEMA, **run.to_dict(), "counts": run.counts()}


def write_json(run: RunResult, path: Path) -> None:
    """Write `run` as indented UTF-8 JSON to `path`, creating its folder; replaced whole.

    Values JSON cannot hold are written as their `repr`; text that is not valid Unicode
    (lone surrogates from undecodable bytes) is written with `?` in their place.
    """
    text = json.dumps(report_dict(run), indent=2, ensure_ascii=False, default=repr)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text + "\n", encoding="utf-8", errors="replace")
    partial.replace(path)
