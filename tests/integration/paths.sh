#!/usr/bin/env bash
# Call paths with the real collector: thread-per-request Python services
# (ThreadingHTTPServer) calling Redis, PostgreSQL and each other, and nginx
# (an epoll event loop) proxying to one of them. Asserts the exact link
# counts per (parent edge, child edge, method) and that nothing is linked
# through nginx, where the same-thread method does not apply.
#
# Needs root (BPF). Under CI=true nothing is skipped. Prints
# "paths: N passed, N failed".
set -euo pipefail

SUITE=paths
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# below the ephemeral range (32768-60999): a client socket may hold any port in it
NGINX_PORT=28680 ORDERS_PORT=28681 BILLING_PORT=28682 PG_PORT=25680 REDIS_PORT=26680
N_ORDERS=8 N_CHECKOUT=5 N_PROXIED=4 N_TRACED=3

it_require nginx redis-server curl sqlite3 "$PY"

work=$(mktemp -d /tmp/faultline-paths.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

mkdir -p "$work/nginx/www"
fl_start_postgres "$PG_PORT" "$work/pg"
fl_start_redis "$REDIS_PORT" "$work/redis"
fl_start_cmd billing "$work/billing" --port "$BILLING_PORT" -- \
	env OTEL_SERVICE_NAME=billing "$PY" -u "$here/pathsvc.py" billing "$BILLING_PORT" "$REDIS_PORT"
fl_start_cmd orders "$work/orders" --port "$ORDERS_PORT" -- \
	env OTEL_SERVICE_NAME=orders "$PY" -u "$here/pathsvc.py" orders "$ORDERS_PORT" \
	"$REDIS_PORT" "$PG_PORT" "$BILLING_PORT"
UPSTREAM_PORT=$ORDERS_PORT fl_start_nginx "$NGINX_PORT" "$work/nginx" "$here/nginx.conf.in"

db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1

# thread-per-request calls, then traceparent across a worker pool
env OTEL_SERVICE_NAME=load "$PY" -u "$here/pathsvc.py" load "$ORDERS_PORT" \
	"$N_ORDERS" "$N_CHECKOUT" >"$work/load.log" 2>&1 &&
	ok "load client done" || bad "load client: $(cat "$work/load.log")"
# through nginx, 4 at once: the event loop interleaves them
seq "$N_PROXIED" | xargs -P 4 -I{} curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/api/orders/{}" &&
	ok "proxied requests done" || bad "proxied requests failed"
# through nginx with a traceparent each: nginx passes it on, so the
# traceparent method links across the event loop
for _ in $(seq "$N_TRACED"); do
	tp="00-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')-01"
	curl -sf -o /dev/null -H "traceparent: $tp" "http://127.0.0.1:$NGINX_PORT/api/orders/7" ||
		bad "traced proxied request failed"
done

sleep 1.5
it_agent_stop "$work/agent.log"

sqlite3 -separator '|' "$db" "
SELECT pc.name, ps.name, p.protocol, p.operation, cc.name, cs.name, c.protocol,
       c.operation, l.method, sum(l.count)
FROM path_links l
JOIN edges p ON p.id = l.parent_edge_id JOIN edges c ON c.id = l.child_edge_id
JOIN services pc ON pc.id = p.client_id JOIN services ps ON ps.id = p.server_id
JOIN services cc ON cc.id = c.client_id JOIN services cs ON cs.id = c.server_id
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 ORDER BY 1, 2, 4, 5, 6, 8" >"$work/links"
echo "--- path_links"; cat "$work/links"; echo "---"

if "$PY" - "$work/links" "$work/counters" "$N_ORDERS" "$N_CHECKOUT" "$N_PROXIED" "$N_TRACED" <<'PYEOF'; then
import sys
links = {}
for line in open(sys.argv[1]).read().splitlines():
    f = line.split("|")
    links[(tuple(f[0:4]), tuple(f[4:8]), f[8])] = int(f[9])
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
n_orders, n_checkout, n_proxied, n_traced = (int(a) for a in sys.argv[3:7])
proxied = ("nginx", "orders", "http", "GET /api/orders/{id}")
get = ("orders", "redis-server", "redis", "GET")
sel = ("orders", "postgres", "postgresql", "SELECT ?::int AS order_id")
charge = ("orders", "billing", "http", "GET /charge")
expected = {
    (("load", "orders", "http", "GET /orders/{id}"), get, "thread"): n_orders,
    (("load", "orders", "http", "GET /orders/{id}"), sel, "thread"): n_orders,
    (("load", "orders", "http", "GET /checkout"), charge, "traceparent"): n_checkout,
    (charge, ("billing", "redis-server", "redis", "INCRBY"), "thread"): n_checkout,
    (proxied, get, "thread"): n_proxied + n_traced,
    (proxied, sel, "thread"): n_proxied + n_traced,
    (("curl", "nginx", "http", "GET /api/orders/{id}"), proxied, "traceparent"): n_traced,
}
fails = 0
for k in sorted(set(expected) | set(links)):
    if links.get(k) != expected.get(k):
        fails += 1
        print("    link %s: %s, expected %s" % (k, links.get(k), expected.get(k)))
if int(counters.get("threads_evloop", 0)) < 1:
    fails += 1
    print("    no event-loop thread marked (nginx waits on epoll)")
want = n_orders * 2 + n_checkout + (n_proxied + n_traced) * 2
if int(counters.get("links_thread", -1)) != want or \
   int(counters.get("links_traceparent", -1)) != n_checkout + n_traced:
    fails += 1
    print("    counters links_thread=%s links_traceparent=%s, expected %d/%d" % (
        counters.get("links_thread"), counters.get("links_traceparent"), want,
        n_checkout + n_traced))
# every server end here is a mirror (its client is traced too): once one
# has shown 16 data events (the load client's keep-alive connection to
# orders makes 26) the agent asks the collector not to copy its responses
# (HTTP) or anything (Redis, PostgreSQL), and the exact links above were
# made without them
print("    bytes_mirrored=%s" % counters.get("bytes_mirrored"))
if int(counters.get("bytes_mirrored", 0)) <= 0:
    fails += 1
    print("    bytes_mirrored=%s: mirrored server ends still copied" %
          counters.get("bytes_mirrored"))
sys.exit(1 if fails else 0)
PYEOF
	ok "links exact: thread, traceparent (also across nginx), no thread link through nginx; mirrored ends not copied"
else
	bad "links (see above)"
fi

"$gatectl" --db "$db" paths --through billing -o json >"$work/paths.json" 2>"$work/paths.err" &&
	"$PY" - "$work/paths.json" "$N_CHECKOUT" <<'PYEOF' && ok "gatectl paths: load -> orders -> billing -> redis-server, count $N_CHECKOUT, weakest thread" || bad "gatectl paths: $(cat "$work/paths.json" "$work/paths.err" | head -c 2000)"
import json, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
paths = [(p["services"], p["count"], p["weakest_method"]) for p in doc["paths"]]
want = [(["load", "orders", "billing", "redis-server"], n, "thread")]
sys.exit(0 if paths == want else 1)
PYEOF

finish
