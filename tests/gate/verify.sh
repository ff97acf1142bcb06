#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The post-deploy judge end to end, on stores built for each outcome
# (tests/gate/verify_fixture.py over a schema 6 store from mkfixture):
# a zero-error baseline, sparse errors, a spread-only latency change, an
# edge with no traffic, a gap in the agent's flushes, an agent gone, a
# healthy deploy with a thin edge and a wrong alarm. Exact p-values,
# verdicts, exit codes, the stored outcomes and what the misses teach
# (edge risk, blind spots), accuracy, deploy/deploys, flaky tests and
# quarantine. No BPF, no traffic.
#
# Prints "gatectl-verify: N passed, N failed". GATECTL overrides the binary.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/../.." || exit 2

GATECTL=${GATECTL:-build/gatectl}
PY=/usr/bin/python3
CC=${CC:-cc}
passed=0 failed=0
work=$(mktemp -d /tmp/gatectl-verify.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
	failed=$((failed + 1)); echo "FAIL $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'
	return 0
}
gc() { OUT=$(timeout 20 "$GATECTL" "$@" 2>"$work/stderr"); RC=$?; ERR=$(cat "$work/stderr"); }
rc() {
	local name=$1 want=$2; shift 2; gc "$@"
	[ "$RC" -eq "$want" ] && ok "$name" || fail "$name" "exit $RC, want $want; stderr: $ERR"
}
err_is() { [ "$ERR" = "$2" ] && ok "$1" || fail "$1" "stderr: '$ERR'"$'\n'"want:   '$2'"; }
# js NAME PYTHON: assertions on the last stdout as JSON (doc)
js() {
	local msg; printf '%s' "$OUT" >"$work/out.json"
	if msg=$("$PY" "$work/check.py" "$work/out.json" "$2" 2>&1); then ok "$1"; else fail "$1" "$msg"; fi
}
# q STORE SQL: sqlite3 query, '|' separated
q() { sqlite3 "$1" "$2"; }
is() { [ "$2" = "$3" ] && ok "$1" || fail "$1" "got:  '$2'"$'\n'"want: '$3'"; }

cat >"$work/check.py" <<'PY'
import json, sys
from fractions import Fraction as F
from math import comb
with open(sys.argv[1]) as f:
    doc = json.load(f)
def eq(got, want, what):
    if got != want:
        raise SystemExit(f"{what}: got {got!r}, want {want!r}")
def near(got, want, what, rel=1e-9):
    if got is None or abs(got - want) > rel * abs(want):
        raise SystemExit(f"{what}: got {got!r}, want {want!r}")
def sf(k, n, p):   # exact binomial upper tail
    return float(sum(comb(n, i) * p**i * (1 - p)**(n - i) for i in range(k, n + 1)))
def q(na, nb, tol=F(1, 4)):   # the conditional binomial's null share of the after side
    return (1 + tol) * na / ((1 + tol) * na + nb)
def edge(c, s, op):
    hits = [e for e in doc["edges"] if (e["client"], e["server"], e["operation"]) == (c, s, op)]
    eq(len(hits), 1, f"edges {c}->{s} {op}")
    return hits[0]
exec(sys.argv[2])
PY

if ! $CC -std=gnu11 -D_GNU_SOURCE -Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -ljansson -lm \
	-o "$work/mkfixture" 2>"$work/cc.err"; then
	fail "build mkfixture" "$(cat "$work/cc.err")"; echo "gatectl-verify: $passed passed, $failed failed"; exit 1
fi
store() { # NAME: a fresh store of that scenario at $work/NAME.db
	rm -f "$work/$1.db"*
	"$work/mkfixture" "$work/$1.db" </dev/null && "$PY" tests/gate/verify_fixture.py "$work/$1.db" "$1" ||
		fail "fixture $1"
}
for s in zero sparse spread quiet gap ok noagent drops; do store $s; done

# ---- the fixture's histogram blobs decode through lib/hist.c -------------
rc "fixture blobs: graph reads them" 0 --db "$work/spread.db" graph --until @1795240800 -o json
js "fixture blobs: p50 of the baseline is its 6 ms bucket" '
e = edge("web", "spread", "GET /p"); assert 5.9 <= e["p50_ms"] <= 6.1, e["p50_ms"]
eq(e["requests"], 6000, "requests")'

