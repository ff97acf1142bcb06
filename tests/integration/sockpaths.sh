#!/usr/bin/env bash
# Socket-path integration test: the real collector against real servers
# while clients move their bytes in the less common ways, each asserted with
# exact counts:
#   - sendmmsg/recvmmsg (tests/integration/mmsg.c), a POST body spread over
#     more messages than the collector copies (the rest is a counted gap);
#   - sendfile and splice: nginx with `sendfile on`, a Python server whose
#     bodies go by os.sendfile/os.splice, a client that splices bodies in
#     and out; their bytes are counted (bytes_spliced), never copied, and
#     bodies are skipped by Content-Length;
#   - sockets inherited across fork: a fork-per-connection server
#     (forkhttpd.py: the parent accepts and closes, the child serves),
#     PostgreSQL's backends, a client connection made before a fork and
#     used by the child, and a fork+exec child whose inherited socket exec
#     closed;
#   - the server end alone: clients that lose our sight of their end (the
#     fd is dup()ed, the original closed) so only the server end can count
#     them: nginx over sendfile, forkhttpd, PostgreSQL;
#   - an fd reused at once for a connection to another server; threads
#     sharing one connection (a writer and a reader; two taking turns).
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "sockpaths: N passed, N failed".
set -euo pipefail

SUITE=sockpaths
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

NGINX_PORT=28380 FORK_PORT=28381 ITEMS_PORT=28382 PG_PORT=25380
BIG=100000 SENDFILE=30000 SPLICED=20000 UPLOAD=5000
mmsg=$root/build/tests/it/mmsg
forkexec=$root/build/tests/it/forkexec

it_require nginx psql curl "$PY"
for c in "$mmsg" "$forkexec"; do
	[ -x "$c" ] || { bad "missing $c (run: make)"; finish; exit 1; }
done

