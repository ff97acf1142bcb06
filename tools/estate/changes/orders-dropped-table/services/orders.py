#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""orders: orders in MariaDB.

  POST /orders {"user_id", "currency", "total_cents", "payment_id",
                "items": [{"product_id", "qty", "price_cents"}]} -> {"order_id"}
  GET  /orders/{id}          -> the order with its items; 404
  GET  /users/{id}/orders    -> {"orders": [...]} (newest 10)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import db, web  # noqa: E402

ORDER_COLS = ("id", "user_id", "currency", "total_cents", "payment_id", "status")


class Orders(web.Handler):
    my = None
    ROUTES = [
        ("POST", r"/orders", "create"),
        ("GET", r"/orders/(\d+)", "get"),
        ("GET", r"/users/(\d+)/orders", "by_user"),
    ]

    def create(self, m, req):
        body = req.json()
        try:
            uid, total = int(body["user_id"]), int(body["total_cents"])
            items = [(int(i["product_id"]), int(i["qty"]), int(i["price_cents"]))
                     for i in body["items"]]
        except (KeyError, TypeError, ValueError):
            raise web.HTTPError(400, "need user_id, total_cents and items")
        if not items:
            raise web.HTTPError(400, "an order needs items")
        oid = self.my.query("INSERT INTO orders (user_id, currency, total_cents, payment_id, "
                            "status) VALUES (%s, %s, %s, %s, %s)",
                            (uid, str(body.get("currency", "USD")), total,
                             str(body.get("payment_id", "")), "paid"))[0][0]
        for pid, qty, price in items:
            self.my.query("INSERT INTO order_items (order_id, product_id, qty, price_cents) "
                          "VALUES (%s, %s, %s, %s)", (oid, pid, qty, price))
        return 200, {"order_id": oid}

    def get(self, m, req):
        oid = int(m.group(1))
        rows = self.my.query("SELECT id, user_id, currency, total_cents, payment_id, status "
                             "FROM orders WHERE id = %s", (oid,))
        if not rows:
            raise web.HTTPError(404, "no order %d" % oid)
        order = dict(zip(ORDER_COLS, rows[0]))
        items = self.my.query("SELECT product_id, qty, price_cents FROM order_lines "
                              "WHERE order_id = %s ORDER BY product_id", (oid,))
        order["items"] = [{"product_id": p, "qty": q, "price_cents": c} for p, q, c in items]
        return 200, order

    def by_user(self, m, req):
        rows = self.my.query("SELECT id, user_id, currency, total_cents, payment_id, status "
                             "FROM orders WHERE user_id = %s ORDER BY id DESC LIMIT 10",
                             (int(m.group(1)),))
        return 200, {"orders": [dict(zip(ORDER_COLS, r)) for r in rows]}


def main():
    ap = argparse.ArgumentParser(description="orders service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mysql", required=True, help="MariaDB HOST:PORT")
    a = ap.parse_args()
    Orders.my = db.My(a.mysql, "shop")
    web.serve(a.port, Orders)


if __name__ == "__main__":
    main()
