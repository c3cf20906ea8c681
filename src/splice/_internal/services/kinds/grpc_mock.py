"""The `grpc-mock` kind: a gRPC double of a third-party service, from its .proto files.

    inventory:
      kind: grpc-mock
      proto: [protos/inventory.proto]
      stubs:
        - {method: inv.Stock/Get, request: {sku: A}, response: {sku: A, qty: 5}}
        - {method: inv.Stock/Get, status: NOT_FOUND, details: no such sku}

A kind of its own rather than a section of the `mock` kind: the HTTP mock is an HTTP/1.1
server splice wrote itself, gRPC needs HTTP/2 and grpcio's server, and the two share
nothing but the idea of a stub. The .proto files are compiled and every stub is checked
against them when the service starts (its method exists, its response fits the output
type); the server then runs in its own process (`python -m splice._internal.doubles.grpc_server`)
and is ready when it answers a server-reflection request listing the stubbed services.
Exported: `services.NAME.grpc_target` (`127.0.0.1:PORT`, what `grpc: {service: NAME}`
calls), `url` (`grpc://127.0.0.1:PORT`), `host`, `port` and `journal` (a JSON-lines file
of the calls received).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from splice._internal.errors import StepError
from splice._internal.model.durations import parse_duration
from splice._internal.services.kind_api import (
    Endpoint,
    RunningService,
    ServiceError,
    ServiceSpec,
    Settings,
    StartContext,
)
from splice._internal.services.readiness import wait_ready
from splice._internal.source.validation import did_you_mean

_STATUSES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]


def _splice_package() -> Path:
    """The folder of the splice package: its parent goes on the PYTHONPATH of the double's
    own process (the package is found, not imported: a kind imports nothing above it)."""
    spec = importlib.util.find_spec("splice")
    assert spec is not None and spec.origin is not None  # this very module is inside it
    return Path(spec.origin).resolve().parent


class GrpcStub(Settings):
    method: str  # package.Service/Method
    request: Any = None  # matched against the request (partially, matchers allowed)
    requests: list[Any] | None = None  # client streaming: the whole stream
    response: Any = None
    responses: list[Any] | None = None  # server streaming
    status: str = "OK"
    details: str = ""
    metadata: dict[str, str] = {}
    trailers: dict[str, str] = {}
    delay: str | float | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in _STATUSES:
            hint = did_you_mean(value, _STATUSES)
            raise ValueError(
                f"{value!r} is not a gRPC status: {hint or 'expected OK, NOT_FOUND, ...'}"
            )
        return value

    @field_validator("delay")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value


class GrpcMockSettings(Settings):
    proto: str | list[str]
    import_paths: list[str] = []
    stubs: list[GrpcStub] = Field(default_factory=list)
    ready_timeout: str | float = "15s"

    @field_validator("ready_timeout")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        parse_duration(value)
        return value


class GrpcMockKind:
    """A gRPC double, started locally from .proto files and stubs."""

    name: ClassVar[str] = "grpc-mock"
    # what `services.NAME.*` offers beyond the common url, host, port, user, password, database
    exports: ClassVar[frozenset[str]] = frozenset({"grpc_target", "journal"})
    settings_model: ClassVar[type[Settings]] = GrpcMockSettings
    providers: ClassVar[frozenset[str]] = frozenset({"local"})
    packages: ClassVar[dict[str, str]] = {"pip": "pip install 'splice[grpc]'"}

    def start_local(self, ctx: StartContext) -> RunningService:
        settings: GrpcMockSettings = ctx.spec.settings
        name = ctx.spec.name
        files = [ctx.project_dir / p for p in _names(settings.proto)]
        include = (
            [ctx.project_dir / p for p in settings.import_paths]
            if settings.import_paths
            else sorted({f.parent for f in files})
        )
        services = _check(name, files, include, settings.stubs)
        port = ctx.resources.port()
        journal = ctx.run_dir / "calls.jsonl"
        journal.touch()
        config = {
            "port": port,
            "proto": [str(f) for f in files],
            "include": [str(p) for p in include],
            "journal": str(journal),
            "stubs": [_plain(stub) for stub in settings.stubs],
        }
        config_path = ctx.run_dir / "grpc-mock.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        env = dict(os.environ)
        source_root = str(_splice_package().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
        args = [
            sys.executable,
            "-m",
            "splice._internal.doubles.grpc_server",
            "--config",
            str(config_path),
        ]
        proc = ctx.resources.spawn(args, log=ctx.log_path, env=env, cwd=ctx.project_dir)
        target = f"127.0.0.1:{port}"
        try:
            wait_ready(
                name,
                lambda: _reflects(target, services),
                awaited=f"a server-reflection answer from {target} listing the stubbed services",
                timeout=parse_duration(settings.ready_timeout),
                proc=proc,
                log_path=ctx.log_path,
            )
        except BaseException:
            ctx.resources.stop(proc)
            ctx.resources.release_port(port)
            raise

        def stop() -> None:
            ctx.resources.stop(proc, grace=2.0)
            ctx.resources.release_port(port)

        endpoint = Endpoint(
            url=f"grpc://{target}",
            port=port,
            extra={"grpc_target": target, "journal": str(journal)},
        )
        return RunningService(ctx.spec, endpoint, stop=stop, log_path=ctx.log_path, pid=proc.pid)

    def external(self, spec: ServiceSpec) -> Endpoint:
        raise ServiceError(spec.name, "a grpc-mock runs locally", hint="remove `url:`")

    def check_ready(self, endpoint: Endpoint, timeout: float) -> None:
        _reflects(str(endpoint.extra["grpc_target"]), [])


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _plain(stub: GrpcStub) -> dict[str, Any]:
    data = stub.model_dump(exclude_defaults=True)
    if "/" not in stub.method:  # package.Service.Method, as the grpc executor accepts too
        service, _, method = stub.method.rpartition(".")
        data["method"] = f"{service}/{method}"
    if stub.delay is not None:
        data["delay"] = parse_duration(stub.delay)
    return data


def _check(
    service: str, files: list[Path], include: list[Path], stubs: list[GrpcStub]
) -> list[str]:
    """Compile the files and check each stub against them; the stubbed services."""
    from splice._internal.executors import _grpc_schema as schemas

    try:
        schema = schemas.from_files(files, include)
    except StepError as exc:
        raise ServiceError(service, exc.message, hint=exc.hint) from exc
    used: list[str] = []
    for n, stub in enumerate(stubs):
        where = f"stubs[{n}] ({stub.method})"
        try:
            method = schema.method(stub.method)
        except StepError as exc:
            raise ServiceError(service, f"{where}: {exc.message}", hint=exc.hint) from exc
        answers = stub.responses if stub.responses is not None else [stub.response or {}]
        if stub.status == "OK":
            for answer in answers:
                problems = schemas.check_request(method.output_type, answer)
                if problems:
                    first = problems[0]
                    raise ServiceError(
                        service,
                        f"{where}: the response does not fit {method.output_type.full_name}: "
                        f"{first.where()}: {first.message}",
                        hint=first.hint,
                    )
        name = method.containing_service.full_name
        if name not in used:
            used.append(name)
    return used


def _reflects(target: str, services: list[str]) -> None:
    import grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=1.0)
        found = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    missing = [s for s in services if s not in found]
    if missing:
        raise ConnectionError(f"reflection does not list {', '.join(missing)} yet")
