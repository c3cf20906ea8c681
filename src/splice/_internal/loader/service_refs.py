"""References from a suite to the project's services, checked before anything starts.

A suite names services in two ways: in templates (`{{ services.cache.url }}`) and in an
executor's `service:` key (`redis: {service: cache}`). Both must name a service of
`splice.yaml`, and a template may only read an attribute that service's kind exports
(`url`, `host`, `port`, ... and the kind's own, such as a mock's `admin_url`). Without this
check a misspelt name passes `splice check` and fails at run time in Jinja's words.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from splice._internal.errors import Diagnostic, SourceSpan
from splice._internal.model.suite import LaterRows, Step, Suite
from splice._internal.source.validation import did_you_mean, narrow_span
from splice._internal.templating.references import attribute_uses, service_attributes

# what every service exports (`Endpoint.as_vars`), whatever its kind
COMMON_ATTRIBUTES = frozenset({"url", "host", "port", "user", "password", "database"})


def service_reference_problems(suite: Suite, kinds: Mapping[str, str]) -> list[Diagnostic]:
    """Every reference in `suite` to a service that `kinds` (name -> kind) does not have,
    or to an attribute its kind does not export."""
    problems: list[Diagnostic] = []
    for step in _all_steps(suite):
        for loc, span, value in _strings(step):
            if loc[1:] == ("service",) and loc[0] == step.executor:
                if value not in kinds and "{{" not in value:
                    problems.append(_unknown(f"unknown service {value!r}", value, span, kinds))
                continue
            problems.extend(_template_problems(value, span, kinds))
    for testcase in suite.testcases:
        if testcase.later is not None:
            problems.extend(_query_service(testcase.later, kinds))
    return problems


def _query_service(later: LaterRows, kinds: Mapping[str, str]) -> Iterator[Diagnostic]:
    """The service a `foreach: {sql: ...}` queries: one of the project's databases."""
    name = later.block.get("service")
    span = later.service_span or later.key_span
    if not isinstance(name, str) or "{{" in name or span is None:
        return
    if name not in kinds:
        yield _unknown(f"unknown service {name!r}", name, span, kinds)
        return
    offered = exported_attributes(kinds[name])
    if offered is None or "sqlalchemy_url" in offered:
        return
    databases = sorted(
        n for n, k in kinds.items() if "sqlalchemy_url" in (exported_attributes(k) or ())
    )
    yield Diagnostic(
        f"service {name!r} is a {kinds[name]} service, not a database the query can run on",
        span,
        f"name one of the project's databases: {', '.join(databases)}"
        if databases
        else "rows from a query need a postgres, mysql or mariadb service",
    )


def exported_attributes(kind: str) -> frozenset[str] | None:
    """The attributes a kind offers under `services.NAME.*`, or None when its plugin does
    not declare them (then any attribute is accepted)."""
    from splice._internal.services import kind_registry as registry

    try:
        declared = getattr(registry.get(kind), "exports", None)
    except Exception:  # noqa: BLE001 - an unknown or broken kind is reported elsewhere
        return None
    return None if declared is None else COMMON_ATTRIBUTES | frozenset(declared)


def _template_problems(
    text: str, span: SourceSpan, kinds: Mapping[str, str]
) -> Iterator[Diagnostic]:
    unknown = sorted(name for name in attribute_uses(text, "services") if name not in kinds)
    for name in unknown:
        message = f"unknown service {name!r} in a template"
        yield _unknown(message, name, _narrowed(span, f"services.{name}"), kinds)
    for name, attr in sorted(service_attributes(text)):
        if name not in kinds:
            continue
        offered = exported_attributes(kinds[name])
        if offered is None or attr in offered:
            continue
        close = did_you_mean(attr, offered) or ""
        listed = ", ".join(sorted(offered))
        hint = (
            f"{close} a {kinds[name]} service exports {listed}"
            if close.startswith("did you mean")
            else f"a {kinds[name]} service exports {listed}"
        )
        yield Diagnostic(
            f"service {name!r} (kind {kinds[name]}) has no attribute {attr!r}",
            _narrowed(span, f"services.{name}.{attr}"),
            hint,
        )


def _unknown(message: str, name: str, span: SourceSpan, kinds: Mapping[str, str]) -> Diagnostic:
    hint = did_you_mean(name, kinds)
    if hint is None:
        hint = "splice.yaml declares no services" if not kinds else None
    if hint is not None and hint.startswith("expected one of"):
        hint = "splice.yaml declares " + hint.removeprefix("expected one of ")
    return Diagnostic(message, span, hint or "declare it under `services:` in splice.yaml")


def _narrowed(span: SourceSpan, needle: str) -> SourceSpan:
    try:
        text = span.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return span
    return narrow_span(span, text, needle)


def _all_steps(suite: Suite) -> Iterator[Step]:
    yield from suite.setup
    for testcase in suite.testcases:
        yield from (*testcase.setup, *testcase.steps, *testcase.teardown)
    yield from suite.teardown
    for template in suite.templates.values():
        yield from template.steps


def _strings(step: Step) -> Iterator[tuple[tuple[Any, ...], SourceSpan, str]]:
    """Each string value of the step as written, with its path and place."""
    if step.positions is None:
        return
    for loc, span in step.positions.spans():
        value: Any = step.raw
        for part in loc:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if isinstance(value, str):
            yield loc, span, value
