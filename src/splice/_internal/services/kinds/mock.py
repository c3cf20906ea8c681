"""The `mock` kind: an HTTP double of a third-party API, on its own port.

    payments:
      kind: mock
      stubs: [mocks/payments/*.yaml]
      wiremock: [mocks/wiremock/mappings/*.json]
      journal_size: 10000
      record: {target: "https://api.example.com", mode: once, cassette: cassettes/pay.yaml,
               scrub: {headers: [Authorization]}}

Stub files are read and checked here (errors point at file, line and column), then the
server runs in its own process (`python -m splice._internal.doubles.server`): its event loop never
competes with the runner's threads for the interpreter lock. Readiness is a real HTTP
exchange with the admin API.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from splice._internal.doubles.client import MockAdminError, MockClient
from splice._internal.doubles.files import StubFileError, expand, load_stub_file, load_wiremock_file
from splice._internal.model.durations import parse_duration
from splice._internal.services.kind_api import (
    Endpoint,
    RunningService,
    ServiceError,
    Settings,
    StartContext,
)
from splice._internal.services.readiness import wait_ready
from splice._internal.services.settings import (
    Duration,
    HttpUrl,
    matching_files,
    project_dir,
    user_regex,
)
from splice._internal.source.validation import HintedValueError
from splice._internal.templating import is_template


def _splice_package() -> Path:
    """The folder of the splice package: its parent goes on the PYTHONPATH of the double's
    own process (the package is found, not imported: a kind imports nothing above it)."""
    spec = importlib.util.find_spec("splice")
    assert spec is not None and spec.origin is not None  # this very module is inside it
    return Path(spec.origin).resolve().parent


class ScrubSettings(Settings):
    headers: list[str] = []
    query: list[str] = []
    json_: list[str] = Field(default=[], alias="json")
    patterns: list[str] = []
    replacement: str = "<scrubbed>"

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            user_regex(pattern)
        return value


class RecordSettings(Settings):
    cassette: str
    mode: Literal["once", "new", "none", "all"] = "once"
    target: HttpUrl = None
    match_on: list[Literal["method", "path", "query", "body"]] = ["method", "path", "query", "body"]
    scrub: ScrubSettings = ScrubSettings()
    timeout: Duration = "30s"

    @model_validator(mode="after")
    def _target(self) -> RecordSettings:
        if self.mode != "none" and not self.target:
            raise HintedValueError(
                f"record mode {self.mode!r} forwards to the real API, but `target` is not set",
                "add `target: https://api.example.com`, or use mode `none` to replay only",
            )
        return self

    @model_validator(mode="after")
    def _cassette(self, info: ValidationInfo) -> RecordSettings:
        root = project_dir(info)
        if root is None or is_template(self.cassette):
            return self
        path = Path(self.cassette)
        path = path if path.is_absolute() else root / path
        if self.mode == "none" and not path.is_file():
            raise HintedValueError(
                f"record mode 'none' replays the cassette {self.cassette!r}, which does not exist",
                "record it first with mode `once` (and a `target`), or fix the path",
            )
        if self.mode != "all" and path.is_file():
            from splice._internal.doubles.cassette import Cassette, CassetteError

            try:
                Cassette.load(path)
            except CassetteError as exc:
                why = str(exc).replace(f"cassette {str(path)!r} ", "")
                raise HintedValueError(
                    f"the cassette {self.cassette!r} cannot be replayed: {why}",
                    "fix the file, or delete it to record again",
                ) from exc
        return self


def _stub_files(pattern: str, info: ValidationInfo) -> str:
    return _checked_files(pattern, info, "stub")


def _wiremock_files(pattern: str, info: ValidationInfo) -> str:
    return _checked_files(pattern, info, "WireMock mapping")


def _checked_files(pattern: str, info: ValidationInfo, what: str) -> str:
    """Each file the pattern matches loads: a mistake in a stub is located in its file."""
    files = matching_files(pattern, info, what)
    root = project_dir(info)
    for path in files or []:
        assert root is not None
        try:
            if what == "stub":
                load_stub_file(path, root)
            else:
                load_wiremock_file(path, root)
        except StubFileError as exc:
            raise HintedValueError(
                exc.problem if exc.span else exc.message, exc.hint, exc.span
            ) from exc
    return pattern


StubFiles = Annotated[str, AfterValidator(_stub_files)]
WireMockFiles = Annotated[str, AfterValidator(_wiremock_files)]


class ContractSettings(Settings):
    """The mock stands for `provider` in a contract with `consumer`: at the end of the run,
    the stubs the run exercised are written as a Pact V4 file."""

    consumer: str = Field(min_length=1)
    provider: str | None = None  # default: the service's name
    file: str | None = None  # default: pacts/<consumer>-<provider>.json beside splice.yaml


class MockSettings(Settings):
    stubs: list[StubFiles] | StubFiles = []
    wiremock: list[WireMockFiles] | WireMockFiles = []
    journal_size: int = Field(default=10_000, ge=0)
    journal_body_limit: int = Field(default=64 * 1024, ge=0)
    unmatched_status: int = Field(default=404, ge=100, le=599)
    record: RecordSettings | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    ready_timeout: Duration = "10s"
    contract: ContractSettings | None = None
    openapi: str | None = None  # the real API's OpenAPI document: stubs are checked against it


def _list(value: list[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class MockKind:
    """An HTTP mock with stubs, scenarios, faults, a journal and record/replay."""

    name: ClassVar[str] = "mock"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"admin_url"})
    settings_model: ClassVar[type[Settings]] = MockSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local", "external"})
    packages: ClassVar[dict[str, str]] = {}  # pure Python: nothing to install
    isolation_modes: ClassVar[frozenset[str]] = frozenset({"reset"})
    # one server the system under test calls, that cannot be copied per parallel
    # testcase: under --jobs, the attempts that reset it run one at a time
    shared_modes: ClassVar[frozenset[str]] = frozenset({"reset"})

    def __init__(self) -> None:
        self._holders: dict[str, int] = {}
        self._lock = threading.Lock()

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: MockSettings = ctx.spec.settings
        name = ctx.spec.name
        config = self._config(settings, ctx)
        port = settings.port or ctx.resources.port()
        config["port"] = port
        config_path = ctx.run_dir / "mock.json"
        given = frozenset(ctx.masker.values) if config["record"] is not None else frozenset()
        if config["record"] is not None:
            config["record"]["secrets"] = sorted(given)
        config_path.touch(mode=0o600)  # it may hold the run's secrets
        config_path.write_text(json.dumps(config), encoding="utf-8")
        env = dict(os.environ)
        # the server imports splice from wherever this process does (a source checkout too)
        source_root = str(_splice_package().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
        args = [
            sys.executable,
            "-m",
            "splice._internal.doubles.server",
            "--config",
            str(config_path),
        ]
        proc = ctx.resources.spawn(args, log=ctx.log_path, env=env, cwd=ctx.project_dir)
        url = f"http://127.0.0.1:{port}"
        client = MockClient(url, timeout=2.0)
        try:
            wait_ready(
                name,
                client.health,
                awaited=f"GET {url}/__splice/health to answer",
                timeout=parse_duration(settings.ready_timeout),
                proc=proc,
                log_path=ctx.log_path,
            )
        except BaseException:
            ctx.resources.stop(proc)
            ctx.resources.release_port(port)
            raise
        forget = _pass_on_secrets(ctx, url, given) if config["record"] is not None else None

        def stop() -> None:
            if forget is not None:
                forget()
            if settings.contract is not None:
                _write_contract(settings.contract, name, client, ctx.project_dir)
            ctx.resources.stop(proc, grace=3.0)
            ctx.resources.release_port(port)

        endpoint = _endpoint(url)
        return RunningService(
            ctx.spec,
            endpoint,
            stop=stop,
            log_path=ctx.log_path,
            pid=proc.pid,
            state={"admin_url": endpoint.extra["admin_url"]},
        )

    def _config(self, settings: MockSettings, ctx: StartContext) -> dict[str, Any]:
        name, root = ctx.spec.name, ctx.project_dir
        stubs: list[dict[str, Any]] = []
        try:
            for path in expand(_list(settings.stubs), root, "stub"):
                stubs += load_stub_file(path, root)
            for path in expand(_list(settings.wiremock), root, "WireMock mapping"):
                stubs += load_wiremock_file(path, root)
        except StubFileError as exc:
            raise ServiceError(name, exc.message, hint=exc.hint) from exc
        if settings.openapi:
            _check_openapi(name, settings.openapi, root, stubs)
        record = None
        if settings.record is not None:
            record = _record(settings.record, root, name)
        return {
            "host": "127.0.0.1",
            "stubs": stubs,
            "base_dir": str(root),
            "journal_size": settings.journal_size,
            "journal_body_limit": settings.journal_body_limit,
            "unmatched_status": settings.unmatched_status,
            "record": record,
            "contract": settings.contract is not None,
        }

    def external(self, spec: Any) -> Endpoint:
        return _endpoint(str(spec.url).rstrip("/"))

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        client = MockClient(endpoint.url, timeout=2.0)
        hint = "an external `mock` service must be a splice mock (`splice mock serve`)"
        answered: list[MockAdminError] = []

        def probe() -> None:
            try:
                client.health()
            except MockAdminError as exc:
                if exc.status is None:
                    raise  # not listening yet: wait
                answered.append(exc)  # an HTTP server, but not a splice mock: no use waiting

        wait_ready(
            "external",
            probe,
            awaited=f"GET {endpoint.url}/__splice/health (a splice mock) to answer",
            timeout=timeout,
            hint=hint,
        )
        if answered:
            raise ServiceError(
                "external",
                f"{endpoint.url} answered /__splice/health with {answered[0].message}",
                hint=hint,
            )

    # data: stub files as fixtures, a reset as isolation --------------------------------
    def load_fixtures(self, service: RunningService, files: list[Path]) -> None:
        root = service.spec.span.path.parent if service.spec.span else Path.cwd()
        stubs: list[dict[str, Any]] = []
        try:
            for path in files:
                stubs += [s["stub"] for s in load_stub_file(path, root)]
        except StubFileError as exc:
            raise ServiceError(service.name, exc.message, hint=exc.hint) from exc
        if stubs:
            self._admin(service, lambda c: c.add(*stubs, base=True))

    def prepare_isolation(self, service: RunningService, mode: str) -> None:
        """Nothing to prepare: a reset is cheap."""

    def acquire(self, service: RunningService, mode: str, key: str) -> Endpoint | None:
        """Before a testcase attempt: back to the file stubs, an empty journal and
        scenarios in `Started`. Skipped while another hold of the mock is open (the data
        manager runs the attempts of a reset mock one at a time under --jobs), so a reset
        never pulls stubs from under a running test."""
        with self._lock:
            held = self._holders.get(service.name, 0)
            self._holders[service.name] = held + 1
        if held == 0:
            self._admin(service, lambda c: c.reset())
        return None

    def release(
        self, service: RunningService, mode: str, key: str, endpoint: Endpoint | None
    ) -> None:
        with self._lock:
            self._holders[service.name] = max(0, self._holders.get(service.name, 1) - 1)

    def _admin(self, service: RunningService, call: Any) -> Any:
        try:
            return call(MockClient(service.endpoint.url))
        except MockAdminError as exc:
            problems = "; ".join(exc.problems)
            raise ServiceError(
                service.name,
                exc.message + (f": {problems}" if problems else ""),
                hint="read the mock's log",
                log_tail=service.log_tail(),
                log_path=service.log_path,
            ) from exc


def _check_openapi(name: str, document: str, root: Path, stubs: list[dict[str, Any]]) -> None:
    """Each stub's response must be one the real API could give (its OpenAPI document)."""
    import re

    from splice._internal.contracts.openapi import OpenApiContract
    from splice._internal.errors import SuiteError

    path = Path(document) if Path(document).is_absolute() else root / document
    try:
        contract = OpenApiContract.load(path)
    except SuiteError as exc:
        first = exc.diagnostics[0]
        where = f"{first.span}: " if first.span else ""
        raise ServiceError(name, where + first.message, hint=first.hint) from exc
    for item in stubs:
        stub = item["stub"]
        request = stub.get("request") or {}
        method = request.get("method")
        target = request.get("path") or request.get("path_template")
        responses = stub.get("responses") or [stub.get("response") or {}]
        if not isinstance(method, str) or method == "ANY" or not isinstance(target, str):
            continue  # a stub for many operations: no one operation to check it against
        target = re.sub(r"\{[^/{}]+\}", "1", target)
        for response in responses:
            if response.get("fault") or response.get("template"):
                continue
            body = response.get("json") if "json" in response else response.get("body")
            if isinstance(body, str) and ("{{" in body or "{%" in body):
                continue  # templated: its value is known only when it answers
            found = contract.check_response(
                method,
                target,
                int(response.get("status", 200)),
                body=body,
                content_type="application/json" if "json" in response else "text/plain",
            )
            if found:
                raise ServiceError(
                    name,
                    f"{item.get('source')}: the stub answers {method} {target} with what the "
                    f"API's OpenAPI document does not allow: {found[0]}",
                    hint=f"fix the stub, or {document} if the API changed",
                )


