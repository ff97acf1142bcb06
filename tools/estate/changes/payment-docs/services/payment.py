#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""payment: gRPC service shop.v1.Payment (JSON messages, no codegen).

  Charge {"order_ref", "amount_cents", "currency", "card"}
     -> {"payment_id", "approved": true, "amount_cents", "currency"}
     card 4000000000000002 is declined: FAILED_PRECONDITION (9)
     amount_cents <= 0 or a card that is not 16 digits: INVALID_ARGUMENT (3)
"""
import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
from common import rpc  # noqa: E402

DECLINED = {"4000000000000002"}


def charge(req, context):
    """Charge a card. The payment id is a stable hash of the order, the amount and
    the card's last digits, so a retried charge gets the same id."""
    card = str(req.get("card", ""))
    try:
        amount = int(req.get("amount_cents", 0))
    except (TypeError, ValueError):
        amount = 0
    if amount <= 0 or len(card) != 16 or not card.isdigit():
        rpc.fail(context, grpc.StatusCode.INVALID_ARGUMENT, "bad amount or card")
    if card in DECLINED:
        rpc.fail(context, grpc.StatusCode.FAILED_PRECONDITION, "card declined")
    ref = "%s:%d:%s" % (req.get("order_ref", ""), amount, card[-4:])
    return {"payment_id": "pay_" + hashlib.sha256(ref.encode()).hexdigest()[:12],
            "approved": True, "amount_cents": amount,
            "currency": req.get("currency", "USD")}


def main():
    ap = argparse.ArgumentParser(description="payment service (gRPC)")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    rpc.serve(a.port, "shop.v1.Payment", {"Charge": charge})


if __name__ == "__main__":
    main()
