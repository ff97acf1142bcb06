#!/usr/bin/env bash
# Per-edge faults (gate/fault.c through `gatectl fault`): each fault kind on
# one edge of a namespace the test makes, with the sibling edge to the same
# server (another client cgroup) staying clean; the client timeout decides
# the latency cases exactly (+1 s against a 500 ms timeout fails, +100 ms
# does not); a SIGKILLed run's leftovers are swept; bad input exits 2.
# Ports: 17290 (the server inside the namespace).
set -u
SUITE=deep-faults
. "$(dirname "$0")/../integration/lib.sh"
it_require nft nsenter curl ip

ns=fl-deeptest
port=17290
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg=$cg2/faultline-deeptest
work=$(mktemp -d)
srv_pid=

cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	pkill -KILL -f "gatectl fault run --netns $ns" 2>/dev/null
	for d in "$cg"/a "$cg"/b "$cg"; do
		[ -d "$d" ] && { echo 1 >"$d/cgroup.kill" 2>/dev/null; rmdir "$d" 2>/dev/null; }
	done
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

[ -n "$cg2" ] || { bad "no cgroup2 mount in /proc/mounts"; finish; exit 1; }
ip netns del "$ns" 2>/dev/null
ip netns add "$ns" && ip -n "$ns" link set lo up || { bad "cannot make namespace $ns"; finish; exit 1; }
mkdir -p "$cg/a" "$cg/b"
head -c 20000 /dev/zero | tr '\0' x >"$work/big"	# 20 kB: 2.5 s at 64 kbit/s
(cd "$work" && exec nsenter --net=/run/netns/$ns "$PY" -m http.server $port --bind 127.0.0.1) \
	>"$work/http.log" 2>&1 &
srv_pid=$!
for _ in $(seq 50); do
	nsenter --net=/run/netns/$ns grep -q ":$(printf '%04X' $port) 00000000:0000 0A" /proc/net/tcp && break
	sleep 0.1
done

# get CLIENT PATH TIMEOUT: curl from the client's cgroup inside the
# namespace; prints "EXIT CODE" (curl's exit status, HTTP status)
get() {
	sh -c "echo \$\$ >'$cg/$1/cgroup.procs'; exec nsenter --net=/run/netns/$ns curl -s -o /dev/null -w '%{http_code}' --max-time $3 http://127.0.0.1:$port/$2" \
		>"$work/code" 2>/dev/null
	echo "$? $(cat "$work/code")"
}

# with FAULT: run `gatectl fault run` for FAULT on a → server, then eval
# the rest; the fault is removed with SIGTERM afterwards
fault_pid=
fault_on() {
	: >"$work/fault.out"	# before the child starts: never read the last run's line
	"$gatectl" fault run --netns "$ns" --client-cgroup "$cg/a" --server 127.0.0.1:$port \
		--fault "$1" >"$work/fault.out" 2>&1 &
	fault_pid=$!
	for _ in $(seq 50); do grep -q installed "$work/fault.out" && return 0; sleep 0.1; done
	bad "fault $1 not installed: $(cat "$work/fault.out")"
	return 1
}
fault_off() {
	kill -TERM "$fault_pid"; wait "$fault_pid"
	local rc=$?
	[ $rc -eq 0 ] && grep -q "fault removed" "$work/fault.out" || bad "fault not removed (exit $rc)"
	[ -z "$(nsenter --net=/run/netns/$ns nft list tables)" ] || bad "nft tables left: $(nsenter --net=/run/netns/$ns nft list tables)"
}

# expect NAME GOT WANT
expect() { [ "$2" = "$3" ] && ok "$1: $2" || bad "$1: got '$2', want '$3'"; }

expect "no fault: a" "$(get a '' 2)" "0 200"
expect "no fault: b" "$(get b '' 2)" "0 200"

# refuse: a's connect is refused (curl 7), b is untouched
fault_on refuse && {
	expect "refuse: a is refused" "$(get a '' 2)" "7 000"
	expect "refuse: b is clean" "$(get b '' 2)" "0 200"
	fault_off
}
# reset: the handshake passes, the request is answered by a reset (curl 56)
fault_on reset && {
	expect "reset: a is reset" "$(get a '' 2)" "56 000"
	expect "reset: b is clean" "$(get b '' 2)" "0 200"
	fault_off
}
# blackhole: a's packets vanish, its own 1 s timeout fires (curl 28)
fault_on blackhole && {
	expect "blackhole: a times out" "$(get a '' 1)" "28 000"
	expect "blackhole: b is clean" "$(get b '' 1)" "0 200"
	fault_off
}
# latency +1 s against a 500 ms client timeout fails; +100 ms does not
fault_on latency:1s:0ms && {
	expect "latency 1s: a's 500 ms timeout fires" "$(get a '' 0.5)" "28 000"
	expect "latency 1s: b is clean" "$(get b '' 0.5)" "0 200"
	fault_off
}
fault_on latency:100ms && {
	expect "latency 100ms: a within its 500 ms timeout" "$(get a '' 0.5)" "0 200"
	s=$(date +%s%N); get a '' 2 >/dev/null; e=$(( ($(date +%s%N) - s) / 1000000 ))
	[ "$e" -ge 90 ] && ok "latency 100ms: a's request took ${e} ms (>= 90)" ||
		bad "latency 100ms: a's request took ${e} ms, want >= 90"
	fault_off
}
# bandwidth 64 kbit/s: 20 kB take ~2.5 s, so a 1 s timeout fails; b is fast
fault_on bandwidth:64kbit && {
	expect "bandwidth 64kbit: a's 20 kB miss a 1 s timeout" "$(get a big 1)" "28 200"
	expect "bandwidth 64kbit: b is clean" "$(get b big 1)" "0 200"
	fault_off
}

# SIGKILL: the relay dies with the run, the table stays until a sweep
fault_on latency:100ms && {
	kill -KILL "$fault_pid"; wait "$fault_pid" 2>/dev/null
	sleep 0.2
	left=$(nsenter --net=/run/netns/$ns nft list tables | grep -c faultline_fault_)
	expect "SIGKILL leaves the fault's table" "$left" "1"
	pgrep -f "gatectl fault run --netns $ns" >/dev/null && bad "relay outlived its SIGKILLed run" ||
		ok "relay died with its run (PR_SET_PDEATHSIG)"
	expect "sweep removes it" "$("$gatectl" fault sweep --netns "$ns")" "1 leftover fault table(s) removed"
	expect "nothing left after the sweep" "$(nsenter --net=/run/netns/$ns nft list tables)" ""
	expect "after the sweep: a" "$(get a '' 2)" "0 200"
}

# bad input: exit 2, one line
"$gatectl" fault run --netns "$ns" --client-cgroup "$cg/a" --server 127.0.0.1:$port --fault latency >"$work/e" 2>&1
expect "latency without a delay: exit 2" "$? $(cat "$work/e")" \
	"2 gatectl: fault 'latency' needs a delay (latency:100ms)"
"$gatectl" fault run --netns "$ns" --client-cgroup /tmp --server 127.0.0.1:$port --fault refuse >"$work/e" 2>&1
rc=$?
expect "client cgroup outside cgroup2: exit 2" "$rc" "2"
"$gatectl" fault run --netns no-such-ns --client-cgroup "$cg/a" --server 127.0.0.1:$port --fault refuse >"$work/e" 2>&1
expect "unknown namespace: exit 2" "$?" "2"

finish
