# SPDX-License-Identifier: BSD-2-Clause
"""recommendation, currency (TLS), notification, and the data stores."""
import os

from conftest import PORTS, STATE, api, http, price


def test_recommendations_same_category():
    r = api("GET", "/api/products/6/recommendations")
    assert r.status == 200
    assert r.body == {"product_id": 6, "recommendations": [1, 11, 16, 21]}


def test_recommendations_unknown_product_is_404():
    assert api("GET", "/api/products/9999/recommendations").status == 404


def test_recommendation_service_directly():
    r = http("recommendation", "GET", "/recommendations/2")
    assert r.status == 200 and r.body["recommendations"] == [7, 12, 17, 22]


def test_recommendations_are_stable():
    first = api("GET", "/api/products/3/recommendations").body
    for _ in range(10):
        assert api("GET", "/api/products/3/recommendations").body == first


def test_recommendations_for_every_category():
    for pid in range(41, 46):
        r = api("GET", "/api/products/%d/recommendations" % pid)
        assert r.status == 200
        assert all((i - pid) % 5 == 0 and i != pid for i in r.body["recommendations"])


def test_currencies():
    r = api("GET", "/api/currencies")
    assert r.status == 200
    assert r.body["base"] == "USD" and r.body["rates"]["EUR"] == 0.92


def test_currency_over_tls_directly():
    r = http("currency", "GET", "/convert?from=USD&to=GBP&amount_cents=10000")
    assert r.status == 200 and r.body == {"amount_cents": 7900, "currency": "GBP"}


def test_currency_unknown_is_400():
    r = http("currency", "GET", "/convert?from=USD&to=XXX&amount_cents=100")
    assert r.status == 400


def test_currency_certificate_is_made_at_start():
    assert os.path.getsize(os.path.join(STATE, "tls", "currency.pem")) > 0


def test_notification_unknown_is_404():
    r = http("notification", "GET", "/notifications/888888")
    assert r.status == 404


def test_notification_stats():
    r = http("notification", "GET", "/stats")
    assert r.status == 200 and r.body["sent"] >= 0


def test_postgres_fixture():
    import psycopg2
    with psycopg2.connect(host="127.0.0.1", port=PORTS["postgres"], dbname="shop",
                          user="postgres", sslmode="disable") as c:
        with c.cursor() as cur:
            cur.execute("SELECT count(*), sum(price_cents) FROM products WHERE id <= 100")
            n, total = cur.fetchone()
    c.close()
    assert n == 100 and total == sum(price(i) for i in range(1, 101))


def test_mariadb_fixture():
    import pymysql
    c = pymysql.connect(host="127.0.0.1", port=PORTS["mariadb"], user="shop", password="shop",
                        database="shop")
    try:
        with c.cursor() as cur:
            cur.execute("SELECT id, total_cents FROM orders WHERE id <= 3 ORDER BY id")
            rows = cur.fetchall()
    finally:
        c.close()
    assert rows == ((1, 2411), (2, 1290), (3, 999))
