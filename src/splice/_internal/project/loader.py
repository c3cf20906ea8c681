"""`splice.yaml` into `Project`, with located errors for every mistake."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from splice._internal.errors import SuiteError
from splice._internal.loader.steps import Collector
from splice._internal.model.durations import parse_duration
from splice._internal.model.positions import PathKey, Positions
from splice._internal.project.model import (
    PROJECT_FILE,
    ContractPlan,
    DataPlan,
    Migration,
    Project,
    RunDefaults,
    Selector,
)
from splice._internal.project.project_schema import (
    SERVICE_COMMON_KEYS,
    ProjectSpec,
    ServiceCommonSpec,
    WarmSpec,
)
from splice._internal.project.secrets import declared
from splice._internal.services import kind_registry as registry
from splice._internal.services.kind_api import ServiceError, ServiceSpec
from splice._internal.services.settings import PROJECT_DIR
from splice._internal.source.validation import (
    describe,
    did_you_mean,
    from_validation_error,
    split_message,
)
from splice._internal.source.yaml_source import Document, read_yaml
from splice._internal.templating import find_variables, is_template, syntax_error
from splice._internal.templating.references import attribute_uses, walk_strings


def find_project(start: Path) -> Path | None:
    """`splice.yaml` in `start` or the nearest folder above it."""
    for folder in [start, *start.parents]:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_project(path: Path | None) -> Project:
    """The project at `path`, or an empty project (no services) when there is none."""
    if path is None:
        return Project(name=Path.cwd().name, path=None)
    return project_from_document(read_yaml(path))


def _warm_idle(warm: bool | WarmSpec) -> float | None:
    """The idle timeout of `warm:` in seconds; None when the project does not use one."""
    if isinstance(warm, WarmSpec):
        return parse_duration(warm.idle)
    return parse_duration(WarmSpec().idle) if warm else None


def project_from_document(doc: Document) -> Project:
    out = Collector()
    pos = doc.positions
    if doc.data is None:
        return Project(name=doc.path.parent.name, path=doc.path)
    if not isinstance(doc.data, dict):
        raise SuiteError.single(
            f"a project file must be a mapping, found {describe(doc.data)}",
            pos.value(()),
            "start with `name:` and `services:`",
        )
    try:
        spec = ProjectSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SuiteError(from_validation_error(exc, ProjectSpec, pos, data=doc.data)) from None
    names, settings = declared(spec.secrets, doc.data, pos, out)
    project = Project(
        name=spec.name or doc.path.parent.name,
        path=doc.path,
        provider=spec.provider,
        vars=spec.vars,
        secrets=names,
        secret_settings=settings,
        suites=spec.suites,
        warm_idle=_warm_idle(spec.warm),
        run=RunDefaults(jobs=spec.run.jobs, retries=spec.run.retries),
    )
    for name, raw in spec.services.items():
        service = _service(name, raw, project.provider, doc, out)
        if service is not None:
            project.services[name] = service
            _openapi(name, raw, doc, project, out)
    declared_services = set(spec.services)  # also those whose declaration is wrong
    _check_dependencies(project, declared_services, pos, out)
    _check_templates(project, declared_services, doc, out)
    project.data = _data(spec, doc, project, out)
    project.contracts = _contracts(spec, doc, project, out)
    out.raise_if_any()
    return project


def _service(
    name: str, raw: Any, default_provider: str, doc: Document, out: Collector
) -> ServiceSpec | None:
    pos = doc.positions
    loc = ("services", name)
    if not isinstance(raw, dict):
        out.add(
            f"service {name!r} must be a mapping with a `kind`, found {describe(raw)}",
            pos.value(loc),
            "for example `db: {kind: postgres}`",
        )
        return None
    common_raw = {k: v for k, v in raw.items() if k in SERVICE_COMMON_KEYS}
    try:
        common = ServiceCommonSpec.model_validate(common_raw)
    except ValidationError as exc:
        out.extend(from_validation_error(exc, ServiceCommonSpec, pos, loc, data=common_raw))
        return None
    if not registry.known(common.kind):
        hint = did_you_mean(common.kind, registry.names())
        if common.kind == "external":
            hint = (
                "`external` is a provider, not a kind: say what the server is and where, "
                "e.g. `{kind: mqtt, url: mqtt://HOST:1883}`"
            )
        out.add(f"unknown service kind {common.kind!r}", pos.value((*loc, "kind")), hint)
        return None
    kind = registry.get(common.kind)
    provider = common.provider or default_provider
    if common.url is not None and common.provider is None:
        provider = "external"  # a URL alone means: use that server
    if provider not in kind.providers:
        out.add(
            f"kind {common.kind!r} cannot use the {provider!r} provider",
            pos.value((*loc, "provider")) if common.provider else pos.key(loc),
            "it supports: " + ", ".join(sorted(kind.providers)),
        )
        return None
    if provider == "external" and not common.url:
        out.add(
            f"service {name!r} uses the external provider but has no `url`",
            pos.key(loc),
            "add `url:` with the address of the running server",
        )
    if common.isolation is not None:
        _check_isolation(name, common.kind, common.isolation, pos, out)
    settings_raw = {k: v for k, v in raw.items() if k not in SERVICE_COMMON_KEYS}
    model = kind.settings_model
    if common.openapi is not None and "openapi" in model.model_fields:
        settings_raw["openapi"] = common.openapi  # the mock checks its stubs against it too
    try:
        # the project folder lets the kind check the files its settings name
        settings = model.model_validate(settings_raw, context={PROJECT_DIR: doc.path.parent})
    except ValidationError as exc:
        problems = from_validation_error(
            exc, model, pos, loc, skip_templates=True, data=settings_raw
        )
        if problems:
            out.extend(problems)
            return None
        # only values that are templates are wrong as written: they are validated again
        # once rendered, when the service starts
        settings = model.model_construct(**settings_raw)
    if provider == "external" and common.url and not is_template(common.url):
        probe = ServiceSpec(
            name=name, kind=common.kind, provider="external", settings=settings, url=common.url
        )
        _check_url(kind, probe, pos.value((*loc, "url")), out)
    return ServiceSpec(
        name=name,
        kind=common.kind,
        provider=provider,
        settings=settings,
        depends_on=list(common.depends_on),
        span=pos.key(loc),
        url=common.url,
        image=common.image,
        isolation=common.isolation,
        isolation_span=pos.value((*loc, "isolation")) if common.isolation else None,
    )


def _openapi(
    name: str, raw: dict[str, Any], doc: Document, project: Project, out: Collector
) -> None:
    """A service's `openapi:` document must exist (it is read when a run starts)."""
    shown = raw.get("openapi")
    if not isinstance(shown, str):
        return
    path = doc.path.parent / shown
    if not path.is_file():
        out.add(
            f"OpenAPI document {shown!r} does not exist",
            doc.positions.value(("services", name, "openapi")),
            f"paths are relative to {doc.path.parent}",
        )
        return
    project.openapi[name] = (path, shown)


