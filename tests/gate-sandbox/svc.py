#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""One small HTTP service of the gate-sandbox test stack (stack.json).

Roles (--role):
  front      GET /health, GET /  -> api GET /items
  api        GET /health, GET /items -> inventory GET /stock/1 and /stock/2,
             POST /cart -> redis RPUSH cart
  inventory  GET /health, GET /stock/{id} -> redis GET stock:{id}
--bug names a deliberate defect for the gate's tests:
  wrongtype  inventory reads stock:{id} with HGET (Redis answers WRONGTYPE)
  slow       inventory sleeps 150 ms per request
Redis is spoken with a tiny RESP client, one connection per call, so a
dead Redis is a refused connection, not a stale pooled socket.
"""
import argparse
import json
import socket
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--role", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--api", type=int)
ap.add_argument("--inventory", type=int)
ap.add_argument("--redis", type=int)
ap.add_argument("--bug", default="")
ap.add_argument("--note", default="")  # a benign change: only its log line differs
args = ap.parse_args()


def redis(*cmd):
    s = socket.create_connection(("127.0.0.1", args.redis), timeout=2)
    try:
        out = b"*%d\r\n" % len(cmd)
        for c in cmd:
            c = str(c).encode()
            out += b"$%d\r\n%s\r\n" % (len(c), c)
        s.sendall(out)
        f = s.makefile("rb")
        line = f.readline()
        if line.startswith(b"-"):
            raise RuntimeError(line[1:].decode().strip())
        if line.startswith(b"$"):
            n = int(line[1:])
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        return line[1:].decode().strip()
    finally:
        s.close()


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=3) as r:
        return json.loads(r.read())


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (args.role, fmt % a))

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            if self.path == "/health":
                return self.reply(200, {"ok": True})
            if args.role == "front" and self.path == "/":
                return self.reply(200, {"items": get(args.api, "/items")["items"]})
            if args.role == "api" and self.path == "/items":
                items = [get(args.inventory, "/stock/%d" % i) for i in (1, 2)]
                return self.reply(200, {"items": items})
            if args.role == "inventory" and self.path.startswith("/stock/"):
                sid = self.path.split("/")[2]
                if args.bug == "slow":
                    time.sleep(0.15)
                if args.bug == "wrongtype":
                    v = redis("HGET", "stock:" + sid, "n")
                else:
                    v = redis("GET", "stock:" + sid)
                if v is None:
                    return self.reply(404, {"error": "no such item"})
                return self.reply(200, {"id": int(sid), "stock": int(v)})
            return self.reply(404, {"error": "not found"})
        except Exception as e:  # the caller sees a 5xx, as real services do
            self.log_message("error: %s", e)
            return self.reply(500, {"error": "internal"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        try:
            if args.role == "api" and self.path == "/cart":
                return self.reply(201, {"len": int(redis("RPUSH", "cart", "item"))})
            return self.reply(404, {"error": "not found"})
        except Exception as e:
            self.log_message("error: %s", e)
            return self.reply(500, {"error": "internal"})


if args.note:
    sys.stderr.write("note: %s\n" % args.note)
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", args.port), H).serve_forever()
