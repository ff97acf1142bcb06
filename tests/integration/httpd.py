"""Upstream for the integration test: a thread-per-request HTTP/1.1 server.

GET /api/items/<n> -> 200 with a small JSON body
GET /api/fail      -> 503
anything else      -> 404
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/api/items/"):
            self.reply(200, b'{"id": "%s"}' % self.path.rsplit("/", 1)[1].encode())
        elif self.path == "/api/fail":
            self.reply(503, b'{"error": "unavailable"}')
        else:
            self.reply(404, b"{}")

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
