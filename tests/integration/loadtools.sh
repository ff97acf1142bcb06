#!/usr/bin/env bash
# The load tools operators use, against real servers: redis-benchmark
# (pipelined, several connections) and pgbench (extended query protocol,
# pipeline mode). The agent's counts per operation must equal what the
# clients were told to send, cross-checked with the server's own counters
# (Redis INFO commandstats).
#
# Needs root (BPF). Under CI=true nothing is skipped. Prints
# "loadtools: N passed, N failed".
set -euo pipefail

SUITE=loadtools
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# below the ephemeral range (32768-60999): a client socket may hold any port in it
PG_PORT=25780 REDIS_PORT=26780
N_REDIS=2000 PIPE=16 CLIENTS=4 N_PG=40

it_require redis-server redis-benchmark redis-cli pgbench psql "$PY"

work=$(mktemp -d /tmp/faultline-loadtools.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

fl_start_postgres "$PG_PORT" "$work/pg"
fl_start_redis "$REDIS_PORT" "$work/redis"

db=$work/faultline.db
# a pipelined write of 16 commands is ~1 KiB: capture it whole, so that
# the counts below are exact (with less, truncation loses requests and the
# agent counts the bytes it could not see)
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --capture 8192 --flush-interval 1

redis-cli -s "$work/redis/redis.sock" CONFIG RESETSTAT >/dev/null
redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n "$N_REDIS" -P "$PIPE" -c "$CLIENTS" \
	-t set,get -q >"$work/rb.log" 2>&1 && ok "redis-benchmark -P $PIPE -c $CLIENTS done" ||
	bad "redis-benchmark: $(cat "$work/rb.log")"
redis-cli -s "$work/redis/redis.sock" INFO commandstats >"$work/commandstats"

cat >"$work/pipeline.sql" <<'SQL'
\startpipeline
SELECT 1 AS one;
SELECT :client_id AS c;
SELECT relname FROM pg_class WHERE relname = 'nosuch';
\endpipeline
SQL
pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 1 -t "$N_PG" -M extended \
	-f "$work/pipeline.sql" postgres >"$work/pgbench.log" 2>&1 &&
	ok "pgbench -M extended, pipeline mode, done" || bad "pgbench: $(cat "$work/pgbench.log")"

sleep 1.5
it_agent_stop "$work/agent.log"
"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db"

if "$PY" - "$work/graph.json" "$work/commandstats" "$work/counters" \
	"$N_REDIS" "$N_PG" <<'PYEOF'; then
import json, re, sys
graph = json.load(open(sys.argv[1]))
stats = dict(re.findall(r"cmdstat_(\w+):calls=(\d+)", open(sys.argv[2]).read()))
counters = dict(l.split("=") for l in open(sys.argv[3]).read().split() if "=" in l)
n_redis, n_pg = int(sys.argv[4]), int(sys.argv[5])
edges = {(e["client"], e["server"], e["operation"]): e for e in graph["edges"]}
fails = 0
def check(what, got, want):
    global fails
    if got != want:
        fails += 1
        print("    %s: %s, expected %s" % (what, got, want))
for cmd in ("SET", "GET"):
    e = edges.get(("redis-benchmark", "redis-server", cmd), {})
    check("redis-benchmark %s requests" % cmd, e.get("requests"), n_redis)
    check("redis INFO commandstats %s" % cmd, int(stats.get(cmd.lower(), -1)), n_redis)
for op in ("SELECT ? AS one", "SELECT $1 AS c",
           "SELECT relname FROM pg_class WHERE relname = ?"):
    e = edges.get(("pgbench", "postgres", op), {})
    check("pgbench %r requests" % op, e.get("requests"), n_pg)
    check("pgbench %r errors" % op, e.get("errors"), 0)
for c in ("ringbuf_drops", "bytes_truncated", "gap_bytes", "parser_unpaired",
          "parser_resyncs"):
    check("counter " + c, int(counters.get(c, -1)), 0)
sys.exit(1 if fails else 0)
PYEOF
	ok "redis-benchmark and pgbench counts exact, equal to the server's commandstats"
else
	bad "counts (see above)"
fi

finish
