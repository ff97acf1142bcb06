#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# bench/run.sh - faultline's benchmark (`sudo make bench`, issue 6): what the
# agent costs real servers, what its userspace pipeline can carry, its
# memory with many live connections, its losses, and gatectl's query times
# on large graphs. Writes bench/results/latest.{md,json} and a dated copy
# of both, and prints the Markdown table. bench/README.md says what each
# number is and how it is measured.
#
#   sudo bench/run.sh            (after `make all bench-tools`; `sudo make bench` does both)
#
# Deterministic in what it runs: fixed workloads, counts, durations and
# order; the machine is not, so every figure is min/median/max over runs.
# Everything is on 127.0.0.1; every loop is bounded in count and time;
# every server, agent, tracer and helper it starts is stopped on exit (trap).
#
# Knobs (environment; the defaults are what results are committed with):
#   BENCH_PAIRS      (none, agent) pairs per workload, >= 3         (5)
#   BENCH_DURATION   seconds per wrk run                            (6)
#   BENCH_OUT        results folder                      (bench/results)
#   BENCH_KEEP=1     keep the work folder (raw logs) after the run
#   FL_AGENT, FL_GATECTL  binaries (default build/faultline-agent, build/gatectl)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
PAIRS=${BENCH_PAIRS:-5}
DUR=${BENCH_DURATION:-6}
OUT=${BENCH_OUT:-$ROOT/bench/results}
AGENT_SRC=${FL_AGENT:-$ROOT/build/faultline-agent}
GATECTL_SRC=${FL_GATECTL:-$ROOT/build/gatectl}
CONNHOLD=$ROOT/build/tools/bench/connhold
GENGRAPH=$ROOT/build/tools/bench/gengraph
FLOOR=$ROOT/build/tools/bench/floor

NGINX_PORT=18480
REDIS_PORT=18479
SERVER_CPU=1		# nginx and redis-server
LOAD_CPU=0		# wrk and redis-benchmark; agent and tcplife are not pinned
REDIS_N_P1=250000	# requests per redis-benchmark test, pipeline 1
REDIS_N_P16=2500000	# ... pipeline 16 (about the same seconds)
MEM_CONNS="10000 100000"
GATE_SERVICES="1000 10000"
GATE_EDGES=100000
GATE_WINDOWS=3
DEMO_LOAD_S=15
RUN_TIMEOUT=120		# upper bound of any single load run, seconds

say() { printf '[bench %4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- checks
[ "$(id -u)" -eq 0 ] || die "must run as root (BPF, PostgreSQL as user postgres): sudo make bench"
case "$PAIRS" in '' | *[!0-9]*) die "BENCH_PAIRS must be a number" ;; esac
case "$DUR" in '' | *[!0-9]*) die "BENCH_DURATION must be a number" ;; esac
[ "$PAIRS" -ge 3 ] || die "BENCH_PAIRS must be at least 3"
for f in "$AGENT_SRC" "$GATECTL_SRC" "$CONNHOLD" "$GENGRAPH" "$FLOOR"; do
	[ -x "$f" ] || die "$f not built (run: make all bench-tools, or sudo make bench)"
done
for c in wrk redis-benchmark redis-server nginx hyperfine tcplife taskset stdbuf ss bpftool; do
	command -v "$c" >/dev/null || die "'$c' not found (run: sudo tools/install-deps.sh)"
done
[ -x "$PY" ] || die "$PY not found"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (server and load generator are pinned apart)"

WORK=$(mktemp -d /tmp/faultline-bench.XXXXXX)
chmod 755 "$WORK"	# nginx workers (nobody) and postgres read in here
mkdir -p "$WORK/logs" "$WORK/db" "$WORK/bin" "$WORK/overhead" "$WORK/pipeline" \
	"$WORK/memory" "$WORK/gate" "$WORK/floor"

