"""Steps: find the executor key, validate common keys and the executor's own block,
expand `include:`, and check templates, matchers, regexes and JSON paths early."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splice._internal.errors import Diagnostic, SourceSpan, SuiteError, display_path
from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import UNRENDERED, normalize_shorthand
from splice._internal.loader.custom_checks import CheckImportError, resolve
from splice._internal.loader.suite_schema import CaptureSpec, RetrySpec, StepCommonSpec
from splice._internal.model.durations import parse_duration
from splice._internal.model.positions import PathKey, Positions
from splice._internal.model.suite import Capture, Retry, Step
from splice._internal.regexes import RegexError, compile_user_regex
from splice._internal.source.validation import (
    describe,
    did_you_mean,
    from_validation_error,
    model_keys,
    narrow_span,
    span_inside,
    split_message,
)
from splice._internal.source.yaml_source import Document, read_yaml
from splice._internal.templating import is_template, syntax_error

COMMON_KEYS = frozenset(model_keys(StepCommonSpec))


@dataclass
class Collector:
    """Gathers every problem in a file so one `splice check` shows them all."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, message: str, span: Any = None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, span, hint))

    def extend(self, diags: list[Diagnostic]) -> None:
        self.diagnostics.extend(diags)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            # a file included or templated twice reports its problems once
            unique = list({(d.message, d.span, d.hint): d for d in self.diagnostics}.values())
            # in the order of the source, each file where its first problem was found
            files: dict[Any, int] = {}
            for d in unique:
                files.setdefault(d.span.path if d.span else None, len(files))
            unique.sort(
                key=lambda d: (
                    files[d.span.path if d.span else None],
                    (d.span.line, d.span.column) if d.span else (0, 0),
                )
            )
            raise SuiteError(unique)


@dataclass
class StepSource:
    """Where a list of steps lives: its document and the path to the list in it."""

    doc: Document
    loc: PathKey
    include_stack: tuple[Path, ...] = ()


def parse_steps(raw: Any, src: StepSource, out: Collector, phase_name: str) -> list[Step]:
    """Every step of a YAML list, with `include:` expanded in place."""
    pos = src.doc.positions
    if raw is None:
        return []
    if not isinstance(raw, list):
        out.add(f"{phase_name} must be a list of steps, found {describe(raw)}", pos.value(src.loc))
        return []
    steps: list[Step] = []
    for i, item in enumerate(raw):
        loc = (*src.loc, i)
        if isinstance(item, dict) and "include" in item:
            steps.extend(_include(item, loc, src, out))
            continue
        step = parse_step(item, loc, src.doc, out)
        if step is not None:
            steps.append(step)
    for index, step in enumerate(steps):
        step.index = index
    return steps


def _include(item: dict[str, Any], loc: PathKey, src: StepSource, out: Collector) -> list[Step]:
    pos = src.doc.positions
    extra = sorted(set(item) - {"include"})
    if extra:
        out.add(
            f"unknown key {extra[0]!r} next to 'include'",
            pos.key((*loc, extra[0])),
            "an include step only names a file: `- include: steps/login.yaml`",
        )
        return []
    target = item["include"]
    if not isinstance(target, str) or not target:
        out.add(
            f"include expects a file path, found {describe(target)}",
            pos.value((*loc, "include")),
            "write `- include: steps/login.yaml`",
        )
        return []
    here = src.doc.path.resolve()
    try:
        path = (src.doc.path.parent / target).resolve()
        found = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a path too long
        path, found = src.doc.path.parent / target, False
    chain = [*src.include_stack, here]
    if path in chain:
        cycle = [*chain[chain.index(path) :], path]
        out.add(
            "include cycle: " + " includes ".join(display_path(p) for p in cycle),
            pos.value((*loc, "include")),
            "remove the include that leads back to an including file",
        )
        return []
    if not found:
        out.add(
            f"included file not found: {target!r}",
            pos.value((*loc, "include")),
            f"looked for {display_path(path)}; an include is relative to the file that contains it",
        )
        return []
    try:
        doc = read_yaml(path)
    except SuiteError as exc:
        out.extend(exc.diagnostics)
        return []
    inner: Any = doc.data
    inner_loc: PathKey = ()
    if isinstance(inner, dict) and set(inner) == {"steps"}:
        inner, inner_loc = inner["steps"], ("steps",)
    return parse_steps(
        inner,
        StepSource(doc, inner_loc, (*src.include_stack, here)),
        out,
        f"included file {target!r}",
    )


