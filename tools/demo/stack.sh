#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# stack.sh start|stop|status WORKDIR - the faultline demo "shop" on loopback.
#
#   loadgen --> nginx :18080 --/api/--> frontend :18081 --> catalog :18082 --> postgres :15432 (db shop)
#               (serves /static/)                        \-> cart    :18083 --> redis    :16379
#
# start: PostgreSQL (fresh cluster in WORKDIR/postgres, seeded with seed.sql
#        over the unix socket), Redis (WORKDIR/redis; a `redis-cli MONITOR`
#        over the unix socket records every command in
#        WORKDIR/redis/monitor.log), the Python services catalog, cart and
#        frontend (logs in WORKDIR/services/NAME.log, OTEL_SERVICE_NAME=NAME),
#        nginx (WORKDIR/nginx, access log WORKDIR/nginx/access.log). Returns
#        once everything accepts connections; on any failure it stops what it
#        started and exits non-zero. No TCP connection is made to any server
#        while starting (readiness = listening socket, admin over unix
#        sockets), so an observer sees only the traffic you send.
# stop:  saves Redis' INFO commandstats/errorstats to WORKDIR/redis/, then
#        stops everything start started (pids in WORKDIR/stack.pids).
#        Idempotent.
# status: lists the processes and whether they are alive.
#
# Root is needed (PostgreSQL runs as user postgres via runuser). Ports can be
# moved with FL_DEMO_{NGINX,FRONTEND,CATALOG,CART,PG,REDIS}_PORT.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/servers.sh
. "$HERE/../lib/servers.sh"

PY=${FL_PYTHON:-/usr/bin/python3}
NGINX_PORT=${FL_DEMO_NGINX_PORT:-18080}
FRONTEND_PORT=${FL_DEMO_FRONTEND_PORT:-18081}
CATALOG_PORT=${FL_DEMO_CATALOG_PORT:-18082}
CART_PORT=${FL_DEMO_CART_PORT:-18083}
PG_PORT=${FL_DEMO_PG_PORT:-15432}
REDIS_PORT=${FL_DEMO_REDIS_PORT:-16379}
MONITOR=${FL_DEMO_MONITOR:-1}

usage() {
	echo "usage: $0 start|stop|status WORKDIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
WORKDIR=$2
[ -n "$WORKDIR" ] || usage

say() { printf 'stack: %s\n' "$*"; }

start() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "stack: must run as root (PostgreSQL is run as user postgres)" >&2
		exit 2
	fi
	if [ ! -x "$PY" ] || ! "$PY" -c 'import psycopg2, redis' 2>/dev/null; then
		echo "stack: $PY lacks psycopg2/redis (apt-get install python3-psycopg2 python3-redis)" >&2
		exit 2
	fi
	mkdir -p "$WORKDIR"
	WORKDIR=$(cd "$WORKDIR" && pwd)
	export FL_PIDFILE=$WORKDIR/stack.pids
	if [ -s "$FL_PIDFILE" ] && fl_list | grep -q ' alive '; then
		echo "stack: a stack is already running from $WORKDIR (stop it first):" >&2
		fl_list >&2
		exit 1
	fi
	rm -f "$FL_PIDFILE"
	# postgres and nginx's workers (nobody) must reach files in here
	chmod 755 "$WORKDIR"
	if ! runuser -u nobody -- test -x "$WORKDIR"; then
		echo "stack: $WORKDIR is not reachable by other users; use a WORKDIR whose parents are chmod 755 (e.g. under /tmp)" >&2
		exit 1
	fi

	STARTED=0
	trap '[ "$STARTED" = 1 ] || { echo "stack: start failed, stopping what was started" >&2; fl_stop_all; }' EXIT

	say "postgres :$PG_PORT  ($WORKDIR/postgres)"
	fl_start_postgres "$PG_PORT" "$WORKDIR/postgres"
	fl_psql "$PG_PORT" "$WORKDIR/postgres" -f "$HERE/seed.sql"

	say "redis    :$REDIS_PORT  ($WORKDIR/redis)"
	fl_start_redis "$REDIS_PORT" "$WORKDIR/redis"
	if [ "$MONITOR" = 1 ]; then
		# MONITOR over the unix socket: records every command of every
		# client; replies "OK" once attached
		fl_start_cmd redis-monitor "$WORKDIR/redis" --ready-text OK \
			--ready-file "$WORKDIR/redis/monitor.log" -- \
			sh -c 'exec "$0" -s "$1" monitor >"$2"' \
			"$FL_REDIS_CLI" "$WORKDIR/redis/redis.sock" "$WORKDIR/redis/monitor.log"
	fi

	local svc="$HERE/services"
	say "catalog  :$CATALOG_PORT  ($WORKDIR/services/catalog.log)"
	fl_start_cmd catalog "$WORKDIR/services" --port "$CATALOG_PORT" -- \
		env OTEL_SERVICE_NAME=catalog "$PY" -u "$svc/catalog.py" \
		--port "$CATALOG_PORT" --pg-port "$PG_PORT"
	say "cart     :$CART_PORT  ($WORKDIR/services/cart.log)"
	fl_start_cmd cart "$WORKDIR/services" --port "$CART_PORT" -- \
		env OTEL_SERVICE_NAME=cart "$PY" -u "$svc/cart.py" \
		--port "$CART_PORT" --redis-port "$REDIS_PORT"
	say "frontend :$FRONTEND_PORT  ($WORKDIR/services/frontend.log)"
	fl_start_cmd frontend "$WORKDIR/services" --port "$FRONTEND_PORT" -- \
		env OTEL_SERVICE_NAME=frontend "$PY" -u "$svc/frontend.py" \
		--port "$FRONTEND_PORT" --catalog "127.0.0.1:$CATALOG_PORT" \
		--cart "127.0.0.1:$CART_PORT"

	say "nginx    :$NGINX_PORT  ($WORKDIR/nginx)"
	mkdir -p "$WORKDIR/nginx/www/static"
	install -m 0644 "$HERE"/static/* "$WORKDIR/nginx/www/static/"
	chmod 755 "$WORKDIR/nginx" "$WORKDIR/nginx/www" "$WORKDIR/nginx/www/static"
	FRONTEND_PORT=$FRONTEND_PORT fl_start_nginx "$NGINX_PORT" "$WORKDIR/nginx" "$HERE/nginx.conf.in"

	STARTED=1
	say "up: http://127.0.0.1:$NGINX_PORT/  (stop: $0 stop $WORKDIR)"
}

stop() {
	[ -d "$WORKDIR" ] || { say "no $WORKDIR: nothing to stop"; return 0; }
	export FL_PIDFILE=$WORKDIR/stack.pids
	if [ -S "$WORKDIR/redis/redis.sock" ]; then
		fl_redis_cli "$WORKDIR/redis" info commandstats >"$WORKDIR/redis/commandstats.txt" 2>/dev/null || true
		fl_redis_cli "$WORKDIR/redis" info errorstats >"$WORKDIR/redis/errorstats.txt" 2>/dev/null || true
	fi
	fl_stop_all
	say "stopped ($WORKDIR)"
}

case "$cmd" in
start) start ;;
stop) stop ;;
status)
	export FL_PIDFILE=$WORKDIR/stack.pids
	fl_list
	;;
*) usage ;;
esac
