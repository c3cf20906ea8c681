"""What a gRPC step knows about the service it calls: methods and message types, from the
server's reflection, `.proto` files (compiled in process by grpcio-tools) or a
descriptor set; and the check of a request against its message type.

Compiled files are cached by their content (a suite calling one service compiles its
files once per process); reflection answers are cached per target for the process.
"""

from __future__ import annotations

import ast
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice._internal.errors import StepError
from splice._internal.source.validation import did_you_mean

INSTALL = "pip install 'splice[grpc]'"
_LOCK = threading.Lock()
_COMPILED: dict[str, Schema] = {}
_REFLECTED: dict[str, Schema] = {}


class ProtoError(StepError):
    """A .proto file that does not compile: its file, line and column."""

    def __init__(self, path: Path, line: int, column: int, message: str) -> None:
        super().__init__(
            f"{path}:{line}:{column}: {message}", "fix the .proto file; protoc's message is above"
        )
        self.path, self.line, self.column, self.text = path, line, column, message


@dataclass
class Problem:
    """A request value that does not fit its message type."""

    path: tuple[str | int, ...]  # inside the request
    message: str
    hint: str | None = None
    key: bool = False  # about the key itself (an unknown field)

    def where(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "the request"


class Schema:
    """A descriptor pool and the services it describes."""

    def __init__(self, pool: Any, services: list[str]) -> None:
        self.pool = pool
        self.services = sorted(services)

    def method(self, name: str) -> Any:
        """The MethodDescriptor of `package.Service/Method` (or `package.Service.Method`)."""
        service_name, sep, method_name = name.replace("/", ".").rpartition(".")
        if not sep or not service_name:
            raise StepError(
                f"{name!r} is not a method name",
                "write package.Service/Method, e.g. shop.Orders/Get",
            )
        try:
            service = self.pool.FindServiceByName(service_name)
        except KeyError:
            hint = did_you_mean(service_name, self.services) or (
                "the server describes no service" if not self.services else None
            )
            raise StepError(f"no gRPC service {service_name!r}", hint) from None
        methods = [m.name for m in service.methods]
        found = service.methods_by_name.get(method_name)
        if found is None:
            hint = did_you_mean(method_name, methods)
            raise StepError(f"service {service_name!r} has no method {method_name!r}", hint)
        return found


def driver() -> Any:
    try:
        import grpc
    except ImportError as exc:
        raise StepError("the grpc executor needs grpcio", INSTALL) from exc
    return grpc


def from_files(files: list[Path], include: list[Path]) -> Schema:
    """Compile `.proto` files in process; cached by the content of the files."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool
        from grpc_tools import _protoc_compiler as protoc
        from grpc_tools import protoc as protoc_main
    except ImportError as exc:
        raise StepError("compiling .proto files needs grpcio-tools", INSTALL) from exc
    digest = hashlib.sha256()
    for path in files:
        try:
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
        except OSError as exc:
            raise StepError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for folder in include:
        digest.update(b"\0I" + str(folder).encode())
    key = digest.hexdigest()
    with _LOCK:
        if key in _COMPILED:
            return _COMPILED[key]
    bundled = Path(protoc_main.__file__).parent / "_proto"  # google/protobuf/*.proto
    roots = [*include, bundled]
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    services: list[str] = []
    for path in files:
        relative = _relative(path, include)
        try:
            generated = protoc.get_protos(
                str(relative).encode(), [str(root).encode() for root in roots]
            )
        except protoc.ProtocErrors as exc:
            first = exc.errors()[0]
            where = _located(first.filename.decode(), roots)
            raise ProtoError(
                where, first.line + 1, first.column + 1, first.message.decode()
            ) from exc
        for _, code in generated:
            serialized = _serialized(code)
            proto = descriptor_pb2.FileDescriptorProto.FromString(serialized)
            if proto.name in added:
                continue
            added.add(proto.name)
            pool.Add(proto)
            services += [f"{proto.package}.{s.name}".lstrip(".") for s in proto.service]
    schema = Schema(pool, services)
    with _LOCK:
        _COMPILED[key] = schema
    return schema


def from_descriptor_set(path: Path) -> Schema:
    from google.protobuf import descriptor_pb2, descriptor_pool

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StepError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(raw).file
    except Exception as exc:  # protobuf's DecodeError and friends
        raise StepError(
            f"{path} is not a descriptor set: {exc}",
            "make one with `protoc --include_imports --descriptor_set_out=FILE ...`",
        ) from exc
    pool = descriptor_pool.DescriptorPool()
    services: list[str] = []
    for proto in files:
        pool.Add(proto)
        services += [f"{proto.package}.{s.name}".lstrip(".") for s in proto.service]
    return Schema(pool, services)


def from_reflection(target: str, channel: Any, timeout: float) -> Schema:
    """The server's own description (grpc.reflection.v1alpha), cached per target."""
    with _LOCK:
        if target in _REFLECTED:
            return _REFLECTED[target]
    grpc = driver()
    try:
        from google.protobuf import descriptor_pool
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
            ProtoReflectionDescriptorDatabase,
        )
    except ImportError as exc:
        raise StepError("server reflection needs grpcio-reflection", INSTALL) from exc
    try:
        grpc.channel_ready_future(channel).result(timeout=min(timeout, 5.0))
        database = ProtoReflectionDescriptorDatabase(channel)
        services = [s for s in database.get_services() if not s.startswith("grpc.reflection.")]
        # every file now, into a pool of its own: the cached schema outlives the channel
        pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()
        for name in services:
            _add_with_imports(pool, database, database.FindFileContainingSymbol(name), added)
    except grpc.FutureTimeoutError as exc:
        raise StepError(
            f"no gRPC server answers at {target} within {min(timeout, 5.0):g}s",
            "check the target (host:port) and that the server runs",
        ) from exc
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise StepError(
                f"the gRPC server at {target} does not offer server reflection",
                "give its .proto files with `proto:` (and `import_paths:`), or a `descriptor_set:`",
            ) from exc
        raise StepError(f"server reflection at {target} failed: {exc.details()}") from exc
    schema = Schema(pool, services)
    with _LOCK:
        _REFLECTED[target] = schema
    return schema