def _expect_field_hint(key: str, raw: dict[str, Any], executor_keys: list[str]) -> str | None:
    """When an unknown step key is a result field of the step's executor, it belongs under
    `expect:` (mostly a line indented one level too little)."""
    fields: set[str] = set()
    for name in executor_keys[:1]:
        with contextlib.suppress(Exception):  # a broken plugin is reported elsewhere
            fields = set(registry.get(name).result_fields)
    if key not in fields:
        return None
    if "expect" in raw:
        return f"{key!r} is a result field of {executor_keys[0]}: indent it under `expect:`"
    return f"{key!r} is a result field of {executor_keys[0]}: check it under `expect:`"


def parse_step(raw: Any, loc: PathKey, doc: Document, out: Collector) -> Step | None:
    """One step, or None after adding its diagnostics to `out`."""
    pos = doc.positions
    if not isinstance(raw, dict):
        out.add(
            f"a step must be a mapping, found {describe(raw)}",
            pos.value(loc),
            "write a step as `- http: {get: ...}` or `- exec: ...`",
        )
        return None
    others = [k for k in raw if k not in COMMON_KEYS]
    executor_keys = [k for k in others if registry.known(k)]
    unknown = [k for k in others if not registry.known(k)]
    before = len(out.diagnostics)
    for key in unknown:
        out.add(
            f"unknown executor or step key {key!r}",
            pos.key((*loc, key)),
            _expect_field_hint(key, raw, executor_keys)
            or did_you_mean(key, [*registry.names(), *COMMON_KEYS]),
        )
    if len(executor_keys) > 1:
        out.add(
            f"a step calls one executor, found {', '.join(map(repr, executor_keys))}",
            pos.key((*loc, executor_keys[1])),
            "split it into one step per executor",
        )
    for key in executor_keys[:1]:
        try:
            registry.get(key)
        except registry.PluginError as exc:
            out.add(
                str(exc),
                pos.key((*loc, key)),
                f"reinstall the package that provides the {key!r} executor",
            )
    has_use = "use" in raw
    if not executor_keys and not has_use and not unknown and "with" in raw:
        out.add(
            "`with:` without `use:`",
            pos.key((*loc, "with")),
            "`with:` gives inputs to a step template; add `use: NAME` to call one",
        )
    elif not executor_keys and not has_use and not unknown:
        out.add(
            "a step needs an executor",
            pos.value(loc),
            "add one of: " + ", ".join(registry.names()) + " (or `use:` a step template)",
        )
    if executor_keys and has_use:
        out.add(
            f"a step cannot both call {executor_keys[0]!r} and use a template",
            pos.key((*loc, "use")),
            "split it into two steps",
        )
    common_raw = {k: v for k, v in raw.items() if k in COMMON_KEYS}
    try:
        common = StepCommonSpec.model_validate(common_raw)
    except ValidationError as exc:
        out.extend(from_validation_error(exc, StepCommonSpec, pos, loc, data=common_raw))
        return None
    if len(out.diagnostics) > before:
        return None

    executor = executor_keys[0] if executor_keys else None
    block: Any = None
    if executor is not None:
        block = _check_block(executor, raw[executor], (*loc, executor), pos, out)
        if len(out.diagnostics) == before:
            _executor_check(executor, block, (*loc, executor), doc, out)

    span = pos.key((*loc, executor)) if executor else pos.key((*loc, "use"))
    step = Step(
        index=0,
        name=common.name or _default_name(executor, block, common.use),
        span=span,
        executor=executor,
        block=block,
        positions=pos.sub(loc),
        raw=raw,
        expect=common.expect or {},
        assertions=[common.assert_] if isinstance(common.assert_, str) else common.assert_ or [],
        captures=_captures(common.capture or {}, loc, pos, out),
        retry=_retry(common.retry),
        timeout=_duration(common.timeout) if common.timeout is not None else None,
        skip=common.skip,
        only=common.only,
        template=common.use,
        inputs=common.with_ or {},
        checks=[common.check] if isinstance(common.check, str) else common.check or [],
    )
    for i, name in enumerate(step.checks):
        try:
            resolve(name, doc.path.parent)
        except CheckImportError as exc:
            where = ("check",) if isinstance(common.check, str) else ("check", i)
            out.add(exc.message, pos.value((*loc, *where)), exc.hint)
    if step.expect:
        step.expect = _schema_files(step.expect, (*loc, "expect"), doc, out)
    _check_expect(step, loc, pos, out)
    _check_templates(raw, loc, doc, out)
    return step


