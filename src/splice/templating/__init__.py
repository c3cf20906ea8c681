"""Templating of parsed values and expressions (sandboxed Jinja2, typed results)."""

from splice.templating.sandbox import (
    TemplateFailure,
    evaluate,
    find_variables,
    is_template,
    render,
    syntax_error,
)

__all__ = [
    "TemplateFailure",
    "evaluate",
    "find_variables",
    "is_template",
    "render",
    "syntax_error",
]