# shellcheck source=../tools/lib/servers.sh
. "$ROOT/tools/lib/servers.sh"
fl_lock_host
FL_WAIT_TIMEOUT=60
AGENT_PID=
BPF_STATS_WAS=
CONNHOLD_PID=
SAMPLER_PID=
DEMO_UP=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	exec 4>&-
	if [ -n "$SAMPLER_PID" ]; then
		kill "$SAMPLER_PID" 2>/dev/null || true
		wait "$SAMPLER_PID" 2>/dev/null || true
	fi
	if [ -n "$CONNHOLD_PID" ]; then
		kill -TERM "$CONNHOLD_PID" 2>/dev/null || true
		wait "$CONNHOLD_PID" 2>/dev/null || true
	fi
	if [ "$DEMO_UP" = 1 ]; then
		"$ROOT/tools/demo/stack.sh" stop "$WORK/demo" >>"$WORK/logs/demo-stack.log" 2>&1 || true
	fi
	fl_stop_all
	if [ -n "${BPF_STATS_WAS:-}" ]; then
		echo "$BPF_STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled || true
	fi
	if [ "$rc" -ne 0 ]; then
		say "FAILED (exit $rc); logs kept in $WORK"
	elif [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "raw logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The binaries measured, copied so that a rebuild during the run changes
# nothing; their hashes go into the results.
cp "$AGENT_SRC" "$WORK/bin/faultline-agent"
cp "$GATECTL_SRC" "$WORK/bin/gatectl"
AGENT=$WORK/bin/faultline-agent
GATECTL=$WORK/bin/gatectl

# ---------------------------------------------------------------- machine
# cpu_busy_pct: how busy all CPUs were over the next 2 s, percent (the
# benchmark itself is not running yet: anything here is someone else).
cpu_busy_pct() {
	local a b
	a=$(head -n1 /proc/stat)
	sleep 2
	b=$(head -n1 /proc/stat)
	printf '%s\n%s\n' "$a" "$b" | awk '
		{ idle[NR] = $5 + $6; tot[NR] = 0; for (i = 2; i <= NF; i++) tot[NR] += $i }
		END { t = tot[2] - tot[1]; printf "%.0f\n", t ? 100 * (t - (idle[2] - idle[1])) / t : 0 }'
}

machine_info() {
	local f=$WORK/machine.env
	{
		echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "nproc=$(nproc)"
		echo "model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "kernel=$(uname -r)"
		echo "mem_kib=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)"
		echo "commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
		echo "dirty_files=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)"
		echo "agent_sha256=$(sha256sum "$AGENT" | cut -c1-16)"
		echo "gatectl_sha256=$(sha256sum "$GATECTL" | cut -c1-16)"
		echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
		echo "redis=$(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/')"
		echo "wrk=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo unknown)"
		echo "libbpf_tools=$(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null || echo unknown)"
		echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "busy_pct_start=$(cpu_busy_pct)"
		echo "other_agents=$(pgrep -cx faultline-agent || true)"
		echo "pairs=$PAIRS"
		echo "server_cpu=$SERVER_CPU"
		echo "duration_s=$DUR"
		echo "redis_n_p1=$REDIS_N_P1"
		echo "redis_n_p16=$REDIS_N_P16"
		echo "demo_load_s=$DEMO_LOAD_S"
	} >"$f"
	if [ "$(pgrep -cx faultline-agent || true)" != 0 ]; then
		say "WARNING: another faultline-agent is running; it will see and slow this benchmark's traffic"
	fi
	if [ "$(awk -F= '$1 == "busy_pct_start" { print $2 }' "$f")" -ge 10 ]; then
		say "WARNING: the CPUs were $(awk -F= '$1 == "busy_pct_start" { print $2 }' "$f") % busy before the benchmark started: expect noisy numbers"
	fi
}

# ---------------------------------------------------------------- helpers
# cpu_ticks PID: utime + stime of PID, clock ticks (0 when gone).
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	# shellcheck disable=SC2086
	set -- ${stat##*) }
	echo $((${12} + ${13}))
}

# agent_start TAG [ARGS...]: a fresh agent (own store) that is attached
# and consuming; its log is $WORK/logs/agent-TAG.log.
agent_start() {
	local tag=$1
	shift
	rm -f "$WORK/db/agent-$tag.db"*
	fl_start_cmd "agent-$tag" "$WORK/logs" --signal INT --timeout 60 \
		--ready-text 'faultline-agent: ready' -- \
		"$AGENT" --db "$WORK/db/agent-$tag.db" "$@" ||
		die "the agent did not start (log: $WORK/logs/agent-$tag.log)"
	AGENT_PID=$FL_LAST_PID
	AGENT_TICKS0=$(cpu_ticks "$AGENT_PID")
	AGENT_CTX0=$(ctxsw "$AGENT_PID")
}

# agent_stop TAG: SIGINT, bounded wait, then its counters line must be in
# the log; the agent's CPU ticks while it ran go to agent-TAG.cpu.
agent_stop() {
	local tag=$1 i
	echo $(($(cpu_ticks "$AGENT_PID") - AGENT_TICKS0)) >"$WORK/logs/agent-$tag.cpu"
	echo "$AGENT_CTX0 $(ctxsw "$AGENT_PID")" | awk '{ print $3 - $1, $4 - $2 }' \
		>"$WORK/logs/agent-$tag.ctx"
	kill -INT "$AGENT_PID" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		say "agent $tag did not stop in 60 s: SIGKILL"
		kill -KILL "$AGENT_PID" 2>/dev/null || true
	fi
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	grep -q 'faultline-agent: counters:' "$WORK/logs/agent-$tag.log" ||
		die "agent $tag printed no counters (log: $WORK/logs/agent-$tag.log)"
}

# tracer_start TAG: libbpf-tools tcplife, attached (its header is printed
# after attach).
tcplife_start() {
	fl_start_cmd "tcplife-$1" "$WORK/logs" --signal INT --timeout 60 \
		--ready-text 'LADDR' -- stdbuf -oL tcplife ||
		die "tcplife did not start (log: $WORK/logs/tcplife-$1.log)"
	TRACER_PID=$FL_LAST_PID
}

tcplife_stop() {
	local i
	kill -INT "$TRACER_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$TRACER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TRACER_PID" 2>/dev/null || true
	wait "$TRACER_PID" 2>/dev/null || true
}

# load WORKLOAD SECONDS OUT: one run of the load generator, pinned; the
# command is prefixed with the words of LOAD_WRAP (a profiler), if any.
LOAD_WRAP=()
load() {
	local wl=$1 d=$2 out=$3 n
	case $wl in
	nginx-small | nginx-64k)
		timeout "$RUN_TIMEOUT" ${LOAD_WRAP[@]+"${LOAD_WRAP[@]}"} \
			taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"${d}s" \
			--latency "http://127.0.0.1:$NGINX_PORT/${wl#nginx-}" >"$out" 2>&1
		;;
	redis-p1 | redis-p16)
		n=$REDIS_N_P1
		[ "$wl" = redis-p16 ] && n=$REDIS_N_P16
		# the warm-up run (d=0) is a tenth
		[ "$d" = 0 ] && n=$((n / 10))
		timeout "$RUN_TIMEOUT" ${LOAD_WRAP[@]+"${LOAD_WRAP[@]}"} \
			taskset -c "$LOAD_CPU" redis-benchmark \
			-h 127.0.0.1 -p "$REDIS_PORT" -c 32 -n "$n" -P "${wl#redis-p}" \
			-t set,get -d 64 -r 100000 --csv >"$out" 2>"$out.err"
		;;
	*) die "unknown workload $wl" ;;
	esac
}

