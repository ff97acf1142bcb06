#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# capture.sh OUTDIR [CASE...] - record the raw byte streams of the golden
# cases from real servers and clients: nginx, python's http.server
# (upstream.py), PostgreSQL 15 with psql and pgbench, redis-server with
# redis-cli, MariaDB 10.11 with the mariadb client, PyMySQL and myprep
# (prepared statements through libmariadb), the raw-socket clients of
# clients.py, nginx over HTTP/2 with curl --http2-prior-knowledge, and a
# python3-grpcio server and client (tests/integration/grpcpeer.py), each
# connection
# relayed by record.py on 127.0.0.1. Writes OUTDIR/<proto>/<case>/ with
# `request`, `response` and `script` (several connections: <case>.N).
#
# The captures are raw material: a golden case is one of them, maybe with
# gap steps written into its script by hand, plus an `expected` file that a
# person checked against the bytes (docs/testing.md). Run as root (the
# servers run as postgres/nobody); every server is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: capture.sh OUTDIR [CASE...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
only=" $* "
PY=/usr/bin/python3
# below the ephemeral range (32768-60999): a client socket may hold any port in it
PROXY=29000 NGINX=29080 UPSTREAM_PORT=29081 DOWN_PORT=29099 PG=29432 REDIS=29379 MY=29306
NGINX2=29082 GRPC=29551

# shellcheck source=tools/lib/servers.sh source-path=SCRIPTDIR/../..
. "$root/tools/lib/servers.sh"
fl_lock_host
work=$(mktemp -d /tmp/fl-golden.XXXXXX)
chmod 755 "$work"
trap 'fl_stop_all; rm -rf "$work"' EXIT

want() { [ "$only" = "  " ] || [[ $only == *" $1 "* ]]; }

# rec PROTO CASE UPSTREAM_PORT CMD... - run CMD against the proxy, keep its connections
rec() {
	local proto=$1 name=$2 up=$3 d pid n i
	shift 3
	want "$proto/$name" || return 0
	d=$work/rec/$proto-$name
	fl_start_cmd "proxy-$proto-$name" "$work/logs" --port "$PROXY" -- \
		"$PY" -u "$here/record.py" "$PROXY" "$up" "$d"
	pid=$FL_LAST_PID
	"$@" >"$work/logs/$proto-$name.out" 2>&1 <"${REC_IN:-/dev/null}" ||
		echo "note: $proto/$name client exited $?"
	sleep 0.5
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	n=$(find "$d" -mindepth 1 -maxdepth 1 -type d | wc -l)
	rm -rf "${out:?}/$proto/$name" "$out/$proto/$name".*
	mkdir -p "$out/$proto"
	if [ "$n" -eq 1 ]; then
		mv "$d"/conn-001 "$out/$proto/$name"
	else
		for i in $(seq "$n"); do mv "$d/conn-$(printf %03d "$i")" "$out/$proto/$name.$i"; done
	fi
	echo "captured $proto/$name ($n connection(s))"
}

# rec_in FILE PROTO CASE ...: rec with the client's stdin from FILE
rec_in() {
	REC_IN=$1 rec "${@:2}"
}

# ---- servers ------------------------------------------------------------------
mkdir -p "$work/nginx/www" "$work/logs"
printf '<html><body>hello</body></html>\n' >"$work/nginx/www/index.html"
for i in $(seq 80); do printf 'line %02d: the quick brown fox jumps over the lazy dog\n' "$i"; done \
	>"$work/nginx/www/big.txt"
