#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""checkout: turns a cart into a paid, shipped order.

  POST /checkout {"cart_id", "user_id", "email", "currency", "card", "zip"}
    1. cart     GET /carts/{id}                 (empty cart: 400)
    2. catalog  GET /products/{id} per item     (stock < qty: 409 out of stock)
    3. shipping shop.v1.Shipping/GetQuote       (gRPC; bad zip: 400)
    4. currency GET /convert (HTTPS)            only when currency != USD
    5. payment  shop.v1.Payment/Charge          (gRPC; declined: 402)
    6. orders   POST /orders
    7. shipping shop.v1.Shipping/ShipOrder      (gRPC)
    8. cart     DELETE /carts/{id}
    9. redis    LPUSH notifications             (the notification queue)
  -> {"order_id", "total_cents", "currency", "payment_id", "tracking"}
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import db, rpc, web  # noqa: E402

PAYMENT_TIMEOUT_S = 3.0


class Checkout(web.Handler):
    peers = {}
    queue = None
    ROUTES = [("POST", r"/checkout", "checkout")]

    def checkout(self, m, req):
        p = self.peers
        body = req.json()
        try:
            cart_id, uid = int(body["cart_id"]), int(body["user_id"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPError(400, "need cart_id and user_id")
        currency = str(body.get("currency", "USD"))
        card, zipc = str(body.get("card", "")), str(body.get("zip", ""))

        cart = web.expect(p["cart"], "GET", "/carts/%d" % cart_id)
        if not cart["items"]:
            raise web.HTTPError(400, "cart %d is empty" % cart_id)
        lines, subtotal = [], 0
        for item in cart["items"]:
            prod = web.expect(p["catalog"], "GET", "/products/%d" % item["product_id"])
            if prod["stock"] < item["qty"]:
                raise web.HTTPError(409, "out of stock: product %d" % prod["id"])
            cents = (int(round(float(prod["price"]) * 100)) if "price" in prod
                     else prod["price_cents"])
            lines.append({"product_id": prod["id"], "qty": item["qty"], "price_cents": cents})
            subtotal += cents * item["qty"]
        n_items = sum(i["qty"] for i in lines)
        try:
            quote = rpc.call(p["shipping"], "shop.v1.Shipping/GetQuote",
                             {"zip": zipc, "items": n_items})
        except rpc.RpcError as e:
            raise web.HTTPError(400 if e.code == 3 else 502, "shipping: %s" % e.details)
        total = subtotal + quote["cost_cents"]
        if currency != "USD":
            conv = web.expect(p["currency"], "GET", "/convert?from=USD&to=%s&amount_cents=%d"
                              % (currency, total), cafile=p["currency_ca"])
            total = conv["amount_cents"]
        try:
            pay = rpc.call(p["payment"], "shop.v1.Payment/Charge",
                           {"order_ref": "cart-%d" % cart_id, "amount_cents": total,
                            "currency": currency, "card": card}, timeout=PAYMENT_TIMEOUT_S)
        except rpc.RpcError as e:
            if e.code == 9:
                raise web.HTTPError(402, "payment declined")
            raise web.HTTPError(400 if e.code == 3 else 502, "payment: %s" % e.details)
        order = web.expect(p["orders"], "POST", "/orders",
                           {"user_id": uid, "currency": currency, "total_cents": total,
                            "payment_id": pay["payment_id"], "items": lines})
        ship = rpc.call(p["shipping"], "shop.v1.Shipping/ShipOrder",
                        {"order_id": order["order_id"], "zip": zipc})
        web.expect(p["cart"], "DELETE", "/carts/%d" % cart_id)
        self.queue.cmd("LPUSH", "notifications", json.dumps(
            {"order_id": order["order_id"], "email": body.get("email", ""),
             "total_cents": total, "currency": currency}))
        return 200, {"order_id": order["order_id"], "total_cents": total,
                     "currency": currency, "payment_id": pay["payment_id"],
                     "tracking": ship["tracking"]}


def main():
    ap = argparse.ArgumentParser(description="checkout service")
    ap.add_argument("--port", type=int, required=True)
    for peer in ("cart", "catalog", "shipping", "payment", "orders", "currency"):
        ap.add_argument("--" + peer, required=True, help="HOST:PORT")
    ap.add_argument("--queue", required=True, help="Redis HOST:PORT of the notification queue")
    ap.add_argument("--currency-ca", default=os.path.join(
        os.environ.get("STACK_STATE_DIR", "."), "tls", "currency.pem"))
    a = ap.parse_args()
    Checkout.peers = {k: getattr(a, k) for k in (
        "cart", "catalog", "shipping", "payment", "orders", "currency", "currency_ca")}
    Checkout.queue = db.Redis(a.queue)
    web.serve(a.port, Checkout)


if __name__ == "__main__":
    main()
