# SPDX-License-Identifier: BSD-2-Clause
"""cart (Redis) through frontend, and directly."""
from conftest import api, fill, http


def test_add_item(cart):
    r = api("POST", "/api/cart/%d/items" % cart, {"product_id": 3, "qty": 2})
    assert r.status == 200
    assert r.body == {"cart_id": cart, "product_id": 3, "qty": 2}


def test_add_item_twice_sums(cart):
    fill(cart, [(4, 1), (4, 3)])
    assert api("GET", "/api/cart/%d" % cart).body["items"] == [{"product_id": 4, "qty": 4}]


def test_add_unknown_product_is_400(cart):
    r = api("POST", "/api/cart/%d/items" % cart, {"product_id": 9999, "qty": 1})
    assert r.status == 400
    assert api("GET", "/api/cart/%d" % cart).body["items"] == []


def test_add_bad_quantity_is_400(cart):
    r = api("POST", "/api/cart/%d/items" % cart, {"product_id": 2, "qty": 0})
    assert r.status == 400
    assert "qty" in r.body["error"]


def test_empty_cart(cart):
    r = api("GET", "/api/cart/%d" % cart)
    assert r.status == 200 and r.body == {"cart_id": cart, "items": []}


def test_clear_cart(cart):
    fill(cart, [(5, 1), (6, 2)])
    r = api("DELETE", "/api/cart/%d" % cart)
    assert r.status == 200 and r.body["deleted"] == 1
    assert api("GET", "/api/cart/%d" % cart).body["items"] == []


def test_fixture_cart():
    r = api("GET", "/api/cart/42")
    assert r.status == 200
    assert r.body["items"] == [{"product_id": 1, "qty": 2}, {"product_id": 5, "qty": 1}]


def test_cart_service_directly(cart):
    r = http("cart", "POST", "/carts/%d/items" % cart, {"product_id": 10, "qty": 4})
    assert r.status == 200
    r = http("cart", "GET", "/carts/%d" % cart)
    assert r.body["items"] == [{"product_id": 10, "qty": 4}]
