#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""cart: shopping carts in Redis, one hash per cart (product id -> quantity).

  POST   /carts/{id}/items  {"product_id": N, "qty": N}   HINCRBY + EXPIRE
  GET    /carts/{id}        {"cart_id", "items": [{"product_id", "qty"}]}
  DELETE /carts/{id}
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import db, web  # noqa: E402

TTL_S = 3600


class Cart(web.Handler):
    r = None
    ROUTES = [
        ("POST", r"/carts/(\d+)/items", "add"),
        ("GET", r"/carts/(\d+)", "get"),
        ("DELETE", r"/carts/(\d+)", "clear"),
    ]

    def add(self, m, req):
        body = req.json()
        try:
            pid, qty = int(body["product_id"]), int(body.get("qty", 1))
        except (KeyError, TypeError, ValueError):
            raise web.HTTPError(400, "need integer product_id and qty")
        if qty < 1 or qty > 99:
            raise web.HTTPError(400, "qty must be 1..99")
        key = "cart:%s" % m.group(1)
        total = self.r.cmd("HINCRBY", key, str(pid), qty)
        self.r.cmd("EXPIRE", key, TTL_S)
        return 200, {"cart_id": int(m.group(1)), "product_id": pid, "qty": int(total)}

    def get(self, m, req):
        h = self.r.cmd("HGETALL", "cart:%s" % m.group(1))
        items = [{"product_id": int(k), "qty": v} for k, v in sorted(
            h.items(), key=lambda kv: int(kv[0]))]
        return 200, {"cart_id": int(m.group(1)), "items": items}

    def clear(self, m, req):
        n = self.r.cmd("DEL", "cart:%s" % m.group(1))
        return 200, {"cart_id": int(m.group(1)), "deleted": int(n)}


def main():
    ap = argparse.ArgumentParser(description="cart service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis", required=True, help="Redis HOST:PORT")
    a = ap.parse_args()
    Cart.r = db.Redis(a.redis)
    web.serve(a.port, Cart)


if __name__ == "__main__":
    main()
