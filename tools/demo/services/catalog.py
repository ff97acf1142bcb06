#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""catalog: products from PostgreSQL.

  GET /products        SELECT id, name, price FROM products ORDER BY id
  GET /products/{id}   SELECT id, name, price FROM products WHERE id = %s
                       (404 if no such product)
  GET /broken          SELECT product_id, rating FROM product_reviews
                       WHERE product_id = %s  -- the table does not exist:
                       PostgreSQL ErrorResponse 42P01 -> 500

One psycopg2 connection, opened lazily on the first request, autocommit on
(no BEGIN/COMMIT on the wire), queries serialised by a lock. The products
table is created and seeded by tools/demo/stack.sh, not here.
"""

import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shopcommon  # noqa: E402

shopcommon.ensure_service_name("catalog")

import psycopg2  # noqa: E402

Q_LIST = "SELECT id, name, price FROM products ORDER BY id"
Q_ONE = "SELECT id, name, price FROM products WHERE id = %s"
Q_BROKEN = "SELECT product_id, rating FROM product_reviews WHERE product_id = %s"


class DB:
    def __init__(self, dsn):
        self.dsn = dsn
        self.conn = None
        self.lock = threading.Lock()

    def query(self, sql, params=None):
        with self.lock:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg2.connect(self.dsn)
                self.conn.autocommit = True
                shopcommon.log("connected to postgres: %s", self.dsn)
            try:
                with self.conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                # the connection is gone: reconnect on the next request
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None
                raise


def product(row):
    return {"id": row[0], "name": row[1], "price": str(row[2])}


class Catalog(shopcommon.Handler):
    db = None
    ROUTES = [
        ("GET", r"/products", "list_products"),
        ("GET", r"/products/(\d+)", "get_product"),
        ("GET", r"/broken", "broken"),
    ]

    def list_products(self, m, body):
        return 200, {"products": [product(r) for r in self.db.query(Q_LIST)]}

    def get_product(self, m, body):
        rows = self.db.query(Q_ONE, (int(m.group(1)),))
        if not rows:
            raise shopcommon.HTTPError(404, "no product %s" % m.group(1))
        return 200, product(rows[0])

    def broken(self, m, body):
        rows = self.db.query(Q_BROKEN, (1,))  # raises UndefinedTable
        return 200, {"reviews": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=18082)
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=15432)
    ap.add_argument("--pg-db", default="shop")
    ap.add_argument("--pg-user", default="postgres")
    a = ap.parse_args()
    Catalog.db = DB("host=%s port=%d dbname=%s user=%s application_name=catalog "
                    "connect_timeout=5" % (a.pg_host, a.pg_port, a.pg_db, a.pg_user))
    shopcommon.serve("catalog", "127.0.0.1", a.port, Catalog)


if __name__ == "__main__":
    main()
