#!/usr/bin/env bash
# Integration test: a real Prometheus (Debian's) scrapes the agent's
# /metrics every second while known traffic flows; PromQL through
# Prometheus' HTTP API must return exactly the counts sent, and
# `gatectl --prometheus` must read the same graph as the agent's store.
#
# Ports (27100-27199): 27101 HTTP upstream, 27102 Redis, 27190 agent 1
# metrics, 27191 Prometheus, 27192 agent 2 metrics.
#
# Needs root (BPF). Under CI=true nothing is skipped. Prints
# "prom: N passed, N failed".
set -euo pipefail

SUITE=prom
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HTTP_PORT=27101 REDIS_PORT=27102 M1_PORT=27190 PROM_PORT=27191 M2_PORT=27192
PROM=http://127.0.0.1:$PROM_PORT

it_require prometheus curl redis-server redis-cli "$PY"

work=$(mktemp -d /tmp/faultline-prom.XXXXXX)
chmod 755 "$work"
agent_pid=
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# --- servers and the agent ------------------------------------------------------
fl_start_redis "$REDIS_PORT" "$work/redis"
fl_start_cmd inventory "$work/inventory" --port "$HTTP_PORT" -- \
	env OTEL_SERVICE_NAME=inventory "$PY" -u "$here/httpd.py" "$HTTP_PORT"

set +e
msg=$("$agent" --db "$work/bad.db" --metrics-addr 127.0.0.1 --duration 1 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "invalid metrics address '127.0.0.1'" <<<"$msg"; then
	ok "malformed --metrics-addr refused (exit 2, one message)"
else
	bad "malformed --metrics-addr: rc=$rc $msg"
fi

it_agent_start "$work/agent.log" "$work/agent.log" --db "$work/a1.db" \
	--flush-interval 1 --metrics-addr "127.0.0.1:$M1_PORT"

# --- Prometheus, scraping every second ------------------------------------------
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: faultline
    static_configs:
      - targets: ['127.0.0.1:$M1_PORT']
        labels: {node: node1}
EOF
fl_start_cmd prometheus "$work/prom" --port "$PROM_PORT" -- \
	prometheus --config.file="$work/prometheus.yml" \
	--storage.tsdb.path="$work/prom/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
ok "prometheus started (scrape interval 1 s)"

# promql QUERY: the JSON of an instant query
promql() { curl -sf --data-urlencode "query=$1" "$PROM/api/v1/query"; }

# scrapes_of PORT: the agent's own count of scrapes served, from its /metrics
scrapes_of() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		sed -n 's/^faultline_agent_scrapes_total //p'
}

# fresh_scrape PORT: wait (15 s at most) until Prometheus has a sample of
# the agent at PORT taken after now, so that what it stores includes
# everything the agent had published before this call.
fresh_scrape() {
	local want
	sleep 1.2	# the agent publishes its snapshot once a second
	want=$(( $(scrapes_of "$1") + 1 ))
	for _ in $(seq 150); do
		local got
		got=$(promql "max(faultline_agent_scrapes_total{instance=\"127.0.0.1:$1\"})" |
			"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')
		[ "$got" -gt "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- known traffic, agent 1 -------------------------------------------------------
t0=$(date +%s)
for i in $(seq 10); do env OTEL_SERVICE_NAME=web curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/items/$i"; done
for _ in $(seq 3); do env OTEL_SERVICE_NAME=web curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/fail"; done
for i in $(seq 4); do env OTEL_SERVICE_NAME=web redis-cli -p "$REDIS_PORT" SET "secretkey$i" "secretval$i" >/dev/null; done
for _ in $(seq 2); do env OTEL_SERVICE_NAME=web redis-cli -p "$REDIS_PORT" INCR secretkey1 >/dev/null; done

if fresh_scrape "$M1_PORT"; then ok "prometheus scraped the agent after the traffic"; else bad "no fresh scrape of the agent"; fi

curl -sf "http://127.0.0.1:$M1_PORT/metrics" >"$work/metrics1.txt"
promql 'sum by (client, server) (traces_service_graph_request_total)' >"$work/q_total.json"
promql 'sum by (client, server) (traces_service_graph_request_failed_total)' >"$work/q_failed.json"
promql 'sum by (client, server, connection_type) (traces_service_graph_request_server_seconds_count)' >"$work/q_hist.json"
promql 'sum by (client, server, operation, status) (faultline_requests_total)' >"$work/q_status.json"
promql 'faultline_agent_ringbuf_drops_total' >"$work/q_drops.json"
promql 'count({job="faultline", instance="127.0.0.1:'"$M1_PORT"'"})' >"$work/q_series.json"
echo "--- PromQL: sum by (client, server) (traces_service_graph_request_total)"
"$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["data"]["result"]:
    print("   ", r["metric"], r["value"][1])' "$work/q_total.json"

if "$PY" - "$work" <<'EOF'; then ok "PromQL returns exactly the counts sent (13 HTTP, 6 Redis; 3 and 2 failed)"; else bad "PromQL counts (see above)"; fi
import json, sys, os
w = sys.argv[1]
def res(name):
    return json.load(open(os.path.join(w, name)))["data"]["result"]
def by(name, *keys):
    return {tuple(r["metric"].get(k, "") for k in keys): float(r["value"][1]) for r in res(name)}
fails = 0
def check(what, got, want):
    global fails
    if got != want:
        fails += 1
        print("    %s: got %s, expected %s" % (what, got, want))
tot = by("q_total.json", "client", "server")
check("web->inventory requests", tot.get(("web", "inventory")), 13.0)
check("web->redis-server requests", tot.get(("web", "redis-server")), 6.0)
fl = by("q_failed.json", "client", "server")
check("web->inventory failed", fl.get(("web", "inventory")), 3.0)
check("web->redis-server failed", fl.get(("web", "redis-server")), 2.0)
h = by("q_hist.json", "client", "server", "connection_type")
check("redis histogram count, connection_type=database", h.get(("web", "redis-server", "database")), 6.0)
check("http histogram count, no connection_type", h.get(("web", "inventory", "")), 13.0)
st = by("q_status.json", "client", "server", "operation", "status")
check("GET /api/items/{id} 200", st.get(("web", "inventory", "GET /api/items/{id}", "200")), 10.0)
check("GET /api/fail 503", st.get(("web", "inventory", "GET /api/fail", "503")), 3.0)
check("SET ok", st.get(("web", "redis-server", "SET", "ok")), 4.0)
check("INCR ERR", st.get(("web", "redis-server", "INCR", "ERR")), 2.0)
check("ring-buffer drops", [float(r["value"][1]) for r in res("q_drops.json")], [0.0])
# no label carries a value or key the traffic used
raw = open(os.path.join(w, "metrics1.txt")).read()
for secret in ("secretkey", "secretval"):
    if secret in raw:
        fails += 1
        print("    secret %s in a label" % secret)
sys.exit(1 if fails else 0)
EOF
echo "series of agent 1 (this test's traffic): $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["result"][0]["value"][1])' "$work/q_series.json")"

it_agent_stop "$work/agent.log"
finish
