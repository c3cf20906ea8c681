"""Running one step: render, execute (with retry), check, capture, mask."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors import executor_registry as registry
from splice._internal.executors.executor_api import (
    Executor,
    StepContext,
    StepOutput,
    TestcaseSession,
    implied_expect,
)
from splice._internal.masking import Masker
from splice._internal.model.results import Failure, FailureKind, Phase, Status, StepResult
from splice._internal.model.suite import Step, StepTemplate
from splice._internal.runner.assertions import check_assertions, check_expect
from splice._internal.runner.captures import CaptureFailure, capture
from splice._internal.runner.settings import SettingFailure, count, resolved_step, seconds
from splice._internal.templating import TemplateFailure, evaluate, render

_log = logging.getLogger("splice._internal.runner")

# how deep step templates may call each other at run time (the loader refuses cycles)
MAX_TEMPLATE_DEPTH = 32


@dataclass
class StepEnv:
    """What every step of one testcase attempt shares."""

    session: TestcaseSession
    masker: Masker
    base_dir: Path
    cancelled: Any  # threading.Event: set by the first Ctrl-C or SIGTERM; test steps stop
    # set only when splice is about to exit at once: setup and teardown steps watch this
    # instead of `cancelled`, so they run to their end (under their own timeouts)
    forced: Any = field(default_factory=threading.Event)
    templates: dict[str, StepTemplate] = field(default_factory=dict)
    processes: Any = None  # LazyReaper of the run
    on_step: Callable[[StepResult], None] = lambda _step: None
    name_prefix: str = ""
    # where results of a template's inner steps go (they precede the `use` step's own)
    sink: list[StepResult] | None = None
    depth: int = 0  # step templates entered to reach this step


def condition(value: Any, scope: dict[str, Any]) -> bool:
    """A `skip:`/`only:` value: a boolean or an expression."""
    if value is None or isinstance(value, bool):
        return bool(value)
    return bool(evaluate(str(value), scope))


def run_step(step: Step, scope: dict[str, Any], phase: Phase, env: StepEnv) -> StepResult:
    """Run `step`, updating `scope` with its captures; never raises for test outcomes."""
    if phase != Phase.TEST and env.cancelled is not env.forced:
        env = dataclasses.replace(env, cancelled=env.forced)
    started = time.time()
    clock = time.perf_counter()
    result = StepResult(
        index=step.index,
        name=env.name_prefix + step.name,
        executor=step.executor or "use",
        phase=phase,
        status=Status.PASSED,
        location=step.span,
        started_at=started,
    )
    try:
        skip_reason = _skip_reason(step, scope)
    except TemplateFailure as exc:
        result.status = Status.ERROR
        result.failures.append(
            Failure(FailureKind.ERROR, f"in skip/only: {exc.message}", hint=exc.hint)
        )
        return _finish(result, clock, env)
    if skip_reason:
        result.status = Status.SKIPPED
        result.skip_reason = skip_reason
        return _finish(result, clock, env)
    with contextlib.suppress(TemplateFailure):  # a name that fails to render stays as written
        result.name = env.name_prefix + (
            render(step.name, scope) if "{{" in step.name else step.name
        )
    try:
        step = resolved_step(step, scope)
    except SettingFailure as exc:
        result.status = Status.ERROR
        result.location = exc.span or result.location
        result.failures.append(Failure(FailureKind.ERROR, exc.message, hint=exc.hint))
        return _finish(result, clock, env)
    try:
        if step.template is not None:
            _run_template_step(step, scope, phase, env, result)
        else:
            _run_executor_step(step, scope, env, result)
    except Exception as exc:  # noqa: BLE001 - the step boundary: nothing escapes a step
        result.status = Status.ERROR
        result.failures.append(internal_error(step, exc))
    return _finish(result, clock, env)


def internal_error(step: Step, exc: Exception) -> Failure:
    """What an exception that is not a `StepError` says: a bug, named as one, with its cause.

    The traceback goes to the `splice._internal.runner` logger (shown by `splice run -vv`)."""
    where = f"executor {step.executor!r}" if step.executor else f"step template {step.template!r}"
    _log.debug("internal error in %s at %s", where, step.span, exc_info=exc)
    cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Failure(
        FailureKind.ERROR,
        f"internal error in {where}: {cause}",
        hint="this is a bug in splice or in the plugin, not in the suite; please report it "
        "with the traceback that `splice run -vv` prints",
    )


def _skip_reason(step: Step, scope: dict[str, Any]) -> str | None:
    if step.skip is not None and condition(step.skip, scope):
        return "skip: true" if step.skip is True else f"skip: {step.skip}"
    if step.only is not None and not condition(step.only, scope):
        return "only: false" if step.only is False else f"only: {step.only} is false"
    return None


def _finish(result: StepResult, clock: float, env: StepEnv) -> StepResult:
    result.duration = time.perf_counter() - clock
    if env.masker:
        result.name = env.masker.text(result.name)
        result.request = env.masker.mask(result.request)
        result.response = env.masker.mask(result.response)
        result.captures = env.masker.mask(result.captures)
        if result.expect:
            result.expect = env.masker.mask(result.expect)
        if result.asserted:
            result.asserted = [env.masker.text(a) for a in result.asserted]
        for f in result.failures:
            f.message = env.masker.text(f.message)
            f.expected = env.masker.mask(f.expected)
            f.actual = env.masker.mask(f.actual)
    env.on_step(result)
    return result


def _run_executor_step(step: Step, scope: dict[str, Any], env: StepEnv, out: StepResult) -> None:
    assert step.executor is not None
    executor = registry.instance(step.executor)
    try:
        block = _prepare_block(executor, step, scope)
    except StepError as exc:
        out.status = Status.ERROR
        out.failures.append(Failure(FailureKind.ERROR, exc.message, hint=exc.hint))
        return

    def attempt() -> tuple[StepOutput | None, list[Failure]]:
        ctx = StepContext(
            vars=scope,
            session=env.session,
            base_dir=env.base_dir,
            timeout=seconds(step.timeout),
            cancelled=env.cancelled,
            processes=env.processes,
            expect=step.expect,
        )
        try:
            output = executor.execute(block, ctx)
        except StepInterrupted as exc:
            return None, [Failure(FailureKind.INTERRUPTED, exc.message, hint=exc.hint)]
        except StepError as exc:
            return None, [Failure(FailureKind.ERROR, exc.message, hint=exc.hint)]
        problems = output.problems
        if step.executor == "http" and getattr(block, "openapi", False):
            monitor = env.session.state.get("openapi")  # only with an `openapi:` document
            if monitor is not None:
                problems = [*problems, *monitor.problems(output.request, output.response)]
        found = [Failure(FailureKind.EXPECT, f"{p}: {m}" if p else m, path=p) for p, m in problems]
        return output, found + _checks(step, executor, output.result, scope, out)

    output, failures = _with_retry(step, scope, env, out, attempt)
    if output is not None:
        out.request, out.response = output.request, output.response
    _settle(step, scope, env, out, output.result if output else None, failures)


def _prepare_block(executor: Executor, step: Step, scope: dict[str, Any]) -> Any:
    try:
        rendered = render(step.block, scope)
    except TemplateFailure as exc:
        raise StepError(exc.message, exc.hint) from exc
    try:
        return executor.block_model.model_validate(rendered)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or step.executor}: {e['msg']}" for e in exc.errors()
        )
        raise StepError(
            f"after templating, the {step.executor} block is invalid: {problems}",
            "check the values the templates produce",
        ) from exc


def _checks(
    step: Step,
    executor: Executor | None,
    result: dict[str, Any],
    scope: dict[str, Any],
    out: StepResult,
) -> list[Failure]:
    """The step's expect, assertions and custom checks; `out` keeps what was checked."""
    failures: list[Failure] = []
    if step.expect or implied_expect(executor):
        out.expect = {}
        failures = check_expect(step.expect, result, executor, scope, out.expect)
    if step.assertions:
        out.asserted = step.assertions
        failures += check_assertions(step.assertions, result, scope)
    if step.checks:
        failures += _custom_checks(step, result, scope)
    return failures


