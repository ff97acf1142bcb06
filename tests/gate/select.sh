#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gatectl select on a fixture store (no sandbox, no agent, no traffic): the
# footprints, results and production windows are written with sqlite3, so
# every risk, rank, budget cut and uncovered share below is exact (the
# formula of docs/gate.md "Select"); --diff against a scratch git repo; and
# the stack parser's errors through the CLI.
#
#   make build/gatectl && tests/gate/select.sh
#
# The risks are (1 + log10(1 + production requests)) per unit, e.g. cache:
# (1 + (1 + log10 101)) / 0.2 s = 20.021607; flaky: (1 + (1 + log10 5001))
# x 0.75 (pass rate 0.5) / 0.3 s = 14.247642; web_home after those:
# (1 + log10 1001) + 0.35 x (1 + log10 5001) = 5.645104 / 1 s.
# Prints "gate-select: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
GATECTL=${GATECTL:-build/gatectl}
PY=/usr/bin/python3
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
finish() { echo "gate-select: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
for c in "$GATECTL" ; do [ -x "$c" ] || { bad "missing $c (run: make)"; finish; exit 1; }; done
command -v sqlite3 >/dev/null && command -v git >/dev/null || { bad "needs sqlite3 and git"; finish; exit 1; }

work=$(mktemp -d /tmp/gate-select.XXXXXX)
trap 'rm -rf "$work"' EXIT
S=$work/stack.json
DB=$work/g.db
cat >"$S" <<'EOF'
{ "name": "fx", "must_run": ["smoke"],
  "services": [
    { "name": "web", "cmd": ["true"], "port": 1, "paths": ["src/web/*", "src/lib/*"] },
    { "name": "api", "cmd": ["true"], "port": 2, "paths": ["src/api/*", "src/lib/*"] },
    { "name": "db", "kind": "database", "cmd": ["true"], "port": 3 },
    { "name": "cache", "kind": "cache", "cmd": ["true"], "port": 4 } ],
  "tests": [
    { "name": "web_home", "cmd": ["true"] }, { "name": "api_items", "cmd": ["true"] },
    { "name": "api_items2", "cmd": ["true"] }, { "name": "cache", "cmd": ["true"] },
    { "name": "web_only", "cmd": ["true"] }, { "name": "smoke", "cmd": ["true"], "tags": ["smoke"] },
    { "name": "new", "cmd": ["true"] }, { "name": "flaky", "cmd": ["true"] } ] }
EOF
printf '{"resourceSpans":[]}\n' >"$work/e.json"
"$GATECTL" --db "$DB" import otlp "$work/e.json" >/dev/null || { bad "create the store"; finish; exit 1; }
"$PY" - "$DB" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
fp = {  # test: (seconds, [(client, server, protocol, operation, status)])
    "web_home": (1.0, [("tests", "web", "http", "GET /", "200"), ("web", "api", "http", "GET /items", "200"),
                       ("api", "db", "postgresql", "SELECT ?", "ok")]),
    "api_items": (0.5, [("tests", "api", "http", "GET /items", "200"), ("api", "db", "postgresql", "SELECT ?", "ok")]),
    "api_items2": (0.5, [("tests", "api", "http", "GET /items", "200"), ("api", "db", "postgresql", "SELECT ?", "ok")]),
    "cache": (0.2, [("tests", "api", "http", "GET /cached", "200"), ("api", "cache", "redis", "GET", "ok")]),
    "web_only": (0.1, [("tests", "web", "http", "GET /health", "200")]),
    "smoke": (0.1, [("tests", "web", "http", "GET /health", "200")]),
    "flaky": (0.3, [("tests", "api", "http", "GET /flaky", "200"), ("api", "db", "postgresql", "SELECT ?", "ok")]),
}
for run in (1, 2):
    db.execute("INSERT INTO test_runs(id, kind, stack, started_ns) VALUES (?, 'learn', 'fx', 1)", (run,))
    for t, (sec, edges) in fp.items():
        res = "fail" if t == "flaky" and run == 2 else "pass"
        db.execute("INSERT INTO test_results VALUES (?, ?, ?, NULL, ?, 0, NULL)", (run, t, res, int(sec * 1e9)))
        for c, s, p, o, st in edges:
            db.execute("INSERT INTO footprints(run_id, test, client, server, protocol, operation, status, "
                       "requests, errors) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0)", (run, t, c, s, p, o, st))
def svc(n, k="service"):
    db.execute("INSERT OR IGNORE INTO services(name, kind, first_seen_ns, last_seen_ns) VALUES (?, ?, 1, 1)", (n, k))
    return db.execute("SELECT id FROM services WHERE name = ?", (n,)).fetchone()[0]
for c, s, p, o, n in (("web", "api", "http", "GET /items", 1000), ("api", "db", "postgresql", "SELECT ?", 5000),
                      ("api", "cache", "redis", "GET", 100), ("web", "api", "http", "GET /uncov", 400)):
    db.execute("INSERT INTO edges(client_id, server_id, protocol, operation, first_seen_ns, last_seen_ns) "
               "VALUES (?, ?, ?, ?, 1, 1)", (svc(c), svc(s), p, o))
    e = db.execute("SELECT max(id) FROM edges").fetchone()[0]
    db.execute("INSERT INTO edge_windows(edge_id, source, window_start, width_s, requests) VALUES (?, 'ebpf', 60, 60, ?)", (e, n))
db.commit()
EOF

G() { OUT=$("$GATECTL" --db "$DB" select --stack "$S" "$@" -o json 2>&1); RC=$?; }
py() { "$PY" -c "import json,sys; j=json.loads(sys.stdin.read()); print($1)" <<<"$OUT"; }

G --changed api
expect "select: exit 0" "$RC" 0
expect "select: always-run first, then greedy risk per second (exact)" \
	"$(py '[(t["name"], t["reason"], t["risk_per_s"]) for t in j["selected"]]')" \
	"[('smoke', 'must-run tag', 0.0), ('new', 'never learned', 0.0), ('cache', 'risk', 20.021607), ('flaky', 'risk', 14.247642), ('web_home', 'risk', 5.645104), ('api_items', 'risk', 2.0), ('api_items2', 'risk', 0.7)]"
expect "select: a test that reaches no changed service is left out" \
	"$(py '[(t["name"], t["reason"]) for t in j["left_out"]]')" "[('web_only', 'touches no edge of a changed service')]"
expect "select: uncovered edge with its share of the affected production traffic" \
	"$(py '[(u["client"], u["operation"], u["requests"], u["share"]) for u in j["uncovered"]]')" \
	"[('web', 'GET /uncov', 400, 0.061538)]"
expect "select: affected = scope's edges + the footprint edges of api" \
	"$(py 'sorted((e["client"], e["server"], e["operation"], e["reason"]) for e in j["affected"])')" \
	"[('api', 'cache', 'GET', 'outbound'), ('api', 'db', 'SELECT ?', 'outbound'), ('tests', 'api', 'GET /cached', 'inbound'), ('tests', 'api', 'GET /flaky', 'inbound'), ('tests', 'api', 'GET /items', 'inbound'), ('web', 'api', 'GET /items', 'inbound'), ('web', 'api', 'GET /uncov', 'inbound')]"
G --changed api --budget 1
expect "select --budget 1: what fits, the rest over budget" \
	"$(py '([t["name"] for t in j["selected"]], j["estimated_s"], sorted(t["name"] for t in j["left_out"] if t["reason"] == "over budget"))')" \
	"(['smoke', 'new', 'cache', 'flaky'], 0.6, ['api_items', 'api_items2', 'web_home'])"
G --changed nosuch
expect "select: unknown service, exit 2" "$RC:$OUT" "2:gatectl: unknown service 'nosuch' (not in '$S')"
G
expect "select: needs --changed or --diff" "$RC" 2

# --diff: files to services through paths; a shared file selects both
(cd "$work" && git init -q && mkdir -p src/api src/lib src/web && echo a >src/api/a.py &&
	echo l >src/lib/l.c && echo r >README && git add -A &&
	git -c user.email=t@t -c user.name=t commit -qm base && git tag base &&
	echo b >>src/api/a.py && echo m >>src/lib/l.c && echo x >>README && git add -A &&
	git -c user.email=t@t -c user.name=t commit -qm change) >/dev/null 2>&1
G --diff base
expect "select --diff: services from the changed files, unmapped listed" \
	"$(py '(j["changed"], j["unmapped_files"])')" "(['api', 'web'], ['README'])"
G --diff nosuchref
expect "select --diff: git failing is exit 2" "$RC" 2

# the stack parser through the CLI
printf '{\n "name": "fx",\n "services": [ { "name": "a", "cmd": ["x"], "port": 1, "ready": {"http": "health"} } ]\n}\n' >"$work/bad.json"
OUT=$("$GATECTL" --db "$DB" select --stack "$work/bad.json" --changed a 2>&1); RC=$?
expect "bad stack: FILE:LINE:COL and exit 2" "$RC:$OUT" \
	"2:gatectl: $work/bad.json:3:66: services[0].ready.http: must be a path starting with '/', without blanks"
printf '{ "name": "fx", "services": [ ], }' >"$work/bad2.json"
OUT=$("$GATECTL" --db "$DB" select --stack "$work/bad2.json" --changed a 2>&1); RC=$?
expect "bad stack: syntax error position" "$RC:${OUT%% near*}" "2:gatectl: $work/bad2.json:1:34: string or '}' expected"
finish