head -c 4000 /dev/zero | tr '\0' 'z' >"$work/nginx/www/data.bin"
chmod -R a+rX "$work/nginx"
fl_start_cmd upstream "$work/upstream" --port "$UPSTREAM_PORT" -- "$PY" -u "$here/upstream.py" "$UPSTREAM_PORT"
export UPSTREAM_PORT DOWN_PORT
fl_start_nginx "$NGINX" "$work/nginx" "$here/nginx.conf.in"
fl_start_nginx "$NGINX2" "$work/nginx2" "$here/nginx-h2.conf.in"
cp -r "$work/nginx/www" "$work/nginx2/" && chmod -R a+rX "$work/nginx2"
fl_start_cmd grpcpeer "$work/grpc" --port "$GRPC" -- "$PY" -u "$root/tests/integration/grpcpeer.py" server "$GRPC"
fl_start_postgres "$PG" "$work/pg"
fl_psql "$PG" "$work/pg" -c "CREATE TABLE t (id int, name text)" \
	-c "INSERT INTO t VALUES (1, 'one'), (2, 'two')" \
	-c "CREATE ROLE app LOGIN PASSWORD 'app-secret-pw'" -c "GRANT ALL ON t TO app"
sed -i 's/^host .*/host all postgres 127.0.0.1\/32 trust\nhost all app 127.0.0.1\/32 scram-sha-256/' \
	"$work/pg/data/pg_hba.conf"
fl_psql "$PG" "$work/pg" -c "SELECT pg_reload_conf()" >/dev/null
runuser -u postgres -- pgbench -q -i -s 1 -h "$work/pg" -p "$PG" -U postgres shop >/dev/null 2>&1
mkdir -p "$work/redis"
fl_start_cmd redis-server "$work/redis" --port "$REDIS" -- redis-server --bind 127.0.0.1 \
	--port "$REDIS" --save '' --appendonly no --dir "$work/redis" --daemonize no \
	--unixsocket "$work/redis/redis.sock" --unixsocketperm 700 --enable-debug-command yes
sleep 0.3
rsock=$work/redis/redis.sock

fl_start_mariadb "$MY" "$work/my"
fl_mariadb "$work/my" shop -e "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40));
	INSERT INTO t VALUES (1, 'one'), (2, 'two');
	CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(60));
	INSERT INTO items SELECT seq, CONCAT('item number ', seq, ' of the golden set') FROM seq_1_to_40;
	CREATE USER app@'127.0.0.1' IDENTIFIED BY 'app-secret-pw';
	GRANT ALL ON shop.* TO app@'127.0.0.1';"
printf 'DELIMITER //\nCREATE PROCEDURE two_results() BEGIN SELECT COUNT(*) FROM t; SELECT name FROM t WHERE id = 1; END//\n' |
	fl_mariadb "$work/my" shop
cc -O1 $(mariadb_config --cflags) "$root/tests/integration/myprep.c" $(mariadb_config --libs) \
	-o "$work/myprep"

U="http://127.0.0.1:$PROXY"
PGC="host=127.0.0.1 port=$PROXY dbname=shop"

# ---- HTTP ---------------------------------------------------------------------
rec http keepalive "$NGINX" curl -s -o /dev/null "$U/index.html" -o /dev/null \
	"$U/users/42/orders?token=secret"
rec http errors "$NGINX" curl -s -o /dev/null "$U/nosuch" -o /dev/null "$U/down/x" \
	-o /dev/null "$U/boom"
rec http chunked_gzip "$NGINX" curl -s --compressed -o /dev/null "$U/big.txt"
rec http chunked_trailer "$UPSTREAM_PORT" curl -s -o /dev/null "$U/chunked"
printf '{"name":"widget","secret":"s3cr3t"}\n' >"$work/body.json"
rec http chunked_request "$NGINX" curl -s -o /dev/null -H 'Transfer-Encoding: chunked' \
	--data-binary "@$work/body.json" "$U/upload"
rec http pipelined "$NGINX" "$PY" "$here/clients.py" http-pipelined "$PROXY"
rec http head "$NGINX" curl -s -o /dev/null -I "$U/index.html" --next -s -o /dev/null "$U/index.html"
rec http continue_100 "$UPSTREAM_PORT" curl -s -o /dev/null -H 'Expect: 100-continue' \
	--data-binary "@$work/body.json" "$U/upload"
