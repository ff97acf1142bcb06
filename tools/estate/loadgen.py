#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""loadgen.py - production traffic for the estate, through its gateway.

    loadgen.py [--rate R] [--duration S] [--seed N] [--concurrency C]
               [--stack FILE] [--json FILE] [--calls FILE] [--list] [-v]

Sends a realistic mix at a steady rate for a given time: browsing (product
lists, product pages, some in other currencies, recommendations, static
files), shoppers (log in, fill a cart, look at it, check out, look at the
order), and the failures real traffic has (unknown products, wrong
passwords, declined cards, out-of-stock items, bad zip codes).

Deterministic given --seed, --rate and --duration: the plan is a list of
journeys (each a fixed sequence of requests with the status each must get)
drawn from random.Random(seed) until it holds rate*duration requests.
Journeys start at a steady pace (request i of the plan is due at i/rate s),
run by --concurrency worker threads; each request goes on a NEW connection
("Connection: close"). It prints the requests it sent per route and
status, and exits 1 if any status differed from the plan (a failure under
production traffic), 3 if it fell more than 20 % behind the rate.

Data ranges are the traffic's own (the test suite never uses them):
products 101-200 (113 and 187 out of stock; 201-220 do not exist), users
1001-1100 (password pw-N), carts 500000-999999, zip codes 5xxxx-9xxxx.

--calls FILE writes every request as a CALL line (services/common/calls.py),
the ground truth tools/estate/check_truth.py compares the agent's graph with.
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import OrderedDict

if not os.environ.get("OTEL_SERVICE_NAME"):
    os.execve(sys.executable, [sys.executable] + sys.argv,
              dict(os.environ, OTEL_SERVICE_NAME="loadgen"))

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "services"))
from common import calls  # noqa: E402

CURRENCIES = ["EUR", "GBP", "JPY", "CHF", "CAD"]
CATEGORIES = ["kitchen", "sports", "toys", "audio", "office"]
OUT_OF_STOCK = {113, 187}
CARD = "5555555555554444"
DECLINED = "4000000000000002"


class Req:
    """One planned request. BODY may be a callable of the journey's state
    (for the session token and order id learnt on the way)."""

    def __init__(self, method, path, want, body=None, auth=False, save=None):
        self.method, self.path, self.want = method, path, want
        self.body, self.auth, self.save = body, auth, save


def journey(rng, cart_ids):
    """One visitor's requests, in order."""
    kind = rng.choices(["browse", "detail", "missing", "static", "quote", "rates",
                        "badlogin", "shopper"],
                       weights=[34, 22, 4, 6, 6, 3, 3, 22])[0]
    pid = lambda: rng.randrange(101, 201)  # noqa: E731
    if kind == "browse":
        out = [Req("GET", "/api/products?category=%s" % rng.choice(CATEGORIES)
                   if rng.random() < 0.5 else "/api/products", 200)]
        for _ in range(rng.randrange(1, 4)):
            p = pid()
            q = "?currency=%s" % rng.choice(CURRENCIES) if rng.random() < 0.25 else ""
            out.append(Req("GET", "/api/products/%d%s" % (p, q), 200))
        return kind, out
    if kind == "detail":
        p = pid()
        return kind, [Req("GET", "/api/products/%d" % p, 200),
                      Req("GET", "/api/products/%d/recommendations" % p, 200)]
    if kind == "missing":
        return kind, [Req("GET", "/api/products/%d" % rng.randrange(201, 221), 404)]
    if kind == "static":
        return kind, [Req("GET", "/static/index.html", 200), Req("GET", "/static/shop.css", 200)]
    if kind == "quote":
        z = "%05d" % rng.randrange(50000, 100000)
        bad = rng.random() < 0.15
        return kind, [Req("GET", "/api/shipping/quote?zip=%s&items=%d" % (
            z[:4] if bad else z, rng.randrange(1, 6)), 400 if bad else 200)]
    if kind == "rates":
        return kind, [Req("GET", "/api/currencies", 200)]
    uid = rng.randrange(1001, 1101)
    if kind == "badlogin":
        return kind, [Req("POST", "/api/login", 401,
                          {"email": "shopper%d@prod.example" % uid, "password": "guess"})]
    # shopper
    cart = cart_ids.pop()
    out = [Req("POST", "/api/login", 200,
               {"email": "shopper%d@prod.example" % uid, "password": "pw-%d" % uid},
               save="token")]
    items = [(pid(), rng.randrange(1, 6)) for _ in range(rng.randrange(1, 4))]
    for p, q in items:
        out.append(Req("POST", "/api/cart/%d/items" % cart, 200, {"product_id": p, "qty": q}))
    out.append(Req("GET", "/api/cart/%d" % cart, 200))
    if rng.random() < 0.7:
        declined = rng.random() < 0.1
        oos = any(p in OUT_OF_STOCK for p, _ in items)
        want = 409 if oos else 402 if declined else 200
        out.append(Req("POST", "/api/checkout", want,
                       {"cart_id": cart, "currency": rng.choice(["USD", "USD"] + CURRENCIES),
                        "card": DECLINED if declined else CARD,
                        "zip": "%05d" % rng.randrange(50000, 100000)},
                       auth=True, save="order" if want == 200 else None))
        if want == 200:
            out.append(Req("GET", lambda st: "/api/orders/%d" % st["order"], 200))
            out.append(Req("GET", "/api/me/orders", 200, auth=True))
    return kind, out


