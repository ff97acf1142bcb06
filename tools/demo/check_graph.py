#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_graph.py EXPECTED.json GRAPH.json [--strict]

Compare the interaction graph an observer recorded (`gatectl graph -o json`)
with the edges it should have seen (tools/demo/expected.json).

An edge is keyed by (client, server, protocol, operation). Every expected
edge must be present with exactly the expected `requests` and `errors`
(and `client_errors`, when both files have it). Edges in GRAPH that are not
expected are listed as "extra" and fail only with --strict (a node also
carries traffic that is not the demo's). Prints a per-edge table and a
diff; exits 0 if it matches, 1 if not, 2 on unreadable input.

GRAPH may be `{"edges": [...]}` or a bare list of edges. Field names are
looked up leniently so that the checker survives small differences in the
JSON shape: client: client | client.name | client_name | source;
server: server | server.name | server_name | target; protocol: protocol
(postgres/pg -> postgresql); operation: operation | op; counts: requests,
errors, client_errors, either on the edge or in a nested "stats"/"totals"
object. Two entries with the same key (e.g. per window) are summed.
"""

import argparse
import json
import sys

PROTO_ALIASES = {
    "postgres": "postgresql", "pg": "postgresql", "pgsql": "postgresql",
    "resp": "redis", "http/1.1": "http", "http/1.0": "http", "http1": "http",
}
COUNTS = ("requests", "errors", "client_errors")


class InputError(Exception):
    pass


def _name(v):
    if isinstance(v, dict):
        for k in ("name", "service", "service.name", "id"):
            if k in v:
                return str(v[k])
        return None
    return None if v is None else str(v)


def _first(e, keys):
    for k in keys:
        if k in e and e[k] is not None:
            return e[k]
    return None


def _count(e, k):
    v = e.get(k)
    if v is None:
        for sub in ("stats", "totals", "total", "metrics"):
            if isinstance(e.get(sub), dict) and k in e[sub]:
                v = e[sub][k]
                break
    if v is None:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise InputError("edge %r: %s is not a number: %r" % (e, k, v))


def edge_key(e):
    client = _name(_first(e, ("client", "client_name", "client.name", "source", "from")))
    server = _name(_first(e, ("server", "server_name", "server.name", "target", "to")))
    proto = _first(e, ("protocol", "proto", "network.protocol.name"))
    op = _first(e, ("operation", "op", "operation_name"))
    if None in (client, server, proto, op):
        raise InputError("edge without client/server/protocol/operation: %s"
                         % json.dumps(e)[:300])
    proto = str(proto).lower()
    return (client, server, PROTO_ALIASES.get(proto, proto), str(op))


def load_edges(obj, what):
    """{key: {"requests": n, "errors": n, "client_errors": n or None}},
    and the number of duplicate keys that were summed."""
    if isinstance(obj, dict):
        edges = obj.get("edges")
        if edges is None and isinstance(obj.get("graph"), dict):
            edges = obj["graph"].get("edges")
    else:
        edges = obj
    if not isinstance(edges, list):
        raise InputError("%s: no list of edges (expected {\"edges\": [...]} or [...])" % what)
    out, dups = {}, 0
    for e in edges:
        if not isinstance(e, dict):
            raise InputError("%s: an edge is not an object: %r" % (what, e))
        k = edge_key(e)
        c = {n: _count(e, n) for n in COUNTS}
        if c["requests"] is None:
            raise InputError("%s: edge %s has no requests count" % (what, "/".join(k)))
        if k in out:
            dups += 1
            for n in COUNTS:
                if c[n] is not None:
                    out[k][n] = (out[k][n] or 0) + c[n]
        else:
            out[k] = c
    return out, dups


def load_file(path, what):
    try:
        with open(path) as f:
            return load_edges(json.load(f), what)
    except OSError as e:
        raise InputError("%s: %s" % (what, e))
    except ValueError as e:
        raise InputError("%s: %s is not JSON: %s" % (what, path, e))


def fmt_key(k):
    return "%s -> %s  %s  %s" % k


def compare(expected, actual, strict=False, out=sys.stdout, actual_name="graph"):
    """Print the comparison; return True if it passes."""
    ok = True
    rows, diffs = [], []
    for k in expected:  # in the expected file's order
        want = expected[k]
        got = actual.get(k)
        if got is None:
            ok = False
            rows.append(("MISSING", k, want, None))
            diffs.append("- missing edge %s (want requests=%d errors=%d)"
                         % (fmt_key(k), want["requests"], want["errors"] or 0))
            continue
        bad = []
        for n in COUNTS:
            if want[n] is None or got[n] is None:
                continue
            if want[n] != got[n]:
                bad.append("%s: want %d, got %d" % (n, want[n], got[n]))
        if bad:
            ok = False
            rows.append(("DIFF", k, want, got))
            diffs.append("~ %s: %s" % (fmt_key(k), "; ".join(bad)))
        else:
            rows.append(("ok", k, want, got))
    extra = sorted(k for k in actual if k not in expected)
    for k in extra:
        rows.append(("extra", k, None, actual[k]))
        diffs.append("+ extra edge %s (requests=%d errors=%s)"
                     % (fmt_key(k), actual[k]["requests"], actual[k]["errors"]))
    if extra and strict:
        ok = False

    def c(d, n):
        return "-" if d is None or d[n] is None else str(d[n])

    w = max([len(fmt_key(r[1])) for r in rows] + [20])
    out.write("%-7s  %-*s  %13s  %11s  %11s\n" % (
        "", w, "edge (client -> server  protocol  operation)",
        "requests", "errors", "4xx"))
    out.write("%-7s  %-*s  %13s  %11s  %11s\n" % (
        "", w, "", "want/got", "want/got", "want/got"))
    for status, k, want, got in rows:
        out.write("%-7s  %-*s  %13s  %11s  %11s\n" % (
            status, w, fmt_key(k),
            "%s/%s" % (c(want, "requests"), c(got, "requests")),
            "%s/%s" % (c(want, "errors"), c(got, "errors")),
            "%s/%s" % (c(want, "client_errors"), c(got, "client_errors"))))
    n_ok = sum(1 for r in rows if r[0] == "ok")
    out.write("\n%d of %d expected edges match; %d extra edge(s) in %s%s\n" % (
        n_ok, len(expected), len(extra), actual_name,
        " (--strict: extra edges fail)" if strict and extra else ""))
    if diffs:
        out.write("diff (- missing, ~ different counts, + extra):\n")
        for d in diffs:
            out.write("  %s\n" % d)
    out.write("%s\n" % ("MATCH" if ok else "MISMATCH"))
    return ok


def main():
    ap = argparse.ArgumentParser(description="compare a recorded graph with expected edges")
    ap.add_argument("expected")
    ap.add_argument("graph", help="gatectl graph -o json output ('-' for stdin)")
    ap.add_argument("--strict", action="store_true", help="extra edges fail too")
    a = ap.parse_args()
    try:
        expected, _ = load_file(a.expected, "expected")
        if a.graph == "-":
            actual, dups = load_edges(json.load(sys.stdin), "graph")
        else:
            actual, dups = load_file(a.graph, "graph")
    except InputError as e:
        print("check_graph: %s" % e, file=sys.stderr)
        return 2
    if dups:
        print("check_graph: note: %d duplicate edge entries in the graph were summed" % dups)
    return 0 if compare(expected, actual, a.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
