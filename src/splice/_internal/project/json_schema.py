"""The JSON Schema (draft 2020-12) of `splice.yaml`, for editors.

Generated from the models `project.loader` validates with: the project's fixed keys,
the keys every service has, and each service kind's own settings model (plugins
included). A kind's settings may be templates (`"{{ services.db.port }}"`), checked once
rendered, so the schema lets a template string stand for any of their values.
"""

from __future__ import annotations

from typing import Any

from splice._internal.loader.json_schema import DIALECT, Defs, allow_templates, strip_titles
from splice._internal.project.project_schema import ProjectSpec, ServiceCommonSpec
from splice._internal.services import kind_registry as registry


def _service(kind: str, common: dict[str, Any], defs: Defs) -> dict[str, Any]:
    prefix = f"{kind}."
    settings = defs.model(registry.get(kind).settings_model, prefix, allow_templates)
    properties = {k: v for k, v in common["properties"].items() if k != "kind"}
    own = {k: allow_templates(v) for k, v in settings.get("properties", {}).items()}
    properties = {"kind": {"const": kind}, **properties, **own}
    return {
        "type": "object",
        "description": settings.get("description") or f"a {kind} service",
        "properties": properties,
        "required": ["kind", *settings.get("required", [])],
        "additionalProperties": False,
    }


def project_schema() -> dict[str, Any]:
    """The JSON Schema of a `splice.yaml` project file."""
    defs = Defs()
    common = defs.model(ServiceCommonSpec, "service.")
    kinds = registry.names()
    service = {
        "description": "a dependency or the system under test; `kind` says which",
        "type": "object",
        "properties": {"kind": {"enum": kinds}},
        "required": ["kind"],
        "anyOf": [defs.ref(f"service:{kind}", _service(kind, common, defs)) for kind in kinds],
    }
    root = defs.model(ProjectSpec, "project.")
    root["properties"]["services"] = {
        "type": "object",
        "additionalProperties": defs.ref("Service", service),
    }
    schema = {
        "$schema": DIALECT,
        "$id": "urn:splice:schema:project",
        "description": "A splice project file (splice.yaml): services, data, suites, settings.",
        **{k: v for k, v in root.items() if k != "title"},
        "$defs": dict(sorted(defs.defs.items())),
    }
    return strip_titles(schema)  # type: ignore[no-any-return]
