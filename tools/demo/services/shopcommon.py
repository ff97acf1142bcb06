# SPDX-License-Identifier: BSD-2-Clause
"""Shared plumbing of the demo "shop" services (stdlib only).

Each service is a ThreadingHTTPServer speaking HTTP/1.1 with an explicit
Content-Length on every response, JSON bodies, and one structured access
line per request on stderr:

    access method=GET path=/products/3 status=200 peer=127.0.0.1:40312 ms=1.2

Run with /usr/bin/python3 (Debian's, which has psycopg2 and redis).
"""

import http.client
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ensure_service_name(name):
    """Make sure OTEL_SERVICE_NAME is in this process's *initial*
    environment (/proc/PID/environ, which is what an observer reads): if it
    is missing, re-exec ourselves with it set. An explicit value wins."""
    if os.environ.get("OTEL_SERVICE_NAME"):
        return
    env = dict(os.environ, OTEL_SERVICE_NAME=name)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


# W3C trace context of the request the current thread serves. Only services
# that set PROPAGATE_TRACE pass it on (as an OpenTelemetry-instrumented
# service would), so the demo shows both of faultline's call-path methods:
# traceparent where it is propagated, same-thread where it is not.
PROPAGATE_TRACE = False
_trace = threading.local()


def log(fmt, *args):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
    sys.stderr.flush()


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    """Route table: ROUTES = [(METHOD, regex, method_name)]; the handler
    method gets (match, body_bytes) and returns (status, json_obj)."""

    protocol_version = "HTTP/1.1"
    server_version = "shop/1"
    sys_version = ""
    ROUTES = []

    def _dispatch(self, method):
        t0 = time.monotonic()
        path = self.path.split("?", 1)[0]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 1 << 20:
            self.close_connection = True
            self._send(400, {"error": "bad Content-Length"}, t0)
            return
        body = self.rfile.read(length) if length else b""
        _trace.parent = self.headers.get("traceparent")
        allowed = False
        for m, rx, fn in self.ROUTES:
            match = re.fullmatch(rx, path)
            if not match:
                continue
            allowed = True
            if m != method:
                continue
            try:
                status, obj = getattr(self, fn)(match, body)
            except HTTPError as e:
                status, obj = e.status, {"error": e.message}
            except Exception as e:  # a bug or a backend failure: 500
                log("error %s %s: %s: %s", method, path, type(e).__name__, e)
                status, obj = 500, {"error": "%s: %s" % (type(e).__name__, str(e).strip())}
            self._send(status, obj, t0)
            return
        if allowed:
            self._send(405, {"error": "method not allowed"}, t0)
        else:
            self._send(404, {"error": "no such route"}, t0)

    def _send(self, status, obj, t0):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        log("access method=%s path=%s status=%d peer=%s:%d ms=%.1f",
            self.command, self.path, status, self.client_address[0],
            self.client_address[1], (time.monotonic() - t0) * 1000)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def log_message(self, fmt, *args):  # errors from http.server itself
        log("http %s", fmt % args)

    def log_request(self, code="-", size="-"):
        pass  # _send logs the structured access line


def json_body(body):
    try:
        obj = json.loads(body or b"{}")
    except ValueError:
        raise HTTPError(400, "body is not JSON")
    if not isinstance(obj, dict):
        raise HTTPError(400, "body must be a JSON object")
    return obj


def call(host, port, method, path, obj=None, timeout=5.0):
    """One HTTP request on a new connection (closed afterwards).
    Returns (status, parsed JSON body or None)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Connection": "close", "Accept": "application/json"}
        parent = getattr(_trace, "parent", None)
        if PROPAGATE_TRACE and parent and len(parent) == 55:
            # same trace-id, a new span id (W3C Trace Context 3.2)
            headers["traceparent"] = "%s-%s-%s" % (parent[:35], os.urandom(8).hex(),
                                                   parent[53:])
        body = None
        if obj is not None:
            body = json.dumps(obj).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return resp.status, parsed
    finally:
        conn.close()


def serve(name, host, port, handler):
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("%s listening on %s:%d (pid %d, OTEL_SERVICE_NAME=%s)", name, host,
        port, os.getpid(), os.environ.get("OTEL_SERVICE_NAME"))
    try:
        server.serve_forever(poll_interval=0.5)
    except SystemExit:
        pass
    finally:
        server.server_close()
        log("%s stopped", name)
