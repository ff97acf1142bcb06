#!/usr/bin/env bash
# gatectl deep on a small stack (tests/deep/stack/: Redis, two services in
# front of it, three tests), in a real sandbox with the real agent:
#  - refuse / reset / blackhole / latency +1 s on cart -> kv-redis fail
#    exactly the tests that cross that edge (cart_item, both_items), and the
#    sibling edge wish -> kv-redis stays clean in the same runs;
#  - latency +100 ms is absorbed (cart's Redis timeout is 500 ms);
#  - the cascade names the callers' edges (tests -> cart) with their errors;
#  - results are stored (schema 7) and select reads them;
#  - a SIGKILLed deep leaves a fault that the next `sandbox up` removes.
# Sandbox ports (inside its namespace): 17291-17293.
set -u
SUITE=deep
. "$(dirname "$0")/../integration/lib.sh"
it_require nft redis-server "$PY" sqlite3
"$PY" -c 'import redis' 2>/dev/null || { bad "missing python3-redis"; finish; exit 1; }

stack=$root/tests/deep/stack/stack.json
work=$(mktemp -d)
sd=$work/sb
db=$work/deep.db
ns=fl-deeptest
G() { "$gatectl" --db "$db" "$@"; }
cleanup() {
	pkill -KILL -f "gatectl --db $db deep" 2>/dev/null
	G sandbox down --stack "$stack" --state-dir "$sd" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

expect() { [ "$2" = "$3" ] && ok "$1: $2" || bad "$1: got '$2', want '$3'"; }
# jq-less JSON reads: py EXPR over the report in $work/r.json
py() { "$PY" -c "import json,sys; r=json.load(open('$work/r.json')); print($1)"; }

G learn --stack "$stack" --state-dir "$sd" >"$work/learn.out" 2>&1 ||
	{ bad "learn failed: $(tail -5 "$work/learn.out")"; finish; exit 1; }
ok "learn: $(grep -c . "$work/learn.out") lines"

G deep --stack "$stack" --state-dir "$sd" --edges 'cart->kv-redis' \
	--faults refuse,reset,blackhole,latency:1s:0ms,latency:100ms -o json >"$work/r.json" 2>"$work/deep.err"
expect "deep over cart -> kv-redis: exit 0" "$?" "0"
expect "five faults reported" "$(py 'len(r["faults"])')" "5"
for f in refuse reset blackhole latency:1s; do
	k=${f%%:*} p=${f#*:}; [ "$p" = "$f" ] && p=
	sel="[x for x in r['faults'] if x['fault']=='$k' and x['param']=='$p'][0]"
	expect "$f: outcome" "$(py "$sel['outcome']")" "detected"
	expect "$f: detected by exactly the tests crossing the edge" \
		"$(py "','.join(sorted($sel['detected_by']))")" "both_items,cart_item"
	expect "$f: tests run" "$(py "','.join(sorted($sel['tests_run']))")" "both_items,cart_item"
	expect "$f: the sibling wish -> kv-redis is not in the cascade" \
		"$(py "[c for c in $sel['cascade'] if c['client']=='wish']")" "[]"
	expect "$f: the callers' edge tests -> cart failed" \
		"$(py "sorted(set(c['client']+'->'+c['server'] for c in $sel['cascade'] if c['errors_rose']))")" \
		"['tests->cart']"
done
sel="[x for x in r['faults'] if x['param']=='100ms'][0]"
expect "latency 100ms: absorbed" "$(py "$sel['outcome']")" "absorbed"
expect "latency 100ms: no test failed" "$(py "$sel['detected_by']")" "[]"
expect "latency 100ms: evidence" "$(py "$sel['evidence']")" \
	"resilient: the edge slowed, its callers stayed within their timeouts"
expect "no blind spot on cart -> kv-redis" "$(py 'r["blind_spots"]')" "[]"
expect "tests: cart_item detected 4 of 5" \
	"$(py "[(t['faults_detected'], t['faults_run']) for t in r['tests'] if t['name']=='cart_item'][0]")" "(4, 5)"

# the sibling edge, on its own: wish's tests and no others
G deep --stack "$stack" --state-dir "$sd" --edges 'wish->kv-redis' --faults refuse -o json >"$work/r.json" 2>>"$work/deep.err"
expect "refuse on wish -> kv-redis: detected by" \
	"$(py "','.join(sorted(r['faults'][0]['detected_by']))")" "both_items,wish_item"

# stored: schema 7 rows of both runs
expect "fault_results rows" "$(sqlite3 "$db" 'SELECT count(*) FROM fault_results')" "6"
expect "fault_detections of cart_item" \
	"$(sqlite3 "$db" "SELECT count(*) FROM fault_detections WHERE test = 'cart_item'")" "4"

# feedback: select names the tests that catch the edge's faults, and ranks them higher
G select --stack "$stack" --changed cart -o json >"$work/r.json" 2>"$work/sel.err"
expect "select: exit 0" "$?" "0"
expect "select: faults of cart -> kv-redis caught by" \
	"$(py "sorted(set(t for e in r['affected'] if e['client']=='cart' and e['server']=='kv-redis' for t in e.get('faults_caught_by', [])))")" \
	"['both_items', 'cart_item']"
expect "select: cart_item carries the faults it caught" \
	"$(py "[t.get('faults_caught') for t in r['selected'] if t['name']=='cart_item']")" "[4]"

# table output: the matrix
G deep --stack "$stack" --state-dir "$sd" --edges 'cart->kv-redis' --faults refuse,latency:100ms >"$work/t.out" 2>>"$work/deep.err"
grep -q "^cart -> kv-redis  *D2  *A" "$work/t.out" && ok "table: cart -> kv-redis D2 A" ||
	bad "table matrix: $(cat "$work/t.out")"

# SIGKILL in the middle of a fault: the next `sandbox up` removes it
G deep --stack "$stack" --state-dir "$sd" --edges 'cart->kv-redis' --faults latency:1s:0ms >/dev/null 2>&1 &
dpid=$!
for _ in $(seq 100); do
	nsenter --net=/run/netns/$ns nft list tables 2>/dev/null | grep -q faultline_fault_ && break
	sleep 0.1
done
kill -KILL $dpid; wait $dpid 2>/dev/null
expect "a SIGKILLed deep left its fault" \
	"$(nsenter --net=/run/netns/$ns nft list tables | grep -c faultline_fault_)" "1"
G sandbox up --stack "$stack" --state-dir "$sd" >"$work/up.out" 2>&1
expect "sandbox up after it: exit 0" "$?" "0"
expect "no fault table left" "$(nsenter --net=/run/netns/$ns nft list tables | grep -c faultline_fault_)" "0"
pgrep -f "gatectl --db $db deep" >/dev/null && bad "a relay outlived the killed deep" ||
	ok "no relay outlived the killed deep"

# bad input
G deep --stack "$stack" --state-dir "$sd" --faults nope >"$work/e" 2>&1
expect "unknown fault: exit 2" "$?" "2"
G deep --stack "$stack" --state-dir "$sd" --edges 'nobody->*' >"$work/e" 2>&1
expect "an --edges filter matching nothing: exit 2" "$?" "2"

finish
