#!/usr/bin/env bash
# How many series one agent exports on the estate (tools/estate/shop.json):
# the agent with --metrics-addr, the estate up, its tests run once (every
# test's traffic), then /metrics counted per family. `estate.py up` takes
# the host lock and keeps it until `down`: the agent runs in between.
# A measurement for docs/metrics.md "Cardinality", not a test.
#
# usage: tools/deploy/estate-series.sh        Ports: 27130 the agent's metrics.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
MPORT=27130
# shellcheck source=../lib/servers.sh
. tools/lib/servers.sh
work=$(mktemp -d /tmp/faultline-estate-series.XXXXXX)
agent_pid=
cleanup() {
	/usr/bin/python3 tools/estate/estate.py down --state "$work/st" >/dev/null 2>&1 || true
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
/usr/bin/python3 tools/estate/estate.py up --state "$work/st" >"$work/up.log" 2>&1 || { tail "$work/up.log"; exit 1; }
./build/faultline-agent --db "$work/e.db" --metrics-addr "127.0.0.1:$MPORT" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do grep -q ready "$work/agent.log" && break; sleep 0.1; done
/usr/bin/python3 tools/estate/estate.py test --state "$work/st" >"$work/test.log" 2>&1 || true
sleep 2
curl -s "http://127.0.0.1:$MPORT/metrics" >"$work/metrics.txt"
tests=$(grep -cE ' (pass|fail) ' "$work/test.log" || true)
/usr/bin/python3 - "$work/metrics.txt" "$tests" <<'PY'
import collections, sys
fam = collections.Counter()
pairs, edges = set(), set()
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    name = line.split("{")[0].split(" ")[0]
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and "seconds" in name:
            name = name[: -len(suf)]
    fam[name] += 1
    if name == "traces_service_graph_request_total":
        pairs.add(line.split(" ")[0])
    if name == "faultline_request_duration_seconds" and "le=\"+Inf\"" in line:
        edges.add(line)
total = sum(fam.values())
print("estate-series: the estate up, its %s tests run once, one agent" % sys.argv[2])
print("  %d series in all: %d (client, server) pairs, %d edges with latency" % (total, len(pairs), len(edges)))
for k, v in fam.most_common():
    if not k.startswith("faultline_agent_"):
        print("    %-48s %d" % (k, v))
print("    %-48s %d" % ("faultline_agent_* (health)", sum(v for k, v in fam.items() if k.startswith("faultline_agent_"))))
PY
