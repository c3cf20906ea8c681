"""Sandboxed Jinja2 applied to parsed YAML values (templates that only read variables skip
it: `splice._internal.templating.simple`, dispatched by `splice._internal.templating`).

A string that is exactly one `{{ expression }}` evaluates to the expression's own value,
so `qty: "{{ n }}"` stays a number and `items: "{{ ids }}"` stays a list. Any other string
containing `{{` or `{%` renders to text. Templates never touch YAML source text.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from splice._internal.templating.failure import TemplateFailure
from splice._internal.templating.functions import FILTERS, GLOBALS

_WHOLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


class _Undefined(jinja2.StrictUndefined):
    """Fails on any use, naming the missing variable (StrictUndefined does so already)."""


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=_Undefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env


_ENV = _environment()


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


@functools.lru_cache(maxsize=4096)
def _compile_template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def _failure(exc: Exception, source: str = "", *, expression: bool = False) -> TemplateFailure:
    if isinstance(exc, jinja2.UndefinedError):
        name = re.search(r"'([^']+)' is undefined", str(exc))
        if name:
            return TemplateFailure(
                f"undefined variable {name.group(1)!r}",
                "define it in `vars`, capture it in an earlier step, or pass --var",
            )
        return TemplateFailure(f"undefined value: {exc}")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return _syntax_failure(exc.message or str(exc), source, expression=expression)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return TemplateFailure(f"not allowed in a template: {exc}")
    return TemplateFailure(f"template failed: {type(exc).__name__}: {exc}")


_JINJA_WORDING = [
    # (pattern in Jinja's message, what it means to a user)
    (
        r"unexpected end of template, expected 'end of print statement'",
        "'{{' is not closed by '}}'",
    ),
    (r"unexpected 'end of (print statement|template)'", "the expression ends too early"),
    (r"chunk after expression", "unexpected text after the expression"),
    (r"unexpected char (\S+) at \d+", r"unexpected character \1"),
    (r"Expected an expression, got 'end of statement block'", "expected an expression before '%}'"),
    (r"Expected an expression, got 'end of print statement'", "expected an expression before '}}'"),
]


def _syntax_failure(message: str, source: str, *, expression: bool) -> TemplateFailure:
    """Jinja's parser wording turned into what is wrong in the user's text, with a hint."""
    kind = "expression" if expression else "template"
    message = message.strip()
    hint: str | None = None
    block = re.search(r"The innermost block that needs to be closed is '(\w+)'", message)
    unknown = re.match(r"No (filter|test) named '([^']*)'", message)
    if block:
        message = f"'{{% {block.group(1)} %}}' is not closed"
        hint = f"add '{{% end{block.group(1)} %}}'"
    elif unknown:
        what, name = unknown.groups()
        known = _ENV.filters if what == "filter" else _ENV.tests
        message = f"unknown {what} {name!r}"
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"the templating reference lists the {what}s"
        )
    else:
        for pattern, meaning in _JINJA_WORDING:
            if re.search(pattern, message):
                message = re.sub(pattern + ".*", meaning, message, count=1)
                break
        else:
            message = message[:1].lower() + message[1:]
        message = message.rstrip(".")
    if hint is None and message.endswith("ends too early"):
        hint = "something is missing at its end, e.g. the value after an operator"
    if hint is None:
        hint = _syntax_hint(source, expression=expression)
    return TemplateFailure(f"{kind} syntax error: {message}", hint)


def _syntax_hint(source: str, *, expression: bool) -> str:
    code = source
    if not expression:  # only the code inside {{ }} and {% %}, not the text around it
        parts = re.findall(r"\{\{(.*?)(?:\}\}|$)|\{%(.*?)(?:%\}|$)", source, re.DOTALL)
        code = " ".join(a or b for a, b in parts) or source
    if re.search(r"(?<![=!<>])=(?!=)", re.sub(r"'[^']*'|\"[^\"]*\"", "", code)):
        return "compare with '==', not '='"
    if code.count("'") % 2 or code.count('"') % 2:
        return "a string needs its closing quote, e.g. env == 'ci'"
    if expression:
        return "expressions use Jinja syntax, e.g. result.json.total > 3 and result.status == 200"
    return 'a template holds {{ expression }} parts, e.g. "{{ base_url }}/users?page={{ n + 1 }}"'


def _render_string(value: str, scope: Mapping[str, Any]) -> Any:
    whole = _WHOLE.match(value)
    try:
        if whole:
            result = _compile_expression(whole.group("expr"))(**scope)
            if isinstance(result, jinja2.Undefined):
                result._fail_with_undefined_error()
            return result
        return _compile_template(value).render(**scope)
    except TemplateFailure:
        raise
    except Exception as exc:
        raise _failure(exc) from exc


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render every template string inside `value` (dicts, lists, scalars)."""
    if isinstance(value, str):
        return _render_string(value, scope) if is_template(value) else value
    if isinstance(value, dict):
        return {render(k, scope): render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    return value


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression (`result.json.total > 3`); `{{ }}` around it is allowed."""
    whole = _WHOLE.match(expression)
    source = whole.group("expr") if whole else expression
    try:
        result = _compile_expression(source)(**scope)
        if isinstance(result, jinja2.Undefined):
            result._fail_with_undefined_error()
        return result
    except Exception as exc:
        raise _failure(exc) from exc


def syntax_error(value: str, *, expression: bool = False) -> TemplateFailure | None:
    """The syntax problem in a template string or bare expression, if any (for `check`)."""
    try:
        if expression:
            whole = _WHOLE.match(value)
            _compile_expression(whole.group("expr") if whole else value)
        else:
            _compile_template(value)
    except RecursionError:
        return TemplateFailure(
            f"{'expression' if expression else 'template'} is nested too deeply",
            "split it into smaller parts",
        )
    except Exception as exc:  # noqa: BLE001
        return _failure(exc, value, expression=expression)
    return None


def find_variables(value: str, *, expression: bool = False) -> set[str]:
    """Top-level variable names a template or expression reads (for undefined checks)."""
    return set(_find_variables(value, expression))


@functools.lru_cache(maxsize=4096)
def _find_variables(value: str, expression: bool) -> frozenset[str]:
    # the same strings recur across steps and testcases; parsing each once is enough
    if expression:
        whole = _WHOLE.match(value)
        value = "{{ " + (whole.group("expr") if whole else value) + " }}"
    try:
        ast = _ENV.parse(value)
    except Exception:  # noqa: BLE001 - a broken template reads nothing; `check` reports it
        return frozenset()
    return frozenset(n for n in meta.find_undeclared_variables(ast) if n not in _ENV.globals)
