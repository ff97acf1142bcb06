#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""gen.py [--check] - write the change corpus from the baseline services.

Each change is a directory changes/ID/ holding replacement files at their
paths in tools/estate (changes/ID/services/cart.py replaces
services/cart.py), and one line in changes/labels.json. The replacement
files are made here from the baseline by exact text edits (each `old` must
occur exactly once), so the corpus follows the services when they change;
--check exits 1 if the files on disk differ from what this would write.

Label fields: id, services (the changed ones), kind (breaking | benign |
prod-only), boundary ({client, server, protocol, operation} as faultline's
agent names them, or null), why; a batch change (two services, each part
benign alone) also has "parts": the ids of its halves.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def B(client, server, protocol, operation):
    return {"client": client, "server": server, "protocol": protocol, "operation": operation}


PG_GET = "SELECT id, sku, name, category, price_cents, stock FROM products WHERE id = ?"

CHANGES = [
    # ---- breaking at a boundary -------------------------------------------------------
    ("catalog-price-renamed", "breaking", B("checkout", "catalog", "http", "GET /products/{id}"),
     "catalog renames price_cents to price in its product JSON; its own handler is consistent, "
     "but checkout (and frontend's currency conversion) read price_cents: KeyError, 500",
     {"services/catalog.py": [
         ('return dict(zip(("id", "sku", "name", "category", "price_cents", "stock"), row))',
          'return dict(zip(("id", "sku", "name", "category", "price", "stock"), row))')]}),
    ("users-session-id-renamed", "breaking", B("frontend", "users", "http", "GET /session"),
     "users answers GET /session with {id, ...} instead of {user_id, ...}; frontend reads "
     "user_id for checkout and my orders: KeyError, 500",
     {"services/users.py": [
         ('return {"user_id": rows[0][0], "email": rows[0][1], "name": rows[0][2]}',
          'return {"id": rows[0][0], "email": rows[0][1], "name": rows[0][2]}')]}),
    ("catalog-column-renamed", "breaking",
     B("catalog", "postgres", "postgresql",
       "SELECT id, sku, name, category, price AS price_cents, stock FROM products WHERE id = ?"),
     "catalog queries a column price that the schema does not have (a migration not applied): "
     "42703 from PostgreSQL on every product page",
     {"services/catalog.py": [
         ('rows = self.pg.query("SELECT " + COLS + " FROM products WHERE id = %s",',
          'rows = self.pg.query("SELECT id, sku, name, category, price AS price_cents, stock "\n'
          '                             "FROM products WHERE id = %s",')]}),
    ("orders-dropped-table", "breaking",
     B("orders", "mariadb", "mysql",
       "SELECT product_id, qty, price_cents FROM order_lines WHERE order_id = ? ORDER BY product_id"),
     "orders reads items from order_lines, a table that does not exist in MariaDB (1146)",
     {"services/orders.py": [
         ('"SELECT product_id, qty, price_cents FROM order_items "\n'
          '                              "WHERE order_id = %s ORDER BY product_id"',
          '"SELECT product_id, qty, price_cents FROM order_lines "\n'
          '                              "WHERE order_id = %s ORDER BY product_id"')]}),
    ("cart-json-string", "breaking", B("cart", "redis-cart", "redis", "GET"),
     "cart now stores a cart as one JSON string (GET/SET) but carts already in Redis are "
     "hashes (the fixture cart 42): WRONGTYPE",
     {"services/cart.py": [
         ('''        total = self.r.cmd("HINCRBY", key, str(pid), qty)
        self.r.cmd("EXPIRE", key, TTL_S)''',
          '''        cur = json.loads(self.r.cmd("GET", key) or "{}")
        cur[str(pid)] = cur.get(str(pid), 0) + qty
        total = cur[str(pid)]
        self.r.cmd("SET", key, json.dumps(cur), "EX", TTL_S)'''),
         ('''        h = self.r.cmd("HGETALL", "cart:%s" % m.group(1))''',
          '''        h = json.loads(self.r.cmd("GET", "cart:%s" % m.group(1)) or "{}")'''),
         ("import argparse\n", "import argparse\nimport json\n")]}),
    ("checkout-queue-hash", "breaking", B("checkout", "redis-queue", "redis", "HSET"),
     "checkout writes the notification into a hash (HSET notifications ...) where the worker "
     "pops a list: the worker never sees it (a BRPOP issued then gets WRONGTYPE), no e-mail "
     "is ever sent",
     {"services/checkout.py": [
         ('''        self.queue.cmd("LPUSH", "notifications", json.dumps(''',
          '''        self.queue.cmd("HSET", "notifications", str(order["order_id"]), json.dumps(''')]}),
    ("payment-method-renamed", "breaking", B("checkout", "payment", "grpc", "shop.v1.Payment/Charge"),
     "payment renames its gRPC method Charge to ChargeCard; checkout still calls Charge: "
     "UNIMPLEMENTED (12), every checkout fails",
     {"services/payment.py": [
         ('{"Charge": charge}', '{"ChargeCard": charge}')]}),
    ("payment-declined-code", "breaking", B("checkout", "payment", "grpc", "shop.v1.Payment/Charge"),
     "payment signals a declined card with PERMISSION_DENIED (7) instead of "
     "FAILED_PRECONDITION (9); checkout maps only 9 to 402, so declines become 502",
     {"services/payment.py": [
         ('rpc.fail(context, grpc.StatusCode.FAILED_PRECONDITION, "card declined")',
          'rpc.fail(context, grpc.StatusCode.PERMISSION_DENIED, "card declined")')]}),
    ("checkout-quote-timeout", "breaking", B("checkout", "shipping", "grpc", "shop.v1.Shipping/GetQuote"),
     "checkout calls GetQuote with a 100 ms deadline, below the carrier lookup's 20-240 ms: "
     "DEADLINE_EXCEEDED on most checkouts",
     {"services/checkout.py": [
         ('''                             {"zip": zipc, "items": n_items})''',
          '''                             {"zip": zipc, "items": n_items}, timeout=0.1)''')]}),
    ("catalog-list-unbounded", "breaking", B("frontend", "catalog", "http", "GET /products"),
     "catalog drops LIMIT 20 from the product list (a doubled page size in config): the "
     "response grows 10x and callers that page by 20 get every product",
     {"services/catalog.py": [
         ('rows = self.pg.query("SELECT " + COLS + " FROM products ORDER BY id LIMIT 20")',
          'rows = self.pg.query("SELECT " + COLS + " FROM products ORDER BY id")')]}),
    ("frontend-drops-session-header", "breaking", B("frontend", "users", "http", "GET /session"),
     "frontend forwards the session as Authorization instead of X-Session-Token, which users "
     "requires: 400 for every logged-in request",
     {"services/frontend.py": [
         ('headers={"X-Session-Token": auth[7:]})',
          'headers={"Authorization": auth})')]}),
    ("checkout-fraud-dependency", "breaking", B("checkout", "127.0.0.1:17150", "tcp", "connect"),
     "checkout asks a new fraud service at 127.0.0.1:17150 before charging; it is not in the "
     "stack: connection refused, every checkout 502",
     {"services/checkout.py": [
         ('''        try:
            pay = rpc.call(''',
          '''        web.expect("127.0.0.1:17150", "POST", "/score", {"amount_cents": total})
        try:
            pay = rpc.call(''')]}),
    ("cart-qty-string", "breaking", B("checkout", "cart", "http", "GET /carts/{id}"),
     "cart returns quantities as strings (\"2\"); checkout compares them with the stock: "
     "TypeError, 500",
     {"services/cart.py": [
         ('items = [{"product_id": int(k), "qty": int(v)} for k, v in sorted(',
          'items = [{"product_id": int(k), "qty": v} for k, v in sorted(')]}),
    ("orders-id-renamed", "breaking", B("checkout", "orders", "http", "POST /orders"),
     "orders answers POST /orders with {id} instead of {order_id}; checkout reads order_id "
     "after the card was charged: KeyError, 500",
     {"services/orders.py": [
         ('return 200, {"order_id": oid}', 'return 200, {"id": oid}')]}),
    ("currency-rates-list", "breaking", B("frontend", "currency", "http", "GET /rates"),
     "currency answers /rates with a list of {code, rate} instead of a map; the public API "
     "passes it on and its clients read rates[CODE]",
     {"services/currency.py": [
         ('return 200, {"base": "USD", "rates": RATES}',
          'return 200, {"base": "USD", "rates": [{"code": k, "rate": v} for k, v in RATES.items()]}')]}),
    ("users-login-retry", "breaking",
     B("users", "postgres", "postgresql", "SELECT id, salt, password_hash FROM users WHERE email = ?"),
     "users re-reads the account after a successful login (a 'retry to be safe'): twice the "
     "queries to PostgreSQL per login; no test fails, the edge's rate doubles",
     {"services/users.py": [
         ('''        token = secrets.token_hex(16)''',
          '''        rows = self.pg.query("SELECT id, salt, password_hash FROM users WHERE email = %s",
                             (email,))
        token = secrets.token_hex(16)''')]}),
    ("recommendation-no-cache", "breaking", B("recommendation", "catalog", "http", "GET /products"),
     "recommendation drops its category cache: every recommendation costs a product-list "
     "query; no test fails, catalog's list load multiplies",
     {"services/recommendation.py": [
         ('            if hit and hit[0] > time.monotonic():\n                return hit[1]\n', '')]}),
    # ---- benign ---------------------------------------------------------------------------
    ("catalog-refactor", "benign", None, "catalog: the row-to-dict helper renamed and the column "
     "list built from one tuple; same queries, same JSON",
     {"services/catalog.py": [
         ('''def product(row):
    return dict(zip(("id", "sku", "name", "category", "price_cents", "stock"), row))''',
          '''FIELDS = tuple(c.strip() for c in COLS.split(","))


def as_product(row):
    """A products row as the JSON object callers get."""
    return dict(zip(FIELDS, row))


product = as_product'''),
     ]}),
    ("cart-log-line", "benign", None, "cart logs one line per item added",
     {"services/cart.py": [
         ('''        self.r.cmd("EXPIRE", key, TTL_S)''',
          '''        self.r.cmd("EXPIRE", key, TTL_S)
        calls.info("cart %s: product %d now x%d", m.group(1), pid, int(total))'''),
         ("from common import db, web  # noqa: E402", "from common import calls, db, web  # noqa: E402")]}),
    ("frontend-rename-locals", "benign", None, "frontend: local variables renamed",
     {"services/frontend.py": [
         ('''        st, prod = self._pass("catalog", "GET", "/products/%s" % m.group(1))
        cur = req.arg("currency", "USD")
        if st == 200 and cur != "USD":
            conv = web.expect(self.p["currency"], "GET", "/convert?from=USD&to=%s&amount_cents=%d"
                              % (cur, prod["price_cents"]), cafile=self.p["currency_ca"])
            prod["price"] = {"amount_cents": conv["amount_cents"], "currency": cur}
        return st, prod''',
          '''        status, product = self._pass("catalog", "GET", "/products/%s" % m.group(1))
        wanted = req.arg("currency", "USD")
        if status == 200 and wanted != "USD":
            converted = web.expect(self.p["currency"], "GET",
                                   "/convert?from=USD&to=%s&amount_cents=%d"
                                   % (wanted, product["price_cents"]), cafile=self.p["currency_ca"])
            product["price"] = {"amount_cents": converted["amount_cents"], "currency": wanted}
        return status, product''')]}),
    ("orders-created-field", "benign", None,
     "orders adds the creation time to GET /orders/{id} (nobody reads it yet)",
     {"services/orders.py": [
         ('''        order["items"] = [''',
          '''        order["created"] = self.my.query("SELECT created FROM orders WHERE id = %s",
                                         (oid,))[0][0].isoformat()
        order["items"] = [''')]}),
    ("catalog-faster-query", "benign", None,
     "catalog's product lookup says LIMIT 1 on the primary key: the same rows, a new statement text",
     {"services/catalog.py": [
         ('rows = self.pg.query("SELECT " + COLS + " FROM products WHERE id = %s",',
          'rows = self.pg.query("SELECT " + COLS + " FROM products WHERE id = %s LIMIT 1",')]}),
    ("payment-docs", "benign", None, "payment: docstring and comments only",
     {"services/payment.py": [
         ('def charge(req, context):\n',
          'def charge(req, context):\n    """Charge a card. The payment id is a stable hash of the order, the amount and\n'
          '    the card\'s last digits, so a retried charge gets the same id."""\n')]}),
    ("shipping-rate-table", "benign", None,
     "shipping computes the same prices from a zone table instead of a formula",
     {"services/shipping.py": [
         ('''    zone = int(z[0])
    return {"cost_cents": 499 + 100 * zone + 50 * (items - 1), "days": 2 + zone // 3}''',
          '''    zone = int(z[0])
    base = {n: 499 + 100 * n for n in range(10)}[zone]
    return {"cost_cents": base + 50 * (items - 1), "days": [2, 2, 2, 3, 3, 3, 4, 4, 4, 5][zone]}''')]}),
    ("users-hash-helper", "benign", None, "users: the password check moved into a helper",
     {"services/users.py": [
         ('''        if not rows or pw_hash(rows[0][1], password) != rows[0][2]:''',
          '''        if not rows or not check_password(rows[0], password):'''),
         ('''class Users(web.Handler):''',
          '''def check_password(row, password):
    """ROW is (id, salt, password_hash)."""
    return pw_hash(row[1], password) == row[2]


class Users(web.Handler):''')]}),
    ("recommendation-longer-ttl", "benign", None, "recommendation caches categories for 60 s, not 30",
     {"services/recommendation.py": [("CACHE_TTL_S = 30.0", "CACHE_TTL_S = 60.0")]}),
    ("checkout-item-count", "benign", None,
     "checkout adds the number of items to its answer (nobody reads it)",
     {"services/checkout.py": [
         ('''                     "tracking": ship["tracking"]}''',
          '''                     "tracking": ship["tracking"], "items": n_items}''')]}),
    # ---- batch halves (each benign alone) -------------------------------------------------
    ("checkout-payment-retry", "benign", None,
     "checkout gives Charge 0.5 s per attempt and retries a deadline twice: payment answers in "
     "ms, so alone nothing changes",
     {"services/checkout.py": [
         ("PAYMENT_TIMEOUT_S = 3.0", "PAYMENT_TIMEOUT_S = 0.5\nPAYMENT_ATTEMPTS = 3"),
         ('''        try:
            pay = rpc.call(p["payment"], "shop.v1.Payment/Charge",
                           {"order_ref": "cart-%d" % cart_id, "amount_cents": total,
                            "currency": currency, "card": card}, timeout=PAYMENT_TIMEOUT_S)
        except rpc.RpcError as e:''',
          '''        try:
            for attempt in range(PAYMENT_ATTEMPTS):
                try:
                    pay = rpc.call(p["payment"], "shop.v1.Payment/Charge",
                                   {"order_ref": "cart-%d" % cart_id, "amount_cents": total,
                                    "currency": currency, "card": card},
                                   timeout=PAYMENT_TIMEOUT_S)
                    break
                except rpc.RpcError as e:
                    if e.code != 4 or attempt == PAYMENT_ATTEMPTS - 1:
                        raise
        except rpc.RpcError as e:''')]}),
    ("payment-fraud-check", "benign", None,
     "payment runs a 0.6 s fraud check before charging: slower, but far inside checkout's 3 s "
     "deadline, so alone nothing fails",
     {"services/payment.py": [
         ('''    ref = "%s:%d:%s" % (req.get("order_ref", ""), amount, card[-4:])''',
          '''    time.sleep(0.6)     # the fraud check
    ref = "%s:%d:%s" % (req.get("order_ref", ""), amount, card[-4:])'''),
         ("import sys\n", "import sys\nimport time\n")]}),
    ("catalog-price-display", "benign", None,
     "catalog adds a display price (\"12.34 USD\") to each product (nobody reads it yet)",
     {"services/catalog.py": [
         ('''def product(row):
    return dict(zip(("id", "sku", "name", "category", "price_cents", "stock"), row))''',
          '''def product(row):
    p = dict(zip(("id", "sku", "name", "category", "price_cents", "stock"), row))
    p["price"] = "%d.%02d USD" % divmod(p["price_cents"], 100)
    return p''')]}),
    ("checkout-prefers-price", "benign", None,
     "checkout reads a product's price from a decimal 'price' field when there is one, else "
     "from price_cents; catalog has no 'price', so alone nothing changes",
     {"services/checkout.py": [
         ('''            lines.append({"product_id": prod["id"], "qty": item["qty"],
                          "price_cents": prod["price_cents"]})
            subtotal += prod["price_cents"] * item["qty"]''',
          '''            cents = (int(round(float(prod["price"]) * 100)) if "price" in prod
                     else prod["price_cents"])
            lines.append({"product_id": prod["id"], "qty": item["qty"], "price_cents": cents})
            subtotal += cents * item["qty"]''')]}),
    # ---- prod-only: every test passes, production traffic fails ------------------------------
    ("catalog-archive-ids", "prod-only",
     B("catalog", "postgres", "postgresql",
       "SELECT id, sku, name, category, price_cents, stock FROM products_archive WHERE id = ?"),
     "catalog looks products 101-999 up in products_archive (not there): 42P01 only for "
     "the traffic's ids 101-200; the suite uses 1-100 (and 9999 for a 404)",
     {"services/catalog.py": [
         ('''        rows = self.pg.query("SELECT " + COLS + " FROM products WHERE id = %s",
                             (int(m.group(1)),))''',
          '''        pid = int(m.group(1))
        table = "products_archive" if 100 < pid < 1000 else "products"
        rows = self.pg.query("SELECT " + COLS + " FROM " + table + " WHERE id = %s", (pid,))''')]}),
    ("users-email-length", "prod-only", B("frontend", "users", "http", "POST /login"),
     "users rejects e-mail addresses whose local part is longer than 8 characters (400): the "
     "suite's user5@test.example logs in, the traffic's shopper1042@prod.example cannot",
     {"services/users.py": [
         ('''        email, password = str(body.get("email", "")), str(body.get("password", ""))''',
          '''        email, password = str(body.get("email", "")), str(body.get("password", ""))
        if len(email.split("@")[0]) > 8:
            raise web.HTTPError(400, "invalid e-mail address")''')]}),
    ("currency-minor-units", "prod-only", B("frontend", "currency", "http", "GET /convert"),
     "currency looks minor units up in a table without JPY: 500 for yen only; the suite "
     "converts to EUR and GBP, the traffic to JPY too",
     {"services/currency.py": [
         ('''        usd = cents / RATES[src]''',
          '''        minor = {"USD": 100, "EUR": 100, "GBP": 100, "CHF": 100, "CAD": 100}
        if minor[dst] != 100 or minor[src] != 100:
            raise web.HTTPError(400, "unsupported")
        usd = cents / RATES[src]''')]}),
    ("catalog-serialised", "prod-only", B("frontend", "catalog", "http", "GET /products/{id}"),
     "catalog runs every query under one lock with a 250 ms connection check: one at a time "
     "it passes, at the traffic's concurrency requests queue past the 5 s timeouts",
     {"services/catalog.py": [
         ('''class Catalog(web.Handler):
    pg = None''',
          '''class Catalog(web.Handler):
    pg = None
    lock = threading.Lock()

    def handle_one_request(self):
        with self.lock:
            time.sleep(0.25)   # the connection check
            super().handle_one_request()'''),
         ("import sys\n", "import sys\nimport threading\nimport time\n")]}),
    ("cart-qty-cap", "prod-only", B("frontend", "cart", "http", "POST /carts/{id}/items"),
     "cart caps a line at 4 items (400 above); the suite adds at most 4, the traffic up to 5",
     {"services/cart.py": [("if qty < 1 or qty > 99:", "if qty < 1 or qty > 4:"),
                           ('"qty must be 1..99"', '"qty must be 1..4"')]}),
    ("checkout-zip-regions", "prod-only", B("frontend", "checkout", "http", "POST /checkout"),
     "checkout maps zip codes to a region from a table that has only 1-4: 500 for the "
     "traffic's 5xxxx-9xxxx; the suite ships to 1xxxx-4xxxx",
     {"services/checkout.py": [
         ('''        n_items = sum(i["qty"] for i in lines)''',
          '''        n_items = sum(i["qty"] for i in lines)
        region = {"1": "east", "2": "east", "3": "central", "4": "central"}[zipc[:1] or "1"]
        if region not in ("east", "central"):
            raise web.HTTPError(400, "no shipping to %s" % zipc)''')]}),
]

