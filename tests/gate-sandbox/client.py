#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The tests of the gate-sandbox stack: client.py TEST (exit 0 = pass).

Fixture switches (files in $STACK_STATE_DIR, written by the suite):
  flaky-plan        one letter per run of 'flaky' (P pass, F fail), consumed
  preexisting       'broken' fails while it exists (on any version)
  infra-kill-redis  'stock' first shuts Redis down (an infra fault)
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.request

FRONT, API, INV, REDIS = 16604, 16602, 16603, 16601
state = os.environ["STACK_STATE_DIR"]


def call(port, path, data=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


t = sys.argv[1]
if t == "home":
    code, body = call(FRONT, "/")
    check(code == 200 and len(body["items"]) == 2, "front / answered %s" % code)
elif t == "items":
    code, body = call(API, "/items")
    check(code == 200 and body["items"][0]["stock"] == 5, "api /items answered %s" % code)
elif t == "stock":
    if os.path.exists(os.path.join(state, "infra-kill-redis")):
        s = socket.create_connection(("127.0.0.1", REDIS))
        s.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        s.recv(100)
        s.close()
    code, body = call(INV, "/stock/2")
    check(code == 200 and body["stock"] == 7, "inventory /stock/2 answered %s" % code)
elif t == "missing":
    code, _ = call(INV, "/stock/99")
    check(code == 404, "inventory /stock/99 answered %s, want 404" % code)
elif t == "cart":
    code, body = call(API, "/cart", b"{}")
    check(code == 201, "api /cart answered %s" % code)
elif t == "health":
    code, _ = call(FRONT, "/health")
    check(code == 200, "front /health answered %s" % code)
elif t == "flaky":
    plan = os.path.join(state, "flaky-plan")
    step = "P"
    if os.path.exists(plan):
        with open(plan) as f:
            p = f.read().strip()
        step, rest = (p[:1] or "P"), p[1:]
        with open(plan, "w") as f:
            f.write(rest)
    code, _ = call(API, "/items")
    check(code == 200 and step == "P", "flaky run planned to %s" % step)
elif t == "broken":
    code, _ = call(FRONT, "/health")
    check(code == 200 and not os.path.exists(os.path.join(state, "preexisting")),
          "broken on every version")
else:
    sys.exit("unknown test " + t)
