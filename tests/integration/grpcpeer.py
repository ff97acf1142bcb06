#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A gRPC server and client from python3-grpcio, with no code generation:
generic handlers and bytes in, bytes out (identity serializers).

    grpcpeer.py server PORT
    grpcpeer.py client PORT [--parallel] [--before CALL --ready F --go F] CALL...

Service demo.v1.Greeter, methods:
  SayHello   returns b"hello " + request; a request starting with b"fail"
             ends with status NOT_FOUND (5) after a response header
             (trailers-only otherwise impossible: python aborts early).
  Slow       sleeps 50 ms, then answers like SayHello.
A CALL is METHOD:PAYLOAD (e.g. SayHello:bob, SayHello:fail-1). A method
the server does not have gives UNIMPLEMENTED (12), trailers-only. The
client prints one line per call, "METHOD CODE", in call order, and with
--parallel starts every call before waiting for any (one connection, the
streams multiplexed). With --before, that call is made first, then the
file F of --ready is created and the client waits for the file of --go
before the other calls, on the same connection (a connection that exists
before the agent starts). The server prints "ready" once listening.
"""
import os
import sys
import time
from concurrent import futures

import grpc

OPTIONS = [("grpc.enable_http_proxy", 0)]


def hello(request, context):
    if request.startswith(b"fail"):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such greeting")
    return b"hello " + request


def slow(request, context):
    time.sleep(0.05)
    return hello(request, context)


def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTIONS)
    handler = grpc.method_handlers_generic_handler("demo.v1.Greeter", {
        "SayHello": grpc.unary_unary_rpc_method_handler(hello),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    })
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def code_of(fut_or_call):
    try:
        fut_or_call.result()
        return grpc.StatusCode.OK.value[0]
    except grpc.RpcError as e:
        return e.code().value[0]


def client(port, args):
    parallel = "--parallel" in args
    args = [a for a in args if a != "--parallel"]
    opts = {}
    while args and args[0] in ("--before", "--ready", "--go"):
        opts[args[0]] = args[1]
        args = args[2:]
    calls = [a.split(":", 1) for a in args]
    with grpc.insecure_channel("127.0.0.1:%d" % port, options=OPTIONS) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        if "--before" in opts:
            method, payload = opts["--before"].split(":", 1)
            rpc = ch.unary_unary("/demo.v1.Greeter/" + method)
            print(method, code_of(rpc.future(payload.encode(), timeout=10)), flush=True)
            open(opts["--ready"], "w").close()
            while not os.path.exists(opts["--go"]):
                time.sleep(0.05)
        futs = []
        for method, payload in calls:
            rpc = ch.unary_unary("/demo.v1.Greeter/" + method)
            fut = rpc.future(payload.encode(), timeout=10)
            if not parallel:
                code_of(fut)
            futs.append((method, fut))
        for method, fut in futs:
            print(method, code_of(fut), flush=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "client":
        client(int(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