work=$(mktemp -d /tmp/faultline-sp.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# --- 1. servers, started before the agent ----------------------------------------
mkdir -p "$work/nginx/www"
printf 'hello\n' >"$work/nginx/www/index.html"
head -c "$BIG" /dev/zero | tr '\0' 'b' >"$work/nginx/www/big.bin"
head -c "$SENDFILE" /dev/zero | tr '\0' 'f' >"$work/sendfile.bin"
chmod 644 "$work/sendfile.bin"
fl_start_nginx "$NGINX_PORT" "$work/nginx" "$here/nginx-sendfile.conf.in"
fl_start_postgres "$PG_PORT" "$work/pg"
fl_start_cmd forkhttpd "$work/fork" --port "$FORK_PORT" -- \
	env OTEL_SERVICE_NAME=forkhttpd "$PY" -u "$here/forkhttpd.py" "$FORK_PORT" \
	"$work/sendfile.bin"
fl_start_cmd itemsd "$work/items" --port "$ITEMS_PORT" -- \
	env OTEL_SERVICE_NAME=itemsd "$PY" -u "$here/httpd.py" "$ITEMS_PORT"

# --- 2. the agent ---------------------------------------------------------------------
db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1 ${AGENT_OPTS:-}
# the collector path in use: socket (the default here) or syscall
collector=$(sed -n 's/^faultline-agent: collector: \([a-z]*\).*/\1/p' "$work/agent.log" | head -n1)
if [ "$collector" = socket ]; then
	hooks="tp_btf/sock_send_length tp_btf/sock_recv_length tp_btf/inet_sock_set_state"
	grep -q "hooks loaded.* syscalls/" "$work/agent.log" &&
		bad "socket collector with a syscall hook: $(grep 'hooks loaded' "$work/agent.log")"
else
	hooks="task/task_newtask syscalls/sys_exit_sendmmsg syscalls/sys_exit_recvmmsg
	       syscalls/sys_exit_sendfile64 syscalls/sys_exit_splice"
fi
for hook in $hooks; do
	grep -q "hooks loaded.* $hook" "$work/agent.log" || bad "hook $hook not loaded ($collector collector)"
done

# --- 3. known traffic ------------------------------------------------------------------
# client NAME ARGS...: sockclient.py as service NAME, or one FAIL
client() {
	local name=$1; shift
	if OTEL_SERVICE_NAME=$name "$PY" "$here/sockclient.py" "$@" >>"$work/clients.log" 2>&1; then
		ok "$name: $(tail -n1 "$work/clients.log")"
	else
		bad "$name $*: $(tail -n3 "$work/clients.log")"
	fi
}
client reuseclient reuse "$FORK_PORT" "$ITEMS_PORT" 3
client threadclient threads "$FORK_PORT" 5
client turnclient turns "$FORK_PORT" 6
client forkclient fork "$FORK_PORT" 3
# (forkhttpd's first connection, reuseclient's, is accepted by a call that
# was blocked before the agent attached: that one is not followed)
printf 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' >"$work/leak.txt"
if OTEL_SERVICE_NAME=forkexec "$forkexec" "$FORK_PORT" "$work/leak.txt" >>"$work/clients.log" 2>&1; then
	ok "forkexec: $(tail -n1 "$work/clients.log")"
else
	bad "forkexec: $(tail -n3 "$work/clients.log")"
fi
client splicer splice "$FORK_PORT"
client untraced untraced "$FORK_PORT" /items/1 /sendfile /items/2
client untraced untraced "$NGINX_PORT" /big.bin /index.html /big.bin
client untraced untraced-pg "$PG_PORT" 3
if OTEL_SERVICE_NAME=mmsg "$mmsg" "$FORK_PORT" >>"$work/clients.log" 2>&1; then
	ok "mmsg: $(tail -n1 "$work/clients.log")"
else
	bad "mmsg: $(tail -n3 "$work/clients.log")"
fi
for _ in $(seq 3); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/big.bin"; done
pg() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@" >/dev/null; }
for i in $(seq 4); do pg -c "SELECT $i AS n"; done

sleep 1.5   # let the agent drain the ring buffer
it_agent_stop "$work/agent.log"

# --- 4. assertions ---------------------------------------------------------------------
"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db" >"$work/graph.txt"
echo "--- gatectl graph: the edges of this test's services"
sed -n '/^EDGES/,$p' "$work/graph.txt" |
	awk 'NR <= 2 || /client|forkhttpd|itemsd|forkexec|splicer|mmsg|nginx|postgres|127\.0\.0\.1/'
echo "---"

# bytes moved by sendfile/splice, counted at each end that moved them:
# nginx to curl (3) and to the untraced client (2 big.bin, index.html);
# forkhttpd to the splicer and the splicer's own end (20000 spliced, the
# sendfile file, its 5000-byte upload); forkhttpd to the untraced client
spliced=$((3 * BIG + 2 * BIG + 6 + SPLICED + SENDFILE +
	SPLICED + SENDFILE + UPLOAD + SENDFILE))
if "$PY" - "$work/graph.json" "$work/counters" "$spliced" "$collector" <<'EOF'; then ok "edges and counts exact, each request once ($collector collector)"; else bad "edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
spliced = int(sys.argv[3])
sock = sys.argv[4] == "socket"
# the socket collector follows the socket, not the fd: a client that dup()s
# its fd and closes the original stays traced, and is named
untraced = "untraced" if sock else "127.0.0.1"
ours = {"reuseclient", "threadclient", "turnclient", "forkclient", "forkexec",
        "splicer", "mmsg", "forkhttpd", "itemsd", untraced}
edges = {(e["client"], e["server"], e["protocol"], e["operation"]): e
         for e in graph["edges"]
         if e["client"] in ours or e["server"] in ours or
         (e["client"], e["server"]) in (("curl", "nginx"), ("psql", "postgres"))}
H, PG = "http", "postgresql"
# (client, server, protocol, operation): (requests, errors)
expected = {
    # an fd closed and at once reused for a connection to another server
    ("reuseclient", "forkhttpd", H, "GET /items/{id}"): (3, 0),
    ("reuseclient", "itemsd", H, "GET /api/items/{id}"): (3, 0),
    # threads sharing one connection
    ("threadclient", "forkhttpd", H, "GET /items/{id}"): (5, 0),
    ("turnclient", "forkhttpd", H, "GET /items/{id}"): (6, 0),
    # 1 request by the parent, 3 by the child on the inherited socket
    ("forkclient", "forkhttpd", H, "GET /items/{id}"): (4, 0),
    # a fork+exec child writing a file at the socket's fd number: not a request
    ("forkexec", "forkhttpd", H, "GET /items/{id}"): (2, 0),
    # bodies by splice/sendfile at both ends, skipped by Content-Length
    ("splicer", "forkhttpd", H, "GET /spliced"): (1, 0),
    ("splicer", "forkhttpd", H, "GET /sendfile"): (1, 0),
    ("splicer", "forkhttpd", H, "POST /upload"): (1, 0),
    # sendmmsg: 3 GETs in one call, a POST in 12 messages, a last GET;
    # recvmmsg for every response
    ("mmsg", "forkhttpd", H, "GET /items/{id}"): (4, 0),
    ("mmsg", "forkhttpd", H, "POST /upload"): (1, 0),
    # syscall path: counted at the server end only, the client end is not
    # traced; socket path: counted once, at the client end
    (untraced, "forkhttpd", H, "GET /items/{id}"): (2, 0),
    (untraced, "forkhttpd", H, "GET /sendfile"): (1, 0),
    (untraced, "nginx", H, "GET /big.bin"): (2, 0),
    (untraced, "nginx", H, "GET /index.html"): (1, 0),
    (untraced, "postgres", PG, "SELECT ? AS untraced"): (3, 0),
    # both ends traced (the server end inherited or sendfile): counted once
    ("curl", "nginx", H, "GET /big.bin"): (3, 0),
    ("psql", "postgres", PG, "SELECT ? AS n"): (4, 0),
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
        fail("%s: requests=%d errors=%d, expected %d/%d" % (key, e["requests"], e["errors"], req, err))
    if not (e["p50_ms"] and e["p50_ms"] > 0):
        fail("%s: latency p50=%s" % (key, e["p50_ms"]))
for key, e in edges.items():
    if key not in expected:
        fail("unexpected edge %s: %d requests" % (key, e["requests"]))
c = lambda n: int(counters.get(n, -1))
if c("bytes_spliced") != spliced:
    fail("bytes_spliced=%d, expected %d" % (c("bytes_spliced"), spliced))
# forkhttpd: one per connection (reuse 3, threads, turns, fork, spawn,
# splice, untraced, mmsg) but the first; the fork client's child, the
# forkexec child; postgres backends: 4 psql and 1 untraced session
# (the socket path needs no copies: the socket is followed into the child)
if sock:
    if c("conns_inherited") != 0:
        fail("conns_inherited=%d, expected 0 (socket collector)" % c("conns_inherited"))
elif c("conns_inherited") < 16:
    fail("conns_inherited=%d, expected >= 16" % c("conns_inherited"))
for name in ("parser_resyncs", "parser_unpaired", "parser_given_up",
             "unknown_proto_conns", "ringbuf_drops", "conns_without_open"):
    if c(name) != 0:
        fail("%s=%d, expected 0" % (name, c(name)))
sys.exit(1 if fails else 0)
EOF

echo "agent counters: $(grep -E '^(conns_inherited|conns_mirrored|bytes_spliced|bytes_truncated|gap_bytes|parser|ringbuf)' "$work/counters" | tr '\n' ' ')"
finish
