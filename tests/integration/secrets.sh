#!/usr/bin/env bash
# Canary-secret test (DESIGN §4: secrets never reach the store, the logs or
# any output). Random tokens made for this run ("canaries") are driven
# through every protocol in every place a secret lives — HTTP/1.1
# Authorization, Proxy-Authorization, Cookie, Set-Cookie, query strings,
# ;params, request and response bodies, the same over TLS; PostgreSQL
# cleartext, md5 and SCRAM password authentication, string and numeric
# literals, dollar-quoted bodies, error messages, parameters of a pipelined
# prepared statement; Redis AUTH (both forms, and a wrong password), keys,
# values, hash fields — while the real agent watches with -v and --stats.
# Then none of them may appear in the store's files (raw bytes of .db,
# -wal and -shm, copied while the agent runs and again at the end), in the
# agent's stdout/stderr, or in any gatectl output (graph table/json/dot,
# scope, health, blindspots). Positive controls: every edge the traffic
# makes is asserted with exact counts, and the scan is shown to find the
# canaries where they do belong (a file holding them, the servers' logs).
#
# Adding a protocol is one function, proto_NAME PHASE, added to PROTOCOLS:
#   start    servers, before the agent (their admin over unix sockets)
#   traffic  clients carrying canaries, while the agent runs
#   expect   the edges the traffic makes, one per line:
#            CLIENT<TAB>SERVER<TAB>PROTOCOL<TAB>OPERATION<TAB>REQUESTS<TAB>ERRORS
# Canaries come from `canary NAME` (a fresh random token, registered for
# the scan); `run_ok WHAT CMD...` runs a client and counts a failure.
#
# Needs root (BPF). Under CI=true nothing is skipped: a missing privilege or
# package is a failure. Prints "secrets: N passed, N failed".
set -euo pipefail

SUITE=secrets
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

HTTP_PORT=29180 TLS_PORT=29543 PG_PORT=25452 REDIS_PORT=26389
PROTOCOLS=(http https postgresql redis)

it_require nginx psql redis-cli redis-server curl openssl "$PY"

work=$(mktemp -d /tmp/faultline-secrets.XXXXXX)
chmod 755 "$work"
agent_pid=
trap it_cleanup EXIT

# Clients are copies of curl, psql and redis-cli named after the client:
# a short-lived process gone before the agent reads /proc is named by its
# kernel comm, so the name is the same either way.
mkdir "$work/bin"
cp "$(command -v curl)" "$work/bin/seccurl"
cp "$(command -v curl)" "$work/bin/sectlscurl"
cp "$FL_PG_BIN/psql" "$work/bin/secpsql"
cp "$FL_PG_BIN/psql" "$work/bin/check"
cp "$(command -v redis-cli)" "$work/bin/secrediscli"

# canary NAME: a random token for this run, in CANARY_NAME and in the scan
# list. Letters and hex only: no shell, SQL, URL or RESP quoting needed.
: >"$work/canaries"
canary() {
	local v
	v=cnry$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')
	printf -v "CANARY_$1" '%s' "$v"
	printf '%s\t%s\n' "$1" "$v" >>"$work/canaries"
}

# run_ok WHAT CMD...: run a client; its failure is a test failure
run_ok() {
	local what=$1
	shift
	if "$@" >>"$work/clients.log" 2>&1; then return 0; fi
	bad "$what failed (see below)"; tail -5 "$work/clients.log"
}

# --- HTTP/1.1 -----------------------------------------------------------------
# Requests carry a canary in every header and part that is a secret; the
# server answers with a Set-Cookie and a body that hold canaries.
http_requests() {  # CLIENT_NAME SCHEME PORT PREFIX
	local name=$1 base=$2://127.0.0.1:$3 p=$4 a q b m x k
	a=CANARY_${p}_AUTH q=CANARY_${p}_QUERY b=CANARY_${p}_BODY
	m=CANARY_${p}_MATRIX x=CANARY_${p}_PROXYAUTH k=CANARY_${p}_COOKIE
	local -a hdrs=(-H "Authorization: Bearer ${!a}"
		-H "Proxy-Authorization: Basic ${!x}"
		-H "Cookie: sid=${!k}; theme=dark")
	local -a c=("$work/bin/$name" -sf --cacert "$work/cert.pem" -o /dev/null)
	run_ok "$name GET with query" "${c[@]}" "${hdrs[@]}" "$base/login?token=${!q}&next=%2Fhome"
	run_ok "$name POST with body" "${c[@]}" "${hdrs[@]}" --data "user=alice&password=${!b}" "$base/login"
	run_ok "$name ;params" "${c[@]}" "$base/account;jsessionid=${!m}?sid=${!q}"
}

