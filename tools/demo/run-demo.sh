#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run-demo.sh [--strict] - the end-to-end demo behind `sudo make demo`.
#
#  1. starts build/faultline-agent --db WORKDIR/faultline.db and waits (bounded)
#     for the line containing "ready" it prints once its probes are attached;
#  2. starts the demo shop (tools/demo/stack.sh start WORKDIR);
#  3. runs tools/demo/loadgen.py (34 requests, known statuses);
#  4. waits FL_DEMO_SETTLE seconds (1), stops the stack, checks the servers'
#     own logs against expected.json (tools/demo/check_logs.py: if THAT
#     fails, the demo environment is broken, not the agent);
#  5. stops the agent with SIGINT and waits for it (it flushes the store);
#  6. prints `gatectl graph` and compares `gatectl graph -o json` with
#     tools/demo/expected.json (tools/demo/check_graph.py; extra edges fail
#     only with --strict or FL_DEMO_STRICT=1).
#
# Exit: 0 the graph matches, 1 it does not (or a step failed), 2 cannot run
# here (not root, binaries missing, demo ports busy). Every process it starts
# is stopped on exit, also on Ctrl-C. WORKDIR (default a fresh
# /tmp/faultline-demo.XXXXXX; FL_DEMO_WORKDIR to choose) is kept with the
# store and all logs; its path is printed. Binaries: FL_AGENT, FL_GATECTL.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/servers.sh
. "$ROOT/tools/lib/servers.sh"
fl_lock_host

PY=/usr/bin/python3
AGENT=${FL_AGENT:-$ROOT/build/faultline-agent}
GATECTL=${FL_GATECTL:-$ROOT/build/gatectl}
EXPECTED=$HERE/expected.json
READY_TIMEOUT=${FL_AGENT_READY_TIMEOUT:-60}
STOP_TIMEOUT=${FL_AGENT_STOP_TIMEOUT:-60}
SETTLE=${FL_DEMO_SETTLE:-1}
STRICT=()
[ "${FL_DEMO_STRICT:-0}" = 1 ] && STRICT=(--strict)

for arg in "$@"; do
	case "$arg" in
	--strict) STRICT=(--strict) ;;
	-h | --help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--strict]" >&2; exit 2 ;;
	esac
done

step() { printf '\n==> %s\n' "$*"; }
die2() { echo "demo: $*" >&2; exit 2; }

# --- can we run here? ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die2 "must run as root (the agent loads BPF programs): sudo make demo"
[ -x "$AGENT" ] || die2 "$AGENT not built (run: make)"
[ -x "$GATECTL" ] || die2 "$GATECTL not built (run: make)"
[ -x "$PY" ] || die2 "$PY missing (apt-get install python3)"
for port in "${FL_DEMO_NGINX_PORT:-18080}" "${FL_DEMO_FRONTEND_PORT:-18081}" \
	"${FL_DEMO_CATALOG_PORT:-18082}" "${FL_DEMO_CART_PORT:-18083}" \
	"${FL_DEMO_PG_PORT:-15432}" "${FL_DEMO_REDIS_PORT:-16379}"; do
	_fl_port_free "$port" || die2 "demo port $port is busy; stop whatever listens there (ss -ltnp)"
done

if [ -n "${FL_DEMO_WORKDIR:-}" ]; then
	WORKDIR=$FL_DEMO_WORKDIR
	mkdir -p "$WORKDIR"
	[ -z "$(ls -A "$WORKDIR")" ] || die2 "FL_DEMO_WORKDIR=$WORKDIR is not empty"
	WORKDIR=$(cd "$WORKDIR" && pwd)
else
	WORKDIR=$(mktemp -d /tmp/faultline-demo.XXXXXX)
fi
chmod 755 "$WORKDIR"
DB=$WORKDIR/faultline.db
AGENT_PID=
STACK_STARTED=0

