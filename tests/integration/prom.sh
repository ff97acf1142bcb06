#!/usr/bin/env bash
# Integration test: a real Prometheus (Debian's) scrapes two agents'
# /metrics every second while known traffic flows: node 1 is this host
# (the agent leaves node 2's namespace out), node 2 a network namespace
# whose own agent traces only it (--netns). PromQL through Prometheus' HTTP
# API must return exactly the counts sent, per node and summed, and
# `gatectl --prometheus` must read the same graph as the two agents'
# stores merged with `gatectl merge`.
#
# Ports (27100-27199): 27101 HTTP upstream (on node 1 and inside node 2),
# 27102 Redis, 27103 closed, 27190 agent 1 metrics, 27191 Prometheus,
# 27192 agent 2 metrics. Network namespace: fl-prom-n2.
#
# Needs root (BPF). Under CI=true nothing is skipped. Prints
# "prom: N passed, N failed".
set -euo pipefail

SUITE=prom
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HTTP_PORT=27101 REDIS_PORT=27102 CLOSED_PORT=27103 M1_PORT=27190 PROM_PORT=27191 M2_PORT=27192
PROM=http://127.0.0.1:$PROM_PORT
NS2=fl-prom-n2
N2_REQS=7	# node 2: web -> inventory GET /api/items/{id}

it_require prometheus curl redis-server redis-cli "$PY"

work=$(mktemp -d /tmp/faultline-prom.XXXXXX)
chmod 755 "$work"
agent_pid= agent2_pid=
# run by it_cleanup (tests/integration/lib.sh) after the first agent is stopped
it_cleanup_extra() {
	[ -n "$agent2_pid" ] && kill -INT "$agent2_pid" 2>/dev/null && wait "$agent2_pid" 2>/dev/null
	ip netns pids "$NS2" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
}
trap it_cleanup EXIT

# --- servers and the agent ------------------------------------------------------
fl_start_redis "$REDIS_PORT" "$work/redis"
fl_start_cmd inventory "$work/inventory" --port "$HTTP_PORT" -- \
	env OTEL_SERVICE_NAME=inventory "$PY" -u "$here/httpd.py" "$HTTP_PORT"
inv_pid=$FL_LAST_PID

