#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Concurrency on one store: the real agent flushes every second under load
# (Redis PINGs, crashgen.py) while gatectl queries it every 100 ms (graph
# and blindspots, -o json), and a second writer, `gatectl import otlp`,
# writes the same store 10 times meanwhile. Asserts that no query and no
# import fails or says "locked"/"busy" (WAL: readers never wait; writers
# wait up to FL_STORE_BUSY_MS, docs/store.md "Concurrency"), that every
# answer parses, that the requests the graph shows never go down, that the
# agent had no store error, and that after a clean stop the store holds
# exactly the requests sent and all 10 imports.
#
# Port 21131 (block 21100-21199). Needs root. Prints "concurrency: N passed, N failed".
set -euo pipefail

SUITE=concurrency
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
rel=$root/tests/reliability

REDIS_PORT=21131
SECONDS_LOAD=${SECONDS_LOAD:-15}
IMPORTS=10

it_require redis-server sqlite3 "$PY"

work=$(mktemp -d /tmp/faultline-concurrency.XXXXXX)
chmod 755 "$work"
agent_pid= gen_pid=
cleanup() {
	set +e
	touch "$work/stop"
	[ -n "$gen_pid" ] && wait "$gen_pid" 2>/dev/null
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

fl_start_redis "$REDIS_PORT" "$work/redis"
db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1 --no-tls
OTEL_SERVICE_NAME=loadgen "$PY" -u "$rel/crashgen.py" "$REDIS_PORT" "$work/go" \
	"$work/stop" "$work/requests" >"$work/gen.log" 2>&1 &
gen_pid=$!
touch "$work/go"

# readers: every 100 ms, graph and blindspots, each answer kept
readers() {
	local i=0 end=$(($(date +%s) + SECONDS_LOAD))
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		"$gatectl" --db "$db" graph -o json >"$work/q/graph.$i" 2>"$work/q/graph.$i.err"
		echo $? >"$work/q/graph.$i.rc"
		"$gatectl" --db "$db" blindspots -o json >"$work/q/blind.$i" 2>"$work/q/blind.$i.err"
		echo $? >"$work/q/blind.$i.rc"
		sleep 0.1
	done
}
# the second writer: imports spread over the load
importer() {
	local i
	for i in $(seq "$IMPORTS"); do
		"$gatectl" --db "$db" import otlp "$root/tests/gate/otlp/traces.jsonl" \
			>"$work/q/import.$i" 2>"$work/q/import.$i.err"
		echo $? >"$work/q/import.$i.rc"
		sleep "$(awk -v s="$SECONDS_LOAD" -v n="$IMPORTS" 'BEGIN { printf "%.2f", s / n * 0.8 }')"
	done
}
mkdir -p "$work/q"
readers & rpid=$!
importer & ipid=$!
wait "$rpid" "$ipid"
rm -f "$work/go"
sleep 0.5
touch "$work/stop"
wait "$gen_pid" || bad "generator: $(cat "$work/gen.log")"
gen_pid=
sleep 1.5	# the ring buffer drained
it_agent_stop "$work/agent.log"

nq=$(ls "$work/q"/graph.*.rc | wc -l)
if "$PY" - "$work/q" "$work/requests" "$db" "$work/counters" "$IMPORTS" <<'EOF'; then
import glob, json, os, sqlite3, sys
q, reqs, db, counters, imports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
fails = 0
def fail(m):
    global fails
    fails += 1
    print("    " + m)
def rc(p):
    return int(open(p).read())
errs = [open(f).read() for f in glob.glob(q + "/*.err")]
bad = [e for e in errs if e.strip()]
if bad:
    fail("stderr of %d gatectl runs, e.g. %s" % (len(bad), bad[0].strip()[:200]))
if any("locked" in e or "busy" in e for e in errs):
    fail("'locked' or 'busy' reached the user")
n = len(glob.glob(q + "/graph.*.rc"))
seen, last = [], -1
for i in range(1, n + 1):
    for kind in ("graph", "blind"):
        if rc("%s/%s.%d.rc" % (q, kind, i)) != 0:
            fail("%s query %d exit %d" % (kind, i, rc("%s/%s.%d.rc" % (q, kind, i))))
            continue
        try:
            doc = json.load(open("%s/%s.%d" % (q, kind, i)))
        except ValueError as e:
            fail("%s query %d: not JSON: %s" % (kind, i, e)); continue
        if kind == "graph":
            r = sum(e["requests"] for e in doc["edges"] if e["client"] == "loadgen")
            if r < last:
                fail("query %d: loadgen requests went down %d -> %d" % (i, last, r))
            last = r
            seen.append(r)
for i in range(1, imports + 1):
    if rc("%s/import.%d.rc" % (q, i)) != 0:
        fail("import %d exit %d" % (i, rc("%s/import.%d.rc" % (q, i))))
c = dict(l.split("=") for l in open(counters).read().split() if "=" in l)
if c.get("store_errors") != "0":
    fail("agent store_errors=%s" % c.get("store_errors"))
sent = sum(1 for _ in open(reqs))
con = sqlite3.connect(db)
stored = con.execute("SELECT coalesce(sum(w.requests), 0) FROM edge_windows w JOIN edges e ON e.id = w.edge_id "
                     "JOIN services s ON s.id = e.client_id WHERE s.name = 'loadgen' AND e.operation = 'PING'").fetchone()[0]
nimp = con.execute("SELECT count(*) FROM imports WHERE kind = 'otlp'").fetchone()[0]
if stored != sent:
    fail("loadgen: stored %d, sent %d" % (stored, sent))
if nimp != imports:
    fail("imports rows %d, expected %d" % (nimp, imports))
print("    %d graph + %d blindspots queries, %d imports; loadgen requests seen rising %d -> %d; sent %d, stored %d"
      % (n, n, imports, seen[0] if seen else -1, seen[-1] if seen else -1, sent, stored))
sys.exit(1 if fails else 0)
EOF
	ok "$nq x 2 queries and $IMPORTS imports beside the flushing agent: none failed or locked; stored = sent"
else
	bad "concurrency (see above)"
fi
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] && ok "store integrity_check ok" || bad "integrity_check failed"

finish
