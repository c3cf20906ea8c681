"""The `grpc` executor: unary and streaming calls with JSON requests and responses, grpcio.

- grpc: {target: "127.0.0.1:50051", method: shop.Orders/Get, request: {id: 7}}
  expect: {status: OK, json: {name: item-7}}
- grpc: {service: api, method: shop.Orders/Track, requests: [{id: 1}, {id: 2}]}
  expect: {json: [{state: PACKED}, {state: SHIPPED}]}

The methods and message types come from the server's reflection, or from `proto:` files
(compiled in process) or a `descriptor_set:`. Requests and responses use the proto3 JSON
mapping: field names in lowerCamelCase (`field_names: proto` keeps the .proto names),
64-bit integers as strings, enums by name, bytes as base64; fields at their default
value are shown too. A status other than OK fails the step unless `expect` names a
`status` (or `code`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from splice._internal.errors import StepError, StepInterrupted
from splice._internal.executors import _grpc_schema as schemas
from splice._internal.executors._watchdog import when_cancelled
from splice._internal.executors.executor_api import Block, BlockProblem, StepContext, StepOutput
from splice._internal.model.durations import parse_duration
from splice._internal.source.validation import HintedValueError, did_you_mean
from splice._internal.templating import is_template

_DEFAULT_DEADLINE = 10.0
_SLICE = 0.05


class Tls(Block):
    ca: str | None = None  # PEM file of the CA that signed the server's certificate
    cert: str | None = None  # client certificate (mutual TLS), with `key`
    key: str | None = None
    server_name: str | None = None  # the name the certificate is for, if not the host

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.cert is None) != (self.key is None):
            raise HintedValueError("`cert` and `key` go together", "give both, or neither")
        return self


class GrpcBlock(Block):
    target: str | None = None  # host:port
    service: str | None = None  # a service of the project (its host and port)
    method: str  # package.Service/Method
    request: Any = None  # one message, as JSON
    requests: list[Any] | None = None  # client streaming: the messages, in order
    metadata: dict[str, str | int | float | bool] = {}
    deadline: str | float | None = None
    tls: bool | Tls = False
    proto: str | list[str] | None = None  # .proto files, instead of reflection
    import_paths: list[str] = []
    descriptor_set: str | None = None
    field_names: Literal["json", "proto"] = "json"

    @field_validator("deadline")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GrpcBlock:
        if (self.target is None) == (self.service is None):
            raise HintedValueError(
                "a grpc step needs `target` or `service`"
                if self.target is None
                else "give `target` or `service`, not both",
                "e.g. `target: 127.0.0.1:50051`, or `service: api` for a service of the project",
            )
        if self.request is not None and self.requests is not None:
            raise HintedValueError(
                "give `request` (one message) or `requests` (a stream), not both"
            )
        if self.proto is not None and self.descriptor_set is not None:
            raise HintedValueError("give `proto` or `descriptor_set`, not both")
        if self.import_paths and self.proto is None:
            raise HintedValueError("`import_paths` goes with `proto`")
        return self

    def proto_files(self, base: Path) -> list[Path]:
        names = [self.proto] if isinstance(self.proto, str) else list(self.proto or [])
        return [base / name for name in names]

    def include(self, base: Path) -> list[Path]:
        if self.import_paths:
            return [base / p for p in self.import_paths]
        return sorted({path.parent for path in self.proto_files(base)})


class GrpcExecutor:
    """Calls gRPC methods; the response, status, metadata and trailers are the result."""

    name: ClassVar[str] = "grpc"
    block_model: ClassVar[type[GrpcBlock]] = GrpcBlock
    result_fields: ClassVar[dict[str, str]] = {
        "status": "the status code's name: OK, NOT_FOUND, INVALID_ARGUMENT, ...",
        "code": "the status code's number (0 for OK)",
        "details": "the status message (empty for OK)",
        "json": "the response as JSON; a list of them for a method that streams responses",
        "messages": "every response message, as JSON (one for a unary method)",
        "count": "how many response messages came",
        "metadata": "the server's initial metadata {name: value}",
        "trailers": "the server's trailing metadata {name: value}",
    }
    case_insensitive_fields: ClassVar[frozenset[str]] = frozenset({"metadata", "trailers"})

    @staticmethod
    def describe(block: dict[str, Any]) -> str:
        return f"grpc {block.get('method', '')}".strip()

    @staticmethod
    def check(block: dict[str, Any], base_dir: Path) -> list[BlockProblem]:
        """At load time, when `proto:` files are given: they compile, the method exists
        and the request fits its message type (values with templates are left out)."""
        names = block.get("proto")
        names = [names] if isinstance(names, str) else names
        method_name = block.get("method")
        if not names or any(is_template(n) for n in names) or is_template(method_name):
            return []
        try:
            parsed = GrpcBlock.model_validate(block)
        except ValueError:
            return []
        try:
            schema = schemas.from_files(parsed.proto_files(base_dir), parsed.include(base_dir))
        except schemas.ProtoError as exc:
            return [BlockProblem((), exc.text, exc.hint, exc.line, exc.column, file=exc.path)]
        except StepError as exc:
            return [BlockProblem(("proto",), exc.message, exc.hint)]
        try:
            method = schema.method(parsed.method)
        except StepError as exc:
            return [BlockProblem(("method",), exc.message, exc.hint)]
        found: list[BlockProblem] = []
        sent: list[tuple[tuple[str | int, ...], Any]] = []
        if "request" in block:
            sent = [(("request",), block["request"])]
        if isinstance(block.get("requests"), list):
            sent = [(("requests", i), item) for i, item in enumerate(block["requests"])]
        for prefix, value in sent:
            for problem in schemas.check_request(method.input_type, value or {}, skip=is_template):
                found.append(
                    BlockProblem(
                        (*prefix, *problem.path), problem.message, problem.hint, key=problem.key
                    )
                )
        return found

    def execute(self, block: GrpcBlock, ctx: StepContext) -> StepOutput:
        grpc = schemas.driver()
        target = _target(block, ctx)
        deadline = (
            parse_duration(block.deadline)
            if block.deadline is not None
            else ctx.timeout or _DEFAULT_DEADLINE
        )
        channel = _channel(ctx, target, block)
        schema = _schema(block, ctx, target, channel, deadline)
        method = schema.method(block.method)
        streaming_in = bool(method.client_streaming)
        streaming_out = bool(method.server_streaming)
        if streaming_in and block.request is not None:
            raise StepError(
                f"{block.method} takes a stream of requests", "give them as `requests: [...]`"
            )
        if not streaming_in and block.requests is not None:
            raise StepError(f"{block.method} takes one request", "give it as `request: {...}`")
        payloads = block.requests if streaming_in else [block.request or {}]
        messages = [
            _to_message(method.input_type, p, i if streaming_in else None)
            for i, p in enumerate(payloads or [])
        ]
        from google.protobuf import message_factory

        output = message_factory.GetMessageClass(method.output_type)
        metadata = [(k.lower(), _text(v)) for k, v in block.metadata.items()]
        request = {
            "target": target,
            "method": block.method,
            "request": block.requests if streaming_in else block.request,
            "metadata": dict(metadata) or None,
            "deadline": deadline,
        }
        started = time.monotonic()
        responses, call, code, details = _call(
            ctx, channel, method, output, messages, metadata=metadata, deadline=deadline
        )
        from google.protobuf import json_format

        as_json = [
            json_format.MessageToDict(
                r,
                always_print_fields_with_no_presence=True,
                preserving_proto_field_name=block.field_names == "proto",
            )
            for r in responses
        ]
        result = {
            "status": code.name,
            "code": code.value[0],
            "details": details,
            "json": as_json if streaming_out else (as_json[0] if as_json else None),
            "messages": as_json,
            "count": len(as_json),
            "metadata": _metadata(call, "initial_metadata"),
            "trailers": _metadata(call, "trailing_metadata"),
        }
        response = {k: v for k, v in result.items() if v not in (None, "", {}, [])}
        response["elapsed"] = round(time.monotonic() - started, 6)
        if code != grpc.StatusCode.OK and not ({"status", "code"} & set(ctx.expect)):
            hint = f"if that is what the test expects, say so: `expect: {{status: {code.name}}}`"
            if code == grpc.StatusCode.UNAVAILABLE:
                hint = f"is a gRPC server listening at {target} (TLS: `tls:`)? or " + hint
            raise StepError(
                f"{block.method} answered {code.name}" + (f": {details}" if details else ""), hint
            )
        return StepOutput(result, request, response)


def _call(
    ctx: StepContext,
    channel: Any,
    method: Any,
    output: Any,
    messages: list[Any],
    *,
    metadata: list[tuple[str, str]],
    deadline: float,
) -> tuple[list[Any], Any, Any, str]:
    """Make the call its four ways; (responses, call, status code, details).

    Blocking calls, not futures: grpcio starts a thread for every future. An interrupt
    closes the channel instead, which ends every call on it at once.
    """
    grpc = schemas.driver()
    path = f"/{method.containing_service.full_name}/{method.name}"
    streaming_in, streaming_out = bool(method.client_streaming), bool(method.server_streaming)
    stubs: dict[tuple[int, str], Any] = ctx.session.state.setdefault("grpc.stubs", {})
    stub = stubs.get((id(channel), path))
    if stub is None:
        kind = {
            (False, False): channel.unary_unary,
            (True, False): channel.stream_unary,
            (False, True): channel.unary_stream,
            (True, True): channel.stream_stream,
        }[(streaming_in, streaming_out)]
        stub = kind(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=output.FromString,
        )
        stubs[(id(channel), path)] = stub
    sent: Any = iter(messages) if streaming_in else messages[0]
    responses: list[Any] = []
    call: Any = None
    try:
        with when_cancelled(ctx.cancelled, lambda: _drop(ctx, channel)):
            if not streaming_out:
                response, call = stub.with_call(sent, metadata=metadata, timeout=deadline)
                responses.append(response)
            else:
                call = stub(sent, metadata=metadata, timeout=deadline)
                responses.extend(call)
    except grpc.RpcError as exc:
        if ctx.cancelled.is_set():
            raise StepInterrupted("interrupted while waiting for the gRPC call") from exc
        return responses, exc, exc.code(), exc.details() or ""
    except ValueError as exc:  # the channel was closed under a call that had not started
        if ctx.cancelled.is_set():
            raise StepInterrupted("interrupted while waiting for the gRPC call") from exc
        raise
    return responses, call, grpc.StatusCode.OK, ""


def _drop(ctx: StepContext, channel: Any) -> None:
    """Close a channel (ending its calls) and forget it, for an interrupt."""
    channels: dict[Any, Any] = ctx.session.state.get("grpc.channels", {})
    for key, found in list(channels.items()):
        if found is channel:
            del channels[key]
    channel.close()


def _target(block: GrpcBlock, ctx: StepContext) -> str:
    if block.target is not None:
        return block.target
    services = dict(ctx.vars.get("services") or {})
    found = services.get(block.service or "")
    if not isinstance(found, dict):
        raise StepError(
            f"unknown service {block.service!r}",
            did_you_mean(block.service or "", services) or "services are declared in splice.yaml",
        )
    if found.get("grpc_target"):
        return str(found["grpc_target"])
    if not found.get("port"):
        raise StepError(
            f"service {block.service!r} has no port to call",
            "give `target: HOST:PORT` instead",
        )
    return f"{found.get('host') or '127.0.0.1'}:{found['port']}"


def _channel(ctx: StepContext, target: str, block: GrpcBlock) -> Any:
    """The attempt's channel to `target` (with these TLS settings), made on first use."""
    grpc = schemas.driver()
    tls = block.tls if isinstance(block.tls, Tls) else (Tls() if block.tls else None)
    key = (target, tls.model_dump_json() if tls else "")
    channels: dict[Any, Any] = ctx.session.state.setdefault("grpc.channels", {})
    if key in channels:
        return channels[key]
    if tls is None:
        channel = grpc.insecure_channel(target)
    else:
        files = {}
        for name in ("ca", "cert", "key"):
            value = getattr(tls, name)
            if value is not None:
                try:
                    files[name] = (ctx.base_dir / value).read_bytes()
                except OSError as exc:
                    raise StepError(
                        f"cannot read tls.{name} {value!r}: {exc.strerror or exc}"
                    ) from exc
        credentials = grpc.ssl_channel_credentials(
            root_certificates=files.get("ca"),
            private_key=files.get("key"),
            certificate_chain=files.get("cert"),
        )
        options = [("grpc.ssl_target_name_override", tls.server_name)] if tls.server_name else []
        channel = grpc.secure_channel(target, credentials, options=options)
    channels[key] = channel
    ctx.session.on_close(channel.close)
    return channel


