"""User-defined step templates: `*.yaml` files with `template:`, `inputs`, `steps`, `outputs`.

    template: login
    inputs:
      user: {}                       # required
      password: {default: s3cret, secret: true}
    steps:
      - http: {post: "{{ base_url }}/login", json: {user: "{{ user }}"}}
        capture: {token: json.token}
    outputs:
      token: "{{ token }}"

A suite lists template files under `templates:` and calls one with
`- use: login` / `with: {user: bob}`; its outputs become the step's `result`.
"""

from __future__ import annotations

import glob
from pathlib import Path

from pydantic import ValidationError

from splice._internal.errors import SourceSpan, SuiteError, display_path
from splice._internal.loader.steps import Collector, StepSource, parse_steps
from splice._internal.loader.suite_schema import TemplateSpec
from splice._internal.model.positions import PathKey
from splice._internal.model.suite import StepTemplate, TemplateInput
from splice._internal.source.validation import from_validation_error
from splice._internal.source.yaml_source import Document, read_yaml


def load_templates(
    patterns: list[str], doc: Document, loc: PathKey, out: Collector
) -> dict[str, StepTemplate]:
    """Load every template file the suite names (globs relative to the suite)."""
    found: dict[str, StepTemplate] = {}
    pos = doc.positions
    for i, pattern in enumerate(patterns):
        try:
            # glob.glob, not Path.glob: a pattern may climb with '..' or be absolute
            matches = sorted(glob.glob(str(doc.path.parent / pattern), recursive=True))  # noqa: PTH207
        except (OSError, ValueError):  # a NUL byte in the pattern
            matches = []
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            out.add(
                f"no template file matches {pattern!r}",
                pos.value((*loc, i)),
                f"looked for {display_path(doc.path.parent / pattern)}; template paths are "
                "relative to the suite file",
            )
            continue
        for match in matches:
            template = load_template(Path(match), out)
            if template is None:
                continue
            if template.name in found:
                out.add(
                    f"template {template.name!r} is defined twice",
                    template.span,
                    f"also defined in {found[template.name].path}",
                )
            found[template.name] = template
    return found


def load_template(path: Path, out: Collector) -> StepTemplate | None:
    try:
        doc = read_yaml(path)
    except SuiteError as exc:
        out.extend(exc.diagnostics)
        return None
    pos = doc.positions
    if not isinstance(doc.data, dict):
        out.add(
            "a template file must be a mapping with `template:` and `steps:`",
            pos.value(()) or SourceSpan(path, 1, 1),
            "start the file with `template: NAME`, then `inputs:` and `steps:`",
        )
        return None
    try:
        spec = TemplateSpec.model_validate(doc.data)
    except ValidationError as exc:
        out.extend(from_validation_error(exc, TemplateSpec, pos, data=doc.data))
        return None
    inputs = {}
    for name, ispec in spec.inputs.items():
        if ispec is None:
            inputs[name] = TemplateInput(name)
            continue
        has_default = "default" in ispec.model_fields_set
        required = ispec.required if ispec.required is not None else not has_default
        inputs[name] = TemplateInput(name, required, ispec.default, ispec.secret)
    steps = parse_steps(spec.steps, StepSource(doc, ("steps",)), out, "steps")
    return StepTemplate(
        name=spec.template,
        path=path,
        span=pos.value(("template",)),
        inputs=inputs,
        steps=steps,
        outputs=spec.outputs,
        description=spec.description or "",
    )
