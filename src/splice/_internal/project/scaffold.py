"""What `splice init` proposes for a folder: services and a first suite that passes.

It looks for what a repository already says about its system:

- a Python web app (FastAPI or Starlette, Flask, Django) becomes a `process` service that
  starts it on the port splice gives it;
- the services of a `docker-compose.yml` whose images splice knows (PostgreSQL, MySQL,
  MariaDB, Redis, RabbitMQ, NATS, Mosquitto, Kafka) become services of those kinds, and
  the app's environment that points at them is rewired to them;
- an OpenAPI document gives the first suite one testcase per GET operation without path
  parameters, against the app when one was found.

Nothing is found in an empty folder: then a `mock` service and a suite that calls it show
the shape of a project. The files are proposed as text, so the command can show and write
them; this module never writes.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

# images of docker-compose services -> splice kinds (matched on the image's last name)
IMAGE_KINDS = {
    "postgres": "postgres",
    "postgis": "postgres",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "redis": "redis",
    "valkey": "redis",
    "rabbitmq": "rabbitmq",
    "nats": "nats",
    "eclipse-mosquitto": "mqtt",
    "mosquitto": "mqtt",
    "kafka": "kafka",
    "cp-kafka": "kafka",
    "redpanda": "kafka",
}
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OPENAPI_FILES = ("openapi.yaml", "openapi.yml", "openapi.json", "swagger.yaml", "swagger.json")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".splice", "build", "dist"}
_MAX_OPERATIONS = 5  # GET testcases in the first suite


@dataclass
class WebApp:
    """A Python web app found in the folder."""

    framework: str  # fastapi, flask, django
    module: str  # dotted module (`shop.app`), or `manage.py` for Django
    variable: str  # the app object's name in its module
    source: Path
    cwd: str | None = None  # `src` for a src layout

    def command(self) -> str:
        if self.framework == "django":
            return "python manage.py runserver 127.0.0.1:{{ port }} --noreload"
        if self.framework == "flask":
            return f"python -m flask --app {self.module}:{self.variable} run --port {{{{ port }}}}"
        return f"python -m uvicorn {self.module}:{self.variable} --port {{{{ port }}}}"


@dataclass
class ComposeService:
    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Findings:
    """What the folder holds, in the words of the report `splice init` prints."""

    app: WebApp | None = None
    compose: Path | None = None
    services: list[ComposeService] = field(default_factory=list)
    not_mapped: list[str] = field(default_factory=list)  # compose services left out
    app_env: dict[str, str] = field(default_factory=dict)
    openapi: Path | None = None
    operations: list[tuple[str, str]] = field(default_factory=list)  # (path, summary)

    def empty(self) -> bool:
        return self.app is None and not self.services and self.openapi is None


def detect(folder: Path) -> Findings:
    """Look at `folder` (not below two levels, skipping virtualenvs and builds)."""
    found = Findings()
    found.app = _web_app(folder)
    _compose(folder, found)
    _openapi(folder, found)
    return found


# --- Python web apps ------------------------------------------------------------------------


def _python_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for depth in ("*.py", "*/*.py", "*/*/*.py"):
        files += [
            p
            for p in sorted(folder.glob(depth))
            if not _SKIP_DIRS & set(p.relative_to(folder).parts)
        ]
    return files


_APP_CALL = re.compile(r"^(\w+)\s*(?::[^=]+)?=\s*(FastAPI|Starlette|Flask)\(", re.M)


def _web_app(folder: Path) -> WebApp | None:
    if (folder / "manage.py").is_file():
        return WebApp("django", "manage.py", "", folder / "manage.py")
    for path in _python_files(folder):
        if path.stat().st_size > 1_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        match = _APP_CALL.search(text)
        if match is None or not _parses(text):
            continue
        framework = "flask" if match.group(2) == "Flask" else "fastapi"
        rel = path.relative_to(folder).with_suffix("")
        parts = list(rel.parts)
        cwd = None
        if parts[0] == "src" and len(parts) > 1:
            parts, cwd = parts[1:], "src"
        if parts[-1] == "__init__":
            parts = parts[:-1] or parts
        return WebApp(framework, ".".join(parts), match.group(1), path, cwd)
    return None


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


# --- docker-compose ------------------------------------------------------------------------


def _compose(folder: Path, found: Findings) -> None:
    path = next((folder / n for n in COMPOSE_FILES if (folder / n).is_file()), None)
    if path is None:
        return
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        found.not_mapped.append(f"{path.name} (not valid YAML)")
        return
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return
    found.compose = path
    for name, spec in services.items():
        if not isinstance(spec, dict):
            continue
        image = str(spec.get("image") or "")
        base = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        kind = IMAGE_KINDS.get(base)
        if kind is None:
            what = f"image {image}" if image else "built here" if "build" in spec else "no image"
            found.not_mapped.append(f"{name} ({what})")
            if "build" in spec:
                found.app_env.update(_environment(spec))
            continue
        found.services.append(ComposeService(str(name), kind, _settings(kind, spec)))


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment")
    if isinstance(env, list):
        pairs = [str(item).split("=", 1) for item in env]
        return {p[0]: p[1] for p in pairs if len(p) == 2}
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items() if v is not None}
    return {}


def _settings(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    env = _environment(spec)
    names = {
        "postgres": "POSTGRES_DB",
        "mysql": "MYSQL_DATABASE",
        "mariadb": "MARIADB_DATABASE",
    }
    database = env.get(names.get(kind, ""), "") or (
        env.get("MYSQL_DATABASE", "") if kind == "mariadb" else ""
    )
    return {"database": database} if database else {}


def wired_env(found: Findings) -> dict[str, str]:
    """The app's compose environment, with URLs naming a mapped service pointed at it."""
    hosts = {s.name: s for s in found.services}
    wired: dict[str, str] = {}
    for key, value in found.app_env.items():
        try:
            host = urlsplit(value).hostname if "://" in value else None
        except ValueError:
            host = None
        if host in hosts:
            wired[key] = f"{{{{ services.{host}.url }}}}"
    return wired


