#!/usr/bin/env bash
# The estate (tools/estate): the whole shop started from its stack file, its
# integration suite on the baseline, production traffic under the real
# agent with the graph checked exactly, and a clean stop.
#
#  1. tools/estate/shop.json's tests[] is what pytest collects (gen-stack --check)
#  2. estate.py up: 16 services ready and seeded in < 20 s
#  3. the pytest suite once (JUnit XML): every test passes except the two
#     labelled flaky in tests/labels.json (their failures are reported, not
#     counted); >= 40 tests, every tests[] entry ran
#  4. build/faultline-agent, then loadgen.py (10 s at 20 req/s, seed 7); the
#     agent's graph must equal, edge for edge and count for count, the graph
#     rebuilt from the services' own CALL logs, nginx's access log and
#     loadgen's own record (check_truth.py; extra edges fail), and loadgen's
#     per-route counts must equal its edges to nginx
#  5. estate.py down: nothing left (no process of the shop, no port 17000-17199)
#
# Ports: 17000-17199 (the estate's block, COORD.md). Needs root. Under
# CI=true a missing package fails. Prints "estate: N passed, N failed".
set -euo pipefail

SUITE=estate
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

EST=$root/tools/estate
STACK=$EST/shop.json
it_require nginx redis-server redis-cli mariadb mariadb-install-db /usr/sbin/mariadbd \
	/usr/lib/postgresql/15/bin/postgres openssl setpriv "$PY"
"$PY" -c "import grpc, psycopg2, pymysql, redis, pytest" 2>/dev/null ||
	{ bad "missing python3-grpcio/psycopg2/pymysql/redis/pytest (run: tools/install-deps.sh)"; finish; exit 1; }

work=$(mktemp -d /tmp/fl-estate.XXXXXX)
chmod 755 "$work"
state=$work/st
agent_pid=
up=0
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ "$up" = 1 ] && "$PY" "$EST/estate.py" down --stack "$STACK" --state "$state" >/dev/null 2>&1
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
now_ns() { date +%s%N; }

# --- 1. the stack file lists the suite ------------------------------------------
if "$PY" "$EST/gen-stack.py" --check >"$work/gen.txt" 2>&1; then
	ok "shop.json tests[] = pytest --collect-only ($(grep -c '"timeout_s"' "$STACK") tests)"
else
	bad "$(cat "$work/gen.txt")"
fi

# --- 2. up ------------------------------------------------------------------------
t0=$(now_ns)
if "$PY" "$EST/estate.py" up --stack "$STACK" --state "$state" -v >"$work/up.txt" 2>&1; then
	up=1
	t_up=$(( ($(now_ns) - t0) / 1000000 ))
	if [ "$t_up" -lt 20000 ]; then
		ok "estate up in ${t_up} ms ($(tail -1 "$work/up.txt" | sed 's/^estate: //'))"
	else
		bad "estate up took ${t_up} ms (>= 20 s)"
	fi
else
	bad "estate up failed: $(tail -20 "$work/up.txt")"
	finish; exit 1
fi
n_alive=$("$PY" "$EST/estate.py" status --stack "$STACK" --state "$state" | grep -c ' alive .* listening$' || true)
[ "$n_alive" -eq "$(grep -c '"port"' <<<"$(tr '{' '\n' <"$STACK")")" ] &&
	ok "every service alive and listening ($n_alive)" || bad "only $n_alive services alive and listening"

# --- 3. the suite once, on the baseline -------------------------------------------------
t0=$(now_ns)
(cd "$EST" && STACK_STATE_DIR=$state "$PY" -m pytest -q -p no:cacheprovider tests/ \
	--junitxml="$work/junit.xml" >"$work/pytest.txt" 2>&1) || true
t_suite=$(( ($(now_ns) - t0) / 1000000 ))
if "$PY" - "$work/junit.xml" "$EST/tests/labels.json" "$STACK" >"$work/suite.txt" 2>&1 <<'EOF'
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
flaky = {f["test"] for f in json.load(open(sys.argv[2]))["flaky"]}
names = {t["name"] for t in json.load(open(sys.argv[3]))["tests"]}
cases = list(root.iter("testcase"))
ran, failed, flaky_failed = set(), [], []
for c in cases:
    n = c.get("name")
    n = n[5:] if n.startswith("test_") else n
    ran.add(n)
    if c.find("failure") is not None or c.find("error") is not None:
        (flaky_failed if n in flaky else failed).append(n)
    if c.find("skipped") is not None:
        failed.append(n + " (skipped)")
