#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gatectl end to end: builds fixture stores with tests/gate/mkfixture.c
# (lib/store.c schema, lib/hist.c encodings), runs graph/paths/scope/
# health/blindspots in table and json, and asserts exact values and exit codes.
#
#   make build/gatectl && tests/gate/run.sh      (from the repo root)
#
# Prints one line per check and a final "gatectl: N passed, N failed";
# exits 1 when a check failed. GATECTL=path overrides the binary.
# ok/fail always return 0, so `cond && ok ... || fail ...` is an if-else:
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 2

GATECTL=${GATECTL:-build/gatectl}
PY=/usr/bin/python3
CC=${CC:-cc}
passed=0
failed=0

if [ ! -x "$GATECTL" ]; then
	echo "run.sh: $GATECTL not built (run 'make build/gatectl')" >&2
	echo "gatectl: 0 passed, 1 failed"
	exit 1
fi
work=$(mktemp -d /tmp/gatectl-test.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'
	return 0
}

# gc ARGS...: run gatectl; sets OUT, ERR, RC
gc() {
	OUT=$(timeout 20 "$GATECTL" "$@" 2>"$work/stderr")
	RC=$?
	ERR=$(cat "$work/stderr")
}

# rc NAME WANT ARGS...: gatectl exits WANT
rc() {
	local name=$1 want=$2
	shift 2
	gc "$@"
	if [ "$RC" -eq "$want" ]; then ok "$name"; else
		fail "$name" "exit $RC, want $want; stderr: $ERR"; fi
}

# err_is NAME WANT_STDERR: the last run's stderr is exactly WANT_STDERR
err_is() {
	if [ "$ERR" = "$2" ]; then ok "$1"; else
		fail "$1" "stderr: '$ERR'"$'\n'"want:   '$2'"; fi
}

# err_has NAME TEXT: the last run's stderr contains TEXT, on one line
err_has() {
	if [[ "$ERR" == *"$2"* ]] && [ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ]; then
		ok "$1"; else fail "$1" "stderr: '$ERR'"; fi
}

# js NAME PYTHON: assertions on the last run's stdout parsed as JSON (doc)
js() {
	local msg
	printf '%s' "$OUT" >"$work/out.json"
	if msg=$("$PY" "$work/check.py" "$work/out.json" "$2" 2>&1); then
		ok "$1"; else fail "$1" "$msg"; fi
}

# same NAME FILE: the last run's stdout is exactly FILE's content
same() {
	local d
	if d=$(diff -u "$2" <(printf '%s\n' "$OUT")); then ok "$1"; else fail "$1" "$d"; fi
}

cat >"$work/check.py" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    doc = json.load(f)

def eq(got, want, what):
    if got != want:
        raise SystemExit(f"{what}: got {got!r}, want {want!r}")

def edge(client, server, op):
    hits = [e for e in doc["edges"]
            if (e["client"], e["server"], e["operation"]) == (client, server, op)]
    if len(hits) != 1:
        raise SystemExit(f"edge {client} -> {server} {op!r}: {len(hits)} found")
    return hits[0]

def keys(e):
    return [(x["client"], x["server"], x["protocol"], x["operation"]) for x in e]

exec(sys.argv[2])
PY

# ---- fixtures ----------------------------------------------------------

if ! $CC -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	-Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -ljansson -lm -o "$work/mkfixture" 2>"$work/cc.err"; then
	fail "build mkfixture" "$(cat "$work/cc.err")"
	echo "gatectl: $passed passed, $failed failed"
	exit 1
fi
DB=$work/graph.db
"$work/mkfixture" "$DB" <tests/gate/graph.spec || { fail "fixture graph.db"; exit 1; }
RECENT=$work/recent.db
"$work/mkfixture" "$RECENT" <<'EOF' || fail "fixture recent.db"
service a service
service b service
edge a b http 0 0 GET /recent
edge a b http 0 0 GET /old
window 1 now-600 10 0 0 0 1000000*10
window 2 now-10800 7 0 0 0 1000000*7
EOF
BADBLOB=$work/badblob.db
"$work/mkfixture" "$BADBLOB" <<'EOF' || fail "fixture badblob.db"
service a service
service b service
edge a b http 0 0 GET /
window 1 1795237200 5 0 0 0 1000000*5
blob 1 1795237260 0205
EOF
BLIND=$work/blind.db
"$work/mkfixture" "$BLIND" <tests/gate/blindspots.spec || fail "fixture blind.db"
ZERO=$work/zero.db
"$work/mkfixture" "$ZERO" <<'EOF' || fail "fixture zero.db"
counter events 5 1795237200000000000
counter ringbuf_drops 0 1795237200000000000
counter store_errors 0 1795237200999000000
EOF
OTEL=$work/otel.db
"$work/mkfixture" "$OTEL" <<'EOF' || fail "fixture otel.db"
service web service
service api service
service pg database
service my database
service cache cache
service cart service
service 10.0.0.9:443 external
service [2001:db8::1]:8443 external
service payments external
service 10.0.0.7 external
edge web api http 0 0 GET /users/{id}
edge web api http 0 0 GET {overflow}
edge web api http 0 0 _OTHER {overflow}
edge web api http 0 0 OPTIONS *
edge api pg postgresql 0 0 select * from t where id = ?
edge api pg postgresql 0 0 (SELECT ?) UNION (SELECT ?)
edge api pg postgresql 0 0
edge api my mysql 0 0 UPDATE t SET a = ? WHERE id = ?
edge api cache redis 0 0 HSET
edge web cart grpc 0 0 shop.v1.Cart/AddItem
edge web 10.0.0.9:443 http 0 0 POST /pay
edge web [2001:db8::1]:8443 grpc 0 0 /pkg.Svc/Do
edge web payments tcp 0 0 connect
edge web 10.0.0.7 tcp 0 0 connect
window 1 1795237200 1 0 0 0
window 2 1795237200 1 0 0 0
window 3 1795237200 1 0 0 0
window 4 1795237200 1 0 0 0
window 5 1795237200 1 0 0 0
window 6 1795237200 1 0 0 0
window 7 1795237200 1 0 0 0
window 8 1795237200 1 0 0 0
window 9 1795237200 1 0 0 0
window 10 1795237200 1 0 0 0
window 11 1795237200 1 0 0 0
window 12 1795237200 1 0 0 0
window 13 1795237200 0 0 0 1
window 14 1795237200 0 0 0 1
EOF
OTHER=$work/other.db
sqlite3 "$OTHER" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
echo "just some text, not a database at all" >"$work/text.db"
: >"$work/empty.db"
sum_before=$(sha256sum "$DB" | cut -d' ' -f1)

H0=2026-11-21T05:00:00Z	# the "before" hour of the fixture
H1=2026-11-21T06:00:00Z	# the "after" hour
H2=2026-11-21T07:00:00Z

# ---- graph -------------------------------------------------------------

rc "graph json, all windows: exit 0" 0 --db "$DB" graph -o json
js "graph json, all windows: services and edges, sorted" '
eq([s["name"] for s in doc["services"]],
   ["10.0.0.9:443", "api", "auth", "batch", "gw", "idle", "pg", "redis", "web"], "services")
eq({s["name"]: s["kind"] for s in doc["services"]}["pg"], "database", "pg kind")
eq({s["name"]: s["kind"] for s in doc["services"]}["redis"], "cache", "redis kind")
eq({s["name"]: s["kind"] for s in doc["services"]}["10.0.0.9:443"], "external", "ext kind")
eq(len(doc["edges"]), 10, "edge count")
eq(keys(doc["edges"]), sorted(keys(doc["edges"])), "edge order")
eq(doc["edges"][0]["operation"], "", "empty operation kept in json")
eq(doc["since"], None, "since"); eq(doc["until"], None, "until")'
js "graph json: attributes after the existing keys, on every edge" '
e = edge("web", "api", "GET /users/{id}")
eq(list(e.keys())[:15], ["client", "server", "protocol", "operation", "requests",
   "errors", "client_errors", "conn_errors", "error_rate", "p50_ms", "p90_ms", "p99_ms",
   "first_seen", "last_seen", "tls"], "existing keys first, unchanged")
eq(all(isinstance(x["attributes"], dict) for x in doc["edges"]), True, "attributes everywhere")
eq(e["attributes"], {"http.request.method": "GET", "http.route": "/users/{id}"}, "http")
eq(edge("api", "pg", "SELECT * FROM users WHERE id = ?")["attributes"],
   {"db.system": "postgresql", "db.operation.name": "SELECT",
    "db.query.text": "SELECT * FROM users WHERE id = ?"}, "postgresql")
eq(edge("api", "redis", "GET")["attributes"], {"db.system": "redis", "db.operation.name": "GET"}, "redis")
eq(edge("api", "10.0.0.9:443", "")["attributes"],
   {"server.address": "10.0.0.9", "server.port": 443}, "tcp to an address")'
js "graph json, all windows: web -> api GET /users/{id} exact" '
e = edge("web", "api", "GET /users/{id}")
eq(e["protocol"], "http", "protocol")
eq(e["requests"], 200, "requests"); eq(e["errors"], 11, "errors")
eq(e["client_errors"], 3, "client_errors"); eq(e["conn_errors"], 0, "conn_errors")
eq(e["error_rate"], 0.055, "error_rate")
eq(e["p50_ms"], 1.008, "p50"); eq(e["p90_ms"], 1.008, "p90"); eq(e["p99_ms"], 2.982, "p99")
eq(e["first_seen"], "2026-11-21T05:00:00.000Z", "first_seen")
eq(e["last_seen"], "2026-11-21T06:01:00.999Z", "last_seen")
eq(list(e.keys())[:10], ["client", "server", "protocol", "operation", "requests",
   "errors", "client_errors", "conn_errors", "error_rate", "p50_ms"], "key order")'
js "graph json, all windows: quantiles, nulls, conn errors" '
e = edge("api", "pg", "SELECT * FROM users WHERE id = ?")
eq((e["requests"], e["p50_ms"], e["p90_ms"], e["p99_ms"]), (400, 1.008, 1.008, 5.046), "api->pg")
e = edge("api", "redis", "GET")
eq((e["requests"], e["p50_ms"], e["p99_ms"]), (102, 0.099, 0.099), "api->redis")
e = edge("batch", "pg", "INSERT INTO jobs (id, payload, created_at, owner, state, priority) VALUES (?, ?, ?, ?, ?, ?)")
eq((e["requests"], e["errors"], e["conn_errors"], e["error_rate"]), (30, 3, 2, 0.1), "batch->pg counts")
eq((e["p50_ms"], e["p90_ms"], e["p99_ms"]), (None, None, None), "no latency -> null")
e = edge("api", "10.0.0.9:443", "")
eq((e["requests"], e["errors"], e["conn_errors"], e["error_rate"]), (4, 4, 4, 1.0), "refused")
e = edge("gw", "web", "GET /")
eq((e["p50_ms"], e["last_seen"]), (2.015, "2026-11-21T06:01:00.123Z"), "gw->web")
e = edge("web", "api", "POST /orders")
eq((e["requests"], e["error_rate"], e["first_seen"]), (8, 0.125, "2026-11-21T05:00:01.500Z"), "orders")'

