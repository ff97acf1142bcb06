#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""gen-stack.py [--check] - write tools/estate/shop.json, the estate's stack file.

services[] come from the table below (ports 17000-17199, the estate's block);
tests[] from the suite itself: `pytest --collect-only -q tests/` lists one
node id a line (tests/test_cart.py::test_add_item), and each becomes a test
whose cmd runs that one node id. With --check, exit 1 if shop.json differs
(run by make test, so the list cannot go stale).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
P = dict(nginx=17000, frontend=17001, catalog=17002, cart=17003, checkout=17004, payment=17005,
         shipping=17006, orders=17007, recommendation=17008, currency=17009, users=17010,
         notification=17011, postgres=17032, mariadb=17033)
P["redis-cart"] = 17079; P["redis-queue"] = 17080
a = lambda n: "127.0.0.1:%d" % P[n]
PY = "/usr/bin/python3"
def py(name, *args, ready={"http": "/health"}):
    d = {"name": name, "cmd": [PY, "-u", "services/%s.py" % name, "--port", str(P[name])] + list(args),
         "env": {"OTEL_SERVICE_NAME": name}, "port": P[name], "ready": ready,
         "paths": ["services/%s.py" % name, "services/common/*"]}
    return d
svcs = [
 {"name": "postgres", "kind": "database", "cmd": ["bin/postgres.sh", str(P["postgres"])],
  "env": {"OTEL_SERVICE_NAME": "postgres"}, "port": P["postgres"],
  "setup": ["bin/seed-postgres.sh", str(P["postgres"])], "paths": ["bin/postgres.sh", "bin/seed-postgres.sh", "seed/shop-pg.sql"]},
 {"name": "mariadb", "kind": "database", "cmd": ["bin/mariadb.sh", str(P["mariadb"])],
  "env": {"OTEL_SERVICE_NAME": "mariadb"}, "port": P["mariadb"],
  "setup": ["bin/seed-mariadb.sh"], "paths": ["bin/mariadb.sh", "bin/seed-mariadb.sh", "seed/shop-mariadb.sql"]},
 {"name": "redis-cart", "kind": "cache", "cmd": ["bin/redis.sh", "redis-cart", str(P["redis-cart"])],
  "env": {"OTEL_SERVICE_NAME": "redis-cart"}, "port": P["redis-cart"],
  "setup": ["bin/seed-redis.sh", "redis-cart", "seed/redis-cart.txt"], "paths": ["bin/redis.sh", "seed/redis-cart.txt"]},
 {"name": "redis-queue", "kind": "queue", "cmd": ["bin/redis.sh", "redis-queue", str(P["redis-queue"])],
  "env": {"OTEL_SERVICE_NAME": "redis-queue"}, "port": P["redis-queue"],
  "setup": ["bin/seed-redis.sh", "redis-queue", "seed/redis-queue.txt"], "paths": ["bin/redis.sh", "seed/redis-queue.txt"]},
 py("catalog", "--pg", a("postgres")),
 py("cart", "--redis", a("redis-cart")),
 py("users", "--pg", a("postgres"), "--redis", a("redis-cart")),
 py("orders", "--mysql", a("mariadb")),
 py("payment", ready={"grpc": True}),
 py("shipping", ready={"grpc": True}),
 py("currency", ready={"tcp": P["currency"]}),
 py("recommendation", "--catalog", a("catalog")),
 py("notification", "--redis", a("redis-queue")),
 py("checkout", *sum([["--" + n, a(n)] for n in ("cart", "catalog", "shipping", "payment", "orders", "currency")], []) + ["--queue", a("redis-queue")]),
 py("frontend", *sum([["--" + n, a(n)] for n in ("catalog", "cart", "checkout", "recommendation", "currency", "shipping", "users", "orders", "notification")], [])),
 {"name": "nginx", "cmd": ["bin/nginx.sh", str(P["nginx"]), str(P["frontend"])],
  "env": {"OTEL_SERVICE_NAME": "nginx"}, "port": P["nginx"], "ready": {"http": "/static/index.html"},
  "paths": ["bin/nginx.sh", "nginx.conf.in", "static/*"]},
]
TAGS = {"test_gateway": ["nginx"], "test_catalog": ["catalog"], "test_cart": ["cart"],
        "test_users": ["users"], "test_checkout": ["checkout"], "test_grpc": ["grpc"],
        "test_services": ["services"]}


def collect():
    out = subprocess.run([PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "tests/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=True).stdout.decode()
    tests = []
    for line in out.splitlines():
        if "::" not in line:
            continue
        path, name = line.strip().split("::", 1)
        mod = os.path.basename(path)[:-3]
        tests.append({"name": name[len("test_"):] if name.startswith("test_") else name,
                      "cmd": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", line.strip()],
                      "timeout_s": 30, "tags": TAGS.get(mod, [])})
    return tests


tests = collect()
out = {"name": "shop", "services": svcs, "tests": tests}
def dump(o):
    # one service / test per line block, readable diffs
    lines = ['{', '  "name": %s,' % json.dumps(o["name"]), '  "services": [']
    lines += [("    %s" % json.dumps(s)) + ("," if i < len(o["services"]) - 1 else "") for i, s in enumerate(o["services"])]
    lines += ['  ],', '  "tests": [']
    lines += [("    %s" % json.dumps(t)) + ("," if i < len(o["tests"]) - 1 else "") for i, t in enumerate(o["tests"])]
    lines += ['  ]', '}']
    return "\n".join(lines) + "\n"
text = dump(out)
if "--check" in sys.argv:
    same = open("shop.json").read() == text
    print("gen-stack: shop.json is %s" % ("up to date" if same else "STALE (run tools/estate/gen-stack.py)"))
    sys.exit(0 if same else 1)
with open("shop.json", "w") as f:
    f.write(text)
print("gen-stack: wrote shop.json: %d services, %d tests" % (len(svcs), len(tests)))
