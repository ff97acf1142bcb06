#!/usr/bin/env bash
# The sandbox-node agent of the gate (issue 14 §1): the control socket
# (begin/end marks, flush, status), footprints per test with exact rows,
# the per-status window rows, connection-level statuses, and the network
# namespace filter (--netns, --exclude-netns, a namespace that appears
# after the agent started). Real collector, real curl/psql/redis-cli against
# a Python HTTP server, PostgreSQL and Redis, network namespaces this suite
# creates and deletes.
#
# Ports: 24100-24199 (24101 web, 24102 redis, 24103 postgres, 24104 a
# server that resets every connection, 24110 and
# 24111 servers inside namespaces, 24199 closed: refused).
#
# Needs root. Prints "gateagent: N passed, N failed".
set -euo pipefail

SUITE=gateagent
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

WEB_PORT=24101 REDIS_PORT=24102 PG_PORT=24103 NS_PORT=24110 LATE_PORT=24111 RST_PORT=24104
CLOSED_PORT=24199
NS=fl-ga-$$ LATE=fl-ga-late-$$

it_require psql redis-cli redis-server curl ip ss sqlite3 "$PY"

work=$(mktemp -d /tmp/faultline-ga.XXXXXX)
chmod 755 "$work"
agent_pid= pids=()
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	fl_stop_all
	ip netns del "$NS" 2>/dev/null
	ip netns del "$LATE" 2>/dev/null
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

ctl() { "$PY" "$here/ctl.py" "$work/ctl.sock" "$@"; }
q() { sqlite3 -separator '|' "$1" "$2"; }
is() { # is NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; printf '       got:  %s\n       want: %s\n' "$2" "$3"; fi
}
web() { curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT$1"; }
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" >/dev/null; }
pg() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1" >/dev/null 2>&1 || true; }

# ---- servers, the agent with its control socket ------------------------------
fl_start_postgres "$PG_PORT" "$work/pg"
fl_start_redis "$REDIS_PORT" "$work/redis"
fl_start_cmd web "$work/web" --port "$WEB_PORT" -- \
	env OTEL_SERVICE_NAME=web "$PY" -u "$here/httpd.py" "$WEB_PORT"
fl_start_cmd rstsrv "$work/rstsrv" --port "$RST_PORT" -- \
	env OTEL_SERVICE_NAME=rstsrv "$PY" -u "$here/rstserver.py" "$RST_PORT"

it_agent_start "$work/agent.out" "$work/agent.err" --db "$work/fl.db" \
	--control "$work/ctl.sock" --source test --flush-interval 3600
is "control socket: mode 0600, a socket" "$(stat -c '%a %F' "$work/ctl.sock")" "600 socket"
grep -q "control socket '$work/ctl.sock'" "$work/agent.err" && ok "control socket announced" ||
	bad "control socket announced: $(cat "$work/agent.err")"

# ---- outside any test: counted in windows, in no footprint -------------------
web /api/items/0
rcli SET before 1

# ---- test A: 3 x 200, 2 x 404 -------------------------------------------------
is "begin 1 A" "$(ctl 'begin 1 A')" "ok"
for i in 1 2 3; do web "/api/items/$i"; done
web /nope; web /nope
is "end 1 A: 2 footprint rows" "$(ctl 'end 1 A')" "ok 2"

web /api/items/99      # between tests: nobody's

# ---- test B: redis SET x4 + WRONGTYPE, postgres 42P01, a refused connect ----
is "begin 1 B" "$(ctl 'begin 1 B')" "ok"
for i in 1 2 3 4; do rcli SET "k$i" v; done
rcli LPUSH k1 x || true
pg "SELECT * FROM missing_table"
curl -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/" || true
is "end 1 B: 4 footprint rows" "$(ctl 'end 1 B')" "ok 4"

is "footprint rows of A and B, exact" \
	"$(q "$work/fl.db" "SELECT test, client, server, protocol, operation, status, requests, errors,
		latency_sum_ns > 0, (latency_hist IS NOT NULL) FROM footprints WHERE run_id = 1 ORDER BY 1, 2, 3, 4, 5, 6")" \
	"A|curl|web|http|GET /api/items/{id}|200|3|0|1|1
A|curl|web|http|GET /nope|404|2|0|1|1
B|curl|127.0.0.1:$CLOSED_PORT|tcp|connect|conn_refused|1|1|0|0
B|psql|postgres|postgresql|SELECT * FROM missing_table|42P01|1|1|1|1
B|redis-cli|redis-server|redis|LPUSH|WRONGTYPE|1|1|1|1
B|redis-cli|redis-server|redis|SET|ok|4|0|1|1"

# ---- parallel tests: why the agent attributes one test at a time -------------
is "begin 2 P" "$(ctl 'begin 2 P')" "ok"
is "a second begin while P is open: err busy" \
	"$(ctl 'begin 2 Q' | cut -d: -f1)" "err busy"
# two "tests" running at once: 5 requests each, interleaved
( for i in 1 2 3 4 5; do web "/api/items/$i"; done ) & p1=$!
( for i in 1 2 3 4 5; do web /other; done ) & p2=$!
wait "$p1" "$p2"
is "end 2 P: the other test's 5 requests are in P's footprint (time cannot tell)" \
	"$(ctl 'end 2 P'; q "$work/fl.db" "SELECT operation, requests FROM footprints WHERE run_id = 2 ORDER BY 1")" \
	"ok 2
GET /api/items/{id}|5
GET /other|5"

# ---- protocol errors: err replies, the agent keeps running --------------------
is "malformed commands: err, one reply each" \
	"$(ctl 'bogus' 'begin' 'begin 0 A' 'begin 1' 'begin x A' 'end 9 nope' 'status extra' 'begin 1 A B' '' | cut -d' ' -f1-2)" \
	"err unknown
err usage:
err invalid
err usage:
err invalid
err not
err usage:
err usage:
err empty"
long=$(head -c 2000 /dev/zero | tr '\0' 'x')
is "a line too long: err, then the next command works" \
	"$("$PY" - "$work/ctl.sock" "$long" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
s.sendall(sys.argv[2].encode() + b"\nstatus\n")
print(f.readline().decode().strip()); print(f.readline().decode().split()[0])
EOF
)" "err line too long
ok"
# many clients at once, one left half-written: the others are served
"$PY" - "$work/ctl.sock" <<'EOF' >"$work/many.out"
import socket, sys
socks = []
for i in range(10):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
socks[0].sendall(b"stat")            # no newline yet
for s in socks[1:]:
    s.sendall(b"status\n")