# --- OpenAPI -------------------------------------------------------------------------------


def _openapi(folder: Path, found: Findings) -> None:
    candidates = [folder / n for n in OPENAPI_FILES]
    candidates += [folder / d / n for d in ("docs", "api", "spec") for n in OPENAPI_FILES]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, UnicodeDecodeError):
        return
    if not isinstance(data, dict) or not ("openapi" in data or "swagger" in data):
        return
    found.openapi = path
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return
    for route, item in paths.items():
        if not isinstance(item, dict) or "{" in str(route) or not isinstance(item.get("get"), dict):
            continue
        operation = item["get"]
        codes = [c for c in (operation.get("responses") or {}) if str(c).startswith("2")]
        if not codes:
            continue
        summary = str(operation.get("summary") or operation.get("operationId") or f"GET {route}")
        found.operations.append((str(route), summary))
        if len(found.operations) == _MAX_OPERATIONS:
            break


# --- the proposal --------------------------------------------------------------------------


@dataclass
class Proposal:
    """The files to write (relative path -> text) and what to say about them."""

    files: dict[str, str]
    found: list[str]
    next_steps: list[str]


def propose(folder: Path, found: Findings) -> Proposal:
    """The project file, the first suite (and, for an empty folder, a mock's stubs)."""
    name = re.sub(r"[^\w.-]+", "-", folder.resolve().name).strip("-") or "project"
    if found.empty():
        return _starter(name)
    services: dict[str, Any] = {}
    notes: list[str] = []
    for svc in found.services:
        services[svc.name] = {"kind": svc.kind, **svc.settings}
        notes.append(f"{svc.name}: a {svc.kind} service, from {found.compose.name}")  # type: ignore[union-attr]
    if found.not_mapped:
        notes.append("left out of splice.yaml: " + ", ".join(found.not_mapped))
    app = found.app
    if app is not None:
        entry: dict[str, Any] = {"kind": "process", "command": app.command()}
        if app.cwd:
            entry["cwd"] = app.cwd
        env = wired_env(found)
        if env:
            entry["env"] = env
        ready = "/openapi.json" if app.framework == "fastapi" else None
        entry["ready"] = {"http": ready} if ready else {"tcp": True}
        if found.services:
            entry["depends_on"] = [s.name for s in found.services]
        services["app"] = entry
        notes.append(
            f"app: the {app.framework} app in {app.source.relative_to(folder).as_posix()}, "
            "started on the port splice gives it"
        )
    if found.openapi is not None:
        count = len(found.operations)
        notes.append(
            f"{found.openapi.relative_to(folder).as_posix()}: {count} GET "
            f"operation{'' if count == 1 else 's'} without parameters for the first suite"
        )
    project = {"name": name, "services": services, "suites": ["suites/*.splice.yaml"]}
    files = {
        "splice.yaml": _header("splice.yaml: the services of this project and where its suites are")
        + _dump(project),
        "suites/first.splice.yaml": _first_suite(found),
    }
    steps = ["splice run                  # starts the services, runs suites/, stops them"]
    if found.openapi is not None and app is None:
        steps[0] = "splice run --var base_url=http://127.0.0.1:8000   # where the API runs"
    if found.not_mapped:
        steps.append(
            "add what was left out as `kind: process` (a command) or with `url:` (a server "
            "that runs already)"
        )
    steps += [
        "splice schema suite -o schemas/suite.json   # completion in editors (docs: editor)",
        "edit suites/first.splice.yaml: add the behaviour your system promises",
    ]
    return Proposal(files, notes, steps)


