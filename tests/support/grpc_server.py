"""A real gRPC server for tests: shop.Orders with a unary, a server-streaming, a
client-streaming and a bidirectional method, with or without server reflection, with or
without TLS. Its messages come from `SHOP_PROTO`, loaded the way grpcio does at run time.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

SHOP_PROTO = """\
syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

enum State { STATE_UNKNOWN = 0; PACKED = 1; SHIPPED = 2; }

message GetRequest { int64 id = 1; }
message Item {
  int64 id = 1;
  string name = 2;
  repeated string tags = 3;
  State state = 4;
  int32 stock = 5;
  google.protobuf.Timestamp added = 6;
  map<string, string> labels = 7;
}
message ListRequest { repeated int64 ids = 1; }
message Line { string sku = 1; int32 qty = 2; }
message Total { int32 lines = 1; int32 qty = 2; }

service Orders {
  rpc Get(GetRequest) returns (Item);
  rpc List(ListRequest) returns (stream Item);
  rpc Sum(stream Line) returns (Total);
  rpc Echo(stream Line) returns (stream Line);
}
"""

_LOCK = threading.Lock()
_MODULES: dict[str, Any] = {}


def shop_messages(folder: Path) -> Any:
    """The shop_pb2 module, generated from SHOP_PROTO written into `folder` (once)."""
    with _LOCK:
        if "pb2" not in _MODULES:
            (folder / "shop.proto").write_text(SHOP_PROTO)
            sys.path.insert(0, str(folder))
            try:
                _MODULES["pb2"] = grpc.protos("shop.proto")  # type: ignore[attr-defined]
            finally:
                sys.path.remove(str(folder))
        return _MODULES["pb2"]


class _Orders:
    def __init__(self, pb2: Any) -> None:
        self.pb2 = pb2

    def get(self, request: Any, context: Any) -> Any:
        context.send_initial_metadata([("x-served-by", "test-server")])
        if request.id == 99:  # a slow answer, for deadlines
            time.sleep(1.0)
        if request.id > 100:
            context.set_trailing_metadata([("x-reason", "too-big")])
            context.abort(grpc.StatusCode.NOT_FOUND, f"no item {request.id}")
        context.set_trailing_metadata([("x-checked", "yes")])
        item = self.pb2.Item(id=request.id, name=f"item-{request.id}", tags=["a", "b"])
        item.state = self.pb2.PACKED
        item.added.FromSeconds(1_700_000_000)
        item.labels["color"] = "red"
        return item

    def list(self, request: Any, context: Any) -> Any:
        for n in request.ids:
            yield self.pb2.Item(id=n, name=f"item-{n}", state=self.pb2.SHIPPED)

    def sum(self, lines: Any, context: Any) -> Any:
        total = self.pb2.Total()
        for line in lines:
            total.lines += 1
            total.qty += line.qty
        return total

    def echo(self, lines: Any, context: Any) -> Any:
        for line in lines:
            yield self.pb2.Line(sku=line.sku.upper(), qty=line.qty * 2)


class GrpcServer:
    """`with GrpcServer(folder) as server:` serves on 127.0.0.1:`server.port`."""

    def __init__(
        self,
        folder: Path,
        *,
        reflection: bool = True,
        tls: tuple[bytes, bytes] | None = None,  # (certificate chain PEM, private key PEM)
    ) -> None:
        self.pb2 = shop_messages(folder)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        orders = _Orders(self.pb2)
        pb2 = self.pb2
        handlers = {
            "Get": grpc.unary_unary_rpc_method_handler(
                orders.get, pb2.GetRequest.FromString, pb2.Item.SerializeToString
            ),
            "List": grpc.unary_stream_rpc_method_handler(
                orders.list, pb2.ListRequest.FromString, pb2.Item.SerializeToString
            ),
            "Sum": grpc.stream_unary_rpc_method_handler(
                orders.sum, pb2.Line.FromString, pb2.Total.SerializeToString
            ),
            "Echo": grpc.stream_stream_rpc_method_handler(
                orders.echo, pb2.Line.FromString, pb2.Line.SerializeToString
            ),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shop.Orders", handlers),)
        )
        if reflection:
            from grpc_reflection.v1alpha import reflection as grpc_reflection

            grpc_reflection.enable_server_reflection(
                ("shop.Orders", grpc_reflection.SERVICE_NAME), self.server
            )
        if tls is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            credentials = grpc.ssl_server_credentials([(tls[1], tls[0])])
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.target = f"127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcServer:
        self.server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop(grace=None).wait()
