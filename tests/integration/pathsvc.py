"""Services for the call-path test: real thread-per-request HTTP servers.

  pathsvc.py orders  PORT REDIS_PORT PG_PORT BILLING_PORT
      GET /orders/<n>, /api/orders/<n>: Redis GET, then a PostgreSQL
          SELECT, both on the handler thread (the thread method links them)
      GET /checkout: GET /charge on billing from a worker thread of a
          pool, passing the incoming traceparent on (only the traceparent
          method can link it)
  pathsvc.py billing PORT REDIS_PORT
      GET /charge: Redis INCR on the handler thread
  pathsvc.py load ORDERS_PORT N_ORDERS N_CHECKOUT
      N_ORDERS GET /orders/<n> without traceparent, then N_CHECKOUT
      GET /checkout, each with a traceparent of its own trace
"""
import concurrent.futures
import http.client
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis


def serve(port, handler):
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    srv.serve_forever()


class Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def orders(port, redis_port, pg_port, billing_port):
    kv = redis.Redis(host="127.0.0.1", port=redis_port)
    db = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres",
                          dbname="postgres", sslmode="disable")
    db.autocommit = True
    db_lock = threading.Lock()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)

    def charge(traceparent):
        c = http.client.HTTPConnection("127.0.0.1", billing_port, timeout=10)
        c.request("GET", "/charge", headers={"traceparent": traceparent})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    class Handler(Base):
        def do_GET(self):
            if "/orders/" in self.path:
                n = int(self.path.rsplit("/", 1)[1])
                kv.get("order:%d" % n)
                with db_lock, db.cursor() as cur:
                    cur.execute("SELECT %s::int AS order_id", (n,))
                    cur.fetchall()
                self.reply(200, b"order")
            elif self.path == "/checkout":
                tp = self.headers.get("traceparent", "")
                status = pool.submit(charge, tp).result()
                self.reply(200 if status == 200 else 502, b"paid")
            else:
                self.reply(404, b"")

    serve(port, Handler)


def billing(port, redis_port):
    kv = redis.Redis(host="127.0.0.1", port=redis_port)

    class Handler(Base):
        def do_GET(self):
            kv.incr("charges")
            self.reply(200, b"charged")

    serve(port, Handler)


def load(orders_port, n_orders, n_checkout):
    def get(path, headers):
        c = http.client.HTTPConnection("127.0.0.1", orders_port, timeout=10)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            sys.exit("load: %s -> %d" % (path, r.status))

    for i in range(n_orders):
        get("/orders/%d" % (i + 1), {})
    for i in range(n_checkout):
        trace = os.urandom(16).hex()
        get("/checkout", {"traceparent": "00-%s-%s-01" % (trace, os.urandom(8).hex())})


if __name__ == "__main__":
    role, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    {"orders": orders, "billing": billing, "load": load}[role](*args)
