#!/usr/bin/env python3
"""Stores built for the judge: one scenario each, written into a schema-6
store that mkfixture created (lib/store.c), with real histogram blobs
(lib/hist.h's encoding, reimplemented here and checked by the suite).

usage: verify_fixture.py STORE SCENARIO

Times: the deploy is at D = 2026-11-21T06:00:30Z (mid-window, so the
window [06:00, 06:01) is on neither side). The baseline hour is
[05:00, 06:00), the after window [06:01, 06:11): ten 1-minute intervals.
Agent flush records every 5 s from 04:55 to 06:20 on node n1, unless the
scenario says otherwise.

Every scenario has a gate run (id 1, changed [{service: S}]) and
predictions; see SCENARIOS below for what each edge does.
"""
import json
import sqlite3
import sys

W0 = 1795237200            # 05:00:00Z
D_NS = (W0 + 3600 + 30) * 10**9
AFTER = W0 + 3660          # 06:01:00Z
MS = 10**6


def hist_index(v):
    if v < 32:
        return v
    msb = v.bit_length() - 1
    sub = (v >> (msb - 5)) & 31
    return (msb - 5 + 1) * 32 + sub


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def blob(samples):
    """samples: {ns: count} -> lib/hist.h blob"""
    bins = {}
    for ns, n in samples.items():
        i = hist_index(ns)
        bins[i] = bins.get(i, 0) + n
    out, prev = bytearray([1]), 0
    for i in sorted(bins):
        out += varint(i - prev) + varint(bins[i])
        prev = i + 1
    return bytes(out)


class Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.svc = {}
        self.edges = {}

    def service(self, name, kind="service"):
        if name not in self.svc:
            cur = self.db.execute(
                "INSERT INTO services(name, kind, first_seen_ns, last_seen_ns) "
                "VALUES (?, ?, ?, ?)", (name, kind, W0 * 10**9, (W0 + 4000) * 10**9))
            self.svc[name] = cur.lastrowid
        return self.svc[name]

    def edge(self, client, server, op, proto="http"):
        c, s = self.service(client), self.service(server)
        cur = self.db.execute(
            "INSERT INTO edges(client_id, server_id, protocol, operation, "
            "first_seen_ns, last_seen_ns) VALUES (?, ?, ?, ?, ?, ?)",
            (c, s, proto, op, W0 * 10**9, (W0 + 4000) * 10**9))
        self.edges[(client, server, op)] = cur.lastrowid
        return cur.lastrowid

    def window(self, edge, start, req, err, samples=None, status_err="503"):
        self.db.execute(
            "INSERT INTO edge_windows(edge_id, source, window_start, width_s, "
            "requests, errors, latency_hist) VALUES (?, 'ebpf', ?, 60, ?, ?, ?)",
            (edge, start, req, err, blob(samples) if samples else None))
        if req - err:
            self.db.execute(
                "INSERT INTO edge_window_statuses VALUES (?, 'ebpf', ?, 60, '200', ?, 0)",
                (edge, start, req - err))
        if err:
            self.db.execute(
                "INSERT INTO edge_window_statuses VALUES (?, 'ebpf', ?, 60, ?, ?, ?)",
                (edge, start, status_err, err, err))

    def flushes(self, lo=W0 - 300, hi=W0 + 4800, skip=None, lost=None,
                node="n1", start_ns=(W0 - 400) * 10**9):
        for t in range(lo, hi, 5):
            if skip and skip[0] <= t < skip[1]:
                continue
            n = lost(t) if lost else 0
            self.db.execute(
                "INSERT INTO agent_flushes VALUES (?, 'ebpf', ?, ?, 5, 60, ?)",
                (node, t * 10**9, start_ns, n))

    def gate(self, service, preds, verdict="pass", gid=1):
        self.db.execute(
            "INSERT INTO gate_runs(id, stack, changed, verdict, started_ns, ended_ns) "
            "VALUES (?, 'shop', ?, ?, ?, ?)",
            (gid, json.dumps([{"service": service, "cmd": "./new"}]), verdict,
             (W0 + 1800) * 10**9, (W0 + 1830) * 10**9))
        for pr in preds:
            client, server, op, expected = pr[:4]
            proto = pr[4] if len(pr) > 4 else "http"
            self.db.execute(
                "INSERT INTO predictions(gate_run_id, client, server, protocol, "
                "operation, expected, evidence, confidence) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, 0.9)",
                (gid, client, server, proto, op, expected,
                 json.dumps({"tests": ["t1"], "requests": 40, "errors": 0})))

    def deploy(self, service, gate=1):
        self.db.execute(
            "INSERT INTO deployments(service, old_version, new_version, at_ns, "
            "node, source, gate_run_id) VALUES (?, 'v1', 'v2', ?, 'n1', 'ci', ?)",
            (service, D_NS, gate))

    def footprint(self, client, server, op, status="200"):
        self.db.execute(
            "INSERT INTO test_runs(id, kind, stack, versions, started_ns, ended_ns) "
            "VALUES (1, 'learn', 'shop', '{}', ?, ?) ON CONFLICT DO NOTHING",
            (W0 * 10**9, W0 * 10**9 + 10))
        self.db.execute(
            "INSERT INTO test_results(run_id, test, result, duration_ns, exit_code) "
            "VALUES (1, 't1', 'pass', 2000000000, 0) ON CONFLICT DO NOTHING")
        self.db.execute(
            "INSERT INTO footprints(run_id, test, client, server, protocol, "
            "operation, status, requests, errors) VALUES (1, 't1', ?, ?, 'http', ?, ?, 4, 0)",
            (client, server, op, status))


