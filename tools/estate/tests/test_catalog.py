# SPDX-License-Identifier: BSD-2-Clause
"""catalog (PostgreSQL) through frontend, and directly."""
from conftest import api, http, price


def test_list_products():
    r = api("GET", "/api/products")
    assert r.status == 200
    ids = [p["id"] for p in r.body["products"]]
    assert ids == list(range(1, 21))


def test_list_by_category():
    r = api("GET", "/api/products?category=books")
    assert r.status == 200
    prods = r.body["products"]
    assert [p["id"] for p in prods] == list(range(1, 100, 5))
    assert all(p["category"] == "books" for p in prods)


def test_get_product():
    r = api("GET", "/api/products/7")
    assert r.status == 200
    want = {"id": 7, "sku": "SKU-00007", "name": "Product 7", "category": "games",
            "price_cents": price(7), "stock": 1000000}
    assert {k: r.body.get(k) for k in want} == want


def test_unknown_product_is_404():
    r = api("GET", "/api/products/9999")
    assert r.status == 404
    assert "9999" in r.body["error"]


def test_catalog_service_directly():
    r = http("catalog", "GET", "/products/1")
    assert r.status == 200 and r.body["price_cents"] == price(1)


def test_browse_many_products():
    for pid in range(21, 61):
        r = api("GET", "/api/products/%d" % pid)
        assert r.status == 200 and r.body["price_cents"] == price(pid), pid


def test_product_price_in_eur():
    r = api("GET", "/api/products/8?currency=EUR")
    assert r.status == 200
    assert r.body["price"] == {"amount_cents": round(price(8) * 0.92), "currency": "EUR"}


def test_product_price_in_gbp():
    r = api("GET", "/api/products/9?currency=GBP")
    assert r.status == 200
    assert r.body["price"] == {"amount_cents": round(price(9) * 0.79), "currency": "GBP"}


def test_out_of_stock_product_is_listed():
    r = api("GET", "/api/products/13")
    assert r.status == 200 and r.body["stock"] == 0
