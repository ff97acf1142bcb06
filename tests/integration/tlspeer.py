"""TLS peers for tests/integration/tls.sh, on Python's ssl module (OpenSSL).

server PORT CERT KEY
    A thread-per-connection HTTP/1.1 server on 127.0.0.1:PORT whose listening
    socket is wrapped by ssl (SSLContext.wrap_socket, server side):
    GET /items/<n> -> 200, GET /fail -> 500, anything else -> 404.

client PORT [--before PATH]... [--ready FILE --go FILE] PATH...
    One keep-alive HTTPS connection (http.client.HTTPSConnection, certificate
    not verified) that GETs each PATH in turn. With --ready/--go: once the
    ssl module is loaded (libssl mapped) and the --before PATHs are done
    (on the same connection, opened first then), create READY and wait for
    GO. Exits 1 unless every response arrived.
"""
import http.client
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/items/"):
            self.reply(200, b'{"id": "%s"}' % self.path.rsplit("/", 1)[1].encode())
        elif self.path == "/fail":
            self.reply(500, b'{"error": "boom"}')
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


def server(port, cert, key):
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.serve_forever()


def client(port, args):
    ready = go = None
    before = []
    while args and args[0] in ("--ready", "--go", "--before"):
        if args[0] == "--ready":
            ready = args[1]
        elif args[0] == "--go":
            go = args[1]
        else:
            before.append(args[1])
        args = args[2:]
    ctx = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    for path in before:
        conn.request("GET", path)
        conn.getresponse().read()
    if ready:
        open(ready, "w").close()
    if go:
        for _ in range(600):
            if os.path.exists(go):
                break
            time.sleep(0.05)
        else:
            sys.exit("client: no go after 30 s")
    for path in args:
        conn.request("GET", path)
        conn.getresponse().read()
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        client(int(sys.argv[2]), sys.argv[3:])
