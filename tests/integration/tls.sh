#!/usr/bin/env bash
# TLS integration test: the real collector and its SSL_* uprobes against real
# TLS peers from Debian's packages, with a self-signed certificate made here:
# curl -> nginx (listen ... ssl), Python's ssl module on both ends (a
# ThreadingHTTPServer whose socket is wrapped, http.client.HTTPSConnection),
# psql -> PostgreSQL with ssl=on and sslmode=require, a client started after
# the agent with its own copy of libssl (followed through exec), and node
# (OpenSSL built in, memory BIOs: its end stays encrypted, the server end
# counts). Asserts the edges, exact request/error counts, `tls: true`, that
# no ciphertext was parsed (no unknown or garbage operation, no resync), and
# that gatectl still reads a schema 1 store.
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "tls: N passed, N failed".
set -euo pipefail

SUITE=tls
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NGINX_PORT=28443 PLAIN_PORT=28480 PY_PORT=28444 PG_PORT=25443
export PLAIN_PORT

it_require nginx psql curl openssl sqlite3 "$PY"
NODE=$(command -v node || command -v nodejs || true)
if [ -z "$NODE" ] && [ "${CI:-}" = true ]; then
	bad "missing node (run: tools/install-deps.sh)"; finish; exit 1
fi

work=$(mktemp -d /tmp/faultline-tls.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# --- 1. a self-signed certificate for 127.0.0.1 --------------------------------
CERT=$work/cert.pem KEY=$work/key.pem
export CERT KEY
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$KEY" -out "$CERT" 2>"$work/openssl.log" ||
	{ bad "openssl req: $(cat "$work/openssl.log")"; finish; exit 1; }

# --- 2. TLS servers, started before the agent -----------------------------------
mkdir -p "$work/pg" "$work/nginx/www"
install -o postgres -m 644 "$CERT" "$work/pg/cert.pem"
install -o postgres -m 600 "$KEY" "$work/pg/key.pem"
FL_PG_OPTS="-c ssl=on -c ssl_cert_file=$work/pg/cert.pem -c ssl_key_file=$work/pg/key.pem" \
	fl_start_postgres "$PG_PORT" "$work/pg/cluster"
printf 'hello\n' >"$work/nginx/www/index.html"
fl_start_nginx "$NGINX_PORT" "$work/nginx" "$here/nginx-tls.conf.in"
nginx_pid=$FL_LAST_PID
fl_start_cmd tlsserver "$work/py" --port "$PY_PORT" -- \
	env OTEL_SERVICE_NAME=tlsserver "$PY" -u "$here/tlspeer.py" server \
	"$PY_PORT" "$CERT" "$KEY"

# a keep-alive TLS connection opened (and used once) before the agent starts
OTEL_SERVICE_NAME=poolclient "$PY" "$here/tlspeer.py" client "$PY_PORT" --before /items/0 \
	--ready "$work/pool.ready" --go "$work/pool.go" /items/1 /items/2 /items/3 /fail \
	>"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 200); do [ -e "$work/pool.ready" ] && break; sleep 0.05; done
[ -e "$work/pool.ready" ] || { bad "pool client not ready: $(cat "$work/pool.log")"; finish; exit 1; }

# the libssl these servers use: the agent must find it in /proc/*/maps
libssl=$(awk '$6 ~ /\/libssl\.so/ { print $6; exit }' "/proc/$nginx_pid/maps")
[ -n "$libssl" ] || { bad "nginx maps no libssl"; finish; exit 1; }

# --- 3. the agent ------------------------------------------------------------------
db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1
if grep -qx "faultline-agent: tls: attached to $libssl" "$work/agent.log"; then
	ok "attached at start to $libssl"
else
	bad "no 'tls: attached to $libssl' in the agent log: $(grep tls: "$work/agent.log")"
fi

# wait_log TEXT: until the agent logged the line TEXT (20 s at most)
wait_log() {
	for _ in $(seq 400); do
		grep -qxF -- "$1" "$work/agent.log" && return 0
		sleep 0.05
	done
	return 1
}

# --- 4. known traffic ----------------------------------------------------------------
touch "$work/pool.go"     # the connection from before the agent is used now
wait "$pool_pid" && ok "pool client done" || bad "pool client failed: $(cat "$work/pool.log")"
tls=https://127.0.0.1:$NGINX_PORT
c() { OTEL_SERVICE_NAME=tlscurl curl -s --cacert "$CERT" -o /dev/null "$@"; }
for _ in $(seq 5); do c -f "$tls/index.html"; done
c -f -o /dev/null "$tls/index.html" "$tls/index.html"              # keep-alive: 2 on 1 conn
for _ in $(seq 3); do c "$tls/missing"; done                        # 404
for _ in $(seq 2); do c "$tls/boom"; done                           # 500
for _ in $(seq 2); do                                               # the same nginx, plaintext
	OTEL_SERVICE_NAME=plaincurl curl -sf -o /dev/null "http://127.0.0.1:$PLAIN_PORT/index.html"
done

# Python's ssl module at both ends (SSL_read_ex/SSL_write_ex), keep-alive
pyc() { OTEL_SERVICE_NAME=tlsclient "$PY" "$here/tlspeer.py" client "$PY_PORT" "$@"; }
pyc /items/1 /items/2 /items/3 /fail /nope
pyc /items/4 /fail

pg() {
	OTEL_SERVICE_NAME=tlspsql psql -X -q -t -A \
		"host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=require" "$@"
}
for i in $(seq 4); do pg -c "SELECT $i AS n, 'secret-$i' AS s" >/dev/null; done
for _ in $(seq 2); do pg -c "SELECT * FROM missing_table" >/dev/null 2>&1 || true; done  # 42P01
insecure=$(pg -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
[ "$insecure" = t ] && ok "psql connection is TLS (pg_stat_ssl)" || bad "psql not over TLS: '$insecure'"

# a process started now, with a libssl file of its own: found through exec
mkdir "$work/lib"
cp "$libssl" "$work/lib/"
late=$work/lib/$(basename "$libssl")
LD_LIBRARY_PATH=$work/lib OTEL_SERVICE_NAME=lateclient "$PY" "$here/tlspeer.py" client \
	"$PY_PORT" --ready "$work/late.ready" --go "$work/late.go" /items/7 /items/8 /fail \
	>"$work/late.log" 2>&1 &
late_pid=$!
if wait_log "faultline-agent: tls: attached to $late"; then
	ok "attached after exec to $late"
else
	bad "no 'tls: attached to $late' after exec: $(grep tls: "$work/agent.log")"
fi
touch "$work/late.go"
wait "$late_pid" && ok "late client done" || bad "late client failed: $(cat "$work/late.log")"

# node: OpenSSL inside the executable (or a libssl), memory BIOs
if [ -n "$NODE" ]; then
	OTEL_SERVICE_NAME=nodeclient "$NODE" "$here/tlsnode.js" "$PY_PORT" 3 >"$work/node.log" 2>&1 &&
		ok "node client done" || bad "node client failed: $(cat "$work/node.log")"
	node_exe=$(readlink -f "$NODE")
	# (grep without -q reads it all: no SIGPIPE for nm under pipefail)
	if nm -D --defined-only "$node_exe" 2>/dev/null | grep -w SSL_write >/dev/null; then
		if wait_log "faultline-agent: tls: attached to $node_exe"; then
			ok "attached after exec to $node_exe (exports SSL_*)"
		else
			bad "no 'tls: attached to $node_exe': $(grep tls: "$work/agent.log")"
		fi
	fi
else
	echo "  skip node (not installed; CI=true makes this a failure)"
fi

sleep 1.5   # let the agent drain the ring buffer
it_agent_stop "$work/agent.log"

# --- 5. assertions ---------------------------------------------------------------------
"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db" >"$work/graph.txt"
echo "--- gatectl graph: the edges of this test's services"
sed -n '/^EDGES/,$p' "$work/graph.txt" |
	awk 'NR <= 2 || /tls(curl|client|server|psql)|plaincurl|lateclient|nodeclient|poolclient/'
echo "---"

collector=$(sed -n 's/^faultline-agent: collector: \([a-z]*\).*/\1/p' "$work/agent.log" | head -n1)
if "$PY" - "$work/graph.json" "$work/counters" "$db" "${NODE:+node}" "$collector" <<'EOF'; then ok "TLS edges, counts, errors and tls flags exact ($collector collector)"; else bad "TLS edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
raw = open(sys.argv[3], "rb").read()
with_node = sys.argv[4] == "node"
sock = sys.argv[5] == "socket"
ours = {"tlscurl", "plaincurl", "tlsclient", "tlsserver", "tlspsql", "lateclient",
        "nodeclient", "poolclient"}
edges = {(e["client"], e["server"], e["protocol"], e["operation"]): e
         for e in graph["edges"] if e["client"] in ours or e["server"] in ours}
# (client, server, protocol, operation): (requests, errors, client_errors, tls)
expected = {
    ("tlscurl", "nginx", "http", "GET /index.html"): (7, 0, 0, True),
    ("tlscurl", "nginx", "http", "GET /missing"): (3, 0, 3, True),
    ("tlscurl", "nginx", "http", "GET /boom"): (2, 2, 0, True),
    ("plaincurl", "nginx", "http", "GET /index.html"): (2, 0, 0, False),
    ("tlsclient", "tlsserver", "http", "GET /items/{id}"): (4, 0, 0, True),
    ("tlsclient", "tlsserver", "http", "GET /fail"): (2, 2, 0, True),
    ("tlsclient", "tlsserver", "http", "GET /nope"): (1, 0, 1, True),
    ("tlspsql", "postgres", "postgresql", "SELECT ? AS n, ? AS s"): (4, 0, 0, True),
    ("tlspsql", "postgres", "postgresql", "SELECT * FROM missing_table"): (2, 2, 0, True),
    ("tlspsql", "postgres", "postgresql",
     "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"): (1, 0, 0, True),
    ("lateclient", "tlsserver", "http", "GET /items/{id}"): (2, 0, 0, True),
    ("lateclient", "tlsserver", "http", "GET /fail"): (1, 1, 0, True),
    # adopted: its handshake and first request went by before the agent
    ("poolclient", "tlsserver", "http", "GET /items/{id}"): (3, 0, 0, True),
    ("poolclient", "tlsserver", "http", "GET /fail"): (1, 1, 0, True),
}
# syscall path: read at the server end, node's own end (memory BIOs) is
# encrypted to us; socket path: read at node's end, the server's a mirror
if with_node:
    expected[("nodeclient", "tlsserver", "http", "GET /items/{id}")] = (3, 0, 0, True)
fails = 0
def fail(msg):
    global fails
    fails += 1
    print("    " + msg)
for key, (req, err, cerr, tls) in expected.items():
    e = edges.get(key)
    if not e:
        fail("missing edge %s" % (key,)); continue
    got = (e["requests"], e["errors"], e["client_errors"], e["tls"])
    if got != (req, err, cerr, tls):
        fail("%s: requests/errors/client_errors/tls = %s, expected %s" % (key, got, (req, err, cerr, tls)))
    if not (e["p50_ms"] and e["p50_ms"] > 0 and e["p99_ms"] >= e["p50_ms"]):
        fail("%s: latency p50=%s p99=%s" % (key, e["p50_ms"], e["p99_ms"]))
# ciphertext never reaches a parser: nothing else on these services' edges
for key, e in edges.items():
    if key not in expected:
        fail("unexpected edge %s (tls %s, %d requests)" % (key, e["tls"], e["requests"]))
c = lambda n: int(counters.get(n, -1))
want_conns = 11 + 2 + 7 + 1 + 1  # client ends: curl, python, psql, late, pool
if c("tls_conns") < want_conns:
    fail("tls_conns=%d, expected >= %d" % (c("tls_conns"), want_conns))
if c("tls_libraries") < 2:
    fail("tls_libraries=%d, expected >= 2 (the system libssl and the copy)" % c("tls_libraries"))
for name in ("tls_attach_failures", "parser_resyncs", "parser_given_up",
             "unknown_proto_conns", "ringbuf_drops"):
    if c(name) != 0:
        fail("%s=%d, expected 0" % (name, c(name)))
if with_node and not sock and c("tls_opaque_conns") < 1:
    fail("tls_opaque_conns=%d, expected >= 1 (node's end)" % c("tls_opaque_conns"))
for secret in (b"secret-1", b"/items/4"):
    if secret in raw:
        fail("plaintext %r found in the store" % secret)
sys.exit(1 if fails else 0)
EOF

# a schema 1 store (before edges.tls) still reads, every edge without TLS
cp "$db" "$work/v1.db"
[ ! -e "$db-wal" ] || cp "$db-wal" "$work/v1.db-wal"
sqlite3 "$work/v1.db" "PRAGMA wal_checkpoint(TRUNCATE); ALTER TABLE edges DROP COLUMN tls; PRAGMA user_version = 1;" >/dev/null
if "$gatectl" graph --db "$work/v1.db" -o json >"$work/v1.json" 2>"$work/v1.err" &&
	"$PY" - "$work/v1.json" "$work/graph.json" <<'EOF'; then
import json, sys
v1, v2 = (json.load(open(p))["edges"] for p in sys.argv[1:3])
# schema 1 has neither edges.tls nor the per-status rows of schema 5
st_attrs = ("http.response.status_code", "rpc.grpc.status_code", "db.response.status_code")
def strip(es):
    out = []
    for e in es:
        e = {k: v for k, v in e.items() if k not in ("tls", "statuses")}
        e["attributes"] = {k: v for k, v in e["attributes"].items() if k not in st_attrs}
        out.append(e)
    return out
sys.exit(0 if v1 and all(e["tls"] is False for e in v1) and strip(v1) == strip(v2) else 1)
EOF
	ok "schema 1 store: same graph, tls false"
else
	bad "schema 1 store: $(cat "$work/v1.err")"
fi

echo "agent counters: $(grep -E '^(tls|unknown|parser_resyncs|ringbuf)' "$work/counters" | tr '\n' ' ')"
finish