# ---- zero-error baseline --------------------------------------------------
Z=$work/zero.db
rc "zero baseline: 2 errors/min after 0 in an hour fails (exit 1)" 1 --db "$Z" verify --service zero -o json
js "zero baseline: high on errors by the exact rate test, p = q^2" '
eq(doc["verdict"], "fail", "verdict")
eq(len(doc["intervals"]), 1, "stopped at the first failed interval (limit 0)")
e = edge("web", "zero", "GET /a")
eq((e["verdict"], e["metric"], e["check"]), ("high", "errors", "rate"), "edge")
eq((e["before"]["requests"], e["before"]["errors"], e["after"]["requests"], e["after"]["errors"]), (6000, 0, 100, 2), "counts")
near(e["p_value"], float(q(F(100), F(6000)) ** 2), "p")
eq(doc["deploy"], {"id": 1, "at": "2026-11-21T06:00:30.000Z", "version": "v2", "old_version": "v1", "node": "n1", "source": "ci"}, "deploy")
p = doc["predictions"][0]
eq((p["expected"], p["outcome"]), ("healthy", "miss"), "prediction")
eq(p["learned"], {"risk_weight": 2.0, "blind_spot": True, "write_test": {"client": "web", "server": "zero", "protocol": "http", "operation": "GET /a", "status": "503"}}, "learned")'
is "zero baseline: stored (verification, outcome, risk, blind spot)" \
	"$(q "$Z" "SELECT verdict FROM verifications; SELECT outcome FROM prediction_outcomes; SELECT weight, misses FROM edge_risk; SELECT client, server, operation, status, covered_ns IS NULL FROM blind_spots")" \
	"fail
miss
2.0|1
web|zero|GET /a|503|1"
rc "zero baseline: a second verification fails again" 1 --db "$Z" verify --service zero
is "zero baseline: a second miss raises the weight again" "$(q "$Z" "SELECT weight, misses FROM edge_risk; SELECT count(*) FROM prediction_outcomes")" "3.0|2
2"
gc --db "$Z" verify --service zero
case "$OUT" in *"interval 1/10 06:01:00.000Z .. 06:02:00.000Z  fail         high 1, pass 0, low 0, nodata 0; failures 1/0  -- web -> zero GET /a: errors 2/100 (2%) vs 0/6000 (0%) before, p=0.00042"*) ok "zero baseline: table names the interval and the edge";;
	*) fail "zero baseline: table names the interval and the edge" "$OUT";; esac

store zero
gc --db "$Z" verify --service zero --watch
is "zero baseline --watch: the deployment first, then a line per interval as judged" "$(printf '%s\n' "$OUT" | head -2 | cut -c1-80)" \
"verify zero: deployment 1 (v1 -> v2 at 2026-11-21T06:00:30.000Z, ci), gate run 1
interval 1/10 06:01:00.000Z .. 06:02:00.000Z  fail         high 1, pass 0, low 0"

# ---- sparse errors ---------------------------------------------------------
S=$work/sparse.db
rc "sparse errors: one every other minute fails once they add up (exit 1)" 1 --db "$S" verify --service sparse -o json
js "sparse errors: every interval alone passes, the window so far is high at interval 8" '
eq([i["verdict"] for i in doc["intervals"]], ["pass"] * 7 + ["fail"], "intervals")
e = edge("web", "sparse", "GET /s")
eq((e["verdict"], e["after"]["requests"], e["after"]["errors"]), ("high", 800, 4), "edge")
near(e["p_value"], sf(4, 7, q(F(800), F(6000))), "exact p of 4/800 vs 3/6000")
p = doc["predictions"][0]
eq((p["outcome"], p["learned"]["blind_spot"], p["learned"]["risk_weight"]), ("miss", False, 2.0), "a miss a test covers: risk, no blind spot")'
is "sparse errors: no blind spot (a footprint covers the edge)" "$(q "$S" "SELECT count(*) FROM blind_spots; SELECT weight FROM edge_risk")" "0
2.0"

