# SPDX-License-Identifier: BSD-2-Clause
"""Compare the call-path links of a store with tools/demo/expected.json.

Usage: check_links.py EXPECTED.json STORE.db
Prints one line per link (ok / MISSING / WRONG / EXTRA) and exits 1 on any
difference: links are exact, like edges.
"""
import json
import sqlite3
import sys

SQL = """
SELECT pc.name, ps.name, p.protocol, p.operation,
       cc.name, cs.name, c.protocol, c.operation, l.method, sum(l.count)
FROM path_links l
JOIN edges p ON p.id = l.parent_edge_id JOIN edges c ON c.id = l.child_edge_id
JOIN services pc ON pc.id = p.client_id JOIN services ps ON ps.id = p.server_id
JOIN services cc ON cc.id = c.client_id JOIN services cs ON cs.id = c.server_id
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""


def key(parent, child, method):
    f = ("client", "server", "protocol", "operation")
    return tuple(parent[k] for k in f) + tuple(child[k] for k in f) + (method,)


def main():
    expected = {key(l["parent"], l["child"], l["method"]): l["count"]
                for l in json.load(open(sys.argv[1]))["links"]}
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
    actual = {tuple(r[:9]): r[9] for r in db.execute(SQL)}
    bad = 0
    for k in sorted(set(expected) | set(actual)):
        want, got = expected.get(k), actual.get(k)
        what = "ok" if want == got else "MISSING" if got is None else \
            "EXTRA" if want is None else "WRONG"
        bad += what != "ok"
        print("%-8s %s -> %s -> %s %s  %s: %s/%s" % (
            what, k[0], k[1], k[5], k[7], k[8], got, want))
    print("%d of %d expected links match; %d difference(s)"
          % (len(expected) - sum(1 for k in expected if actual.get(k) != expected[k]),
             len(expected), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
