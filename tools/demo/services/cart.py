#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""cart: shopping carts in Redis (a hash per cart: product id -> quantity).

  GET  /cart/{id}          HGETALL cart:{id}
  POST /cart/{id}/items    {"product_id": P, "qty": Q}
                           HINCRBY cart:{id} P Q, then EXPIRE cart:{id} 86400
  GET  /cart/{id}/bad      r.incr("cart:{id}") -- a bug: treats the cart hash
                           as a counter; Redis replies -WRONGTYPE (when the
                           cart exists) -> 500. NB: redis-py's incr() sends
                           INCRBY cart:{id} 1 on the wire, not INCR.

One redis.Redis client (its pool opens the connection on first use; redis-py
4.3 sends no command at connect with db=0 and no password/client name).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shopcommon  # noqa: E402

shopcommon.ensure_service_name("cart")

import redis  # noqa: E402

TTL = 86400


class Cart(shopcommon.Handler):
    r = None
    ROUTES = [
        ("GET", r"/cart/(\d+)", "get_cart"),
        ("POST", r"/cart/(\d+)/items", "add_item"),
        ("GET", r"/cart/(\d+)/bad", "bad"),
    ]

    def get_cart(self, m, body):
        items = self.r.hgetall("cart:%s" % m.group(1))
        return 200, {"cart": int(m.group(1)),
                     "items": {k: int(v) for k, v in sorted(items.items())}}

    def add_item(self, m, body):
        req = shopcommon.json_body(body)
        try:
            pid, qty = int(req["product_id"]), int(req.get("qty", 1))
        except (KeyError, TypeError, ValueError):
            raise shopcommon.HTTPError(400, "need integer product_id and qty")
        key = "cart:%s" % m.group(1)
        n = self.r.hincrby(key, str(pid), qty)
        self.r.expire(key, TTL)
        return 200, {"cart": int(m.group(1)), "product_id": pid, "qty": n}

    def bad(self, m, body):
        n = self.r.incr("cart:%s" % m.group(1))  # WRONGTYPE on a hash
        return 200, {"count": n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=18083)
    ap.add_argument("--redis-host", default="127.0.0.1")
    ap.add_argument("--redis-port", type=int, default=16379)
    a = ap.parse_args()
    Cart.r = redis.Redis(host=a.redis_host, port=a.redis_port, db=0,
                         decode_responses=True, socket_timeout=5,
                         socket_connect_timeout=5)
    shopcommon.serve("cart", "127.0.0.1", a.port, Cart)


if __name__ == "__main__":
    main()
