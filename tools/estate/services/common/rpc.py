# SPDX-License-Identifier: BSD-2-Clause
"""gRPC with python3-grpcio and no code generation: generic handlers whose
messages are JSON documents (identity serializers, bytes in, bytes out).

Server: serve(port, "shop.v1.Payment", {"Charge": fn}) where fn(req: dict,
context) returns a dict, or calls fail(context, CODE, message). The standard
health service grpc.health.v1.Health/Check answers SERVING (its response is
the protobuf encoding of HealthCheckResponse{status: SERVING}: 08 01).

Client: call(peer, "shop.v1.Payment/Charge", obj, timeout) opens a channel,
makes one unary call, closes the channel; logs a CALL with status grpc:N;
returns the response dict or raises RpcError(code, details).
"""

import json
import signal
import threading
from concurrent import futures

import grpc

from . import calls

OPTIONS = [("grpc.enable_http_proxy", 0), ("grpc.so_reuseport", 0)]
HEALTH_SERVING = b"\x08\x01"


class RpcError(Exception):
    def __init__(self, code, details):
        super().__init__("%s: %s" % (code, details))
        self.code = code          # int, the gRPC status code
        self.details = details


def fail(context, code, message):
    """End the call with status CODE (a grpc.StatusCode)."""
    context.abort(code, message)


def _wrap(fn):
    def handler(request, context):
        try:
            req = json.loads(request or b"{}")
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request is not JSON")
        resp = fn(req, context)
        return json.dumps(resp).encode()
    return handler


def serve(port, service, methods, host="127.0.0.1", workers=8):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=OPTIONS)
    handlers = {name: grpc.unary_unary_rpc_method_handler(_wrap(fn))
                for name, fn in methods.items()}
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(lambda req, ctx: HEALTH_SERVING),
    })
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, handlers), health))
    server.add_insecure_port("%s:%d" % (host, port))
    stopped = threading.Event()

    def stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    calls.info("grpc %s listening on %s:%d", service, host, port)
    stopped.wait()
    server.stop(grace=1).wait()
    calls.info("stopped")


def call(peer, method, obj, timeout=3.0):
    """METHOD is "package.Service/Method"."""
    t0 = calls.now_ns()
    with grpc.insecure_channel(peer, options=OPTIONS) as ch:
        stub = ch.unary_unary("/" + method)
        try:
            data = stub(json.dumps(obj).encode(), timeout=timeout)
        except grpc.RpcError as e:
            code = e.code().value[0]
            calls.log(peer, "grpc", method, "grpc:%d" % code, 1, t0)
            raise RpcError(code, e.details())
    calls.log(peer, "grpc", method, "grpc:0", 0, t0)
    return json.loads(data or b"{}")
