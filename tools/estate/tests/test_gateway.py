# SPDX-License-Identifier: BSD-2-Clause
"""nginx: static files and the /api/ proxy; every service's /health."""
from conftest import PORTS, STACK, api, grpc_call, http


def test_static_index():
    r = api("GET", "/static/index.html")
    assert r.status == 200
    assert b"<html" in r.raw.lower()


def test_static_missing_is_404():
    assert api("GET", "/static/nope.css").status == 404


def test_unknown_api_route_is_404():
    r = api("GET", "/api/nope")
    assert r.status == 404
    assert r.body == {"error": "no such route"}


def test_every_service_is_healthy():
    for s in STACK["services"]:
        ready = s.get("ready", {})
        if "grpc" in ready:
            code, resp, _ = grpc_call(s["name"], "grpc.health.v1.Health/Check", b"", raw=True)
            assert (code, resp) == (0, b"\x08\x01"), s["name"]   # SERVING
        elif s.get("kind", "service") == "service" and s["name"] != "nginx":
            r = http(s["name"], "GET", "/health")
            assert r.status == 200 and r.body["status"] == "ok", s["name"]
    assert len(PORTS) >= 16
