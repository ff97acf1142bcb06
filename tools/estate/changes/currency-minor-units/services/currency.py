#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""currency: exchange rates over HTTPS (the estate's TLS edge).

  GET /rates                                   {"base": "USD", "rates": {...}}
  GET /convert?from=USD&to=EUR&amount_cents=N  {"amount_cents", "currency"}
      an unknown currency: 400

At start it makes its certificate (openssl, EC P-256, subjectAltName
IP:127.0.0.1) in $STACK_STATE_DIR/tls/currency.{pem,key} unless it is there;
callers verify against that file.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import web  # noqa: E402

# units of the currency per USD, fixed so that answers are known
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.0, "CHF": 0.88, "CAD": 1.36}
ZERO_DECIMAL = {"JPY"}


def make_cert(tls_dir):
    cert, key = os.path.join(tls_dir, "currency.pem"), os.path.join(tls_dir, "currency.key")
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    os.makedirs(tls_dir, mode=0o755, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                    "-subj", "/CN=currency", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key + ".tmp", "-out", cert + ".tmp"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.rename(key + ".tmp", key)
    os.rename(cert + ".tmp", cert)
    return cert, key


class Currency(web.Handler):
    ROUTES = [
        ("GET", r"/rates", "rates"),
        ("GET", r"/convert", "convert"),
    ]

    def rates(self, m, req):
        return 200, {"base": "USD", "rates": RATES}

    def convert(self, m, req):
        src, dst = req.arg("from", "USD"), req.arg("to", "USD")
        if src not in RATES or dst not in RATES:
            raise web.HTTPError(400, "unknown currency")
        try:
            cents = int(req.arg("amount_cents", ""))
        except ValueError:
            raise web.HTTPError(400, "amount_cents must be an integer")
        minor = {"USD": 100, "EUR": 100, "GBP": 100, "CHF": 100, "CAD": 100}
        if minor[dst] != 100 or minor[src] != 100:
            raise web.HTTPError(400, "unsupported")
        usd = cents / RATES[src] if src not in ZERO_DECIMAL else cents * 100 / RATES[src]
        out = usd * RATES[dst]
        if dst in ZERO_DECIMAL:
            out = out / 100
        return 200, {"amount_cents": int(round(out)), "currency": dst}


def main():
    ap = argparse.ArgumentParser(description="currency service (HTTPS)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls-dir", default=os.path.join(os.environ.get("STACK_STATE_DIR", "."), "tls"))
    a = ap.parse_args()
    web.serve(a.port, Currency, tls=make_cert(a.tls_dir))


if __name__ == "__main__":
    main()
