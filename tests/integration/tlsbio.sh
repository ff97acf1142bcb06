#!/usr/bin/env bash
# TLS where both ends use memory BIOs: a node HTTPS client (tlsnode.js, one
# keep-alive connection) against a node HTTPS server (tlsnodeserver.js).
# No socket I/O is nested in node's SSL calls, so the SSL objects are mapped
# to their sockets by the thread's socket read before an SSL call and its
# socket write after one (docs/agent.md, "TLS"). Socket collector: the
# requests are counted once, exactly, with tls set, nothing unmapped; the
# syscall collector cannot map memory BIOs: both ends stay encrypted to it
# (no edge, both ends counted in tls_opaque_conns). Needs root; under
# CI=true nothing is skipped. Prints "tlsbio: N passed, N failed".
#
# Port: 24790.
set -euo pipefail

SUITE=tlsbio
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=24790 N=6

it_require openssl sqlite3 node "$PY"
NODE=$(command -v node)
node_exe=$(readlink -f "$NODE")

work=$(mktemp -d /tmp/faultline-tlsbio.XXXXXX)
chmod 755 "$work"
agent_pid=
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
	{ bad "openssl req: $(cat "$work/openssl.log")"; finish; exit 1; }

db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1
collector=$(sed -n 's/^faultline-agent: collector: \([a-z]*\).*/\1/p' "$work/agent.log" | head -n1)

fl_start_cmd nodeserver "$work/srv" --port "$PORT" -- \
	env OTEL_SERVICE_NAME=nodeserver "$NODE" "$here/tlsnodeserver.js" "$PORT" \
	"$work/cert.pem" "$work/key.pem"
for _ in $(seq 200); do
	grep -qF "faultline-agent: tls: attached to $node_exe" "$work/agent.log" && break
	sleep 0.05
done
grep -qF "faultline-agent: tls: attached to $node_exe" "$work/agent.log" &&
	ok "uprobes on $node_exe (node exports SSL_*)" ||
	{ bad "not attached to $node_exe: $(grep tls: "$work/agent.log")"; finish; exit 1; }

OTEL_SERVICE_NAME=nodeclient "$NODE" "$here/tlsnode.js" "$PORT" "$N" >"$work/client.log" 2>&1 &&
	ok "node client: $N requests over one connection" ||
	bad "node client failed: $(cat "$work/client.log")"

sleep 1.5
it_agent_stop "$work/agent.log"

"$gatectl" graph --db "$db" -o json >"$work/graph.json"
if "$PY" - "$work/graph.json" "$work/counters" "$N" "$collector" <<'PYEOF'; then
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
n, sock = int(sys.argv[3]), sys.argv[4] == "socket"
edges = {(e["client"], e["server"], e["protocol"], e["operation"]):
         (e["requests"], e["errors"], e["tls"])
         for e in graph["edges"]
         if e["client"] in ("nodeclient", "nodeserver") or e["server"] in ("nodeclient", "nodeserver")}
want = {("nodeclient", "nodeserver", "http", "GET /items/{id}"): (n, 0, True)} if sock else {}
print("    edges: %s" % edges)
c = lambda k: int(counters.get(k, -1))
fails = 0
if edges != want:
    fails += 1
    print("    expected %s" % want)
if sock:
    for k in ("tls_unmapped", "parser_resyncs", "ringbuf_drops"):
        if c(k) != 0:
            fails += 1
            print("    %s=%d, expected 0" % (k, c(k)))
elif c("tls_opaque_conns") < 2:
    fails += 1
    print("    tls_opaque_conns=%d, expected >= 2 (both node ends)" % c("tls_opaque_conns"))
sys.exit(1 if fails else 0)
PYEOF
	ok "node client <-> node server ($collector collector): exact"
else
	bad "node client <-> node server ($collector collector)"
fi
finish
