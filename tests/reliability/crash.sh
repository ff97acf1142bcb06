#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Crash and restart: the real agent (--flush-interval 1) watches a steady
# stream of Redis PINGs (crashgen.py, one per connection, each request's
# start and end logged) and is killed with SIGKILL at a random point of its
# flush cycle, CYCLES times, each time restarted on the same store. After
# every kill: `PRAGMA integrity_check` is ok, no collector program stays
# loaded, the next agent continues the same edge row, and what was lost is
# at most the unflushed interval: the requests of the last flush interval
# plus the ring-buffer poll (1 s + 0.5 s of slack) before the kill, never a
# request counted twice. A last agent stopped by SIGINT loses nothing.
#
# Port 21111 (block 21100-21199). Needs root. Prints "crash: N passed, N failed".
set -euo pipefail

SUITE=crash
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
rel=$root/tests/reliability

REDIS_PORT=21111
CYCLES=${CYCLES:-20}
FLUSH_S=1

it_require redis-server bpftool sqlite3 "$PY"

work=$(mktemp -d /tmp/faultline-crash.XXXXXX)
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
OTEL_SERVICE_NAME=crashgen "$PY" -u "$rel/crashgen.py" "$REDIS_PORT" "$work/go" \
	"$work/stop" "$work/requests" >"$work/gen.log" 2>&1 &
gen_pid=$!

stored() {
	sqlite3 "$db" "SELECT coalesce(sum(w.requests), 0) || ' ' || coalesce(min(e.id), 0) ||
		' ' || count(DISTINCT e.id) FROM edges e
		JOIN services c ON c.id = e.client_id JOIN services s ON s.id = e.server_id
		LEFT JOIN edge_windows w ON w.edge_id = e.id
		WHERE c.name = 'crashgen' AND s.name = 'redis-server' AND e.operation = 'PING'"
}
# start_agent LOG: the agent in the background; 0 once it said "ready"
start_agent() {
	: >"$1"
	"$agent" --db "$db" --flush-interval "$FLUSH_S" --no-tls >"$1" 2>&1 &
	agent_pid=$!
	for _ in $(seq 150); do
		grep -q ready "$1" && return 0
		kill -0 "$agent_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
collector_loaded() { bpftool prog show 2>/dev/null | grep -q 'tp_enter_connec'; }

integrity_fail=0 start_fail=0 unloaded_fail=0
: >"$work/cycles"
for i in $(seq "$CYCLES"); do
	if ! start_agent "$work/agent-$i.log"; then
		start_fail=$((start_fail + 1))
		echo "    cycle $i: agent did not start: $(tail -3 "$work/agent-$i.log")"
		kill -9 "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null || true
		continue
	fi
	ready_ns=$(date +%s%N)
	touch "$work/go"
	# a random point of the flush cycle: 1.00 to 3.00 s after ready
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1 + 2 * r / 32767 }')"
	kill_ns=$(date +%s%N)
	kill -9 "$agent_pid"
	rm -f "$work/go"
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
	for _ in $(seq 40); do collector_loaded || break; sleep 0.05; done
	collector_loaded && unloaded_fail=$((unloaded_fail + 1))
	ic=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1)
	[ "$ic" = ok ] || { integrity_fail=$((integrity_fail + 1)); echo "    cycle $i: integrity_check: $ic"; }
	echo "$i $ready_ns $kill_ns $(stored)" >>"$work/cycles"
	sleep 0.2	# the generator is idle: nothing is sent while no agent runs
done
[ "$start_fail" -eq 0 ] && ok "$CYCLES agents started on the store the last one left after SIGKILL" ||
	bad "$start_fail of $CYCLES restarts failed"
[ "$integrity_fail" -eq 0 ] && ok "PRAGMA integrity_check ok after each of $CYCLES kills" ||
	bad "integrity_check failed after $integrity_fail kills"
[ "$unloaded_fail" -eq 0 ] && ok "no collector program left loaded after a kill" ||
	bad "collector programs still loaded after $unloaded_fail kills"

# the last agent: stopped cleanly, it loses nothing
start_agent "$work/agent-last.log" || { bad "last agent did not start"; finish; exit 1; }
ready_ns=$(date +%s%N)
touch "$work/go"
sleep 2
rm -f "$work/go"
sleep 0.3
kill -INT "$agent_pid"
wait "$agent_pid" && ok "last agent exits 0 on SIGINT" || bad "last agent exit code $?"
agent_pid=
echo "last $ready_ns $(date +%s%N) $(stored)" >>"$work/cycles"
touch "$work/stop"
wait "$gen_pid" || bad "generator: $(cat "$work/gen.log")"
gen_pid=

if "$PY" - "$work/cycles" "$work/requests" "$FLUSH_S" >"$work/report" <<'EOF'; then
import sys
cycles = [l.split() for l in open(sys.argv[1])]
reqs = [tuple(map(int, l.split())) for l in open(sys.argv[2])]
flush_ns = int(float(sys.argv[3]) * 1e9)
slack_ns = 500_000_000          # ring-buffer poll (100 ms) and flush time
fails, prev, edge_ids, lost_all, lost_ms = 0, 0, set(), [], []
for c in cycles:
    name, ready, kill, total, eid, nedges = c[0], int(c[1]), int(c[2]), int(c[3]), int(c[4]), int(c[5])
    delta, prev = total - prev, total
    if nedges:
        edge_ids.add((eid, nedges))
    # sent while this agent ran: surely seen if answered before the kill,
    # perhaps seen if started before it
    sure = sum(1 for s, e in reqs if ready <= s and e < kill)
    maybe = sum(1 for s, e in reqs if ready <= s < kill)
    tail = sum(1 for s, e in reqs if kill - flush_ns - slack_ns <= s < kill)
    lost = sure - delta
    rate = sure / max((kill - ready) / 1e9, 1e-9)
    print("cycle %-4s ran %.2f s: sent %d, stored %d, lost %d (%.0f ms of traffic), bound %d"
          % (name, (kill - ready) / 1e9, sure, delta, max(lost, 0), 1000 * max(lost, 0) / max(rate, 1e-9), tail))
    if delta > maybe:
        print("  FAIL: stored more than was sent (%d > %d): counted twice" % (delta, maybe)); fails += 1
    if name == "last":
        if delta != sure:
            print("  FAIL: a clean stop lost %d" % (sure - delta)); fails += 1
    else:
        lost_all.append(max(lost, 0))
        lost_ms.append(1000 * max(lost, 0) / max(rate, 1e-9))
        if lost > tail:
            print("  FAIL: lost %d > the unflushed interval's %d" % (lost, tail)); fails += 1
if len(edge_ids) != 1 or next(iter(edge_ids))[1] != 1:
    print("  FAIL: the edge row changed across restarts: %s" % edge_ids); fails += 1
print("summary: %d kills, lost per kill min %d max %d mean %.1f requests; max %.0f ms of traffic"
      % (len(lost_all), min(lost_all), max(lost_all), sum(lost_all) / len(lost_all), max(lost_ms)))
sys.exit(1 if fails else 0)
EOF
	ok "losses at most the unflushed interval, nothing counted twice, one edge row throughout"
else
	bad "losses (see report)"
fi
sed 's/^/    /' "$work/report" | tail -"$((CYCLES + 6))"

finish