def _check_isolation(name: str, kind_name: str, mode: str, pos: Positions, out: Collector) -> None:
    """A service's own `isolation:` must be a mode its kind has."""
    supported = sorted(getattr(registry.get(kind_name), "isolation_modes", frozenset()))
    if mode == "none" or mode in supported:
        return
    span = pos.value(("services", name, "isolation"))
    if not supported:
        out.add(
            f"kind {kind_name!r} has no isolation modes, so {mode!r} cannot apply",
            span,
            "remove `isolation:` from this service",
        )
        return
    out.add(
        f"isolation {mode!r} is not supported by kind {kind_name!r}",
        span,
        "it supports: " + ", ".join([*supported, "none"]),
    )


def _check_url(kind: Any, probe: ServiceSpec, span: Any, out: Collector) -> None:
    """An external service's URL is read by its kind as `splice run` would read it."""
    url = probe.url or ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        out.add(
            f"invalid URL {url!r}: {exc}",
            span,
            "check the host (an IPv6 address goes in brackets: [::1]) and the port",
        )
        return
    if not parts.scheme or not parts.hostname:
        out.add(
            f"{url!r} is not a URL with a scheme and a host",
            span,
            "write the whole URL, e.g. redis://127.0.0.1:6379/0",
        )
        return
    try:
        kind.external(probe)
    except ServiceError as exc:
        out.add(exc.message, span, exc.hint)
    except ValueError as exc:
        out.add(f"invalid URL {url!r}: {exc}", span, "check the URL's parts")


