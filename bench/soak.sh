#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# soak.sh - the agent under the estate's production traffic for a long
# time (bench, not test: `make soak`, SOAK_SECONDS, default 300).
#
# The estate up (tools/estate/), the agent on a fresh store (--flush-interval
# 5, the default), loadgen.py at SOAK_RATE req/s for the whole run, and every
# 60 s a burst of redis-benchmark (SET/GET, -n 5000 each) on redis-cart and
# pgbench (-t 200 -c 2, select-only) on the estate's postgres. Every 10 s:
# the agent's RSS (VmRSS), open fds, the store's size (file + WAL) and its
# CPU (utime + stime) into bench/results/soak-<stamp>.tsv, plotted to
# bench/results/soak-<stamp>.png (gnuplot). At the end: the estate's graph
# from its own logs = the agent's, exactly (check_truth.py, the burst
# clients' edges set aside), each burst edge's count = what the tools sent,
# and ring-buffer drops 0. Holds the host lock for the whole run.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD
EST=$root/tools/estate STACK=$root/tools/estate/shop.json PY=/usr/bin/python3
agent=$root/build/faultline-agent gatectl=$root/build/gatectl
SECONDS_RUN=${SOAK_SECONDS:-300}
RATE=${SOAK_RATE:-20}
BURST_EVERY=${SOAK_BURST_EVERY:-60}
REDIS_N=5000 PG_T=200 PG_C=2
. tools/lib/servers.sh
fl_lock_host

for c in redis-benchmark pgbench gnuplot "$agent" "$gatectl"; do
	command -v "$c" >/dev/null || { echo "soak: missing $c (tools/install-deps.sh, make)" >&2; exit 2; }
done
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/soak-$stamp
work=$(mktemp -d /tmp/fl-soak.XXXXXX)
chmod 755 "$work"
state=$work/st agent_pid= up=0 lg_pid=
cleanup() {
	set +e
	[ -n "$lg_pid" ] && kill "$lg_pid" 2>/dev/null && wait "$lg_pid" 2>/dev/null
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ "$up" = 1 ] && "$PY" "$EST/estate.py" down --stack "$STACK" --state "$state" >/dev/null 2>&1
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
now_ns() { date +%s%N; }

"$PY" "$EST/estate.py" up --stack "$STACK" --state "$state" >"$work/up.txt" 2>&1 ||
	{ echo "soak: estate up failed: $(tail -5 "$work/up.txt")"; exit 1; }
up=1
pgport=$(sed -n 's/.*"postgres".*"port": *\([0-9]*\).*/\1/p' "$STACK" | head -1)
pgport=${pgport:-17032} redisport=17079
# pgbench's tables in a database of their own (not the shop's)
PGH=127.0.0.1
psql -X -q -h $PGH -p "$pgport" -U postgres -d postgres -c 'CREATE DATABASE soakbench' >/dev/null 2>&1 || true
pgbench -i -q -s 1 -h $PGH -p "$pgport" -U postgres soakbench >"$work/pgbench-init.txt" 2>&1 ||
	{ echo "soak: pgbench -i failed: $(tail -3 "$work/pgbench-init.txt")"; exit 1; }

db=$work/fl.db
"$agent" --db "$db" >"$work/agent.out" 2>"$work/agent.err" &
agent_pid=$!
for _ in $(seq 100); do grep -q ready "$work/agent.err" && break; sleep 0.1; done
grep -q ready "$work/agent.err" || { echo "soak: agent did not start: $(tail -5 "$work/agent.err")"; exit 1; }
since=$(now_ns)
OTEL_SERVICE_NAME=loadgen "$PY" "$EST/loadgen.py" --stack "$STACK" --rate "$RATE" \
	--duration "$SECONDS_RUN" --seed 18 --calls "$work/loadgen.calls" \
	--json "$work/loadgen.json" >"$work/loadgen.txt" 2>&1 &
lg_pid=$!

