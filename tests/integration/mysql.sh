#!/usr/bin/env bash
# MySQL integration test: the real collector watching MariaDB 10.11 from
# Debian's packages and three real clients on loopback: the `mariadb`
# command-line client (libmariadb, CLIENT_DEPRECATE_EOF), PyMySQL (EOF
# packets) and myprep (server-side prepared statements through libmariadb),
# plus a PyMySQL connection opened before the agent (joined mid-life: found
# by its first COM_QUERY). Asserts the exact edges, request and error
# counts, operation names and SQLSTATEs, the server kind `database`, and
# that the canary password, SQL literal and row value never reach the
# store (database and WAL bytes), the agent's output or gatectl's.
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "mysql: N passed, N failed".
set -euo pipefail

SUITE=mysql
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

MY_PORT=23306
PW=canary-pw-51c3            # the app user's password
LIT=canary-literal-7f3a      # a string literal in every query
ROW=row-canary-9d2e          # a value in the rows the queries return

it_require mariadb mariadb-install-db mariadb_config cc sqlite3 "$PY"
"$PY" -c "import pymysql" 2>/dev/null ||
	{ bad "missing PyMySQL (run: tools/install-deps.sh)"; finish; exit 1; }

work=$(mktemp -d /tmp/faultline-mysql.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# --- 1. the server, set up over its unix socket (no TCP traffic) -----------------
fl_start_mariadb "$MY_PORT" "$work/my"
fl_mariadb "$work/my" shop -e "
	CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40));
	INSERT INTO t VALUES (1, 'one'), (2, '$ROW');
	CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(60));
	INSERT INTO items SELECT seq, CONCAT('$ROW item ', seq) FROM seq_1_to_50;
	CREATE USER app@'127.0.0.1' IDENTIFIED BY '$PW';
	GRANT ALL ON shop.* TO app@'127.0.0.1';"
cc -O1 $(mariadb_config --cflags) "$here/myprep.c" $(mariadb_config --libs) -o "$work/myprep" ||
	{ bad "cannot build myprep"; finish; exit 1; }

# a connection opened (and used) before the agent starts
cat >"$work/pool.py" <<'EOF'
import os, sys, time, pymysql
port, pw, lit, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
c = pymysql.connect(host="127.0.0.1", port=port, user="app", password=pw, database="shop",
                    autocommit=True)
cur = c.cursor()
cur.execute("SELECT 1")
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
for i in range(3):
    cur.execute("SELECT name FROM t WHERE id = %s AND name <> %s", (i, lit))
    cur.fetchall()
c.close()
EOF
OTEL_SERVICE_NAME=mypool "$PY" "$work/pool.py" "$MY_PORT" "$PW" "$LIT" "$work/pool.ready" \
	"$work/pool.go" >"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 200); do [ -e "$work/pool.ready" ] && break; sleep 0.05; done
[ -e "$work/pool.ready" ] || { bad "pool client not ready: $(cat "$work/pool.log")"; finish; exit 1; }

# --- 2. the agent ------------------------------------------------------------------
db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1

# --- 3. known traffic ----------------------------------------------------------------
touch "$work/pool.go"
wait "$pool_pid" && ok "pool client done" || bad "pool client failed: $(cat "$work/pool.log")"
# my SQL: one statement from stdin, the client kept alive 0.3 s after it so
# that the agent names it while it runs (a process gone by then keeps its
# kernel comm, "mariadb")
my() {
	{ printf '%s\n' "$1"; sleep 0.3; } | OTEL_SERVICE_NAME=mycli mariadb --no-defaults \
		--protocol=TCP -h 127.0.0.1 -P "$MY_PORT" -u app "-p$PW" shop
}
N=5 M=3 K=4
for i in $(seq $N); do   # 20 rows each: more than one capture (1024 bytes) per read
	my "SELECT id, label FROM items WHERE id <= 20 + $i AND label <> '$LIT'" >/dev/null
done
for _ in $(seq $M); do my "SELECT * FROM missing_table WHERE x = '$LIT'" >/dev/null 2>&1 || true; done
OTEL_SERVICE_NAME=myprep "$work/myprep" "$MY_PORT" app "$PW" shop \
	"SELECT id, label FROM items WHERE id = ? OR label = ?" $K "$LIT" >"$work/prep.log" 2>&1 ||
	bad "myprep failed: $(cat "$work/prep.log")"
