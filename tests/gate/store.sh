#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gatectl over the store's life: compact (roll-up, retention), diff (two
# ranges, two stores), merge (node-local stores into one), the synthetic
# week generator at a small scale, and that queries never write. Fixture
# stores are built with tests/gate/mkfixture.c; exact values throughout.
#
#   make build/gatectl && tests/gate/store.sh      (from the repo root)
#
# Prints one line per check and "gatectl-store: N passed, N failed".
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 2

GATECTL=${GATECTL:-build/gatectl}
PY=/usr/bin/python3
CC=${CC:-cc}
passed=0
failed=0

if [ ! -x "$GATECTL" ]; then
	echo "store.sh: $GATECTL not built (run 'make build/gatectl')" >&2
	echo "gatectl-store: 0 passed, 1 failed"
	exit 1
fi
work=$(mktemp -d /tmp/gatectl-store.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'
	return 0
}
gc() {
	OUT=$(timeout 20 "$GATECTL" "$@" 2>"$work/stderr")
	RC=$?
	ERR=$(cat "$work/stderr")
}
rc() {
	local name=$1 want=$2
	shift 2
	gc "$@"
	if [ "$RC" -eq "$want" ]; then ok "$name"; else
		fail "$name" "exit $RC, want $want; stderr: $ERR"; fi
}
err_is() {
	if [ "$ERR" = "$2" ]; then ok "$1"; else
		fail "$1" "stderr: '$ERR'"$'\n'"want:   '$2'"; fi
}
js() {
	local msg
	printf '%s' "$OUT" >"$work/out.json"
	if msg=$("$PY" "$work/check.py" "$work/out.json" "$2" 2>&1); then
		ok "$1"; else fail "$1" "$msg"; fi
}
same() {
	local d
	if d=$(diff -u "$2" <(printf '%s\n' "$OUT")); then ok "$1"; else fail "$1" "$d"; fi
}
# is NAME GOT WANT
is() { [ "$2" = "$3" ] && ok "$1" || fail "$1" "got:  $2"$'\n'"want: $3"; }
q() { sqlite3 "$1" "$2"; }

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

def keys(l):
    return [(x["client"], x["server"], x["operation"]) for x in l]

exec(sys.argv[2])
PY

