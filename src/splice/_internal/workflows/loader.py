"""Workflows from `workflows:` in splice.yaml and from `*.workflow.yaml` files.

A `*.workflow.yaml` file holds one workflow (`jobs:`, optional `name:`; the default name is
the file's name without `.workflow.yaml`). Every mistake is a located error: a job of no kind
or of two, `needs` naming an unknown job or forming a cycle, a service the project does not
have, a matrix that expands to nothing, a duration that is not one.
"""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from splice._internal.loader.steps import Collector
from splice._internal.model.durations import parse_duration
from splice._internal.model.positions import PathKey
from splice._internal.project.model import Project
from splice._internal.source.validation import (
    describe,
    did_you_mean,
    from_validation_error,
    split_message,
)
from splice._internal.source.yaml_source import Document, read_yaml
from splice._internal.templating import TemplateFailure, render
from splice._internal.workflows.model import Job, JobKind, Workflow

WORKFLOW_SUFFIX = ".workflow.yaml"
KINDS = tuple(kind.value for kind in JobKind)
Strings = StrictStr | list[StrictStr]


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    suites: Strings | None = None
    keywords: list[StrictStr] = Field(default=[], alias="k")
    tags: list[StrictStr] = []
    pytest: Strings | None = None
    command: Strings | None = None
    junit: Strings = []
    needs: list[StrictStr] = []
    matrix: dict[str, list[StrictStr | StrictInt | float | StrictBool]] = {}
    services: list[StrictStr] | None = None
    private: StrictBool = False
    timeout: StrictStr | StrictInt | float | None = None
    retries: StrictInt = Field(default=0, ge=0, le=20)
    artifacts: Strings = []
    env: dict[str, StrictStr] = {}


class WorkflowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: StrictStr | None = None
    jobs: dict[str, Any]


def load_workflows(project: Project) -> dict[str, Workflow]:
    """Every workflow of the project: those in splice.yaml, then those in files."""
    out = Collector()
    found: dict[str, Workflow] = {}
    if project.path is not None:
        doc = read_yaml(project.path)
        raw = doc.data.get("workflows") if isinstance(doc.data, dict) else None
        if raw is not None and not isinstance(raw, dict):
            out.add(
                f"`workflows` must be a mapping of names to workflows, found {describe(raw)}",
                doc.positions.value(("workflows",)),
                "for example `workflows: {ci: {jobs: {api: {suites: [suites]}}}}`",
            )
        for name, body in (raw or {}).items():
            workflow = _workflow(
                str(name), body, doc, ("workflows", name), project=project, out=out
            )
            if workflow is not None:
                found[workflow.name] = workflow
    for path in workflow_files(project.root):
        doc = read_yaml(path)
        name = path.name[: -len(WORKFLOW_SUFFIX)]
        if isinstance(doc.data, dict) and isinstance(doc.data.get("name"), str):
            name = doc.data["name"]
        if name in found:
            out.add(
                f"workflow {name!r} is defined twice",
                doc.positions.value(()),
                "rename one of them; workflow names are unique in a project",
            )
            continue
        workflow = _workflow(name, doc.data, doc, (), project=project, out=out)
        if workflow is not None:
            found[workflow.name] = workflow
    out.raise_if_any()
    return found


def workflow_files(root: Path) -> list[Path]:
    """`*.workflow.yaml` in the project folder and below (not in hidden folders)."""
    return sorted(
        p
        for p in root.rglob(f"*{WORKFLOW_SUFFIX}")
        if not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    )


def find_workflow(project: Project, name: str) -> Workflow:
    workflows = load_workflows(project)
    if name not in workflows:
        from splice._internal.errors import UsageError

        hint = did_you_mean(name, workflows) if workflows else None
        raise UsageError(
            f"no workflow named {name!r}",
            hint or "define one under `workflows:` in splice.yaml or in a *.workflow.yaml file",
        )
    return workflows[name]


