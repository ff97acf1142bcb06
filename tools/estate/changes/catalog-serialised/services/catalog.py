#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""catalog: products from PostgreSQL.

  GET /products[?category=C]   the first 20 products (of C), by id
  GET /products/{id}           one product; 404 if there is none
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import db, web  # noqa: E402

COLS = "id, sku, name, category, price_cents, stock"


def product(row):
    return dict(zip(("id", "sku", "name", "category", "price_cents", "stock"), row))


class Catalog(web.Handler):
    pg = None
    lock = threading.Lock()

    def handle_one_request(self):
        with self.lock:
            time.sleep(0.25)   # the connection check
            super().handle_one_request()
    ROUTES = [
        ("GET", r"/products", "list"),
        ("GET", r"/products/(\d+)", "get"),
    ]

    def list(self, m, req):
        cat = req.arg("category")
        if cat:
            rows = self.pg.query("SELECT " + COLS + " FROM products WHERE category = %s "
                                 "ORDER BY id LIMIT 20", (cat,))
        else:
            rows = self.pg.query("SELECT " + COLS + " FROM products ORDER BY id LIMIT 20")
        return 200, {"products": [product(r) for r in rows]}

    def get(self, m, req):
        rows = self.pg.query("SELECT " + COLS + " FROM products WHERE id = %s",
                             (int(m.group(1)),))
        if not rows:
            raise web.HTTPError(404, "no product %s" % m.group(1))
        return 200, product(rows[0])


def main():
    ap = argparse.ArgumentParser(description="catalog service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pg", required=True, help="PostgreSQL HOST:PORT")
    a = ap.parse_args()
    Catalog.pg = db.Pg(a.pg, "shop")
    web.serve(a.port, Catalog)


if __name__ == "__main__":
    main()