ok = sum(s.makefile("rb").readline().startswith(b"ok ") for s in socks[1:])
socks[0].sendall(b"us\n")
ok += socks[0].makefile("rb").readline().startswith(b"ok ")
print(ok)
EOF
is "10 clients at once (one sending half a line first): 10 replies" "$(cat "$work/many.out")" "10"
kill -0 "$agent_pid" && ok "agent still running after malformed input" || bad "agent died"
st=$(ctl status)
case "$st" in
"ok run=- test=- state=idle attributed=10 tests_ended=3 footprint_rows=8 "*" ringbuf_drops=0 "*) ok "status: idle, 3 tests ended, 8 rows, no drops" ;;
*) bad "status: $st" ;;
esac

# ---- test C: a connection reset by the server ---------------------------------
is "begin 1 C" "$(ctl 'begin 1 C')" "ok"
curl -s -o /dev/null "http://127.0.0.1:$RST_PORT/" || true
is "end 1 C: the reset, status conn_reset" \
	"$(ctl 'end 1 C'; q "$work/fl.db" "SELECT client, server, protocol, operation, status, requests, errors
		FROM footprints WHERE run_id = 1 AND test = 'C'")" \
	"ok 1
curl|rstsrv|tcp|connect|conn_reset|1|1"

# ---- flush: windows with their per-status rows --------------------------------
is "flush" "$(ctl flush)" "ok"
is "per-status window rows, exact (all traffic, tests or not)" \
	"$(q "$work/fl.db" "SELECT c.name, s.name, e.protocol, e.operation, w.status, sum(w.requests), sum(w.errors),
		min(w.width_s), min(w.source)
		FROM edge_window_statuses w JOIN edges e ON e.id = w.edge_id JOIN services c ON c.id = e.client_id
		JOIN services s ON s.id = e.server_id GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")" \
	"curl|127.0.0.1:$CLOSED_PORT|tcp|connect|conn_refused|1|1|60|test
