"""`splice schema`: the JSON Schemas editors use agree with the loader. Every suite, project
and template file in docs/ and examples/ is valid under them, and the mistakes of the error
corpus that are about the shape of a file are invalid under them too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from click.testing import CliRunner

from splice._internal.cli.main import cli
from splice._internal.loader.json_schema import suite_schema, template_schema
from splice._internal.project.json_schema import project_schema

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "errors" / "cases"

# corpus cases whose mistake is in the file's shape (keys, types, required parts), which a
# schema can see; the others need the loader (variables, files, regexes, templates)
SHAPE_CASES = [
    "07-empty-file",
    "08-top-level-list",
    "09-missing-testcases",
    "10-unknown-top-level-key",
    "11-tags-string",
    "12-vars-list",
    "13-retries-negative",
    "14-retries-string",
    "15-testcase-without-name",
    "16-testcase-without-steps",
    "18-step-not-mapping",
    "19-step-without-executor",
    "20-unknown-executor",
    "21-two-executors",
    "22-unknown-http-method",
    "23-http-unknown-key",
    "25-http-missing-url",
    "28-unknown-expect-field",
    "38-bad-duration",
    "50-retry-unknown-key",
    "51-with-without-use",
    "53-several-errors",
    "59-capture-wrong-type",
    "71-foreach-file-as-string",
]


@pytest.fixture(scope="module")
def validators() -> dict[str, Any]:
    return {
        "suite": jsonschema_rs.validator_for(suite_schema()),
        "project": jsonschema_rs.validator_for(project_schema()),
        "template": jsonschema_rs.validator_for(template_schema()),
    }


def _doc_blocks() -> list[tuple[str, str, Any]]:
    """(format, place, data) of every YAML block in docs/ that is a whole file."""
    found = []
    for path in sorted((ROOT / "docs").rglob("*.md")):
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue  # a fragment with `...` in it
            place = f"{path.relative_to(ROOT)} (yaml block {i + 1})"
            if not isinstance(data, dict):
                continue
            if "template" in data and "steps" in data:
                found.append(("template", place, data))
            elif "testcases" in data and all(
                isinstance(tc, dict) and "steps" in tc for tc in data["testcases"]
            ):
                found.append(("suite", place, data))
            elif "services" in data:
                found.append(("project", place, data))
    return found


def _files() -> list[tuple[str, str, Any]]:
    files = [
        *(("suite", p) for p in ROOT.glob("examples/**/*.splice.yaml")),
        *(("suite", p) for p in ROOT.glob("tests/suites/passing/*.splice.yaml")),
        *(("project", p) for p in ROOT.glob("examples/**/splice.yaml")),
        *(("template", p) for p in ROOT.glob("tests/suites/templates/*.yaml")),
        *(("template", p) for p in CASES.glob("support/*.template.yaml") if "broken" not in p.name),
    ]
    return [
        (kind, str(path.relative_to(ROOT)), yaml.safe_load(path.read_text()))
        for kind, path in sorted(files, key=lambda f: str(f[1]))
    ] + _doc_blocks()


EXAMPLES = _files()


def test_the_examples_are_many() -> None:
    """The check below covers files of every format, from both folders."""
    kinds = [kind for kind, _, _ in EXAMPLES]
    assert kinds.count("suite") >= 15 and kinds.count("project") >= 15, kinds
    assert kinds.count("template") >= 3
    assert any(place.startswith("docs/") for _, place, _ in EXAMPLES)


@pytest.mark.parametrize(("kind", "place", "data"), EXAMPLES, ids=[e[1] for e in EXAMPLES])
def test_every_example_is_valid(validators, kind: str, place: str, data: Any) -> None:  # type: ignore[no-untyped-def]
    """Each suite, project and template file of docs/ and examples/ is valid."""
    errors = [f"{e.message} at {list(e.instance_path)}" for e in validators[kind].iter_errors(data)]
    assert not errors, errors[:3]


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_the_schema_rejects_what_the_loader_rejects(validators, case: str) -> None:  # type: ignore[no-untyped-def]
    """A corpus case about a file's shape is invalid under the schema too."""
    golden = ROOT / "tests" / "errors" / "golden" / f"{case}.txt"
    assert golden.read_text().startswith("error:"), "the loader rejects it"
    data = yaml.safe_load((CASES / f"{case}.splice.yaml").read_text())
    assert not validators["suite"].is_valid(data)


