#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# demo.sh - the end-to-end demo behind `sudo make demo`, on the estate.
#
#  1. tools/estate/estate.py up: the 16-service shop from shop.json;
#  2. build/faultline-agent --db WORKDIR/faultline.db, waits for "ready";
#  3. tools/estate/loadgen.py: FL_DEMO_SECONDS (15) of production traffic at
#     FL_DEMO_RATE (20) requests/s, seed FL_DEMO_SEED (1);
#  4. stops the agent (SIGINT: it flushes the store), prints `gatectl graph`;
#  5. check_truth.py: the graph must equal, edge for edge and count for
#     count, the one rebuilt from the services' own CALL logs, nginx's access
#     log and loadgen's record (extra edges fail);
#  6. estate.py down (checks nothing is left).
#
# Exit 0 the graph matches, 1 it does not (or a step failed), 2 cannot run
# here. WORKDIR (FL_DEMO_WORKDIR, default a fresh /tmp/fl-demo.XXXXXX) keeps
# the store, graph.json, expected.json and every log. The old four-service
# demo is tools/demo/run-demo.sh (make demo-small).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/servers.sh
. "$ROOT/tools/lib/servers.sh"
PY=/usr/bin/python3
AGENT=${FL_AGENT:-$ROOT/build/faultline-agent}
GATECTL=${FL_GATECTL:-$ROOT/build/gatectl}
STACK=$HERE/shop.json
SECONDS_=${FL_DEMO_SECONDS:-15}
RATE=${FL_DEMO_RATE:-20}
SEED=${FL_DEMO_SEED:-1}

die2() { echo "demo: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die2 "must run as root (the agent loads BPF programs): sudo make demo"
[ -x "$AGENT" ] || die2 "$AGENT not built (run: make)"
[ -x "$GATECTL" ] || die2 "$GATECTL not built (run: make)"
"$PY" -c "import grpc, psycopg2, pymysql, redis" 2>/dev/null ||
	die2 "python3 modules missing (run: tools/install-deps.sh)"
fl_lock_host

WORKDIR=${FL_DEMO_WORKDIR:-$(mktemp -d /tmp/fl-demo.XXXXXX)}
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
chmod 755 "$WORKDIR"
STATE=$WORKDIR/st
DB=$WORKDIR/faultline.db
AGENT_PID=
UP=0
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$AGENT_PID" ]; then kill -INT "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; fi
	[ "$UP" = 1 ] && "$PY" "$HERE/estate.py" down --stack "$STACK" --state "$STATE" || true
	echo
	echo "demo: workdir $WORKDIR (store $DB; query: $GATECTL graph --db $DB)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { printf '\n==> %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

step "estate.py up (tools/estate/shop.json)"
"$PY" "$HERE/estate.py" up --stack "$STACK" --state "$STATE" || fail "the estate did not start"
UP=1

step "starting $AGENT --db $DB"
# --capture 8192: catalog's PostgreSQL answers exceed the default 1024 bytes,
# and a gap across PostgreSQL messages makes the agent give the connection up
"$AGENT" --db "$DB" --capture 8192 >"$WORKDIR/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 600); do
	grep -q ready "$WORKDIR/agent.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q ready "$WORKDIR/agent.log" || { tail -20 "$WORKDIR/agent.log"; fail "the agent did not start"; }
echo "agent ready (pid $AGENT_PID)"

step "loadgen: ${SECONDS_}s at ${RATE} req/s, seed $SEED"
since=$(date +%s%N)
LG_OK=1
OTEL_SERVICE_NAME=loadgen "$PY" "$HERE/loadgen.py" --stack "$STACK" --rate "$RATE" \
	--duration "$SECONDS_" --seed "$SEED" --calls "$WORKDIR/loadgen.calls" \
	--json "$WORKDIR/loadgen.json" || LG_OK=0
sleep 1.5
until_ns=$(date +%s%N)

step "stopping the agent (SIGINT)"
kill -INT "$AGENT_PID"
wait "$AGENT_PID" || fail "the agent exited with status $?"
AGENT_PID=

step "$GATECTL graph --db $DB"
"$GATECTL" graph --db "$DB" || fail "gatectl graph failed"
"$GATECTL" graph --db "$DB" -o json >"$WORKDIR/graph.json" || fail "gatectl graph -o json failed"

step "the agent's graph vs the estate's own logs (check_truth.py)"
TRUTH_OK=1
"$PY" "$HERE/check_truth.py" --stack "$STACK" --state "$STATE" --since "$since" \
	--until "$until_ns" --calls "$WORKDIR/loadgen.calls" --loadgen-json "$WORKDIR/loadgen.json" \
	--graph "$WORKDIR/graph.json" --expected-out "$WORKDIR/expected.json" || TRUTH_OK=0

step "estate.py down"
UP=0
"$PY" "$HERE/estate.py" down --stack "$STACK" --state "$STATE" || fail "the estate left something behind"

[ "$LG_OK" = 1 ] || fail "loadgen saw unexpected statuses"
[ "$TRUTH_OK" = 1 ] || fail "the recorded graph does not match the estate's logs"
echo
echo "demo: PASS - the agent's graph matches the estate's own record of every request"
