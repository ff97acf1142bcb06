#!/usr/bin/env bash
# Identity and socket-path integration test: services named as an operator
# expects when they live in another network namespace (reached over a veth
# pair, bound to the wildcard address; a keep-alive connection there opened
# before the agent) or in a cgroup (a systemd-style unit, a container), and
# connections over IPv6 and IPv4-mapped addresses, each counted once.
# Real BPF, real processes; exact counts. Needs root; under CI=true nothing
# is skipped. Prints "identity: N passed, N failed".
set -euo pipefail

SUITE=identity
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NS=fl-it-$$
VETH=flv$$
NET=10.231.$(( $$ % 250 + 1 ))   # a /30 of its own per run
PORT=28200

it_require ip curl "$PY"
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$cg2" ] || { bad "no cgroup2 mount"; finish; exit 1; }

work=$(mktemp -d /tmp/faultline-id.XXXXXX)
cgbase=$cg2/faultline-it-$$
cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')   # 64 hex digits
pids=()
agent_pid=
# run by it_cleanup after the agent is stopped
it_cleanup_extra() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null || true
	ip link del "$VETH"a 2>/dev/null || true
	for d in "$cgbase/checkout.service" "$cgbase/docker-$cid.scope" "$cgbase"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
}
trap it_cleanup EXIT

# wait until something in @netns listens on @port (no TCP probe: the agent is watching)
listening() { # NS-or-"" PORT
	local hex; hex=$(printf ':%04X' "$2")
	if [ -n "$1" ]; then ip netns exec "$1" cat /proc/net/tcp /proc/net/tcp6; else cat /proc/net/tcp /proc/net/tcp6; fi |
		awk -v p="$hex\$" '$4 == "0A" && $2 ~ p' | grep -q .
}
wait_listen() {
	for _ in $(seq 100); do listening "$1" "$2" && return 0; sleep 0.05; done
	bad "nothing listens on port $2 ${1:+in $1}"; return 1
}

# a network namespace reached over a veth pair; the server binds 0.0.0.0
for l in $(ip -br link | grep -o '^flv[0-9]*a'); do   # left by a killed run
	kill -0 "${l//[!0-9]/}" 2>/dev/null || ip link del "$l" 2>/dev/null
done
ip netns add "$NS"
ip link add "$VETH"a type veth peer name "$VETH"b
ip link set "$VETH"b netns "$NS"
ip addr add $NET.1/30 dev "$VETH"a && ip link set "$VETH"a up
ip -n "$NS" addr add $NET.2/30 dev "$VETH"b
ip -n "$NS" link set "$VETH"b up && ip -n "$NS" link set lo up
ip netns exec "$NS" env OTEL_SERVICE_NAME=netns-api "$PY" -m http.server "$PORT" \
	--bind 0.0.0.0 --directory "$work" >/dev/null 2>&1 &
pids+=($!)
wait_listen "$NS" "$PORT"
# inside the namespace too: a keep-alive connection opened before the agent
ip netns exec "$NS" env OTEL_SERVICE_NAME=ns-keepalive "$PY" "$root/tests/integration/httpd.py" \
	$((PORT + 3)) >/dev/null 2>&1 &
pids+=($!)
wait_listen "$NS" $((PORT + 3))
ip netns exec "$NS" env OTEL_SERVICE_NAME=ns-client "$PY" "$root/tests/integration/keepalive_client.py" \
	$((PORT + 3)) "$work/go" 3 "$work/kac.ready" >"$work/kac.log" 2>&1 &
kac_pid=$!
pids+=($kac_pid)
for _ in $(seq 100); do [ -e "$work/kac.ready" ] && break; sleep 0.05; done

# cgroups: a systemd-style unit and a container scope, no OTEL names
mkdir -p "$cgbase/checkout.service" "$cgbase/docker-$cid.scope"
start_in_cgroup() { # CGROUP PORT
	sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" -m http.server "$3" --bind 127.0.0.1 --directory "$4"' \
		sh "$1" "$PY" "$2" "$work" >/dev/null 2>&1 &
	pids+=($!)
	wait_listen "" "$2"
}
# IPv6 loopback, and a dual-stack server on :: reached over IPv4 (its
# accepted sockets see ::ffff:127.0.0.1, the client's see 127.0.0.1)
env OTEL_SERVICE_NAME=ipv6-api "$PY" -m http.server $((PORT + 4)) --bind ::1 \
	--directory "$work" >/dev/null 2>&1 &
pids+=($!)
env OTEL_SERVICE_NAME=dualstack-api "$PY" -m http.server $((PORT + 5)) --bind :: \
	--directory "$work" >/dev/null 2>&1 &
pids+=($!)
wait_listen "" $((PORT + 4))
wait_listen "" $((PORT + 5))
start_in_cgroup "$cgbase/checkout.service" $((PORT + 1))
start_in_cgroup "$cgbase/docker-$cid.scope" $((PORT + 2))

db=$work/faultline.db
it_agent_start "$work/agent.log" "$work/agent.log" --db "$db" --flush-interval 1

for _ in 1 2 3; do curl -sSf -o /dev/null "http://$NET.2:$PORT/" || bad "curl to $NET.2:$PORT"; done
for _ in 1 2; do curl -sSf -o /dev/null "http://127.0.0.1:$((PORT + 1))/" || bad "curl checkout"; done
curl -sSf -o /dev/null "http://127.0.0.1:$((PORT + 2))/" || bad "curl container"
for _ in 1 2; do curl -sSf -g -o /dev/null "http://[::1]:$((PORT + 4))/" || bad "curl [::1]"; done
for _ in 1 2 3 4; do curl -sSf -o /dev/null "http://127.0.0.1:$((PORT + 5))/" || bad "curl dual-stack"; done

touch "$work/go"
wait "$kac_pid" && ok "keep-alive client in the namespace done" || bad "keep-alive client: $(cat "$work/kac.log")"
sleep 1
it_agent_stop "$work/agent.log"

"$gatectl" graph --db "$db" -o json >"$work/graph.json"
"$gatectl" graph --db "$db"
if "$PY" - "$work/graph.json" "${cid:0:12}" <<'EOF'; then ok "netns and cgroup services named, counts exact"; else bad "identity edges (see above)"; fi
import json, sys
g = json.load(open(sys.argv[1]))
edges = {(e["client"], e["server"], e["operation"]): e["requests"] for e in g["edges"]}
want = {("curl", "netns-api", "GET /"): 3,
        ("curl", "checkout", "GET /"): 2,
        ("curl", sys.argv[2], "GET /"): 1,
        ("curl", "ipv6-api", "GET /"): 2,
        ("curl", "dualstack-api", "GET /"): 4,
        # adopted at start, inside another network namespace
        ("ns-client", "ns-keepalive", "GET /api/items/{id}"): 3}
bad = [(k, edges.get(k), v) for k, v in want.items() if edges.get(k) != v]
for k, got, v in bad:
    print("    %s: %s requests, expected %d" % (k, got, v))
extra = set(edges) - set(want)
for k in extra:
    print("    unexpected edge %s" % (k,))
sys.exit(1 if bad or extra else 0)
EOF
finish
