#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""HTTP origin for golden captures (python's http.server, real bytes).

    upstream.py PORT

  POST /upload    reads the body (honours Expect: 100-continue), 201
  GET  /chunked   chunked response with a chunk extension and a trailer
  GET  /stream    HTTP/1.0, no Content-Length: the body ends at the close
  GET  /boom      503
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "golden/1"
    sys_version = ""

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        out = b'{"stored":%d}\n' % len(body)
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Checksum: 42\r\n\r\n")
        elif self.path == "/stream":
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for i in range(5):
                self.wfile.write(b"line %d of a body that ends at the close\n" % i)
            self.close_connection = True
        elif self.path == "/boom":
            out = b"upstream failed\n"
            self.send_response(503)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        else:
            self.send_error(404)


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
