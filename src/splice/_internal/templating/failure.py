"""The one error of templating (kept apart so it is importable without Jinja2)."""

from __future__ import annotations


class TemplateFailure(Exception):
    """A template that cannot be compiled or evaluated; `message` is for the user."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