def _check_block(executor: str, raw: Any, loc: PathKey, pos: Positions, out: Collector) -> Any:
    cls = registry.get(executor)
    try:
        value = normalize_shorthand(cls, raw)
    except ValueError as exc:
        message, hint = split_message(str(exc))
        out.add(message, pos.value(loc), getattr(exc, "hint", None) or hint)
        return raw
    try:
        cls.block_model.model_validate(value, context=UNRENDERED)
    except ValidationError as exc:
        diags = from_validation_error(
            exc,
            cls.block_model,
            pos,
            loc,
            skip_templates=True,
            data=value,
            rename=_renamed_keys(raw, value),
        )
        if value is not raw and not isinstance(raw, dict):
            for d in diags:  # a shorthand string: point at the string itself
                d.span = pos.value(loc)
        out.extend(diags)
    return value


def _executor_check(executor: str, block: Any, loc: PathKey, doc: Document, out: Collector) -> None:
    """An executor's own load-time check (`check(block, base_dir)`): a query against its
    schema, a request against its message type; located inside the value it concerns."""
    check = getattr(registry.get(executor), "check", None)
    if check is None or not isinstance(block, dict):
        return
    try:
        problems = check(block, doc.path.parent)
    except Exception:  # noqa: BLE001 - a check that breaks must not hide the suite's other errors
        return
    for problem in problems:
        span: SourceSpan | None
        if problem.file is not None:
            span = SourceSpan(problem.file, problem.line or 1, problem.column or 1)
            out.add(problem.message, span, problem.hint)
            continue
        where = (*loc, *problem.path)
        span = doc.positions.value(where)
        if span is not None and problem.line is not None:
            value: Any = block
            for part in problem.path:
                value = value[part] if isinstance(value, dict | list) else None
            if isinstance(value, str):
                span = span_inside(span, doc.text, value, problem.line, problem.column or 1)
        elif problem.key:
            span = doc.positions.key(where)
        out.add(problem.message, span, problem.hint)


def _renamed_keys(raw: Any, value: Any) -> dict[str, str]:
    """Keys a shorthand introduced (`url` from `get: URL`) -> the key the user wrote."""
    if not (isinstance(raw, dict) and isinstance(value, dict)) or value is raw:
        return {}
    rename: dict[str, str] = {}
    gone = [k for k in raw if k not in value]
    for key, item in value.items():
        if key in raw:
            continue
        source = next((k for k in gone if raw[k] is item), None)
        if source is None and len(gone) == 1:
            source = gone[0]
        if source is not None:
            rename[key] = source
    return rename


def _default_name(executor: str | None, block: Any, template: str | None) -> str:
    if template:
        return f"use {template}"
    describe_fn: Callable[[Any], str] | None = None
    if executor:
        describe_fn = getattr(registry.get(executor), "describe", None)
    if describe_fn is not None and isinstance(block, dict):
        try:
            return describe_fn(block)
        except Exception:  # noqa: BLE001 - a name is cosmetic; fall back to the executor
            pass
    return executor or "step"


def _retry(spec: RetrySpec | None) -> Retry | None:
    if spec is None:
        return None
    return Retry(
        until=spec.until,
        timeout=_duration(spec.timeout),
        interval=_duration(spec.interval),
        attempts=spec.attempts,
    )


def _duration(value: Any) -> float | str:
    """Seconds, or the template that gives them (rendered and checked when the step runs)."""
    return value if is_template(value) else parse_duration(value)


def _captures(
    raw: dict[str, str | CaptureSpec], loc: PathKey, pos: Positions, out: Collector
) -> list[Capture]:
    captures = []
    for name, spec in raw.items():
        cloc = (*loc, "capture", name)
        span = pos.value(cloc)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            out.add(
                f"capture name {name!r} is not a valid variable name",
                pos.key(cloc),
                "use letters, digits and underscores, not starting with a digit",
            )
            continue
        if isinstance(spec, str):
            captures.append(Capture(name, "expr", spec, span=span))
            continue
        forms = [k for k in ("expr", "jsonpath", "regex", "header") if getattr(spec, k)]
        if len(forms) != 1:
            out.add(
                f"capture {name!r} needs exactly one of expr, jsonpath, regex, header",
                span,
                "for example `{jsonpath: '$.items[0].id'}`",
            )
            continue
        kind = forms[0]
        source = getattr(spec, kind)
        if kind == "jsonpath":
            _check_jsonpath(source, (*cloc, "jsonpath"), pos, out)
        if kind == "regex":
            try:
                compiled = compile_user_regex(source)
            except RegexError as exc:
                out.add(
                    f"bad regular expression {source!r}: {exc.detail}",
                    pos.value((*cloc, "regex")),
                    exc.hint,
                )
            else:
                group = spec.group
                if (isinstance(group, int) and group > compiled.groups) or (
                    isinstance(group, str) and group not in compiled.groupindex
                ):
                    out.add(
                        f"the regular expression has no group {group!r}",
                        pos.value((*cloc, "group")),
                        f"it has {compiled.groups} group(s)"
                        + (f": {', '.join(compiled.groupindex)}" if compiled.groupindex else ""),
                    )
        captures.append(
            Capture(
                name,
                kind,
                source,
                field=spec.from_,
                all=spec.all,
                group=spec.group,
                secret=spec.secret,
                default=spec.default,
                has_default="default" in spec.model_fields_set,
                span=span,
            )
        )
    return captures