def _write_contract(contract: ContractSettings, name: str, client: MockClient, root: Path) -> None:
    """The pact of the stubs this run exercised; a failure is a warning, not a lost run."""
    from splice._internal.contracts.consumer import pact_document, write_pact

    provider = contract.provider or name
    path = Path(contract.file or f"pacts/{contract.consumer}-{provider}.json")
    path = path if path.is_absolute() else root / path
    try:
        exercised = client.exercised()
        write_pact(path, pact_document(contract.consumer, provider, exercised))
    except (MockAdminError, OSError) as exc:
        print(f"warning: service {name!r}: the pact {path} was not written: {exc}", file=sys.stderr)


def _pass_on_secrets(ctx: StartContext, url: str, given: frozenset[str]) -> Any:
    """Send the recording mock each secret the run learns after it started (a service's
    password, a captured token), so its cassette never holds one; returns the call that
    stops this."""
    client = MockClient(url, timeout=5.0)

    def send(value: str) -> None:
        with contextlib.suppress(MockAdminError):  # a mock that is gone records nothing
            client.call("POST", "/secrets", {"values": [value]})

    forget = ctx.masker.on_add(send)
    for value in sorted(ctx.masker.values - given):  # learnt while it was starting
        send(value)
    return forget


def _endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    return Endpoint(
        url=url,
        host=parts.hostname or "127.0.0.1",
        port=parts.port,
        extra={"admin_url": f"{url}/__splice"},
    )


def _record(record: RecordSettings, root: Path, name: str) -> dict[str, Any]:
    cassette = Path(record.cassette)
    cassette = cassette if cassette.is_absolute() else root / cassette
    if record.mode == "none" and not cassette.is_file():
        raise ServiceError(
            name,
            f"record mode 'none' replays {record.cassette!r}, which does not exist",
            hint="record it first with mode `once` (and a `target`), or fix the path",
        )
    if record.mode != "all" and cassette.is_file():
        from splice._internal.doubles.cassette import Cassette, CassetteError

        try:
            Cassette.load(cassette)
        except CassetteError as exc:
            raise ServiceError(
                name, str(exc), hint="fix the file, or delete it to record again"
            ) from exc
    return {
        "mode": record.mode,
        "cassette": str(cassette),
        "target": record.target,
        "match_on": list(record.match_on),
        "scrub": record.scrub.model_dump(by_alias=True),
        "timeout": parse_duration(record.timeout),
    }