proto_http() {
	case $1 in
	start)
		local n
		for n in AUTH PROXYAUTH COOKIE QUERY BODY MATRIX ABS; do canary "HTTP_$n"; done
		canary SETCOOKIE; canary RESPBODY
		SETCOOKIE_CANARY=$CANARY_SETCOOKIE RESPBODY_CANARY=$CANARY_RESPBODY
		export SETCOOKIE_CANARY RESPBODY_CANARY
		# one nginx serves plain and TLS (proto_https makes the cert first)
		;;
	traffic)
		http_requests seccurl http "$HTTP_PORT" HTTP
		# absolute-form through a "proxy" (nginx answers it itself)
		run_ok "absolute-form request" "$work/bin/seccurl" -sf -o /dev/null \
			-x "http://127.0.0.1:$HTTP_PORT" -H "Proxy-Authorization: Basic $CANARY_HTTP_PROXYAUTH" \
			"http://shop.example/export?api_key=$CANARY_HTTP_ABS"
		;;
	expect)
		printf 'seccurl\tnginx\thttp\tGET /login\t1\t0\n'
		printf 'seccurl\tnginx\thttp\tPOST /login\t1\t0\n'
		printf 'seccurl\tnginx\thttp\tGET /account\t1\t0\n'
		printf 'seccurl\tnginx\thttp\tGET /export\t1\t0\n'
		;;
	esac
}

# --- HTTP/1.1 over TLS (curl -> nginx, self-signed) -----------------------------
proto_https() {
	case $1 in
	start)
		local n
		for n in AUTH PROXYAUTH COOKIE QUERY BODY MATRIX; do canary "TLS_$n"; done
		CERT=$work/cert.pem KEY=$work/key.pem
		export CERT KEY TLS_PORT
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
			-addext "subjectAltName=IP:127.0.0.1" -keyout "$KEY" -out "$CERT" \
			2>"$work/openssl.log" || { bad "openssl req: $(cat "$work/openssl.log")"; return 1; }
		fl_start_nginx "$HTTP_PORT" "$work/nginx" "$here/nginx-secrets.conf.in"
		;;
	traffic)
		http_requests sectlscurl https "$TLS_PORT" TLS
		;;
	expect)
		printf 'sectlscurl\tnginx\thttp\tGET /login\t1\t0\n'
		printf 'sectlscurl\tnginx\thttp\tPOST /login\t1\t0\n'
		printf 'sectlscurl\tnginx\thttp\tGET /account\t1\t0\n'
		;;
	esac
}

# --- PostgreSQL -------------------------------------------------------------------
pgc() {  # CLIENT_NAME USER PASSWORD SQL: psql over TCP with a password
	PGPASSWORD=$3 "$work/bin/$1" -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" \
		-U "$2" -d shop -c "$4"
}