# ---------------------------------------------------------------- 1. overhead + 4. loss
servers_start() {
	local d=$WORK/nginx
	mkdir -p "$d/www"
	head -c 100 /dev/zero | tr '\0' 'x' >"$d/www/small"
	head -c 65536 /dev/zero | tr '\0' 'y' >"$d/www/64k"
	chmod 755 "$d" "$d/www"
	chmod 644 "$d/www/small" "$d/www/64k"
	# pinned by inheritance: this shell runs on SERVER_CPU while they start
	taskset -pc "$SERVER_CPU" $$ >/dev/null
	fl_start_nginx "$NGINX_PORT" "$d" "$ROOT/bench/nginx.conf.in" || die "nginx did not start"
	NGINX_WORKER=$(pgrep -P "$FL_LAST_PID" | head -n1)
	[ -n "$NGINX_WORKER" ] || die "no nginx worker process"
	fl_start_redis "$REDIS_PORT" "$WORK/redis" || die "redis did not start"
	REDIS_PID=$FL_LAST_PID
	taskset -pc "0-$(($(nproc) - 1))" $$ >/dev/null
}

# ctxsw PID: "voluntary nonvoluntary" context switches of PID so far.
ctxsw() {
	awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 }
		END { print v + 0, n + 0 }' "/proc/$1/status" 2>/dev/null || echo "0 0"
}