# ---- spread only ------------------------------------------------------------
P=$work/spread.db
rc "spread only: fails (exit 1)" 1 --db "$P" verify --service spread -o json
js "spread only: the shift test passes, the spread check is high" '
e = edge("web", "spread", "GET /p")
eq((e["verdict"], e["metric"], e["check"]), ("high", "latency", "spread"), "edge")
assert e["effect"] > 0.25, e
assert "median shift +0.0%" in e["reason"], e["reason"]
eq(e["before"]["p50_ms"], e["after"]["p50_ms"], "same median")'

rc "health --max-p99-ratio 10 on the spread store: the thresholds pass it (exit 0)" 0 --db "$P" health --service spread --since @1795240860 --until @1795241460 --max-p99-ratio 10 -o json
rc "health --exact: the judge's spread check does not (exit 1)" 1 --db "$P" health --service spread --since @1795240860 --until @1795241460 --exact -o json
js "health --exact: reason latency_spread" '
eq(doc["judge"], "exact", "judge"); eq(doc["min_requests"], 50, "min requests")
eq([(e["verdict"], e["reasons"]) for e in doc["edges"]], [("regressed", ["latency_spread"])], "edges")'

rc "diff --exact: the spread store's hour before against the ten minutes after (exit 1)" 1 --db "$P" diff --since @1795237200 --until @1795240800 --vs-since @1795240860 --vs-until @1795241460 --exact -o json
js "diff --exact: changed by the spread check" '
eq([(e["operation"], e["reasons"]) for e in doc["changed"]], [("GET /p", ["latency_spread_up"])], "changed")'

# ---- no traffic -------------------------------------------------------------
rc "no traffic after: inconclusive (exit 3)" 3 --db "$work/quiet.db" verify --service quiet -o json
js "no traffic after: nodata no_traffic, the prediction unverifiable" '
e = edge("web", "quiet", "GET /q")
eq((e["verdict"], e["nodata"], e["reason"]), ("nodata", "no_traffic", "no traffic after (before: 6000 requests)"), "edge")
eq(doc["intervals"][0]["verdict"], "inconclusive", "interval")
eq(doc["predictions"][0]["outcome"], "unverifiable", "prediction")
eq(doc["why"], "1 inconclusive interval (limit 0)", "why")'

# ---- the agent: a gap, then gone ------------------------------------------
G=$work/gap.db
rc "agent gap: inconclusive at the limit 0 (exit 3)" 3 --db "$G" verify --service gapsvc -o json
js "agent gap: the interval before the gap and the gap itself are nodata agent_gap" '
eq([i["verdict"] for i in doc["intervals"]], ["pass", "pass", "inconclusive"], "intervals")
eq(doc["intervals"][2]["agent"], "gap", "agent")
e = edge("web", "gapsvc", "GET /g")
eq((e["verdict"], e["nodata"]), ("nodata", "agent_gap"), "edge")'
rc "agent gap: --inconclusive-limit 3 passes the rest (exit 0)" 0 --db "$G" verify --service gapsvc --inconclusive-limit 3 -o json
js "agent gap: intervals 3-5 (06:03-06:06) unseen, the others pass" '
eq([i["verdict"] for i in doc["intervals"]], ["pass", "pass"] + ["inconclusive"] * 3 + ["pass"] * 5, "intervals")
eq(doc["verdict"], "pass", "verdict")'
N=$work/noagent.db
rc "agent gone: 9 unseen intervals within --inconclusive-limit 9 (exit 0)" 0 --db "$N" verify --service gone --inconclusive-limit 9 -o json
js "agent gone: no flush after 06:02:55, down from 06:04" '
eq([i["agent"] for i in doc["intervals"]], ["ok", "gap", "gap"] + ["down"] * 7, "agent per interval")
assert doc["intervals"][3]["detail"].endswith("agent not running in the window (no flush recorded)"), doc["intervals"][3]
eq(doc["verdict"], "pass", "limit 9 of 9")'
gc --db "$N" verify --service gone -o json
js "agent gone: default limits: inconclusive at the first unseen interval" '
eq(doc["verdict"], "inconclusive", "verdict"); eq(len(doc["intervals"]), 2, "intervals")'