proto_postgresql() {
	case $1 in
	start)
		local u
		for u in PLAIN MD5 SCRAM; do canary "PG_PASS_$u"; done
		canary PG_LITERAL; canary PG_DOLLAR; canary PG_ERROR; canary PG_PARAM; canary PG_PARAM_ERR
		CANARY_PG_NUMBER=9$(od -An -N8 -tu8 /dev/urandom | tr -d ' \n' | cut -c1-14)
		printf 'PG_NUMBER\t%s\n' "$CANARY_PG_NUMBER" >>"$work/canaries"
		fl_start_postgres "$PG_PORT" "$work/pg"
		# roles made over the unix socket (not traced); passwords stored as
		# the method wants them (md5 needs an md5 hash)
		fl_psql "$PG_PORT" "$work/pg" >/dev/null <<-SQL
			CREATE ROLE app_plain LOGIN PASSWORD '$CANARY_PG_PASS_PLAIN';
			CREATE ROLE app_scram LOGIN PASSWORD '$CANARY_PG_PASS_SCRAM';
			SET password_encryption = 'md5';
			CREATE ROLE app_md5 LOGIN PASSWORD '$CANARY_PG_PASS_MD5';
			GRANT ALL ON SCHEMA public TO app_plain, app_md5, app_scram;
		SQL
		cat >"$work/pg/data/pg_hba.conf" <<-EOF
			local all all                      trust
			host  all app_plain 127.0.0.1/32   password
			host  all app_md5   127.0.0.1/32   md5
			host  all app_scram 127.0.0.1/32   scram-sha-256
			host  all all       127.0.0.1/32   trust
		EOF
		fl_psql "$PG_PORT" "$work/pg" -c "SELECT pg_reload_conf()" >/dev/null
		sleep 0.5
		# the methods are in force (before the agent: not recorded)
		local wrong=0 right=0
		for u in PLAIN MD5 SCRAM; do
			local role=app_${u,,} pw=CANARY_PG_PASS_$u
			pgc check "$role" wrong-password "SELECT 1" >/dev/null 2>&1 || wrong=$((wrong + 1))
			[ "$(pgc check "$role" "${!pw}" "SELECT 1" 2>/dev/null)" = 1 ] && right=$((right + 1))
		done
		[ "$wrong$right" = 33 ] && ok "pg_hba: password, md5, scram-sha-256 enforced" ||
			bad "pg_hba not in force: $wrong wrong passwords refused, $right right ones accepted (want 3, 3)"
		;;
	traffic)
		# cleartext password message, md5 hash, SCRAM exchange; literals
		run_ok "psql password auth" pgc secpsql app_plain "$CANARY_PG_PASS_PLAIN" \
			"SELECT '$CANARY_PG_LITERAL' AS s, $CANARY_PG_NUMBER AS n"
		run_ok "psql md5 auth" pgc secpsql app_md5 "$CANARY_PG_PASS_MD5" \
			"SELECT '$CANARY_PG_LITERAL' AS s, $CANARY_PG_NUMBER AS n"
		run_ok "psql scram auth" pgc secpsql app_scram "$CANARY_PG_PASS_SCRAM" \
			"SELECT '$CANARY_PG_LITERAL' AS s, $CANARY_PG_NUMBER AS n"
		# error messages that quote the canary (SQLSTATE 22P02, P0001)
		pgc secpsql app_plain "$CANARY_PG_PASS_PLAIN" "SELECT '$CANARY_PG_ERROR'::int" \
			>>"$work/clients.log" 2>&1 && bad "cast of a canary did not fail"
		pgc secpsql app_plain "$CANARY_PG_PASS_PLAIN" \
			"DO \$\$BEGIN RAISE EXCEPTION 'denied %', '$CANARY_PG_DOLLAR'; END\$\$" \
			>>"$work/clients.log" 2>&1 && bad "RAISE did not fail"
		# a pipelined extended-protocol batch, canaries as parameters
		run_ok "pipelined prepared statements" env OTEL_SERVICE_NAME=secpgpipe "$PY" \
			"$here/secretpeers.py" pg "$PG_PORT" app_plain "$CANARY_PG_PASS_PLAIN" \
			"$CANARY_PG_PARAM" "$CANARY_PG_PARAM_ERR"
		;;
	expect)
		printf 'secpsql\tpostgres\tpostgresql\tSELECT ? AS s, ? AS n\t3\t0\n'
		printf 'secpsql\tpostgres\tpostgresql\tSELECT ?::int\t1\t1\n'
		printf 'secpsql\tpostgres\tpostgresql\tDO ?\t1\t1\n'
		printf 'secpgpipe\tpostgres\tpostgresql\tSELECT $1::text AS secret, $2::int AS n\t2\t0\n'
		printf 'secpgpipe\tpostgres\tpostgresql\tSELECT $1::int AS bad\t1\t1\n'
		;;
	esac
}