# run_one WL TAG: one measured load run; wall time to TAG.wall, context
# switches during it to TAG.ctx: "server_vol server_invol machine_total"
# (the last from /proc/stat, every CPU).
run_one() {
	local wl=$1 tag=$2 t0 spid c0 c1
	spid=$NGINX_WORKER
	[ "$wl" = "${wl#redis}" ] || spid=$REDIS_PID
	c0="$(ctxsw "$spid") $(awk '$1 == "ctxt" { print $2 }' /proc/stat)"
	t0=$(date +%s.%N)
	load "$wl" "$DUR" "$WORK/overhead/$tag.out" ||
		die "load run $tag failed (output: $WORK/overhead/$tag.out)"
	awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }' \
		>"$WORK/overhead/$tag.wall"
	c1="$(ctxsw "$spid") $(awk '$1 == "ctxt" { print $2 }' /proc/stat)"
	echo "$c0 $c1" | awk '{ print $4 - $1, $5 - $2, $6 - $3 }' >"$WORK/overhead/$tag.ctx"
}

# cpu_sampler PID OUT: every 50 ms until killed, the CPU that PID's main
# thread (the agent's ring-buffer consumer) last ran on, one a line. The
# agent is not pinned: on the server's CPU it costs the server more than
# its CPU time (the load generator then idles), so the report shows where
# it ran in each pair. Shell builtins only: a process started per sample
# would be traced by the agent and cost it work (an exec is looked at for
# TLS libraries), which a first version showed in the figures.
cpu_sampler() {
	local stat f
	mkfifo "$2.never"
	exec 9<>"$2.never"	# never readable: read -t on it is a sleep
	while read -r stat <"/proc/$1/stat" 2>/dev/null; do
		stat=${stat##*) }
		read -ra f <<<"$stat"
		echo "${f[36]}"
		read -r -t 0.05 -u 9 || true
	done >"$2"
}

# bpf_prog_stats PID OUT: run_cnt and run_time_ns of each BPF program PID
# holds (its fdinfo), with the program's name, one "id name runs ns" a line.
bpf_prog_stats() {
	local ids
	ids=$(grep -h '^prog_id:' "/proc/$1/fdinfo/"* 2>/dev/null | awk '{ print $2 }' | sort -un)
	bpftool prog show -j 2>/dev/null | "$PY" -c '
import json, sys
ids = set(int(x) for x in sys.argv[1:])
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("name", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
' $ids >"$2"
}

# profile_live WL: one more agent run of WL, not counted in the overhead
# table, with kernel.bpf_stats_enabled=1 (the time spent in each BPF
# program) and a system-wide perf record (where both CPUs' time goes).
# With COLLECTOR (socket|syscall) the agent runs that path, tagged
# WL-profile-COLLECTOR: the per-program ns of both paths side by side.
profile_live() {
	local wl=$1 path=${2:-} tag=$1-profile d=$WORK/overhead
	command -v perf >/dev/null && command -v bpftool >/dev/null || return 0
	[ -n "$path" ] && tag=$tag-$path
	say "overhead: $wl: one profiled agent run${path:+ ($path collector)} (BPF run-time stats, perf record -a)"
	BPF_STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled)
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	agent_start "$tag" ${path:+--collector "$path"}
	LOAD_WRAP=(perf record -q -a -g -F 499 -o "$d/$tag.perf.data" --)
	run_one "$wl" "$tag"
	LOAD_WRAP=()
	bpf_prog_stats "$AGENT_PID" "$d/$tag.bpfstats"
	agent_stop "$tag"
	echo "$BPF_STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled
	BPF_STATS_WAS=
	perf report -i "$d/$tag.perf.data" --no-children --stdio -g none \
		--sort comm >"$d/$tag.perf-comm.txt" 2>/dev/null
	perf report -i "$d/$tag.perf.data" --no-children --stdio -g none \
		--sort comm,dso,sym --percent-limit 0.7 >"$d/$tag.perf-sym.txt" 2>/dev/null
	rm -f "$d/$tag.perf.data"
}

overhead() {
	local wl r cond tag
	for wl in nginx-small nginx-64k redis-p1 redis-p16; do
		say "overhead: $wl: warm-up, then $PAIRS rounds of none, agent, tcplife"
		case $wl in
		nginx-*) load "$wl" 2 "$WORK/overhead/$wl-warmup.out" ;;
		redis-*) load "$wl" 0 "$WORK/overhead/$wl-warmup.out" ;;
		esac
		for ((r = 1; r <= PAIRS; r++)); do
			for cond in none agent tcplife; do
				tag=$wl-$r-$cond
				case $cond in
				agent)
					agent_start "$tag"
					cpu_sampler "$AGENT_PID" "$WORK/overhead/$tag.cpus" &
					SAMPLER_PID=$!
					;;
				tcplife) tcplife_start "$tag" ;;
				esac
				run_one "$wl" "$tag"
				case $cond in
				agent)
					kill "$SAMPLER_PID" 2>/dev/null || true
					wait "$SAMPLER_PID" 2>/dev/null || true
					SAMPLER_PID=
					agent_stop "$tag"
					;;
				tcplife) tcplife_stop ;;
				esac
			done
		done
		case $wl in nginx-small | redis-p1) profile_live "$wl"; profile_live "$wl" syscall ;; esac
	done
}

