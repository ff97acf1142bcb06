#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""loadgen: deterministic traffic against the demo shop's nginx.

Sends a fixed plan of requests, in order, one at a time, each on a NEW
connection (http.client, "Connection: close"), so the number of requests on
every edge of the stack is known exactly (tools/demo/expected.json). Checks
each response's status against the plan and prints a summary; exits 1 if
any status differs or a request failed, 3 if the time budget ran out.

Bounded: a fixed number of requests (see --list), a per-request timeout and
a total deadline. Runs with OTEL_SERVICE_NAME=loadgen (re-execs itself to put
it in its environment if missing).
"""

import argparse
import http.client
import json
import os
import re
import sys
import time
from collections import OrderedDict

if not os.environ.get("OTEL_SERVICE_NAME"):
    os.execve(sys.executable, [sys.executable] + sys.argv,
              dict(os.environ, OTEL_SERVICE_NAME="loadgen"))


def build_plan():
    """[(method, path, json_body or None, expected status)], in order.
    The cart items are added before the /bad calls: INCR on an existing
    hash is what fails with WRONGTYPE."""
    plan = []

    def add(n, method, path, status, body=None):
        plan.extend([(method, path, body, status)] * n)

    add(4, "GET", "/static/index.html", 200)
    add(2, "GET", "/static/missing.css", 404)              # nginx 404
    add(3, "GET", "/api/products", 200)
    for pid in (1, 2, 3, 4, 5, 1, 2, 3):
        add(1, "GET", "/api/products/%d" % pid, 200)
    add(2, "GET", "/api/products/999", 404)                # catalog 404, passed on
    for cart, pid, qty in ((1, 1, 2), (1, 2, 1), (1, 3, 1),
                           (2, 4, 3), (2, 1, 1), (2, 5, 2)):
        add(1, "POST", "/api/cart/%d/items" % cart, 200,
            {"product_id": pid, "qty": qty})
    for cart in (1, 2, 1, 2):
        add(1, "GET", "/api/cart/%d" % cart, 200)
    for cart in (1, 1, 2):
        add(1, "GET", "/api/cart/%d/bad" % cart, 502)       # redis WRONGTYPE
    add(2, "GET", "/api/broken", 502)                      # postgres 42P01
    return plan


def route(method, path):
    """The operation name: METHOD + path, query dropped, numeric segments
    replaced by {id}."""
    path = path.split("?", 1)[0]
    path = "/".join("{id}" if re.fullmatch(r"\d+", s) else s for s in path.split("/"))
    return "%s %s" % (method, path)


def main():
    ap = argparse.ArgumentParser(description="deterministic demo traffic")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("FL_DEMO_NGINX_PORT", 18080)))
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, s")
    ap.add_argument("--deadline", type=float, default=60.0, help="whole run, s")
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every request")
    a = ap.parse_args()

    plan = build_plan()
    if a.list:
        for m, p, b, s in plan:
            print(m, p, json.dumps(b) if b else "", "->", s)
        print("%d requests" % len(plan))
        return 0

    t_end = time.monotonic() + a.deadline
    per_op = OrderedDict()   # route -> {"requests", "statuses": {code: n}}
    unexpected = []
    failed = 0
    sent = 0
    t0 = time.monotonic()
    for method, path, body, want in plan:
        if time.monotonic() > t_end:
            print("loadgen: deadline of %.0fs reached after %d of %d requests"
                  % (a.deadline, sent, len(plan)), file=sys.stderr)
            return 3
        op = per_op.setdefault(route(method, path), {"requests": 0, "statuses": {}})
        op["requests"] += 1
        sent += 1
        conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Connection": "close", "User-Agent": "faultline-loadgen",
                       # a trace of its own per request (W3C Trace Context)
                       "traceparent": "00-%s-%s-01" % (os.urandom(16).hex(),
                                                       os.urandom(8).hex())}
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            status = "error: %s" % e
            failed += 1
        finally:
            conn.close()
        key = str(status)
        op["statuses"][key] = op["statuses"].get(key, 0) + 1
        if status != want:
            unexpected.append((method, path, want, status))
        if a.verbose:
            print("%s %s -> %s" % (method, path, status))
    elapsed = time.monotonic() - t0

    print("loadgen: %d requests to http://%s:%d in %.2fs, each on a new connection"
          % (sent, a.host, a.port, elapsed))
    print("  %-32s %8s  %s" % ("operation", "requests", "statuses"))
    for name, op in per_op.items():
        st = ", ".join("%s x%d" % (k, v) for k, v in sorted(op["statuses"].items()))
        print("  %-32s %8d  %s" % (name, op["requests"], st))
    for method, path, want, got in unexpected:
        print("loadgen: UNEXPECTED %s %s: want %s, got %s" % (method, path, want, got),
              file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"requests": sent, "seconds": round(elapsed, 3),
                       "unexpected": len(unexpected), "failed": failed,
                       "operations": per_op}, f, indent=2)
    if unexpected:
        print("loadgen: %d of %d responses had an unexpected status" % (len(unexpected), sent))
        return 1
    print("loadgen: all %d statuses as planned" % sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
