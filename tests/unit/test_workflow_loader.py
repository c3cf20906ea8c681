"""The `workflows:` section and `*.workflow.yaml` files: the jobs they give, and a located
error with a hint for every mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from splice._internal.errors import SuiteError
from splice._internal.project.loader import load_project
from splice._internal.reporting.diagnostics import render_diagnostics
from splice._internal.workflows.loader import find_workflow, load_workflows
from splice._internal.workflows.model import JobKind

SERVICES = """
name: demo
services:
  db: {kind: postgres}
  cache: {kind: redis}
"""


def _project(tmp_path: Path, workflows: str, services: str = SERVICES) -> Path:
    (tmp_path / "splice.yaml").write_text(
        textwrap.dedent(services)
        + "workflows:\n"
        + textwrap.indent(textwrap.dedent(workflows), "  ")
    )
    return tmp_path / "splice.yaml"


def _errors(tmp_path: Path, workflows: str) -> str:
    project = load_project(_project(tmp_path, workflows))
    with pytest.raises(SuiteError) as info:
        load_workflows(project)
    return render_diagnostics(info.value.diagnostics)


def test_jobs_of_each_kind_with_needs_and_matrix(tmp_path: Path) -> None:
    """Each kind is read with its settings; a matrix crosses its values into one job per
    combination, and `needs` on a matrix job means all of its expansions."""
    project = load_project(
        _project(
            tmp_path,
            """
            ci:
              jobs:
                api: {suites: [suites], k: [orders], tags: [smoke], services: [db]}
                load:
                  command: "k6 run --env PG={{ matrix.pg }} load.js"
                  junit: "reports/k6-{{ matrix.pg }}-*.xml"
                  matrix: {pg: [15, 16], mode: [fast]}
                  needs: [api]
                  services: []
                  timeout: 2m
                  retries: 1
                python: {pytest: "tests -q", needs: [load], private: true, services: [cache]}
            """,
        )
    )
    wf = find_workflow(project, "ci")
    assert list(wf.jobs) == ["api", "load[pg=15,mode=fast]", "load[pg=16,mode=fast]", "python"]
    api, load15, _, python = wf.jobs.values()
    assert api.kind is JobKind.SUITES and api.keywords == ["orders"] and api.tags == ["smoke"]
    assert load15.kind is JobKind.COMMAND and load15.shell
    assert load15.command == ["k6 run --env PG=15 load.js"]
    assert load15.junit == ["reports/k6-15-*.xml"]
    assert load15.timeout == 120.0 and load15.retries == 1
    assert load15.matrix == {"pg": "15", "mode": "fast"}
    assert python.kind is JobKind.PYTEST and python.pytest == ["tests", "-q"]
    assert python.needs == ["load[pg=15,mode=fast]", "load[pg=16,mode=fast]"]
    assert wf.services() == {"db"}  # the private job's cache is its own


def test_a_workflow_file_is_found_and_named_after_itself(tmp_path: Path) -> None:
    """`nightly.workflow.yaml` holds the workflow `nightly`, unless it says `name:`."""
    (tmp_path / "splice.yaml").write_text("name: demo\n")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "nightly.workflow.yaml").write_text("jobs:\n  a: {command: [/bin/true]}\n")
    (tmp_path / "other.workflow.yaml").write_text("name: smoke\njobs:\n  b: {pytest: [x]}\n")
    workflows = load_workflows(load_project(tmp_path / "splice.yaml"))
    assert sorted(workflows) == ["nightly", "smoke"]


def test_a_cycle_in_needs_is_located_and_named(tmp_path: Path) -> None:
    """a → b → c → a is one error at the `needs:` that closes it, naming the whole cycle."""
    text = _errors(
        tmp_path,
        """
        ci:
          jobs:
            a: {command: [/bin/true], needs: [c]}
            b: {command: [/bin/true], needs: [a]}
            c: {command: [/bin/true], needs: [b]}
        """,
    )
    assert "cycle in needs: a → c → b → a" in text
    assert "splice.yaml:" in text and "remove one of these needs" in text


def test_unknown_job_and_service_get_did_you_mean(tmp_path: Path) -> None:
    """A misspelt job in `needs` and a misspelt service are located, with the close name."""
    text = _errors(
        tmp_path,
        """
        ci:
          jobs:
            api: {suites: [suites], services: [cahce]}
            python: {pytest: [tests], needs: [apii]}
        """,
    )
    assert "job 'api' uses unknown service 'cahce'" in text
    assert "did you mean 'cache'?" in text
    assert "job 'python' needs unknown job 'apii'" in text
    assert "did you mean 'api'?" in text


def test_a_matrix_that_expands_to_nothing_is_an_error(tmp_path: Path) -> None:
    """An empty list of matrix values would make the job vanish silently: refused."""
    text = _errors(tmp_path, "ci:\n  jobs:\n    load: {command: [k6], matrix: {pg: []}}\n")
    assert "matrix value 'pg' of job 'load' is an empty list" in text


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("{needs: []}", "job 'x' has no kind"),
        ("{suites: [s], pytest: [t]}", "job 'x' has two kinds: suites and pytest"),
        ("{pytest: [t], junit: 'r.xml'}", "`junit:` belongs to a `command:` job"),
        ("{command: [t], k: [a]}", "`k:` selects testcases of a `suites:` job"),
        ("{command: [t], timeout: soon}", "soon"),
        ("{command: [t], retry: 2}", "retry"),
        ("{command: [t], needs: [x]}", "job 'x' needs itself"),
    ],
)
def test_mistakes_in_a_job_are_located(tmp_path: Path, job: str, message: str) -> None:
    """Each mistake in a job is an error that names the file, line and what is wrong."""
    text = _errors(tmp_path, f"ci:\n  jobs:\n    x: {job}\n")
    assert message in text
    assert "splice.yaml:" in text


def test_an_unknown_workflow_names_the_close_one(tmp_path: Path) -> None:
    """`splice workflow run cii` suggests `ci`."""
    from splice._internal.errors import UsageError

    project = load_project(_project(tmp_path, "ci:\n  jobs:\n    a: {command: [/bin/true]}\n"))
    with pytest.raises(UsageError) as info:
        find_workflow(project, "cii")
    assert info.value.hint == "did you mean 'ci'?"


def test_every_job_key_and_workflow_option_is_documented() -> None:
    """Each key a job accepts is in the workflows reference; each option of `splice
    workflow run` is in cli.md."""
    import click

    from splice._internal.cli.main import cli
    from splice._internal.workflows.loader import JobSpec

    docs = Path(__file__).resolve().parents[2] / "docs" / "reference"
    reference = (docs / "workflows.md").read_text()
    for name, info in JobSpec.model_fields.items():
        assert f"| `{info.alias or name}` |" in reference, f"job key {name!r} is not documented"
    cli_md = (docs / "cli.md").read_text()
    group = cli.commands["workflow"]
    assert isinstance(group, click.Group)
    for command in group.commands.values():
        assert f"`splice workflow {command.name}" in cli_md
        for param in command.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                assert f"`{longest}" in cli_md or f", {longest}" in cli_md, longest
