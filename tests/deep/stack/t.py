#!/usr/bin/env python3
"""The deep suite's tests: t.py cart|wish|both. Exit 0 = pass.

Each test makes a known number of requests on a fresh connection each
(urllib), with a 3 s timeout, and fails on any non-200 answer.
"""
import json
import sys
import urllib.request

PORTS = {"cart": 17292, "wish": 17293}


def call(svc, method, item):
    req = urllib.request.Request(f"http://127.0.0.1:{PORTS[svc]}/items/{item}", method=method)
    with urllib.request.urlopen(req, timeout=3) as r:
        return json.load(r)["value"]


def run(svc):
    a = call(svc, "PUT", "apple")
    b = call(svc, "GET", "apple")
    assert a == b, (a, b)


which = sys.argv[1]
try:
    for s in (["cart", "wish"] if which == "both" else [which]):
        run(s)
except Exception as e:  # any failure is the test's failure
    print(f"{which}: {e}", file=sys.stderr)
    sys.exit(1)
