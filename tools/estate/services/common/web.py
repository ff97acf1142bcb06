# SPDX-License-Identifier: BSD-2-Clause
"""HTTP/1.1 JSON services and calls between them.

Server: subclass Handler, set ROUTES = [(METHOD, regex, method_name)]; the
method gets (match, req) and returns (status, obj) or raises HTTPError.
`GET /health` answers {"status": "ok"} on every service. Every response has
an explicit Content-Length; one ACCESS line per request goes to stderr.

Client: call(peer, method, path, ...) makes ONE request on a NEW connection
("Connection: close"), logs it as a CALL and returns (status, obj).
"""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from . import calls


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Unavailable(HTTPError):
    """A peer could not be reached or answered 5xx: the caller's 502."""

    def __init__(self, message):
        super().__init__(502, message)


class Request:
    def __init__(self, handler, body, query):
        self.headers = handler.headers
        self.body = body
        self.query = query

    def json(self):
        try:
            obj = json.loads(self.body or b"{}")
        except ValueError:
            raise HTTPError(400, "body is not JSON")
        if not isinstance(obj, dict):
            raise HTTPError(400, "body must be a JSON object")
        return obj

    def arg(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "estate/1"
    sys_version = ""
    ROUTES = []

    def _dispatch(self, method):
        t0 = time.monotonic()
        path, _, qs = self.path.partition("?")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 1 << 22:
            self.close_connection = True
            return self._send(400, {"error": "bad Content-Length"}, t0)
        body = self.rfile.read(length) if length else b""
        if method == "GET" and path == "/health":
            return self._send(200, {"status": "ok", "service": calls.SERVICE}, t0)
        allowed = False
        for m, rx, fn in self.ROUTES:
            match = re.fullmatch(rx, path)
            if not match:
                continue
            allowed = True
            if m != method:
                continue
            try:
                status, obj = getattr(self, fn)(match, Request(self, body, parse_qs(qs)))
            except HTTPError as e:
                status, obj = e.status, {"error": e.message}
            except Exception as e:  # a bug or a backend failure
                calls.info("error %s %s: %s: %s", method, path, type(e).__name__, e)
                status, obj = 500, {"error": "%s: %s" % (type(e).__name__, str(e).strip())}
            return self._send(status, obj, t0)
        self._send(405 if allowed else 404,
                   {"error": "method not allowed" if allowed else "no such route"}, t0)

    def _send(self, status, obj, t0):
        data = (json.dumps(obj) + "\n").encode()
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as e:
            calls.info("cannot answer %s %s: %s", self.command, self.path, e)
            self.close_connection = True
        calls.info("ACCESS method=%s path=%s status=%d peer=%s:%d ms=%.1f",
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

    def log_message(self, fmt, *args):
        calls.info("http %s", fmt % args)

    def log_request(self, code="-", size="-"):
        pass


def _ctx_for(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the certificate names 127.0.0.1 by IP
    return ctx


def call(peer, method, path, obj=None, headers=None, timeout=3.0, cafile=None,
         raw=False):
    """One request to PEER ("host:port") on a new connection. With CAFILE,
    over TLS verified against that certificate. Returns (status, body): the
    parsed JSON (or raw bytes with RAW). A connection failure raises
    Unavailable; so does a 5xx when the caller does not handle it itself
    (check the status)."""
    host, _, port = peer.rpartition(":")
    if cafile:
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                           context=_ctx_for(cafile))
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    op = calls.http_route(method, path)
    hdrs = {"Connection": "close", "Accept": "application/json",
            "User-Agent": "estate-%s" % calls.SERVICE}
    hdrs.update(headers or {})
    body = None
    if obj is not None:
        body = json.dumps(obj).encode()
        hdrs["Content-Type"] = "application/json"
    t0 = calls.now_ns()
    try:
        try:
            conn.connect()
        except ConnectionRefusedError as e:
            calls.log(peer, "tcp", "connect", "conn_refused", 1, t0)
            raise Unavailable("%s unreachable: %s" % (peer, e))
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except socket.timeout as e:
            calls.log(peer, "http", op, "timeout", 1, t0)
            raise Unavailable("%s %s timed out: %s" % (method, path, e))
        except (OSError, http.client.HTTPException) as e:
            calls.log(peer, "http", op, "conn_reset", 1, t0)
            raise Unavailable("%s %s failed: %s" % (method, path, e))
        st = resp.status
        calls.log(peer, "http", op, st, 1 if st >= 500 else 4 if st >= 400 else 0, t0)
        if raw:
            return st, data
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, None
    finally:
        conn.close()


def expect(peer, method, path, obj=None, ok=(200,), **kw):
    """call(), but any status outside OK raises: a 5xx as Unavailable (502),
    a 4xx is passed through to our caller with the peer's message."""
    st, body = call(peer, method, path, obj, **kw)
    if st in ok:
        return body
    msg = body.get("error") if isinstance(body, dict) else None
    if st >= 500:
        raise Unavailable("%s %s: %d %s" % (peer, path, st, msg))
    raise HTTPError(st, msg or "%s answered %d" % (peer, st))


class _TLSServer(ThreadingHTTPServer):
    ssl_context = None

    def get_request(self):
        sock, addr = super().get_request()
        # the handshake happens in the handler's thread (finish_request)
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False,
                                            suppress_ragged_eofs=True), addr

    def finish_request(self, request, client_address):
        try:
            request.settimeout(10)
            request.do_handshake()
            super().finish_request(request, client_address)
        except (ssl.SSLError, OSError) as e:
            calls.info("tls: %s: %s", client_address, e)


def serve(port, handler, host="127.0.0.1", tls=None):
    """Serve HANDLER on HOST:PORT until SIGTERM/SIGINT. TLS=(certfile, keyfile)
    serves HTTPS."""
    if tls:
        server = _TLSServer((host, port), handler, bind_and_activate=False)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.ssl_context = ctx
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
    else:
        server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    calls.info("listening on %s:%d%s (pid %d)", host, port, " (TLS)" if tls else "",
               os.getpid())
    try:
        server.serve_forever(poll_interval=0.5)
    except SystemExit:
        pass
    finally:
        server.server_close()
        calls.info("stopped")