rc "agent drops: inconclusive at the limit 0 (exit 3)" 3 --db "$work/drops.db" verify --service dropsvc -o json
js "agent drops: the interval where the lost counter grew is nodata agent_drops, with the count" '
eq([i["verdict"] for i in doc["intervals"]], ["pass", "pass", "inconclusive"], "intervals")
eq((doc["intervals"][2]["agent"], doc["intervals"][2]["detail"]), ("drops", "web -> dropsvc GET /d: agent dropped 120 events in the window"), "interval 3")
eq(edge("web", "dropsvc", "GET /d")["nodata"], "agent_drops", "edge")'

# ---- a healthy deploy, a thin edge, a wrong alarm --------------------------
O=$work/ok.db
rc "healthy deploy: pass (exit 0)" 0 --db "$O" verify --service ok -o json
js "healthy deploy: edges pass, the thin edge is too few with what it needs" '
eq(doc["verdict"], "pass", "verdict")
eq([i["verdict"] for i in doc["intervals"]], ["pass"] * 10, "intervals")
eq(edge("web", "ok", "GET /o")["verdict"], "pass", "web -> ok")
t = edge("ok", "pg", "SELECT ?")
eq((t["verdict"], t["nodata"], t["more_requests_needed"], t["more_seconds_needed"]), ("nodata", "too_few", 20, 400.0), "thin")
eq(t["reason"], "too few requests after: 30 of 50, 20 more needed, ~6m40s at 0.05 req/s", "reason")
eq([(p["operation"], p["expected"], p["outcome"]) for p in doc["predictions"]],
   [("GET /o", "healthy", "hit"), ("SELECT ?", "healthy", "unverifiable"), ("GET", "errors", "miss")], "scored")
assert doc["predictions"][2]["reason"].startswith("predicted broken, fine in production"), doc["predictions"][2]'
is "healthy deploy: outcomes stored with both sides" \
	"$(q "$O" "SELECT prediction_id, outcome, json_extract(predicted, '\$.expected'), json_extract(observed, '\$.verdict'), json_extract(observed, '\$.after.requests') FROM prediction_outcomes ORDER BY 1")" \
	"1|hit|healthy|pass|1000
2|unverifiable|healthy|nodata|30
3|miss|errors|pass|500"

# ---- accuracy ------------------------------------------------------------------
rc "accuracy: exit 0" 0 --db "$O" accuracy --since @1795230000 -o json
js "accuracy: hit/miss/unverifiable, a red gate deployed and fine is a false positive" '
s = doc["services"]; eq(len(s), 1, "services")
eq({k: s[0][k] for k in ("service", "predictions", "hit", "miss", "unverifiable", "unscored", "fn_rate", "red", "red_deployed", "fp", "fp_rate")},
   {"service": "ok", "predictions": 3, "hit": 1, "miss": 1, "unverifiable": 1, "unscored": 0, "fn_rate": 0.0, "red": 1, "red_deployed": 1, "fp": 1, "fp_rate": 1.0}, "ok")
eq([d["day"] for d in doc["days"]], ["2026-11-21"], "days")'
gc --db "$Z" accuracy --since @1795230000 -o json
js "accuracy: a missed healthy prediction is a false negative" '
eq((doc["total"]["miss"], doc["total"]["fn_rate"], doc["total"]["fp_rate"]), (1, 1.0, None), "total")'
gc --db "$O" accuracy --since @1795230000
case "$OUT" in "SERVICE  PREDICTIONS  HIT  MISS  UNVERIFIABLE  UNSCORED  FN_RATE  RED  RED_DEPLOYED  FP  FP_RATE"*"all                "*) ok "accuracy: table";; *) fail "accuracy: table" "$OUT";; esac
gc --db "$O" accuracy --since 1h -o json
js "accuracy --since 1h leaves the fixture's day out" 'eq(doc["total"]["predictions"], 0, "none")' 

# ---- deploy and deploys -------------------------------------------------------
rc "deploy: exit 0" 0 --db "$O" deploy --service ok --version v3 --at @1795245000 --node n2 -o json
js "deploy: old version from the last one, the latest gate run of the service linked" '
eq({k: doc[k] for k in ("id", "service", "old_version", "new_version", "at", "node", "source", "gate_run")},
   {"id": 2, "service": "ok", "old_version": "v2", "new_version": "v3", "at": "2026-11-21T07:10:00.000Z", "node": "n2", "source": "ci", "gate_run": 1}, "row")'