set +e
msg=$("$agent" --db "$work/bad.db" --metrics-addr 127.0.0.1 --duration 1 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "invalid metrics address '127.0.0.1'" <<<"$msg"; then
	ok "malformed --metrics-addr refused (exit 2, one message)"
else
	bad "malformed --metrics-addr: rc=$rc $msg"
fi

# node 2: its own network namespace, the same service names inside
two=0
help=$("$agent" --help)	# not piped into grep -q: pipefail and SIGPIPE
if grep -q -- '--netns' <<<"$help"; then
	two=1
	ip netns add "$NS2"
	ip -n "$NS2" link set lo up
	fl_start_cmd inventory2 "$work/inventory2" -- ip netns exec "$NS2" \
		env OTEL_SERVICE_NAME=inventory "$PY" -u "$here/httpd.py" "$HTTP_PORT"
	for _ in $(seq 100); do
		ip netns exec "$NS2" curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/" && break
		sleep 0.1
	done
	ok "node 2: namespace $NS2 with its own inventory"
else
	bad "node 2: this agent has no --netns"
fi

it_agent_start "$work/agent.log" "$work/agent.log" --db "$work/a1.db" \
	--flush-interval 1 --metrics-addr "127.0.0.1:$M1_PORT" \
	$([ $two = 1 ] && echo --exclude-netns "$NS2")
if [ $two = 1 ]; then
	"$agent" --db "$work/a2.db" --flush-interval 1 --netns "$NS2" \
		--metrics-addr "127.0.0.1:$M2_PORT" >"$work/agent2.log" 2>&1 &
	agent2_pid=$!
	for _ in $(seq 100); do grep -q ready "$work/agent2.log" && break; sleep 0.1; done
	grep -q ready "$work/agent2.log" && ok "agent 2 (--netns $NS2) loaded" ||
		{ bad "agent 2 did not start: $(tail -5 "$work/agent2.log")"; finish; exit 1; }
fi

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
[ $two = 1 ] && cat >>"$work/prometheus.yml" <<EOF
      - targets: ['127.0.0.1:$M2_PORT']
        labels: {node: node2}
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
for _ in $(seq 2); do env OTEL_SERVICE_NAME=web curl -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/" || true; done  # refused
if [ $two = 1 ]; then
	for i in $(seq $N2_REQS); do
		ip netns exec "$NS2" env OTEL_SERVICE_NAME=web curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/items/$i"
	done
fi

if fresh_scrape "$M1_PORT"; then ok "prometheus scraped agent 1 after the traffic"; else bad "no fresh scrape of agent 1"; fi
if [ $two = 1 ]; then
	if fresh_scrape "$M2_PORT"; then ok "prometheus scraped agent 2 after the traffic"; else bad "no fresh scrape of agent 2"; fi
fi

curl -sf "http://127.0.0.1:$M1_PORT/metrics" >"$work/metrics1.txt"
promql 'sum by (client, server) (traces_service_graph_request_total)' >"$work/q_total.json"
promql 'sum by (node, client, server) (traces_service_graph_request_total)' >"$work/q_nodes.json"
promql 'sum by (client, server) (traces_service_graph_request_failed_total)' >"$work/q_failed.json"
promql 'sum by (client, server, connection_type) (traces_service_graph_request_server_seconds_count)' >"$work/q_hist.json"
promql 'sum by (client, server, operation, status) (faultline_requests_total)' >"$work/q_status.json"
promql 'faultline_agent_ringbuf_drops_total' >"$work/q_drops.json"
promql 'count({job="faultline", instance="127.0.0.1:'"$M1_PORT"'"})' >"$work/q_series.json"
echo "--- PromQL: sum by (client, server) (traces_service_graph_request_total)"
"$PY" -c 'import json,sys
for r in json.load(open(sys.argv[1]))["data"]["result"]:
    print("   ", r["metric"], r["value"][1])' "$work/q_total.json"

if "$PY" - "$work" "$two" "$N2_REQS" <<'EOF'; then ok "PromQL returns exactly the counts sent (HTTP node 1 13 + node 2 $((two * N2_REQS)), Redis 6; 3 and 2 failed)"; else bad "PromQL counts (see above)"; fi
import json, sys, os
w, two, n2 = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
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
check("web->inventory requests, both nodes", tot.get(("web", "inventory")), 13.0 + (n2 if two else 0))
nodes = by("q_nodes.json", "node", "client", "server")
check("node1 web->inventory", nodes.get(("node1", "web", "inventory")), 13.0)
check("node2 web->inventory", nodes.get(("node2", "web", "inventory")), float(n2) if two else None)
check("node2 sees only its namespace", sorted(k for k in nodes if k[0] == "node2"),
      [("node2", "web", "inventory")] if two else [])
check("web->redis-server requests", tot.get(("web", "redis-server")), 6.0)
fl = by("q_failed.json", "client", "server")
check("web->inventory failed", fl.get(("web", "inventory")), 3.0)
check("web->redis-server failed", fl.get(("web", "redis-server")), 2.0)
h = by("q_hist.json", "client", "server", "connection_type")
check("redis histogram count, connection_type=database", h.get(("web", "redis-server", "database")), 6.0)
check("http histogram count, no connection_type", h.get(("web", "inventory", "")), 13.0 + (n2 if two else 0))
st = by("q_status.json", "client", "server", "operation", "status")
check("GET /api/items/{id} 200", st.get(("web", "inventory", "GET /api/items/{id}", "200")), 10.0 + (n2 if two else 0))
check("GET /api/fail 503", st.get(("web", "inventory", "GET /api/fail", "503")), 3.0)
check("SET ok", st.get(("web", "redis-server", "SET", "ok")), 4.0)
check("INCR ERR", st.get(("web", "redis-server", "INCR", "ERR")), 2.0)
check("ring-buffer drops", [float(r["value"][1]) for r in res("q_drops.json")], [0.0] * (2 if two else 1))
# no label carries a value or key the traffic used
raw = open(os.path.join(w, "metrics1.txt")).read()
for secret in ("secretkey", "secretval"):
    if secret in raw:
        fails += 1
        print("    secret %s in a label" % secret)
sys.exit(1 if fails else 0)
EOF
echo "series of agent 1 (this test's traffic): $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["result"][0]["value"][1])' "$work/q_series.json")"

# --- a restart of agent 1: its counters start again from 0 ------------------------
# (Prometheus sees the series fall: a reset; the store adds to its windows)
it_agent_stop "$work/agent.log"
it_agent_start "$work/agent.log" "$work/agent.log" --db "$work/a1.db" \
	--flush-interval 1 --metrics-addr "127.0.0.1:$M1_PORT" \
	$([ $two = 1 ] && echo --exclude-netns "$NS2")
for i in $(seq 5); do env OTEL_SERVICE_NAME=web curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/items/$i"; done
if fresh_scrape "$M1_PORT"; then ok "prometheus scraped agent 1 after its restart"; else bad "no fresh scrape of agent 1 after its restart"; fi

# --- gatectl --prometheus: the same graph as the store, exact counts ----------
"$gatectl" --prometheus "$PROM" graph --since "@$((t0 - 5))" -o json >"$work/pgraph.json" 2>"$work/pgraph.err" ||
	bad "gatectl --prometheus graph failed: $(cat "$work/pgraph.err")"
"$gatectl" --prometheus "$PROM" graph --since "@$((t0 - 5))" >"$work/pgraph.txt" 2>&1 || true
echo "--- gatectl --prometheus $PROM graph"; grep -E "^web|^CLIENT" "$work/pgraph.txt"; echo "---"
it_agent_stop "$work/agent.log"
if [ $two = 1 ]; then
	kill -INT "$agent2_pid"; wait "$agent2_pid" && ok "agent 2 exits 0" || bad "agent 2 exit code $?"
	agent2_pid=
	rm -f "$work/merged.db"
	"$gatectl" merge "$work/merged.db" "$work/a1.db" "$work/a2.db" >/dev/null ||
		bad "gatectl merge of the two stores failed"
	"$gatectl" graph --db "$work/merged.db" --buckets -o json >"$work/sgraph.json"
else
	"$gatectl" graph --db "$work/a1.db" --buckets -o json >"$work/sgraph.json"
fi

# compare_graphs PROM.json STORE.json: the edges of client "web" must agree
# on every count and latency bucket; the JSON must say what it cannot know
compare_graphs() {
	"$PY" - "$1" "$2" "$two" "$N2_REQS" <<'EOF'
import json, sys
p, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
two, n2 = sys.argv[3] == "1", int(sys.argv[4])
def edges(g):
    return {(e["client"], e["server"], e["protocol"], e["operation"]): e
            for e in g["edges"] if e["client"] == "web"}
pe, se = edges(p), edges(s)
fails = 0
def fail(m):
    global fails
    fails += 1
    print("    " + m)
want = {("web", "inventory", "http", "GET /api/items/{id}"): (10 + 5 + (n2 if two else 0), 0),
        ("web", "inventory", "http", "GET /api/fail"): (3, 3),
        ("web", "redis-server", "redis", "SET"): (4, 0),
        ("web", "redis-server", "redis", "INCR"): (2, 2)}
for k, (req, err) in want.items():
    e = pe.get(k)
    if not e or (e["requests"], e["errors"]) != (req, err):
        fail("prometheus %s: %s, expected %d/%d" % (k, e and (e["requests"], e["errors"]), req, err))
refused = [e for k, e in pe.items() if k[2:] == ("tcp", "connect")]
if len(refused) != 1 or refused[0]["conn_errors"] != 2:
    fail("prometheus refused connects: %s, expected one edge with conn_errors=2" % refused)
if set(pe) != set(se):
    fail("edges differ: prometheus only %s, store only %s" % (set(pe) - set(se), set(se) - set(pe)))
for k in set(pe) & set(se):
    for f in ("requests", "errors", "client_errors", "conn_errors", "latency_buckets", "tls"):
        if pe[k][f] != se[k][f]:
            fail("%s %s: prometheus %s, store %s" % (k, f, pe[k][f], se[k][f]))
    if k[2] != "tcp" and pe[k].get("statuses") != se[k].get("statuses"):
        fail("%s statuses: prometheus %s, store %s" % (k, pe[k].get("statuses"), se[k].get("statuses")))
kinds = lambda g: {x["name"]: x["kind"] for x in g["services"]}
for n in ("web", "inventory", "redis-server"):
    if kinds(p).get(n) != kinds(s).get(n):
        fail("kind of %s: prometheus %s, store %s" % (n, kinds(p).get(n), kinds(s).get(n)))
if p.get("agents") != (2 if two else 1):
    fail("agents %s, expected %d" % (p.get("agents"), 2 if two else 1))
if p.get("source") != "prometheus" or not any("call-path" in l for l in p.get("limits", [])):
    fail("no source/limits in the prometheus answer: %s" % {k: p.get(k) for k in ("source", "limits")})
sys.exit(1 if fails else 0)
EOF
}
if compare_graphs "$work/pgraph.json" "$work/sgraph.json"; then
	ok "gatectl --prometheus graph: exact counts and latency buckets, equal to the $([ $two = 1 ] && echo "two stores merged" || echo store)"
else
	bad "gatectl --prometheus graph differs from the store (see above)"
fi
"$PY" -c 'import json,sys; g=json.load(open(sys.argv[1])); print("prometheus answer: agents=%d series_read=%d samples_read=%d" % (g["agents"], g["series_read"], g["samples_read"]))' "$work/pgraph.json" || true

# the cluster's picture from Prometheus (FL_PROM_HTML=FILE keeps a copy)
if "$gatectl" --prometheus "$PROM" graph --since "@$((t0 - 5))" -o html >"$work/pgraph.html" 2>"$work/phtml.err" &&
	grep -q '<svg' "$work/pgraph.html" && grep -q '>web</text>' "$work/pgraph.html" &&
	grep -q '>inventory</text>' "$work/pgraph.html" && grep -q '<h2>Blind spots</h2>' "$work/pgraph.html"; then
	ok "gatectl --prometheus graph -o html: the cluster drawn, blind spots from the agents' counters"
else
	bad "gatectl --prometheus graph -o html: $(cat "$work/phtml.err")"
fi
[ -n "${FL_PROM_HTML:-}" ] && cp "$work/pgraph.html" "$FL_PROM_HTML"

# scope: the same walk over the cluster's edges as over the stores
scope_db=$work/a1.db
[ $two = 1 ] && scope_db=$work/merged.db
"$gatectl" --prometheus "$PROM" scope --changed inventory --since "@$((t0 - 5))" -o json >"$work/pscope.json" 2>&1 ||
	bad "gatectl --prometheus scope: $(cat "$work/pscope.json")"
"$gatectl" --db "$scope_db" scope --changed inventory -o json >"$work/sscope.json"
if "$PY" - "$work/pscope.json" "$work/sscope.json" <<'EOF'; then ok "gatectl --prometheus scope --changed inventory: the store's edges and counts"; else bad "scope over prometheus differs (see above)"; fi
import json, sys
p, s = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda g: {(e["client"], e["server"], e["protocol"], e["operation"]): (e["requests"], e["errors"])
                 for e in g["edges"] if e["client"] == "web"}
print("    prometheus %s" % sorted(key(p).items()))
sys.exit(0 if key(p) == key(s) and key(p) else 1)
EOF
set +e
msg=$("$gatectl" --prometheus "$PROM" paths 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "call-path links" <<<"$msg"; then
	ok "paths over prometheus refused, saying why (call-path links are in the stores only)"
else
	bad "paths over prometheus: rc=$rc $msg"
fi

# --- verify over Prometheus: a bad deployment of inventory ------------------------
# the gate's own state (the deployment, the verification) in a store; the
# production windows of both sides from Prometheus. Agent 1 runs again.
gdb=$work/gate.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$work/a1.db" \
	--flush-interval 1 --metrics-addr "127.0.0.1:$M1_PORT" \
	$([ $two = 1 ] && echo --exclude-netns "$NS2")
for i in $(seq 30); do env OTEL_SERVICE_NAME=web curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/items/$i"; done
fresh_scrape "$M1_PORT" || bad "no scrape after the baseline traffic"
sleep 1
"$gatectl" --db "$gdb" deploy --service inventory --version v2 --gate 0 -o json >"$work/deploy.json" ||
	bad "gatectl deploy: $(cat "$work/deploy.json")"
deploy_s=$(date +%s)
kill "$inv_pid"
for _ in $(seq 50); do ss -Htln "sport = :$HTTP_PORT" | grep -q . || break; sleep 0.1; done
cat >"$work/inventory_v2.py" <<'EOF'
# inventory v2: a bad release, every item lookup fails with 503
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b'{"error": "v2"}'
        self.send_response(503 if self.path.startswith("/api/items/") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
fl_start_cmd inventory-v2 "$work/inventory-v2" --port "$HTTP_PORT" -- \
	env OTEL_SERVICE_NAME=inventory "$PY" -u "$work/inventory_v2.py" "$HTTP_PORT"
for i in $(seq 20); do env OTEL_SERVICE_NAME=web curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/items/$i"; done
fresh_scrape "$M1_PORT" || bad "no scrape after the deployment's traffic"
# the window (20 s after the deploy) must be over before it is judged
while [ "$(date +%s)" -le $((deploy_s + 22)) ]; do sleep 0.5; done
set +e
"$gatectl" --prometheus "$PROM" --db "$gdb" verify --service inventory --window 20s \
	--interval 10s --baseline 600s --min-requests 10 -o json >"$work/verify.json" 2>"$work/verify.err"
rc=$?
set -e
it_agent_stop "$work/agent.log"
if "$PY" - "$work/verify.json" "$rc" "$two" "$N2_REQS" <<'EOF'; then ok "gatectl --prometheus verify: the bad deployment fails (exit 1), exact counts on both sides"; else bad "verify over prometheus (see above): $(cat "$work/verify.err")"; fi
import json, sys
v = json.load(open(sys.argv[1]))
rc, two, n2 = int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
e = [x for x in v["edges"] if (x["client"], x["server"], x["operation"]) == ("web", "inventory", "GET /api/items/{id}")]
print("    verdict %s, exit %d; edge %s" % (v["verdict"], rc, e and {k: e[0][k] for k in ("verdict", "before", "after")}))
want_before = 10 + 5 + 30 + (n2 if two else 0)
ok = rc == 1 and v["verdict"] == "fail" and e and e[0]["verdict"] == "high" and \
    (e[0]["before"]["requests"], e[0]["before"]["errors"]) == (want_before, 0) and \
    (e[0]["after"]["requests"], e[0]["after"]["errors"]) == (20, 20)
sys.exit(0 if ok else 1)
EOF

set +e
msg=$("$gatectl" --prometheus http://127.0.0.1:27199 graph 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "cannot query prometheus 'http://127.0.0.1:27199'" <<<"$msg"; then
	ok "unreachable prometheus: exit 2 with one message"
else
	bad "unreachable prometheus: rc=$rc $msg"
fi
finish
