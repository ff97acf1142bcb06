#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""recommendation: "customers also looked at", from the catalog.

  GET /recommendations/{product_id} -> {"product_id", "recommendations": [ids]}
      catalog GET /products/{id} (its category; a 404 is passed on), then
      catalog GET /products?category=C, cached here for 30 s per category
      (one fetch at a time per category)
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import web  # noqa: E402

CACHE_TTL_S = 30.0
MAX_RECS = 4


class Recommendation(web.Handler):
    catalog = None
    _cache = {}            # category -> (expires, [ids])
    _locks = {}
    _guard = threading.Lock()
    ROUTES = [("GET", r"/recommendations/(\d+)", "recommend")]

    def _category_ids(self, cat):
        with self._guard:
            lock = self._locks.setdefault(cat, threading.Lock())
        with lock:
            hit = self._cache.get(cat)
            body = web.expect(self.catalog, "GET", "/products?category=%s" % cat)
            ids = [p["id"] for p in body["products"]]
            self._cache[cat] = (time.monotonic() + CACHE_TTL_S, ids)
            return ids

    def recommend(self, m, req):
        pid = int(m.group(1))
        prod = web.expect(self.catalog, "GET", "/products/%d" % pid)
        ids = [i for i in self._category_ids(prod["category"]) if i != pid]
        return 200, {"product_id": pid, "recommendations": ids[:MAX_RECS]}


def main():
    ap = argparse.ArgumentParser(description="recommendation service")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--catalog", required=True, help="HOST:PORT")
    a = ap.parse_args()
    Recommendation.catalog = a.catalog
    web.serve(a.port, Recommendation)


if __name__ == "__main__":
    main()