# --- Redis ------------------------------------------------------------------------
rcli() {  # CLIENT_NAME redis-cli args...
	local name=$1
	shift
	"$work/bin/$name" -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

proto_redis() {
	case $1 in
	start)
		local n
		for n in PASS KEY VALUE FIELD HVALUE WRONGPASS PIPEKEY PIPEVALUE; do canary "REDIS_$n"; done
		fl_start_redis "$REDIS_PORT" "$work/redis"
		# requirepass set over the unix socket (readiness pings need none)
		fl_redis_cli "$work/redis" CONFIG SET requirepass "$CANARY_REDIS_PASS" >/dev/null
		;;
	traffic)
		run_ok "redis-cli -a SET" rcli secrediscli --no-auth-warning -a "$CANARY_REDIS_PASS" \
			SET "user:$CANARY_REDIS_KEY" "$CANARY_REDIS_VALUE"
		run_ok "redis-cli -a GET" rcli secrediscli --no-auth-warning -a "$CANARY_REDIS_PASS" \
			GET "user:$CANARY_REDIS_KEY"
		run_ok "redis-cli --user --pass HSET" rcli secrediscli --no-auth-warning --user default \
			--pass "$CANARY_REDIS_PASS" HSET "h:$CANARY_REDIS_KEY" "$CANARY_REDIS_FIELD" \
			"$CANARY_REDIS_HVALUE"
		# a wrong password is a secret as well (WRONGPASS reply)
		rcli secrediscli --no-auth-warning -a "$CANARY_REDIS_WRONGPASS" PING \
			>>"$work/clients.log" 2>&1 || true
		run_ok "pipelined AUTH/SET/GET/MSET/ECHO" env OTEL_SERVICE_NAME=secredispipe "$PY" \
			"$here/secretpeers.py" redis "$REDIS_PORT" "$CANARY_REDIS_PASS" \
			"$CANARY_REDIS_PIPEKEY" "$CANARY_REDIS_PIPEVALUE"
		;;
	expect)
		printf 'secrediscli\tredis-server\tredis\tAUTH\t4\t1\n'
		printf 'secrediscli\tredis-server\tredis\tSET\t1\t0\n'
		printf 'secrediscli\tredis-server\tredis\tGET\t1\t0\n'
		printf 'secrediscli\tredis-server\tredis\tHSET\t1\t0\n'
		printf 'secrediscli\tredis-server\tredis\tPING\t1\t1\n'
		printf 'secredispipe\tredis-server\tredis\tAUTH\t1\t0\n'
		printf 'secredispipe\tredis-server\tredis\tSET\t1\t0\n'
		printf 'secredispipe\tredis-server\tredis\tGET\t1\t0\n'
		printf 'secredispipe\tredis-server\tredis\tMSET\t1\t0\n'
		printf 'secredispipe\tredis-server\tredis\tECHO\t1\t0\n'
		;;
	esac
}

# --- 1. servers, canaries ---------------------------------------------------------
# https makes the cert and starts the one nginx, after http chose its canaries
for p in "${PROTOCOLS[@]}"; do
	"proto_$p" start || { bad "starting $p"; finish; exit 1; }
done

# --- 2. the agent, as verbose as it gets ----------------------------------------------
db=$work/faultline.db
it_agent_start "$work/agent.out" "$work/agent.err" --db "$db" --flush-interval 1 -v --stats

# --- 3. traffic ----------------------------------------------------------------------
: >"$work/clients.log"
for p in "${PROTOCOLS[@]}"; do "proto_$p" traffic; done
sleep 2.5   # drained and flushed (--flush-interval 1)
# the store's files as they are while the agent runs: the WAL is live now
mkdir "$work/live"
cp "$db" "$db"-wal "$db"-shm "$work/live/" 2>/dev/null || true
it_agent_stop "$work/agent.err"