missing = sorted(names - ran)
print("%d tests, %d passed, %d flaky failed %s, failed: %s, not run: %s" % (
    len(cases), len(cases) - len(failed) - len(flaky_failed), len(flaky_failed),
    flaky_failed, failed, missing))
sys.exit(0 if not failed and not missing and len(cases) >= 40 else 1)
EOF
then
	ok "suite on the baseline in ${t_suite} ms: $(cat "$work/suite.txt")"
else
	bad "suite: $(cat "$work/suite.txt"); $(grep -E '^(FAILED|ERROR)' "$work/pytest.txt" | head -10)"
fi

# --- 4. production traffic under the agent, the graph checked exactly ----------------------
# The services' database pools close connections idle for 2 s: after this
# pause, every connection the traffic uses opens under the agent (a
# PostgreSQL connection it joins mid-life can be lost: see the note of issue 12)
sleep 2.5
# --capture 8192: the catalog's product lists (~1.6 KB) exceed the default
# 1024-byte capture, and the PostgreSQL parser gives a connection up when a
# gap spans message boundaries (see the note of issue 12)
it_agent_start "$work/agent.out" "$work/agent.err" --db "$work/fl.db" --capture 8192
since=$(now_ns)
if OTEL_SERVICE_NAME=loadgen "$PY" "$EST/loadgen.py" --stack "$STACK" --rate 20 --duration 10 \
	--seed 7 --calls "$work/loadgen.calls" --json "$work/loadgen.json" >"$work/loadgen.txt" 2>&1; then
	ok "loadgen: $(head -1 "$work/loadgen.txt" | sed 's/^loadgen: //')"
else
	bad "loadgen: $(grep -E 'UNEXPECTED|unexpected|behind' "$work/loadgen.txt" | head -5)"
fi
sleep 1.5		# the notification queue drains
until_ns=$(now_ns)
it_agent_stop "$work/agent.err"
"$gatectl" graph --db "$work/fl.db" -o json >"$work/graph.json" || bad "gatectl graph -o json failed"
if "$PY" "$EST/check_truth.py" --stack "$STACK" --state "$state" --since "$since" \
	--until "$until_ns" --calls "$work/loadgen.calls" --loadgen-json "$work/loadgen.json" \
	--graph "$work/graph.json" --expected-out "$work/expected.json" >"$work/truth.txt" 2>&1; then
	ok "agent graph = the estate's own logs, exactly: $(grep -E 'of .* expected edges match' "$work/truth.txt")"
else
	bad "agent graph differs from the estate's logs:"
	grep -E '^(MISSING|DIFF|extra)|^check_truth|expected edges' "$work/truth.txt" | head -30
fi
n_edges=$(grep -c '"client"' "$work/expected.json" || true)
[ "$n_edges" -ge 40 ] && ok "the traffic crossed $n_edges edges" || bad "only $n_edges edges crossed"

# --- 5. down, nothing left ----------------------------------------------------------------------
t0=$(now_ns)
if "$PY" "$EST/estate.py" down --stack "$STACK" --state "$state" >"$work/down.txt" 2>&1; then
	up=0
	ok "estate down in $(( ($(now_ns) - t0) / 1000000 )) ms, nothing left"
else
	up=0
	bad "estate down: $(cat "$work/down.txt")"
fi
left=$(ss -Htln | awk '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= 17000 && p < 17200) print $4 }')
[ -z "$left" ] && ok "no port 17000-17199 listens" || bad "still listening: $left"
procs=$( (grep -l "STACK_STATE_DIR=$state" /proc/[0-9]*/environ 2>/dev/null || true) | wc -l)
[ "$procs" -eq 0 ] && ok "no process of the shop is left" || bad "$procs processes of the shop left"

finish