rc "graph json, OpenTelemetry fixture: exit 0" 0 --db "$OTEL" graph -o json
js "graph json: OpenTelemetry attributes per protocol, exact" '
a = {(x["client"], x["server"], x["operation"]): x["attributes"] for x in doc["edges"]}
eq(len(a), 14, "edges")
want = {
 ("web", "api", "GET /users/{id}"): {"http.request.method": "GET", "http.route": "/users/{id}"},
 ("web", "api", "GET {overflow}"): {"http.request.method": "GET"},
 ("web", "api", "_OTHER {overflow}"): {"http.request.method": "_OTHER"},
 ("web", "api", "OPTIONS *"): {"http.request.method": "OPTIONS", "http.route": "*"},
 ("api", "pg", "select * from t where id = ?"): {"db.system": "postgresql",
   "db.operation.name": "SELECT", "db.query.text": "select * from t where id = ?"},
 ("api", "pg", "(SELECT ?) UNION (SELECT ?)"): {"db.system": "postgresql",
   "db.query.text": "(SELECT ?) UNION (SELECT ?)"},
 ("api", "pg", ""): {"db.system": "postgresql"},
 ("api", "my", "UPDATE t SET a = ? WHERE id = ?"): {"db.system": "mysql",
   "db.operation.name": "UPDATE", "db.query.text": "UPDATE t SET a = ? WHERE id = ?"},
 ("api", "cache", "HSET"): {"db.system": "redis", "db.operation.name": "HSET"},
 ("web", "cart", "shop.v1.Cart/AddItem"): {"rpc.system": "grpc",
   "rpc.service": "shop.v1.Cart", "rpc.method": "AddItem"},
 ("web", "10.0.0.9:443", "POST /pay"): {"http.request.method": "POST", "http.route": "/pay",
   "server.address": "10.0.0.9", "server.port": 443},
 ("web", "[2001:db8::1]:8443", "/pkg.Svc/Do"): {"rpc.system": "grpc", "rpc.service": "pkg.Svc",
   "rpc.method": "Do", "server.address": "2001:db8::1", "server.port": 8443},
 ("web", "payments", "connect"): {},
 ("web", "10.0.0.7", "connect"): {},
}
for k, v in want.items():
    eq(a.get(k), v, "attributes of %s" % (k,))
for x in a.values():
    for n in ("http.response.status_code", "rpc.grpc.status_code", "db.namespace"):
        eq(n in x, False, n + " (not in the store)")'
rc "graph table, OpenTelemetry fixture: unchanged columns" 0 --db "$OTEL" graph
[ "$(sed -n '/^EDGES/{n;p}' <<<"$OUT")" = "$(printf 'CLIENT  SERVER              PROTO       OPERATION                        REQS  ERRS  ERR%%  P50ms  P99ms  SRC   CONF')" ] &&
	ok "graph table: no attribute column" || fail "graph table: no attribute column" "$OUT"
rc "graph json, one hour: exit 0" 0 --db "$DB" graph --since $H0 --until $H1 -o json
js "graph json, one hour: range filters windows and edges" '
eq(len(doc["edges"]), 9, "edge count (idle->api has no window in range)")
eq("idle" in [s["name"] for s in doc["services"]], False, "idle listed")
e = edge("web", "api", "GET /users/{id}")
eq((e["requests"], e["errors"], e["client_errors"], e["error_rate"]), (100, 1, 3, 0.01), "GET users")
eq((e["p50_ms"], e["p99_ms"]), (1.008, 2.982), "GET users latency")
e = edge("api", "pg", "SELECT * FROM users WHERE id = ?")
eq((e["requests"], e["p99_ms"]), (200, 2.015), "api->pg")
eq(doc["since"], "2026-11-21T05:00:00.000Z", "since"); eq(doc["until"], "2026-11-21T06:00:00.000Z", "until")'

rc "graph --since mid-minute: exit 0" 0 --db "$DB" graph --since 2026-11-21T05:00:30Z --until 2026-11-21T05:01:00Z -o json
js "graph --since is floored to its minute, --until is exclusive" '
eq(edge("web", "api", "GET /users/{id}")["requests"], 60, "only the 05:00 window")
eq((doc["since"], doc["until"]), ("2026-11-21T05:00:00.000Z", "2026-11-21T05:01:00.000Z"), "echo")'
gc --db "$DB" graph --since 2026-11-21T05:00:59.999Z --until 2026-11-21T05:01:00.001Z -o json
js "graph --until just after a window start includes it" '
eq(edge("web", "api", "GET /users/{id}")["requests"], 100, "05:00 and 05:01 windows")'

for t in @1795240800 2026-11-21T07:00:00+01:00 2026-11-21T01:00:00.000-05:00 2026-11-21t06:00:00z; do
	gc --db "$DB" graph --since "$t" --until $H2 -o json
	js "graph --since $t is 06:00Z" '
e = edge("web", "api", "GET /users/{id}")
eq((e["requests"], e["errors"], e["p99_ms"]), (100, 10, 1.008), "after hour")
eq(len(doc["edges"]), 7, "edges in the after hour")'
done

gc --db "$RECENT" graph --since 1h -o json
js "graph --since 1h (relative) keeps the 10-minute-old window only" '
eq(keys(doc["edges"]), [("a", "b", "http", "GET /recent")], "edges")
eq(doc["edges"][0]["requests"], 10, "requests")'
gc --db "$RECENT" graph --since 4h -o json
js "graph --since 4h (relative) keeps both" '
eq([e["requests"] for e in doc["edges"]], [7, 10], "requests (GET /old, GET /recent)")'
gc --db "$RECENT" graph --since 1h30m -o json
js "graph --since 1h30m (compound relative)" 'eq(len(doc["edges"]), 1, "edges")'
gc --db "$RECENT" graph --since 3h --until 2h -o json
js "graph --since 3h --until 2h" '
eq(keys(doc["edges"]), [("a", "b", "http", "GET /old")], "edges")'

rc "graph table: exit 0" 0 --db "$DB" graph --since $H0 --until $H1
cat >"$work/graph.txt" <<'EOF'
SERVICES
NAME          KIND
10.0.0.9:443  external
api           service
auth          service
batch         service
gw            service
pg            database
redis         cache
web           service

