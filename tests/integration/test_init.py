"""`splice init` in fresh folders of several shapes: what it finds, what it writes, and that
`splice run` of what it wrote passes against the services it proposed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from splice._internal.loader.json_schema import suite_schema
from splice._internal.project.json_schema import project_schema
from tests.support.docs_blocks import check_output

pytestmark = pytest.mark.integration

FASTAPI_APP = """
import os
from fastapi import FastAPI

app = FastAPI()


@app.get("/health", summary="the service is up")
def health() -> dict:
    return {"status": "ok", "wired": bool(os.environ.get("DATABASE_URL"))}


@app.get("/items", summary="the items are listed")
def items() -> list:
    return []


@app.get("/items/{item_id}")
def item(item_id: int) -> dict:
    return {"id": item_id}
"""

COMPOSE = """
services:
  web:
    build: .
    environment:
      DATABASE_URL: postgresql://shop:secret@db:5432/shop
      REDIS_URL: redis://cache:6379/0
  db:
    image: postgres:16
    environment: {POSTGRES_DB: shop, POSTGRES_PASSWORD: secret}
  cache:
    image: redis:7-alpine
  mail:
    image: mailhog/mailhog
"""


def _splice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}
    env.update(NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "splice", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def _valid(folder: Path) -> None:
    """What init wrote is valid under the editor schemas too."""
    project = yaml.safe_load((folder / "splice.yaml").read_text())
    suite = yaml.safe_load((folder / "suites" / "first.splice.yaml").read_text())
    assert jsonschema_rs.validator_for(project_schema()).is_valid(project)
    assert jsonschema_rs.validator_for(suite_schema()).is_valid(suite)


def test_an_empty_folder_gets_a_starter_project_that_passes(tmp_path: Path) -> None:
    """A mock, its stubs and a suite that calls it; the output says what to do next."""
    done = _splice(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert "nothing to build on" in done.stdout
    assert (
        "wrote:\n  splice.yaml\n  mocks/greeter.yaml\n  suites/first.splice.yaml\n" in done.stdout
    )
    assert "next:\n  splice run " in done.stdout
    _valid(tmp_path)
    run = _splice(tmp_path, "run", "--no-store")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_a_fastapi_app_becomes_a_process_service(tmp_path: Path) -> None:
    """The app is started on splice's port with uvicorn, ready once it serves its
    OpenAPI document, which the first suite checks."""
    _write(tmp_path, {"src/shop/__init__.py": "", "src/shop/main.py": FASTAPI_APP})
    done = _splice(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert "app: the fastapi app in src/shop/main.py" in done.stdout
    project = yaml.safe_load((tmp_path / "splice.yaml").read_text())
    assert project["services"]["app"] == {
        "kind": "process",
        "command": "python -m uvicorn shop.main:app --port {{ port }}",
        "cwd": "src",
        "ready": {"http": "/openapi.json"},
    }
    _valid(tmp_path)
    run = _splice(tmp_path, "run", "--no-store")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the app describes its API" in run.stdout


def test_compose_services_and_an_openapi_document_make_the_first_suite(tmp_path: Path) -> None:
    """docker-compose's PostgreSQL and Redis become splice services the app is wired to;
    the OpenAPI document's GET operations without parameters become testcases; services
    splice cannot run are named as left out. Everything passes against real servers."""
    _write(tmp_path, {"shop/__init__.py": "", "shop/app.py": FASTAPI_APP, "compose.yaml": COMPOSE})
    openapi = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from shop.app import app; print(json.dumps(app.openapi()))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "openapi.json").write_text(openapi)
    done = _splice(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert "left out of splice.yaml: web (built here), mail (image mailhog/mailhog)" in done.stdout
    assert "docs/openapi.json: 2 GET operations without parameters" in done.stdout
    project = yaml.safe_load((tmp_path / "splice.yaml").read_text())
    assert project["services"]["db"] == {"kind": "postgres", "database": "shop"}
    assert project["services"]["cache"] == {"kind": "redis"}
    assert project["services"]["app"]["env"] == {
        "DATABASE_URL": "{{ services.db.url }}",
        "REDIS_URL": "{{ services.cache.url }}",
    }
    assert project["services"]["app"]["depends_on"] == ["db", "cache"]
    _valid(tmp_path)
    run = _splice(tmp_path, "run", "--no-store", "--json", "run.json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "run.json").read_text())
    names = [tc["name"] for suite in report["suites"] for tc in suite["testcases"]]
    assert names == ["db answers", "cache answers", "the service is up", "the items are listed"]


@pytest.mark.parametrize(
    ("files", "command", "ready"),
    [
        (
            {"app.py": "from flask import Flask\n\nserver = Flask(__name__)\n"},
            "python -m flask --app app:server run --port {{ port }}",
            {"tcp": True},
        ),
        (
            {"manage.py": "import django\n"},
            "python manage.py runserver 127.0.0.1:{{ port }} --noreload",
            {"tcp": True},
        ),
    ],
    ids=["flask", "django"],
)
def test_flask_and_django_apps_are_found(
    tmp_path: Path, files: dict[str, str], command: str, ready: dict[str, bool]
) -> None:
    """Each framework's app is started the way its own tools start it, and the result is
    a project `splice check` accepts."""
    _write(tmp_path, files)
    assert _splice(tmp_path, "init").returncode == 0
    app = yaml.safe_load((tmp_path / "splice.yaml").read_text())["services"]["app"]
    assert (app["command"], app["ready"]) == (command, ready)
    check = _splice(tmp_path, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_openapi_document_alone_targets_a_base_url(tmp_path: Path) -> None:
    """Without an app to start, the suite calls `base_url`, and the next steps say how
    to give it."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/status": {"get": {"operationId": "getStatus", "responses": {"200": {}}}},
            "/orders": {"post": {"responses": {"201": {}}}},
        },
    }
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(document))
    done = _splice(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert "splice run --var base_url=" in done.stdout
    suite = yaml.safe_load((tmp_path / "suites" / "first.splice.yaml").read_text())
    assert suite["vars"] == {"base_url": "http://127.0.0.1:8000"}
    assert suite["testcases"][0]["name"] == "getStatus"
    assert _splice(tmp_path, "check").returncode == 0


def test_nothing_is_overwritten_without_force(tmp_path: Path) -> None:
    """An existing file stops init before it writes anything; --force overwrites."""
    (tmp_path / "splice.yaml").write_text("name: mine\n")
    done = _splice(tmp_path, "init")
    assert done.returncode == 2
    assert done.stderr.startswith("error: splice.yaml exists\n  hint: nothing was written")
    assert (tmp_path / "splice.yaml").read_text() == "name: mine\n"
    assert not (tmp_path / "suites").exists()
    done = _splice(tmp_path, "init", "--force")
    assert done.returncode == 0
    assert "splice.yaml (overwritten)" in done.stdout
    assert "greeter" in (tmp_path / "splice.yaml").read_text()


def test_init_into_a_new_folder(tmp_path: Path) -> None:
    """`splice init FOLDER` makes the folder and says to go there first."""
    done = _splice(tmp_path, "init", "new")
    assert done.returncode == 0, done.stderr
    assert "next:\n  cd new\n" in done.stdout
    assert (tmp_path / "new" / "splice.yaml").is_file()


def test_the_output_in_the_docs_is_what_init_prints(tmp_path: Path) -> None:
    """The console block under `splice init` in cli.md is init's output in an empty folder."""
    done = _splice(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    check_output("cli-init", done.stdout)