def _check_jsonpath(source: str, loc: PathKey, pos: Positions, out: Collector) -> None:
    from splice._internal.expect.jsonpath import compile_jsonpath

    try:
        compile_jsonpath(source)
    except ValueError as exc:
        out.add(f"bad JSON path {source!r}: {exc}", pos.value(loc), "for example '$.items[0].id'")


def _check_expect(step: Step, loc: PathKey, pos: Positions, out: Collector) -> None:
    if not step.expect or step.executor is None:
        return
    cls = registry.get(step.executor)
    fields = list(cls.result_fields)
    try:
        from splice._internal.expect import validate
    except ImportError:  # pragma: no cover - during bootstrap of the package only
        validate = None  # type: ignore[assignment]
    for key, expected in step.expect.items():
        kloc = (*loc, "expect", key)
        if key not in cls.result_fields:
            out.add(
                f"{step.executor!r} results have no field {key!r}",
                pos.key(kloc),
                did_you_mean(key, fields),
            )
            continue
        if validate is not None:
            for rel, message, hint in validate(expected):
                out.add(message, pos.key((*kloc, *rel)), hint)


def _schema_files(value: Any, loc: PathKey, doc: Document, out: Collector) -> Any:
    """`value` with each `$schema: FILE` replaced by the schema in that file (JSON or
    YAML, relative to the suite file), read once when the suite loads."""
    if isinstance(value, list):
        return [_schema_files(v, (*loc, i), doc, out) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    found: dict[str, Any] = {}
    for key, item in value.items():
        if key == "$schema":  # an inline schema is the schema's, not splice's: left as is
            plain = isinstance(item, str) and not is_template(item)
            found[key] = _schema_file(item, (*loc, key), doc, out) if plain else item
        else:
            found[key] = _schema_files(item, (*loc, key), doc, out)
    return found


def _schema_file(name: str, loc: PathKey, doc: Document, out: Collector) -> Any:
    path = doc.path.parent / name
    span = doc.positions.value(loc)
    try:
        found = path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        out.add(
            f"schema file not found: {name!r}",
            span,
            f"looked for {display_path(path)}; the path is relative to the suite file",
        )
        return {}
    try:
        schema = read_yaml(path).data  # JSON is YAML too, for the files schemas come in
    except SuiteError as exc:
        out.extend(exc.diagnostics)
        return {}
    if not isinstance(schema, dict | bool):
        out.add(
            f"a JSON Schema is a mapping (or true/false), found {describe(schema)}",
            SourceSpan(path, 1, 1),
            'write an object such as {"type": "object"}',
        )
        return {}
    return schema


def _check_templates(raw: Any, loc: PathKey, doc: Document, out: Collector) -> None:
    """Report template syntax errors anywhere in the step, and in its expressions."""
    pos = doc.positions
    expressions = {("assert",), ("retry", "until"), ("skip",), ("only",)}

    def walk(value: Any, rel: PathKey) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*rel, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*rel, i))
        elif isinstance(value, str):
            as_expression = (
                rel[:2] in expressions
                or rel[:1] in expressions
                or (len(rel) >= 2 and rel[0] == "capture" and (len(rel) == 2 or rel[2] == "expr"))
            )
            if not as_expression and not is_template(value):
                return
            problem = syntax_error(value, expression=as_expression)
            if problem is None:
                return
            span = pos.value((*loc, *rel))
            if not as_expression and span is not None:
                # point at the `{{ ... }}` at fault when the string holds several parts
                for part in re.findall(r"\{\{.*?\}\}", value):
                    if syntax_error(part) is not None:
                        span = narrow_span(span, doc.text, part)
                        break
            out.add(problem.message, span, problem.hint)

    walk(raw, ())