curl|rstsrv|tcp|connect|conn_reset|1|1|60|test
curl|web|http|GET /api/items/{id}|200|10|0|60|test
curl|web|http|GET /nope|404|2|0|60|test
curl|web|http|GET /other|404|5|0|60|test
psql|postgres|postgresql|SELECT * FROM missing_table|42P01|1|1|60|test
redis-cli|redis-server|redis|LPUSH|WRONGTYPE|1|1|60|test
redis-cli|redis-server|redis|SET|ok|5|0|60|test"
is "status rows sum to the windows' requests (+ failed connects)" \
	"$(q "$work/fl.db" "SELECT (SELECT sum(requests) FROM edge_window_statuses) =
		(SELECT sum(requests + conn_errors) FROM edge_windows)")" "1"

"$gatectl" --db "$work/fl.db" graph -o json >"$work/graph.json"
is "graph -o json: statuses per edge, the OTel status attribute when there is one status" \
	"$("$PY" - "$work/graph.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for e in sorted(doc["edges"], key=lambda e: (e["client"], e["server"], e["operation"])):
    a = e["attributes"]
    code = [f"{k}={a[k]!r}" for k in ("http.response.status_code", "rpc.grpc.status_code",
                                      "db.response.status_code") if k in a]
    print(e["client"], e["server"], e["operation"], json.dumps(e["statuses"], sort_keys=True), *code)