def _header(text: str) -> str:
    return f"# {text}\n# (written by `splice init`; see the project file reference)\n"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _first_suite(found: Findings) -> str:
    testcases: list[dict[str, Any]] = []
    for svc in found.services:
        check = _service_check(svc)
        if check is not None:
            testcases.append({"name": f"{svc.name} answers", "steps": [check]})
    app = found.app
    base = "{{ services.app.url }}" if app is not None else "{{ base_url }}"
    if found.operations:
        for route, summary in found.operations:
            testcases.append(
                {
                    "name": summary,
                    "steps": [
                        {"http": {"get": f"{base}{route}"}, "expect": {"status": {"$lt": 300}}}
                    ],
                }
            )
    elif app is not None:
        testcases.append(_app_check(app))
    suite: dict[str, Any] = {"name": "first"}
    if app is None and found.operations:
        suite["vars"] = {"base_url": "http://127.0.0.1:8000"}
    suite["testcases"] = testcases
    return _header("suites/first.splice.yaml: a first suite; `splice run` runs it") + _dump(suite)


def _service_check(svc: ComposeService) -> dict[str, Any] | None:
    if svc.kind in ("postgres", "mysql", "mariadb"):
        return {
            "sql": {"service": svc.name, "query": "select 1 as one"},
            "expect": {"rows": [{"one": 1}]},
        }
    if svc.kind == "redis":
        return {"redis": {"service": svc.name, "command": "PING"}, "expect": {"value": "PONG"}}
    return None  # a broker is checked by the steps that use it


def _app_check(app: WebApp) -> dict[str, Any]:
    if app.framework == "fastapi":
        step = {
            "http": {"get": "{{ services.app.url }}/openapi.json"},
            "expect": {"status": 200, "json": {"openapi": {"$type": "string"}}},
        }
        return {"name": "the app describes its API", "steps": [step]}
    step = {"http": {"get": "{{ services.app.url }}/"}, "expect": {"status": {"$lt": 500}}}
    return {"name": "the app answers", "steps": [step]}


def _starter(name: str) -> Proposal:
    project = {
        "name": name,
        "services": {
            "greeter": {"kind": "mock", "stubs": ["mocks/greeter.yaml"]},
        },
        "suites": ["suites/*.splice.yaml"],
    }
    stubs = [
        {
            "name": "hello",
            "request": {"method": "GET", "path": "/hello"},
            "response": {"status": 200, "json": {"message": "hello"}},
        }
    ]
    suite = {
        "name": "first",
        "testcases": [
            {
                "name": "the greeter says hello",
                "steps": [
                    {
                        "http": {"get": "{{ services.greeter.url }}/hello"},
                        "expect": {"status": 200, "json": {"message": "hello"}},
                    }
                ],
            }
        ],
    }
    files = {
        "splice.yaml": _header(
            "splice.yaml: `greeter` is an HTTP mock; replace it with your own services"
        )
        + _dump(project),
        "mocks/greeter.yaml": _header("mocks/greeter.yaml: what the greeter mock answers")
        + _dump(stubs),
        "suites/first.splice.yaml": _header(
            "suites/first.splice.yaml: a first suite; `splice run` runs it"
        )
        + _dump(suite),
    }
    steps = [
        "splice run                  # starts the mock, runs suites/, stops it",
        "add your services to splice.yaml: kind postgres, redis, process (your app), ...",
        "splice schema suite -o schemas/suite.json   # completion in editors (docs: editor)",
    ]
    return Proposal(files, ["nothing to build on: a starter project with an HTTP mock"], steps)
