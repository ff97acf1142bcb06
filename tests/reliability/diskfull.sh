#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Disk full: the agent's store on a small tmpfs, filled up while the agent
# runs (--flush-interval 1, --backlog-windows 40) and real nginx is called.
# Asserts that the agent keeps running and says so once (not every flush),
# that its backlog holds exactly the cap of windows and drops (and counts)
# the records past it, never growing further, and that once space returns
# the backlog is written: the stored requests plus the dropped ones equal
# what was sent, exactly; integrity_check ok.
#
# Ports 21121-21123 (block 21100-21199). Needs root (BPF, mount).
# Prints "diskfull: N passed, N failed".
set -euo pipefail

SUITE=diskfull
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
rel=$root/tests/reliability

HTTP_PORT=21121 FLOOD_PORT=21122 H2_PORT=21123
export FLOOD_PORT H2_PORT
CAP=40 ROUTES=100 REPEAT=500

it_require nginx sqlite3 mount umount "$PY"

work=$(mktemp -d /tmp/faultline-diskfull.XXXXXX)
chmod 755 "$work"
agent_pid= mounted=
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all
	[ -n "$mounted" ] && umount "$work/store"
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/store" "$work/nginx/www" "$work/nginx/empty"
mount -t tmpfs -o size=8m,mode=0700 faultline-diskfull "$work/store" && mounted=1 ||
	{ bad "cannot mount a tmpfs"; finish; exit 1; }
printf 'hello\n' >"$work/nginx/www/index.html"
fl_start_nginx "$HTTP_PORT" "$work/nginx" "$rel/nginx.conf.in"
db=$work/store/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1 \
	--backlog-windows "$CAP" --no-tls --stats

# client NAME PATH... : one keep-alive connection, each PATH requested once
client() {
	local name=$1; shift
	OTEL_SERVICE_NAME=$name "$PY" - "$HTTP_PORT" "$@" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
buf = b""
for p in sys.argv[2:]:
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode())
    while True:
        h = buf.find(b"\r\n\r\n")
        if h >= 0:
            cl = [int(l.split(b":")[1]) for l in buf[:h].split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0]
            if len(buf) >= h + 4 + cl:
                buf = buf[h + 4 + cl:]
                break
        b = s.recv(65536)
        if not b:
            sys.exit("closed")
        buf += b
s.close()
EOF
}
stored() {
	sqlite3 "$db" "SELECT coalesce(sum(w.requests), 0) FROM edge_windows w
		JOIN edges e ON e.id = w.edge_id JOIN services c ON c.id = e.client_id
		WHERE c.name = '$1'"
}
stored_edges() {
	sqlite3 "$db" "SELECT count(*) FROM edges e JOIN services c ON c.id = e.client_id
		WHERE c.name = '$1'"
}

# --- 1. healthy: written within a flush ----------------------------------------
client dfa $(for _ in $(seq 50); do printf '/index.html '; done)
sleep 2
[ "$(stored dfa)" = 50 ] && ok "healthy store: 50 requests written" || bad "dfa stored $(stored dfa)"

# --- 2. the disk fills up ----------------------------------------------------------
# the phase must not straddle a minute (windows are per minute): start it
# in the first 40 s of one
while [ "$(date +%S | sed 's/^0//')" -gt 40 ] || [ "$(date +%S | sed 's/^0//')" -lt 2 ]; do sleep 1; done
dd if=/dev/zero of="$work/store/fill" bs=64k 2>/dev/null || true
avail=$(df --output=avail -k "$work/store" | tail -1 | tr -d ' ')
[ "$avail" = 0 ] && ok "store's filesystem full (0 KiB free)" || bad "tmpfs not full: $avail KiB free"
sleep 1.5	# a failed flush or two
# one edge with REPEAT requests (one window), then ROUTES distinct routes
client dfb $(for _ in $(seq "$REPEAT"); do printf '/index.html '; done) \
	$(for i in $(seq "$ROUTES"); do printf '/b/r%d ' "$i"; done)
sleep 4	# four more failed flushes
kill -0 "$agent_pid" && ok "agent running on a full disk" || { bad "agent died on a full disk"; agent_pid=; finish; exit 1; }
# --stats: the counters after every flush; the last line says the latest
errs=$(grep 'counters:' "$work/agent.log" | tail -1 | grep -o ' store_errors=[0-9]*' | cut -d= -f2)
[ "${errs:-0}" -ge 4 ] && ok "flushes fail while the disk is full ($errs so far)" ||
	bad "store_errors ${errs:-?} while full: $(ls -l "$work/store")"
nfail=$(grep -c 'cannot write store' "$work/agent.log" || true)
[ "$nfail" = 1 ] && ok "the failure said once, not at every flush" ||
	bad "failure messages: $nfail: $(grep 'cannot write store' "$work/agent.log" | head -3)"
grep 'cannot write store' "$work/agent.log" | sed 's/^/    /' || true

# --- 3. space returns ----------------------------------------------------------------
rm -f "$work/store/fill"
sleep 2.5
grep -q 'store written again' "$work/agent.log" && ok "the agent says the backlog was written" ||
	bad "no recovery message: $(tail -3 "$work/agent.log")"
grep 'store written again' "$work/agent.log" | sed 's/^/    /' || true
it_agent_stop "$work/agent.log"
# --stats printed counters at every flush: the last line is the final one
sed -n 's/^faultline-agent: counters: //p' "$work/agent.log" | tail -1 | tr ' ' '\n' >"$work/counters"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] && ok "store integrity_check ok" || bad "integrity_check failed"

c() { sed -n "s/^$1=//p" "$work/counters"; }
peak=$(c backlog_windows_peak) wdrop=$(c backlog_windows_dropped) rdrop=$(c backlog_records_dropped)
got=$(stored dfb) routes_kept=$(($(stored_edges dfb) - 1))
echo "    backlog: peak $peak windows (cap $CAP), $wdrop windows and $rdrop records dropped; stored $got of $((REPEAT + ROUTES)); store_errors $(c store_errors)"
[ "$peak" = "$CAP" ] && ok "backlog reached and held its cap: peak $peak windows" ||
	bad "backlog peak $peak, cap $CAP"
[ $((got + rdrop)) = $((REPEAT + ROUTES)) ] && ok "stored + dropped = sent: $got + $rdrop = $((REPEAT + ROUTES))" ||
	bad "stored $got + dropped $rdrop != sent $((REPEAT + ROUTES))"
# exact: the repeated edge's one window and CAP - 1 routes kept
[ "$got" = $((REPEAT + CAP - 1)) ] && [ "$routes_kept" = $((CAP - 1)) ] && [ "$wdrop" = $((ROUTES - CAP + 1)) ] &&
	ok "kept exactly $REPEAT + $((CAP - 1)) routes, $wdrop windows dropped" ||
	bad "kept $got requests, $routes_kept routes, $wdrop windows dropped"
[ "$(stored dfa)" = 50 ] && ok "what was written before the disk filled is unchanged" || bad "dfa now $(stored dfa)"
[ "$(c store_errors)" -ge 4 ] && ok "store_errors counted ($(c store_errors) failed flushes)" || bad "store_errors $(c store_errors)"

finish