stop_agent() {
	# SIGINT, then wait (bounded) so that it flushes the store; sets AGENT_RC
	AGENT_RC=0
	[ -n "$AGENT_PID" ] || return 0
	if _fl_alive "$AGENT_PID"; then
		kill -INT "$AGENT_PID" 2>/dev/null || true
		local deadline=$((SECONDS + STOP_TIMEOUT))
		while _fl_alive "$AGENT_PID"; do
			if [ "$SECONDS" -ge "$deadline" ]; then
				echo "demo: agent did not exit ${STOP_TIMEOUT}s after SIGINT: SIGKILL" >&2
				kill -KILL "$AGENT_PID" 2>/dev/null || true
				break
			fi
			sleep 0.1
		done
	fi
	wait "$AGENT_PID" 2>/dev/null || AGENT_RC=$?
	AGENT_PID=
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$STACK_STARTED" = 1 ]; then
		"$HERE/stack.sh" stop "$WORKDIR" >/dev/null 2>&1 || true
	fi
	stop_agent
	fl_stop_all			# anything still registered in this shell
	rm -rf "$WORKDIR/postgres/data"	# the cluster itself is not needed afterwards
	echo
	echo "demo: workdir $WORKDIR (agent log: $WORKDIR/agent/faultline-agent.log)"
	if [ -e "$DB" ]; then
		echo "demo: store   $DB"
		echo "demo: query:  $GATECTL graph --db $DB"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

# --- 1. agent --------------------------------------------------------------
step "starting $AGENT --db $DB"
fl_start_cmd faultline-agent "$WORKDIR/agent" --signal INT --timeout "$READY_TIMEOUT" \
	--ready-text ready -- "$AGENT" --db "$DB" ||
	fail "the agent did not start (see above; timeout ${READY_TIMEOUT}s, FL_AGENT_READY_TIMEOUT)"
AGENT_PID=$FL_LAST_PID
echo "agent ready (pid $AGENT_PID)"

# --- 2. stack --------------------------------------------------------------
step "starting the demo stack in $WORKDIR"
STACK_STARTED=1
"$HERE/stack.sh" start "$WORKDIR" || fail "the demo stack did not start"

# --- 3. traffic ------------------------------------------------------------
step "loadgen"
LOADGEN_OK=1
env OTEL_SERVICE_NAME=loadgen "$PY" "$HERE/loadgen.py" \
	--port "${FL_DEMO_NGINX_PORT:-18080}" --json "$WORKDIR/loadgen.json" || LOADGEN_OK=0

# --- 4. stop the stack, ground truth from the servers' logs ------------------
sleep "$SETTLE"
step "stopping the demo stack"
"$HERE/stack.sh" stop "$WORKDIR"
STACK_STARTED=0
step "ground truth: the servers' own logs vs $EXPECTED"
TRUTH_OK=1
"$PY" "$HERE/check_logs.py" "$WORKDIR" --expected "$EXPECTED" \
	--json "$WORKDIR/logs-graph.json" >"$WORKDIR/check_logs.txt" 2>&1 || TRUTH_OK=0
if [ "$TRUTH_OK" = 1 ]; then
	echo "the servers saw exactly the expected traffic ($(tail -1 "$WORKDIR/check_logs.txt"))"
else
	cat "$WORKDIR/check_logs.txt"
	echo "demo: the stack itself did not produce the expected traffic (see above); the agent check below is not meaningful" >&2
fi

# --- 5. agent stop -----------------------------------------------------------
step "stopping the agent (SIGINT)"
stop_agent
if [ "$AGENT_RC" -ne 0 ]; then
	_fl_tail_log "$WORKDIR/agent/faultline-agent.log" 20
	fail "the agent exited with status $AGENT_RC"
fi
[ -e "$DB" ] || fail "the agent left no store at $DB"

# --- 6. the graph ------------------------------------------------------------
step "$GATECTL graph --db $DB"
"$GATECTL" graph --db "$DB" || fail "gatectl graph failed"
"$GATECTL" graph --db "$DB" -o json >"$WORKDIR/graph.json" ||
	fail "gatectl graph -o json failed"
step "comparing with $EXPECTED"
GRAPH_OK=1
"$PY" "$HERE/check_graph.py" ${STRICT[@]+"${STRICT[@]}"} "$EXPECTED" "$WORKDIR/graph.json" || GRAPH_OK=0

step "call-path links (gatectl paths --from loadgen)"
"$GATECTL" paths --db "$DB" --from loadgen | sed -n '1,6p'
LINKS_OK=1
"$PY" "$HERE/check_links.py" "$EXPECTED" "$DB" || LINKS_OK=0

[ "$LOADGEN_OK" = 1 ] || fail "loadgen saw unexpected statuses"
[ "$TRUTH_OK" = 1 ] || fail "the servers' logs do not match expected.json"
[ "$GRAPH_OK" = 1 ] || fail "the recorded graph does not match expected.json"
[ "$LINKS_OK" = 1 ] || fail "the recorded call-path links do not match expected.json"
echo
echo "demo: PASS - the agent's graph matches the expected edges and links"