hz=$(getconf CLK_TCK)
printf 't_s\trss_kib\tfds\tstore_bytes\tcpu_s\n' >"$out.tsv"
sample() {
	local t=$1 rss fds size cpu stat
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agent_pid/status")
	fds=$(ls "/proc/$agent_pid/fd" | wc -l)
	size=$(( $(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
	stat=$(cat "/proc/$agent_pid/stat"); stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	cpu=$(awk -v u="${12}" -v s="${13}" -v hz="$hz" 'BEGIN { printf "%.2f", (u + s) / hz }')
	printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$rss" "$fds" "$size" "$cpu" >>"$out.tsv"
}
bursts=0 t0=$(date +%s)
next_burst=$BURST_EVERY
while kill -0 "$lg_pid" 2>/dev/null; do
	t=$(( $(date +%s) - t0 ))
	sample "$t"
	if [ "$t" -ge "$next_burst" ] && [ "$t" -lt $((SECONDS_RUN - 20)) ]; then
		redis-benchmark -h 127.0.0.1 -p "$redisport" -t set,get -n "$REDIS_N" -c 4 -q \
			>>"$work/redis-bench.txt" 2>&1
		pgbench -S -n -t "$PG_T" -c "$PG_C" -h $PGH -p "$pgport" -U postgres soakbench \
			>>"$work/pgbench.txt" 2>&1
		bursts=$((bursts + 1))
		next_burst=$((next_burst + BURST_EVERY))
	fi
	sleep 10
done
wait "$lg_pid" && lg_rc=0 || lg_rc=$?
lg_pid=
sleep 6		# a flush, the notification queue drained
until_ns=$(now_ns)
sample $(( $(date +%s) - t0 ))
kill -INT "$agent_pid"; wait "$agent_pid" || true
agent_pid=
sed -n 's/^faultline-agent: counters: //p' "$work/agent.err" | tail -1 | tr ' ' '\n' >"$work/counters"

"$gatectl" graph --db "$db" -o json >"$work/graph-all.json"
# the bursts' clients are checked here; the rest against the estate's logs
"$PY" - "$work/graph-all.json" "$work/graph.json" "$work/counters" $((bursts * REDIS_N)) \
	$((bursts * PG_T * PG_C)) >"$work/bursts.txt" <<'EOF' && burst_ok=1 || burst_ok=0
import json, sys
g = json.load(open(sys.argv[1]))
c = dict(l.split("=") for l in open(sys.argv[3]).read().split() if "=" in l)
want_redis, want_pg = int(sys.argv[4]), int(sys.argv[5])
burst = [e for e in g["edges"] if e["client"] in ("redis-benchmark", "pgbench")]
g["edges"] = [e for e in g["edges"] if e not in burst]
json.dump(g, open(sys.argv[2], "w"))
got = {}
for e in burst:
    got[(e["client"], e["operation"])] = got.get((e["client"], e["operation"]), 0) + e["requests"]
ok = True
for op in ("SET", "GET"):
    n = got.get(("redis-benchmark", op), 0)
    print("redis-benchmark %s: %d of %d" % (op, n, want_redis)); ok &= n == want_redis
sel = sum(n for (cl, op), n in got.items() if cl == "pgbench" and op.startswith("SELECT abalance"))
print("pgbench SELECT abalance: %d of %d" % (sel, want_pg)); ok &= sel == want_pg
print("ringbuf_drops=%s" % c.get("ringbuf_drops")); ok &= c.get("ringbuf_drops") == "0"
sys.exit(0 if ok else 1)
EOF
"$PY" "$EST/check_truth.py" --stack "$STACK" --state "$state" --since "$since" --until "$until_ns" \
	--calls "$work/loadgen.calls" --loadgen-json "$work/loadgen.json" --graph "$work/graph.json" \
	>"$work/truth.txt" 2>&1 && truth_ok=1 || truth_ok=0

gnuplot <<EOF
set terminal pngcairo size 1200,900 font ",10"
set output "$out.png"
set multiplot layout 2,2 title "faultline-agent soak: ${SECONDS_RUN} s, estate ${RATE} req/s + $bursts bursts (redis-benchmark, pgbench) - $stamp"
set xlabel "s"; set grid
set datafile separator "\t"
set title "RSS (MiB)"; plot "$out.tsv" using 1:(\$2/1024) every ::1 with linespoints notitle
set title "open fds"; plot "$out.tsv" using 1:3 every ::1 with linespoints notitle
set title "store + WAL (MiB)"; plot "$out.tsv" using 1:(\$4/1048576) every ::1 with linespoints notitle
set title "agent CPU (s, cumulative)"; plot "$out.tsv" using 1:5 every ::1 with linespoints notitle
unset multiplot
EOF

{
	echo "soak $stamp: ${SECONDS_RUN} s, loadgen ${RATE}/s (exit $lg_rc), $bursts bursts"
	echo "loadgen: $(head -1 "$work/loadgen.txt")"
	cat "$work/bursts.txt"
	grep -E 'expected edges|^check_truth' "$work/truth.txt" | head -3
	awk -F'\t' 'NR > 1 { if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2; f = $3; s = $4; c = $5; if (NR == 2) { r0 = $2; f0 = $3 } }
		END { printf "rss KiB: first %d min %d max %d last %d; fds first %d last %d; store %d bytes; cpu %.2f s\n", r0, min, max, $2, f0, f, s, c }' "$out.tsv"
	echo "samples: $(($(wc -l <"$out.tsv") - 1)) (every 10 s), plot $out.png"
	[ "$burst_ok" = 1 ] && [ "$truth_ok" = 1 ] && echo "soak: counts exact, drops 0" || echo "soak: MISMATCH"
} | tee "$out.txt"
[ "$burst_ok" = 1 ] && [ "$truth_ok" = 1 ]