ims=$(date -u +'%a, %d %b %Y %H:%M:%S GMT')
rec http no_body "$NGINX" curl -s -o /dev/null "$U/ping" --next -s -o /dev/null \
	-H "If-Modified-Since: $ims" "$U/index.html" --next -s -o /dev/null "$U/index.html"
rec http close_delimited "$UPSTREAM_PORT" curl -s -o /dev/null "$U/stream"
rec http upstream_503 "$UPSTREAM_PORT" curl -s -o /dev/null "$U/boom"
rec http truncated_body "$NGINX" curl -s -o /dev/null "$U/data.bin" -o /dev/null "$U/index.html"
rec http lost_request "$NGINX" curl -s -o /dev/null "$U/index.html" -o /dev/null \
	"$U/api/v1/items/9f86d081884c7d659a2feaa0c55ad015" -o /dev/null "$U/ping"

# ---- PostgreSQL -----------------------------------------------------------------
rec postgresql simple_query "$PG" psql -X "$PGC user=postgres sslmode=disable" -c "SELECT 1"
rec postgresql ssl_refused_scram "$PG" env PGPASSWORD=app-secret-pw \
	psql -X "$PGC user=app sslmode=prefer" -c "SELECT name FROM t WHERE id = 1"
rec postgresql error_42p01 "$PG" psql -X "$PGC user=postgres sslmode=disable" \
	-c "SELECT * FROM nosuch WHERE id = 42"
rec postgresql multi_statement "$PG" psql -X "$PGC user=postgres sslmode=disable" \
	-c "BEGIN; UPDATE t SET name = 'x' WHERE id = 1; COMMIT"
printf '10\tten\n11\televen\n' >"$work/copy.tsv"
rec_in "$work/copy.tsv" postgresql copy_in "$PG" psql -X "$PGC user=postgres sslmode=disable" \
	-c "COPY t (id, name) FROM STDIN"
rec postgresql copy_out "$PG" psql -X "$PGC user=postgres sslmode=disable" -c "COPY t TO STDOUT"
rec postgresql pgbench_extended "$PG" pgbench -n -M extended -t 1 -c 1 "$PGC user=postgres sslmode=disable"
rec postgresql pgbench_prepared "$PG" pgbench -n -S -M prepared -t 3 -c 1 "$PGC user=postgres sslmode=disable"
cat >"$work/pipeline.sql" <<'EOF'
\set aid random(1, 100000)
\startpipeline
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
SELECT count(*) FROM pgbench_branches;
\endpipeline
EOF
rec postgresql pgbench_pipeline "$PG" pgbench -n -M extended -t 2 -c 1 -f "$work/pipeline.sql" \
	"$PGC user=postgres sslmode=disable"
rec postgresql pipelined_syncs "$PG" "$PY" "$here/clients.py" pg-pipelined "$PROXY"

