#!/usr/bin/env bash
# HTTP/2 and gRPC integration test: the real collector against nginx
# speaking HTTP/2 (cleartext with prior knowledge, and h2 over TLS through
# the SSL_* uprobes) to curl, and a python3-grpcio server and client
# (tests/integration/grpcpeer.py), including calls that fail with a gRPC
# status and calls multiplexed on one connection. A gRPC connection opened
# before the agent is joined mid-life: its calls cannot be named (HPACK
# state unknown) and must be counted as http2_unnamed_streams, listed by
# `gatectl blindspots`, never recorded under a wrong name. Asserts exact
# edges and counts from `gatectl graph -o json` and that no header value
# (Authorization, cookie, query string) reached the store.
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "http2: N passed, N failed".
set -euo pipefail

SUITE=http2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

H2C_PORT=28580 TLS_PORT=28543 GRPC_PORT=28551
export TLS_PORT

it_require nginx curl openssl "$PY"
if ! "$PY" -c 'import grpc' 2>/dev/null; then
	bad "missing python3-grpcio (run: tools/install-deps.sh)"; finish; exit 1
fi

work=$(mktemp -d /tmp/faultline-http2.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# --- 1. servers, started before the agent ------------------------------------------
CERT=$work/cert.pem KEY=$work/key.pem
export CERT KEY
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$KEY" -out "$CERT" 2>"$work/openssl.log" ||
	{ bad "openssl req: $(cat "$work/openssl.log")"; finish; exit 1; }
mkdir -p "$work/nginx/www"
printf 'hello\n' >"$work/nginx/www/index.html"
fl_start_nginx "$H2C_PORT" "$work/nginx" "$here/nginx-h2.conf.in"
fl_start_cmd grpcserver "$work/grpc" --port "$GRPC_PORT" -- \
	env OTEL_SERVICE_NAME=grpcserver "$PY" -u "$here/grpcpeer.py" server "$GRPC_PORT"

# a gRPC channel opened (and used once) before the agent starts
grpcc() { OTEL_SERVICE_NAME=grpcclient "$PY" "$here/grpcpeer.py" client "$GRPC_PORT" "$@"; }
OTEL_SERVICE_NAME=grpcpool "$PY" "$here/grpcpeer.py" client "$GRPC_PORT" --before SayHello:x \
	--ready "$work/pool.ready" --go "$work/pool.go" SayHello:pool-1 SayHello:pool-2 \
	>"$work/pool.log" 2>&1 &
pool_pid=$!
for _ in $(seq 200); do [ -e "$work/pool.ready" ] && break; sleep 0.05; done
[ -e "$work/pool.ready" ] || { bad "pool client not ready: $(cat "$work/pool.log")"; finish; exit 1; }

# --- 2. the agent ----------------------------------------------------------------------
db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1

# --- 3. known traffic -------------------------------------------------------------------
touch "$work/pool.go"	# the channel from before the agent is used now
wait "$pool_pid" && ok "pool client done" || bad "pool client failed: $(cat "$work/pool.log")"

# curl 7.88.1 cannot reuse a prior-knowledge connection ("Error in the
# HTTP2 framing layer"): one request per curl
h2c=http://127.0.0.1:$H2C_PORT
c() { OTEL_SERVICE_NAME=h2ccurl curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}\n' "$@"; }
{
	for _ in $(seq 4); do c "$h2c/index.html"; done
	for i in 41 42; do c -H 'Authorization: Bearer s3cr3t-t0ken' -b 'session=c00kie-s3cr3t' \
		"$h2c/missing/$i?token=qs-s3cr3t"; done
	c "$h2c/boom"
} >"$work/h2c.out"
tls=https://127.0.0.1:$TLS_PORT
t() { OTEL_SERVICE_NAME=h2tlscurl curl -s --http2 --cacert "$CERT" -o /dev/null -w '%{http_version} %{http_code}\n' "$@"; }
{
	for _ in $(seq 3); do t "$tls/index.html"; done
	t "$tls/boom"
} >"$work/tls.out"
want_h2c=$(printf '2 200\n2 200\n2 200\n2 200\n2 404\n2 404\n2 500\n')
want_tls=$(printf '2 200\n2 200\n2 200\n2 500\n')
[ "$(cat "$work/h2c.out")" = "$want_h2c" ] && ok "curl --http2-prior-knowledge: 7 answers over HTTP/2" ||
	bad "curl h2c answers: $(tr '\n' ' ' <"$work/h2c.out")"
[ "$(cat "$work/tls.out")" = "$want_tls" ] && ok "curl --http2 over TLS: 4 answers over HTTP/2 (ALPN h2)" ||
	bad "curl h2 TLS answers: $(tr '\n' ' ' <"$work/tls.out")"

{
	grpcc SayHello:a SayHello:b SayHello:fail-1 SayHello:c Nope:x SayHello:fail-2
	grpcc --parallel Slow:a Slow:b Slow:c SayHello:fail-3
} >"$work/grpc.out" 2>&1
want_grpc=$(printf 'SayHello 0\nSayHello 0\nSayHello 5\nSayHello 0\nNope 12\nSayHello 5\nSlow 0\nSlow 0\nSlow 0\nSayHello 5\n')
[ "$(cat "$work/grpc.out")" = "$want_grpc" ] && ok "gRPC client: 10 calls, 4 with an error status" ||
	bad "gRPC client: $(tr '\n' ' ' <"$work/grpc.out")"

sleep 1.5   # let the agent drain the ring buffer
it_agent_stop "$work/agent.log"

# --- 4. assertions -----------------------------------------------------------------------
"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db" >"$work/graph.txt"
echo "--- gatectl graph: the edges of this test's services"
sed -n '/^EDGES/,$p' "$work/graph.txt" | awk 'NR <= 2 || /h2ccurl|h2tlscurl|grpc/'
echo "---"

if "$PY" - "$work/graph.json" "$work/counters" "$db" <<'PYEOF'; then ok "HTTP/2 and gRPC edges, counts, errors, kinds exact"; else bad "HTTP/2 and gRPC edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
counters = dict(l.split("=") for l in open(sys.argv[2]).read().split() if "=" in l)
raw = open(sys.argv[3], "rb").read()
ours = {"h2ccurl", "h2tlscurl", "grpcclient", "grpcpool", "grpcserver"}
# A curl that exited before the agent read its environment keeps its kernel
# name, "curl" (docs/agent.md, "When names are taken"): a request over h2c
# at loopback speed can beat that lookup. Such edges are counted with the
# curl of the same TLS-ness; everything else must match exactly.
def client_of(e):
    if e["client"] == "curl" and e["server"] == "nginx":
        return "h2tlscurl" if e["tls"] else "h2ccurl"
    return e["client"]
edges = {}
for e in graph["edges"]:
    if client_of(e) not in ours and e["server"] not in ours:
        continue
    key = (client_of(e), e["server"], e["protocol"], e["operation"])
    if key in edges:  # the same edge under both names: add the counts
        for k in ("requests", "errors", "client_errors"):
            edges[key][k] += e[k]
    else:
        edges[key] = dict(e)
# (client, server, protocol, operation): (requests, errors, client_errors, tls)
expected = {
    ("h2ccurl", "nginx", "http", "GET /index.html"): (4, 0, 0, False),
    ("h2ccurl", "nginx", "http", "GET /missing/{id}"): (2, 0, 2, False),
    ("h2ccurl", "nginx", "http", "GET /boom"): (1, 1, 0, False),
    ("h2tlscurl", "nginx", "http", "GET /index.html"): (3, 0, 0, True),
    ("h2tlscurl", "nginx", "http", "GET /boom"): (1, 1, 0, True),
    ("grpcclient", "grpcserver", "grpc", "demo.v1.Greeter/SayHello"): (6, 3, 0, False),
    ("grpcclient", "grpcserver", "grpc", "demo.v1.Greeter/Nope"): (1, 1, 0, False),
    ("grpcclient", "grpcserver", "grpc", "demo.v1.Greeter/Slow"): (3, 0, 0, False),
}
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
# the joined channel's calls are never recorded, under any name
for key, e in edges.items():
    if key not in expected:
        fail("unexpected edge %s (%d requests)" % (key, e["requests"]))
# per-status rows (schema 5): gRPC statuses, the attribute only for one status
want_st = {
    "demo.v1.Greeter/SayHello": ({"grpc:0": 3, "grpc:5": 3}, None),
    "demo.v1.Greeter/Nope": ({"grpc:12": 1}, 12),
    "demo.v1.Greeter/Slow": ({"grpc:0": 3}, 0),
}
for op, (st, code) in want_st.items():
    e = edges.get(("grpcclient", "grpcserver", "grpc", op))
    if e and (e["statuses"], e["attributes"].get("rpc.grpc.status_code")) != (st, code):
        fail("%s: statuses %s rpc.grpc.status_code %s, expected %s %s" % (
            op, e["statuses"], e["attributes"].get("rpc.grpc.status_code"), st, code))
kinds = {s["name"]: s["kind"] for s in graph["services"]}
for name in ("nginx", "grpcserver"):
    if kinds.get(name) != "service":
        fail("%s has kind %s, expected service" % (name, kinds.get(name)))
c = lambda n: int(counters.get(n, -1))
# the two calls on the channel joined mid-life: HPACK state unknown
if c("http2_unnamed_streams") != 2:
    fail("http2_unnamed_streams=%d, expected 2" % c("http2_unnamed_streams"))
if c("conns_joined") < 1:
    fail("conns_joined=%d, expected >= 1" % c("conns_joined"))
for name in ("parser_resyncs", "parser_given_up", "unknown_proto_conns", "ringbuf_drops"):
    if c(name) != 0:
        fail("%s=%d, expected 0" % (name, c(name)))
for secret in (b"s3cr3t", b"token=", b"c00kie", b"Bearer"):
    if secret in raw:
        fail("header value %r found in the store" % secret)
sys.exit(1 if fails else 0)
PYEOF

"$gatectl" blindspots --db "$db" >"$work/blindspots.txt"
if grep -q "http2_unnamed_streams" "$work/blindspots.txt"; then
	ok "gatectl blindspots lists http2_unnamed_streams"
else
	bad "gatectl blindspots has no http2_unnamed_streams: $(cat "$work/blindspots.txt")"
fi
echo "--- gatectl blindspots (not understood)"
grep -E "http2_unnamed|parser_" "$work/blindspots.txt" || true
echo "---"
echo "agent counters: $(grep -E '^(http2|parser|unknown|conns_joined|tls_conns)' "$work/counters" | tr '\n' ' ')"
finish
