#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The gate end to end on a small stack of its own (stack.json here):
# front -> api -> inventory -> store (Redis), api -> store, in the sandbox's
# network namespace, with the real BPF agent attributing footprints through
# its control socket. Asserts: sandbox up/status/down, SIGKILL and SIGTERM
# cleanup, learn's footprints (exact rows), flaky detection, select's
# ranking, budget and uncovered edges, every verdict class (pass, app
# failure with its cause boundary and status, symptoms, flaky,
# pre-existing, infra -> 3, bad input -> 2), JUnit validity (xmllint and
# python3-junitparser) and the JSON contract.
#
# Ports 16601-16604 (inside the sandbox namespace only). Needs root.
# Prints "gate-sandbox: N passed, N failed".
set -uo pipefail

SUITE=gate-sandbox
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

it_require ip redis-server redis-cli sqlite3 xmllint "$PY"
"$PY" -c 'import junitparser' 2>/dev/null || { bad "python3-junitparser missing"; finish; exit 1; }

here=$root/tests/gate-sandbox
S=$here/stack.json
export FAULTLINE_AGENT=${FAULTLINE_AGENT:-$agent}
work=$(mktemp -d /tmp/gate-sandbox.XXXXXX)
STATE=$work/state
DB=$work/gate.db
DATA=$STATE/data
G() { "$gatectl" --db "$DB" "$@" --state-dir "$STATE"; }
# in the background: exec, so $! is gatectl itself (the signal tests)
Gbg() { exec "$gatectl" --db "$DB" "$@" --state-dir "$STATE"; }
until_phase() {	# wait (5 s at most) until sandbox.json says "$1"
	for _ in $(seq 250); do
		grep -q "\"$1\"" "$STATE/sandbox.json" 2>/dev/null && return 0; sleep 0.02
	done
	return 1
}
cleanup() {
	set +e
	"$gatectl" --db "$DB" sandbox down --stack "$S" --state-dir "$STATE" >/dev/null 2>&1
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# jq-free JSON checks: py EXPR reads $OUT as j
py() { "$PY" -c "import json,sys; j=json.loads(sys.stdin.read()); print(($1))" <<<"$OUT"; }
expect() {	# expect NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
leftovers() {	# processes of the sandbox cgroup, namespace, socket
	local n=0 cg
	cg=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
	[ -d "$cg/faultline/gsb" ] && n=$(find "$cg/faultline/gsb" -name cgroup.procs -exec cat {} + | wc -l)
	echo "procs=$n netns=$(ip netns list | grep -c '^fl-gsb\b') cgroup=$([ -d "$cg/faultline/gsb" ] && echo 1 || echo 0) sock=$([ -S "$STATE/agent.sock" ] && echo 1 || echo 0)"
}
API='api=/usr/bin/python3 svc.py --role api --port 16602 --inventory 16603 --redis 16601 --note benign'
INV_OK='inventory=/usr/bin/python3 svc.py --role inventory --port 16603 --redis 16601 --note benign'
INV_WT='inventory=/usr/bin/python3 svc.py --role inventory --port 16603 --redis 16601 --bug wrongtype'
FRONT_OK='front=/usr/bin/python3 svc.py --role front --port 16604 --api 16602 --note benign'

# --- 1. bad stack files: FILE:LINE:COL, exit 2, nothing started -------------
printf '{\n  "name": "gsb",\n  "servics": []\n}\n' >"$work/bad.json"
OUT=$(G sandbox up --stack "$work/bad.json" 2>&1); rc=$?
expect "malformed stack: exit 2" "$rc" 2
expect "malformed stack: FILE:LINE:COL" "$OUT" \
	"gatectl: $work/bad.json:3:3: servics: unknown key (known: name, services, tests, must_run, driver, description)"
expect "malformed stack: nothing started" "$(leftovers)" "procs=0 netns=0 cgroup=0 sock=0"

# --- 2. sandbox up / status, SIGKILL and SIGTERM cleanup ----------------------
Gbg sandbox up --stack "$S" >/dev/null & gp=$!
until_phase starting; kill -KILL $gp; wait $gp 2>/dev/null
OUT=$(G sandbox status --stack "$S" -o json); rc=$?
expect "after SIGKILL of up: status says stale, exit 3" "$rc:$(py 'j["state"]')" "3:stale"
t0=$(date +%s.%N)
OUT=$(G sandbox up --stack "$S" -o json); rc=$?
t1=$(date +%s.%N)
expect "up after a SIGKILLed up: exit 0" "$rc" 0
expect "up: 4 services alive and ready, no restarts" \
	"$(py '[(s["name"], s["alive"], s["ready"], s["restarts"]) for s in j["services"]]')" \
	"[('store', True, True, 0), ('inventory', True, True, 0), ('api', True, True, 0), ('front', True, True, 0)]"
expect "up: one process per service cgroup, plus the agent" "$(leftovers)" "procs=5 netns=1 cgroup=1 sock=1"
echo "  sandbox cold up: $(echo "$t1 - $t0" | bc) s"
api_pid=$(py '[s["pid"] for s in j["services"] if s["name"] == "api"][0]')
expect "services listen inside the namespace only" \
	"$(ip netns exec fl-gsb redis-cli -p 16601 GET stock:2):$(redis-cli -p 16601 PING 2>&1 | grep -c PONG)" "7:0"
kill -KILL "$api_pid"
OUT=$(G sandbox up --stack "$S" -o json)
expect "warm up restarts a dead service (restarts 1)" \
	"$(py '[s["restarts"] for s in j["services"] if s["name"] == "api"][0]')" 1

# --- 3. learn: footprints, flaky --------------------------------------------
echo PF >"$DATA/flaky-plan"
OUT=$(G learn --stack "$S" --runs 2 -o json); rc=$?
expect "learn: exit 0" "$rc" 0
expect "learn: 8 tests x 2, 15 passed, 1 failed, 1 flaky" \
	"$(py '(j["tests"], j["passed"], j["failed"], j["flaky"])')" "(8, 15, 1, 1)"
expect "learn: flaky test found with its pass rate" \
	"$(py '[(t["name"], t["pass_rate"]) for t in j["by_test"] if t["flaky"]]')" "[('flaky', 0.5)]"
expect "learn: 9 edges covered" "$(py 'j["edges_covered"]')" 9
fp=$(sqlite3 "$DB" "SELECT client||'>'||server||' '||protocol||' '||operation||' '||status||' '||requests||'/'||errors FROM footprints WHERE test = 'home' AND run_id = (SELECT min(id) FROM test_runs WHERE kind = 'learn') ORDER BY 1" | tr '\n' ';')
expect "learn: footprint of 'home' (exact)" "$fp" \
	"api>inventory http GET /stock/{id} 200 2/0;front>api http GET /items 200 1/0;inventory>store redis GET ok 2/0;tests>front http GET / 200 1/0;"
fp=$(sqlite3 "$DB" "SELECT client||'>'||server||' '||operation||' '||status||' '||requests FROM footprints WHERE test = 'missing' ORDER BY run_id, 1" | tr '\n' ';')
expect "learn: footprint of 'missing' keeps the 404 status" "$fp" \
	"inventory>store GET ok 1;tests>inventory GET /stock/{id} 404 1;inventory>store GET ok 1;tests>inventory GET /stock/{id} 404 1;"

# production traffic the tests never make: an uncovered affected edge
"$PY" - "$DB" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); now = int(time.time()) // 60 * 60
def svc(n):
    db.execute("INSERT OR IGNORE INTO services(name, kind, first_seen_ns, last_seen_ns) VALUES (?, 'service', 1, 1)", (n,))
    return db.execute("SELECT id FROM services WHERE name = ?", (n,)).fetchone()[0]
for c, s, op, n in (("api", "inventory", "GET /stock/{id}", 300), ("front", "inventory", "GET /stock/{id}", 100)):
    db.execute("INSERT OR IGNORE INTO edges(client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns) VALUES (?, ?, 'http', ?, 1, 1)", (svc(c), svc(s), op))
    e = db.execute("SELECT id FROM edges WHERE client_id = ? AND server_id = ? AND operation = ?", (svc(c), svc(s), op)).fetchone()[0]
    db.execute("INSERT INTO edge_windows(edge_id, source, window_start, width_s, requests) VALUES (?, 'ebpf', ?, 60, ?)", (e, now - 3600, n))
db.commit()
EOF

# --- 4. select ---------------------------------------------------------------
OUT=$(G select --stack "$S" --changed inventory -o json); rc=$?
expect "select: exit 0" "$rc" 0
# items and flaky have the same footprint: whichever ranks first covers the other
expect "select: the must-run test first, then every distinct footprint once" \
	"$(py '(j["selected"][0]["name"], j["selected"][0]["reason"], sorted(t["name"] for t in j["selected"] if t["name"] not in ("items", "flaky")), sum(t["name"] in ("items", "flaky") for t in j["selected"]))')" \
	"('health', 'must-run tag', ['health', 'home', 'missing', 'stock'], 1)"
expect "select: left out with reasons" \
	"$(py 'sorted((t["name"], t["reason"]) for t in j["left_out"] if t["name"] not in ("items", "flaky"))')" \
	"[('broken', 'touches no edge of a changed service'), ('cart', 'touches no edge of a changed service')]"
expect "select: ranked by risk per second among equals" \
	"$(py 'all(a["risk"] > 0 for a in j["selected"][1:]) and [t["rank"] for t in j["selected"]] == list(range(1, len(j["selected"]) + 1))')" "True"
expect "select: uncovered edge with its production share" \
	"$(py '[(u["client"], u["server"], u["operation"], u["requests"], u["share"]) for u in j["uncovered"]]')" \
	"[('front', 'inventory', 'GET /stock/{id}', 100, 0.25)]"
OUT=$(G select --stack "$S" --changed inventory --budget 0.2 -o json)
expect "select: the budget holds (must-run counted)" \
	"$(py '(j["estimated_s"] <= 0.2, any(t["reason"] == "over budget" for t in j["left_out"]), j["selected"][0]["name"])')" \
	"(True, True, 'health')"
OUT=$(G select --stack "$S" --changed nosuch 2>&1); rc=$?
expect "select: unknown service -> exit 2" "$rc:$OUT" "2:gatectl: unknown service 'nosuch' (not in '$S')"

# --- 5. gate: pass, app failure (cause + symptoms), flaky, pre-existing ------
OUT=$(G gate --stack "$S" --change "$API" -o json); rc=$?
expect "benign change: pass, exit 0, no boundary" "$rc:$(py 'j["verdict"], len(j["boundaries"]), j["drift"]')" \
	"0:('pass', 0, {'new_edges': [], 'missing_edges': []})"
expect "JSON contract: top-level keys" "$(py 'sorted(j)')" \
	"['boundaries', 'changed', 'changes', 'drift', 'duration_s', 'predictions', 'reason', 'run', 'selection', 'shifts', 'stack', 'test_run', 'tests', 'uncovered', 'verdict']"
expect "JSON contract: test keys" "$(py 'sorted(j["tests"][0])')" \
	"['class', 'duration_s', 'message', 'name', 'rerun', 'result', 'why']"
expect "benign change: predictions healthy for every affected edge" \
	"$(py 'sorted(set(p["expected"] for p in j["predictions"])), len(j["predictions"]) > 0')" "(['healthy'], True)"
api_state=$(G sandbox status --stack "$S" -o json | "$PY" -c 'import json,sys; print([ (s["swapped"], s["alive"]) for s in json.load(sys.stdin)["services"] if s["name"] == "api"][0])')
expect "after a gate the baseline is back" "$api_state" "(False, True)"

OUT=$(G gate --stack "$S" --change "$INV_WT" -o json); rc=$?
expect "breaking change: fail, exit 1" "$rc:$(py 'j["verdict"]')" "1:fail"
expect "breaking change: the cause boundary and its status" \
	"$(py '[(b["client"], b["server"], b["protocol"], b["operation"], b["status"], b["change"]) for b in j["boundaries"] if b["role"] == "cause"]')" \
	"[('inventory', 'store', 'redis', 'HGET', 'WRONGTYPE', 'inventory')]"
# items and flaky share a footprint; select runs one of them (see section 4)
twin=$(py '[t["name"] for t in j["tests"] if t["name"] in ("items", "flaky") and t["result"] != "skipped"][0]')
expect "breaking change: its callers are symptoms" \
	"$(py 'sorted((b["client"], b["server"], b["status"]) for b in j["boundaries"] if b["role"] == "symptom")')" \
	"[('api', 'inventory', '500'), ('front', 'api', '500'), $([ "$twin" = items ] && echo "('tests', 'api', '500'), ")('tests', 'front', '500'), ('tests', 'inventory', '500')]"
expect "breaking change: a redacted sample" \
	"$(py '[b["sample"] for b in j["boundaries"] if b["role"] == "cause"][0]')" "redis WRONGTYPE on HGET"
expect "breaking change: failing tests are app (the known flaky one: flaky)" \
	"$(py 'sorted((t["name"], t["class"]) for t in j["tests"] if t["result"] == "fail")')" \
	"$([ "$twin" = items ] && echo "[('home', 'app'), ('items', 'app'), ('stock', 'app')]" || echo "[('flaky', 'flaky'), ('home', 'app'), ('stock', 'app')]")"
expect "breaking change: drift new HGET, missing GET" \
	"$(py '[e["operation"] for e in j["drift"]["new_edges"]], [e["operation"] for e in j["drift"]["missing_edges"]]')" \
	"(['HGET'], ['GET'])"
expect "breaking change: prediction 'errors' with the status" \
	"$(py '[(p["expected"], p["status"]) for p in j["predictions"] if p["operation"] == "HGET"]')" "[('errors', 'WRONGTYPE')]"
rows=$(sqlite3 "$DB" "SELECT verdict, (SELECT count(*) FROM predictions p WHERE p.gate_run_id = g.id) > 0 FROM gate_runs g WHERE id = $(py 'j["run"]')")
expect "gate run and predictions recorded" "$rows" "fail|1"

G gate --stack "$S" --change "$INV_WT" -o junit >"$work/gate.xml"
if xmllint --noout "$work/gate.xml" 2>"$work/xmllint.err"; then ok "JUnit: well-formed (xmllint)"; else bad "JUnit: $(cat "$work/xmllint.err")"; fi
jp=$("$PY" - "$work/gate.xml" <<'EOF'
import sys
from junitparser import JUnitXml, Failure
x = JUnitXml.fromfile(sys.argv[1])
cases = [c for s in x for c in s]
fails = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
msg = [r.message for c in fails for r in c.result][0]
print(len(cases), sorted(c.name for c in fails), "inventory -> store (redis HGET)" in msg)
EOF
)
expect "JUnit: junitparser reads 5 cases, the app failures naming the boundary" "$jp" \
	"$([ "$twin" = items ] && echo "5 ['home', 'items', 'stock'] True" || echo "5 ['home', 'stock'] True")"
OUT=$(G gate --stack "$S" --change "$INV_WT" -o markdown)
expect "markdown: verdict first, then the boundary" \
	"$(sed -n '1p;5p' <<<"$OUT" | cut -c1-60 | tr '\n' '|')" \
	"## faultline gate: **FAIL**|**Boundary that broke:** \`inventory\` → \`store\` (redis \`HGE|"
# the affected subgraph drawn inline (libgvc), the broken boundary in red
pic=$(OUT="$OUT" python3 - <<'EOF'
import base64, os, re
m = re.search(r'<img alt="([^"]*)" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)">', os.environ["OUT"])
svg = base64.b64decode(m.group(2)).decode() if m else ""
k = svg.find('class="edge broken"')
seg = svg[k:svg.find('class="edge', k + 5) if svg.find('class="edge', k + 5) > 0 else len(svg)] if k >= 0 else ""
red = "<title>inventory&#45;&gt;store</title>" in seg and 'stroke="#d50000"' in seg
print(bool(m), "red" in m.group(1) if m else False, red, ">inventory</text>" in svg and ">store</text>" in svg)
EOF
)
expect "markdown: the affected subgraph inline, inventory -> store in red" "$pic" "True True True True"

echo F >"$DATA/flaky-plan"
OUT=$(G gate --stack "$S" --change "$API" -o json); rc=$?
expect "flaky failure: pass, exit 0, class flaky" \
	"$rc:$(py 'j["verdict"], [(t["name"], t["class"], t["rerun"]) for t in j["tests"] if t["result"] == "fail"]')" \
	"0:('pass', [('flaky', 'flaky', 'pass')])"
touch "$DATA/preexisting"
OUT=$(G gate --stack "$S" --change "$FRONT_OK" -o json); rc=$?
rm -f "$DATA/preexisting"
expect "pre-existing failure: pass, exit 0, class pre-existing" \
	"$rc:$(py 'j["verdict"], [(t["name"], t["class"], t["rerun"]) for t in j["tests"] if t["result"] == "fail"]')" \
	"0:('pass', [('broken', 'pre-existing', 'fail')])"

# --- 6. bad input: exit 2, the sandbox as it was -----------------------------
before=$(G sandbox status --stack "$S" -o json | "$PY" -c 'import json,sys; print([s["pid"] for s in json.load(sys.stdin)["services"]])')
OUT=$(G gate --stack "$S" --change 'nosuch=/bin/true' 2>&1); rc=$?
expect "unknown service: exit 2" "$rc:$OUT" "2:gatectl: unknown service 'nosuch' (not in '$S')"
OUT=$(G gate --stack "$S" --change "api=/nonexistent/api --port 16602" 2>&1); rc=$?
expect "a command that does not start: exit 2" "$rc:$OUT" \
	"2:gatectl: the command for 'api' does not start: cannot start '/nonexistent/api': No such file or directory"
OUT=$(G sandbox status --stack "$S" -o json)
expect "after bad input: the baseline runs, nothing swapped" \
	"$(py '[(s["name"], s["alive"], s["swapped"]) for s in j["services"]]')" \
	"[('store', True, False), ('inventory', True, False), ('api', True, False), ('front', True, False)]"
expect "after an unknown service: no process was touched" \
	"$(py '[s["pid"] for s in j["services"] if s["name"] != "api"]')" \
	"$("$PY" -c "print($before[:2] + $before[3:])")"

# --- 7. infra -> inconclusive, 3; a SIGKILLed gate is repaired ----------------
touch "$DATA/infra-kill-redis"
OUT=$(G gate --stack "$S" --change "$INV_OK" -o json); rc=$?
rm -f "$DATA/infra-kill-redis"
expect "infra failure: inconclusive, exit 3" "$rc:$(py 'j["verdict"]')" "3:inconclusive"
expect "infra failure: classed infra, the unswapped store gone" \
	"$(py 'sorted(set((t["class"], "store, which was not swapped" in t["why"]) for t in j["tests"] if t["result"] == "fail"))')" \
	"[('infra', True)]"
OUT=$(G sandbox up --stack "$S" -o json)
expect "warm up restarts the dead store and seeds it again" \
	"$(py '[s["restarts"] for s in j["services"] if s["name"] == "store"][0]'):$(ip netns exec fl-gsb redis-cli -p 16601 GET stock:1)" "1:5"
Gbg gate --stack "$S" --change "$INV_WT" >/dev/null 2>&1 & gp=$!
until_phase 'swapped": true'
kill -KILL $gp; wait $gp 2>/dev/null
OUT=$(G sandbox up --stack "$S" -o json)
expect "after a SIGKILLed gate, up restores the swapped service" \
	"$(py '[(s["swapped"], s["alive"]) for s in j["services"] if s["name"] == "inventory"][0]')" "(False, True)"
OUT=$(G gate --stack "$S" --change "$API" -o json); rc=$?
expect "and the next gate passes" "$rc" 0
Gbg learn --stack "$S" >/dev/null & gp=$!
sleep 0.5; kill -TERM $gp; wait $gp; rc=$?
expect "SIGTERM of learn: exit 143, sandbox torn down" "$rc:$(leftovers)" "143:procs=0 netns=0 cgroup=0 sock=0"

# --- 8. down: nothing left ----------------------------------------------------
G sandbox up --stack "$S" >/dev/null
OUT=$(G sandbox down --stack "$S"); rc=$?
expect "down: exit 0, nothing left" "$rc:$(leftovers)" "0:procs=0 netns=0 cgroup=0 sock=0"
expect "down: no process of the stack left" "$(pgrep -fc 'svc.py --role|redis-server 127.0.0.1:16601')" 0

# --- 9. the hook driver: its commands, in order, with their arguments -------
mkdir -p "$work/hk"
cat >"$work/hk/stack.json" <<'EOF'
{ "name": "hk", "services": [ { "name": "a", "cmd": ["true"], "port": 1 } ],
  "tests": [ { "name": "t", "cmd": ["true"] } ],
  "driver": { "up": ["/bin/sh", "-c", "echo up $SANDBOX_NAME >> hooks.log"],
              "swap": ["/bin/sh", "-c", "echo swap \"$@\" >> hooks.log", "swap"],
              "restore": ["/bin/sh", "-c", "echo restore \"$@\" >> hooks.log", "restore"],
              "down": ["/bin/sh", "-c", "echo down >> hooks.log"],
              "store": "remote.db" } }
EOF
H() { "$gatectl" "$@" --stack "$work/hk/stack.json" --state-dir "$work/hk/st"; }
H sandbox up >/dev/null; r1=$?
H gate --change "a=new 'a b'" >/dev/null 2>&1; r2=$?
H sandbox down >/dev/null; r3=$?
expect "hook driver: up, swap SERVICE CMD..., restore SERVICE, down" \
	"$r1 $r2 $r3:$(tr '\n' ';' <"$work/hk/hooks.log")" "0 2 0:up hk;swap a new a b;restore a;down;"

finish
