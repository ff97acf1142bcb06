# SPDX-License-Identifier: BSD-2-Clause
"""Fixtures of the estate's integration suite.

Ports come from the stack file (../shop.json) and nothing else; the suite
needs the shop running (tools/estate/estate.py up, or any runner of the
stack file). Data ranges (the traffic generator owns the others):
products 1-100, users 1-20, carts 100000-499999, zip codes 1xxxx-4xxxx.
"""
import http.client as httpclient
import json
import os
import random

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = json.load(open(os.path.join(HERE, "..", "shop.json")))
PORTS = {s["name"]: s["port"] for s in STACK["services"]}
STATE = os.environ.get("STACK_STATE_DIR", "/tmp/faultline-estate-%s" % STACK["name"])
_rng = random.SystemRandom()


class Resp:
    def __init__(self, status, body, raw, headers):
        self.status, self.body, self.raw, self.headers = status, body, raw, headers

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:200])


def http(service, method, path, body=None, headers=None, timeout=10.0):
    """One request to SERVICE (a stack name) on a new connection."""
    if service == "currency":
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(STATE, "tls", "currency.pem"))
        ctx.check_hostname = False
        conn = httpclient.HTTPSConnection("127.0.0.1", PORTS[service], timeout=timeout,
                                           context=ctx)
    else:
        conn = httpclient.HTTPConnection("127.0.0.1", PORTS[service], timeout=timeout)
    hdrs = {"Connection": "close"}
    hdrs.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Resp(r.status, parsed, raw, dict(r.getheaders()))
    finally:
        conn.close()


def api(method, path, body=None, token=None, timeout=10.0):
    """A request through the gateway (nginx)."""
    headers = {"Authorization": "Bearer " + token} if token else None
    return http("nginx", method, path, body, headers, timeout)


def grpc_call(service, method, obj, timeout=5.0, raw=False):
    """(code, response dict (bytes with RAW) or None, details) of one unary
    gRPC call."""
    import grpc
    with grpc.insecure_channel("127.0.0.1:%d" % PORTS[service],
                               options=[("grpc.enable_http_proxy", 0)]) as ch:
        try:
            data = ch.unary_unary("/" + method)(
                obj if raw else json.dumps(obj).encode(), timeout=timeout)
            return 0, data if raw else json.loads(data), ""
        except grpc.RpcError as e:
            return e.code().value[0], None, e.details()


def price(pid):
    """The fixture's price of product PID (seed/shop-pg.sql)."""
    return 500 + (pid * 137) % 9500


def new_cart():
    return _rng.randrange(100000, 499990)   # callers may use the next few ids too


def login(uid=None):
    uid = uid or _rng.randrange(1, 21)
    r = api("POST", "/api/login", {"email": "user%d@test.example" % uid, "password": "pw-%d" % uid})
    assert r.status == 200, r
    return r.body["token"], uid


@pytest.fixture
def session():
    return login()


@pytest.fixture
def cart():
    return new_cart()


def fill(cart_id, items):
    for pid, qty in items:
        r = api("POST", "/api/cart/%d/items" % cart_id, {"product_id": pid, "qty": qty})
        assert r.status == 200, r
