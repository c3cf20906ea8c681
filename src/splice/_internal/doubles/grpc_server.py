"""The `grpc-mock` kind's server: gRPC stubs served from .proto files, in its own process.

    python -m splice._internal.doubles.grpc_server --config CONFIG.json

The config holds the port, the .proto files (compiled in process, as the grpc executor
does) and the stubs. A call is answered by the first stub of its method whose `request`
matches the request (splice's matchers, partial on objects, against the request as
proto3 JSON); a call no stub matches ends with UNIMPLEMENTED and says why the closest
stub did not match. The server offers reflection, so steps need no .proto files to call
it. Each call is appended to the journal file as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, message_factory

from splice._internal.executors import _grpc_schema as schemas
from splice._internal.expect import match


class _Stubs(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, schema: schemas.Schema, stubs: list[dict[str, Any]], journal: Path) -> None:
        self.schema = schema
        self.stubs = stubs
        self.journal = journal
        self.lock = threading.Lock()

    def service(self, details: Any) -> Any:
        name = details.method.lstrip("/")
        try:
            method = self.schema.method(name)
        except Exception:  # noqa: BLE001 - not a method of these files: grpcio answers UNIMPLEMENTED
            return None
        full = f"{method.containing_service.full_name}/{method.name}"
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        streaming_in, streaming_out = bool(method.client_streaming), bool(method.server_streaming)

        def handle(request: Any, context: Any) -> Any:
            given = [_json(r) for r in request] if streaming_in else _json(request)
            stub, reason = self._find(full, given)
            self._record(full, given, stub)
            if stub is None:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f"grpc-mock: {reason}")
                return None  # abort raises; this line is for the type checker
            if stub.get("delay"):
                time.sleep(float(stub["delay"]))
            if stub.get("metadata"):
                context.send_initial_metadata(list(stub["metadata"].items()))
            if stub.get("trailers"):
                context.set_trailing_metadata(list(stub["trailers"].items()))
            status = stub.get("status", "OK")
            if status != "OK":
                context.abort(getattr(grpc.StatusCode, status), stub.get("details", ""))
            answers = stub.get("responses")
            if answers is None:
                answers = [stub.get("response") or {}]
            messages = [json_format.ParseDict(a, response_cls()) for a in answers]
            return messages if streaming_out else messages[0]

        factory = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(streaming_in, streaming_out)]
        if streaming_out:
            inner = handle

            def handle(request: Any, context: Any) -> Any:
                yield from inner(request, context)

        return factory(handle, request_cls.FromString, lambda m: m.SerializeToString())

    def _find(self, method: str, given: Any) -> tuple[dict[str, Any] | None, str]:
        closest = None
        for stub in self.stubs:
            if stub["method"] != method:
                continue
            wanted = stub.get("requests" if isinstance(given, list) else "request")
            if wanted is None:
                return stub, ""
            problems = match(wanted, given, "request")
            if not problems:
                return stub, ""
            closest = closest or str(problems[0])
        if closest is None:
            return None, f"no stub for {method}"
        return None, f"no stub for {method} matched the request; the first said {closest}"

    def _record(self, method: str, given: Any, stub: dict[str, Any] | None) -> None:
        line = json.dumps({"method": method, "request": given, "matched": stub is not None})
        with self.lock, self.journal.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def _json(message: Any) -> dict[str, Any]:
    found: dict[str, Any] = json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True
    )
    return found


def serve(config: dict[str, Any]) -> None:
    schema = schemas.from_files(
        [Path(p) for p in config["proto"]], [Path(p) for p in config["include"]]
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((_Stubs(schema, config["stubs"], Path(config["journal"])),))
    from grpc_reflection.v1alpha import reflection

    reflection.enable_server_reflection(
        (*schema.services, reflection.SERVICE_NAME), server, pool=schema.pool
    )
    server.add_insecure_port(f"127.0.0.1:{config['port']}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"grpc-mock serving on 127.0.0.1:{config['port']}", flush=True)
    stopped.wait()
    server.stop(grace=0.5).wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m splice._internal.doubles.grpc_server")
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    serve(json.loads(Path(args.config).read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