rc "deploy --gate 0: no gate run" 0 --db "$O" deploy --service ok --version v4 --gate 0 --at @1795245100
is "deploy --gate 0: table line" "$OUT" "deployment 3: ok v3 -> v4 at 2026-11-21T07:11:40.000Z on $(hostname), no gate run to judge it against"
rc "deploy --gate 99: exit 2" 2 --db "$O" deploy --service ok --gate 99
err_is "deploy --gate 99: message" "gatectl: no gate run 99 in '$O'"
rc "deploy without --service: exit 2" 2 --db "$O" deploy
rc "deploys: exit 0" 0 --db "$O" deploys --service ok -o json
js "deploys: newest first, the verification verdict" '
eq([(d["id"], d["new_version"], d["gate_run"], d["verdict"]) for d in doc["deploys"]], [(3, "v4", None, None), (2, "v3", 1, None), (1, "v2", 1, "pass")], "deploys")'
gc --db "$O" deploys --since @1795245050 -o json
js "deploys --since" 'eq([d["id"] for d in doc["deploys"]], [3], "since")'
rc "verify a deploy of another service: exit 2" 2 --db "$O" verify --service web --deploy 1
err_is "verify a deploy of another service: message" "gatectl: deployment 1 is of 'ok', not 'web'"
rc "verify an unknown service: exit 2" 2 --db "$O" verify --service nosuch
err_is "verify an unknown service: message" "gatectl: no deployment of 'nosuch' in '$O'"
rc "verify a deploy whose window has not started: inconclusive (exit 3)" 3 --db "$O" verify --service ok --deploy 2 --window 10m
rc "verify --interval longer than --window: exit 2" 2 --db "$O" verify --service ok --window 1m --interval 2m
rc "verify --interval not a multiple of the windows: exit 2" 2 --db "$O" verify --service ok --interval 90s
err_is "verify --interval 90s: message" "gatectl: '--interval' must be a multiple of the store's 60s windows"
"$work/mkfixture" "$work/v5.db" </dev/null
sqlite3 "$work/v5.db" "DROP TABLE fault_detections; DROP TABLE fault_results; DROP TABLE deep_runs; DROP TABLE test_quarantine; DROP TABLE blind_spots; DROP TABLE edge_risk; DROP TABLE prediction_outcomes; DROP TABLE verifications; DROP TABLE agent_flushes; DROP TABLE deployments; PRAGMA user_version = 5;"
rc "deploys on a schema 5 store: exit 2" 2 --db "$work/v5.db" deploys
err_is "deploys on a schema 5 store: message" "gatectl: deploys needs a schema 6 store; '$work/v5.db' is schema 5 (open it writable once: gatectl deploy)"

# ---- flaky tests and quarantine -------------------------------------------------
F=$work/flaky.db
"$work/mkfixture" "$F" </dev/null
sqlite3 "$F" "
INSERT INTO test_runs(id, kind, stack, versions, started_ns, ended_ns) VALUES
 (1, 'learn', 'shop', '{\"api\":\"a1\"}', 1795237200000000000, 1795237260000000000),
 (2, 'learn', 'shop', '{\"api\":\"a1\"}', 1795237300000000000, 1795237360000000000),
 (3, 'learn', 'shop', '{\"api\":\"a1\"}', 1795237400000000000, 1795237460000000000),
 (4, 'gate', 'shop', '{\"api\":\"a2\"}', 1795237500000000000, 1795237560000000000);
INSERT INTO test_results VALUES
 (1, 'cart', 'pass', NULL, 2000000000, 0, NULL), (2, 'cart', 'fail', NULL, 4000000000, 1, 'timeout'),
 (3, 'cart', 'pass', NULL, 3000000000, 0, NULL),
 (1, 'login', 'pass', NULL, 1000000000, 0, NULL), (2, 'login', 'pass', NULL, 1000000000, 0, NULL),
 (4, 'login', 'fail', 'app', 1000000000, 1, 'boom');