# ---- MySQL (MariaDB) ------------------------------------------------------------
MYC=(mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PROXY" -u app -papp-secret-pw shop)
rec mysql simple_query "$MY" "${MYC[@]}" -e "SELECT 1"
rec mysql error_42s02 "$MY" "${MYC[@]}" -e "SELECT * FROM nosuch WHERE id = 42"
rec mysql multi_row "$MY" "${MYC[@]}" -e "SELECT id, label FROM items WHERE id <= 30 AND label <> 'hunter2'"
rec mysql multi_results "$MY" "${MYC[@]}" -e "CALL two_results(); UPDATE t SET name = 'x' WHERE id = 2; SELECT name FROM t"
rec mysql prepared "$MY" "$work/myprep" "$PROXY" app app-secret-pw shop \
	"SELECT id, label FROM items WHERE id = ? OR label = ?" 3 canary-literal
rec mysql prepare_error "$MY" "$work/myprep" "$PROXY" app app-secret-pw shop \
	"SELECT * FROM nosuch WHERE id = ?" 1
printf "SELECT name FROM t WHERE id = 1\nSELECT * FROM nosuch\nINSERT INTO t VALUES (1, 'dup')\nSELECT id, label FROM items\n" \
	>"$work/mysql_py.txt"
rec_in "$work/mysql_py.txt" mysql pymysql "$MY" "$PY" "$here/clients.py" mysql-py "$PROXY" \
	app app-secret-pw shop

# ---- Redis ----------------------------------------------------------------------
rec redis pipelined "$REDIS" "$PY" "$here/clients.py" redis-pipelined "$PROXY"
printf 'RPUSH queue a b c\nXADD events 1-1 kind click\nXADD events 1-2 kind view\nXRANGE events - +\nMULTI\nLRANGE queue 0 -1\nINCR counter\nEXEC\nCONFIG GET maxmemory*\n' \
	>"$work/nested.txt"
rec_in "$work/nested.txt" redis nested_arrays "$REDIS" "$PY" "$here/clients.py" redis-seq "$PROXY"
printf 'HELLO 3\nHSET h f1 v1 f2 v2\nHGETALL h\nSMEMBERS nosuch\nDEBUG PROTOCOL map\nDEBUG PROTOCOL set\nDEBUG PROTOCOL double\nDEBUG PROTOCOL bignum\nDEBUG PROTOCOL true\nDEBUG PROTOCOL verbatim\nDEBUG PROTOCOL null\nGET nosuch\nDEBUG PROTOCOL attrib\nDEBUG PROTOCOL push\nPING\n' \
	>"$work/resp3.txt"
rec_in "$work/resp3.txt" redis resp3_types "$REDIS" "$PY" "$here/clients.py" redis-seq "$PROXY"
rec redis push "$REDIS" "$PY" "$here/clients.py" redis-push "$PROXY" "$rsock"
printf 'SET s text\nINCR s\nLPUSH s a\nNOSUCHCMD x\nMULTI\nINCR s\nBADCMD\nEXEC\nGET s\n' >"$work/errors.txt"
rec_in "$work/errors.txt" redis errors "$REDIS" "$PY" "$here/clients.py" redis-seq "$PROXY"
rec redis inline "$REDIS" "$PY" "$here/clients.py" redis-inline "$PROXY"
printf 'GET nosuch\nMGET s nosuch\nBLPOP nolist 0.01\nHGET h nofield\n' >"$work/nulls.txt"
rec_in "$work/nulls.txt" redis null_bulk "$REDIS" "$PY" "$here/clients.py" redis-seq "$PROXY"
rec redis big_bulk "$REDIS" "$PY" "$here/clients.py" redis-bigbulk "$PROXY"

# ---- HTTP/2 (nginx; curl, clients.py) -------------------------------------------
H2="curl -s --http2-prior-knowledge"
# a credential, a cookie and a query that must never reach a record
rec http2 curl_get "$NGINX2" $H2 -H 'Authorization: Bearer s3cr3t-t0ken' \
	-b 'session=c00kie-secret' -o /dev/null "$U/users/42/orders?token=secret"
rec http2 post_body "$NGINX2" $H2 -o /dev/null --data-binary "@$work/body.json" "$U/upload"
rec http2 big_body "$NGINX2" $H2 -o /dev/null "$U/data.bin"
rec http2 multiplexed "$NGINX2" "$PY" "$here/clients.py" h2-multiplexed "$PROXY"
rec http2 errors "$NGINX2" "$PY" "$here/clients.py" h2-sequential "$PROXY" /nosuch /down/x \
	/boom /index.html

# ---- gRPC (python3-grpcio at both ends) -------------------------------------------
G="$PY $root/tests/integration/grpcpeer.py client $PROXY"
rec grpc unary "$GRPC" $G SayHello:bob SayHello:alice
rec grpc error_status "$GRPC" $G SayHello:fail-1 SayHello:carol
rec grpc unimplemented "$GRPC" $G Nope:x SayHello:dave
rec grpc multiplexed "$GRPC" $G --parallel Slow:a Slow:b Slow:c SayHello:fail-2