# ---------------------------------------------------------------- 0. floor
# floor: what the hook points alone cost nginx-small (issue 13): PAIRS
# rounds of no BPF, the socket path's hooks and the syscall path's hooks,
# each program only counting (tools/bench/floor). Not the agent.
floor() {
	local r cond tag
	say "floor: nginx-small, $PAIRS rounds of none, empty socket hooks, empty syscall hooks"
	load nginx-small 2 "$WORK/floor/warmup.out"
	for ((r = 1; r <= PAIRS; r++)); do
		for cond in none socket syscall; do
			tag=nginx-small-$r-$cond
			if [ "$cond" != none ]; then
				fl_start_cmd "floor-$tag" "$WORK/logs" --signal INT --timeout 30 \
					--ready-text 'floor: ready' -- "$FLOOR" "$cond" ||
					die "floor $cond did not start (log: $WORK/logs/floor-$tag.log)"
				FLOOR_PID=$FL_LAST_PID
			fi
			load nginx-small "$DUR" "$WORK/floor/$tag.out" ||
				die "floor run $tag failed (output: $WORK/floor/$tag.out)"
			if [ "$cond" != none ]; then
				kill -INT "$FLOOR_PID" 2>/dev/null || true
				wait "$FLOOR_PID" 2>/dev/null || true
			fi
		done
	done
}

# ---------------------------------------------------------------- 2. pipeline
# replay_n TAG FILE N: N replays of FILE, each into a fresh store.
replay_n() {
	local tag=$1 file=$2 n=$3 i
	for ((i = 1; i <= n; i++)); do
		rm -f "$WORK/db/replay.db"*
		timeout "$RUN_TIMEOUT" "$AGENT" --replay "$file" --db "$WORK/db/replay.db" \
			>"$WORK/pipeline/$tag-replay-$i.log" 2>&1 ||
			die "replay $tag $i failed (log: $WORK/pipeline/$tag-replay-$i.log)"
	done
	ss -tan state time-wait | tail -n +2 | wc -l >"$WORK/pipeline/$tag.timewait"
}