INSERT INTO footprints(run_id, test, client, server, protocol, operation, status, requests, errors) VALUES
 (1, 'cart', 'web', 'api', 'http', 'GET /cart', '200', 3, 0), (3, 'cart', 'web', 'api', 'http', 'GET /cart', '200', 3, 0),
 (2, 'cart', 'web', 'api', 'http', 'GET /cart', '504', 1, 1), (2, 'cart', 'web', 'api', 'http', 'GET /cart', '200', 2, 0),
 (1, 'cart', 'api', 'redis', 'redis', 'GET', 'ok', 3, 0), (2, 'cart', 'api', 'redis', 'redis', 'GET', 'ok', 1, 0),
 (3, 'cart', 'api', 'redis', 'redis', 'GET', 'ok', 3, 0),
 (1, 'login', 'web', 'auth', 'http', 'POST /token', '200', 1, 0);"
rc "tests: exit 0" 0 --db "$F" tests -o json
js "tests: runs, pass rate, mean duration, last failure, footprint size, flaky on same versions only" '
t = {x["name"]: x for x in doc["tests"]}
eq((t["cart"]["runs"], t["cart"]["passes"], t["cart"]["fails"], t["cart"]["pass_rate"], t["cart"]["mean_duration_s"], t["cart"]["footprint_edges"], t["cart"]["flaky"]),
   (3, 2, 1, 0.666667, 3.0, 2, True), "cart")
eq(t["cart"]["last_failure"], "2026-11-21T05:01:40.000Z", "last failure")
eq((t["login"]["runs"], t["login"]["fails"], t["login"]["flaky"]), (3, 1, False), "login failed on other versions: not flaky")'
rc "tests --flaky: exit 0" 0 --db "$F" tests --flaky -o json
js "tests --flaky: the edge whose statuses differ between passing and failing runs" '
eq([x["name"] for x in doc["tests"]], ["cart"], "flaky")
eq(doc["tests"][0]["differing"], [{"client": "web", "server": "api", "protocol": "http", "operation": "GET /cart", "status": "504", "failing_requests": 1, "passing_requests": 0}], "differing")'
gc --db "$F" tests --flaky
is "tests --flaky: table" "$(printf '%s\n' "$OUT" | tail -2)" "cart: edges whose statuses differ between passing and failing runs:
    web -> api http GET /cart: status 504 only in failing runs (1 requests)"
rc "tests quarantine cart: exit 0" 0 --db "$F" tests quarantine cart --reason "504 from api"
is "tests quarantine: stored" "$(q "$F" "SELECT test, reason FROM test_quarantine")" "cart|504 from api"
gc --db "$F" tests -o json
js "tests: quarantined shown" 'eq([x["quarantined"] for x in doc["tests"]], [True, False], "q")'
rc "tests release cart: exit 0" 0 --db "$F" tests release cart
rc "tests release cart again: exit 2" 2 --db "$F" tests release cart
err_is "tests release: message" "gatectl: test 'cart' is not quarantined"
rc "tests frobnicate: exit 2" 2 --db "$F" tests frobnicate x

# ---- what the misses teach select (the gate's selection reads edge_risk, blind_spots) ----
store sparse; store zero
ST=tests/gate/verify_stack.json
gc --db "$work/sparse.db" select --stack "$ST" --changed sparse -o json
js "select before a miss: t1 covers web -> sparse" '
eq([(t["name"], t["reason"]) for t in doc["selected"]], [("t2", "never learned"), ("t1", "risk")], "selected")'
risk0=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print([t["risk"] for t in json.load(sys.stdin)["selected"] if t["name"] == "t1"][0])')
gc --db "$work/sparse.db" verify --service sparse
gc --db "$work/sparse.db" select --stack "$ST" --changed sparse -o json
js "select after the miss: t1's risk doubled (edge risk weight 2)" "
t = [t for t in doc['selected'] if t['name'] == 't1'][0]
near(t['risk'], 2 * $risk0, 'risk', 1e-5)"
gc --db "$work/zero.db" select --stack "$ST" --changed zero -o json
js "select before the miss: web -> zero uncovered, not yet a blind spot" '
eq([(u["client"], u["server"], u["operation"], u["blind_spot"]) for u in doc["uncovered"]], [("web", "zero", "GET /a", False)], "uncovered")'
gc --db "$work/zero.db" verify --service zero
gc --db "$work/zero.db" select --stack "$ST" --changed zero -o json
js "select after the miss: web -> zero a gate blind spot" '
eq([(u["client"], u["server"], u["operation"], u["blind_spot"]) for u in doc["uncovered"]], [("web", "zero", "GET /a", True)], "uncovered")'

echo "gatectl-verify: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