def _schema(
    block: GrpcBlock, ctx: StepContext, target: str, channel: Any, timeout: float
) -> schemas.Schema:
    if block.descriptor_set is not None:
        return schemas.from_descriptor_set(ctx.base_dir / block.descriptor_set)
    if block.proto is not None:
        return schemas.from_files(block.proto_files(ctx.base_dir), block.include(ctx.base_dir))
    return schemas.from_reflection(target, channel, timeout)


def _to_message(descriptor: Any, value: Any, index: int | None) -> Any:
    from google.protobuf import json_format, message_factory

    problems = schemas.check_request(descriptor, value)
    if problems:
        first = problems[0]
        label = "request" if index is None else f"requests[{index}]"
        where = first.where()
        shown = label if not first.path else f"{label}{'' if where.startswith('[') else '.'}{where}"
        raise StepError(f"{shown}: {first.message}", first.hint)
    cls = message_factory.GetMessageClass(descriptor)
    try:
        return json_format.ParseDict(value, cls())
    except json_format.ParseError as exc:
        raise StepError(f"the request does not fit {descriptor.full_name}: {exc}") from exc


def _metadata(call: Any, which: str) -> dict[str, str]:
    getter = getattr(call, which, None)
    if getter is None:
        return {}
    try:
        pairs = getter() or ()
    except Exception:  # noqa: BLE001 - a call that never started has none
        return {}
    out: dict[str, str] = {}
    for key, value in pairs:
        out[key] = (
            value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)
        )
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