def _workflow(
    name: str, body: Any, doc: Document, loc: PathKey, *, project: Project, out: Collector
) -> Workflow | None:
    pos = doc.positions
    if not isinstance(body, dict):
        out.add(
            f"workflow {name!r} must be a mapping with `jobs:`, found {describe(body)}",
            pos.value(loc),
            "for example `ci: {jobs: {api: {suites: [suites]}}}`",
        )
        return None
    try:
        spec = WorkflowSpec.model_validate(body)
    except ValidationError as exc:
        out.extend(from_validation_error(exc, WorkflowSpec, pos, loc, data=body))
        return None
    if not spec.jobs:
        out.add(f"workflow {name!r} has no jobs", pos.value((*loc, "jobs")), "add a job")
        return None
    expanded: dict[str, list[Job]] = {}
    for job_name, raw in spec.jobs.items():
        group = _jobs(str(job_name), raw, doc, (*loc, "jobs", job_name), project=project, out=out)
        if group is not None:
            expanded[str(job_name)] = group
    known = {str(n) for n in spec.jobs}
    _resolve_needs(expanded, known, doc, (*loc, "jobs"), out)
    if len(expanded) != len(spec.jobs):
        return None  # their problems are reported; cycles are looked for once they are fixed
    jobs = {job.name: job for group in expanded.values() for job in group}
    _check_cycles(spec.jobs, expanded, doc, (*loc, "jobs"), out)
    return Workflow(name, jobs, project.root, pos.key(loc) if loc else pos.value(()))


def _jobs(
    name: str, raw: Any, doc: Document, loc: PathKey, *, project: Project, out: Collector
) -> list[Job] | None:
    pos = doc.positions
    if not isinstance(raw, dict):
        out.add(
            f"job {name!r} must be a mapping, found {describe(raw)}",
            pos.value(loc),
            "give it one of: " + ", ".join(f"`{k}:`" for k in KINDS),
        )
        return None
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as exc:
        out.extend(from_validation_error(exc, JobSpec, pos, loc, data=raw))
        return None
    kinds = [k for k in KINDS if getattr(spec, k) is not None]
    if len(kinds) != 1:
        out.add(
            f"job {name!r} has {'no kind' if not kinds else 'two kinds: ' + ' and '.join(kinds)}",
            pos.key(loc),
            "give a job exactly one of: " + ", ".join(f"`{k}:`" for k in KINDS),
        )
        return None
    kind = JobKind(kinds[0])
    ok = True
    if kind is not JobKind.COMMAND and spec.junit:
        out.add(
            "`junit:` belongs to a `command:` job",
            pos.key((*loc, "junit")),
            "suites and pytest jobs report their testcases themselves",
        )
        ok = False
    if kind is not JobKind.SUITES and (spec.keywords or spec.tags):
        key = "k" if spec.keywords else "tags"
        out.add(
            f"`{key}:` selects testcases of a `suites:` job",
            pos.key((*loc, key)),
            "for pytest, pass `-k` among its arguments",
        )
        ok = False
    for i, service in enumerate(spec.services or []):
        if service not in project.services:
            out.add(
                f"job {name!r} uses unknown service {service!r}",
                pos.value((*loc, "services", i)),
                did_you_mean(service, project.services) or "the project defines no services",
            )
            ok = False
    timeout = None
    if spec.timeout is not None:
        try:
            timeout = parse_duration(spec.timeout)
        except ValueError as exc:
            message, hint = split_message(str(exc))
            out.add(message, pos.value((*loc, "timeout")), hint)
            ok = False
    for key, choices in spec.matrix.items():
        if not choices:
            out.add(
                f"matrix value {key!r} of job {name!r} is an empty list, so the job expands "
                "to nothing",
                pos.value((*loc, "matrix", key)),
                "give it at least one value, or remove it",
            )
            ok = False
    if not ok:
        return None
    keys = list(spec.matrix)
    combos = list(itertools.product(*(spec.matrix[k] for k in keys))) or [()]
    jobs = []
    for combo in combos:
        values = {k: _text(v) for k, v in zip(keys, combo, strict=True)}
        label = name + (f"[{','.join(f'{k}={v}' for k, v in values.items())}]" if values else "")
        rendered = _rendered(spec, values, doc, loc, out)
        if rendered is None:
            return None
        command, shell = _argv(rendered.command)
        jobs.append(
            Job(
                name=label,
                kind=kind,
                suites=_list(rendered.suites),
                keywords=list(spec.keywords),
                tags=list(spec.tags),
                pytest=_pytest_args(rendered.pytest),
                command=command,
                shell=shell,
                junit=_list(rendered.junit),
                needs=list(spec.needs),
                services=None if spec.services is None else list(spec.services),
                private=spec.private,
                timeout=timeout,
                retries=spec.retries,
                artifacts=_list(rendered.artifacts),
                env=dict(rendered.env),
                matrix=values,
                span=pos.key(loc),
            )
        )
    return jobs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _rendered(
    spec: JobSpec, values: dict[str, str], doc: Document, loc: PathKey, out: Collector
) -> JobSpec | None:
    """The job's strings with `{{ matrix.KEY }}` filled in."""
    scope = {"matrix": values}
    fields = ("suites", "pytest", "command", "junit", "artifacts", "env")
    try:
        changes = {f: render(getattr(spec, f), scope) for f in fields}
    except TemplateFailure as exc:
        out.add(
            f"{exc.message}" if hasattr(exc, "message") else str(exc),
            doc.positions.key(loc),
            "a job's strings can use `{{ matrix.KEY }}` of its own `matrix:`",
        )
        return None
    return spec.model_copy(update=changes)


