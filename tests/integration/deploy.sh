#!/usr/bin/env bash
# Deploys seen by the real agent (real BPF, real processes): a Python
# service replaced by another script at the same path is one deployment
# (old -> new version, new and old pid, the script in its detail); a
# replacement that sets OTEL_RESOURCE_ATTRIBUTES service.version is named by
# it; short-lived commands (curl, sleep) are never deployments. The agent
# writes 5-second windows (--window 5) and a flush record a second; then
# `gatectl verify` judges the bad deploy (one request in four fails) red on
# that store within its 20-second window, and a healthy one green.
# Ports 19500-19519. Prints "deploy: N passed, N failed".
set -euo pipefail

SUITE=deploy
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
PORT=19501

it_require curl sqlite3 "$PY"
work=$(mktemp -d /tmp/faultline-deploy.XXXXXX)
pids=()
agent_pid=
cleanup() {
	set +e
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

listening() {
	local hex; hex=$(printf ':%04X' "$PORT")
	awk -v p="$hex\$" '$4 == "0A" && $2 ~ p' /proc/net/tcp | grep -q .
}
wait_listen() { for _ in $(seq 100); do listening && return 0; sleep 0.05; done; bad "nothing listens on $PORT"; return 1; }
wait_closed() { for _ in $(seq 100); do listening || return 0; sleep 0.05; done; bad "port $PORT still taken"; return 1; }

# v1: the integration server; v2: the same, but one /api/items request in four fails
cp "$here/httpd.py" "$work/app.py"
sed 's/        if self.path.startswith("\/api\/items\/"):/        Handler.n = getattr(Handler, "n", 0) + 1\n        if self.path.startswith("\/api\/items\/") and Handler.n % 4 == 0:\n            self.reply(503, b"{}")\n        elif self.path.startswith("\/api\/items\/"):/' \
	"$here/httpd.py" >"$work/app-v2.py"
grep -q 'Handler.n % 4' "$work/app-v2.py" || { bad "could not make app v2"; finish; exit 1; }

cat >"$work/load.py" <<'PY'
import sys, time, urllib.request, urllib.error
port, n = int(sys.argv[1]), 0
while True:
    n += 1
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/items/{n}", timeout=2).read()
    except Exception:
        pass
    time.sleep(0.04)
PY

start_app() { # SCRIPT [ENV...]: app.py as SCRIPT's content, started from $work
	cp "$1" "$work/app.py.new" && mv "$work/app.py.new" "$work/app.py"
	shift
	(cd "$work" && exec env "$@" "$PY" app.py $PORT) & app_pid=$!
	pids+=("$app_pid")
	wait_listen
}
stop_app() { kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; wait_closed; }

start_app "$here/httpd.py"
old_pid=$app_pid
it_agent_start "$work/agent.out" "$work/agent.err" --db "$work/s.db" --flush-interval 1 --window 5
"$PY" "$work/load.py" $PORT & pids+=("$!")
for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/items/x"; sleep 0.05; done
sleep 34                       # the baseline: v1, settled (it predates the agent)

stop_app
start_app "$work/app-v2.py"     # the same path, another script: deploy 1
bad_pid=$app_pid
bad_at=$(date +%s)
for _ in $(seq 3); do sleep 0.3; done
sleep 29                       # v2 serves a fifth... a quarter of errors for ~30 s

stop_app
start_app "$here/httpd.py" OTEL_SERVICE_NAME=app OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.version=3.0.0
good_pid=$app_pid
sleep 32
it_agent_stop "$work/agent.err"

q() { sqlite3 "$work/s.db" "$1"; }
rows=$(q "SELECT service, old_pid, pid, source, length(old_version), length(new_version) FROM deployments WHERE service = 'app' ORDER BY id")
[ "$rows" = "app|$old_pid|$bad_pid|agent|12|12
app|$bad_pid|$good_pid|agent|12|5" ] && ok "two deployments of app: v1 -> v2 (script content), v2 -> 3.0.0 (service.version)" ||
	bad "deployments of app: $rows (want pids $old_pid -> $bad_pid -> $good_pid)"
[ "$(q "SELECT count(*) FROM deployments WHERE service <> 'app'")" = 0 ] &&
	ok "no deployment of anything else (curl, sleep, load)" ||
	bad "other deployments: $(q "SELECT service, detail FROM deployments WHERE service <> 'app'")"
v=$(q "SELECT d1.new_version = d2.old_version, d1.old_version <> d1.new_version, d2.new_version FROM deployments d1, deployments d2 WHERE d1.id = 1 AND d2.id = 2")
[ "$v" = "1|1|3.0.0" ] && ok "versions chain: v2's id is the second deploy's old version" || bad "versions: $v"
d=$(q "SELECT json_extract(detail, '\$.script') = '$work/app.py', json_extract(detail, '\$.exe') LIKE '%python3%', at_ns / 1000000000 - $bad_at BETWEEN -2 AND 1 FROM deployments WHERE id = 1")
[ "$d" = "1|1|1" ] && ok "deployment detail: the script, the interpreter, the process's start time" || bad "detail: $d ($(q "SELECT at_ns, detail FROM deployments WHERE id = 1"))"
[ "$(q "SELECT json_extract(detail, '\$.service_version') FROM deployments WHERE id = 2")" = 3.0.0 ] &&
	ok "deployment detail: service.version" || bad "detail 2: $(q "SELECT detail FROM deployments WHERE id = 2")"
f=$(q "SELECT count(*) >= 90, min(flush_s), max(window_s), max(lost), count(DISTINCT agent_start_ns), min(node) = '$(hostname)' FROM agent_flushes")
[ "$f" = "1|1|5|0|1|1" ] && ok "flush records: one a second, 5 s windows, nothing lost, one agent" || bad "flushes: $f"
[ "$(q "SELECT count(*) FROM edge_windows WHERE width_s <> 5 OR window_start % 5 <> 0")" = 0 ] &&
	ok "windows are 5 s wide, on 5 s boundaries" || bad "windows: $(q "SELECT width_s, count(*) FROM edge_windows GROUP BY 1")"

"$gatectl" --db "$work/s.db" deploys --service app -o json >"$work/deploys.json" &&
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["deploys"]; assert [(x["id"], x["source"], x["new_version"]) for x in d][0] == (2, "agent", "3.0.0"), d' "$work/deploys.json" &&
	ok "gatectl deploys lists them, newest first" || bad "deploys: $(cat "$work/deploys.json")"

set +e
"$gatectl" --db "$work/s.db" verify --service app --deploy 1 --baseline 30s --window 20s --interval 5s -o json >"$work/v1.json" 2>"$work/v1.err"
r=$?
set -e
[ $r -eq 1 ] && ok "verify the bad deploy: fail (exit 1)" || bad "verify deploy 1: exit $r $(cat "$work/v1.err") $(head -c 2000 "$work/v1.json")"
"$PY" - "$work/v1.json" <<'PY' && ok "verify the bad deploy: load -> app errors high, 503 the status to test" || bad "verify deploy 1: $(head -c 3000 "$work/v1.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
high = [e for e in doc["edges"] if e["verdict"] == "high"]
assert [(e["client"], e["server"], e["metric"]) for e in high] == [("load", "app", "errors")], high
assert doc["intervals"][0]["verdict"] == "fail", doc["intervals"]
e = high[0]
assert e["before"]["errors"] == 0 and e["after"]["errors"] > 0, e
PY
set +e
"$gatectl" --db "$work/s.db" verify --service app --deploy 2 --baseline 30s --window 20s --interval 5s -o json >"$work/v2.json" 2>"$work/v2.err"
r=$?
set -e
"$PY" - "$work/v2.json" <<'PY' && [ $r -eq 0 ] && ok "verify the fix: pass (exit 0), errors low" || bad "verify deploy 2: exit $r $(cat "$work/v2.err") $(head -c 3000 "$work/v2.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["verdict"] == "pass", doc["why"]
e = [e for e in doc["edges"] if (e["client"], e["server"]) == ("load", "app")]
assert e and e[0]["verdict"] == "low" and e[0]["metric"] == "errors", e
PY
finish
