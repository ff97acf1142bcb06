#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""check_logs.py WORKDIR [--expected tools/demo/expected.json] [--json OUT]

Ground truth for the demo, without the agent: rebuild the interaction graph
of one run of the demo stack (tools/demo/stack.sh, WORKDIR after `stop`)
from the servers' OWN records of what they received, and compare it with
expected.json (every edge exact, and no extra edge: these logs hold nothing
but the demo's traffic).

  loadgen -> nginx      nginx/access.log (every request nginx served)
  nginx -> frontend     services/frontend.log (access lines), cross-checked
                        with the upstream_status column of nginx's log
  frontend -> catalog   services/catalog.log
  frontend -> cart      services/cart.log
  catalog -> postgres   postgres/pg.log: log_statement=all lines of TCP
                        sessions ("127.0.0.1(port)"; the unix-socket seeding
                        is not TCP), client = application_name; an ERROR
                        line is an error of that backend's last statement
  cart -> redis-server  redis/monitor.log (MONITOR; TCP clients only) for the
                        requests, redis/commandstats.txt (failed_calls +
                        rejected_calls, saved by `stack.sh stop`) for errors

Normalisation is the one faultline uses: HTTP "METHOD /route" with numeric
segments -> {id} and no query; SQL with literals -> ? and whitespace folded;
Redis command name uppercased. Exit 0 on a match, 1 on a mismatch, 2 when
logs are missing.
"""

import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_graph  # noqa: E402


def http_route(method, target):
    path = target.split("?", 1)[0]
    path = "/".join("{id}" if re.fullmatch(r"\d+", s) else s for s in path.split("/"))
    return "%s %s" % (method, path)


_SQL_TOKEN = re.compile(r"""
      (?P<str>[eE]?'(?:[^']|'')*')          # string literal
    | (?P<ident>"(?:[^"]|"")*"|[A-Za-z_][A-Za-z_0-9$]*)   # identifier/keyword
    | (?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
    | (?P<ws>\s+)
    | (?P<other>.)
""", re.X | re.S)


def sql_normalise(sql):
    out = []
    for m in _SQL_TOKEN.finditer(sql.strip()):
        kind = m.lastgroup
        if kind in ("str", "num"):
            out.append("?")
        elif kind == "ws":
            out.append(" ")
        else:
            out.append(m.group())
    return re.sub(r" +", " ", "".join(out)).strip()


class Edges:
    def __init__(self):
        self.e = collections.OrderedDict()

    def add(self, client, server, proto, op, error=False, client_error=False, n=1):
        k = (client, server, proto, op)
        d = self.e.setdefault(k, {"requests": 0, "errors": 0, "client_errors": 0})
        d["requests"] += n
        d["errors"] += int(error) * n
        d["client_errors"] += int(client_error) * n


def need(path):
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def read_nginx(workdir, edges, notes):
    rx = re.compile(r'^(\S+) "(\S+) (\S+)[^"]*" (\d{3}) \S+ upstream=(\S+) upstream_status=(\S+)')
    upstream = collections.Counter()
    with open(need(os.path.join(workdir, "nginx/access.log"))) as f:
        for line in f:
            m = rx.match(line)
            if not m:
                notes.append("nginx access.log: unparsed line: %s" % line.strip())
                continue
            method, target, status = m.group(2), m.group(3), int(m.group(4))
            op = http_route(method, target)
            edges.add("loadgen", "nginx", "http", op, status >= 500, 400 <= status < 500)
            if m.group(5) != "-":
                for us in m.group(6).split(", "):
                    upstream[(op, us)] += 1
    return upstream


def read_service(workdir, name, client, edges):
    rx = re.compile(r"access method=(\S+) path=(\S+) status=(\d{3})")
    seen = collections.Counter()
    with open(need(os.path.join(workdir, "services/%s.log" % name))) as f:
        for line in f:
            m = rx.search(line)
            if not m:
                continue
            status = int(m.group(3))
            op = http_route(m.group(1), m.group(2))
            edges.add(client, name, "http", op, status >= 500, 400 <= status < 500)
            seen[(op, str(status))] += 1
    return seen


def read_postgres(workdir, edges, notes):
    rx = re.compile(r"^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\] (\S*) (\S*): ([A-Z]+):  (.*)$")
    entries = []
    with open(need(os.path.join(workdir, "postgres/pg.log"))) as f:
        for line in f:
            line = line.rstrip("\n")
            m = rx.match(line)
            if m:
                entries.append(list(m.groups()))
            elif line.startswith("\t") and entries:
                entries[-1][4] += "\n" + line[1:]
    last = {}   # backend pid -> (client, op) of its last statement
    for pid, remote, app, level, msg in entries:
        if not remote.startswith("127.0.0.1("):
            continue        # unix socket ([local]) or a server process
        client = app or "?"
        if level == "LOG":
            m = re.match(r"(?:statement|execute [^:]*): (.*)$", msg, re.S)
            if m:
                op = sql_normalise(m.group(1))
                edges.add(client, "postgres", "postgresql", op)
                last[pid] = (client, op)
        elif level in ("ERROR", "FATAL"):
            if pid in last:
                k = last.pop(pid)
                edges.e[k[0], "postgres", "postgresql", k[1]]["errors"] += 1
            else:
                notes.append("postgres: %s without a statement (pid %s): %s" % (level, pid, msg))


def read_redis(workdir, edges, notes):
    rx = re.compile(r'^\d+\.\d+ \[\d+ (\S+)\] "([^"]*)"')
    tcp, other = collections.Counter(), collections.Counter()
    with open(need(os.path.join(workdir, "redis/monitor.log"))) as f:
        for line in f:
            m = rx.match(line)
            if not m:
                continue
            cmd = m.group(2).upper()
            if re.match(r"\d+\.\d+\.\d+\.\d+:\d+$", m.group(1)):
                tcp[cmd] += 1
            else:
                other[cmd] += 1
    stats = {}
    with open(need(os.path.join(workdir, "redis/commandstats.txt"))) as f:
        for line in f:
            m = re.match(r"cmdstat_([^:]+):(.*)", line.strip())
            if m:
                kv = dict(p.split("=", 1) for p in m.group(2).split(","))
                stats[m.group(1).upper()] = kv
    for cmd, n in tcp.items():
        st = stats.get(cmd)
        errors = 0
        if st is None:
            notes.append("redis: %s seen by MONITOR but not in commandstats" % cmd)
        else:
            errors = int(st.get("failed_calls", 0)) + int(st.get("rejected_calls", 0))
            if int(st["calls"]) != n + other[cmd]:
                notes.append("redis: %s: commandstats calls=%s but MONITOR saw %d"
                             % (cmd, st["calls"], n + other[cmd]))
            if errors and other[cmd]:
                notes.append("redis: %s errors may include unix-socket calls" % cmd)
        edges.add("cart", "redis-server", "redis", cmd, n=n)
        edges.e["cart", "redis-server", "redis", cmd]["errors"] = errors


def main():
    ap = argparse.ArgumentParser(description="demo ground truth from server logs")
    ap.add_argument("workdir")
    ap.add_argument("--expected", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "expected.json"))
    ap.add_argument("--json", metavar="OUT", help="write the derived edges as JSON")
    a = ap.parse_args()

    edges, notes = Edges(), []
    try:
        upstream = read_nginx(a.workdir, edges, notes)
        fe = read_service(a.workdir, "frontend", "nginx", edges)
        read_service(a.workdir, "catalog", "frontend", edges)
        read_service(a.workdir, "cart", "frontend", edges)
        read_postgres(a.workdir, edges, notes)
        read_redis(a.workdir, edges, notes)
    except FileNotFoundError as e:
        print("check_logs: missing %s (was the stack started and stopped in %s?)"
              % (e, a.workdir), file=sys.stderr)
        return 2
    if upstream != fe:
        notes.append("nginx's upstream view %s differs from frontend's log %s"
                     % (dict(upstream), dict(fe)))

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"edges": [dict(zip(("client", "server", "protocol", "operation"), k), **v)
                                 for k, v in edges.e.items()]}, f, indent=1)
    for n in notes:
        print("check_logs: note: %s" % n)
    try:
        expected, _ = check_graph.load_file(a.expected, "expected")
    except check_graph.InputError as e:
        print("check_logs: %s" % e, file=sys.stderr)
        return 2
    actual = {k: dict(v) for k, v in edges.e.items()}
    ok = check_graph.compare(expected, actual, strict=True, actual_name="the server logs")
    return 0 if ok and not notes else 1


if __name__ == "__main__":
    sys.exit(main())