PYEOF
)" "curl 127.0.0.1:$CLOSED_PORT connect {\"conn_refused\": 1}
curl rstsrv connect {\"conn_reset\": 1}
curl web GET /api/items/{id} {\"200\": 10} http.response.status_code=200
curl web GET /nope {\"404\": 2} http.response.status_code=404
curl web GET /other {\"404\": 5} http.response.status_code=404
psql postgres SELECT * FROM missing_table {\"42P01\": 1} db.response.status_code='42P01'
redis-cli redis-server LPUSH {\"WRONGTYPE\": 1}
redis-cli redis-server SET {\"ok\": 5}"

it_agent_stop "$work/agent.err"
[ ! -e "$work/ctl.sock" ] && ok "control socket removed at exit" || bad "control socket left behind"

# a stale socket file (agent killed) is replaced; a live one refused
"$agent" --db "$work/k.db" --control "$work/k.sock" 2>"$work/k.err" & kp=$!
for _ in $(seq 100); do grep -q "control socket" "$work/k.err" && break; sleep 0.1; done
set +e
"$agent" --db "$work/k2.db" --control "$work/k.sock" --duration 5 2>"$work/k2.err"; rc=$?
set -e
is "a second agent on a live control socket: exit 2, one message" \
	"$rc $(grep -c . "$work/k2.err") $(grep -o "another agent serves it" "$work/k2.err")" \
	"2 1 another agent serves it"
kill -KILL "$kp"; wait "$kp" 2>/dev/null || true
it_agent_start "$work/k3.out" "$work/k3.err" --db "$work/k3.db" --control "$work/k.sock"
is "a stale socket of a killed agent is replaced" "$("$PY" "$here/ctl.py" "$work/k.sock" status | cut -d' ' -f1-4)" \
	"ok run=- test=- state=idle"
it_agent_stop "$work/k3.err"
: >"$work/notsock"
set +e
"$agent" --db "$work/k4.db" --control "$work/notsock" --duration 5 2>"$work/k4.err"; rc=$?
set -e
is "--control on a file that is not a socket: exit 2" "$rc $(cat "$work/k4.err")" \
	"2 faultline-agent: cannot listen on '$work/notsock': not a socket"

# ---- network namespaces --------------------------------------------------------
ip netns add "$NS"
ip -n "$NS" link set lo up
fl_start_cmd nsweb "$work/nsweb" -- ip netns exec "$NS" \
	env OTEL_SERVICE_NAME=nsweb "$PY" -u "$here/httpd.py" "$NS_PORT"
for _ in $(seq 100); do
	ip netns exec "$NS" ss -ltnH "sport = :$NS_PORT" | grep -q . && break; sleep 0.1
done
nsweb() { ip netns exec "$NS" curl -s -o /dev/null "http://127.0.0.1:$NS_PORT$1"; }

# two agents at once on the same traffic: one only the namespace, one all but it
"$agent" --db "$work/only.db" --netns "$NS" --control "$work/only.sock" 2>"$work/only.err" & pids+=($!)
"$agent" --db "$work/excl.db" --exclude-netns "$NS" 2>"$work/excl.err" & pids+=($!)
for _ in $(seq 100); do
	grep -q ready "$work/only.err" && grep -q ready "$work/excl.err" && break; sleep 0.1
done
grep -q ready "$work/only.err" && grep -q ready "$work/excl.err" && ok "--netns and --exclude-netns agents ready" ||
	bad "netns agents: $(cat "$work/only.err" "$work/excl.err")"
inum=$(stat -L -c %i "/run/netns/$NS")
st=$("$PY" "$here/ctl.py" "$work/only.sock" status)
case "$st" in *" netns=only:$NS=$inum") ok "status names the namespace and its inode" ;; *) bad "status: $st" ;; esac
for i in 1 2 3 4; do nsweb "/api/items/$i"; done
nsweb /api/fail
for i in 1 2 3; do web "/api/items/$i"; done
ip netns exec "$NS" curl -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/" || true
curl -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/" || true
for p in "${pids[@]}"; do kill -INT "$p"; wait "$p" || bad "netns agent exit $?"; done
pids=()
edges_of() {
	q "$1" "SELECT s.name, e.operation, sum(w.requests), sum(w.errors), sum(w.conn_errors)
		FROM edge_windows w JOIN edges e ON e.id = w.edge_id JOIN services s ON s.id = e.server_id
		GROUP BY 1, 2 ORDER BY 1, 2"
}
is "--netns: the namespace's traffic, none of the host's" "$(edges_of "$work/only.db")" \
	"127.0.0.1:$CLOSED_PORT|connect|0|0|1
nsweb|GET /api/fail|1|1|0
nsweb|GET /api/items/{id}|4|0|0"
is "--exclude-netns: the host's traffic, none of the namespace's" "$(edges_of "$work/excl.db")" \
	"127.0.0.1:$CLOSED_PORT|connect|0|0|1
web|GET /api/items/{id}|3|0|0"

# a namespace named before it exists: traced once it appears
it_agent_start "$work/late.out" "$work/late.err" --db "$work/late.db" --netns "$LATE"
grep -q "do not exist yet" "$work/late.err" && ok "--netns of a missing namespace: said, not refused" ||
	bad "late: $(cat "$work/late.err")"
ip netns add "$LATE"
ip -n "$LATE" link set lo up
fl_start_cmd lateweb "$work/lateweb" -- ip netns exec "$LATE" \
	env OTEL_SERVICE_NAME=lateweb "$PY" -u "$here/httpd.py" "$LATE_PORT"
for _ in $(seq 100); do
	ip netns exec "$LATE" ss -ltnH "sport = :$LATE_PORT" | grep -q . && break; sleep 0.1
done
for i in 1 2; do ip netns exec "$LATE" curl -s -o /dev/null "http://127.0.0.1:$LATE_PORT/api/items/$i"; done
web /api/items/7
it_agent_stop "$work/late.err"
is "a namespace that appeared later: its 2 requests, none of the host's" "$(edges_of "$work/late.db")" \
	"lateweb|GET /api/items/{id}|2|0|0"

set +e
"$agent" --netns a/b --duration 1 >/dev/null 2>"$work/badns.err"; rc=$?
is "bad --netns name: exit 2, the reason" "$rc $(head -1 "$work/badns.err")" \
	"2 faultline-agent: invalid network namespace 'a/b' (a name under /run/netns or an absolute path)"
"$agent" --netns x --exclude-netns y --duration 1 >/dev/null 2>&1; rc=$?
set -e
is "--netns with --exclude-netns: exit 2" "$rc" 2

fl_stop_all
ip netns del "$NS"; ip netns del "$LATE"
[ -z "$(ip netns list | grep -E "^($NS|$LATE)( |$)" || true)" ] && ok "namespaces deleted" || bad "namespaces left"
finish