def _add_with_imports(pool: Any, database: Any, proto: Any, added: set[str]) -> None:
    if proto.name in added:
        return
    for dependency in proto.dependency:
        _add_with_imports(pool, database, database.FindFileByName(dependency), added)
    pool.Add(proto)
    added.add(proto.name)


def _relative(path: Path, include: list[Path]) -> Path:
    for root in include:
        try:
            return path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
    raise StepError(
        f"{path} is not inside any import path",
        "add its folder to `import_paths:` (the .proto file's imports are resolved there)",
    )


def _located(name: str, roots: Iterable[Path]) -> Path:
    for root in roots:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return Path(name)


def _serialized(code: bytes) -> bytes:
    """The FileDescriptorProto that generated Python code registers (its
    `AddSerializedFile(b'...')` argument), without running the code."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and node.args
        ):
            value = ast.literal_eval(node.args[0])
            if isinstance(value, bytes):
                return value
    raise StepError("grpcio-tools produced code splice cannot read", "report this with versions")


# checking a request against its message type ---------------------------------------------
_INTS = {"int32", "sint32", "sfixed32", "uint32", "fixed32"}
_LONGS = {"int64", "sint64", "sfixed64", "uint64", "fixed64"}
_TYPE_NAMES = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    11: "message",
    12: "bytes",
    13: "uint32",
    14: "enum",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
# well-known types have JSON forms of their own; they are left to the protobuf parser
_WELL_KNOWN = "google.protobuf."


def check_request(
    descriptor: Any, value: Any, *, skip: Any = None, path: tuple[str | int, ...] = ()
) -> list[Problem]:
    """Every way `value` does not fit message `descriptor` (the proto3 JSON mapping).

    `skip(value)` true leaves a value unchecked (a template, at check time).
    """
    if skip is not None and skip(value):
        return []
    if not isinstance(value, dict):
        return [
            Problem(
                path, f"expected an object (message {descriptor.full_name}), got {_kind(value)}"
            )
        ]
    fields: dict[str, Any] = {}
    for field in descriptor.fields:
        fields[field.name] = field
        fields[field.json_name] = field
    problems: list[Problem] = []
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            names = [f.name for f in descriptor.fields]
            hint = did_you_mean(str(key), names) or (
                "it has no fields" if not names else f"its fields: {', '.join(names)}"
            )
            problems.append(
                Problem(
                    (*path, key), f"message {descriptor.full_name} has no field {key!r}", hint, True
                )
            )
            continue
        problems += _check_field(field, item, (*path, key), skip)
    return problems


def _check_field(field: Any, value: Any, path: tuple[str | int, ...], skip: Any) -> list[Problem]:
    if value is None or (skip is not None and skip(value)):
        return []
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        if not isinstance(value, dict):
            return [
                Problem(path, f"expected an object (map field {field.name!r}), got {_kind(value)}")
            ]
        inner = entry.fields_by_name["value"]
        return [p for k, v in value.items() for p in _check_single(inner, v, (*path, k), skip)]
    if field.is_repeated:
        if not isinstance(value, list):
            return [
                Problem(
                    path, f"expected a list (repeated field {field.name!r}), got {_kind(value)}"
                )
            ]
        return [p for i, v in enumerate(value) for p in _check_single(field, v, (*path, i), skip)]
    return _check_single(field, value, path, skip)


def _check_single(field: Any, value: Any, path: tuple[str | int, ...], skip: Any) -> list[Problem]:
    if value is None or (skip is not None and skip(value)):
        return []
    kind = _TYPE_NAMES.get(field.type, "value")
    if kind == "message":
        if field.message_type.full_name.startswith(_WELL_KNOWN):
            return []
        return check_request(field.message_type, value, skip=skip, path=path)
    ok = True
    expected = kind
    if kind in _INTS or kind in _LONGS:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.lstrip("-").isdigit()
        )
        expected = f"an integer ({kind}" + (
            ", as a number or a string of digits)" if kind in _LONGS else ")"
        )
    elif kind in ("double", "float"):
        ok = (isinstance(value, int | float) and not isinstance(value, bool)) or value in (
            "NaN",
            "Infinity",
            "-Infinity",
        )
        expected = f"a number ({kind})"
    elif kind == "bool":
        ok, expected = isinstance(value, bool), "true or false (bool)"
    elif kind in ("string", "bytes"):
        ok = isinstance(value, str)
        expected = "a string" if kind == "string" else "a base64 string (bytes)"
    elif kind == "enum":
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, str) and value not in names:
            return [
                Problem(
                    path,
                    f"{value!r} is not a value of enum {field.enum_type.full_name}",
                    did_you_mean(value, names),
                )
            ]
        ok = isinstance(value, str | int) and not isinstance(value, bool)
        expected = f"an enum name ({', '.join(names[:6])})"
    if ok:
        return []
    return [Problem(path, f"expected {expected}, got {_kind(value)}")]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
