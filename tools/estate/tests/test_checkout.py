# SPDX-License-Identifier: BSD-2-Clause
"""checkout: cart -> catalog -> shipping -> currency -> payment -> orders
(MariaDB) -> shipping -> cart -> the notification queue."""
import time

from conftest import api, fill, login, price

CARD = "4242424242424242"
DECLINED = "4000000000000002"


def quote(zipc, items):
    r = api("GET", "/api/shipping/quote?zip=%s&items=%d" % (zipc, items))
    assert r.status == 200, r
    return r.body["cost_cents"]


def checkout(token, cart, currency="USD", card=CARD, zipc="12345"):
    return api("POST", "/api/checkout", {"cart_id": cart, "currency": currency, "card": card,
                                         "zip": zipc}, token=token)


def test_checkout_usd(session, cart):
    token, uid = session
    fill(cart, [(11, 2)])
    r = checkout(token, cart, zipc="23456")
    assert r.status == 200, r
    assert r.body["total_cents"] == 2 * price(11) + quote("23456", 2)
    assert r.body["currency"] == "USD"
    assert r.body["tracking"] == "TRK23456%08d" % r.body["order_id"]
    o = api("GET", "/api/orders/%d" % r.body["order_id"])
    assert o.status == 200
    assert o.body["user_id"] == uid and o.body["status"] == "paid"
    assert o.body["items"] == [{"product_id": 11, "qty": 2, "price_cents": price(11)}]


def test_checkout_eur(session, cart):
    token, _ = session
    fill(cart, [(12, 1)])
    r = checkout(token, cart, currency="EUR", zipc="34567")
    assert r.status == 200, r
    assert r.body["total_cents"] == round((price(12) + quote("34567", 1)) * 0.92)
    assert r.body["currency"] == "EUR"


def test_checkout_declined_is_402(session, cart):
    token, _ = session
    fill(cart, [(14, 1)])
    r = checkout(token, cart, card=DECLINED)
    assert r.status == 402 and r.body["error"] == "payment declined"
    # nothing was ordered: the cart is still there
    assert api("GET", "/api/cart/%d" % cart).body["items"] == [{"product_id": 14, "qty": 1}]


def test_checkout_out_of_stock_is_409(session, cart):
    token, _ = session
    fill(cart, [(15, 1), (13, 1)])
    r = checkout(token, cart)
    assert r.status == 409 and "product 13" in r.body["error"]


def test_checkout_empty_cart_is_400(session, cart):
    token, _ = session
    r = checkout(token, cart)
    assert r.status == 400 and "empty" in r.body["error"]


def test_checkout_bad_zip_is_400(session, cart):
    token, _ = session
    fill(cart, [(16, 1)])
    r = checkout(token, cart, zipc="1234")
    assert r.status == 400 and "zip" in r.body["error"]


def test_checkout_needs_login(cart):
    fill(cart, [(17, 1)])
    assert checkout(None, cart).status == 401
    assert checkout("f" * 32, cart).status == 401


def test_checkout_clears_cart(session, cart):
    token, _ = session
    fill(cart, [(18, 1)])
    assert checkout(token, cart).status == 200
    assert api("GET", "/api/cart/%d" % cart).body["items"] == []


def test_checkout_many_items(session, cart):
    token, _ = session
    items = [(21, 1), (22, 2), (23, 3), (24, 1)]
    fill(cart, items)
    r = checkout(token, cart, zipc="45678")
    assert r.status == 200, r
    want = sum(price(p) * q for p, q in items) + quote("45678", 7)
    assert r.body["total_cents"] == want
    o = api("GET", "/api/orders/%d" % r.body["order_id"]).body
    assert [(i["product_id"], i["qty"]) for i in o["items"]] == items


def test_repeat_customer_orders(cart):
    token, uid = login(7)
    ids = []
    for n in range(3):
        c = cart + n
        fill(c, [(25 + n, 1)])
        r = checkout(token, c)
        assert r.status == 200, r
        ids.append(r.body["order_id"])
    mine = api("GET", "/api/me/orders", token=token)
    assert mine.status == 200
    listed = [o["id"] for o in mine.body["orders"]]
    assert listed[:3] == sorted(ids, reverse=True)


def test_notification_is_sent(session, cart):
    token, uid = session
    fill(cart, [(31, 1)])
    r = checkout(token, cart)
    assert r.status == 200, r
    oid = r.body["order_id"]
    deadline = time.monotonic() + 5
    while True:
        n = api("GET", "/api/orders/%d/notification" % oid)
        if n.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert n.status == 200
    assert n.body == {"order_id": oid, "email": "user%d@test.example" % uid, "status": "sent"}


def test_order_confirmation_email(session, cart):
    token, uid = session
    fill(cart, [(32, 1)])
    r = checkout(token, cart)
    assert r.status == 200, r
    time.sleep(0.075)     # the mail relay is quick
    n = api("GET", "/api/orders/%d/notification" % r.body["order_id"])
    assert n.status == 200 and n.body["status"] == "sent"


def test_fixture_order():
    r = api("GET", "/api/orders/1")
    assert r.status == 200
    assert r.body["total_cents"] == 2411 and r.body["currency"] == "USD"
    assert r.body["items"] == [{"product_id": 1, "qty": 2, "price_cents": 637},
                               {"product_id": 2, "qty": 1, "price_cents": 774}]


def test_unknown_order_is_404():
    assert api("GET", "/api/orders/999999").status == 404
    assert api("GET", "/api/orders/999999/notification").status == 404
