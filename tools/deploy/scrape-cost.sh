#!/usr/bin/env bash
# What a Prometheus scrape costs the agent under a saturating load: nginx
# driven by wrk (1 thread, 32 connections, as make bench does) for SECONDS
# twice, the agent attached both times with --metrics-addr; the second run
# scrapes /metrics every second (curl) while the load runs. Prints the
# requests/s of both runs, the scrape times (median, max), the series and
# bytes per scrape, and the agent's ring-buffer drops (must stay 0).
# Holds the host lock. Not a test: a measurement (docs/metrics.md).
#
# usage: tools/deploy/scrape-cost.sh [SECONDS]      (default 15)
# Ports: 27120 nginx, 27121 the agent's metrics.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SECS=${1:-15}
PORT=27120 MPORT=27121
# shellcheck source=../lib/servers.sh
. tools/lib/servers.sh
fl_lock_host
work=$(mktemp -d /tmp/faultline-scrape.XXXXXX)
chmod 755 "$work"
agent_pid=
trap '[ -n "$agent_pid" ] && kill -INT $agent_pid 2>/dev/null; wait 2>/dev/null; fl_stop_all; rm -rf "$work"' EXIT
mkdir -p "$work/nginx/www"
printf 'hello\n' >"$work/nginx/www/index.html"
UPSTREAM_PORT=1 fl_start_nginx "$PORT" "$work/nginx" tests/integration/nginx.conf.in

run() {	# run NAME SCRAPE(0|1): one load run with a fresh agent
	./build/faultline-agent --db "$work/$1.db" --metrics-addr "127.0.0.1:$MPORT" \
		>"$work/$1.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do grep -q ready "$work/$1.log" && break; sleep 0.1; done
	: >"$work/$1.scrapes"
	if [ "$2" = 1 ]; then
		( for _ in $(seq "$SECS"); do
			curl -s -o "$work/last.txt" -w '%{time_total} %{size_download}\n' \
				"http://127.0.0.1:$MPORT/metrics" >>"$work/$1.scrapes"
			sleep 1
		done ) &
		scraper=$!
	fi
	wrk -t1 -c32 -d"${SECS}s" "http://127.0.0.1:$PORT/index.html" >"$work/$1.wrk"
	[ -n "${scraper:-}" ] && { wait "$scraper" 2>/dev/null || true; }; scraper=
	curl -s "http://127.0.0.1:$MPORT/metrics" >"$work/$1.final"
	kill -INT "$agent_pid"; wait "$agent_pid" || true; agent_pid=
}
run plain 0
run scraped 1
rps() { sed -n 's/^Requests\/sec: *//p' "$work/$1.wrk"; }
drops() { sed -n 's/^faultline_agent_ringbuf_drops_total //p' "$work/$1.final"; }
series=$(grep -vc '^#' "$work/scraped.final")
python3 - "$work/scraped.scrapes" <<EOF
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
t = sorted(float(r[0]) * 1000 for r in rows)
b = [int(r[1]) for r in rows]
print("scrape-cost: %d s of wrk -t1 -c32 against nginx, agent attached" % $SECS)
print("  without scrapes: %s req/s, ring-buffer drops %s" % ("$(rps plain)", "$(drops plain)"))
print("  scraped every 1 s: %s req/s, ring-buffer drops %s" % ("$(rps scraped)", "$(drops scraped)"))
print("  %d scrapes: median %.2f ms, max %.2f ms, %d bytes, %s series lines" %
      (len(t), statistics.median(t), max(t), max(b), "$series"))
EOF