def _custom_checks(step: Step, result: dict[str, Any], scope: dict[str, Any]) -> list[Failure]:
    from splice._internal.loader.custom_checks import CheckImportError, resolve, run_checks

    base = step.span.path.parent if step.span is not None else Path.cwd()
    try:
        functions = [resolve(name, base) for name in step.checks]
    except CheckImportError as exc:  # checked at load time; the module changed since
        return [Failure(FailureKind.CHECK, exc.message, hint=exc.hint)]
    return run_checks(functions, step.checks, result, scope)


def _with_retry(
    step: Step,
    scope: dict[str, Any],
    env: StepEnv,
    out: StepResult,
    attempt: Callable[[], tuple[StepOutput | None, list[Failure]]],
) -> tuple[StepOutput | None, list[Failure]]:
    retry = step.retry
    attempts = count(retry.attempts) if retry is not None else None
    interval = seconds(retry.interval) or 0.0 if retry is not None else 0.0
    limit = seconds(retry.timeout) or 0.0 if retry is not None else 0.0
    start = time.perf_counter()
    polls = 0
    while True:
        polls += 1
        output, failures = attempt()
        until_failure = None
        if retry is not None and retry.until and output is not None and not failures:
            until_failure = _until(retry.until, output.result, scope)
        done = not failures and until_failure is None
        if done or retry is None:
            break
        if env.cancelled.is_set():
            failures = _interrupted(failures, polls)
            break
        elapsed = time.perf_counter() - start
        out_of_tries = attempts is not None and polls >= attempts
        if out_of_tries or elapsed + interval > limit:
            elapsed = time.perf_counter() - start
            if until_failure is not None:
                failures = [until_failure]
            failures.insert(0, _gave_up(polls, elapsed, attempts if out_of_tries else None))
            break
        if env.cancelled.wait(interval):
            failures = _interrupted(failures, polls)
            break
    out.polls = polls
    return output, failures


