#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""frontend: the shop's API, behind nginx (which proxies /api/ here).

  GET  /api/products             -> catalog GET /products
  GET  /api/products/{id}        -> catalog GET /products/{id}
  POST /api/cart/{id}/items      -> catalog GET /products/{product_id}
                                    (must be 200), then
                                    cart POST /cart/{id}/items
  GET  /api/cart/{id}            -> cart GET /cart/{id}
  GET  /api/cart/{id}/bad        -> cart GET /cart/{id}/bad
  GET  /api/broken               -> catalog GET /broken

A backend's 4xx is passed through; a backend 5xx or an unreachable backend
becomes 502. Every backend call is a new connection (http.client).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shopcommon  # noqa: E402

shopcommon.ensure_service_name("frontend")
shopcommon.PROPAGATE_TRACE = True  # frontend is "instrumented": it passes traceparent on

HTTPError = shopcommon.HTTPError


class Frontend(shopcommon.Handler):
    catalog = ("127.0.0.1", 18082)
    cart = ("127.0.0.1", 18083)
    ROUTES = [
        ("GET", r"/api/products", "products"),
        ("GET", r"/api/products/(\d+)", "product"),
        ("POST", r"/api/cart/(\d+)/items", "add_item"),
        ("GET", r"/api/cart/(\d+)", "get_cart"),
        ("GET", r"/api/cart/(\d+)/bad", "bad_cart"),
        ("GET", r"/api/broken", "broken"),
    ]

    def backend(self, which, method, path, obj=None):
        host, port = getattr(self, which)
        try:
            status, body = shopcommon.call(host, port, method, path, obj)
        except OSError as e:
            raise HTTPError(502, "%s unreachable: %s" % (which, e))
        if status >= 500:
            msg = body.get("error") if isinstance(body, dict) else None
            raise HTTPError(502, "%s returned %d: %s" % (which, status, msg))
        return status, body

    def products(self, m, body):
        return self.backend("catalog", "GET", "/products")

    def product(self, m, body):
        return self.backend("catalog", "GET", "/products/%s" % m.group(1))

    def add_item(self, m, body):
        req = shopcommon.json_body(body)
        try:
            pid, qty = int(req["product_id"]), int(req.get("qty", 1))
        except (KeyError, TypeError, ValueError):
            raise HTTPError(400, "need integer product_id and qty")
        status, prod = self.backend("catalog", "GET", "/products/%d" % pid)
        if status != 200:
            raise HTTPError(400, "unknown product %d" % pid)
        return self.backend("cart", "POST", "/cart/%s/items" % m.group(1),
                            {"product_id": pid, "qty": qty})

    def get_cart(self, m, body):
        return self.backend("cart", "GET", "/cart/%s" % m.group(1))

    def bad_cart(self, m, body):
        return self.backend("cart", "GET", "/cart/%s/bad" % m.group(1))

    def broken(self, m, body):
        return self.backend("catalog", "GET", "/broken")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=18081)
    ap.add_argument("--catalog", default="127.0.0.1:18082", help="HOST:PORT")
    ap.add_argument("--cart", default="127.0.0.1:18083", help="HOST:PORT")
    a = ap.parse_args()
    for name in ("catalog", "cart"):
        host, _, port = getattr(a, name).rpartition(":")
        setattr(Frontend, name, (host, int(port)))
    shopcommon.serve("frontend", "127.0.0.1", a.port, Frontend)


if __name__ == "__main__":
    main()