EDGES
CLIENT  SERVER        PROTO       OPERATION                                                     REQS  ERRS    ERR%  P50ms  P99ms  SRC   CONF
api     10.0.0.9:443  tcp         -                                                                4     4  100.00      -      -  ebpf  high
api     auth          http        POST /token                                                    100     0    0.00  2.982  2.982  ebpf  high
api     pg            postgresql  SELECT * FROM users WHERE id = ?                               200     0    0.00  1.008  2.015  ebpf  high
api     redis         redis       GET                                                             50     0    0.00  0.099  0.099  ebpf  high
auth    api           http        GET /internal/keys                                              20     0    0.00  1.008  1.008  ebpf  high
batch   pg            postgresql  INSERT INTO jobs (id, payload, created_at, owner, state, pr…    30     3   10.00      -      -  ebpf  high
gw      web           http        GET /                                                          100     0    0.00  2.015  2.015  ebpf  high
web     api           http        GET /users/{id}                                                100     1    1.00  1.008  2.982  ebpf  high
web     api           http        POST /orders                                                     5     0    0.00  5.046  5.046  ebpf  high
EOF
same "graph table: exact text, aligned, long operation cut with …" "$work/graph.txt"

rc "graph dot: exit 0" 0 --db "$DB" graph -o dot
if [[ "$OUT" == "digraph faultline {"* ]] &&
   grep -qF '"pg" [shape=cylinder' <<<"$OUT" &&
   grep -qF '"redis" [shape=box3d' <<<"$OUT" &&
   grep -qF '"10.0.0.9:443" [shape=box, style=dashed]' <<<"$OUT" &&
   grep -qF '"web" -> "api" [label="http 208 req, 12 err", color="#c0392b"];' <<<"$OUT" &&
   grep -qF '"api" -> "pg" [label="postgresql 400 req, 0 err"];' <<<"$OUT" &&
   [ "$(grep -c -- ' -> ' <<<"$OUT")" -eq 9 ] && [ "$(tail -n1 <<<"$OUT")" = "}" ]; then
	ok "graph dot: shapes by kind, one arrow per client/server/protocol"
else
	fail "graph dot: shapes by kind, one arrow per client/server/protocol" "$OUT"
fi
if command -v dot >/dev/null; then
	if printf '%s\n' "$OUT" | dot -Tsvg >/dev/null 2>"$work/dot.err"; then
		ok "graph dot: graphviz accepts it"
	else
		fail "graph dot: graphviz accepts it" "$(cat "$work/dot.err")"
	fi
elif [ "${CI:-}" = true ]; then
	fail "graph dot: graphviz accepts it" "graphviz (dot) is not installed"
else
	echo "skip graph dot: graphviz accepts it (no dot; under CI=true this fails)"
fi

# ---- scope -------------------------------------------------------------

rc "scope --changed api: exit 0" 0 --db "$DB" scope --changed api -o json
js "scope --changed api: services, relations, distances" '
eq(doc["changed"], ["api"], "changed")
got = [(s["name"], s["kind"], s["relation"], s["distance"]) for s in doc["services"]]
eq(got, [("api", "service", "changed", 0), ("auth", "service", "caller", 1),
         ("idle", "service", "caller", 1), ("web", "service", "caller", 1),
         ("gw", "service", "caller", 2), ("10.0.0.9:443", "external", "callee", 1),
         ("pg", "database", "callee", 1), ("redis", "cache", "callee", 1)], "services")'
js "scope --changed api: edges and reasons (auth both calls and is called)" '
got = [(e["client"], e["server"], e["operation"], e["reason"]) for e in doc["edges"]]
eq(got, [("api", "10.0.0.9:443", "", "outbound"),
         ("api", "auth", "POST /token", "outbound"),
         ("api", "pg", "SELECT * FROM users WHERE id = ?", "outbound"),
         ("api", "redis", "GET", "outbound"),
         ("auth", "api", "GET /internal/keys", "inbound"),
         ("gw", "web", "GET /", "upstream"),
         ("idle", "api", "GET /health", "inbound"),
         ("web", "api", "GET /users/{id}", "inbound"),
         ("web", "api", "POST /orders", "inbound")], "edges")
e = edge("web", "api", "GET /users/{id}")
eq((e["requests"], e["errors"], e["protocol"]), (200, 11, "http"), "counts")'

rc "scope --changed pg: exit 0" 0 --db "$DB" scope --changed pg -o json
js "scope --changed pg: transitive callers through the api/auth cycle" '
got = [(s["name"], s["relation"], s["distance"]) for s in doc["services"]]
eq(got, [("pg", "changed", 0), ("api", "caller", 1), ("batch", "caller", 1),
         ("auth", "caller", 2), ("idle", "caller", 2), ("web", "caller", 2),
         ("gw", "caller", 3)], "services")
got = [(e["client"], e["server"], e["reason"]) for e in doc["edges"]]
eq(got, [("api", "auth", "upstream"), ("api", "pg", "inbound"), ("auth", "api", "upstream"),
         ("batch", "pg", "inbound"), ("gw", "web", "upstream"), ("idle", "api", "upstream"),
         ("web", "api", "upstream"), ("web", "api", "upstream")], "edges")'

rc "scope --changed api --changed pg --since: exit 0" 0 --db "$DB" scope --changed api --changed pg --changed api --since $H0 -o json
js "scope two changed services, one range: idle edge gone, reasons by precedence" '
eq(doc["changed"], ["api", "pg"], "changed, deduplicated")
eq((doc["since"], doc["until"]), ("2026-11-21T05:00:00.000Z", None), "range echo")
eq([s["name"] for s in doc["services"] if s["relation"] == "changed"], ["api", "pg"], "changed")
eq("idle" in [s["name"] for s in doc["services"]], False, "idle (no window since 05:00)")
eq(edge("api", "pg", "SELECT * FROM users WHERE id = ?")["reason"], "outbound", "api->pg")
eq(edge("batch", "pg", "INSERT INTO jobs (id, payload, created_at, owner, state, priority) VALUES (?, ?, ?, ?, ?, ?)")["reason"], "inbound", "batch->pg")
eq(edge("batch", "pg", "INSERT INTO jobs (id, payload, created_at, owner, state, priority) VALUES (?, ?, ?, ?, ?, ?)")["requests"], 30, "batch->pg")
eq(len(doc["edges"]), 9, "edges")'

rc "scope --changed redis (a leaf cache)" 0 --db "$DB" scope --changed redis -o json
js "scope --changed redis: its client and everything upstream of it" '
eq([(s["name"], s["relation"], s["distance"]) for s in doc["services"]],
   [("redis", "changed", 0), ("api", "caller", 1), ("auth", "caller", 2), ("idle", "caller", 2),
    ("web", "caller", 2), ("gw", "caller", 3)], "services")
eq(len(doc["edges"]), 7, "edges")'

rc "scope table: exit 0" 0 --db "$DB" scope --changed api
if [ "$(tail -n1 <<<"$OUT")" = "scope: 1 changed, 4 callers, 3 callees; 9 edges (4 outbound, 4 inbound, 1 upstream)" ] &&
   grep -qE '^gw +service +caller +2$' <<<"$OUT" &&
   grep -qE '^gw +web +http +GET / +200 +0 +0\.00 +upstream$' <<<"$OUT"; then
	ok "scope table: rows and summary"
else
	fail "scope table: rows and summary" "$OUT"
fi

# ---- health ------------------------------------------------------------

HR=(--since "$H1" --until "$H2")
rc "health api: regression exits 1" 1 --db "$DB" health --service api "${HR[@]}" -o json
js "health api: windows and verdicts" '
eq((doc["service"], doc["since"], doc["until"], doc["baseline_since"], doc["baseline_until"]),
   ("api", "2026-11-21T06:00:00.000Z", "2026-11-21T07:00:00.000Z",
    "2026-11-21T05:00:00.000Z", "2026-11-21T06:00:00.000Z"), "windows")
eq((doc["verdict"], doc["counts"]), ("regressed", {"ok": 3, "regressed": 2, "nodata": 2}), "overall")
got = [(e["client"], e["server"], e["operation"], e["verdict"], e["reasons"]) for e in doc["edges"]]
eq(got, [("api", "10.0.0.9:443", "", "nodata", ["few_requests_before", "few_requests_after"]),
         ("api", "auth", "POST /token", "ok", []),
         ("api", "pg", "SELECT * FROM users WHERE id = ?", "regressed", ["p99"]),
         ("api", "redis", "GET", "ok", []),
         ("auth", "api", "GET /internal/keys", "ok", []),
         ("web", "api", "GET /users/{id}", "regressed", ["error_rate"]),
         ("web", "api", "POST /orders", "nodata", ["few_requests_before", "few_requests_after"])],
   "edges (idle->api has no window in either range)")'
js "health api: before/after numbers" '
e = edge("web", "api", "GET /users/{id}")
eq(e["before"], {"requests": 100, "errors": 1, "error_rate": 0.01, "p99_ms": 2.982,
   "p50_ms": 1.008, "p90_ms": 1.008}, "before")
eq(e["after"], {"requests": 100, "errors": 10, "error_rate": 0.1, "p99_ms": 1.008,
   "p50_ms": 1.008, "p90_ms": 1.008}, "after")
eq((e["before"]["p50_ms"], e["before"]["p90_ms"]), (1.008, 1.008), "p50/p90 of 50x1ms 10x3ms 40x1ms")
eq((e["error_rate_change"], e["direction"]), (0.09, "inbound"), "change")
e = edge("api", "pg", "SELECT * FROM users WHERE id = ?")
eq((e["before"]["p99_ms"], e["after"]["p99_ms"], e["direction"]), (2.015, 5.046, "outbound"), "p99")
eq(e["p99_ratio"], round(5046272 / 2015232, 6), "p99_ratio")
e = edge("api", "auth", "POST /token")
eq((e["before"]["error_rate"], e["after"]["error_rate"], e["verdict"]), (0.0, 0.01, "ok"),
   "a rise of exactly --max-error-increase is ok")
e = edge("api", "10.0.0.9:443", "")
eq((e["before"]["requests"], e["after"]["requests"], e["after"]["p99_ms"]), (4, 0, None), "nodata")'

rc "health api --max-p99-ratio 3: still 1 (error rate)" 1 --db "$DB" health --service api "${HR[@]}" --max-p99-ratio 3 -o json
js "health api --max-p99-ratio 3: api -> pg ok" '
eq(edge("api", "pg", "SELECT * FROM users WHERE id = ?")["verdict"], "ok", "api->pg")
eq(doc["counts"], {"ok": 4, "regressed": 1, "nodata": 2}, "counts")'
rc "health api --max-p99-ratio 3 --max-error-increase 0.1: ok exits 0" 0 --db "$DB" health --service api "${HR[@]}" --max-p99-ratio 3 --max-error-increase 0.1
rc "health redis: ok exits 0" 0 --db "$DB" health --service redis "${HR[@]}"
rc "health auth: a rise of exactly 0.01 exits 0" 0 --db "$DB" health --service auth "${HR[@]}"
rc "health auth --max-error-increase 0.005: exits 1" 1 --db "$DB" health --service auth "${HR[@]}" --max-error-increase 0.005 -o json
js "health auth --max-error-increase 0.005: the reason" '
eq(edge("api", "auth", "POST /token")["reasons"], ["error_rate"], "reasons")
eq(doc["max_error_increase"], 0.005, "threshold echoed")'
rc "health batch: nodata exits 3" 3 --db "$DB" health --service batch "${HR[@]}" -o json
js "health batch: nodata" '
eq([(e["verdict"], e["reasons"]) for e in doc["edges"]], [("nodata", ["few_requests_after"])], "edges")
eq(doc["verdict"], "nodata", "overall")'
rc "health api --min-requests 1000: every edge nodata exits 3" 3 --db "$DB" health --service api "${HR[@]}" --min-requests 1000
rc "health idle (no edges in range): exits 3" 3 --db "$DB" health --service idle "${HR[@]}" -o json
js "health idle: no edges" 'eq((doc["edges"], doc["verdict"]), ([], "nodata"), "edges")'
rc "health --until mid-hour: baseline has as many windows (none in it: 3)" 3 --db "$DB" health --service api --since $H1 --until 2026-11-21T06:30:30Z -o json
js "health --until mid-hour: baseline_since" '
eq(doc["baseline_since"], "2026-11-21T05:29:00.000Z", "31 windows each side")'
rc "health a --since 30m (relative, recent store): nodata exits 3" 3 --db "$RECENT" health --service a --since 30m -o json
js "health --since 30m: after side counted, before side empty" '
eq([(e["operation"], e["before"]["requests"], e["after"]["requests"]) for e in doc["edges"]],
   [("GET /recent", 0, 10)], "edges")'

rc "health table: exit 1" 1 --db "$DB" health --service api "${HR[@]}"
cat >"$work/health.txt" <<'EOF'
service api: before (B) [2026-11-21T05:00:00.000Z, 2026-11-21T06:00:00.000Z), after (A) [2026-11-21T06:00:00.000Z, 2026-11-21T07:00:00.000Z)

CLIENT  SERVER        PROTO       OPERATION                         B.REQS  A.REQS  B.ERR%  A.ERR%  B.P99ms  A.P99ms  VERDICT    REASONS
api     10.0.0.9:443  tcp         -                                      4       0  100.00    0.00        -        -  nodata     few_requests_before,few_requests_after
api     auth          http        POST /token                          100     100    0.00    1.00    2.982    2.982  ok         -
api     pg            postgresql  SELECT * FROM users WHERE id = ?     200     200    0.00    0.00    2.015    5.046  regressed  p99
api     redis         redis       GET                                   50      52    0.00    0.00    0.099    0.099  ok         -
auth    api           http        GET /internal/keys                    20      20    0.00    0.00    1.008    1.008  ok         -
web     api           http        GET /users/{id}                      100     100    1.00   10.00    2.982    1.008  regressed  error_rate
web     api           http        POST /orders                           5       3    0.00   33.33    5.046    5.046  nodata     few_requests_before,few_requests_after

health: regressed (2 regressed, 3 ok, 2 nodata)
EOF
same "health table: exact text" "$work/health.txt"

# ---- blindspots --------------------------------------------------------

rc "blindspots json: exit 0 (informational)" 0 --db "$BLIND" blindspots -o json
js "blindspots json: keys, updated (max updated_ns), totals" '
eq(list(doc.keys()), ["updated", "totals", "counters", "unresolved_peers", "uncovered_channels",
   "unknown_protocols", "tls_not_decrypted", "never_observed"], "keys")
eq(doc["updated"], "2026-11-21T05:01:02.500Z", "updated")
eq(doc["totals"], {"events": 10000, "records": 900, "data_events": 6000, "bytes_seen": 2000000,
   "bytes_captured": 1900000, "conn_opens": 50, "conns_joined": None, "conn_closes": None,
   "conn_failures": None, "conns_mirrored": None, "conns_inherited": None, "tls_libraries": 2,
   "tls_conns": None, "links_thread": None, "links_traceparent": None,
   "backlog_windows": None, "backlog_windows_peak": None, "bytes_mirrored": None},
   "totals (absent rows: null)")'
js "blindspots json: non-zero counters by group then name, unknown kept last" '
got = [(c["name"], c["value"], c["group"]) for c in doc["counters"]]
eq(got, [("inflight_map_full", 3, "loss"), ("ringbuf_drops", 42, "loss"),
         ("bytes_truncated", 100000, "partial"), ("gap_bytes", 5000, "partial"),
         ("requests_lost", 9, "partial"), ("routes_overflowed", 9, "partial"),
         ("parser_resyncs", 2, "not_understood"), ("tls_attach_failures", 1, "not_understood"),
         ("tls_opaque_conns", 4, "not_understood"), ("unknown_proto_bytes", 1234, "not_understood"),
         ("unknown_proto_conns", 1, "not_understood"),
         ("unresolved_peers", 3, "identity"), ("aaa_future_counter", 7, "other")], "counters")
eq(list(doc["counters"][0].keys()), ["name", "value", "group", "reason", "of", "ratio"], "counter keys")'
js "blindspots json: reasons, shares of totals" '
c = {x["name"]: x for x in doc["counters"]}
eq(c["aaa_future_counter"]["reason"], "unknown counter", "unknown counter reason")
eq((c["aaa_future_counter"]["of"], c["aaa_future_counter"]["ratio"]), (None, None), "unknown: no share")
eq(c["ringbuf_drops"]["reason"], "events lost: ring buffer full", "ringbuf_drops reason")
eq(c["bytes_truncated"]["reason"],
   "payload bytes beyond the per-syscall capture limit (bodies skipped by length)", "truncated reason")
eq((c["bytes_truncated"]["of"], c["bytes_truncated"]["ratio"]), ("bytes_seen", 0.05), "truncated share")
eq((c["ringbuf_drops"]["of"], c["ringbuf_drops"]["ratio"]), ("events", 0.0042), "drops share")
eq((c["requests_lost"]["of"], c["requests_lost"]["ratio"]), ("records", 0.01), "requests_lost share")
eq((c["unknown_proto_bytes"]["of"], c["unknown_proto_bytes"]["ratio"]), ("bytes_seen", 0.000617), "6 decimals")
eq((c["inflight_map_full"]["of"], c["inflight_map_full"]["ratio"]), (None, None), "no share")
eq((c["routes_overflowed"]["of"], c["routes_overflowed"]["ratio"]), ("records", 0.01), "overflow share")
eq(c["routes_overflowed"]["reason"], "requests of HTTP routes over the agent'"'"'s --max-routes per server: "
   "counted as METHOD {overflow}", "overflow reason")
for n in ("conn_map_full", "store_errors", "zzz_future_zero", "events", "bytes_seen", "tls_libraries"):
    eq(n in c, False, n + " listed")'
js "blindspots json: unresolved peers, requests desc then name" '
eq(doc["unresolved_peers"], [
   {"name": "10.0.0.9:443", "requests": 50, "errors": 5, "conn_errors": 1, "requests_from": 0},
   {"name": "10.0.0.10:80", "requests": 4, "errors": 0, "conn_errors": 0, "requests_from": 0},
   {"name": "10.0.0.7:5432", "requests": 4, "errors": 4, "conn_errors": 4, "requests_from": 0},
   {"name": "10.0.0.99:9", "requests": 0, "errors": 0, "conn_errors": 0, "requests_from": 0},
   {"name": "192.168.1.20", "requests": 0, "errors": 0, "conn_errors": 0, "requests_from": 7}],
   "unresolved_peers")'
js "blindspots json: unknown protocols, TLS not decrypted, never observed" '
eq(doc["unknown_protocols"], {"conns": 1, "bytes": 1234, "edges": [{"client": "api", "server": "web",
   "operation": "", "requests": 0, "req_bytes": 1200, "resp_bytes": 800}]}, "unknown_protocols")
eq(doc["tls_not_decrypted"], {"opaque_conns": 4, "attach_failures": 1, "unmapped": None}, "tls")
eq(doc["never_observed"], [{"client": "web", "server": "api", "protocol": "http",
   "operation": "GET /traced", "requests": 5, "sources": [{"source": "trace", "samples": 5,
   "first_seen": "2026-11-21T05:00:00.000Z", "last_seen": "2026-11-21T05:01:00.000Z"}],
   "confidence": "medium"}], "never_observed")'
js "blindspots json: uncovered channels" '
eq([c["channel"] for c in doc["uncovered_channels"]],
   ["unix", "udp", "io_uring", "sendfile", "tls-static", "quic/http3"], "channels")
eq(all(c["description"] and list(c.keys()) == ["channel", "description"]
       for c in doc["uncovered_channels"]), True, "descriptions")'

rc "blindspots table: exit 0" 0 --db "$BLIND" blindspots
cat >"$work/blind.txt" <<'EOF'
COUNTERS
updated  2026-11-21T05:01:02.500Z
totals   events 10000, records 900, data_events 6000, bytes_seen 2000000, bytes_captured 1900000
         conn_opens 50, conns_joined -, conn_closes -, conn_failures -, conns_mirrored -
         conns_inherited -, tls_libraries 2, tls_conns -, links_thread -, links_traceparent -
         backlog_windows -, backlog_windows_peak -, bytes_mirrored -

NAME                 GROUP            VALUE  SHARE                REASON
inflight_map_full    loss                 3  -                    syscalls not seen: in-flight map full
ringbuf_drops        loss                42  0.42% of events      events lost: ring buffer full
bytes_truncated      partial         100000  5.00% of bytes_seen  payload bytes beyond the per-syscall capture limit (bodies skipped by length)
gap_bytes            partial           5000  0.25% of bytes_seen  stream bytes never received (lost events): parsers skipped a gap
requests_lost        partial              9  1.00% of records     requests that made no record: they or their responses fell in a gap, a truncated capture or garbage (e.g. inside a pipelined write)
routes_overflowed    partial              9  1.00% of records     requests of HTTP routes over the agent's --max-routes per server: counted as METHOD {overflow}
parser_resyncs       not_understood       2  -                    times a parser lost framing and resynchronised
tls_attach_failures  not_understood       1  -                    SSL_* uprobes that could not be attached: that TLS traffic stays encrypted
tls_opaque_conns     not_understood       4  -                    TLS connections seen only encrypted: not parsed
unknown_proto_bytes  not_understood    1234  0.06% of bytes_seen  bytes on connections no parser recognised
unknown_proto_conns  not_understood       1  -                    connections no parser recognised
unresolved_peers     identity             3  -                    peers named ADDR:PORT: no local process found (see unresolved peers)
aaa_future_counter   other                7  -                    unknown counter

UNRESOLVED PEERS
NAME           REQS  ERRS  CONN_ERRS  REQS_FROM
10.0.0.9:443     50     5          1          0
10.0.0.10:80      4     0          0          0
10.0.0.7:5432     4     4          4          0
10.0.0.99:9       0     0          0          0
192.168.1.20      0     0          0          7

UNKNOWN PROTOCOLS
connections no parser recognised 1, their bytes 1234
CLIENT  SERVER  OPERATION  REQS  REQ_BYTES  RESP_BYTES
api     web     -             0       1200         800

TLS NOT DECRYPTED
connections seen only encrypted 4, SSL_* uprobes not attached 1, SSL calls without a socket -

NEVER OBSERVED
CLIENT  SERVER  PROTO  OPERATION    REQS  SRC    CONF
web     api     http   GET /traced     5  trace  medium

UNCOVERED CHANNELS
CHANNEL     DESCRIPTION
unix        Unix domain sockets: local IPC over socket files is not traced
udp         UDP, incl. DNS: only TCP connections are traced
io_uring    I/O submitted through io_uring bypasses the syscall tracepoints
sendfile    sendfile/splice bodies: bytes counted (bytes_spliced) and skipped by length, payload never captured
tls-static  TLS in binaries without exported SSL_* symbols (statically linked, Go): stays encrypted
quic/http3  QUIC and HTTP/3 (UDP, encrypted in the transport)
EOF
same "blindspots table: exact text" "$work/blind.txt"
[ "$(grep -cxE 'COUNTERS|UNRESOLVED PEERS|UNKNOWN PROTOCOLS|TLS NOT DECRYPTED|NEVER OBSERVED|UNCOVERED CHANNELS' <<<"$OUT")" -eq 6 ] &&
	ok "blindspots table: six section headers" ||
	fail "blindspots table: six section headers" "$OUT"

rc "blindspots json, store without agent counters (graph fixture): exit 0" 0 --db "$DB" blindspots -o json
js "blindspots json, no agent_counters rows: updated null, empty counters" '
eq((doc["updated"], doc["counters"]), (None, []), "updated, counters")
eq(set(doc["totals"].values()), {None}, "totals all null")
eq(list(doc["totals"].keys())[:4], ["events", "records", "data_events", "bytes_seen"], "totals keys")
eq(doc["unresolved_peers"], [{"name": "10.0.0.9:443", "requests": 4, "errors": 4,
   "conn_errors": 4, "requests_from": 0}], "the graph fixture external service")
eq(len(doc["uncovered_channels"]), 6, "channels")'
rc "blindspots table, no agent_counters rows: exit 0" 0 --db "$DB" blindspots
[ "$(sed -n 1,3p <<<"$OUT")" = "COUNTERS
no agent counters in this store (not written by an agent)" ] && grep -qxE '10\.0\.0\.9:443 +4 +4 +4 +0' <<<"$OUT" &&
	[ "$(grep -cxE 'COUNTERS|UNRESOLVED PEERS|UNCOVERED CHANNELS' <<<"$OUT")" -eq 3 ] &&
	ok "blindspots table, no agent_counters rows: says so, peers listed" ||
	fail "blindspots table, no agent_counters rows: says so, peers listed" "$OUT"

rc "blindspots json, counters all zero, no services: exit 0" 0 --db "$ZERO" blindspots -o json
js "blindspots json, counters all zero: nothing listed, updated is the latest row" '
eq((doc["updated"], doc["counters"], doc["unresolved_peers"]),
   ("2026-11-21T05:00:00.999Z", [], []), "updated, counters, peers")
eq((doc["totals"]["events"], doc["totals"]["records"]), (5, None), "totals")'
rc "blindspots table, counters all zero: exit 0" 0 --db "$ZERO" blindspots
[[ "$OUT" == *$'\nnone: every counter of what was not seen is 0\n\nUNRESOLVED PEERS\nnone: every peer was named\n'* ]] &&
	ok "blindspots table, counters all zero: none lines" ||
	fail "blindspots table, counters all zero: none lines" "$OUT"

rc "blindspots -o dot exits 2" 2 --db "$BLIND" blindspots -o dot
err_is "blindspots -o dot: message" "gatectl: output format 'dot' is only for graph"
[ -z "$OUT" ] && ok "blindspots -o dot: nothing on stdout" || fail "blindspots -o dot: nothing on stdout" "$OUT"
rc "blindspots stray argument exits 2" 2 --db "$BLIND" blindspots extra
err_is "blindspots stray argument: message" "gatectl: unexpected argument 'extra'"
rc "blindspots --since exits 2 (no time range)" 2 --db "$BLIND" blindspots --since 1h
err_is "blindspots --since: message" "gatectl: unknown option '--since'"
rc "blindspots missing db exits 2" 2 --db "$work/nope.db" blindspots -o json
err_is "blindspots missing db: message" "gatectl: cannot open '$work/nope.db': No such file or directory"
[ -z "$OUT" ] && ok "blindspots missing db: nothing on stdout" || fail "blindspots missing db: nothing on stdout" "$OUT"
rc "blindspots non-faultline db exits 2" 2 --db "$OTHER" blindspots
rc "blindspots global options before the command" 0 --db "$BLIND" -o json blindspots
js "blindspots global options: applied" 'eq(len(doc["counters"]), 13, "counters")'
sqlite3 "$work/nocounters.db" "CREATE TABLE t(x); PRAGMA user_version = 1;"
rc "blindspots on a store without the agent_counters table exits 2" 2 --db "$work/nocounters.db" blindspots
err_is "blindspots without the table: message" "gatectl: cannot read agent_counters in '$work/nocounters.db': no such table: agent_counters"

# ---- paths -------------------------------------------------------------

PATHS=$work/paths.db
"$work/mkfixture" "$PATHS" <tests/gate/paths.spec || fail "fixture paths.db"
paths_sum_before=$(sha256sum "$PATHS" | cut -d' ' -f1)
# a chain of 20 edges s0 -> s1 -> ... -> s20, each linked to the next
{
	for i in $(seq 0 20); do echo "service s$i service"; done
	for i in $(seq 0 19); do
		echo "edge s$i s$((i + 1)) http 1795237200000000000 1795237200000000000 GET /h$i"
		echo "window $((i + 1)) 1795237200 1 0 0 0 1000000*1"
	done
	for i in $(seq 1 19); do echo "link $i $((i + 1)) thread 1795237200 1"; done
} >"$work/deep.spec"
DEEP=$work/deep.db
"$work/mkfixture" "$DEEP" <"$work/deep.spec" || fail "fixture deep.db"
# 12 levels of 4 operations, each linked to the 4 of the next: 4^12 paths
{
	for i in $(seq 0 12); do echo "service m$i service"; done
	for i in $(seq 0 11); do for o in 0 1 2 3; do
		echo "edge m$i m$((i + 1)) http 0 0 GET /o$o"
	done; done
	for i in $(seq 0 10); do for a in 1 2 3 4; do for b in 1 2 3 4; do
		echo "link $((i * 4 + a)) $(((i + 1) * 4 + b)) thread 1795237200 1"
	done; done; done
} >"$work/many.spec"
MANY=$work/many.db
"$work/mkfixture" "$MANY" <"$work/many.spec" || fail "fixture many.db"
ODD=$work/odd.db	# a method this build does not know, and a bad link
"$work/mkfixture" "$ODD" <<'EOF' || fail "fixture odd.db"
service a service
service b service
service c service
service d service
edge a b http 0 0 GET /
edge b c http 0 0 GET /x
edge c d http 0 0 GET /y
window 1 1795237200 5 0 0 0
window 2 1795237200 5 0 0 0
window 3 1795237200 5 0 0 0
link 1 2 hunch 1795237200 3
link 1 2 trace 1795237200 2
EOF
BADLINK=$work/badlink.db
cp "$ODD" "$BADLINK"
sqlite3 "$BADLINK" "INSERT INTO path_links VALUES (1, 3, 'thread', 1795237200, 60, 1)"
NOEDGE=$work/noedge.db
cp "$ODD" "$NOEDGE"
sqlite3 "$NOEDGE" "INSERT INTO path_links VALUES (2, 99, 'thread', 1795237200, 60, 1)"
V2=$work/v2.db	# a schema 2 store: no path_links
cp "$DB" "$V2"
sqlite3 "$V2" "DROP TABLE path_links; PRAGMA user_version = 2;"

# PT: python defining pt(), the paths of the last JSON run as (services, count, weakest, root, cycle, truncated)
PT='pt = lambda: [(p["services"], p["count"], p["weakest_method"], p["root"], p["cycle"], p["truncated"]) for p in doc["paths"]]'

rc "paths json, all windows: exit 0" 0 --db "$PATHS" paths -o json
js "paths json, all windows: every path, count desc then names" "$PT"'
eq(pt(), [(["gw", "web", "api", "pg"], 90, "thread", True, False, False),
          (["gw", "web", "api", "redis"], 65, "thread", True, False, False),
          (["cron", "api", "pg"], 7, "trace", True, False, False),
          (["gw", "web", "auth", "web"], 4, "thread", True, True, False),
          (["p", "q", "p"], 4, "thread", False, True, False),
          (["q", "p", "q"], 4, "thread", False, True, False),
          (["auth", "web", "auth"], 2, "thread", False, True, False)], "paths")
eq((doc["since"], doc["until"], doc["from"], doc["through"], doc["min_count"]),
   (None, None, None, None, 1), "echo")
eq(list(doc.keys()), ["since", "until", "from", "through", "min_count", "paths"], "keys")
eq(list(doc["paths"][0].keys()), ["services", "count", "weakest_method", "root", "cycle",
   "truncated", "hops"], "path keys")'
js "paths json, all windows: hops are graph edges plus link fields" '
h = doc["paths"][0]["hops"]
eq([(x["client"], x["server"], x["operation"]) for x in h],
   [("gw", "web", "GET /"), ("web", "api", "GET /users/{id}"),
    ("api", "pg", "SELECT * FROM users WHERE id = ?")], "hops")
eq(list(h[1].keys()), ["client", "server", "protocol", "operation", "requests", "errors",
   "client_errors", "conn_errors", "error_rate", "p50_ms", "p90_ms", "p99_ms", "first_seen",
   "last_seen", "tls", "link_count", "link_method", "link_methods"], "hop keys")
eq((h[0]["link_count"], h[0]["link_method"], h[0]["link_methods"]), (None, None, None), "first hop")
eq((h[1]["link_count"], h[1]["link_method"], h[1]["link_methods"]),
   (120, "traceparent", {"traceparent": 120}), "web -> api link, two windows")
eq((h[2]["link_count"], h[2]["link_method"], h[2]["link_methods"]), (90, "thread", {"thread": 90}), "api -> pg")
eq((h[1]["requests"], h[1]["errors"], h[1]["error_rate"], h[1]["p50_ms"], h[1]["p90_ms"], h[1]["p99_ms"]),
   (120, 1, 0.008333, 1.008, 1.008, 2.982), "web -> api stats")
eq((h[2]["requests"], h[2]["p50_ms"], h[2]["p90_ms"], h[2]["p99_ms"]), (90, 1.008, 2.015, 2.015), "api -> pg stats")
r = doc["paths"][1]["hops"][2]
eq((r["link_count"], r["link_method"], r["link_methods"]),
   (65, "thread", {"thread": 5, "traceparent": 60}), "branch: two methods, weakest thread")
c = doc["paths"][2]["hops"][1]
eq((c["link_count"], c["link_methods"], c["requests"]), (7, {"trace": 7}, 90), "hour-wide trace link")
q = doc["paths"][4]["hops"][1]
eq((q["requests"], q["p50_ms"]), (4, None), "no latency: null")
eq(any(x["operation"].startswith("UPDATE") for p in doc["paths"] for x in p["hops"]), False,
   "an edge without links is on no path")
k = lambda x: (x["client"], x["server"], x["operation"])
seen = {(k(p["hops"][i - 1]), k(p["hops"][i])) for p in doc["paths"] for i in range(1, len(p["hops"]))}
eq(len(seen), 9, "every one of the 9 linked pairs is on some path")
eq((("auth", "web", "GET /keys"), ("web", "auth", "POST /check")) in seen, True, "the callback link")'

rc "paths table: exit 0" 0 --db "$PATHS" paths
cat >"$work/paths.txt" <<'EOF'
PATH 1  gw → web → api → pg  count 90  weakest thread
HOP  CLIENT  SERVER  PROTO       OPERATION                         LINKED  METHOD       REQS  ERRS  ERR%  P50ms  P90ms  P99ms
  1  gw      web     http        GET /                                  -  -             120     0  0.00  2.015  2.015  2.015
  2  web     api     http        GET /users/{id}                      120  traceparent   120     1  0.83  1.008  1.008  2.982
  3  api     pg      postgresql  SELECT * FROM users WHERE id = ?      90  thread         90     0  0.00  1.008  2.015  2.015

PATH 2  gw → web → api → redis  count 65  weakest thread
HOP  CLIENT  SERVER  PROTO  OPERATION        LINKED  METHOD              REQS  ERRS  ERR%  P50ms  P90ms  P99ms
  1  gw      web     http   GET /                 -  -                    120     0  0.00  2.015  2.015  2.015
  2  web     api     http   GET /users/{id}     120  traceparent          120     1  0.83  1.008  1.008  2.982
  3  api     redis   redis  GET                  65  thread+traceparent    65     0  0.00  0.099  0.099  0.099

PATH 3  cron → api → pg  count 7  weakest trace
HOP  CLIENT  SERVER  PROTO       OPERATION                         LINKED  METHOD  REQS  ERRS  ERR%  P50ms  P90ms  P99ms
  1  cron    api     http        POST /batch                            -  -          7     0  0.00  5.046  5.046  5.046
  2  api     pg      postgresql  SELECT * FROM users WHERE id = ?       7  trace     90     0  0.00  1.008  2.015  2.015

PATH 4  gw → web → auth → web  count 4  weakest thread  [cycle]
HOP  CLIENT  SERVER  PROTO  OPERATION    LINKED  METHOD  REQS  ERRS   ERR%  P50ms  P90ms  P99ms
  1  gw      web     http   GET /             -  -        120     0   0.00  2.015  2.015  2.015
  2  web     auth    http   POST /check       6  thread     6     1  16.67  1.008  1.008  1.008
  3  auth    web     http   GET /keys         4  thread     4     0   0.00  1.008  1.008  1.008

PATH 5  p → q → p  count 4  weakest thread  [cycle, not from a root]
HOP  CLIENT  SERVER  PROTO  OPERATION  LINKED  METHOD  REQS  ERRS  ERR%  P50ms  P90ms  P99ms
  1  p       q       http   GET /ping       -  -          4     0  0.00  1.008  1.008  1.008
  2  q       p       http   GET /pong       4  thread     4     0  0.00      -      -      -

PATH 6  q → p → q  count 4  weakest thread  [cycle, not from a root]
HOP  CLIENT  SERVER  PROTO  OPERATION  LINKED  METHOD  REQS  ERRS  ERR%  P50ms  P90ms  P99ms
  1  q       p       http   GET /pong       -  -          4     0  0.00      -      -      -
  2  p       q       http   GET /ping       4  thread     4     0  0.00  1.008  1.008  1.008

PATH 7  auth → web → auth  count 2  weakest thread  [cycle, not from a root]
HOP  CLIENT  SERVER  PROTO  OPERATION    LINKED  METHOD  REQS  ERRS   ERR%  P50ms  P90ms  P99ms
  1  auth    web     http   GET /keys         -  -          4     0   0.00  1.008  1.008  1.008
  2  web     auth    http   POST /check       2  thread     6     1  16.67  1.008  1.008  1.008

paths: 7 (weakest link: 6 thread, 0 traceparent, 1 trace; 4 with a cycle, 0 cut at 16 hops)
EOF
same "paths table: exact text, one block per path" "$work/paths.txt"

rc "paths --through auth --min-count 3 -o json: exit 0" 0 --db "$PATHS" paths --through auth --min-count 3 -o json
cat >"$work/paths-auth.json" <<'EOF'
{
  "since": null,
  "until": null,
  "from": null,
  "through": "auth",
  "min_count": 3,
  "paths": [
    {
      "services": [
        "gw",
        "web",
        "auth",
        "web"
      ],
      "count": 4,
      "weakest_method": "thread",
      "root": true,
      "cycle": true,
      "truncated": false,
      "hops": [
        {
          "client": "gw",
          "server": "web",
          "protocol": "http",
          "operation": "GET /",
          "requests": 120,
          "errors": 0,
          "client_errors": 0,
          "conn_errors": 0,
          "error_rate": 0.0,
          "p50_ms": 2.015,
          "p90_ms": 2.015,
          "p99_ms": 2.015,
          "first_seen": "2026-11-21T05:00:00.000Z",
          "last_seen": "2026-11-21T06:01:00.000Z",
          "tls": false,
          "link_count": null,
          "link_method": null,
          "link_methods": null
        },
        {
          "client": "web",
          "server": "auth",
          "protocol": "http",
          "operation": "POST /check",
          "requests": 6,
          "errors": 1,
          "client_errors": 0,
          "conn_errors": 0,
          "error_rate": 0.166667,
          "p50_ms": 1.008,
          "p90_ms": 1.008,
          "p99_ms": 1.008,
          "first_seen": "2026-11-21T05:00:00.000Z",
          "last_seen": "2026-11-21T05:01:00.000Z",
          "tls": false,
          "link_count": 6,
          "link_method": "thread",
          "link_methods": {
            "thread": 6
          }
        },
        {
          "client": "auth",
          "server": "web",
          "protocol": "http",
          "operation": "GET /keys",
          "requests": 4,
          "errors": 0,
          "client_errors": 0,
          "conn_errors": 0,
          "error_rate": 0.0,
          "p50_ms": 1.008,
          "p90_ms": 1.008,
          "p99_ms": 1.008,
          "first_seen": "2026-11-21T05:00:00.000Z",
          "last_seen": "2026-11-21T05:01:00.000Z",
          "tls": false,
          "link_count": 4,
          "link_method": "thread",
          "link_methods": {
            "thread": 4
          }
        }
      ]
    }
  ]
}
EOF
same "paths --through auth --min-count 3 -o json: exact text (a cycle: auth calls web back)" "$work/paths-auth.json"

gc --db "$PATHS" paths --through api -o json
js "paths --through api: the paths with api on a hop" "$PT"'
eq([p[0] for p in pt()], [["gw", "web", "api", "pg"], ["gw", "web", "api", "redis"],
   ["cron", "api", "pg"]], "paths")'
gc --db "$PATHS" paths --through redis -o json
js "paths --through redis (a leaf): one path" "$PT"'
eq(pt(), [(["gw", "web", "api", "redis"], 65, "thread", True, False, False)], "paths")'
gc --db "$PATHS" paths --through p -o json
js "paths --through p: the rootless cycle, once from each of its links" "$PT"'
eq(pt(), [(["p", "q", "p"], 4, "thread", False, True, False),
          (["q", "p", "q"], 4, "thread", False, True, False)], "paths")'
gc --db "$PATHS" paths --from web -o json
js "paths --from web: paths start at web's edges, mid-chain" "$PT"'
eq(pt(), [(["web", "api", "pg"], 90, "thread", False, False, False),
          (["web", "api", "redis"], 65, "thread", False, False, False),
          (["web", "auth", "web"], 4, "thread", False, True, False)], "paths")
eq((doc["from"], doc["through"]), ("web", None), "echo")
eq(doc["paths"][0]["hops"][0]["link_count"], None, "no link into the first hop")'
gc --db "$PATHS" paths --from cron -o json
js "paths --from cron: one root path" "$PT"'
eq(pt(), [(["cron", "api", "pg"], 7, "trace", True, False, False)], "paths")'
gc --db "$PATHS" paths --from gw --through auth -o json
js "paths --from gw --through auth: both filters" "$PT"'
eq([p[0] for p in pt()], [["gw", "web", "auth", "web"]], "paths")'
rc "paths --from pg (calls nothing): exit 0" 0 --db "$PATHS" paths --from pg
[ "$OUT" = "no call paths" ] && ok "paths --from pg: no call paths" || fail "paths --from pg: no call paths" "$OUT"
gc --db "$PATHS" paths --from pg -o json
js "paths --from pg -o json: empty list" 'eq(doc["paths"], [], "paths")'

gc --db "$PATHS" paths --until 2026-11-21T06:00:00Z -o json
js "paths --until 06:00: the 06:00 links are out, the branch is traceparent only" "$PT"'
eq(pt(), [(["gw", "web", "api", "pg"], 90, "thread", True, False, False),
          (["gw", "web", "api", "redis"], 50, "traceparent", True, False, False),
          (["cron", "api", "pg"], 7, "trace", True, False, False),
          (["gw", "web", "auth", "web"], 4, "thread", True, True, False),
          (["p", "q", "p"], 4, "thread", False, True, False),
          (["q", "p", "q"], 4, "thread", False, True, False),
          (["auth", "web", "auth"], 2, "thread", False, True, False)], "paths")
eq(doc["paths"][1]["hops"][0]["requests"], 100, "hop stats over the same range")
eq(doc["until"], "2026-11-21T06:00:00.000Z", "until")'
gc --db "$PATHS" paths --since 2026-11-21T06:00:30Z -o json
js "paths --since 06:00:30: only the 06:00 windows (hour-wide 05:00 link out)" "$PT"'
eq(pt(), [(["gw", "web", "api", "redis"], 15, "thread", True, False, False)], "paths")
h = doc["paths"][0]["hops"]
eq([x["requests"] for x in h], [20, 20, 15], "requests in range")
eq(h[2]["link_methods"], {"thread": 5, "traceparent": 10}, "methods")
eq(doc["since"], "2026-11-21T06:00:00.000Z", "since floored")'
gc --db "$PATHS" paths --min-count 5 -o json
js "paths --min-count 5: weak links dropped, web -> auth becomes a leaf" "$PT"'
eq(pt(), [(["gw", "web", "api", "pg"], 90, "thread", True, False, False),
          (["gw", "web", "api", "redis"], 65, "thread", True, False, False),
          (["cron", "api", "pg"], 7, "trace", True, False, False),
          (["gw", "web", "auth"], 6, "thread", True, False, False)], "paths")
eq(doc["min_count"], 5, "echo")'
gc --db "$PATHS" paths --min-count 100 -o json
js "paths --min-count 100: the one link left makes one path" "$PT"'
eq(pt(), [(["gw", "web", "api"], 120, "traceparent", True, False, False)], "paths")'
rc "paths --min-count 0 is 1" 0 --db "$PATHS" paths --min-count 0 -o json
js "paths --min-count 0: as 1" 'eq((len(doc["paths"]), doc["min_count"]), (7, 1), "paths")'

gc --db "$DEEP" paths -o json
js "paths: a 20-edge chain is cut at 16 hops, the cut edge starts the rest" "$PT"'
eq(pt(), [(["s%d" % i for i in range(17)], 1, "thread", True, False, True),
          (["s15", "s16", "s17", "s18", "s19", "s20"], 1, "thread", False, False, False)], "paths")'
gc --db "$DEEP" paths
[[ "$OUT" == "PATH 1  s0 → s1 → "*" → s16  count 1  weakest thread  [cut at 16 hops]"$'\n'* ]] &&
	[[ "$OUT" == *$'\n'"paths: 2 (weakest link: 2 thread, 0 traceparent, 0 trace; 0 with a cycle, 1 cut at 16 hops)" ]] &&
	ok "paths table: cut path marked" || fail "paths table: cut path marked" "$OUT"

gc --db "$ODD" paths -o json
js "paths: an unknown method counts, as the weakest" "$PT"'
eq(pt(), [(["a", "b", "c"], 5, "unknown", True, False, False)], "paths")
eq(doc["paths"][0]["hops"][1]["link_methods"], {"trace": 2, "unknown": 3}, "methods")'
rc "paths: more than 1000000 paths exits 2" 2 --db "$MANY" paths -o json
err_is "paths: too many paths: message" "gatectl: more than 1000000 call paths; narrow them with --from, --through, --min-count or a time range"
[ -z "$OUT" ] && ok "paths: too many paths: nothing on stdout" || fail "paths: too many paths: nothing on stdout" "$OUT"
gc --db "$MANY" paths --from m9 -o json
js "paths --from m9 on the same store: 4 x 4 x 4 paths" 'eq(len(doc["paths"]), 64, "paths")
eq(doc["paths"][0]["services"], ["m9", "m10", "m11", "m12"], "first")'
rc "paths: link whose child does not continue its parent exits 2" 2 --db "$BADLINK" paths
err_is "paths bad link: message" "gatectl: path link from edge 1 to edge 3 in '$BADLINK': the child's client is not the parent's server"
[ -z "$OUT" ] && ok "paths bad link: nothing on stdout" || fail "paths bad link: nothing on stdout" "$OUT"
rc "paths: link to a missing edge exits 2" 2 --db "$NOEDGE" paths -o json
err_is "paths missing edge: message" "gatectl: path link to missing edge 99 in '$NOEDGE'"

rc "paths on a store without links (graph fixture): exit 0" 0 --db "$DB" paths
[ "$OUT" = "no call paths" ] && [ -z "$ERR" ] && ok "paths, no links: no call paths" ||
	fail "paths, no links: no call paths" "$OUT / $ERR"
rc "paths on a schema 2 store: exit 0" 0 --db "$V2" paths -o json
js "paths on a schema 2 store: no paths" 'eq(doc["paths"], [], "paths")'
err_is "paths on a schema 2 store: a note" "gatectl: note: '$V2' has no call-path links (schema before 3)"
rc "paths --through nosuch on a schema 2 store exits 2" 2 --db "$V2" paths --through nosuch

rc "paths --from nosuch exits 2" 2 --db "$PATHS" paths --from nosuch -o json
err_is "paths --from nosuch: message" "gatectl: unknown service 'nosuch'"
[ -z "$OUT" ] && ok "paths unknown service: nothing on stdout" || fail "paths unknown service: nothing on stdout" "$OUT"
rc "paths --through nosuch exits 2" 2 --db "$PATHS" paths --through nosuch
err_is "paths --through nosuch: message" "gatectl: unknown service 'nosuch'"
rc "paths --from twice exits 2" 2 --db "$PATHS" paths --from gw --from web
err_is "paths --from twice: message" "gatectl: '--from' given more than once"
rc "paths --min-count x exits 2" 2 --db "$PATHS" paths --min-count x
err_is "paths --min-count x: message" "gatectl: invalid value 'x' for '--min-count' (want a whole number)"
rc "paths --min-count -1 exits 2" 2 --db "$PATHS" paths --min-count -1
rc "paths -o dot exits 2" 2 --db "$PATHS" paths -o dot
err_is "paths -o dot: message" "gatectl: output format 'dot' is only for graph"
rc "paths --until before --since exits 2" 2 --db "$PATHS" paths --since $H1 --until $H0
rc "paths bad time exits 2" 2 --db "$PATHS" paths --since yesterday
rc "paths --bogus exits 2" 2 --db "$PATHS" paths --bogus
rc "paths stray argument exits 2" 2 --db "$PATHS" paths gw
err_is "paths stray argument: message" "gatectl: unexpected argument 'gw'"
rc "paths missing db exits 2" 2 --db "$work/nope.db" paths
paths_sum_after=$(sha256sum "$PATHS" | cut -d' ' -f1)
[ "$paths_sum_before" = "$paths_sum_after" ] && ok "paths leaves its store unchanged" ||
	fail "paths leaves its store unchanged"

# ---- errors and usage --------------------------------------------------

rc "missing db exits 2" 2 --db "$work/nope.db" graph
err_is "missing db: one message" "gatectl: cannot open '$work/nope.db': No such file or directory"
rc "default db ./faultline.db, missing, exits 2" 2 scope --changed api
err_is "default db: message" "gatectl: cannot open './faultline.db': No such file or directory"
rc "non-faultline sqlite db exits 2" 2 --db "$OTHER" graph
err_is "non-faultline db: message" "gatectl: cannot open '$OTHER': not a faultline store (schema version 0)"
rc "text file as db exits 2" 2 --db "$work/text.db" graph
err_is "text file: message" "gatectl: cannot open '$work/text.db': not a SQLite database"
rc "directory as db exits 2" 2 --db "$work" health --service api --since 1h
err_is "directory: message" "gatectl: cannot open '$work': Is a directory"
rc "empty file as db exits 2" 2 --db "$work/empty.db" graph
err_is "empty file: message" "gatectl: cannot open '$work/empty.db': not a faultline store (schema version 0)"
rc "malformed histogram in store exits 2" 2 --db "$BADBLOB" graph
err_is "malformed histogram: message" "gatectl: malformed latency histogram for edge 1 in '$BADBLOB'"
rc "malformed histogram, window out of range: exit 0" 0 --db "$BADBLOB" graph --until 2026-11-21T05:01:00Z

rc "bad -o exits 2" 2 --db "$DB" graph -o yaml
err_is "bad -o: message" "gatectl: unknown output format 'yaml' (want table, json, dot, svg or html)"
rc "-o dot on scope exits 2" 2 --db "$DB" scope --changed api -o dot
err_is "-o dot on scope: message" "gatectl: output format 'dot' is only for graph"
rc "-o dot on health exits 2" 2 --db "$DB" health --service api --since 1h -o dot
rc "bad flag exits 2" 2 --db "$DB" graph --bogus
err_is "bad flag: message" "gatectl: unknown option '--bogus'"
rc "bad short flag exits 2" 2 --db "$DB" graph -x
err_is "bad short flag: message" "gatectl: unknown option '-x'"
rc "flag without value exits 2" 2 graph --db
err_is "flag without value: message" "gatectl: option '--db' needs a value"
rc "stray argument exits 2" 2 --db "$DB" graph extra
err_is "stray argument: message" "gatectl: unexpected argument 'extra'"
rc "unknown command exits 2" 2 --db "$DB" grpah
err_is "unknown command: message" "gatectl: unknown command 'grpah' (see 'gatectl --help')"
rc "no command exits 2" 2
for t in yesterday 2026-13-01T00:00:00Z 2026-02-29T00:00:00Z 2026-11-21T05:00:00 \
	 2026-11-21T24:00:00Z 2026-11-21T05:00:00.Z @12x 15 15y -5m "" 99999999999999999999s; do
	rc "bad time '$t' exits 2" 2 --db "$DB" graph --since "$t"
done
gc --db "$DB" graph --since yesterday
err_is "bad time: message" "gatectl: invalid time 'yesterday' for '--since' (want RFC 3339, @unix-seconds or a duration like 15m)"
rc "bad --until exits 2" 2 --db "$DB" health --service api --since 1h --until 2026-11-21
rc "--until before --since exits 2" 2 --db "$DB" graph --since $H1 --until $H0
err_is "--until before --since: message" "gatectl: '--until' must be after '--since'"
rc "leap day 2028 is a time" 0 --db "$DB" graph --since 2028-02-29T00:00:00Z
rc "unknown service (scope) exits 2" 2 --db "$DB" scope --changed nosuch
err_is "unknown service (scope): message" "gatectl: unknown service 'nosuch'"
rc "unknown service among known (scope) exits 2" 2 --db "$DB" scope --changed api --changed nosuch -o json
[ -z "$OUT" ] && ok "unknown service: nothing on stdout" || fail "unknown service: nothing on stdout" "$OUT"
rc "unknown service (health) exits 2" 2 --db "$DB" health --service nosuch --since 1h
err_is "unknown service (health): message" "gatectl: unknown service 'nosuch'"
rc "scope without --changed exits 2" 2 --db "$DB" scope
rc "health without --since exits 2" 2 --db "$DB" health --service api
err_is "health without --since: message" "gatectl: health needs '--since T'"
rc "health without --service exits 2" 2 --db "$DB" health --since 1h
for bad in "--min-requests -1" "--min-requests 1.5" "--max-error-increase x" \
	   "--max-error-increase -0.1" "--max-p99-ratio nan" "--max-p99-ratio inf"; do
	# shellcheck disable=SC2086
	rc "health $bad exits 2" 2 --db "$DB" health --service api --since 1h $bad
done

rc "gatectl --help exits 0" 0 --help
[[ "$OUT" == "usage: gatectl "* && "$OUT" == *"examples:"* ]] && ok "gatectl --help: usage and examples" || fail "gatectl --help: usage and examples" "$OUT"
for c in graph paths scope health blindspots; do
	rc "$c --help exits 0" 0 $c --help
	[[ "$OUT" == "usage: gatectl $c "* && "$OUT" == *"examples:"* ]] &&
		ok "$c --help: usage and examples" || fail "$c --help: usage and examples" "$OUT"
done
rc "help health exits 0" 0 help health
[[ "$OUT" == "usage: gatectl health "* ]] && ok "help health: its usage" || fail "help health: its usage" "$OUT"
rc "global options before the command" 0 --db "$DB" -o json graph --since $H0 --until $H1
js "global options before the command: applied" 'eq(len(doc["edges"]), 9, "edges")'
rc "options after the command override" 0 -o table --db "$work/nope.db" graph --db "$DB" -o json --since $H0 --until $H1
js "options after the command: applied" 'eq(len(doc["edges"]), 9, "edges")'

# ---- provenance, confidence, imports -----------------------------------

# confidence: judged at --until (or now), from the edge's sources
CONF=$work/conf.db
"$work/mkfixture" "$CONF" <<'EOF' || fail "fixture conf.db"
service a service
service b service
service c service
service d service
service e service
edge a b http 0 0 GET /recent
edge a c http 0 0 GET /old
edge a d http 0 0 GET /traced
edge a e http 0 0 GET /tested
edge a b http 0 0 GET /both
window 1 now-600 10 0 0 0 1000000*10
source 1 ebpf 10 now-700 now-600
window 2 now-259200 7 0 0 0 1000000*7
source 2 ebpf 7 now-259300 now-259200
window 3@trace now-600 3 0 0 0 1000000*3
source 3 trace 3 now-700 now-600
window 4@test now-600 4 0 0 0 1000000*4
source 4 test 4 now-700 now-600
window 5 now-600 2 0 0 0 1000000*2
window 5@test now-600 5 0 0 0 1000000*5
source 5 ebpf 2 now-700 now-600
source 5 test 5 now-700 now-600
EOF
gc --db "$CONF" graph -o json
js "confidence: ebpf within 24 h high, older medium, trace medium, test low" '
got = {e["operation"]: (e["confidence"], [s["source"] for s in e["sources"]]) for e in doc["edges"]}
eq(got, {"GET /recent": ("high", ["ebpf"]), "GET /old": ("medium", ["ebpf"]),
         "GET /traced": ("medium", ["trace"]), "GET /tested": ("low", ["test"]),
         "GET /both": ("high", ["ebpf", "test"])}, "confidence")
s = edge("a", "e", "GET /tested")["sources"][0]
eq((s["samples"], sorted(s.keys())), (4, ["first_seen", "last_seen", "samples", "source"]), "source fields")
eq(edge("a", "b", "GET /both")["requests"], 7, "ebpf and test windows both count")
eq(doc["operations"], [], "no schema-only operations")'
gc --db "$CONF" graph --until 60h -o json
js "confidence at --until 60 h ago: the 3-day-old edge is recent then" '
eq([(e["operation"], e["confidence"]) for e in doc["edges"]], [("GET /old", "high")], "edges")'
gc --db "$CONF" graph
grep -qE '^a +e +http +GET /tested +4 +0 +0\.00 +1\.008 +1\.008 +test +low$' <<<"$OUT" &&
	grep -qE '^a +b +http +GET /both +7 .* +ebpf\+test +high$' <<<"$OUT" &&
	ok "graph table: SRC and CONF columns" || fail "graph table: SRC and CONF columns" "$OUT"

# OTLP: the Collector's file exporter output (JSON Lines, numeric kinds,
# string int64s) and an SDK's (enum names, numbers), into a new store
TR=$work/traces.db
rc "import otlp into a new store: exit 0" 0 --db "$TR" import otlp tests/gate/otlp/traces.jsonl
[ "$OUT" = "imported otlp 'tests/gate/otlp/traces.jsonl': 10 spans in 4 documents: 4 requests on 4 edges, 2 path links
not imported: 1 client spans without a peer, 1 server spans without a client span, 2 other spans (internal, producer, consumer), 0 duplicate spans" ] &&
	ok "import otlp: summary" || fail "import otlp: summary" "$OUT"
[ "$(stat -c %a "$TR")" = 600 ] && ok "import otlp: new store mode 0600" || fail "import otlp: new store mode 0600"
gc --db "$TR" graph -o json
js "import otlp: edges, kinds, operations named as the agent names them" '
eq([(s["name"], s["kind"]) for s in doc["services"]],
   [("10.0.0.5:6379", "cache"), ("api", "service"), ("pg", "database"), ("web", "service")], "services")
eq(keys(doc["edges"]), [("api", "10.0.0.5:6379", "redis", "SET"),
   ("api", "pg", "postgresql", "SELECT name, email FROM users WHERE id = ? AND api_key = ?"),
   ("web", "api", "http", "GET /users/{id}"), ("web", "api", "http", "POST /orders")], "edges")
e = edge("web", "api", "GET /users/{id}")
eq((e["requests"], e["errors"], e["p50_ms"], e["first_seen"], e["last_seen"]),
   (1, 0, 11.928, "2026-11-21T05:00:05.002Z", "2026-11-21T05:00:05.014Z"), "GET users (12 ms)")
eq(e["sources"], [{"source": "trace", "samples": 1, "first_seen": "2026-11-21T05:00:05.002Z",
   "last_seen": "2026-11-21T05:00:05.014Z"}], "sources")
eq(e["confidence"], "medium", "confidence")
e = edge("web", "api", "POST /orders")
eq((e["requests"], e["errors"], e["error_rate"], e["p50_ms"]), (1, 1, 1.0, 2.982), "POST orders: 500")
eq(edge("api", "pg", "SELECT name, email FROM users WHERE id = ? AND api_key = ?")["p50_ms"], 2.015, "pg")'
if [ "$(sqlite3 "$TR" "SELECT group_concat(p.name || '>' || s.name || ' ' || e.operation || ' => ' || c2.name || '>' || s2.name || ' ' || ch.operation || ' ' || l.method || ' ' || l.window_start || ' ' || l.count, '; ')
	FROM path_links l JOIN edges e ON e.id = l.parent_edge_id JOIN services p ON p.id = e.client_id JOIN services s ON s.id = e.server_id
	JOIN edges ch ON ch.id = l.child_edge_id JOIN services c2 ON c2.id = ch.client_id JOIN services s2 ON s2.id = ch.server_id")" = \
	"web>api GET /users/{id} => api>pg SELECT name, email FROM users WHERE id = ? AND api_key = ? trace 1795237200 1; web>api GET /users/{id} => api>10.0.0.5:6379 SET trace 1795237200 1" ]; then
	ok "import otlp: path links from SERVER to descendant CLIENT spans"
else
	fail "import otlp: path links from SERVER to descendant CLIENT spans" "$(sqlite3 "$TR" 'SELECT * FROM path_links')"
fi
[ "$(sqlite3 "$TR" "SELECT kind, path, service IS NULL, items FROM imports")" = "otlp|tests/gate/otlp/traces.jsonl|1|4" ] &&
	ok "import otlp: recorded in imports" || fail "import otlp: recorded in imports" "$(sqlite3 "$TR" 'SELECT * FROM imports')"
[ "$(sqlite3 "$TR" "SELECT group_concat(source || ':' || window_start || ':' || requests || ':' || errors, ' ') FROM edge_windows")" = \
	"trace:1795237200:1:0 trace:1795237200:1:0 trace:1795237200:1:0 trace:1795237260:1:1" ] &&
	ok "import otlp: one trace window per minute of start" || fail "import otlp: one trace window per minute of start" "$(sqlite3 "$TR" 'SELECT * FROM edge_windows')"
if grep -aqE 'sk_live|s3cr3t|SECRETTOKEN|session:42|= 42' "$TR" "$TR-wal" 2>/dev/null; then
	fail "import otlp: no SQL literal, Redis value or query string in the store"
else
	ok "import otlp: no SQL literal, Redis value or query string in the store"
fi
rc "import otlp -o json: exit 0" 0 --db "$work/traces2.db" import otlp tests/gate/otlp/traces.jsonl -o json
js "import otlp -o json: the summary" '
eq(doc, {"kind": "otlp", "path": "tests/gate/otlp/traces.jsonl", "documents": 4, "spans": 10,
   "requests": 4, "edges": 4, "path_links": 2, "not_imported": {"client_without_peer": 1,
   "server_without_client": 1, "other_kinds": 2, "duplicates": 0}}, "summary")'

# malformed files: exit 2, position and reason, the store byte-identical
counts() { sqlite3 "$1" "SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM edges),
	(SELECT count(*) FROM edge_windows), (SELECT count(*) FROM edge_sources),
	(SELECT count(*) FROM path_links), (SELECT count(*) FROM imports), (SELECT count(*) FROM operations)"; }
sum_tr=$(sha256sum "$TR" | cut -d' ' -f1)
counts_tr=$(counts "$TR")
rc "import otlp, syntax error: exit 2" 2 --db "$TR" import otlp tests/gate/otlp/syntax.jsonl
err_is "import otlp, syntax error: line and column" "gatectl: cannot import 'tests/gate/otlp/syntax.jsonl': line 2, column 73: unexpected token near '}'"
[ -z "$OUT" ] && ok "import otlp, syntax error: nothing on stdout" || fail "import otlp, syntax error: nothing on stdout" "$OUT"
rc "import otlp, unknown span kind: exit 2" 2 --db "$TR" import otlp tests/gate/otlp/badkind.jsonl
err_is "import otlp, unknown span kind: JSON path" "gatectl: cannot import 'tests/gate/otlp/badkind.jsonl': line 3: resourceSpans[0].scopeSpans[1].spans[3].kind: unknown span kind 9"
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"zz","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}\n' >"$work/badid.json"
rc "import otlp, bad span id: exit 2" 2 --db "$TR" import otlp "$work/badid.json"
err_is "import otlp, bad span id: JSON path" "gatectl: cannot import '$work/badid.json': line 1: resourceSpans[0].scopeSpans[0].spans[0].spanId: not a 8-byte id in hex"
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0102030405060708","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"20","endTimeUnixNano":"10"}]}]}]}\n' >"$work/badtime.json"
rc "import otlp, end before start: exit 2" 2 --db "$TR" import otlp "$work/badtime.json"
err_is "import otlp, end before start: message" "gatectl: cannot import '$work/badtime.json': line 1: resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano: before startTimeUnixNano"
echo '{"data": []}' >"$work/nototlp.json"
rc "import otlp, not OTLP: exit 2" 2 --db "$TR" import otlp "$work/nototlp.json"
err_is "import otlp, not OTLP: message" "gatectl: cannot import '$work/nototlp.json': line 1: resourceSpans: missing"
: >"$work/empty.jsonl"
rc "import otlp, empty file: exit 2" 2 --db "$TR" import otlp "$work/empty.jsonl"
err_is "import otlp, empty file: message" "gatectl: cannot import '$work/empty.jsonl': no JSON document"
rc "import otlp, missing file: exit 2" 2 --db "$TR" import otlp "$work/nope.jsonl"
err_is "import otlp, missing file: message" "gatectl: cannot read '$work/nope.jsonl': No such file or directory"
[ "$(sha256sum "$TR" | cut -d' ' -f1)" = "$sum_tr" ] && [ "$(counts "$TR")" = "$counts_tr" ] &&
	ok "import otlp, malformed files: store byte-identical, row counts unchanged" ||
	fail "import otlp, malformed files: store byte-identical, row counts unchanged" "$(counts "$TR") vs $counts_tr"
