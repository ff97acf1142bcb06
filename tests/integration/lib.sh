# shellcheck shell=bash
# Shared by the BPF integration suites; source it after setting SUITE, the
# name on the closing "SUITE: N passed, N failed" line. Provides the paths,
# the host lock, ok/bad/finish, it_require, it_cleanup (the EXIT trap) and
# starting/stopping the agent.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/integration
agent=$root/build/faultline-agent
gatectl=$root/build/gatectl
PY=/usr/bin/python3

# shellcheck source=../../tools/lib/servers.sh
. "$root/tools/lib/servers.sh"
fl_lock_host

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() {
	echo "$SUITE: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# it_require CMD...: root, the built binaries and each command, or one FAIL
# and exit: under CI=true as anywhere, a missing piece is a failure.
it_require() {
	if [ "$(id -u)" -ne 0 ]; then
		bad "needs root to load BPF programs (run: sudo make test)"
		finish; exit 1
	fi
	local c
	for c in "$agent" "$gatectl"; do
		[ -x "$c" ] || { bad "missing $c (run: make)"; finish; exit 1; }
	done
	for c in "$@"; do
		command -v "$c" >/dev/null ||
			{ bad "missing $c (run: tools/install-deps.sh)"; finish; exit 1; }
	done
}

# it_cleanup: the EXIT trap of every suite (`trap it_cleanup EXIT` once
# $work exists): stops the agent ($agent_pid) with SIGINT, runs the suite's
# own it_cleanup_extra if it defines one (namespaces, cgroups, peers), stops
# every server tools/lib/servers.sh started, and removes $work (kept and
# named with KEEP=1). A failing step never cuts the rest short.
it_cleanup() {
	set +e
	[ -n "${agent_pid:-}" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	declare -F it_cleanup_extra >/dev/null && it_cleanup_extra
	fl_stop_all
	if [ -n "${work:-}" ]; then
		[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
	fi
}

# it_agent_start OUT ERR ARG...: the agent with ARG... in the background,
# stdout to OUT and stderr to ERR (the same file is fine); sets agent_pid
# and waits (10 s at most) for its "ready" line: one ok, or one FAIL and
# exit. it_cleanup stops it if the suite ends early.
# FL_COLLECTOR=socket|syscall picks the collector path (run-all.sh runs the
# suites on both); unset: the agent's default for this kernel.
it_agent_start() {
	local out=$1 err=$2
	shift 2
	[ -n "${FL_COLLECTOR:-}" ] && set -- --collector "$FL_COLLECTOR" "$@"
	# FL_AGENT_RECORD=FILE: also record the raw events (debugging a suite)
	[ -n "${FL_AGENT_RECORD:-}" ] && set -- --record "$FL_AGENT_RECORD" "$@"
	if [ "$out" = "$err" ]; then
		"$agent" "$@" >"$out" 2>&1 &
	else
		"$agent" "$@" >"$out" 2>"$err" &
	fi
	agent_pid=$!
	for _ in $(seq 100); do
		grep -q "ready" "$err" && break
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q "ready" "$err"; then
		ok "agent loaded and attached"
	else
		bad "agent did not start: $(tail -20 "$err")"
		finish; exit 1
	fi
}

# it_agent_stop ERR: SIGINT, then its exit status checked (one ok or FAIL);
# the counters it prints at exit on ERR go to $work/counters, one
# NAME=VALUE a line.
it_agent_stop() {
	kill -INT "$agent_pid"
	wait "$agent_pid" && ok "agent exits 0 on SIGINT" || bad "agent exit code $?"
	agent_pid=
	sed -n 's/^faultline-agent: counters: //p' "$1" | tr ' ' '\n' >"$work/counters"
}