def _list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _argv(command: str | list[str] | None) -> tuple[list[str], bool]:
    """A list is the argv; a string runs through /bin/sh (pipes, `&&`, redirections)."""
    if command is None:
        return [], False
    if isinstance(command, list):
        return list(command), False
    return [command], True


def _pytest_args(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else list(value)


def _resolve_needs(
    expanded: dict[str, list[Job]], known: set[str], doc: Document, loc: PathKey, out: Collector
) -> None:
    """`needs: [api]` means every expansion of job `api`."""
    pos = doc.positions
    for name, jobs in expanded.items():
        wanted = jobs[0].needs
        resolved: list[str] = []
        for i, need in enumerate(wanted):
            if need == name:
                out.add(
                    f"job {name!r} needs itself",
                    pos.value((*loc, name, "needs", i)),
                    "remove it from its own `needs:`",
                )
            elif need not in known:
                out.add(
                    f"job {name!r} needs unknown job {need!r}",
                    pos.value((*loc, name, "needs", i)),
                    did_you_mean(need, [n for n in known if n != name]),
                )
            elif need in expanded:
                resolved.extend(job.name for job in expanded[need])
        for job in jobs:
            job.needs = resolved


def _check_cycles(
    written: dict[str, Any],
    expanded: dict[str, list[Job]],
    doc: Document,
    loc: PathKey,
    out: Collector,
) -> None:
    """A cycle in `needs`, named in the jobs as written and located at the first `needs:`."""
    graph = {name: {_base(n, expanded) for n in group[0].needs} for name, group in expanded.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for need in sorted(graph[name]):
            if state.get(need) == 1:
                cycle = [*trail[trail.index(need) :], need]
                out.add(
                    "cycle in needs: " + " → ".join(cycle),
                    doc.positions.value((*loc, name, "needs")),
                    "a job cannot wait, directly or not, for itself; remove one of these needs",
                )
            elif need not in state:
                visit(need, [*trail, need])
        state[name] = 2

    for name in written:
        if name in graph and name not in state:
            visit(name, [name])


def _base(expanded_name: str, expanded: dict[str, list[Job]]) -> str:
    for name, group in expanded.items():
        if any(job.name == expanded_name for job in group):
            return name
    return expanded_name