def test_templates_may_stand_for_values_inside_executor_blocks(validators) -> None:  # type: ignore[no-untyped-def]
    """Where the loader checks a value only once rendered, the schema takes a template
    (numbers and durations included: `retries`, `retry.attempts`, `timeout`); in the
    suite's other own keys, which the loader checks as written, it does not."""
    step = {"http": {"get": "http://x", "timeout": "{{ t }}", "follow_redirects": "{{ f }}"}}
    suite: dict[str, Any] = {"testcases": [{"name": "t", "steps": [step]}]}
    assert validators["suite"].is_valid(suite)
    suite["testcases"][0]["retries"] = "{{ n }}"
    step["timeout"] = "{{ slow }}"
    step["retry"] = {"attempts": "{{ n }}", "interval": "{{ pause }}", "timeout": "{{ t }}"}
    assert validators["suite"].is_valid(suite)
    suite["testcases"][0]["retries"] = "twice"
    assert not validators["suite"].is_valid(suite)
    suite["testcases"][0]["retries"] = 1
    suite["serial"] = "{{ s }}"
    assert not validators["suite"].is_valid(suite)


def test_short_forms_and_data_driven_keys(validators) -> None:  # type: ignore[no-untyped-def]
    """Executors' short forms are valid, with one method key; matrix and foreach too."""
    good = {
        "foreach": {"file": "rows.csv"},
        "testcases": [
            {
                "name": "t",
                "matrix": {"size": ["s", "m"]},
                "steps": [
                    {"exec": "echo hi"},
                    {"exec": ["echo", "hi"]},
                    {"http": "POST http://x"},
                    {"http": {"post": "http://x", "json": {"a": 1}}, "expect": {"status": 201}},
                    {"include": "steps/login.yaml"},
                    {"use": "login", "with": {"user": "ada"}},
                ],
            }
        ],
    }
    assert validators["suite"].is_valid(good)
    query = {"sql": {"service": "db", "query": "select id from users", "params": {"a": 1}}}
    good["testcases"][0]["foreach"] = query  # type: ignore[index]
    del good["testcases"][0]["matrix"]  # type: ignore[attr-defined]
    assert validators["suite"].is_valid(good)
    query["sql"]["quer"] = query["sql"].pop("query")  # type: ignore[attr-defined]
    assert not validators["suite"].is_valid(good)
    two_verbs = {"testcases": [{"name": "t", "steps": [{"http": {"get": "u", "post": "u"}}]}]}
    assert not validators["suite"].is_valid(two_verbs)
    wrong_field = {"testcases": [{"name": "t", "steps": [{"exec": "x", "expect": {"status": 0}}]}]}
    assert not validators["suite"].is_valid(wrong_field)


def test_a_service_is_checked_against_its_kind(validators) -> None:  # type: ignore[no-untyped-def]
    """Each service's keys are those of its kind (and the common ones)."""
    project = {"services": {"db": {"kind": "postgres", "database": "shop", "depends_on": []}}}
    assert validators["project"].is_valid(project)
    project["services"]["db"]["stubs"] = "mocks/*.yaml"  # a mock's setting
    assert not validators["project"].is_valid(project)
    assert not validators["project"].is_valid({"services": {"db": {"kind": "postgress"}}})


def test_contracts_and_openapi_documents_are_in_the_project_schema(validators) -> None:  # type: ignore[no-untyped-def]
    """`contracts:` entries and a service's `openapi:` are valid; their misspellings not."""
    project: dict[str, Any] = {
        "services": {"api": {"kind": "process", "command": "x", "openapi": "openapi.yaml"}},
        "contracts": [
            {"provider": "api", "pacts": ["pacts/*.json"], "states": "states.yaml"},
            {
                "provider": "api",
                "broker": {"provider_name": "payments", "selectors": [{"branch": "main"}]},
                "state_url": "{{ services.api.url }}/_pact/state",
            },
        ],
    }
    assert validators["project"].is_valid(project)
    project["contracts"][0]["stats"] = "states.yaml"
    assert not validators["project"].is_valid(project)
    del project["contracts"][0]["stats"]
    project["contracts"][1]["broker"]["selectors"][0]["lates"] = True
    assert not validators["project"].is_valid(project)


@pytest.mark.parametrize("format_", ["suite", "project", "template"])
def test_splice_schema_prints_the_schema(format_: str, tmp_path: Path) -> None:
    """`splice schema FORMAT` prints the document; `-o FILE` writes it."""
    done = CliRunner().invoke(cli, ["schema", format_])
    assert done.exit_code == 0
    printed = json.loads(done.stdout)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    out = tmp_path / "schemas" / f"{format_}.json"
    done = CliRunner().invoke(cli, ["schema", format_, "-o", str(out)])
    assert done.exit_code == 0
    assert json.loads(out.read_text()) == printed
