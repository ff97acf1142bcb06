# SPDX-License-Identifier: BSD-2-Clause
"""The CALL log: one line per outgoing request of this process.

    CALL {"t0": NS, "t1": NS, "client": "checkout", "peer": "127.0.0.1:17005",
          "proto": "grpc", "op": "shop.v1.Payment/Charge", "status": "grpc:0",
          "err": 0}

t0/t1 are CLOCK_REALTIME nanoseconds at send and at completion; `err` is 1
for what faultline counts as an error (HTTP 5xx, gRPC != 0, an SQL error, a
Redis error reply, a refused/reset connection), 4 for an HTTP 4xx (counted as
client_errors), 0 otherwise. Operation names follow the agent's rules (HTTP:
METHOD + path, query dropped, numeric segments -> {id}; SQL: literals -> ?,
whitespace folded; Redis: the command name).
"""

import json
import os
import re
import sys
import threading
import time

_lock = threading.Lock()
SERVICE = os.environ.get("OTEL_SERVICE_NAME", os.path.basename(sys.argv[0]))

_ID_SEG = re.compile(r"^(\d+|[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")


def now_ns():
    return time.time_ns()


def http_route(method, path):
    path = path.split("?", 1)[0]
    return "%s %s" % (method, "/".join("{id}" if _ID_SEG.match(s) else s
                                       for s in path.split("/")))


_SQL_LIT = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|%s")


def sql_op(template):
    """The agent's name of a statement written with %s placeholders."""
    return " ".join(_SQL_LIT.sub("?", template).split())


def log(peer, proto, op, status, err, t0, t1=None):
    rec = {"t0": t0, "t1": t1 or now_ns(), "client": SERVICE, "peer": peer,
           "proto": proto, "op": op, "status": str(status), "err": err}
    line = "CALL " + json.dumps(rec, separators=(",", ":")) + "\n"
    with _lock:
        sys.stderr.write(line)
        sys.stderr.flush()


def info(fmt, *args):
    with _lock:
        sys.stderr.write("%s %s %s\n" % (time.strftime("%H:%M:%S"), SERVICE, fmt % args))
        sys.stderr.flush()