# batch cases: two halves, each benign alone, breaking together
BATCHES = [
    ("batch-retry-slow-payment", ["checkout-payment-retry", "payment-fraud-check"],
     B("checkout", "payment", "grpc", "shop.v1.Payment/Charge"),
     "checkout's 0.5 s per-attempt deadline with retries meets payment's 0.6 s fraud check: "
     "every attempt hits DEADLINE_EXCEEDED (each retry charges again), checkout 502"),
    ("batch-price-display", ["catalog-price-display", "checkout-prefers-price"],
     B("checkout", "catalog", "http", "GET /products/{id}"),
     "checkout now finds catalog's new 'price' and parses \"12.34 USD\" as a number: "
     "ValueError, every checkout 500"),
]


def apply(path, edits):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    for old, new in edits:
        n = text.count(old)
        if n != 1:
            raise SystemExit("gen.py: %s: %r occurs %d times" % (path, old[:60], n))
        text = text.replace(old, new)
    return text


def build():
    files, labels = {}, []
    by_id = {}
    for cid, kind, boundary, why, edits in CHANGES:
        by_id[cid] = edits
        for path, e in edits.items():
            files[os.path.join(cid, path)] = apply(path, e)
        labels.append({"id": cid, "services": sorted(os.path.basename(p)[:-3] for p in edits),
                       "kind": kind, "boundary": boundary, "why": why})
    for cid, parts, boundary, why in BATCHES:
        merged = {}
        for part in parts:
            for path, e in by_id[part].items():
                merged.setdefault(path, []).extend(e)
        for path, e in merged.items():
            files[os.path.join(cid, path)] = apply(path, e)
        labels.append({"id": cid, "services": sorted(os.path.basename(p)[:-3] for p in merged),
                       "kind": "breaking", "boundary": boundary, "why": why, "parts": parts})
    files["labels.json"] = "[\n" + ",\n".join(json.dumps(x) for x in labels) + "\n]\n"
    return files


def main():
    files = build()
    if "--check" in sys.argv:
        bad = [p for p, t in files.items() if not os.path.exists(os.path.join(HERE, p))
               or open(os.path.join(HERE, p)).read() != t]
        print("gen.py: corpus %s" % ("up to date" if not bad else "STALE: %s" % ", ".join(bad)))
        return 1 if bad else 0
    for p, t in files.items():
        full = os.path.join(HERE, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(t)
    labels = json.loads(files["labels.json"])
    kinds = {}
    for x in labels:
        kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
    print("gen.py: %d changes (%s)" % (len(labels), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
