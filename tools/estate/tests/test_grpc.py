# SPDX-License-Identifier: BSD-2-Clause
"""payment and shipping over gRPC, directly and through frontend."""
import time

from conftest import api, grpc_call


def test_quote_through_gateway():
    r = api("GET", "/api/shipping/quote?zip=12345&items=3")
    assert r.status == 200 and r.body == {"cost_cents": 499 + 100 + 100, "days": 2}


def test_quote_bad_zip_is_400():
    r = api("GET", "/api/shipping/quote?zip=abc&items=1")
    assert r.status == 400


def test_quote_is_fast():
    t0 = time.monotonic()
    r = api("GET", "/api/shipping/quote?zip=23456&items=1", timeout=5)
    assert r.status == 200
    assert time.monotonic() - t0 < 0.195, "the quote took too long"


def test_shipping_quote_directly():
    code, resp, _ = grpc_call("shipping", "shop.v1.Shipping/GetQuote", {"zip": "40000", "items": 2})
    assert code == 0 and resp == {"cost_cents": 499 + 400 + 50, "days": 3}


def test_ship_order_directly():
    code, resp, _ = grpc_call("shipping", "shop.v1.Shipping/ShipOrder", {"order_id": 77, "zip": "12345"})
    assert code == 0 and resp == {"tracking": "TRK1234500000077"}


def test_shipping_rejects_bad_input():
    code, _, details = grpc_call("shipping", "shop.v1.Shipping/GetQuote", {"zip": "12345", "items": 0})
    assert code == 3 and "items" in details


def test_payment_charge():
    code, resp, _ = grpc_call("payment", "shop.v1.Payment/Charge",
                              {"order_ref": "t-1", "amount_cents": 1234, "currency": "USD",
                               "card": "4242424242424242"})
    assert code == 0 and resp["approved"] is True and resp["amount_cents"] == 1234
    assert resp["payment_id"].startswith("pay_")


def test_payment_declined_is_failed_precondition():
    code, _, details = grpc_call("payment", "shop.v1.Payment/Charge",
                                 {"order_ref": "t-2", "amount_cents": 500, "card": "4000000000000002"})
    assert code == 9 and details == "card declined"


def test_payment_rejects_bad_amount():
    code, _, _ = grpc_call("payment", "shop.v1.Payment/Charge",
                           {"order_ref": "t-3", "amount_cents": -5, "card": "4242424242424242"})
    assert code == 3


def test_payment_unknown_method_is_unimplemented():
    code, _, _ = grpc_call("payment", "shop.v1.Payment/Refund", {"payment_id": "pay_x"})
    assert code == 12
