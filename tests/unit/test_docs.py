"""The reference docs cannot fall behind the code: every command, option, key, field,
operator and template function must be documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _doc(name: str) -> str:
    return (DOCS / "reference" / name).read_text()


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def test_every_cli_command_and_option_is_documented() -> None:
    """Each command of `splice` and each of its long options appears in cli.md."""
    from splice._internal.cli.main import cli

    text = _doc("cli.md")
    assert isinstance(cli, click.Group)
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):  # lazy commands too
        command = cli.get_command(ctx, name)
        assert command is not None
        assert f"`splice {name}" in text, f"command {name!r} is not documented"
        for param in command.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                assert f"`{longest}" in text or f", {longest}" in text, (
                    f"option {longest} of {name!r} is not documented"
                )


@pytest.mark.parametrize(
    "spec",
    [
        "SuiteSpec",
        "TestcaseSpec",
        "StepCommonSpec",
        "CaptureSpec",
        "RetrySpec",
        "XfailSpec",
        "ForeachSqlSpec",
        "TemplateSpec",
        "InputSpec",
    ],
)
def test_every_suite_key_is_documented(spec: str) -> None:
    """Each key the loader accepts is in suite.md."""
    from splice._internal.loader import suite_schema as specs

    text = _doc("suite.md")
    for key in _keys(getattr(specs, spec)):
        assert f"`{key}`" in text, f"{spec}.{key} is not documented"


def _executor_names() -> list[str]:
    from splice._internal.executors import executor_registry as registry

    return registry.names()


@pytest.mark.parametrize("name", _executor_names())
def test_every_executor_key_and_result_field_is_documented(name: str) -> None:
    """Each block key and result field of every executor is in its reference page:
    a section of executors.md, or executors/<name>.md."""
    from splice._internal.executors import executor_registry as registry

    cls = registry.get(name)
    page = DOCS / "reference" / "executors" / f"{name}.md"
    if page.is_file():
        section = page.read_text()
    else:
        text = _doc("executors.md")
        assert f"## `{name}`" in text, f"executor {name!r} has no reference page"
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    for key in _keys(cls.block_model):
        assert f"`{key}`" in section, f"{name} block key {key!r} is not documented"
    for field in cls.result_fields:
        assert f"`{field}`" in section, f"{name} result field {field!r} is not documented"


def _kind_names() -> list[str]:
    from splice._internal.services import kind_registry as registry

    return registry.names()


@pytest.mark.parametrize("name", _kind_names())
def test_every_service_kind_setting_is_documented(name: str) -> None:
    """Each settings key of every service kind is in docs/reference/services/<kind>.md."""
    from splice._internal.services import kind_registry as registry

    kind = registry.get(name)
    page = DOCS / "reference" / "services" / f"{kind.name}.md"
    assert page.is_file(), f"service kind {name!r} has no reference page {page.name}"
    text = page.read_text()
    for key in _keys(kind.settings_model):
        assert f"`{key}`" in text, f"{name} setting {key!r} is not documented"


def test_every_matcher_operator_is_documented() -> None:
    """Each `$` operator the matcher knows is in matchers.md."""
    from splice._internal.expect.vocabulary import OPERATORS

    text = _doc("matchers.md")
    for op in OPERATORS:
        assert f"`{op}" in text or f" `{op}`" in text or f"{op}`" in text, f"{op} undocumented"


def test_every_template_function_and_filter_is_documented() -> None:
    """Each function and filter splice adds to templates is in templating.md."""
    from splice._internal.templating.functions import FILTERS, GLOBALS

    text = _doc("templating.md")
    for name in [*FILTERS, *GLOBALS]:
        assert f"`{name}" in text, f"template name {name!r} is not documented"


def test_every_project_key_is_documented() -> None:
    """Each key of splice.yaml's top level, of a service and of `data` is in project.md."""
    from splice._internal.project.project_schema import (
        DataSpec,
        MigrationSpec,
        ProjectSpec,
        ServiceCommonSpec,
    )

    text = _doc("project.md")
    for model in (ProjectSpec, ServiceCommonSpec, DataSpec, MigrationSpec):
        for key in _keys(model):
            assert f"`{key}`" in text, f"{model.__name__}.{key} is not in project.md"


def test_relative_links_in_docs_resolve() -> None:
    """Every relative Markdown link in README.md and docs/ points at an existing file."""
    files = [ROOT / "README.md", *DOCS.rglob("*.md")]
    for md in files:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", md.read_text()):
            if "://" in target:
                continue
            assert (md.parent / target).exists(), (
                f"{md.relative_to(ROOT)} links to missing {target}"
            )


def test_every_public_name_is_in_the_python_reference() -> None:
    """Each name `splice` and `splice.plugins` export is documented in python.md, and the
    page names no `splice.<module>` beyond those two (everything else is private)."""
    import splice
    import splice.plugins

    text = _doc("python.md")
    for name in [*splice.__all__, *splice.plugins.__all__]:
        if name != "__version__":
            pattern = rf"`(splice\.(plugins\.)?)?{name}\b"
            assert re.search(pattern, text), f"{name} is not in docs/reference/python.md"
    named = set(re.findall(r"`splice\.([a-z_]+)", text))
    # modules and the entry-point groups; `splice.yaml` is the project file
    allowed = {"run", "check", "open_environment", "plugins", "executors", "services", "yaml"}
    assert named <= allowed, named


@pytest.mark.parametrize("name", _kind_names())
def test_every_exported_attribute_is_documented(name: str) -> None:
    """Each attribute a kind exports under `services.NAME.*` (what `splice check` accepts
    in templates) is named in its reference page."""
    from splice._internal.loader.service_refs import exported_attributes
    from splice._internal.services import kind_registry as registry

    kind = registry.get(name)
    offered = exported_attributes(name)
    assert offered is not None, f"service kind {name!r} does not declare `exports`"
    text = (DOCS / "reference" / "services" / f"{kind.name}.md").read_text()
    for attr in sorted(offered - {"user", "password", "database"}):
        assert f"`{attr}`" in text or f".{attr}`" in text, f"{name} export {attr!r} undocumented"


def test_every_exit_code_is_documented() -> None:
    """Each exit code the CLI defines (`EXIT_*`) is in cli.md's list of exit codes."""
    from splice._internal.cli import main, run_command, services

    codes = {
        value
        for module in (main, run_command, services)
        for name, value in vars(module).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    listed = _doc("cli.md").split("\n\n", 2)[1]
    for code in sorted(codes):
        assert f"`{code}`" in listed, f"exit code {code} is not in cli.md's list"