def _check_dependencies(
    project: Project, declared: set[str], pos: Positions, out: Collector
) -> None:
    """Unknown names and cycles in `depends_on`; a service that is declared but wrong has
    its own error, and is not unknown."""
    for name, service in project.services.items():
        for i, dep in enumerate(service.depends_on):
            if dep not in declared:
                out.add(
                    f"service {name!r} depends on unknown service {dep!r}",
                    pos.value(("services", name, "depends_on", i)),
                    did_you_mean(dep, [other for other in project.services if other != name]),
                )
    # cycles: depth-first search with colours
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in project.services[name].depends_on:
            if dep not in project.services:
                continue
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep] if dep in trail else [name, dep]
                out.add(
                    "dependency cycle: " + " → ".join(cycle),
                    pos.value(("services", name, "depends_on")),
                    "remove one of these depends_on entries",
                )
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in project.services:
        if name not in state:
            visit(name, [name])


# what the templates in a service's settings can read, besides the project's `vars`
SERVICE_SCOPE = ("services", "port")


def _check_templates(project: Project, declared: set[str], doc: Document, out: Collector) -> None:
    """Template syntax, variables that do not exist, and `services.X` that names no
    service (or one not depended on)."""
    pos = doc.positions
    data = doc.data if isinstance(doc.data, dict) else {}
    services = data.get("services") or {}
    known = {*SERVICE_SCOPE, *project.vars}
    for name, raw in services.items():
        if not isinstance(raw, dict):
            continue
        valid = name in project.services  # else only syntax and variables are checked
        deps = set(project.services[name].depends_on) if valid else set()
        for loc, text in walk_strings(raw, ("services", name)):
            problem = syntax_error(text)
            if problem is not None:
                out.add(problem.message, pos.value(loc), problem.hint)
                continue
            for unknown in sorted(find_variables(text) - known):
                close = did_you_mean(unknown, known) or ""
                out.add(
                    f"undefined variable {unknown!r} in a template",
                    pos.value(loc),
                    close
                    if close.startswith("did you mean")
                    else "service settings can use `port`, `services.NAME.*` and the "
                    "project's `vars`",
                )
            for used in sorted(attribute_uses(text, "services")) if valid else []:
                if used in declared and used not in project.services:
                    continue  # its declaration has its own error
                if used not in project.services:
                    out.add(
                        f"unknown service {used!r} in a template",
                        pos.value(loc),
                        did_you_mean(used, project.services),
                    )
                elif used != name and used not in deps:
                    out.add(
                        f"service {name!r} uses services.{used} but does not depend on it",
                        pos.value(loc),
                        f"add {used!r} to {name}'s depends_on, so it starts first",
                    )


def _data(spec: ProjectSpec, doc: Document, project: Project, out: Collector) -> DataPlan:
    pos = doc.positions
    plan = DataPlan(
        isolation=spec.data.isolation,
        isolation_span=pos.value(("data", "isolation")),
        keep=list(spec.data.keep),
        only=list(spec.data.only),
    )
    root = doc.path.parent
    for service, patterns in spec.data.fixtures.items():
        loc = ("data", "fixtures", service)
        if service not in project.services:
            out.add(
                f"fixtures for unknown service {service!r}",
                pos.key(loc),
                did_you_mean(service, project.services),
            )
            continue
        files: list[Path] = []
        for i, pattern in enumerate(patterns):
            matches = sorted(glob.glob(str(root / pattern), recursive=True))  # noqa: PTH207
            if not matches:
                out.add(
                    f"no fixture file matches {pattern!r}",
                    pos.value((*loc, i)),
                    f"paths are relative to {root}",
                )
            files.extend(Path(m) for m in matches)
        plan.fixtures[service] = files
    for i, migration in enumerate(spec.data.migrations):
        mloc: PathKey = ("data", "migrations", i)
        if migration.service not in project.services:
            out.add(
                f"migration for unknown service {migration.service!r}",
                pos.value((*mloc, "service")),
                did_you_mean(migration.service, project.services),
            )
            continue
        try:
            timeout = parse_duration(migration.timeout)
        except ValueError as exc:
            message, hint = split_message(str(exc))
            out.add(message, pos.value((*mloc, "timeout")), hint)
            continue
        cwd = root / (migration.cwd or ".")
        if not cwd.is_dir():
            out.add(
                f"folder not found: {migration.cwd!r}",
                pos.value((*mloc, "cwd")),
                f"looked for {cwd}; paths are relative to the project folder",
            )
            continue
        if not (
            migration.command if isinstance(migration.command, list) else migration.command.strip()
        ):
            out.add(
                "the migration's command is empty",
                pos.value((*mloc, "command")),
                "write the command to run, e.g. `alembic upgrade head`",
            )
            continue
        plan.migrations.append(
            Migration(
                service=migration.service,
                command=migration.command,
                cwd=cwd,
                env=migration.env,
                timeout=timeout,
            )
        )
    return plan