if ! $CC -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	-Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -ljansson -lm -o "$work/mkfixture" 2>"$work/cc.err" ||
   ! $CC -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Ilib tools/bench/genweek.c lib/*.c -lsqlite3 -ljansson -lm -o "$work/genweek" 2>>"$work/cc.err"; then
	fail "build mkfixture and genweek" "$(cat "$work/cc.err")"
	echo "gatectl-store: $passed passed, $failed failed"
	exit 1
fi
mk() { "$work/mkfixture" "$1" || fail "fixture $1"; }

# ---- compact -----------------------------------------------------------
# W = 1795237200 = 2026-11-21T05:00:00Z. Edge 1 a -> b: four minutes in the
# 05:00 hour, one at 06:00; edge 2 a -> s known only from a schema import.
COMPACT_SPEC='service a service
service b service
service s service
edge a b http 0 1795240800000000000 GET /x
edge a s http 0 0 GET /schema
source 1 ebpf 227 0 1795240800000000000
source 2 schema 0 0 0
window 1 1795237200 100 1 0 0 1000000*90 2000000*10
window 1 1795237260 100 2 1 0 1000000*50 3000000*50
window 1 1795240740 10 0 0 1 5000000*10
window 1 1795240800 7 0 0 0 1000000*7
link 1 1 thread 1795237200 5
link 1 1 thread 1795237260 6
link 1 1 thread 1795240800 1'
C=$work/compact.db
mk "$C" <<<"$COMPACT_SPEC"
# the same samples in one window each hour: what a direct merge gives
DIRECT=$work/direct.db
mk "$DIRECT" <<'EOF'
service a service
service b service
edge a b http 0 1795240800000000000 GET /x
window 1 1795237200 210 3 1 1 1000000*140 2000000*10 3000000*50 5000000*10
window 1 1795240800 7 0 0 0 1000000*7
EOF
gc --db "$C" graph -o json; before_all=$OUT
gc --db "$C" graph --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z -o json; before_h0=$OUT

NOW=2026-11-22T07:00:00Z	# a day and two hours later: 05:00 and 06:00 roll up
rc "compact: exit 0" 0 --db "$C" compact --now $NOW -o json
js "compact: rolled 4 minutes into 2 hours, 3 links into 2" '
eq({k: doc[k] for k in ("windows_rolled", "hours_written", "links_rolled", "link_hours_written",
    "windows_expired", "links_expired", "sources_expired", "edges_expired", "services_expired")},
   {"windows_rolled": 4, "hours_written": 2, "links_rolled": 3, "link_hours_written": 2,
    "windows_expired": 0, "links_expired": 0, "sources_expired": 0, "edges_expired": 0,
    "services_expired": 0}, "stats")
eq((doc["now"], doc["rollup_after_s"], doc["retention_s"]),
   ("2026-11-22T07:00:00.000Z", 86400, 604800), "echo")'
is "compact: hourly rows, exact sums" \
	"$(q "$C" 'SELECT edge_id, source, window_start, width_s, requests, errors, client_errors, conn_errors, latency_sum_ns FROM edge_windows ORDER BY 1, 3')" \
	"1|ebpf|1795237200|3600|210|3|1|1|360000000
1|ebpf|1795240800|3600|7|0|0|0|7000000"
is "compact: hourly path links" \
	"$(q "$C" 'SELECT parent_edge_id, child_edge_id, method, window_start, width_s, count FROM path_links ORDER BY 4')" \
	"1|1|thread|1795237200|3600|11
1|1|thread|1795240800|3600|1"
is "compact: merged histogram is the direct merge, byte for byte" \
	"$(q "$C" 'SELECT hex(latency_hist) FROM edge_windows ORDER BY window_start')" \
	"$(q "$DIRECT" 'SELECT hex(latency_hist) FROM edge_windows ORDER BY window_start')"
gc --db "$C" graph -o json
[ "$OUT" = "$before_all" ] && ok "compact: graph over all windows unchanged" ||
	fail "compact: graph over all windows unchanged" "$(diff <(echo "$before_all") <(echo "$OUT"))"
gc --db "$C" graph --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z -o json
[ "$OUT" = "$before_h0" ] && ok "compact: graph over the rolled hour unchanged" ||
	fail "compact: graph over the rolled hour unchanged" "$(diff <(echo "$before_h0") <(echo "$OUT"))"
js "compact: quantiles of the rolled hour" '
e = edge("a", "b", "GET /x")
eq((e["requests"], e["p50_ms"], e["p90_ms"], e["p99_ms"]), (210, 1.008, 2.982, 5.046), "a->b")'
gc --db "$DIRECT" graph --since 2026-11-21T05:00:00Z --until 2026-11-21T06:00:00Z -o json
js "compact: direct merge has the same quantiles" '
e = edge("a", "b", "GET /x")
eq((e["requests"], e["p50_ms"], e["p90_ms"], e["p99_ms"]), (210, 1.008, 2.982, 5.046), "a->b")'
gc --db "$C" graph --since 2026-11-21T05:30:00Z --until 2026-11-21T06:00:00Z -o json
js "compact: an hourly window counts only when its start is in range" 'eq(doc["edges"], [], "edges")'

dump() { q "$1" 'SELECT * FROM edge_windows ORDER BY 1, 2, 3; SELECT * FROM path_links; SELECT * FROM edges; SELECT * FROM services; SELECT * FROM edge_sources'; }
d1=$(dump "$C")
rc "compact again: exit 0" 0 --db "$C" compact --now $NOW -o json
js "compact again: nothing to do (idempotent)" '
eq(sum(v for k, v in doc.items() if isinstance(v, int) and k not in ("rollup_after_s", "retention_s", "test_retention_s")), 0, "stats")'
is "compact again: rows unchanged" "$(dump "$C")" "$d1"

# late rows: one at the start of a rolled hour (adds into the hourly row,
# as the agent's upsert does), one inside it (a minute row until the next run)
mk "$C" <<'EOF'
window 1 1795237200 4 1 0 0 1000000*4
window 1 1795237620 6 0 0 0 2000000*6
EOF
is "late rows: the 05:00 one added into the hour, the 05:07 one a minute row" \
	"$(q "$C" 'SELECT window_start, width_s, requests, errors FROM edge_windows ORDER BY 1')" \
	"1795237200|3600|214|4
1795237620|60|6|0
1795240800|3600|7|0"
rc "late rows: compact exit 0" 0 --db "$C" compact --now $NOW -o json
js "late rows: one minute rolled into an existing hour" '
eq((doc["windows_rolled"], doc["hours_written"]), (1, 1), "stats")'
is "late rows: counted once, in their hour" \
	"$(q "$C" 'SELECT window_start, width_s, requests, errors FROM edge_windows ORDER BY 1')" \
	"1795237200|3600|220|4
1795240800|3600|7|0"
gc --db "$C" graph -o json
js "late rows: graph totals" '
e = edge("a", "b", "GET /x")
eq((e["requests"], e["errors"], e["p50_ms"], e["p99_ms"]), (227, 4, 1.008, 5.046), "a->b")'

rc "compact --rollup-after 1h on a fresh copy" 0 --db "$DIRECT" compact --now 2026-11-21T07:30:00Z --rollup-after 1h -o json
js "compact --rollup-after 1h at 07:30: the 05:00 hour rolls, the 06:00 one not yet" '
eq((doc["windows_rolled"], doc["hours_written"]), (1, 1), "only the 05:00 minute row; 06:00 is in the hour holding now - 1h")'

gc --db "$C" compact --now 2026-11-28T05:00:00Z -o table
is "compact table output" "$OUT" "compacted '$C' at 2026-11-28T05:00:00.000Z (roll-up after 24h, retention 7d)
rolled up:  0 minute windows into 0 hourly, 0 minute path links into 0 hourly
expired:    0 windows, 0 path links, 0 edge sources, 0 edges, 0 services
tests:      0 test runs expired (test retention 30d), 0 footprint rows"
# test runs: a learn run and a gate run, both old; the learn run is the baseline
cp "$C" "$work/tr.db"
sqlite3 "$work/tr.db" "INSERT INTO test_runs(id, kind, stack, started_ns) VALUES (1, 'learn', 'shop', 1), (2, 'gate', 'shop', 2);
	INSERT INTO footprints(run_id, test, client, server, protocol, operation, status, requests, errors)
	VALUES (1, 't', 'a', 'b', 'http', 'GET /', '200', 3, 0), (2, 't', 'a', 'b', 'http', 'GET /', '500', 1, 1)"
rc "compact --test-retention 1d: exit 0" 0 --db "$work/tr.db" compact --now 2026-11-28T05:00:00Z \
	--rollup-after never --retention never --test-retention 1d -o json
js "compact --test-retention: the old gate run and its footprint go, the baseline learn run stays" '
eq((doc["test_runs_expired"], doc["footprints_expired"], doc["test_retention_s"]), (1, 1, 86400), "stats")'
is "compact --test-retention: what is left" "$(q "$work/tr.db" "SELECT id FROM test_runs; SELECT run_id, status FROM footprints")" "1
1|200"
rc "retention: a week after 06:00 + 1h: the 05:00 hour expires" 0 --db "$C" compact --now 2026-11-28T06:00:00Z -o json
js "retention: one hour of windows and links gone, edges kept (still have windows)" '
eq((doc["windows_expired"], doc["links_expired"], doc["edges_expired"], doc["services_expired"]), (1, 1, 0, 0), "stats")'
rc "retention: 30 days on" 0 --db "$C" compact --now 2026-12-21T00:00:00Z -o json
js "retention: the rest expires; the schema edge stays" '
eq({k: doc[k] for k in ("windows_expired", "links_expired", "sources_expired", "edges_expired", "services_expired")},
   {"windows_expired": 1, "links_expired": 1, "sources_expired": 1, "edges_expired": 1, "services_expired": 1}, "stats")'
is "retention: what is left" \
	"$(q "$C" "SELECT count(*) FROM edge_windows; SELECT group_concat(name, ',') FROM (SELECT name FROM services ORDER BY name); SELECT protocol || ' ' || operation FROM edges; SELECT source FROM edge_sources")" \
	"0
a,s
http GET /schema
schema"

C2=$work/compact2.db
mk "$C2" <<<"$COMPACT_SPEC"
d2=$(dump "$C2")
rc "compact --rollup-after never --retention never: exit 0" 0 --db "$C2" compact --now 2027-01-01T00:00:00Z --rollup-after never --retention never -o json
js "compact never: echo null" 'eq((doc["rollup_after_s"], doc["retention_s"], doc["windows_rolled"]), (None, None, 0), "never")'
is "compact never: rows unchanged" "$(dump "$C2")" "$d2"

BADBLOB=$work/badblob.db
mk "$BADBLOB" <<'EOF'
service a service
service b service
edge a b http 0 0 GET /
window 1 1795237200 5 0 0 0 1000000*5
blob 1 1795237260 0205
EOF
d3=$(dump "$BADBLOB")
rc "compact with a malformed histogram exits 2" 2 --db "$BADBLOB" compact --now $NOW
err_is "compact malformed: message" "gatectl: cannot roll up windows: malformed latency histogram in '$BADBLOB'"
is "compact malformed: store unchanged" "$(dump "$BADBLOB")" "$d3"
rc "compact missing store exits 2" 2 --db "$work/nope.db" compact
err_is "compact missing store: message" "gatectl: cannot open '$work/nope.db': No such file or directory"
[ ! -e "$work/nope.db" ] && ok "compact missing store: not created" || fail "compact missing store: not created"
sqlite3 "$work/other.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
sum_other=$(sha256sum <"$work/other.db")
rc "compact non-faultline store exits 2" 2 --db "$work/other.db" compact
err_is "compact non-faultline: message" "gatectl: cannot open '$work/other.db': not a faultline store (schema version 0)"
is "compact non-faultline: file unchanged" "$(sha256sum <"$work/other.db")" "$sum_other"
rc "compact bad age exits 2" 2 --db "$C2" compact --retention 7w
err_is "compact bad age: message" "gatectl: invalid age '7w' for '--retention' (want a duration like 24h, 7d, or never)"

# ---- the agent compacts at its flush (no kernel: an empty replay) ------
AGENT=${AGENT:-build/faultline-agent}
AG=$work/agent.db
mk "$AG" <<'EOF'
service a service
service b service
service c service
edge a b http 0 0 GET /kept
edge a c http 0 0 GET /old
window 1 now-259200 5 0 0 0 1000000*5
window 1 now-93600 7 0 0 0 1000000*7
window 1 now-600 9 0 0 0 1000000*9
window 2 now-259200 3 0 0 0 1000000*3
EOF
printf 'FLREC01\n\0\0\0\0\0\0\0\0' >"$work/empty.rec"
if [ -x "$AGENT" ]; then
	agout=$("$AGENT" --replay "$work/empty.rec" --db "$AG" --stats --retention 2d 2>&1)
	is "agent: compaction at flush (--stats line)" "$(grep compacted <<<"$agout")" \
		"faultline-agent: compacted: 1 minute windows into 1 hourly, 2 windows expired, 1 edges expired, 0 test runs expired"
	is "agent: a rolled hour, a recent minute, the old edge and its service gone" \
		"$(q "$AG" "SELECT width_s, requests FROM edge_windows ORDER BY window_start; SELECT operation FROM edges; SELECT group_concat(name) FROM (SELECT name FROM services ORDER BY name)")" \
		"3600|7
60|9
GET /kept
a,b"
	"$AGENT" --retention 3x --db "$work/x.db" >/dev/null 2>&1
	[ $? -ne 0 ] && [ ! -e "$work/x.db" ] && ok "agent: a bad --retention is refused before anything" ||
		fail "agent: a bad --retention is refused before anything"
else
	fail "agent: compaction at flush" "$AGENT not built (make all)"
fi

# ---- genweek, small scale ---------------------------------------------
gw=$("$work/genweek" -s 4 -e 3 -d 2 "$work/gw.db" 2>&1)
is "genweek 3 edges 2 days: a day of minutes, then hours" \
	"$(cut -d' ' -f1-6 <<<"$gw")" "day 1: minute_rows 4320 hourly_rows 0
day 2: minute_rows 4320 hourly_rows 72"
is "genweek: requests conserved by the roll-up" \
	"$(q "$work/gw.db" 'SELECT (SELECT sum(requests) FROM edge_windows WHERE width_s = 3600) = (SELECT count(*) FROM edge_windows) * 0 + (SELECT sum(requests) FROM edge_windows WHERE width_s = 3600)')" "1"
gw=$("$work/genweek" -s 4 -e 3 -d 2 --retention 1d12h "$work/gw2.db" 2>&1)
is "genweek --retention 1d12h: 12 hours of each edge kept" \
	"$(tail -1 <<<"$gw" | cut -d' ' -f1-6)" "day 2: minute_rows 4320 hourly_rows 36"
gw=$("$work/genweek" -s 4 -e 3 -d 2 --no-compact "$work/gw3.db" 2>&1)
is "genweek --no-compact: every minute kept" \
	"$(tail -1 <<<"$gw" | cut -d' ' -f1-6)" "day 2: minute_rows 8640 hourly_rows 0"
is "genweek: compacted and uncompacted stores hold the same requests" \
	"$(q "$work/gw.db" 'SELECT sum(requests), sum(errors) FROM edge_windows')" \
	"$(q "$work/gw3.db" 'SELECT sum(requests), sum(errors) FROM edge_windows')"
gc --db "$work/gw.db" graph --since 2026-11-02T00:00:00Z --until 2026-11-03T00:00:00Z -o json; gw_h=$OUT
gc --db "$work/gw3.db" graph --since 2026-11-02T00:00:00Z --until 2026-11-03T00:00:00Z -o json
[ "$OUT" = "$gw_h" ] && ok "genweek: graph of the rolled-up day equals the minute one (quantiles too)" ||
	fail "genweek: graph of the rolled-up day equals the minute one" "$(diff <(echo "$gw_h") <(echo "$OUT") | head)"

# ---- diff --------------------------------------------------------------
DB=$work/graph.db
mk "$DB" <tests/gate/graph.spec
sum_db=$(sha256sum <"$DB")
H0=2026-11-21T05:00:00Z H1=2026-11-21T06:00:00Z H2=2026-11-21T07:00:00Z
R=(--since $H0 --until $H1 --vs-since $H1 --vs-until $H2)
rc "diff two hours: differences exit 1" 1 --db "$DB" diff "${R[@]}" -o json
js "diff two hours: missing edges, changed latency" '
eq((doc["a"], doc["b"]), ({"db": doc["a"]["db"], "since": "2026-11-21T05:00:00.000Z", "until": "2026-11-21T06:00:00.000Z"},
   {"db": doc["a"]["db"], "since": "2026-11-21T06:00:00.000Z", "until": "2026-11-21T07:00:00.000Z"}), "ranges")
eq(doc["counts"], {"new_edges": 0, "missing_edges": 2, "new_operations": 0, "missing_operations": 0,
   "changed": 2, "unchanged": 3, "too_few": 2}, "counts")
eq(keys(doc["missing_edges"]), [("api", "10.0.0.9:443", ""), ("batch", "pg",
   "INSERT INTO jobs (id, payload, created_at, owner, state, priority) VALUES (?, ?, ?, ?, ?, ?)")], "missing")
eq([(x["client"], x["server"], x["operation"], x["reasons"]) for x in doc["changed"]],
   [("api", "pg", "SELECT * FROM users WHERE id = ?", ["p99_up"]),
    ("web", "api", "GET /users/{id}", ["p99_down"])], "changed")
c = doc["changed"][0]
eq((c["a"]["p99_ms"], c["b"]["p99_ms"], c["p99_ratio"], c["p50_ratio"], c["z"]), (2.015, 5.046, 2.504065, 1.0, None), "api->pg")
c = doc["changed"][1]
eq((c["a"]["error_rate"], c["b"]["error_rate"], c["error_rate_change"], c["z"]),
   (0.01, 0.1, 0.09, round(0.09 / (0.055 * 0.945 * 0.02) ** 0.5, 3)), "z below 3: not flagged")
eq(doc["missing_edges"][1]["b"], None, "missing has no b side")
eq(doc["missing_edges"][1]["a"]["requests"], 30, "a side")
eq(doc["verdict"], "different", "verdict")'
rc "diff two hours --min-z 2.5: exit 1" 1 --db "$DB" diff "${R[@]}" --min-z 2.5 -o json
js "diff --min-z 2.5: the 1% -> 10% error rate is flagged, the 0% -> 1% one is not" '
eq([(x["operation"], x["reasons"]) for x in doc["changed"]],
   [("SELECT * FROM users WHERE id = ?", ["p99_up"]), ("GET /users/{id}", ["error_rate_up", "p99_down"])], "changed")
eq(doc["counts"]["unchanged"], 3, "api->auth (z 1.0) among the unchanged")'
rc "diff --max-latency-ratio 3 --min-z 5: only the missing edges" 1 --db "$DB" diff "${R[@]}" --max-latency-ratio 3 --min-z 5 -o json
js "diff thresholds: nothing changed" 'eq((doc["counts"]["changed"], doc["counts"]["unchanged"]), (0, 5), "counts")'
rc "diff a range with itself: same, exit 0" 0 --db "$DB" diff --since $H1 --until $H2 --vs-since $H1 --vs-until $H2
is "diff same: summary" "$(tail -1 <<<"$OUT")" "diff: same (0 new edges, 0 missing edges, 0 new operations, 0 missing operations, 0 changed edges; 5 unchanged, 2 too few to judge)"
rc "diff the reverse way: new edges" 1 --db "$DB" diff --since $H1 --until $H2 --vs-since $H0 --vs-until $H1 -o json
js "diff reverse: the missing ones are new" '
eq([len(doc[k]) for k in ("new_edges", "missing_edges", "changed")], [2, 0, 2], "counts")
eq(doc["new_edges"][0]["a"], None, "new has no a side")'

NA=$work/node-a.db NB=$work/node-b.db
mk "$NA" <<'EOF'
service x service
service y service
service z service
service db database
edge x y http 1795237200000000000 1795237260000000000 GET /a
edge x y http 1795237200000000000 1795237200000000000 GET /b
edge y db postgresql 1795237200000000000 1795237200000000000 SELECT ?
edge x z http 1795237200000000000 1795237200000000000 GET /gone
source 1 ebpf 1000 1795237200000000000 1795237260000000000
source 3 ebpf 500 1795237200000000000 1795237200000000000
window 1 1795237200 500 5 0 0 1000000*400 4000000*100
window 1 1795237260 500 5 0 0 1000000*500
window 2 1795237200 100 0 0 0 1000000*100
window 3 1795237200 500 0 0 0 1000000*500
window 4 1795237200 50 0 0 0 1000000*50
link 1 3 thread 1795237200 7
counter events 100 1795237200000000000
counter ringbuf_drops 1 1795237200000000000
EOF
mk "$NB" <<'EOF'
service x service
service y service
service w service
service db external
edge x y http 1795237100000000000 1795237200000000000 GET /a
edge y db postgresql 1795237200000000000 1795237300000000000 SELECT ?
edge x y http 1795237200000000000 1795237200000000000 GET /c
edge x w http 1795237200000000000 1795237200000000000 GET /new
source 1 ebpf 1000 1795237100000000000 1795237200000000000
source 2 ebpf 500 1795237200000000000 1795237300000000000
window 1 1795237200 1000 60 0 0 2000000*1000
window 2 1795237200 500 2 0 0 3000000*500
window 3 1795237200 10 0 0 0 1000000*10
window 4 1795237200 10 0 0 0 1000000*10
link 1 2 thread 1795237200 3
counter events 50 1795237300000000000
counter conn_opens 9 1795237300000000000
EOF
sum_na=$(sha256sum <"$NA") sum_nb=$(sha256sum <"$NB")
rc "diff two stores: exit 1" 1 --db "$NA" diff --vs-db "$NB" -o json
js "diff two stores: every kind of difference" '
eq((doc["a"]["since"], doc["b"]["until"], doc["b"]["db"].endswith("node-b.db")), (None, None, True), "ranges")
eq(keys(doc["new_edges"]), [("x", "w", "GET /new")], "new edges")
eq(keys(doc["missing_edges"]), [("x", "z", "GET /gone")], "missing edges")
eq(keys(doc["new_operations"]), [("x", "y", "GET /c")], "new operations")
eq(keys(doc["missing_operations"]), [("x", "y", "GET /b")], "missing operations")
eq([(x["operation"], x["reasons"]) for x in doc["changed"]],
   [("GET /a", ["error_rate_up", "p50_up", "p99_down"]), ("SELECT ?", ["p50_up", "p99_up"])], "changed")
c = doc["changed"][0]
eq((c["a"]["requests"], c["a"]["errors"], c["b"]["requests"], c["b"]["errors"], c["z"]), (1000, 10, 1000, 60, round(0.05 / (0.035 * 0.965 * 0.002) ** 0.5, 3)), "error test (pooled z)")
eq((c["p50_ratio"], c["p99_ratio"]), (round(2015232 / 1007616, 6), round(2015232 / 4030464, 6)), "GET /a: p50 doubled, p99 halved")
c = doc["changed"][1]
eq((c["z"], c["error_rate_change"]), (round(0.004 / (0.002 * 0.998 * 0.004) ** 0.5, 3), 0.004), "SELECT ?: 0 -> 2 errors in 500: not significant")'
rc "diff two stores table: exit 1" 1 --db "$NA" diff --vs-db "$NB"
cat >"$work/diff.txt" <<EOF
A  '$NA', windows [start, end)
B  '$NB', windows [start, end)

NEW EDGES (in B only; a new service pair)
CLIENT  SERVER  PROTO  OPERATION  REQS  ERR%  P50ms  P99ms
x       w       http   GET /new     10  0.00  1.008  1.008

MISSING EDGES (in A only; the service pair is gone)
CLIENT  SERVER  PROTO  OPERATION  REQS  ERR%  P50ms  P99ms
x       z       http   GET /gone    50  0.00  1.008  1.008

NEW OPERATIONS (in B only; a known service pair)
CLIENT  SERVER  PROTO  OPERATION  REQS  ERR%  P50ms  P99ms
x       y       http   GET /c       10  0.00  1.008  1.008

MISSING OPERATIONS (in A only; the service pair remains)
CLIENT  SERVER  PROTO  OPERATION  REQS  ERR%  P50ms  P99ms
x       y       http   GET /b      100  0.00  1.008  1.008

CHANGED (on both sides; significant error-rate or latency change)
CLIENT  SERVER  PROTO       OPERATION  A.REQS  B.REQS  A.ERR%  B.ERR%     Z  A.P50ms  B.P50ms  A.P99ms  B.P99ms  REASONS
x       y       http        GET /a       1000    1000    1.00    6.00  6.08    1.008    2.015    4.030    2.015  error_rate_up,p50_up,p99_down
y       db      postgresql  SELECT ?      500     500    0.00    0.40  1.42    1.008    2.982    1.008    2.982  p50_up,p99_up

diff: different (1 new edges, 1 missing edges, 1 new operations, 1 missing operations, 2 changed edges; 0 unchanged, 0 too few to judge)
EOF
same "diff two stores table: exact text" "$work/diff.txt"
rc "diff two stores, B over one minute" 1 --db "$NA" diff --vs-db "$NB" --vs-since 2026-11-21T05:01:00Z -o json
js "diff --vs-since on another store: B has nothing" '
eq((len(doc["missing_edges"]), len(doc["missing_operations"]), len(doc["new_edges"])), (4, 0, 0),
   "B empty: every service pair is gone, so all are missing edges")'

rc "diff without a second side exits 2" 2 --db "$DB" diff --since $H0
err_is "diff without a second side: message" "gatectl: diff needs a second store ('--vs-db FILE') or a second range ('--vs-since T')"
rc "diff --vs-db missing exits 2" 2 --db "$DB" diff --vs-db "$work/nope.db"
err_is "diff --vs-db missing: message" "gatectl: cannot open '$work/nope.db': No such file or directory"
rc "diff --vs-until before --vs-since exits 2" 2 --db "$DB" diff --vs-since $H1 --vs-until $H0
err_is "diff bad range: message" "gatectl: '--vs-until' must be after '--vs-since'"
rc "diff --max-latency-ratio 0.5 exits 2" 2 --db "$DB" diff --vs-since $H1 --max-latency-ratio 0.5
rc "diff -o dot exits 2" 2 --db "$DB" diff --vs-since $H1 -o dot
rc "diff on a malformed histogram exits 2" 2 --db "$BADBLOB" diff --vs-since 1h
rc "diff --help exits 0" 0 diff --help
[[ "$OUT" == "usage: gatectl diff "* && "$OUT" == *"examples:"* ]] && ok "diff --help: usage and examples" || fail "diff --help" "$OUT"

# ---- merge -------------------------------------------------------------
M=$work/merged.db
rc "merge two nodes: exit 0" 0 merge "$M" "$NA" "$NB" -o json
js "merge: rows read per input" '
eq([(i["schema"], i["services"], i["edges"], i["windows"], i["edge_sources"], i["path_links"], i["agent_counters"])
    for i in doc["inputs"]], [(7, 4, 4, 5, 2, 1, 2), (7, 4, 4, 4, 2, 1, 2)], "rows")'
[ "$(stat -c %a "$M")" = 600 ] && ok "merge: OUT mode 0600" || fail "merge: OUT mode 0600"
# the same traffic written into one store directly: windows with one start add up
UNION=$work/union.db
mk "$UNION" <<'EOF'
service x service
service y service
service z service
service db database
service w service
edge x y http 1795237100000000000 1795237260000000000 GET /a
edge x y http 1795237200000000000 1795237200000000000 GET /b
edge y db postgresql 1795237200000000000 1795237300000000000 SELECT ?
edge x z http 1795237200000000000 1795237200000000000 GET /gone
edge x y http 1795237200000000000 1795237200000000000 GET /c
edge x w http 1795237200000000000 1795237200000000000 GET /new
window 1 1795237200 500 5 0 0 1000000*400 4000000*100
window 1 1795237260 500 5 0 0 1000000*500
window 2 1795237200 100 0 0 0 1000000*100
window 3 1795237200 500 0 0 0 1000000*500
window 4 1795237200 50 0 0 0 1000000*50
window 1 1795237200 1000 60 0 0 2000000*1000
window 3 1795237200 500 2 0 0 3000000*500
window 5 1795237200 10 0 0 0 1000000*10
window 6 1795237200 10 0 0 0 1000000*10
EOF
gc --db "$UNION" graph -o json; union_graph=$OUT
gc --db "$M" graph -o json
[ "$OUT" = "$union_graph" ] && ok "merge: graph equals the store of all traffic (sums, quantiles, seen times)" ||
	fail "merge: graph equals the store of all traffic" "$(diff <(echo "$union_graph") <(echo "$OUT"))"
js "merge: the shared edge sums, its histogram is the merged distribution" '
e = edge("x", "y", "GET /a")
eq((e["requests"], e["errors"], e["p50_ms"], e["p90_ms"], e["p99_ms"]), (2000, 70, 2.015, 2.015, 4.03), "x->y GET /a")
e = edge("y", "db", "SELECT ?")
eq((e["requests"], e["errors"], e["p50_ms"], e["p99_ms"]), (1000, 2, 1.008, 2.982), "y->db")
eq({s["name"]: s["kind"] for s in doc["services"]}["db"], "database", "a protocol kind wins over external")'
is "merge: window rows, same start added" \
	"$(q "$M" "SELECT e.operation, w.source, w.window_start, w.width_s, w.requests FROM edge_windows w JOIN edges e ON e.id = w.edge_id ORDER BY 1, 3")" \
	"GET /a|ebpf|1795237200|60|1500
GET /a|ebpf|1795237260|60|500
GET /b|ebpf|1795237200|60|100
GET /c|ebpf|1795237200|60|10
GET /gone|ebpf|1795237200|60|50
GET /new|ebpf|1795237200|60|10
SELECT ?|ebpf|1795237200|60|1000"
is "merge: edge sources add samples, min first, max last" \
	"$(q "$M" "SELECT e.operation, s.source, s.samples, s.first_seen_ns, s.last_seen_ns FROM edge_sources s JOIN edges e ON e.id = s.edge_id ORDER BY 1")" \
	"GET /a|ebpf|2000|1795237100000000000|1795237260000000000
SELECT ?|ebpf|1000|1795237200000000000|1795237300000000000"
is "merge: path links and counters add up" \
	"$(q "$M" "SELECT p.operation || '>' || c.operation, l.count FROM path_links l JOIN edges p ON p.id = l.parent_edge_id JOIN edges c ON c.id = l.child_edge_id; SELECT name, value, updated_ns FROM agent_counters ORDER BY 1")" \
	"GET /a>SELECT ?|10
conn_opens|9|1795237300000000000
events|150|1795237300000000000
ringbuf_drops|1|1795237200000000000"
is "merge: inputs unchanged" "$(sha256sum <"$NA") $(sha256sum <"$NB")" "$sum_na $sum_nb"

rc "merge into an existing store adds (a sum, not a union)" 0 merge "$M" "$NA"
is "merge twice: node A counted twice" \
	"$(q "$M" "SELECT sum(requests) FROM edge_windows w JOIN edges e ON e.id = w.edge_id WHERE e.operation = 'GET /a'; SELECT value FROM agent_counters WHERE name = 'events'")" \
	"3000
250"
is "merge table output" "$OUT" "merged 1 store into '$M'
  $NA (schema 7): 4 services, 4 edges, 5 windows, 2 edge_sources, 1 path_links, 2 agent_counters, 0 imports, 0 operations, 0 edge_window_statuses"
rc "merge A A: exit 0" 0 merge "$work/twice.db" "$NA" "$NA"
is "merge A A: every count doubled" "$(q "$work/twice.db" 'SELECT sum(requests), sum(errors) FROM edge_windows; SELECT sum(count) FROM path_links')" "3300|20
14"
# schema 5: per-status rows are merged too, under OUT's cap of 16 per edge-window
cp "$NA" "$work/st.db"
sqlite3 "$work/st.db" "INSERT INTO edge_window_statuses SELECT edge_id, source, window_start, width_s, '200', requests - errors, 0 FROM edge_windows;
	INSERT INTO edge_window_statuses SELECT edge_id, source, window_start, width_s, '503', errors, errors FROM edge_windows WHERE errors > 0"
rc "merge statuses: exit 0" 0 merge "$work/st2.db" "$work/st.db" "$work/st.db"
is "merge statuses: doubled, per status" \
	"$(q "$work/st2.db" "SELECT status, sum(requests), sum(errors) FROM edge_window_statuses GROUP BY 1 ORDER BY 1")" \
	"$(q "$work/st.db" "SELECT status, 2 * sum(requests), 2 * sum(errors) FROM edge_window_statuses GROUP BY 1 ORDER BY 1")"

# older schemas: a version 2 store (no source/width, no edge_sources)
V2=$work/v2.db
sqlite3 "$V2" <<'EOF'
CREATE TABLE services (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL);
CREATE TABLE edges (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL REFERENCES services(id), server_id INTEGER NOT NULL REFERENCES services(id), protocol TEXT NOT NULL, operation TEXT NOT NULL, first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL, tls INTEGER NOT NULL DEFAULT 0, UNIQUE (client_id, server_id, protocol, operation));
CREATE TABLE edge_windows (edge_id INTEGER NOT NULL REFERENCES edges(id), window_start INTEGER NOT NULL, requests INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, client_errors INTEGER NOT NULL DEFAULT 0, conn_errors INTEGER NOT NULL DEFAULT 0, req_bytes INTEGER NOT NULL DEFAULT 0, resp_bytes INTEGER NOT NULL DEFAULT 0, latency_sum_ns INTEGER NOT NULL DEFAULT 0, latency_hist BLOB, PRIMARY KEY (edge_id, window_start)) WITHOUT ROWID;
CREATE TABLE agent_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL, updated_ns INTEGER NOT NULL);
INSERT INTO services VALUES (1, 'x', 'service', 0, 0), (2, 'y', 'service', 0, 0);
INSERT INTO edges VALUES (7, 1, 2, 'http', 'GET /a', 1795237000000000000, 1795237200000000000, 1);
INSERT INTO edge_windows VALUES (7, 1795237200, 5, 1, 0, 2, 0, 0, 0, NULL);
PRAGMA user_version = 2;
EOF
sum_v2=$(sha256sum <"$V2")
rc "merge a schema 2 store: exit 0" 0 merge "$work/m2.db" "$NA" "$V2" -o json
js "merge schema 2: read as it is" 'eq(doc["inputs"][1]["schema"], 2, "schema")'
is "merge schema 2: windows as ebpf minutes, an edge source as the migration makes it, tls kept" \
	"$(q "$work/m2.db" "SELECT w.source, w.width_s, w.requests FROM edge_windows w WHERE w.window_start = 1795237200 AND w.edge_id = (SELECT id FROM edges WHERE operation = 'GET /a'); SELECT s.samples, s.first_seen_ns FROM edge_sources s JOIN edges e ON e.id = s.edge_id WHERE e.operation = 'GET /a'; SELECT tls FROM edges WHERE operation = 'GET /a'")" \
	"ebpf|60|505
1007|1795237000000000000
1"
is "merge schema 2: input unchanged" "$(sha256sum <"$V2")" "$sum_v2"

# malformed inputs: exit 2, OUT as it was (or never created)
sum_m=$(sha256sum <"$M")
echo "not a database" >"$work/text.db"
cp "$NA" "$work/newer.db" && sqlite3 "$work/newer.db" 'PRAGMA user_version = 99'
for bad in text newer other badblob dir; do
	case $bad in
	text) in=$work/text.db want="gatectl: cannot open '$work/text.db': not a SQLite database" ;;
	newer) in=$work/newer.db want="gatectl: cannot open '$work/newer.db': schema version 99 is newer than this build (7)" ;;
	other) in=$work/other.db want="gatectl: cannot open '$work/other.db': not a faultline store (schema version 0)" ;;
	badblob) in=$BADBLOB want="gatectl: malformed latency histogram for edge 1 in '$BADBLOB'" ;;
	dir) in=$work want="gatectl: cannot open '$work': Is a directory" ;;
	esac
	rc "merge with a bad input ($bad) into an existing OUT exits 2" 2 merge "$M" "$NB" "$in"
	err_is "merge bad input ($bad): message" "$want"
	is "merge bad input ($bad): OUT unchanged" "$(sha256sum <"$M")" "$sum_m"
	rc "merge with a bad input ($bad) into a new OUT exits 2" 2 merge "$work/new-$bad.db" "$NB" "$in"
	[ -z "$(ls "$work" | grep "^new-$bad")" ] && ok "merge bad input ($bad): no OUT left behind" ||
		fail "merge bad input ($bad): no OUT left behind" "$(ls "$work")"
done
rc "merge OUT into itself exits 2" 2 merge "$M" "$NA" "$M"
err_is "merge OUT into itself: message" "gatectl: '$M' is both the output and an input"
rc "merge into a newer-schema OUT exits 2" 2 merge "$work/newer.db" "$NA"
rc "merge without inputs exits 2" 2 merge "$M"
err_is "merge without inputs: message" "gatectl: merge needs 'OUT IN...' (an output and at least one input)"
rc "merge --help exits 0" 0 merge --help
rc "compact --help exits 0" 0 compact --help

# ---- queries over rolled-up windows ------------------------------------
ROLLED=$work/rolled.db
mk "$ROLLED" <tests/gate/graph.spec
gc --db "$ROLLED" health --service api --since $H1 --until $H2 -o json; h_min=$OUT
gc --db "$ROLLED" graph --since $H0 --until $H2 -o json; g_min=$OUT
rc "compact the graph fixture (every hour rolled up)" 0 --db "$ROLLED" compact --now 2026-11-23T00:00:00Z --retention never -o json
js "compact the graph fixture: 18 minute windows into 17 hourly" '
eq((doc["windows_rolled"], doc["hours_written"]), (18, 17), "stats (web->api GET users: 05:00 and 05:01 share an hour)")'
gc --db "$ROLLED" health --service api --since $H1 --until $H2 -o json
[ "$OUT" = "$h_min" ] && ok "health over hourly windows: same verdicts and p50/p90/p99" ||
	fail "health over hourly windows" "$(diff <(echo "$h_min") <(echo "$OUT"))"
gc --db "$ROLLED" graph --since $H0 --until $H2 -o json
[ "$OUT" = "$g_min" ] && ok "graph over hourly windows: same p50/p90/p99" ||
	fail "graph over hourly windows" "$(diff <(echo "$g_min") <(echo "$OUT"))"

# ---- queries never write -----------------------------------------------
for cmd in "graph" "scope --changed api" "health --service api --since $H1 --until $H2" \
	   "blindspots" "diff --since $H0 --until $H1 --vs-since $H1" "diff --vs-db $NA"; do
	# shellcheck disable=SC2086
	gc --db "$DB" $cmd -o json
done
is "store byte-identical after graph, scope, health, blindspots, diff" "$(sha256sum <"$DB")" "$sum_db"
[ ! -e "$DB-wal" ] || [ ! -s "$DB-wal" ] && ok "no WAL content written by queries" || fail "no WAL content written by queries"
is "diff --vs-db leaves the other store byte-identical" "$(sha256sum <"$NA")" "$sum_na"

# ---- merge carries schema operations (import openapi) -------------------
OA=$work/openapi-a.db OM=$work/openapi-merged.db
rc "import openapi into a node store" 0 --db "$OA" import openapi tests/gate/openapi/api.json --service api
rc "merge a store with schema operations" 0 merge "$OM" "$OA"
gc --db "$OA" graph -o json
ops_a=$(/usr/bin/python3 -c 'import json,sys; print(sorted((o["service"], o["protocol"], o["operation"]) for o in json.load(sys.stdin)["operations"]))' <<<"$OUT")
gc --db "$OM" graph -o json
ops_m=$(/usr/bin/python3 -c 'import json,sys; print(sorted((o["service"], o["protocol"], o["operation"]) for o in json.load(sys.stdin)["operations"]))' <<<"$OUT")
[ -n "$ops_a" ] && [ "$ops_a" != "[]" ] && [ "$ops_a" = "$ops_m" ] &&
	ok "merge: schema-only operations carried over ($ops_m)" ||
	fail "merge: schema-only operations" "node: $ops_a merged: $ops_m"

echo "gatectl-store: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