[ ! -e "$work/never.db" ] || rm -f "$work/never.db"
rc "import otlp, missing file: no store created" 2 --db "$work/never.db" import otlp "$work/nope.jsonl"
[ ! -e "$work/never.db" ] && ok "import otlp, unreadable file: the store is not even created" ||
	fail "import otlp, unreadable file: the store is not even created"
rc "import otlp, syntax error into a missing store: exit 2" 2 --db "$work/never.db" import otlp tests/gate/otlp/syntax.jsonl
rc "import openapi, bad method into a missing store: exit 2" 2 --db "$work/never.db" import openapi tests/gate/openapi/bad-method.json --service api
[ ! -e "$work/never.db" ] && ok "import, malformed files: checked before the store is opened (not created)" ||
	fail "import, malformed files: checked before the store is opened (not created)"
"$work/mkfixture" "$work/v3.db" <tests/gate/observed.spec || fail "fixture v3.db"
sqlite3 "$work/v3.db" "DROP TABLE fault_detections; DROP TABLE fault_results; DROP TABLE deep_runs; DROP TABLE test_quarantine; DROP TABLE blind_spots; DROP TABLE edge_risk; DROP TABLE prediction_outcomes; DROP TABLE verifications; DROP TABLE agent_flushes; DROP TABLE deployments; DROP TABLE predictions; DROP TABLE gate_runs; DROP TABLE footprints; DROP TABLE test_results; DROP TABLE test_runs; DROP TABLE edge_window_statuses; DROP TABLE operations; PRAGMA user_version = 3;"
rc "import otlp, unknown span kind into a schema 3 store: exit 2" 2 --db "$work/v3.db" import otlp tests/gate/otlp/badkind.jsonl
[ "$(sqlite3 "$work/v3.db" "PRAGMA user_version")" = 3 ] && ok "import, malformed file: a schema 3 store is not even migrated" ||
	fail "import, malformed file: a schema 3 store is not even migrated"
