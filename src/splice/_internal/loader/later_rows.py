"""`foreach: {sql: ...}`: a testcase whose rows come from a query against a service.

The rows exist only once the environment is open, so the loader checks the block (as the
`sql` executor checks a step's block, templates left for later) and keeps the testcase as
one, marked `later`; `splice check` lists it as expanded at run time, and the runner
expands it when the run starts (`splice._internal.runner.later_rows`).
"""

from __future__ import annotations

from pydantic import ValidationError

from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import UNRENDERED
from splice._internal.loader.steps import Collector
from splice._internal.loader.suite_schema import ForeachSqlSpec
from splice._internal.model.positions import PathKey
from splice._internal.model.suite import LaterRows
from splice._internal.source.validation import from_validation_error
from splice._internal.source.yaml_source import Document


def later_rows(
    spec: ForeachSqlSpec, with_matrix: bool, doc: Document, loc: PathKey, out: Collector
) -> LaterRows | None:
    """The query of a testcase's `foreach: {sql: ...}`, or None (problems go to `out`)."""
    pos = doc.positions
    here = (*loc, "foreach", "sql")
    if with_matrix:
        out.add(
            "rows from a query cannot be crossed with a `matrix:`",
            pos.key((*loc, "matrix")),
            "let the query make the combinations (`select ... from a cross join b`)",
        )
        return None
    block = spec.sql
    if "many" in block:
        out.add(
            "`many:` runs a statement once per set of values; a foreach query runs once",
            pos.key((*here, "many")),
            "remove `many:`; give the query's values in `params:`",
        )
        return None
    model = registry.get("sql").block_model
    try:
        model.model_validate(block, context=UNRENDERED)
    except ValidationError as exc:
        found = from_validation_error(exc, model, pos, here, skip_templates=True, data=block)
        if found:
            out.extend(found)
            return None
    return LaterRows(
        "sql",
        dict(block),
        pos.value((*here, "query")),
        pos.key((*loc, "foreach")),
        pos.value((*here, "service")),
    )
