#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""shipping: gRPC service shop.v1.Shipping (JSON messages, no codegen).

  GetQuote  {"zip": "12345", "items": N}  -> {"cost_cents", "days"}
            the carrier's rate lookup takes 20-240 ms
  ShipOrder {"order_id": N, "zip": "12345"} -> {"tracking"}
  A zip that is not 5 digits, or items < 1: INVALID_ARGUMENT (3).
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
from common import rpc  # noqa: E402


def _zip(req, context):
    z = str(req.get("zip", ""))
    if len(z) != 5 or not z.isdigit():
        rpc.fail(context, grpc.StatusCode.INVALID_ARGUMENT, "bad zip %r" % z)
    return z


def get_quote(req, context):
    z = _zip(req, context)
    try:
        items = int(req.get("items", 0))
    except (TypeError, ValueError):
        items = 0
    if items < 1:
        rpc.fail(context, grpc.StatusCode.INVALID_ARGUMENT, "items must be >= 1")
    time.sleep(random.uniform(0.02, 0.24))   # the carrier's rate table
    zone = int(z[0])
    base = {n: 499 + 100 * n for n in range(10)}[zone]
    return {"cost_cents": base + 50 * (items - 1), "days": [2, 2, 2, 3, 3, 3, 4, 4, 4, 5][zone]}


def ship_order(req, context):
    z = _zip(req, context)
    try:
        oid = int(req["order_id"])
    except (KeyError, TypeError, ValueError):
        rpc.fail(context, grpc.StatusCode.INVALID_ARGUMENT, "need order_id")
    return {"tracking": "TRK%s%08d" % (z, oid)}


def main():
    ap = argparse.ArgumentParser(description="shipping service (gRPC)")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    rpc.serve(a.port, "shop.v1.Shipping", {"GetQuote": get_quote, "ShipOrder": ship_order})


if __name__ == "__main__":
    main()
