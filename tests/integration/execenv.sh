#!/usr/bin/env bash
# Service names from the environment of servers that overwrite it with
# their process title: redis-server (setproctitle) and nginx (master and
# worker titles) are started after the agent with OTEL_SERVICE_NAME set;
# /proc/PID/environ then shows their title, not the variable, so the agent
# must take the name from the environment it read at exec (FL_EV_PROC_ENV,
# before the program ran), and nginx's workers (forks, no exec) from their
# master's. A redis-server started before the agent has only /proc: it is
# named by its program, as before. Exact counts per edge. Needs root (BPF);
# under CI=true nothing is skipped. Prints "execenv: N passed, N failed".
#
# Ports: 24780 (nginx), 24781 (redis, named), 24782 (redis, before the agent).
set -euo pipefail

SUITE=execenv
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NGINX_PORT=24780 REDIS_PORT=24781 OLD_REDIS_PORT=24782
N_GET=5 N_SET=3 N_OLD=2

it_require nginx redis-server redis-cli curl sqlite3 "$PY"

work=$(mktemp -d /tmp/faultline-execenv.XXXXXX)
chmod 755 "$work"
agent_pid=
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# before the agent: no exec seen, /proc/PID/environ holds its title
OTEL_SERVICE_NAME=cache-before fl_start_redis "$OLD_REDIS_PORT" "$work/redis-old"

db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1

mkdir -p "$work/nginx/www"
echo hello >"$work/nginx/www/index.html"
OTEL_SERVICE_NAME=cache-main fl_start_redis "$REDIS_PORT" "$work/redis"
UPSTREAM_PORT=1 OTEL_SERVICE_NAME=web-front \
	fl_start_nginx "$NGINX_PORT" "$work/nginx" "$here/nginx.conf.in"

# the premise: both overwrote the variable in /proc/PID/environ
redis_pid=$(pgrep -f "redis-server.*:$REDIS_PORT" | head -n1)
worker_pid=$(pgrep -f "nginx: worker process" -P "$FL_LAST_PID" | head -n1)
for p in "$redis_pid" "$worker_pid"; do
	if tr '\0' '\n' <"/proc/$p/environ" | grep -q '^OTEL_SERVICE_NAME='; then
		bad "process $p still shows OTEL_SERVICE_NAME in /proc/$p/environ: no title rewrite to test"
	else
		ok "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-40)) overwrote its environ"
	fi
done

for i in $(seq "$N_GET"); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/index.html" ||
	bad "curl $i failed"; done
for i in $(seq "$N_SET"); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SET "k$i" v >/dev/null; done
for i in $(seq "$N_OLD"); do redis-cli -h 127.0.0.1 -p "$OLD_REDIS_PORT" PING >/dev/null; done

sleep 1.5
it_agent_stop "$work/agent.log"

sqlite3 -separator '|' "$db" "
SELECT c.name, s.name, e.protocol, e.operation, sum(w.requests), sum(w.errors)
FROM edges e JOIN services c ON c.id = e.client_id JOIN services s ON s.id = e.server_id
JOIN edge_windows w ON w.edge_id = e.id
WHERE e.protocol IN ('http', 'redis') AND c.name IN ('curl', 'redis-cli')
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4" >"$work/edges"
echo "--- edges"; cat "$work/edges"; echo "---"

if "$PY" - "$work/edges" "$N_GET" "$N_SET" "$N_OLD" <<'PYEOF'; then
import sys
got = {}
for line in open(sys.argv[1]).read().splitlines():
    c, s, p, op, req, err = line.split("|")
    got[(c, s, p, op)] = (int(req), int(err))
n_get, n_set, n_old = (int(a) for a in sys.argv[2:5])
want = {
    ("curl", "web-front", "http", "GET /index.html"): (n_get, 0),
    ("redis-cli", "cache-main", "redis", "SET"): (n_set, 0),
    # older than the agent: its environ shows its title, so its program
    ("redis-cli", "redis-server", "redis", "PING"): (n_old, 0),
}
fails = 0
for k in sorted(set(want) | set(got)):
    if got.get(k) != want.get(k):
        fails += 1
        print("    edge %s: %s, expected %s" % (k, got.get(k), want.get(k)))
sys.exit(1 if fails else 0)
PYEOF
	ok "names from the environment at exec: web-front (nginx workers), cache-main (redis), exact counts"
else
	bad "edges (see above)"
fi
finish