rc "graph of a schema 3 store: exit 0" 0 --db "$work/v3.db" graph --until 2026-11-21T06:00:00Z -o json
js "graph of a schema 3 store: sources, no operations" '
eq([(e["operation"], [s["source"] for s in e["sources"]], e["confidence"]) for e in doc["edges"]],
   [("GET /users/{id}", ["ebpf"], "high"), ("POST /orders", ["ebpf"], "high")], "edges")
eq(doc["operations"], [], "operations")'
rc "import openapi into a schema 3 store: exit 0 (migrated)" 0 --db "$work/v3.db" import openapi tests/gate/openapi/api.json --service api
[ "$(sqlite3 "$work/v3.db" "PRAGMA user_version; SELECT count(*) FROM operations")" = "7
4" ] && ok "import openapi: a schema 3 store migrated to 7" || fail "import openapi: a schema 3 store migrated to 7"
rc "import otlp into a non-faultline db: exit 2" 2 --db "$OTHER" import otlp tests/gate/otlp/traces.jsonl
err_is "import otlp into a non-faultline db: message" "gatectl: cannot open '$OTHER': not a faultline store (schema version 0)"

# traces next to observed windows: never counted twice
OBS=$work/observed.db
"$work/mkfixture" "$OBS" <tests/gate/observed.spec || fail "fixture observed.db"
rc "import openapi into an observed store: exit 0" 0 --db "$OBS" import openapi tests/gate/openapi/api.json --service api
[ "$OUT" = "imported openapi 'tests/gate/openapi/api.json' as service 'api': 4 operations, 2 of them also observed, 0 no longer listed removed" ] &&
	ok "import openapi: summary" || fail "import openapi: summary" "$OUT"
rc "import otlp into an observed store: exit 0" 0 --db "$OBS" import otlp tests/gate/otlp/traces.jsonl
gc --db "$OBS" graph --until 2026-11-21T05:02:00Z -o json
js "observed + trace + schema: observed windows only, sources merged" '
e = edge("web", "api", "GET /users/{id}")
eq((e["requests"], e["errors"], e["p50_ms"]), (100, 2, 1.008), "GET users: the agent only (trace at 05:00 too)")
eq([s["source"] for s in e["sources"]], ["ebpf", "trace", "schema"], "GET users sources")
eq(e["confidence"], "high", "GET users confidence")
e = edge("web", "api", "POST /orders")
eq((e["requests"], e["errors"]), (10, 0), "POST orders: ebpf at 05:00, its trace window at 05:01 left out")
eq([s["source"] for s in e["sources"]], ["ebpf", "trace", "schema"], "POST orders sources")
eq(e["sources"][2]["samples"], 0, "schema has no samples")
eq([(o["service"], o["protocol"], o["operation"], o["confidence"], [s["source"] for s in o["sources"]])
    for o in doc["operations"]],
   [("api", "http", "DELETE /users/{id}", "low", ["schema"]), ("api", "http", "GET /health", "low", ["schema"])],
   "schema-only operations")'
gc --db "$OBS" graph --since 2026-11-21T05:01:00Z --until 2026-11-21T05:02:00Z -o json
js "observed + trace: a range without observed windows uses the trace window" '
eq(keys(doc["edges"]), [("web", "api", "http", "POST /orders")], "edges")
e = doc["edges"][0]
eq((e["requests"], e["errors"], e["p50_ms"]), (1, 1, 2.982), "the trace window")'
gc --db "$OBS" scope --changed api -o json
js "scope: trace windows left out where observed ones exist" '
eq(edge("web", "api", "POST /orders")["requests"], 10, "POST orders")
eq(edge("api", "pg", "SELECT name, email FROM users WHERE id = ? AND api_key = ?")["requests"], 1, "trace-only edge")'
gc --db "$OBS" health --service api --since 2026-11-21T05:01:00Z --until 2026-11-21T05:02:00Z -o json
js "health: before (observed) and after (trace only) each counted once" '
e = edge("web", "api", "POST /orders")
eq((e["before"]["requests"], e["after"]["requests"], e["after"]["errors"]), (10, 1, 1), "POST orders")'
gc --db "$OBS" graph --until 2026-11-21T05:02:00Z
cat >"$work/obs.txt" <<'EOF'
SERVICES
NAME           KIND
10.0.0.5:6379  cache
api            service
pg             database
web            service

EDGES
CLIENT  SERVER         PROTO       OPERATION                                                   REQS  ERRS  ERR%  P50ms  P99ms  SRC                CONF
api     10.0.0.5:6379  redis       SET                                                            1     0  0.00  1.008  1.008  trace              medium
api     pg             postgresql  SELECT name, email FROM users WHERE id = ? AND api_key = ?     1     0  0.00  2.015  2.015  trace              medium
web     api            http        GET /users/{id}                                              100     2  2.00  1.008  1.008  ebpf+trace+schema  high
web     api            http        POST /orders                                                  10     0  0.00  2.015  2.015  ebpf+trace+schema  high

SCHEMA-ONLY OPERATIONS
SERVICE  PROTO  OPERATION           SRC     CONF
api      http   DELETE /users/{id}  schema  low
api      http   GET /health         schema  low
EOF
same "graph table: merged sources, schema-only operations" "$work/obs.txt"
gc --db "$OBS" blindspots -o json
js "blindspots: what only traces and the schema know" '
got = [(x["client"], x["server"], x["protocol"], x["operation"], x["requests"], [s["source"] for s in x["sources"]], x["confidence"])
       for x in doc["never_observed"]]
eq(got, [("api", "10.0.0.5:6379", "redis", "SET", 1, ["trace"], "medium"),
         ("api", "pg", "postgresql", "SELECT name, email FROM users WHERE id = ? AND api_key = ?", 1, ["trace"], "medium"),
         (None, "api", "http", "DELETE /users/{id}", 0, ["schema"], "low"),
         (None, "api", "http", "GET /health", 0, ["schema"], "low")], "never_observed")
eq(doc["unresolved_peers"], [], "10.0.0.5:6379 is a cache, not an external peer")
eq(doc["unknown_protocols"], {"conns": None, "bytes": None, "edges": []}, "no agent counters")'

# OpenAPI: merge by route template, validation, all or nothing
sum_obs=$(sha256sum "$OBS" | cut -d' ' -f1)
counts_obs=$(counts "$OBS")
rc "import openapi, unknown method: exit 2" 2 --db "$OBS" import openapi tests/gate/openapi/bad-method.json --service api
err_is "import openapi, unknown method: JSON path" "gatectl: cannot import 'tests/gate/openapi/bad-method.json': paths['/users/{userId}'].fetch: unknown field (want an HTTP method in lowercase)"
echo '{"swagger": "2.0", "paths": {}}' >"$work/swagger.json"
rc "import openapi, swagger 2.0: exit 2" 2 --db "$OBS" import openapi "$work/swagger.json" --service api
err_is "import openapi, swagger 2.0: message" "gatectl: cannot import '$work/swagger.json': swagger: Swagger 2.0 is not supported (want OpenAPI 3)"
echo '{"openapi": "3.0.0", "paths": []}' >"$work/badpaths.json"
rc "import openapi, paths not an object: exit 2" 2 --db "$OBS" import openapi "$work/badpaths.json" --service api
err_is "import openapi, paths not an object: message" "gatectl: cannot import '$work/badpaths.json': paths: not a Paths object"
printf '{"openapi": "3.0.0",\n "paths": {"/a": {"get": {}},\n  "b": {}}}\n' >"$work/badroute.json"
rc "import openapi, route without /: exit 2" 2 --db "$OBS" import openapi "$work/badroute.json" --service api
err_is "import openapi, route without /: message" "gatectl: cannot import '$work/badroute.json': paths['b']: a path must start with '/'"
printf '{"openapi": "3.0.0",\n "paths": {"/a": {"get": {},}}}\n' >"$work/badjson.json"
rc "import openapi, syntax error: exit 2" 2 --db "$OBS" import openapi "$work/badjson.json" --service api
err_is "import openapi, syntax error: line and column" "gatectl: cannot import '$work/badjson.json': line 2, column 29: string or '}' expected near '}'"
rc "import openapi without --service: exit 2" 2 --db "$OBS" import openapi tests/gate/openapi/api.json
err_is "import openapi without --service: message" "gatectl: import openapi needs '--service S'"
[ "$(sha256sum "$OBS" | cut -d' ' -f1)" = "$sum_obs" ] && [ "$(counts "$OBS")" = "$counts_obs" ] &&
	ok "import openapi, malformed files: store byte-identical, row counts unchanged" ||
	fail "import openapi, malformed files: store byte-identical, row counts unchanged"
cat >"$work/api-v2.json" <<'EOF'
{"openapi": "3.1.0", "info": {"title": "api", "version": "3"},
 "servers": [{"url": "https://api.example.com/v1/"}],
 "paths": {"/users/{userId}/orders/{orderId}": {"get": {}}, "/items/:item": {"patch": {}}}}
EOF
rc "import openapi again, a server path prefix: exit 0" 0 --db "$OBS" import openapi "$work/api-v2.json" --service api -o json
js "import openapi again: the summary, the old operations removed" '
eq(doc, {"kind": "openapi", "path": doc["path"], "service": "api", "operations": 2, "matched": 0, "removed": 4}, "summary")'
[ "$(sqlite3 "$OBS" "SELECT group_concat(operation, ', ') FROM (SELECT operation FROM operations ORDER BY operation)")" = \
	"GET /v1/users/{id}/orders/{id}, PATCH /v1/items/{id}" ] &&
	ok "import openapi: parameters as {id}, the server path as prefix" ||
	fail "import openapi: parameters as {id}, the server path as prefix" "$(sqlite3 "$OBS" 'SELECT * FROM operations')"
rc "import: unknown kind exits 2" 2 --db "$OBS" import zipkin x
err_is "import: unknown kind: message" "gatectl: unknown import kind 'zipkin' (want otlp or openapi)"
rc "import --help exits 0" 0 import --help
[[ "$OUT" == "usage: gatectl import "* && "$OUT" == *"examples:"* ]] && ok "import --help: usage and examples" || fail "import --help: usage and examples" "$OUT"

# gatectl never writes the store
sum_after=$(sha256sum "$DB" | cut -d' ' -f1)
[ "$sum_before" = "$sum_after" ] && ok "store unchanged by every command" ||
	fail "store unchanged by every command"
[ "$(stat -c %a "$DB")" = 600 ] && ok "fixture store mode 0600" || fail "fixture store mode 0600"

echo "gatectl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