def build_plan(seed, total):
    rng = random.Random(seed)
    carts = list(range(500000, 1000000))
    rng.shuffle(carts)
    carts = carts[:total]
    plan, n = [], 0
    while n < total:
        kind, reqs = journey(rng, carts)
        plan.append((kind, reqs))
        n += len(reqs)
    return plan


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = OrderedDict()      # route -> {"requests", "statuses"}
        self.journeys = {}
        self.unexpected = []
        self.sent = 0
        self.latency = []

    def add(self, route, status, want, method, path, dt):
        with self.lock:
            op = self.ops.setdefault(route, {"requests": 0, "statuses": {}})
            op["requests"] += 1
            op["statuses"][str(status)] = op["statuses"].get(str(status), 0) + 1
            self.sent += 1
            self.latency.append(dt)
            if status != want:
                self.unexpected.append((method, path, want, status))


def send(a, req, state, stats, log_calls):
    path = req.path(state) if callable(req.path) else req.path
    headers = {"Connection": "close", "User-Agent": "faultline-loadgen"}
    if req.auth and "token" in state:
        headers["Authorization"] = "Bearer " + state["token"]
    data = None
    if req.body is not None:
        data = json.dumps(req.body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
    t0 = calls.now_ns()
    m0 = time.monotonic()
    body = None
    try:
        conn.request(req.method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
        try:
            body = json.loads(raw) if raw and raw[:1] in b"{[" else None
        except ValueError:
            body = None
    except (OSError, http.client.HTTPException) as e:
        status = "error:%s" % type(e).__name__
    finally:
        conn.close()
    route = calls.http_route(req.method, path)
    if log_calls:
        st = status if isinstance(status, int) else "conn_reset"
        err = 1 if not isinstance(status, int) or status >= 500 else 4 if status >= 400 else 0
        calls.log("%s:%d" % (a.host, a.port), "http", route, st, err, t0)
    stats.add(route, status, req.want, req.method, path, time.monotonic() - m0)
    if a.verbose:
        print("%s %s -> %s" % (req.method, path, status), flush=True)
    if status == 200 and req.save and isinstance(body, dict):
        state[req.save] = body.get("token") if req.save == "token" else body.get("order_id")
    return status == req.want


def main():
    ap = argparse.ArgumentParser(description="production traffic for the estate",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--stack", default=os.path.join(HERE, "shop.json"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="gateway port (default: nginx's in the stack)")
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, s")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    ap.add_argument("--calls", metavar="FILE", help="write a CALL line per request to FILE")
    ap.add_argument("--list", action="store_true", help="print the plan and exit")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if a.port is None:
        with open(a.stack) as f:
            a.port = {s["name"]: s["port"] for s in json.load(f)["services"]}["nginx"]
    total = max(1, int(round(a.rate * a.duration)))
    plan = build_plan(a.seed, total)
    n_req = sum(len(r) for _, r in plan)
    if a.list:
        for kind, reqs in plan:
            print("%-9s %s" % (kind, "; ".join("%s %s -> %d" % (
                r.method, "<order>" if callable(r.path) else r.path, r.want) for r in reqs)))
        print("%d journeys, %d requests" % (len(plan), n_req))
        return 0
    if a.calls:
        fd = os.open(a.calls, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    stats = Stats()
    todo = list(enumerate(plan))
    starts, acc = [], 0
    for _, reqs in plan:
        starts.append(acc / a.rate)
        acc += len(reqs)
    lock = threading.Lock()
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i, (kind, reqs) = todo.pop(0)
            delay = t0 + starts[i] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            state = {}
            with stats.lock:
                stats.journeys[kind] = stats.journeys.get(kind, 0) + 1
            for r in reqs:
                if not send(a, r, state, stats, bool(a.calls)):
                    break            # a broken journey stops, as a user would
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    out = sys.stdout
    lat = sorted(stats.latency)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0  # noqa: E731
    print("loadgen: %d requests (%d journeys, seed %d) to http://%s:%d in %.2fs = %.1f/s "
          "(target %.1f/s), p50 %.1f ms, p99 %.1f ms" % (
              stats.sent, len(plan), a.seed, a.host, a.port, elapsed, stats.sent / elapsed,
              a.rate, p(0.5), p(0.99)), file=out)
    print("  journeys: %s" % ", ".join("%s %d" % kv for kv in sorted(stats.journeys.items())),
          file=out)
    print("  %-44s %8s  %s" % ("route", "requests", "statuses"), file=out)
    for name in sorted(stats.ops):
        op = stats.ops[name]
        st = ", ".join("%s x%d" % kv for kv in sorted(op["statuses"].items()))
        print("  %-44s %8d  %s" % (name, op["requests"], st), file=out)
    for m, path, want, got in stats.unexpected[:20]:
        print("loadgen: UNEXPECTED %s %s: want %s, got %s" % (m, path, want, got), file=out)
    behind = elapsed > a.duration * 1.2 + 1
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"requests": stats.sent, "planned": n_req, "seconds": round(elapsed, 3),
                       "seed": a.seed, "rate": a.rate, "unexpected": len(stats.unexpected),
                       "journeys": stats.journeys, "operations": stats.ops}, f, indent=2)
    if stats.unexpected:
        print("loadgen: %d of %d responses had an unexpected status" % (
            len(stats.unexpected), stats.sent), file=out)
        return 1
    if behind:
        print("loadgen: fell behind: %.1fs for a %.1fs plan" % (elapsed, a.duration), file=out)
        return 3
    print("loadgen: all %d statuses as planned" % stats.sent, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