def _gave_up(polls: int, elapsed: float, attempts: int | None) -> Failure:
    """The give-up failure, naming the limit that was reached: `attempts`, or the time."""
    if attempts is not None:
        return Failure(
            FailureKind.RETRY,
            f"gave up after {polls} tries (retry.attempts: {attempts}) in {elapsed:.2f}s; "
            "the last try failed as shown below",
            hint="raise retry.attempts if the system needs more tries",
        )
    return Failure(
        FailureKind.RETRY,
        f"gave up after {polls} tries in {elapsed:.2f}s; the last try failed as shown below",
        hint="raise retry.timeout if the system needs longer to settle",
    )


def _interrupted(failures: list[Failure], polls: int) -> list[Failure]:
    """Why a retried step stopped early: the interrupt, not the last try's failure."""
    if any(f.kind == "interrupted" for f in failures):
        return failures
    tries = f"{polls} tr{'ies' if polls != 1 else 'y'}"
    return [Failure(FailureKind.INTERRUPTED, f"interrupted while retrying, after {tries}")]


def _until(expression: str, result: dict[str, Any], scope: dict[str, Any]) -> Failure | None:
    try:
        ok = evaluate(expression, {**scope, "result": result})
    except TemplateFailure as exc:
        return Failure(FailureKind.RETRY, f"until {expression}: {exc.message}", hint=exc.hint)
    return None if ok else Failure(FailureKind.RETRY, f"until {expression!r} did not hold")


def _settle(  # noqa: PLR0917 - private; the arguments are the step's whole state
    step: Step,
    scope: dict[str, Any],
    env: StepEnv,
    out: StepResult,
    result: dict[str, Any] | None,
    failures: list[Failure],
) -> None:
    """Captures (only after a passing step), then the step's final status."""
    if result is not None and not failures:
        for spec in step.captures:
            try:
                value = capture(spec, result, scope)
            except CaptureFailure as exc:
                failures.append(Failure(FailureKind.CAPTURE, exc.message, hint=exc.hint))
                continue
            if spec.secret:
                env.masker.add(value)
            scope[spec.name] = value
            out.captures[spec.name] = value
    out.failures.extend(failures)
    if any(f.kind == "interrupted" for f in failures):
        out.status = Status.INTERRUPTED
    elif any(f.kind == "error" for f in failures) and not any(
        f.kind in ("expect", "assert") for f in failures
    ):
        out.status = Status.ERROR
    elif failures:
        out.status = Status.FAILED


def _run_template_step(
    step: Step, scope: dict[str, Any], phase: Phase, env: StepEnv, out: StepResult
) -> None:
    template = env.templates[step.template or ""]
    if env.depth >= MAX_TEMPLATE_DEPTH:
        out.status = Status.ERROR
        out.failures.append(
            Failure(
                FailureKind.ERROR,
                f"step templates call each other more than {MAX_TEMPLATE_DEPTH} levels deep",
                hint="a template that uses itself, directly or through others, never ends",
            )
        )
        return
    try:
        inputs = render(step.inputs, scope)
    except TemplateFailure as exc:
        out.status = Status.ERROR
        out.failures.append(Failure(FailureKind.ERROR, f"in `with`: {exc.message}", hint=exc.hint))
        return
    inner: dict[str, Any] = {k: v for k, v in scope.items() if k in ("suite", "testcase")}
    for name, spec in template.inputs.items():
        value = inputs.get(name, spec.default)
        if spec.secret:
            env.masker.add(value)
        inner[name] = value
    sub_env = StepEnv(
        session=env.session,
        masker=env.masker,
        base_dir=template.path.parent,
        cancelled=env.cancelled,
        forced=env.forced,
        templates=env.templates,
        processes=env.processes,
        on_step=env.on_step,
        name_prefix=f"{env.name_prefix}{template.name} › ",
        sink=env.sink,
        depth=env.depth + 1,
    )
    for sub in template.steps:
        if env.cancelled.is_set():
            out.status = Status.INTERRUPTED
            out.failures.append(
                Failure(FailureKind.INTERRUPTED, f"interrupted before {sub.name!r}")
            )
            return
        sub_result = run_step(sub, inner, phase, sub_env)
        if env.sink is not None:
            env.sink.append(sub_result)
        if not sub_result.status.ok:
            status = sub_result.status
            out.status = status if status in (Status.FAILED, Status.INTERRUPTED) else Status.ERROR
            kind = FailureKind.INTERRUPTED if status == Status.INTERRUPTED else FailureKind.ERROR
            out.failures.append(
                Failure(kind, f"template step {sub_result.name!r} {sub_result.status.value}")
            )
            return
    try:
        outputs = render(template.outputs, inner)
    except TemplateFailure as exc:
        out.status = Status.ERROR
        out.failures.append(
            Failure(FailureKind.ERROR, f"template outputs: {exc.message}", hint=exc.hint)
        )
        return
    out.response = {"outputs": outputs}
    _settle(step, scope, env, out, outputs, _checks(step, None, outputs, scope, out))
