#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_truth.py - the estate's graph from its own logs, compared with the
agent's.

    check_truth.py --state DIR --since NS --until NS [--stack FILE]
                   [--calls FILE]... [--loadgen-json FILE]
                   [--graph GRAPH.json] [--expected-out FILE]

Ground truth without the agent: every service logs each request it makes
(a CALL line, services/common/calls.py: client, peer, protocol, operation,
status), loadgen.py --calls does the same, and nginx's access log
(STATE/nginx/access.log) has each request it proxied with the upstream's
address and status. Requests that started at or after --since and ended at
or before --until (CLOCK_REALTIME ns) are summed per edge (client, server
name from the stack's ports, protocol, operation) into requests, errors
(HTTP 5xx, gRPC != 0, SQL error, Redis error reply) and client_errors (HTTP
4xx).

With --graph (`gatectl graph -o json` of an agent that ran over the window)
every expected edge must be there with exactly those counts, and every edge
between the stack's services (or from loadgen) must be expected: an extra
edge fails too. With --loadgen-json, loadgen's own per-route counts must
equal its edges to nginx. Exit 0 match, 1 mismatch, 2 bad input.
"""

import argparse
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "services"))
sys.path.insert(0, os.path.join(HERE, "..", "demo"))
from common.calls import http_route  # noqa: E402
import check_graph  # noqa: E402  (tools/demo: the per-edge comparison table)

NGINX = re.compile(r'^(\d+\.\d+) (\d+\.\d+) \S+ "(\S+) (\S+) [^"]*" \d+ '
                   r'upstream=(\S+) upstream_status=(\S+)')


def load_calls(paths, since, until):
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            for line in f:
                if not line.startswith("CALL "):
                    continue
                try:
                    c = json.loads(line[5:])
                except ValueError:
                    continue
                if c["t0"] >= since and c["t1"] <= until:
                    out.append(c)
    return out


def load_nginx(path, since, until, name="nginx"):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = NGINX.match(line)
            if not m or m.group(5) == "-":
                continue
            end = int(round(float(m.group(1)) * 1e9))
            start = end - int(round(float(m.group(2)) * 1e9))
            # nginx's clock is in ms: widen by 1 ms so a request that really
            # started at --since is not dropped
            if start + 1000000 < since or end - 1000000 > until:
                continue
            st = m.group(6).split(",")[-1].strip()
            code = int(st) if st.isdigit() else 0
            out.append({"client": name, "peer": m.group(5).split(",")[-1].strip(),
                        "proto": "http", "op": http_route(m.group(3), m.group(4)),
                        "status": st, "err": 1 if code >= 500 or code == 0 else
                        4 if code >= 400 else 0})
    return out


def expected_edges(calls, ports):
    edges = {}
    for c in calls:
        port = int(c["peer"].rsplit(":", 1)[1])
        server = ports.get(port, c["peer"])
        key = (c["client"], server, c["proto"], c["op"])
        e = edges.setdefault(key, {"requests": 0, "errors": 0, "client_errors": 0})
        if c["proto"] == "tcp":           # a refused connect: not a request
            e["errors"] += 1
            continue
        e["requests"] += 1
        if c["err"] == 1:
            e["errors"] += 1
        elif c["err"] == 4:
            e["client_errors"] += 1
    return edges


def main():
    ap = argparse.ArgumentParser(description="the estate's graph from its own logs")
    ap.add_argument("--stack", default=os.path.join(HERE, "shop.json"))
    ap.add_argument("--state", required=True)
    ap.add_argument("--since", type=int, required=True, help="CLOCK_REALTIME ns")
    ap.add_argument("--until", type=int, required=True, help="CLOCK_REALTIME ns")
    ap.add_argument("--calls", action="append", default=[], help="more CALL files (loadgen's)")
    ap.add_argument("--loadgen-json")
    ap.add_argument("--graph")
    ap.add_argument("--expected-out", help="write the expected edges as JSON")
    a = ap.parse_args()
    with open(a.stack) as f:
        stack = json.load(f)
    ports = {s["port"]: s["name"] for s in stack["services"]}
    names = set(ports.values()) | {"loadgen"}
    files = sorted(glob.glob(os.path.join(a.state, "logs", "*.log"))) + a.calls
    calls = load_calls(files, a.since, a.until)
    calls += load_nginx(os.path.join(a.state, "nginx", "access.log"), a.since, a.until)
    calls = [c for c in calls if c["proto"] != "tcp"]
    exp = expected_edges(calls, ports)
    if a.expected_out:
        with open(a.expected_out, "w") as f:
            json.dump({"edges": [dict(zip(("client", "server", "protocol", "operation"), k), **v)
                                 for k, v in sorted(exp.items())]}, f, indent=1)
    print("check_truth: %d requests on %d edges in the logs between the marks" % (
        sum(e["requests"] for e in exp.values()), len(exp)))
    ok = True
    if a.loadgen_json:
        with open(a.loadgen_json) as f:
            lg = json.load(f)
        mine = {k[3]: v["requests"] for k, v in exp.items() if k[0] == "loadgen"}
        theirs = {r: v["requests"] for r, v in lg["operations"].items()}
        if mine != theirs:
            ok = False
            print("check_truth: loadgen's summary and its CALL lines differ: %s vs %s" % (
                theirs, mine))
        else:
            print("check_truth: loadgen's %d requests on %d routes are all in the logs" % (
                sum(theirs.values()), len(theirs)))
    if a.graph:
        try:
            with open(a.graph) as f:
                actual, _ = check_graph.load_edges(json.load(f), "graph")
        except (OSError, ValueError, check_graph.InputError) as e:
            print("check_truth: %s" % e, file=sys.stderr)
            return 2
        ours = {k: v for k, v in actual.items() if k[0] in names or k[1] in names}
        foreign = len(actual) - len(ours)
        if foreign:
            print("check_truth: %d edge(s) between processes outside the stack ignored" % foreign)
        ok = check_graph.compare(exp, ours, strict=True, actual_name="the agent's graph") and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