printf '%s\n' "SELECT name FROM t WHERE id = 2 AND name <> '$LIT'" \
	"SELECT name FROM t WHERE id = 1 AND name <> '$LIT'" \
	"INSERT INTO t VALUES (1, '$LIT')" "SELECT * FROM missing_table" >"$work/py.txt"
OTEL_SERVICE_NAME=mypy "$PY" "$root/tests/golden/clients.py" mysql-py "$MY_PORT" app "$PW" shop \
	<"$work/py.txt" >"$work/py.log" 2>&1 || bad "PyMySQL client failed: $(cat "$work/py.log")"

sleep 1.5   # let the agent drain the ring buffer
it_agent_stop "$work/agent.log"

# --- 4. assertions ---------------------------------------------------------------------
"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db" >"$work/graph.txt"
echo "--- gatectl graph: the edges of this test's clients"
sed -n '/^EDGES/,$p' "$work/graph.txt" | awk 'NR <= 2 || / mysql /'
echo "---"

if "$PY" - "$work/graph.json" "$work/counters" $N $M $K <<'EOF'; then ok "MySQL edges, counts, errors and kinds exact"; else bad "MySQL edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
n, m, k = map(int, sys.argv[3:6])
ours = {"mycli", "myprep", "mypy", "mypool"}
edges = {(e["client"], e["server"], e["protocol"], e["operation"]): e
         for e in graph["edges"] if e["client"] in ours or e["protocol"] == "mysql"}
kinds = {s["name"]: s["kind"] for s in graph["services"]}
prep = "SELECT id, label FROM items WHERE id = ? OR label = ?"
# (client, server, protocol, operation): (requests, errors)
expected = {
    ("mycli", "mariadbd", "mysql", "SELECT id, label FROM items WHERE id <= ? + ? AND label <> ?"): (n, 0),
    ("mycli", "mariadbd", "mysql", "SELECT * FROM missing_table WHERE x = ?"): (m, m),
    # one COM_STMT_PREPARE and k COM_STMT_EXECUTEs, all named by the statement
    ("myprep", "mariadbd", "mysql", prep): (k + 1, 0),
    ("mypy", "mariadbd", "mysql", "SELECT name FROM t WHERE id = ? AND name <> ?"): (2, 0),
    ("mypy", "mariadbd", "mysql", "INSERT INTO t VALUES (?, ?)"): (1, 1),
    ("mypy", "mariadbd", "mysql", "SELECT * FROM missing_table"): (1, 1),
    ("mypy", "mariadbd", "mysql", "PING"): (1, 0),
    # joined: its handshake and first query went by before the agent
    ("mypool", "mariadbd", "mysql", "SELECT name FROM t WHERE id = ? AND name <> ?"): (3, 0),
}
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
        fail("%s: requests/errors = %s, expected %s" % (key, (e["requests"], e["errors"]), (req, err)))
    if not (e["p50_ms"] and e["p50_ms"] > 0 and e["p99_ms"] >= e["p50_ms"]):
        fail("%s: latency p50=%s p99=%s" % (key, e["p50_ms"], e["p99_ms"]))
for key, e in edges.items():
    if key not in expected:
        fail("unexpected edge %s (%d requests)" % (key, e["requests"]))
if kinds.get("mariadbd") != "database":
    fail("mariadbd kind %r, expected database" % kinds.get("mariadbd"))
c = lambda name: int(counters.get(name, -1))
for name in ("parser_given_up", "ringbuf_drops"):
    if c(name) != 0:
        fail("%s=%d, expected 0" % (name, c(name)))
sys.exit(1 if fails else 0)
EOF

# secrets: nowhere in the store's bytes (database and WAL), the agent's output or gatectl's
"$gatectl" blindspots --db "$db" -o json >"$work/blind.json" 2>&1 || true
leaks=0
for secret in "$PW" "$LIT" "$ROW"; do
	for f in "$db" "$db-wal" "$work/agent.log" "$work/graph.json" "$work/graph.txt" "$work/blind.json"; do
		[ -e "$f" ] || continue
		n=$(grep -c -a -F -- "$secret" "$f" || true)
		if [ "$n" != 0 ]; then
			bad "secret '$secret' found $n time(s) in ${f##*/}"
			leaks=$((leaks + 1))
		fi
	done
done
[ "$leaks" = 0 ] && ok "no password, SQL literal or row value in the store, agent or gatectl output"

echo "agent counters: $(grep -E '^(parser|unknown|records|conns_joined)' "$work/counters" | tr '\n' ' ')"
finish
