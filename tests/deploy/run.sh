#!/usr/bin/env bash
# Installing and running faultline for real: `make install` into a DESTDIR
# puts every file where it belongs and `make uninstall` takes them away; the
# man pages render; the systemd unit passes `systemd-analyze verify` (and a
# broken one does not); the agent runs with only the unit's capabilities and
# names a service of another user; the Kubernetes manifests parse and carry
# what the agent needs (and a DaemonSet without hostPID is refused); the
# pod identity from the kubelet's container log links.
#
# Ports (27100-27199): 27110 the HTTP server of the capability check.
# Prints "deploy: N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PY=/usr/bin/python3
HTTP_PORT=27110
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() { echo "deploy: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

for c in systemd-analyze "$PY" setpriv man col curl; do
	command -v "$c" >/dev/null || { bad "missing $c (run: tools/install-deps.sh)"; finish; exit 1; }
done
"$PY" -c 'import yaml' 2>/dev/null || { bad "missing python3-yaml (run: tools/install-deps.sh)"; finish; exit 1; }
[ "$(id -u)" -eq 0 ] || { bad "needs root (sudo make test)"; finish; exit 1; }

work=$(mktemp -d /tmp/faultline-deploy.XXXXXX)
chmod 755 "$work"
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	fl_stop_all 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# --- make install / uninstall into a DESTDIR --------------------------------------
dest=$work/dest
if make --no-print-directory install DESTDIR="$dest" PREFIX=/usr >"$work/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	bad "make install: $(tail -5 "$work/install.log")"
fi
want=(
	"0755 usr/sbin/faultline-agent" "0755 usr/bin/gatectl"
	"0644 usr/share/man/man8/faultline-agent.8" "0644 usr/share/man/man1/gatectl.1"
	"0644 usr/lib/systemd/system/faultline-agent.service"
	"0644 etc/default/faultline-agent" "0644 etc/faultline/services.json"
	"0644 usr/share/doc/faultline/examples/services.json"
	"0644 usr/share/doc/faultline/examples/faultline-agent.default"
	"0644 usr/share/doc/faultline/kubernetes/daemonset.yaml"
	"0644 usr/share/doc/faultline/metrics.md" "0644 usr/share/doc/faultline/deploy.md"
)
missing=""
for w in "${want[@]}"; do
	mode=${w%% *} f=${w#* }
	[ "$(stat -c %a "$dest/$f" 2>/dev/null)" = "${mode#0}" ] || missing="$missing $f($(stat -c %a "$dest/$f" 2>/dev/null || echo absent))"
done
[ -z "$missing" ] && ok "installed: binaries, man pages, unit, configs, docs, manifests" || bad "not installed as expected:$missing"
grep -q '^ExecStart=/usr/sbin/faultline-agent ' "$dest/usr/lib/systemd/system/faultline-agent.service" &&
	grep -q '^EnvironmentFile=-/etc/default/faultline-agent' "$dest/usr/lib/systemd/system/faultline-agent.service" &&
	ok "unit names the installed binary and /etc" || bad "unit paths: $(grep -E '^(ExecStart|EnvironmentFile)' "$dest/usr/lib/systemd/system/faultline-agent.service")"
"$dest/usr/sbin/faultline-agent" --version | grep -q "faultline-agent" && "$dest/usr/bin/gatectl" --help >/dev/null &&
	ok "installed binaries run" || bad "installed binaries do not run"

# man pages: generated from --help, they render without warnings and say
# what the binaries say
for m in usr/share/man/man8/faultline-agent.8 usr/share/man/man1/gatectl.1; do
	out=$(MANWIDTH=80 man --warnings -l "$dest/$m" 2>"$work/man.err" | col -b)
	if [ ! -s "$work/man.err" ] && grep -q "NAME" <<<"$out" && grep -q -- "--metrics-addr\|--prometheus" <<<"$out"; then
		ok "man page $(basename "$m") renders without warnings"
	else
		bad "man page $m: $(head -3 "$work/man.err")"
	fi
done
gman=$(man -l "$dest/usr/share/man/man1/gatectl.1" 2>/dev/null | col -b)
grep -q "usage: gatectl graph" <<<"$gman" && grep -q "usage: gatectl scope" <<<"$gman" &&
	ok "gatectl(1) has every subcommand's help (graph shown)" || bad "gatectl(1) lacks the subcommands"

# a changed config survives uninstall; everything else goes
echo '{"services": [{"name": "mine", "match": {"port": 1}}]}' >"$dest/etc/faultline/services.json"
make --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr >"$work/uninstall.log" 2>&1
left=$(cd "$dest" && find . -type f | sort | tr '\n' ' ')
if [ "$left" = "./etc/faultline/services.json " ]; then
	ok "make uninstall removes all but the operator's changed config"
else
	bad "after uninstall: $left"
fi

# --- the systemd unit ---------------------------------------------------------------
# installed for real into a prefix (no DESTDIR), so ExecStart's binary exists
pfx=$work/prefix
make --no-print-directory install PREFIX="$pfx" >"$work/install2.log" 2>&1
unit=$pfx/lib/systemd/system/faultline-agent.service
# (Documentation=man:faultline-agent(8) is checked too: the installed page)
if out=$(MANPATH=$pfx/share/man systemd-analyze verify "$unit" 2>&1); then
	ok "systemd-analyze verify faultline-agent.service"
else
	bad "systemd-analyze verify: $out"
fi
sed 's|^ExecStart=.*|ExecStart=faultline-agent-missing --db x|' "$unit" >"$work/broken.service"
if MANPATH=$pfx/share/man systemd-analyze verify "$work/broken.service" >/dev/null 2>&1; then
	bad "systemd-analyze verify accepts a broken unit (the check cannot fail)"
else
	ok "a broken unit fails systemd-analyze verify"
fi
for k in StateDirectory=faultline Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict; do
	grep -qx "$k" "$unit" || bad "unit lacks $k"
done
ok "unit: StateDirectory, restart policy, hardening present"

# --- the unit's capabilities are enough -----------------------------------------------
# the agent as root with only CapabilityBoundingSet's capabilities; a server
# of another user (nobody) must still be named from its environment, which
# takes CAP_SYS_PTRACE
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
setcaps=$(for c in $caps; do printf ',+%s' "$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done)
# shellcheck source=../../tools/lib/servers.sh
. "$root/tools/lib/servers.sh"
fl_lock_host
fl_start_cmd nobodysvc "$work/svc" --port "$HTTP_PORT" -- \
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env OTEL_SERVICE_NAME=nobodysvc "$PY" -m http.server --bind 127.0.0.1 --directory "$work/svc" "$HTTP_PORT"
# as root, execve gives the bounding set and nothing more (as systemd does)
setpriv --bounding-set=-all"$setcaps" \
	"$pfx/sbin/faultline-agent" --db "$work/caps.db" --flush-interval 1 \
	--services "$pfx/etc/faultline/services.json" >"$work/caps.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do grep -q ready "$work/caps.log" && break; kill -0 $agent_pid 2>/dev/null || break; sleep 0.1; done
if grep -q ready "$work/caps.log"; then
	ok "agent loads and attaches with only: $caps"
else
	bad "agent with the unit's capabilities: $(tail -5 "$work/caps.log")"
fi
grep CapEff "/proc/$agent_pid/status" >"$work/capeff" 2>/dev/null
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/"; done
sleep 1.5
kill -INT "$agent_pid"; wait "$agent_pid"; rc=$?; agent_pid=
fl_stop_all
n=$("$root/build/gatectl" graph --db "$work/caps.db" -o json | "$PY" -c '
import json, sys
g = json.load(sys.stdin)
print(sum(e["requests"] for e in g["edges"] if e["client"] == "curl" and e["server"] == "nobodysvc"))')
if [ $rc -eq 0 ] && [ "$n" = 3 ]; then
	ok "with those capabilities: curl -> nobodysvc (another user's service) 3 requests, exit 0 ($(cat "$work/capeff"))"
else
	bad "capability run: exit $rc, curl -> nobodysvc requests '$n'"
fi

# --- Kubernetes manifests -----------------------------------------------------------------
if out=$("$PY" tools/deploy/check-k8s.py tools/deploy/kubernetes 2>&1); then
	ok "kubernetes manifests parse; DaemonSet, ServiceAccount, NetworkPolicy complete"
else
	bad "kubernetes manifests: $out"
fi
cp -r tools/deploy/kubernetes "$work/k8s-bad"
sed -i 's/hostPID: true/hostPID: false/; s/- --metrics-addr=$(POD_IP):9464/- --metrics-addr=0.0.0.0:9464/' "$work/k8s-bad/daemonset.yaml"
out=$("$PY" tools/deploy/check-k8s.py "$work/k8s-bad" 2>&1)
if grep -q hostPID <<<"$out" && grep -q "pod IP" <<<"$out"; then
	ok "a DaemonSet without hostPID or off the pod IP is refused"
else
	bad "the manifest check did not catch a broken DaemonSet: $out"
fi

finish
