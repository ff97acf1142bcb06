#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""frontend: the shop's public API (nginx proxies /api/ here).

  GET    /api/products[?category=C]          catalog GET /products
  GET    /api/products/{id}[?currency=X]     catalog GET /products/{id}
                                             (+ currency GET /convert, HTTPS)
  GET    /api/products/{id}/recommendations  recommendation GET /recommendations/{id}
  GET    /api/currencies                     currency GET /rates (HTTPS)
  GET    /api/shipping/quote?zip=Z&items=N   shipping shop.v1.Shipping/GetQuote (gRPC)
  POST   /api/login                          users POST /login
  GET    /api/me                             users GET /session
  GET    /api/me/orders                      users GET /session, orders GET /users/{id}/orders
  POST   /api/cart/{id}/items                catalog GET /products/{id}, cart POST /carts/{id}/items
  GET    /api/cart/{id}                      cart GET /carts/{id}
  DELETE /api/cart/{id}                      cart DELETE /carts/{id}
  POST   /api/checkout                       users GET /session, checkout POST /checkout
  GET    /api/orders/{id}                    orders GET /orders/{id}
  GET    /api/orders/{id}/notification       notification GET /notifications/{id}

The session is "Authorization: Bearer TOKEN", passed to users as
X-Session-Token. A peer's 4xx is passed on; a 5xx or no answer is 502.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import rpc, web  # noqa: E402

PEERS = ("catalog", "cart", "checkout", "recommendation", "currency", "shipping",
         "users", "orders", "notification")


class Frontend(web.Handler):
    p = {}
    ROUTES = [
        ("GET", r"/api/products", "products"),
        ("GET", r"/api/products/(\d+)", "product"),
        ("GET", r"/api/products/(\d+)/recommendations", "recommendations"),
        ("GET", r"/api/currencies", "currencies"),
        ("GET", r"/api/shipping/quote", "quote"),
        ("POST", r"/api/login", "login"),
        ("GET", r"/api/me", "me"),
        ("GET", r"/api/me/orders", "my_orders"),
        ("POST", r"/api/cart/(\d+)/items", "add_item"),
        ("GET", r"/api/cart/(\d+)", "get_cart"),
        ("DELETE", r"/api/cart/(\d+)", "clear_cart"),
        ("POST", r"/api/checkout", "checkout"),
        ("GET", r"/api/orders/(\d+)", "order"),
        ("GET", r"/api/orders/(\d+)/notification", "notification"),
    ]

    def _pass(self, peer, method, path, obj=None, **kw):
        """Forward; a 4xx goes back to our client as it is."""
        st, body = web.call(self.p[peer], method, path, obj, **kw)
        if st >= 500:
            msg = body.get("error") if isinstance(body, dict) else None
            raise web.Unavailable("%s answered %d: %s" % (peer, st, msg))
        return st, body

    def _session(self, req):
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise web.HTTPError(401, "login first")
        return web.expect(self.p["users"], "GET", "/session",
                          headers={"X-Session-Token": auth[7:]})

    def products(self, m, req):
        cat = req.arg("category")
        return self._pass("catalog", "GET", "/products" + ("?category=%s" % cat if cat else ""))

    def product(self, m, req):
        status, product = self._pass("catalog", "GET", "/products/%s" % m.group(1))
        wanted = req.arg("currency", "USD")
        if status == 200 and wanted != "USD":
            converted = web.expect(self.p["currency"], "GET",
                                   "/convert?from=USD&to=%s&amount_cents=%d"
                                   % (wanted, product["price_cents"]), cafile=self.p["currency_ca"])
            product["price"] = {"amount_cents": converted["amount_cents"], "currency": wanted}
        return status, product

    def recommendations(self, m, req):
        return self._pass("recommendation", "GET", "/recommendations/%s" % m.group(1))

    def currencies(self, m, req):
        return self._pass("currency", "GET", "/rates", cafile=self.p["currency_ca"])

    def quote(self, m, req):
        try:
            items = int(req.arg("items", "1"))
        except ValueError:
            raise web.HTTPError(400, "items must be an integer")
        try:
            return 200, rpc.call(self.p["shipping"], "shop.v1.Shipping/GetQuote",
                                 {"zip": req.arg("zip", ""), "items": items})
        except rpc.RpcError as e:
            raise web.HTTPError(400 if e.code == 3 else 502, "shipping: %s" % e.details)

    def login(self, m, req):
        return self._pass("users", "POST", "/login", req.json())

    def me(self, m, req):
        return 200, self._session(req)

    def my_orders(self, m, req):
        user = self._session(req)
        return self._pass("orders", "GET", "/users/%d/orders" % user["user_id"])

    def add_item(self, m, req):
        body = req.json()
        try:
            pid, qty = int(body["product_id"]), int(body.get("qty", 1))
        except (KeyError, TypeError, ValueError):
            raise web.HTTPError(400, "need integer product_id and qty")
        st, _ = self._pass("catalog", "GET", "/products/%d" % pid)
        if st != 200:
            raise web.HTTPError(400, "unknown product %d" % pid)
        return self._pass("cart", "POST", "/carts/%s/items" % m.group(1),
                          {"product_id": pid, "qty": qty})

    def get_cart(self, m, req):
        return self._pass("cart", "GET", "/carts/%s" % m.group(1))

    def clear_cart(self, m, req):
        return self._pass("cart", "DELETE", "/carts/%s" % m.group(1))

    def checkout(self, m, req):
        user = self._session(req)
        body = req.json()
        body.update({"user_id": user["user_id"], "email": user["email"]})
        return self._pass("checkout", "POST", "/checkout", body, timeout=10.0)

    def order(self, m, req):
        return self._pass("orders", "GET", "/orders/%s" % m.group(1))

    def notification(self, m, req):
        return self._pass("notification", "GET", "/notifications/%s" % m.group(1))


def main():
    ap = argparse.ArgumentParser(description="frontend service")
    ap.add_argument("--port", type=int, required=True)
    for peer in PEERS:
        ap.add_argument("--" + peer, required=True, help="HOST:PORT")
    ap.add_argument("--currency-ca", default=os.path.join(
        os.environ.get("STACK_STATE_DIR", "."), "tls", "currency.pem"))
    a = ap.parse_args()
    Frontend.p = {k: getattr(a, k) for k in PEERS + ("currency_ca",)}
    web.serve(a.port, Frontend)


if __name__ == "__main__":
    main()
