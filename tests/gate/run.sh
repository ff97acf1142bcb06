#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gatectl end to end: builds fixture stores with tests/gate/mkfixture.c
# (lib/store.c schema, lib/hist.c encodings), runs graph/scope/health/
# blindspots in table and json, and asserts exact values and exit codes.
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
	-Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -lm -o "$work/mkfixture" 2>"$work/cc.err"; then
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
CLIENT  SERVER        PROTO       OPERATION                                                     REQS  ERRS    ERR%  P50ms  P99ms
api     10.0.0.9:443  tcp         -                                                                4     4  100.00      -      -
api     auth          http        POST /token                                                    100     0    0.00  2.982  2.982
api     pg            postgresql  SELECT * FROM users WHERE id = ?                               200     0    0.00  1.008  2.015
api     redis         redis       GET                                                             50     0    0.00  0.099  0.099
auth    api           http        GET /internal/keys                                              20     0    0.00  1.008  1.008
batch   pg            postgresql  INSERT INTO jobs (id, payload, created_at, owner, state, pr…    30     3   10.00      -      -
gw      web           http        GET /                                                          100     0    0.00  2.015  2.015
web     api           http        GET /users/{id}                                                100     1    1.00  1.008  2.982
web     api           http        POST /orders                                                     5     0    0.00  5.046  5.046
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
eq(list(doc.keys()), ["updated", "totals", "counters", "unresolved_peers", "uncovered_channels"], "keys")
eq(doc["updated"], "2026-11-21T05:01:02.500Z", "updated")
eq(doc["totals"], {"events": 10000, "records": 900, "data_events": 6000, "bytes_seen": 2000000,
   "bytes_captured": 1900000, "conn_opens": 50, "conns_joined": None, "conn_closes": None,
   "conn_failures": None, "conns_mirrored": None, "tls_libraries": 2, "tls_conns": None},
   "totals (absent rows: null)")'
js "blindspots json: non-zero counters by group then name, unknown kept last" '
got = [(c["name"], c["value"], c["group"]) for c in doc["counters"]]
eq(got, [("inflight_map_full", 3, "loss"), ("ringbuf_drops", 42, "loss"),
         ("bytes_truncated", 100000, "partial"), ("gap_bytes", 5000, "partial"),
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
eq((c["unknown_proto_bytes"]["of"], c["unknown_proto_bytes"]["ratio"]), ("bytes_seen", 0.000617), "6 decimals")
eq((c["inflight_map_full"]["of"], c["inflight_map_full"]["ratio"]), (None, None), "no share")
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
         tls_libraries 2, tls_conns -

NAME                 GROUP            VALUE  SHARE                REASON
inflight_map_full    loss                 3  -                    syscalls not seen: in-flight map full
ringbuf_drops        loss                42  0.42% of events      events lost: ring buffer full
bytes_truncated      partial         100000  5.00% of bytes_seen  payload bytes beyond the per-syscall capture limit (bodies skipped by length)
gap_bytes            partial           5000  0.25% of bytes_seen  stream bytes never received (lost events): parsers skipped a gap
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

UNCOVERED CHANNELS
CHANNEL     DESCRIPTION
unix        Unix domain sockets: local IPC over socket files is not traced
udp         UDP, incl. DNS: only TCP connections are traced
io_uring    I/O submitted through io_uring bypasses the syscall tracepoints
sendfile    sendfile/splice payloads: bytes not captured
tls-static  TLS in binaries without exported SSL_* symbols (statically linked, Go): stays encrypted
quic/http3  QUIC and HTTP/3 (UDP, encrypted in the transport)
EOF
same "blindspots table: exact text" "$work/blind.txt"
[ "$(grep -cxE 'COUNTERS|UNRESOLVED PEERS|UNCOVERED CHANNELS' <<<"$OUT")" -eq 3 ] &&
	ok "blindspots table: three section headers" ||
	fail "blindspots table: three section headers" "$OUT"

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
js "blindspots global options: applied" 'eq(len(doc["counters"]), 11, "counters")'
sqlite3 "$work/nocounters.db" "CREATE TABLE t(x); PRAGMA user_version = 1;"
rc "blindspots on a store without the agent_counters table exits 2" 2 --db "$work/nocounters.db" blindspots
err_is "blindspots without the table: message" "gatectl: cannot read agent_counters in '$work/nocounters.db': no such table: agent_counters"

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
err_is "bad -o: message" "gatectl: unknown output format 'yaml' (want table, json or dot)"
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
for c in graph scope health blindspots; do
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

# gatectl never writes the store
sum_after=$(sha256sum "$DB" | cut -d' ' -f1)
[ "$sum_before" = "$sum_after" ] && ok "store unchanged by every command" ||
	fail "store unchanged by every command"
[ "$(stat -c %a "$DB")" = 600 ] && ok "fixture store mode 0600" || fail "fixture store mode 0600"

echo "gatectl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
