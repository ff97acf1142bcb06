#!/usr/bin/env python3
"""A tiny HTTP service in front of Redis for the deep suite's stack.

GET /health, PUT /items/NAME (INCR NAME), GET /items/NAME (GET NAME).
Redis errors and timeouts (the client gives up after --timeout seconds)
answer 503, so a fault on this service's Redis edge shows at its callers.
"""
import argparse
import http.server
import json

import redis

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--redis", type=int, required=True)
ap.add_argument("--timeout", type=float, default=0.5)
ap.add_argument("--prefix", default="kv")
args = ap.parse_args()
db = redis.Redis(host="127.0.0.1", port=args.redis, socket_timeout=args.timeout,
                 socket_connect_timeout=args.timeout)


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"ok": True})
        if not self.path.startswith("/items/"):
            return self.reply(404, {"error": "no such route"})
        try:
            v = db.get(args.prefix + ":" + self.path[7:])
        except redis.RedisError as e:
            return self.reply(503, {"error": type(e).__name__})
        self.reply(200, {"value": int(v or 0)})

    def do_PUT(self):
        if not self.path.startswith("/items/"):
            return self.reply(404, {"error": "no such route"})
        try:
            v = db.incr(args.prefix + ":" + self.path[7:])
        except redis.RedisError as e:
            return self.reply(503, {"error": type(e).__name__})
        self.reply(200, {"value": v})

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", args.port), H).serve_forever()