# --- 4. every gatectl output -------------------------------------------------------------
mkdir "$work/gate"
g() {  # NAME ARGS...: gatectl's stdout and stderr into gate/NAME
	local name=$1
	shift
	"$gatectl" --db "$db" "$@" >"$work/gate/$name" 2>&1 || true
}
g graph.txt graph
g graph.json graph -o json
g graph.dot graph -o dot
g graph-1h.json graph --since 1h -o json
g blindspots.txt blindspots
g blindspots.json blindspots -o json
for s in $("$PY" -c 'import json,sys; print(" ".join(s["name"] for s in json.load(open(sys.argv[1]))["services"]))' "$work/gate/graph.json"); do
	g "scope-$s.txt" scope --changed "$s"
	g "scope-$s.json" scope --changed "$s" -o json
	g "health-$s.txt" health --service "$s" --since 1m
	g "health-$s.json" health --service "$s" --since 1m -o json
done
echo "--- gatectl graph"; sed -n '/^EDGES/,$p' "$work/gate/graph.txt"; echo "---"

# --- 5. positive controls: the edges are there, exactly ----------------------------------
for p in "${PROTOCOLS[@]}"; do "proto_$p" expect; done >"$work/expected.tsv"
if "$PY" - "$work/gate/graph.json" "$work/expected.tsv" <<'EOF'; then ok "every edge of the canary traffic recorded, counts exact"; else bad "edges (see above)"; fi
import json, sys
graph = json.load(open(sys.argv[1]))
edges = {(e["client"], e["server"], e["protocol"], e["operation"]): e for e in graph["edges"]}
expected = {}
for line in open(sys.argv[2]):
    c, s, p, op, req, err = line.rstrip("\n").split("\t")
    expected[(c, s, p, op)] = (int(req), int(err))
fails = 0
for key, want in expected.items():
    e = edges.get(key)
    got = (e["requests"], e["errors"]) if e else None
    if got != want:
        fails += 1
        print("    %s: requests/errors %s, expected %s" % (key, got, want))
for key in edges:
    if key not in expected:
        fails += 1
        print("    unexpected edge %s" % (key,))
sys.exit(1 if fails else 0)
EOF
n=$(ls "$work/gate" | wc -l)
[ "$n" -ge 20 ] && ok "$n gatectl outputs collected" || bad "only $n gatectl outputs"

# --- 6. the scan -----------------------------------------------------------------------------
# scan FILE...: every (canary, file) pair where the canary's bytes occur
scan() {
	local name value f
	while IFS=$'\t' read -r name value; do
		for f in "$@"; do
			[ -e "$f" ] || continue
			if [ "$(grep -c -a -F -- "$value" "$f")" != 0 ]; then
				echo "$name in $f"
			fi
		done
	done <"$work/canaries"
}

# controls: the scan finds each canary where it does belong
printf 'x%sx\n' $(cut -f2 "$work/canaries") >"$work/control"
found=$(scan "$work/control" | wc -l)
want=$(wc -l <"$work/canaries")
[ "$found" -eq "$want" ] && ok "scan finds all $want canaries in a control file" ||
	bad "scan found $found of $want canaries in the control file"
# PostgreSQL logged the statements (log_statement=all): the literals went by
if scan "$work/pg/pg.log" | grep '^PG_LITERAL in ' >/dev/null; then
	ok "control: the PG literal canary is in PostgreSQL's own log"
else
	bad "control: PG literal canary not in PostgreSQL's log: did the query run?"
fi

leaks=$(scan "$work/live/"* "$db" "$db"-wal "$db"-shm "$work/agent.out" "$work/agent.err" "$work/gate/"*)
files=$(ls "$work/live/" | tr '\n' ' ')
if [ -z "$leaks" ]; then
	ok "no canary in the store (live copy: $files; final), the agent's output or gatectl's"
else
	bad "canaries leaked:"; printf '%s\n' "$leaks" | sed 's/^/    /'
fi
if [ -s "$work/live/faultline.db-wal" ]; then
	ok "the live WAL was scanned ($(stat -c %s "$work/live/faultline.db-wal") bytes)"
else
	bad "no live WAL copied: the scan missed the agent's uncheckpointed writes"
fi
grep -q '^faultline-agent: counters: ' "$work/agent.err" &&
	ok "agent printed --stats counters (scanned too)" || bad "no --stats line in the agent's output"

echo "canaries: $(wc -l <"$work/canaries") ($(cut -f1 "$work/canaries" | tr '\n' ' '))"
finish