# perf_replay TAG: one more replay of the demo recording under perf record
# (dwarf call graphs), reported as self time by symbol and DSO and as
# inclusive time; skipped when perf is not installed.
perf_replay() {
	local tag=$1 d=$WORK/pipeline
	command -v perf >/dev/null || return 0
	say "pipeline: one more replay ($tag) under perf record --call-graph dwarf"
	rm -f "$WORK/db/replay.db"*
	timeout "$RUN_TIMEOUT" perf record -q -F 10000 --call-graph dwarf \
		-o "$d/$tag.perf.data" -- \
		"$AGENT" --replay "$d/demo.rec" --db "$WORK/db/replay.db" \
		>"$d/$tag-perf-replay.log" 2>&1 || die "perf record failed (log: $d/$tag-perf-replay.log)"
	perf report -i "$d/$tag.perf.data" --no-children --stdio -g none \
		--sort dso,sym --percent-limit 1 >"$d/$tag-perf-self.txt" 2>/dev/null
	perf report -i "$d/$tag.perf.data" --children --stdio -g none \
		--sort dso,sym --percent-limit 2 >"$d/$tag-perf-children.txt" 2>/dev/null
	perf report -i "$d/$tag.perf.data" --no-children --stdio -g none \
		--sort dso >"$d/$tag-perf-dso.txt" 2>/dev/null
	rm -f "$d/$tag.perf.data"
}

pipeline_nginx() {
	say "pipeline: recording nginx keep-alive (wrk, 100 B, 2 s)"
	agent_start rec-nginx --record "$WORK/pipeline/nginx.rec"
	load nginx-small 2 "$WORK/pipeline/nginx-load.out"
	agent_stop rec-nginx
	stat -c %s "$WORK/pipeline/nginx.rec" >"$WORK/pipeline/nginx.size"
	replay_n nginx "$WORK/pipeline/nginx.rec" 3
}

pipeline_demo() {
	local lg=$ROOT/tools/demo/loadgen.py
	say "pipeline: demo stack up"
	FL_DEMO_MONITOR=0 "$ROOT/tools/demo/stack.sh" start "$WORK/demo" \
		>"$WORK/logs/demo-stack.log" 2>&1 || die "demo stack did not start (log: $WORK/logs/demo-stack.log)"
	DEMO_UP=1
	say "pipeline: recording the demo under load (loadgen.py once, then wrk -c8 ${DEMO_LOAD_S}s on bench/demo-mix.lua)"
	agent_start rec-demo --record "$WORK/pipeline/demo.rec"
	timeout 90 "$PY" "$lg" --deadline 60 >"$WORK/pipeline/demo-loadgen.out" 2>&1 || true
	timeout "$RUN_TIMEOUT" wrk -t1 -c8 -d"${DEMO_LOAD_S}s" --latency \
		-s "$ROOT/bench/demo-mix.lua" "http://127.0.0.1:18080" \
		>"$WORK/pipeline/demo-load.out" 2>&1 || die "demo load failed"
	agent_stop rec-demo
	stat -c %s "$WORK/pipeline/demo.rec" >"$WORK/pipeline/demo.size"
	say "pipeline: 3 replays of the demo recording (its processes still alive)"
	replay_n demo "$WORK/pipeline/demo.rec" 3
	perf_replay demo
	"$ROOT/tools/demo/stack.sh" stop "$WORK/demo" >>"$WORK/logs/demo-stack.log" 2>&1 || true
	DEMO_UP=0
	say "pipeline: 3 replays of the demo recording after its processes exited"
	replay_n demo-gone "$WORK/pipeline/demo.rec" 3
	perf_replay demo-gone
}

# ---------------------------------------------------------------- 3. memory
# settle: wait until the agent has used no CPU for 1 s (it has drained the
# ring buffer), at most 30 s.
settle() {
	local last now still=0 i
	last=$(cpu_ticks "$AGENT_PID")
	for ((i = 0; i < 60 && still < 2; i++)); do
		sleep 0.5
		now=$(cpu_ticks "$AGENT_PID")
		if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$now
	done
}

rss_snapshot() {
	awk '/^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):/ { printf "%s=%s\n", $1, $2 }' \
		"/proc/$AGENT_PID/status" | tr -d ':' >"$1"
}