def _contracts(
    spec: ProjectSpec, doc: Document, project: Project, out: Collector
) -> list[ContractPlan]:
    """`contracts:` entries: a provider that is a service, pacts that exist (or the store),
    a states file that exists, states set one way only."""
    pos = doc.positions
    root = doc.path.parent
    plans = []
    for i, entry in enumerate(spec.contracts):
        loc: PathKey = ("contracts", i)
        ok = True
        if entry.provider not in project.services:
            out.add(
                f"contract provider {entry.provider!r} is not a service of the project",
                pos.value((*loc, "provider")),
                did_you_mean(entry.provider, project.services)
                or "add the provider under `services:` (a process, or an external URL)",
            )
            ok = False
        if bool(entry.pacts) == (entry.broker is not None):
            out.add(
                "a contract needs `pacts:` (files) or `broker:` (the store), one of them",
                pos.key(loc) or pos.value(loc),
                "for example `pacts: [pacts/*.json]`, or `broker: {selectors: [{latest: true}]}`",
            )
            ok = False
        if entry.states is not None and entry.state_url is not None:
            out.add(
                "give `states:` (a states file) or `state_url:`, not both",
                pos.value((*loc, "state_url")),
                "a provider state is set by the states file's steps or by the URL",
            )
            ok = False
        files: list[Path] = []
        for n, pattern in enumerate(entry.pacts):
            matches = sorted(glob.glob(str(root / pattern), recursive=True))  # noqa: PTH207
            if not matches:
                out.add(
                    f"no pact file matches {pattern!r}",
                    pos.value((*loc, "pacts", n)),
                    f"paths are relative to {root}",
                )
                ok = False
            files.extend(Path(m) for m in matches)
        states = root / entry.states if entry.states is not None else None
        if states is not None and not states.is_file():
            out.add(
                f"states file {entry.states!r} does not exist",
                pos.value((*loc, "states")),
                f"paths are relative to {root}",
            )
            ok = False
        if entry.state_url is not None and (problem := syntax_error(entry.state_url)):
            out.add(problem.message, pos.value((*loc, "state_url")), problem.hint)
            ok = False
        selectors = [
            Selector(
                latest=bool(s.latest),
                branch=s.branch,
                tag=s.tag,
                deployed=s.deployed,
                consumer=s.consumer,
                main_branch=bool(s.main_branch),
            )
            for s in (entry.broker.selectors if entry.broker else [])
        ]
        for n, selector in enumerate(selectors):
            picks = (selector.latest, selector.branch, selector.tag, selector.deployed)
            if not (any(picks) or selector.main_branch):
                out.add(
                    "a selector picks no version: give `latest: true`, `branch`, "
                    "`main_branch: true`, `tag` or `deployed`",
                    pos.value((*loc, "broker", "selectors", n)),
                    "`consumer:` alone narrows a selector; add `latest: true` to it",
                )
                ok = False
        if ok:
            plans.append(
                ContractPlan(
                    provider=entry.provider,
                    pacts=files,
                    from_store=entry.broker is not None,
                    provider_name=(entry.broker.provider_name if entry.broker else None)
                    or entry.provider,
                    selectors=selectors or [Selector(latest=True)],
                    states=states,
                    state_url=entry.state_url,
                    span=pos.key(loc) or pos.value(loc),
                )
            )
    return plans
