#!/usr/bin/env bash
# Integration test: the real collector, loaded into this kernel, watching
# real nginx, a Python HTTP server, PostgreSQL and Redis on loopback while
# real clients (curl, psql, redis-cli) send a known number of requests and
# failures. Asserts the graph's edges with their exact request and error
# counts, latencies > 0, no ring-buffer drops, and the store's file mode.
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "integration: N passed, N failed".
set -euo pipefail

SUITE=integration
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NGINX_PORT=28080 UPSTREAM_PORT=28081 PG_PORT=25432 REDIS_PORT=26379 ROUTES_PORT=28082
export UPSTREAM_PORT

it_require nginx psql redis-cli redis-server curl setpriv "$PY"

work=$(mktemp -d /tmp/faultline-it.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# --- 1. BPF not permitted: one clear message, no crash -----------------------
mkdir -m 777 "$work/nopriv"
set +e
msg=$(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$agent" --db "$work/nopriv/x.db" --duration 1 2>&1)
rc=$?
set -e
if [ $rc -eq 1 ] && grep -q "BPF is not permitted" <<<"$msg"; then
	ok "unprivileged agent exits 1 with one clear message"
else
	bad "unprivileged agent: rc=$rc, output: $msg"
fi

# --- 2. servers, started before the agent ------------------------------------
mkdir -p "$work/nginx/www"
printf 'hello\n' >"$work/nginx/www/index.html"
head -c 65536 /dev/zero | tr '\0' 'x' >"$work/nginx/www/big.bin"   # 64 KiB: truncated captures
fl_start_postgres "$PG_PORT" "$work/pg"
fl_start_redis "$REDIS_PORT" "$work/redis"
fl_start_cmd inventory "$work/inventory" --port "$UPSTREAM_PORT" -- \
	env OTEL_SERVICE_NAME=inventory "$PY" -u "$here/httpd.py" "$UPSTREAM_PORT"
fl_start_nginx "$NGINX_PORT" "$work/nginx" "$here/nginx.conf.in"
# a server whose routes exceed the agent's --max-routes (404 for all: empty dir)
mkdir -p "$work/routes/www"
fl_start_cmd routesvc "$work/routes" --port "$ROUTES_PORT" -- \
	env OTEL_SERVICE_NAME=routesvc "$PY" -u -m http.server --bind 127.0.0.1 \
	--directory "$work/routes/www" "$ROUTES_PORT"

# a client whose connections exist before the agent starts
pool_pid=
env OTEL_SERVICE_NAME=poolclient "$PY" -u "$here/pool.py" "$UPSTREAM_PORT" \
	"$PG_PORT" "$REDIS_PORT" "$work/pool.ready" "$work/pool.go" \
	>"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 200); do [ -e "$work/pool.ready" ] && break; sleep 0.05; done
[ -e "$work/pool.ready" ] || { bad "pool client not ready: $(cat "$work/pool.log")"; finish; exit 1; }

# --- 3. the agent --------------------------------------------------------------
db=$work/faultline.db
# the operator's mapping: a rule beats OTEL_SERVICE_NAME; a port names a peer
cat >"$work/services.json" <<'JSON'
{"services": [
  {"name": "inventory-api", "match": {"cmdline": "*/httpd.py *"}},
  {"name": "payments-legacy", "kind": "external", "match": {"port": 28099}}
]}
JSON
printf '{"services": [{"name": "x", "match": {"port": 0}}]}' >"$work/bad.json"
set +e
msg=$("$agent" --db "$work/bad.db" --services "$work/bad.json" 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q 'services\[0\]: "port" must be an integer' <<<"$msg" && [ ! -e "$work/bad.db" ]; then
	ok "malformed mapping file rejected with the rule and reason"
else
	bad "malformed mapping: rc=$rc $msg"
fi
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --services "$work/services.json" --flush-interval 1 --max-routes 10

# --- 4. known traffic ------------------------------------------------------------
touch "$work/pool.go"     # the pre-existing connections are used now
wait "$pool_pid" && ok "pool client done" || bad "pool client failed: $(cat "$work/pool.log")"

base=http://127.0.0.1:$NGINX_PORT
for _ in $(seq 10); do curl -sf -o /dev/null "$base/index.html"; done
curl -sf -o /dev/null -o /dev/null "$base/index.html" "$base/index.html"  # keep-alive: 2 on 1 conn
for _ in $(seq 3); do curl -sf -o /dev/null "$base/big.bin"; done
CLOSED_PORT=28099                                                   # nothing listens here
for _ in $(seq 2); do curl -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/" || true; done
for _ in $(seq 3); do curl -s -o /dev/null "$base/missing"; done    # 404
for _ in $(seq 4); do curl -s -o /dev/null "$base/boom"; done       # 500
for i in $(seq 5); do curl -sf -o /dev/null "$base/api/items/$i"; done
for _ in $(seq 2); do curl -s -o /dev/null "$base/api/fail"; done   # 503
# 30 distinct routes nothing templates, one each: 10 named, 20 overflow
for i in $(seq -w 1 30); do curl -s -o /dev/null "http://127.0.0.1:$ROUTES_PORT/route-$i"; done

pg() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@" >/dev/null 2>&1; }
for i in $(seq 6); do pg -c "SELECT $i AS n, 'secret-$i' AS s"; done
for _ in $(seq 2); do pg -c "SELECT * FROM missing_table" || true; done  # 42P01

rc() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" >/dev/null; }
for i in $(seq 3); do rc SET "key:$i" "value-$i"; done
for i in $(seq 4); do rc GET "key:1"; done
for _ in $(seq 2); do rc INCR "key:1"; done                        # ERR not an integer
# 5 pipelined commands in one write, replies read together
OTEL_SERVICE_NAME=pipeliner "$PY" - "$REDIS_PORT" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*1\r\n$4\r\nPING\r\n" * 5)
got = b""
while got.count(b"+PONG\r\n") < 5:
    got += s.recv(4096)
s.close()
PYEOF

sleep 1.5   # let the agent drain the ring buffer
it_agent_stop "$work/agent.log"

# --- 5. assertions ---------------------------------------------------------------
mode=$(stat -c %a "$db")
[ "$mode" = 600 ] && ok "store mode 0600" || bad "store mode $mode, expected 600"

"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db" >"$work/graph.txt"
echo "--- gatectl graph"; cat "$work/graph.txt"; echo "---"

if "$PY" - "$work/graph.json" "$work/counters" "$db" <<'EOF'; then ok "graph edges, counts and latencies exact"; else bad "graph edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
raw = open(sys.argv[3], "rb").read()
edges = {(e["client"], e["server"], e["protocol"], e["operation"]): e for e in graph["edges"]}
kinds = {s["name"]: s["kind"] for s in graph["services"]}
# (client, server, protocol, operation): (requests, errors)
expected = {
    ("curl", "nginx", "http", "GET /index.html"): (12, 0),
    ("curl", "nginx", "http", "GET /big.bin"): (3, 0),
    ("curl", "nginx", "http", "GET /missing"): (3, 0),
    ("curl", "nginx", "http", "GET /boom"): (4, 4),
    ("curl", "nginx", "http", "GET /api/items/{id}"): (5, 0),
    ("curl", "nginx", "http", "GET /api/fail"): (2, 2),
    ("nginx", "inventory-api", "http", "GET /api/items/{id}"): (5, 0),
    ("nginx", "inventory-api", "http", "GET /api/fail"): (2, 2),
    ("psql", "postgres", "postgresql", "SELECT ? AS n, ? AS s"): (6, 0),
    ("psql", "postgres", "postgresql", "SELECT * FROM missing_table"): (2, 2),
    ("redis-cli", "redis-server", "redis", "SET"): (3, 0),
    ("redis-cli", "redis-server", "redis", "GET"): (4, 0),
    ("redis-cli", "redis-server", "redis", "INCR"): (2, 2),
    ("pipeliner", "redis-server", "redis", "PING"): (5, 0),
    # connections opened before the agent started, adopted from /proc
    ("poolclient", "inventory-api", "http", "GET /api/items/{id}"): (4, 0),
    ("poolclient", "postgres", "postgresql", "SELECT ? AS pooled"): (3, 0),
    ("poolclient", "postgres", "postgresql", "SELECT * FROM pool_missing"): (1, 1),
    ("poolclient", "redis-server", "redis", "PING"): (2, 0),
    # --max-routes 10: the first 10 routes keep their names
    ("curl", "routesvc", "http", "GET {overflow}"): (20, 0),
}
for i in range(1, 11):
    expected[("curl", "routesvc", "http", "GET /route-%02d" % i)] = (1, 0)
fails = 0
def fail(msg):
    global fails
    fails += 1
    print("    " + msg)
for key, (req, err) in expected.items():
    e = edges.get(key)
    if not e:
        fail("missing edge %s" % (key,)); continue
    if (e["requests"], e["errors"]) != (req, err):
        fail("%s: requests=%d errors=%d, expected %d/%d" % (key, e["requests"], e["errors"], req, err))
    if not (e["p50_ms"] and e["p50_ms"] > 0 and e["p99_ms"] >= e["p50_ms"]):
        fail("%s: latency p50=%s p99=%s" % (key, e["p50_ms"], e["p99_ms"]))
    for f in ("first_seen", "last_seen"):
        if not e[f].endswith("Z"):
            fail("%s: %s=%s not RFC3339 UTC" % (key, f, e[f]))
if edges.get(("curl", "nginx", "http", "GET /missing"), {}).get("client_errors") != 3:
    fail("GET /missing: client_errors != 3")
# connection refused: a conn error on the caller's edge to the address tried
refused = edges.pop(("curl", "payments-legacy", "tcp", "connect"), None)
if not refused or refused["conn_errors"] != 2 or refused["requests"] != 0:
    fail("refused connects: %s, expected conn_errors=2" % refused)
if kinds.get("payments-legacy") != "external":
    fail("mapped peer kind %s, expected external" % kinds.get("payments-legacy"))
big = edges.get(("curl", "nginx", "http", "GET /big.bin"))
if big and big["p50_ms"] is None:
    fail("GET /big.bin has no latency")
if int(counters.get("bytes_truncated", 0)) < 3 * 60000:
    fail("bytes_truncated=%s, expected >= 3 x 60000 (64 KiB bodies, 1 KiB capture)" % counters.get("bytes_truncated"))
if counters.get("parser_resyncs") != "0" or counters.get("parser_unpaired") != "0":
    fail("parser lost framing: resyncs=%s unpaired=%s" % (counters.get("parser_resyncs"), counters.get("parser_unpaired")))
# no request is counted twice: no edge from a server's side of a traced conn
for key in edges:
    if key not in expected:
        fail("unexpected edge %s: %s" % (key, edges[key]))
for name, kind in (("postgres", "database"), ("redis-server", "cache"),
                   ("nginx", "service"), ("inventory-api", "service")):
    if kinds.get(name) != kind:
        fail("service %s kind %s, expected %s" % (name, kinds.get(name), kind))
if int(counters.get("conns_joined", 0)) < 6:
    fail("conns_joined=%s, expected >= 6 (3 pooled connections, both ends)" % counters.get("conns_joined"))
if counters.get("routes_overflowed") != "20":
    fail("routes_overflowed=%s, expected 20" % counters.get("routes_overflowed"))
if counters.get("ringbuf_drops") != "0":
    fail("ring-buffer drops: %s" % counters.get("ringbuf_drops"))
for secret in (b"secret-1", b"value-1", b"key:1"):
    if secret in raw:
        fail("secret %r found in the store" % secret)
sys.exit(1 if fails else 0)
EOF

"$gatectl" blindspots --db "$db" -o json >"$work/blind.json"
if "$PY" - "$work/blind.json" <<'EOF'; then ok "blindspots: routes_overflowed 20 with its reason"; else bad "blindspots routes_overflowed"; fi
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["counters"]}
r = c.get("routes_overflowed")
print("    %s" % r)
sys.exit(0 if r and r["value"] == 20 and r["group"] == "partial" and "--max-routes" in r["reason"] else 1)
EOF

echo "agent counters: $(tr '\n' ' ' <"$work/counters")"
finish