memory() {
	local n i
	for n in $MEM_CONNS; do
		say "memory: agent with $n live connections (tools/bench/connhold)"
		agent_start "mem-$n" --max-conns $((2 * n + 65536))  # both ends of each
		sleep 1
		rss_snapshot "$WORK/memory/$n.idle"
		rm -f "$WORK/memory/hold.fifo"
		mkfifo "$WORK/memory/hold.fifo"
		"$CONNHOLD" -n "$n" --hold 180 <"$WORK/memory/hold.fifo" \
			>"$WORK/memory/$n.connhold" 2>&1 &
		CONNHOLD_PID=$!
		exec 4>"$WORK/memory/hold.fifo"
		for ((i = 0; i < 1200; i++)); do
			grep -q 'ready' "$WORK/memory/$n.connhold" && break
			kill -0 "$CONNHOLD_PID" 2>/dev/null ||
				die "connhold failed: $(cat "$WORK/memory/$n.connhold")"
			sleep 0.1
		done
		grep -q 'ready' "$WORK/memory/$n.connhold" || die "connhold not ready after 120 s"
		settle
		rss_snapshot "$WORK/memory/$n.held"
		exec 4>&-
		wait "$CONNHOLD_PID" || true
		CONNHOLD_PID=
		agent_stop "mem-$n"
	done
}

# ---------------------------------------------------------------- 5. gate queries
gate() {
	local s db tag probe name
	for s in $GATE_SERVICES; do
		tag=$((s / 1000))k
		db=$WORK/gate/$tag.db
		say "gate: generating $s services, $GATE_EDGES edges, $GATE_WINDOWS windows each"
		"$GENGRAPH" -s "$s" -e "$GATE_EDGES" -w "$GATE_WINDOWS" "$db" >"$WORK/gate/$tag.gen"
		say "gate: timing graph and scope on $tag (hyperfine, 1 warm-up + 5 runs)"
		hyperfine -N --runs 5 --warmup 1 --style none \
			--export-json "$WORK/gate/$tag-graph.json" \
			"$GATECTL --db $db graph -o json" >/dev/null
		for probe in typical hub; do
			name=$(awk -v p="$probe" '$2 == p { print $3 }' "$WORK/gate/$tag.gen")
			[ -n "$name" ] || die "gengraph named no $probe service"
			hyperfine -N --runs 5 --warmup 1 --style none \
				--export-json "$WORK/gate/$tag-scope-$probe.json" \
				"$GATECTL --db $db scope --changed $name" >/dev/null
			"$GATECTL" --db "$db" scope --changed "$name" -o json \
				>"$WORK/gate/$tag-scope-$probe.out"
		done
		# paths: every path (table), then those through the typical
		# service; the .out files keep the summary line (or the error)
		name=$(awk '$2 == "typical" { print $3 }' "$WORK/gate/$tag.gen")
		set +e
		"$GATECTL" --db "$db" paths >"$WORK/gate/$tag-paths.txt" 2>&1
		echo $? >"$WORK/gate/$tag-paths.rc"
		"$GATECTL" --db "$db" paths --through "$name" \
			>"$WORK/gate/$tag-paths-typical.txt" 2>&1
		echo $? >"$WORK/gate/$tag-paths-typical.rc"
		set -e
		tail -n 1 "$WORK/gate/$tag-paths.txt" >"$WORK/gate/$tag-paths.out"
		tail -n 1 "$WORK/gate/$tag-paths-typical.txt" >"$WORK/gate/$tag-paths-typical.out"
		rm -f "$WORK/gate/$tag-paths.txt" "$WORK/gate/$tag-paths-typical.txt"
		if [ "$(cat "$WORK/gate/$tag-paths.rc")" = 0 ]; then
			say "gate: timing paths on $tag"
			hyperfine -N --runs 5 --warmup 1 --style none \
				--export-json "$WORK/gate/$tag-paths.json" \
				"$GATECTL --db $db paths" >/dev/null
		fi
		if [ "$(cat "$WORK/gate/$tag-paths-typical.rc")" = 0 ]; then
			hyperfine -N --runs 5 --warmup 1 --style none \
				--export-json "$WORK/gate/$tag-paths-typical.json" \
				"$GATECTL --db $db paths --through $name" >/dev/null
		fi
	done
}

# ---------------------------------------------------------------- main
say "work folder $WORK"
machine_info
servers_start
floor
overhead
pipeline_nginx
fl_stop_all		# nginx and redis of the overhead runs
pipeline_demo
memory
gate
echo "wall_s=$SECONDS" >>"$WORK/machine.env"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.env"
say "writing results to $OUT"
mkdir -p "$OUT"
"$PY" "$ROOT/tools/bench/report.py" "$WORK" "$OUT"