def minutes(lo, n):
    return [lo + 60 * i for i in range(n)]


def steady(st, e, req=100, err=0, lat=None, after_err=None, after_lat=None,
           after_req=None):
    """a baseline hour and eleven minutes after (incl. the deploy's minute)"""
    for m in minutes(W0, 60):
        st.window(e, m, req, err, lat)
    for k, m in enumerate(minutes(W0 + 3600, 11)):
        r = after_req(k) if after_req else req
        x = after_err(k) if after_err else err
        if r:
            st.window(e, m, r, x, after_lat(k) if after_lat else lat)


LAT = {5 * MS: 40, 6 * MS: 40, 7 * MS: 20}          # narrow, median ~6 ms
WIDE = {2 * MS: 20, 3 * MS: 10, 6 * MS: 40, 12 * MS: 10, 20 * MS: 20}  # same median, wider


def scenario(st, name):
    if name == "zero":       # zero-error baseline, two errors a minute after
        e = st.edge("web", "zero", "GET /a")
        steady(st, e, after_err=lambda k: 2 if k else 0)   # k 0 is the deploy minute
        st.gate("zero", [("web", "zero", "GET /a", "healthy")])
        st.deploy("zero")
        st.flushes()
    elif name == "sparse":   # 3 errors an hour before; one every other minute after
        e = st.edge("web", "sparse", "GET /s")
        err_at = {2, 4, 6, 8, 10}
        base = {m: (1 if i in (10, 30, 50) else 0) for i, m in enumerate(minutes(W0, 60))}
        for m in minutes(W0, 60):
            st.window(e, m, 100, base[m])
        for k, m in enumerate(minutes(W0 + 3600, 11)):
            st.window(e, m, 100, 1 if k in err_at else 0)
        st.footprint("web", "sparse", "GET /s")    # covered: a miss, not a blind spot
        st.gate("sparse", [("web", "sparse", "GET /s", "healthy")])
        st.deploy("sparse")
        st.flushes()
    elif name == "spread":   # same median, wider after: only the spread check sees it
        e = st.edge("web", "spread", "GET /p")
        steady(st, e, lat=LAT, after_lat=lambda k: WIDE)
        st.gate("spread", [("web", "spread", "GET /p", "healthy")])
        st.deploy("spread")
        st.flushes()
    elif name == "quiet":    # traffic before, none after
        e = st.edge("web", "quiet", "GET /q")
        steady(st, e, after_req=lambda k: 0)
        st.gate("quiet", [("web", "quiet", "GET /q", "healthy")])
        st.deploy("quiet")
        st.flushes()
    elif name == "gap":      # healthy traffic; the agent's flushes stop 06:04-06:06
        e = st.edge("web", "gapsvc", "GET /g")
        steady(st, e)
        st.gate("gapsvc", [("web", "gapsvc", "GET /g", "healthy")])
        st.deploy("gapsvc")
        st.flushes(skip=(W0 + 3840, W0 + 3960))
    elif name == "ok":       # healthy; a thin edge too few to judge; a wrong alarm
        e = st.edge("web", "ok", "GET /o")
        steady(st, e, lat=LAT)
        thin = st.edge("ok", "pg", "SELECT ?", "postgresql")
        steady(st, thin, req=3)
        fixed = st.edge("ok", "redis", "GET", "redis")
        steady(st, fixed, req=50)
        st.gate("ok", [("web", "ok", "GET /o", "healthy"),
                       ("ok", "pg", "SELECT ?", "healthy", "postgresql"),
                       ("ok", "redis", "GET", "errors", "redis")], verdict="fail")
        st.deploy("ok")
        st.flushes()
    elif name == "drops":    # healthy traffic; the agent loses 120 events at 06:03:30
        e = st.edge("web", "dropsvc", "GET /d")
        steady(st, e)
        st.gate("dropsvc", [("web", "dropsvc", "GET /d", "healthy")])
        st.deploy("dropsvc")
        st.flushes(lost=lambda t: 120 if t >= W0 + 3810 else 0)
    elif name == "noagent":  # no flush records after 06:02: the agent is gone
        e = st.edge("web", "gone", "GET /x")
        steady(st, e)
        st.gate("gone", [("web", "gone", "GET /x", "healthy")])
        st.deploy("gone")
        st.flushes(hi=W0 + 3780)
    else:
        sys.exit("unknown scenario " + name)


if __name__ == "__main__":
    store = Store(sys.argv[1])
    scenario(store, sys.argv[2])
    store.db.commit()
