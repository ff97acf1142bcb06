# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash disable=SC2034
#
# servers.sh - start real servers (PostgreSQL, Redis, nginx, any command) on
# 127.0.0.1 for tests and the demo, and stop every one of them again.
#
# Usage (bash only; source it, do not execute it):
#
#   . tools/lib/servers.sh
#   trap fl_stop_all EXIT          # ALWAYS: nothing outlives the caller
#   fl_start_postgres 15432 "$dir/pg"
#   fl_start_redis    16379 "$dir/redis"
#   FRONTEND_PORT=18081 fl_start_nginx 18080 "$dir/nginx" conf.in
#   fl_start_cmd api "$dir/api" --port 18081 -- \
#       env OTEL_SERVICE_NAME=api /usr/bin/python3 -u api.py
#
# Every fl_start_* returns only once the server accepts connections, or
# returns non-zero after a bounded wait (FL_WAIT_TIMEOUT seconds, default
# 30) with a one-line reason and the tail of the server's log on stderr. A
# server that dies while we wait is reported at once; one that fails to
# become ready is stopped at once. Functions never call
# `exit` and set no shell options, so they work under `set -euo pipefail`.
#
# Process registry: each started process is recorded as
# "pid start-time stop-signal name" in the bash array FL_PROCS and, when
# FL_PIDFILE is set, appended to that file as well. fl_stop_all stops them in
# reverse start order (stop signal, bounded wait FL_STOP_TIMEOUT seconds,
# default 15, then SIGKILL), reaps them, and is idempotent: calling it twice,
# from a trap, or from another shell that sets the same FL_PIDFILE (that is
# how `stack.sh stop` stops what `stack.sh start` started) is safe. The start
# time (from /proc/PID/stat) guards against signalling a recycled pid.
#
# Readiness without traffic: fl_wait_port checks that a socket LISTENs on the
# port (/proc/net/tcp{,6}) instead of connecting to it, so an observer of TCP
# traffic (faultline's agent) sees no probe connections. The kernel completes
# handshakes on a listening socket, so it accepts connections from that
# moment. Server-specific checks that need a real request (pg_isready, redis
# PING) go over the servers' unix sockets, which are not TCP either.
#
# Children are started with SIGINT/SIGTERM/SIGQUIT reset to their default
# disposition (a non-interactive bash starts background jobs with SIGINT
# ignored) and with stdin from /dev/null and stdout/stderr to a log file.
#
# Knobs (environment or shell variables):
#   FL_WAIT_TIMEOUT  seconds to wait for readiness            (30)
#   FL_STOP_TIMEOUT  seconds to wait after the stop signal    (15)
#   FL_PIDFILE       also record processes in this file       (unset)
#   FL_PG_BIN        PostgreSQL binaries      (/usr/lib/postgresql/15/bin)
#   FL_PG_USER       OS user that runs PostgreSQL             (postgres)
#   FL_PG_OPTS       extra postgres arguments, split on blanks (unset), e.g.
#                    "-c ssl=on -c ssl_cert_file=F -c ssl_key_file=K"
#   FL_NGINX         nginx binary                             (nginx)
#   FL_REDIS_SERVER, FL_REDIS_CLI                              (redis-server, redis-cli)
#   FL_MARIADBD, FL_MYSQL_USER   MariaDB server and its OS user (/usr/sbin/mariadbd, mysql)

FL_PROCS=(${FL_PROCS[@]+"${FL_PROCS[@]}"})
: "${FL_WAIT_TIMEOUT:=30}"
: "${FL_STOP_TIMEOUT:=15}"
: "${FL_PG_BIN:=/usr/lib/postgresql/15/bin}"
: "${FL_PG_USER:=postgres}"
: "${FL_NGINX:=nginx}"
: "${FL_REDIS_SERVER:=redis-server}"
: "${FL_REDIS_CLI:=redis-cli}"
: "${FL_MARIADBD:=/usr/sbin/mariadbd}"
: "${FL_MYSQL_USER:=mysql}"

_fl_err() { printf 'servers.sh: %s\n' "$*" >&2; }

# _fl_starttime PID: field 22 of /proc/PID/stat (clock ticks since boot);
# empty and non-zero when the process is gone or a zombie.
_fl_starttime() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }			# comm may contain spaces or ')'
	# shellcheck disable=SC2086
	set -- $rest				# $1 = state (field 3)
	[ "$1" != Z ] && [ "$1" != X ] || return 1
	shift 19				# field 22 is the 20th after comm
	printf '%s\n' "$1"
}

_fl_alive() { _fl_starttime "$1" >/dev/null; }

# _fl_register PID SIGNAL NAME
_fl_register() {
	local st line
	st=$(_fl_starttime "$1") || st=0
	line="$1 $st $2 $3"
	FL_PROCS+=("$line")
	if [ -n "${FL_PIDFILE:-}" ]; then
		printf '%s\n' "$line" >>"$FL_PIDFILE"
	fi
}

_fl_tail_log() {
	if [ -s "$1" ]; then
		printf -- '--- last lines of %s ---\n' "$1" >&2
		tail -n "${2:-15}" "$1" >&2
		printf -- '---\n' >&2
	fi
}

# _fl_listening PORT: true if some socket LISTENs on TCP PORT (any address).
_fl_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p="$hex" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == p) f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

_fl_check_port_num() {
	case "$1" in
	'' | *[!0-9]*) _fl_err "bad port '$1'"; return 2 ;;
	esac
	if [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
		_fl_err "bad port '$1'"; return 2
	fi
}

# _fl_port_free PORT: error if something already listens there (we would
# otherwise take a stranger for our server).
_fl_port_free() {
	_fl_check_port_num "$1" || return
	if _fl_listening "$1"; then
		_fl_err "port $1 is already in use on this host (a server left running? see: ss -ltnp 'sport = :$1')"
		return 1
	fi
}

# fl_wait_port PORT [TIMEOUT] - wait until a socket listens on 127.0.0.1:PORT
# (or a wildcard address). Returns 1 after TIMEOUT seconds (default
# FL_WAIT_TIMEOUT). With FL_WAIT_PID set, also fails as soon as that process
# has exited (FL_WAIT_LOG names a log to show then).
fl_wait_port() {
	local port=$1 timeout=${2:-$FL_WAIT_TIMEOUT} deadline
	_fl_check_port_num "$port" || return
	deadline=$((SECONDS + timeout))
	while ! _fl_listening "$port"; do
		if [ -n "${FL_WAIT_PID:-}" ] && ! _fl_alive "$FL_WAIT_PID"; then
			_fl_err "process $FL_WAIT_PID exited before listening on port $port"
			[ -n "${FL_WAIT_LOG:-}" ] && _fl_tail_log "$FL_WAIT_LOG"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			_fl_err "nothing listens on 127.0.0.1:$port after ${timeout}s"
			[ -n "${FL_WAIT_LOG:-}" ] && _fl_tail_log "$FL_WAIT_LOG"
			return 1
		fi
		sleep 0.05
	done
}

# _fl_wait_until TIMEOUT PID LOG WHAT CMD... - poll CMD until it succeeds.
_fl_wait_until() {
	local timeout=$1 pid=$2 log=$3 what=$4 deadline
	shift 4
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ -n "$pid" ] && ! _fl_alive "$pid"; then
			_fl_err "$what: process $pid exited while starting"
			_fl_tail_log "$log"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			_fl_err "$what: not ready after ${timeout}s"
			_fl_tail_log "$log"
			return 1
		fi
		sleep 0.05
	done
}

# _fl_spawn LOG CMD... - start CMD in the background with default signal
# dispositions, stdin /dev/null, stdout+stderr appended to LOG; pid in
# _FL_SPAWNED.
_fl_spawn() {
	local log=$1
	shift
	env --default-signal=INT,TERM,QUIT,HUP "$@" </dev/null >>"$log" 2>&1 &
	_FL_SPAWNED=$!
}

# _fl_abort PID... - stop processes of a start that failed, at once (they
# stay in the registry; stopping again later is a no-op).
_fl_abort() {
	local pid line
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		line=$(printf '%s\n' ${FL_PROCS[@]+"${FL_PROCS[@]}"} | awk -v p="$pid" '$1 == p' | tail -n1)
		if [ -n "$line" ]; then
			# shellcheck disable=SC2086
			_fl_stop_one $line
		fi
	done
	return 0
}

# fl_start_cmd NAME DIR [--port PORT] [--signal SIG] [--timeout S]
#              [--ready-file FILE --ready-text TEXT] [--] CMD...
# Start CMD in the background with its output in DIR/NAME.log. With --port,
# wait until it listens on PORT; with --ready-text, wait until that text
# appears in FILE (default: the log). --signal is the stop signal (TERM).
# The process is stopped by fl_stop_all. Prints nothing on success; the pid
# is left in FL_LAST_PID.
fl_start_cmd() {
	if [ $# -lt 3 ]; then
		_fl_err "usage: fl_start_cmd NAME DIR [--port PORT] [--signal SIG] [--timeout S] [--ready-text TEXT [--ready-file F]] [--] CMD..."
		return 2
	fi
	local name=$1 dir=$2 port='' sig=TERM timeout=$FL_WAIT_TIMEOUT
	local rtext='' rfile='' log pid
	shift 2
	while [ $# -gt 0 ]; do
		case "$1" in
		--port) port=$2; shift 2 ;;
		--signal) sig=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--ready-text) rtext=$2; shift 2 ;;
		--ready-file) rfile=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	if [ $# -eq 0 ]; then
		_fl_err "fl_start_cmd $name: no command given"
		return 2
	fi
	if [ -n "$port" ]; then
		_fl_port_free "$port" || return
	fi
	mkdir -p "$dir" || return
	log=$dir/$name.log
	: >>"$log"
	_fl_spawn "$log" "$@"
	pid=$_FL_SPAWNED
	_fl_register "$pid" "$sig" "$name"
	FL_LAST_PID=$pid
	if [ -n "$port" ]; then
		FL_WAIT_PID=$pid FL_WAIT_LOG=$log fl_wait_port "$port" "$timeout" ||
			{ _fl_err "$name did not start (log: $log)"; _fl_abort "$pid"; return 1; }
	fi
	if [ -n "$rtext" ]; then
		_fl_wait_until "$timeout" "$pid" "$log" "$name" \
			grep -qF -- "$rtext" "${rfile:-$log}" ||
			{ _fl_err "$name did not start (log: $log)"; _fl_abort "$pid"; return 1; }
	fi
	if ! _fl_alive "$pid"; then
		_fl_err "$name exited right after starting (log: $log)"
		_fl_tail_log "$log"
		return 1
	fi
}

# fl_start_postgres PORT DIR - a fresh cluster in DIR/data (owned by
# FL_PG_USER), trust auth for local sockets and 127.0.0.1, listening on
# 127.0.0.1:PORT only, unix socket in DIR, fsync off, every statement logged
# (log_statement=all) to DIR/pg.log, database `shop` created. FL_PG_OPTS, if
# set, is added to the postgres command line (files it names must be
# readable by FL_PG_USER; a key file must also be 0600).
# Connect with: psql -h DIR -p PORT -U postgres shop (unix socket, not TCP),
# or fl_psql PORT DIR [psql args].
fl_start_postgres() {
	if [ $# -ne 2 ]; then _fl_err "usage: fl_start_postgres PORT DIR"; return 2; fi
	local port=$1 dir=$2 pid='' rpid log data i
	local -a opts=()
	_fl_port_free "$port" || return
	[ -z "${FL_PG_OPTS:-}" ] || read -r -a opts <<<"$FL_PG_OPTS"
	if [ ! -x "$FL_PG_BIN/postgres" ]; then
		_fl_err "PostgreSQL not found in FL_PG_BIN=$FL_PG_BIN (apt-get install postgresql)"
		return 1
	fi
	if ! id -u "$FL_PG_USER" >/dev/null 2>&1; then
		_fl_err "no OS user '$FL_PG_USER' to run PostgreSQL as"; return 1
	fi
	mkdir -p "$dir" || return
	dir=$(cd "$dir" && pwd) || return
	data=$dir/data
	log=$dir/pg.log
	if [ -e "$data" ]; then
		_fl_err "fl_start_postgres: $data already exists; give a fresh DIR"
		return 1
	fi
	if [ "${#dir}" -gt 80 ]; then
		_fl_err "fl_start_postgres: DIR path too long for a unix socket: $dir"
		return 1
	fi
	chown "$FL_PG_USER:" "$dir" || return
	if ! runuser -u "$FL_PG_USER" -- test -w "$dir" -a -x "$dir"; then
		_fl_err "user $FL_PG_USER cannot use $dir: make every parent directory traversable (chmod 755)"
		return 1
	fi
	if ! runuser -u "$FL_PG_USER" -- "$FL_PG_BIN/initdb" -D "$data" -U postgres \
		-A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
		_fl_err "initdb failed (log: $dir/initdb.log)"
		_fl_tail_log "$dir/initdb.log"
		return 1
	fi
	cat >"$data/pg_hba.conf" <<-EOF
		# written by tools/lib/servers.sh
		local   all all              trust
		host    all all 127.0.0.1/32 trust
	EOF
	cat >>"$data/postgresql.conf" <<-EOF

		# --- tools/lib/servers.sh ---
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$dir'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		logging_collector = off
		log_destination = 'stderr'
		log_statement = 'all'
		log_connections = on
		log_disconnections = on
		log_line_prefix = '%m [%p] %r %a: '
		max_connections = 50
		shared_buffers = 32MB
	EOF
	: >"$log" && chown "$FL_PG_USER:" "$log" || return
	_fl_spawn "$log" runuser -u "$FL_PG_USER" -- "$FL_PG_BIN/postgres" -D "$data" \
		${opts[@]+"${opts[@]}"}
	rpid=$_FL_SPAWNED
	# runuser stays as the watching parent of the postmaster: record it
	# first so that the postmaster (recorded next) is stopped first.
	_fl_register "$rpid" TERM postgres-runuser
	# postmaster.pid: line 1 pid, line 8 status ("ready" once accepting)
	_fl_wait_until "$FL_WAIT_TIMEOUT" "$rpid" "$log" "postgres on port $port" \
		grep -qx 'ready *' "$data/postmaster.pid" || { _fl_abort "$rpid"; return 1; }
	pid=$(head -n1 "$data/postmaster.pid")
	_fl_register "$pid" INT postgres	# SIGINT = fast shutdown
	FL_LAST_PID=$pid
	FL_WAIT_PID=$pid FL_WAIT_LOG=$log fl_wait_port "$port" || { _fl_abort "$pid" "$rpid"; return 1; }
	_fl_wait_until "$FL_WAIT_TIMEOUT" "$pid" "$log" "postgres on port $port" \
		"$FL_PG_BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres -d postgres ||
		{ _fl_abort "$pid" "$rpid"; return 1; }
	for i in 1 2 3; do
		if runuser -u "$FL_PG_USER" -- "$FL_PG_BIN/createdb" -h "$dir" -p "$port" \
			-U postgres shop >>"$dir/initdb.log" 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	_fl_err "createdb shop failed (log: $dir/initdb.log)"
	_fl_tail_log "$dir/initdb.log"
	_fl_abort "$pid" "$rpid"
	return 1
}

# fl_psql PORT DIR [psql args...] - psql as user postgres over the unix socket
# of the cluster that fl_start_postgres PORT DIR started (no TCP traffic).
# Default database: shop. Stops at the first error.
fl_psql() {
	local port=$1 dir=$2
	shift 2
	PGAPPNAME=fl_psql "$FL_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-h "$dir" -p "$port" -U postgres -d shop "$@"
}

# fl_start_redis PORT DIR - redis-server on 127.0.0.1:PORT without
# persistence (--save '' --appendonly no), working dir, log and a unix socket
# (DIR/redis.sock, for admin commands that must not show up as TCP traffic)
# in DIR.
fl_start_redis() {
	if [ $# -ne 2 ]; then _fl_err "usage: fl_start_redis PORT DIR"; return 2; fi
	local port=$1 dir=$2 pid log
	_fl_port_free "$port" || return
	if ! command -v "$FL_REDIS_SERVER" >/dev/null; then
		_fl_err "$FL_REDIS_SERVER not found (apt-get install redis-server)"; return 1
	fi
	mkdir -p "$dir" || return
	dir=$(cd "$dir" && pwd) || return
	log=$dir/redis.log
	: >>"$log"
	_fl_spawn "$log" "$FL_REDIS_SERVER" --bind 127.0.0.1 --port "$port" \
		--save '' --appendonly no --dir "$dir" --daemonize no \
		--unixsocket "$dir/redis.sock" --unixsocketperm 700 \
		--logfile '' --loglevel notice --databases 16
	pid=$_FL_SPAWNED
	_fl_register "$pid" TERM redis-server
	FL_LAST_PID=$pid
	FL_WAIT_PID=$pid FL_WAIT_LOG=$log fl_wait_port "$port" || { _fl_abort "$pid"; return 1; }
	_fl_wait_until "$FL_WAIT_TIMEOUT" "$pid" "$log" "redis on port $port" \
		_fl_redis_ping "$dir/redis.sock" || { _fl_abort "$pid"; return 1; }
}

_fl_redis_ping() { [ "$("$FL_REDIS_CLI" -s "$1" ping 2>/dev/null)" = PONG ]; }

# fl_redis_cli DIR [args...] - redis-cli over the unix socket of the server
# that fl_start_redis started in DIR (no TCP traffic).
fl_redis_cli() {
	local dir=$1
	shift
	"$FL_REDIS_CLI" -s "$dir/redis.sock" "$@"
}

# fl_start_mariadb PORT DIR - a fresh MariaDB datadir in DIR/data (made by
# mariadb-install-db, owned by FL_MYSQL_USER), listening on 127.0.0.1:PORT
# only, unix socket DIR/mysqld.sock, no binary log, no TLS, error log
# DIR/mariadb.log, database `shop` created. root logs in over the unix
# socket only (unix_socket authentication, as the OS root): use
# fl_mariadb DIR [mariadb args] for set-up that must not be TCP traffic.
fl_start_mariadb() {
	if [ $# -ne 2 ]; then _fl_err "usage: fl_start_mariadb PORT DIR"; return 2; fi
	local port=$1 dir=$2 pid log data
	_fl_port_free "$port" || return
	if [ ! -x "$FL_MARIADBD" ] || ! command -v mariadb-install-db >/dev/null; then
		_fl_err "MariaDB not found (apt-get install mariadb-server mariadb-client)"
		return 1
	fi
	if ! id -u "$FL_MYSQL_USER" >/dev/null 2>&1; then
		_fl_err "no OS user '$FL_MYSQL_USER' to run MariaDB as"; return 1
	fi
	mkdir -p "$dir" || return
	dir=$(cd "$dir" && pwd) || return
	data=$dir/data
	log=$dir/mariadb.log
	if [ -e "$data" ]; then
		_fl_err "fl_start_mariadb: $data already exists; give a fresh DIR"
		return 1
	fi
	chown "$FL_MYSQL_USER:" "$dir" || return
	if ! runuser -u "$FL_MYSQL_USER" -- test -w "$dir" -a -x "$dir"; then
		_fl_err "user $FL_MYSQL_USER cannot use $dir: make every parent directory traversable (chmod 755)"
		return 1
	fi
	if ! mariadb-install-db --no-defaults --user="$FL_MYSQL_USER" --datadir="$data" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"$dir/install-db.log" 2>&1; then
		_fl_err "mariadb-install-db failed (log: $dir/install-db.log)"
		_fl_tail_log "$dir/install-db.log"
		return 1
	fi
	: >"$log" && chown "$FL_MYSQL_USER:" "$log" || return
	_fl_spawn "$log" "$FL_MARIADBD" --no-defaults --user="$FL_MYSQL_USER" \
		--datadir="$data" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
		--port="$port" --bind-address=127.0.0.1 --log-error="$log" --skip-log-bin \
		--skip-name-resolve --innodb-buffer-pool-size=32M --max-connections=50
	pid=$_FL_SPAWNED
	_fl_register "$pid" TERM mariadbd
	FL_LAST_PID=$pid
	FL_WAIT_PID=$pid FL_WAIT_LOG=$log fl_wait_port "$port" || { _fl_abort "$pid"; return 1; }
	_fl_wait_until "$FL_WAIT_TIMEOUT" "$pid" "$log" "mariadb on port $port" \
		fl_mariadb "$dir" -e "CREATE DATABASE IF NOT EXISTS shop" ||
		{ _fl_abort "$pid"; return 1; }
}

# fl_mariadb DIR [mariadb args...] - the mariadb client as root over the unix
# socket of the server that fl_start_mariadb started in DIR (no TCP traffic).
fl_mariadb() {
	local dir=$1
	shift
	mariadb --no-defaults -S "$dir/mysqld.sock" -u root "$@"
}

# _fl_render TEMPLATE OUT PORT DIR - replace @PORT@, @DIR@ and every other
# @NAME@ (NAME: [A-Z][A-Z0-9_]*) by the value of the shell variable NAME.
# An unset NAME is an error.
_fl_render() {
	local tpl=$1 out=$2 text name val
	text=$(cat "$tpl") || return
	text=${text//@PORT@/$3}
	text=${text//@DIR@/$4}
	for name in $(grep -o '@[A-Z][A-Z0-9_]*@' <<<"$text" | sort -u | tr -d @); do
		if [ -z "${!name+x}" ]; then
			_fl_err "template $tpl uses @$name@ but \$$name is not set"
			return 1
		fi
		val=${!name}
		text=${text//@$name@/$val}
	done
	printf '%s\n' "$text" >"$out"
}

# fl_start_nginx PORT DIR CONF_TEMPLATE - render CONF_TEMPLATE to
# DIR/nginx.conf (@PORT@, @DIR@, and @NAME@ for any set shell variable NAME,
# e.g. `FRONTEND_PORT=18081 fl_start_nginx ...`), check it with nginx -t and
# run nginx in the foreground (`daemon off`, prefix DIR, early error log
# DIR/error.log, pid DIR/nginx.pid unless the template sets `pid`). The
# template must not set `daemon`; it should set worker_processes 1, error_log
# and access_log inside @DIR@, and the *_temp_path directives inside @DIR@
# (DIR/tmp is created). When run as root, the workers run as nobody: files
# nginx serves must be world-readable and their directories traversable.
fl_start_nginx() {
	if [ $# -ne 3 ]; then _fl_err "usage: fl_start_nginx PORT DIR CONF_TEMPLATE"; return 2; fi
	local port=$1 dir=$2 tpl=$3 pid log conf globals
	_fl_port_free "$port" || return
	if [ ! -r "$tpl" ]; then _fl_err "nginx template $tpl not readable"; return 1; fi
	if ! command -v "$FL_NGINX" >/dev/null; then
		_fl_err "$FL_NGINX not found (apt-get install nginx-light)"; return 1
	fi
	mkdir -p "$dir/tmp" || return
	dir=$(cd "$dir" && pwd) || return
	conf=$dir/nginx.conf
	log=$dir/nginx.log
	: >>"$log"
	_fl_render "$tpl" "$conf" "$port" "$dir" || return
	if grep -Eq '^[[:space:]]*daemon[[:space:]]' "$conf"; then
		_fl_err "nginx template $tpl must not set 'daemon' (fl_start_nginx runs it with daemon off)"
		return 1
	fi
	globals='daemon off;'
	grep -Eq '^[[:space:]]*pid[[:space:]]' "$conf" || globals="$globals pid $dir/nginx.pid;"
	if ! "$FL_NGINX" -t -q -p "$dir/" -c "$conf" -e "$dir/error.log" -g "$globals" >>"$log" 2>&1; then
		_fl_err "nginx -t rejected $conf (log: $log)"
		_fl_tail_log "$log"
		return 1
	fi
	_fl_spawn "$log" "$FL_NGINX" -p "$dir/" -c "$conf" -e "$dir/error.log" -g "$globals"
	pid=$_FL_SPAWNED
	_fl_register "$pid" TERM nginx
	FL_LAST_PID=$pid
	FL_WAIT_PID=$pid FL_WAIT_LOG=$dir/error.log fl_wait_port "$port" || { _fl_abort "$pid"; return 1; }
}

# _fl_descendants PID - "pid starttime" of every descendant of PID.
_fl_descendants() {
	local p kids st
	kids=$(ps -e -o pid=,ppid= 2>/dev/null | awk -v p="$1" '$2 == p { print $1 }')
	for p in $kids; do
		st=$(_fl_starttime "$p") || continue
		printf '%s %s\n' "$p" "$st"
		_fl_descendants "$p"
	done
}

# _fl_stop_one PID STARTTIME SIGNAL NAME - stop signal, bounded wait, then
# SIGKILL; descendants that outlive it (a wrapper script's children) are
# stopped too, so nothing is left behind.
_fl_stop_one() {
	local pid=$1 st=$2 sig=$3 name=$4 cur deadline kids d dst
	cur=$(_fl_starttime "$pid") || { wait "$pid" 2>/dev/null || true; return 0; }
	if [ "$cur" != "$st" ]; then
		# pid recycled (or the process had already exited when it was
		# registered, st=0): not ours, leave it alone
		return 0
	fi
	kids=$(_fl_descendants "$pid")
	kill -s "$sig" "$pid" 2>/dev/null || true
	deadline=$((SECONDS + FL_STOP_TIMEOUT))
	while _fl_alive "$pid"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			_fl_err "$name (pid $pid) ignored SIG$sig for ${FL_STOP_TIMEOUT}s: SIGKILL"
			kill -s KILL "$pid" 2>/dev/null || true
			sleep 0.1
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true		# reap if it is our child
	# leftovers: descendants (same start time) still alive
	while read -r d dst; do
		[ -n "$d" ] || continue
		if [ "$(_fl_starttime "$d")" = "$dst" ]; then
			kill -s TERM "$d" 2>/dev/null || true
			sleep 0.2
			if [ "$(_fl_starttime "$d")" = "$dst" ]; then
				kill -s KILL "$d" 2>/dev/null || true
			fi
		fi
	done <<<"$kids"
	return 0
}

# fl_stop_all - stop every process started through this file (this shell's
# registry plus FL_PIDFILE's, if set), newest first. Idempotent; always
# returns 0 so it is safe in `trap fl_stop_all EXIT` under `set -e`.
fl_stop_all() {
	local -a all=()
	local line i seen=' ' pid
	all=(${FL_PROCS[@]+"${FL_PROCS[@]}"})
	if [ -n "${FL_PIDFILE:-}" ] && [ -r "$FL_PIDFILE" ]; then
		while IFS= read -r line; do
			[ -n "$line" ] && all+=("$line")
		done <"$FL_PIDFILE"
	fi
	for ((i = ${#all[@]} - 1; i >= 0; i--)); do
		# shellcheck disable=SC2086
		set -- ${all[i]}
		pid=$1
		case "$seen" in *" $pid "*) continue ;; esac
		seen="$seen$pid "
		[ $# -ge 4 ] && _fl_stop_one "$@"
	done
	FL_PROCS=()
	if [ -n "${FL_PIDFILE:-}" ] && [ -e "$FL_PIDFILE" ]; then
		rm -f "$FL_PIDFILE"
	fi
	return 0
}

# fl_list - print the registry (pid, alive|gone, name), for diagnostics.
fl_list() {
	local line
	{
		printf '%s\n' ${FL_PROCS[@]+"${FL_PROCS[@]}"}
		if [ -n "${FL_PIDFILE:-}" ] && [ -r "$FL_PIDFILE" ]; then
			cat "$FL_PIDFILE"
		fi
	} | sort -u -k1,1n | while read -r line; do
		[ -n "$line" ] || continue
		# shellcheck disable=SC2086
		set -- $line
		if _fl_alive "$1" && [ "$(_fl_starttime "$1")" = "$2" ]; then
			printf '%-8s %-6s %s\n' "$1" alive "$4"
		else
			printf '%-8s %-6s %s\n' "$1" gone "$4"
		fi
	done
	return 0
}

# fl_lock_host: wait for, then hold until the caller exits, the host-wide
# lock that serialises everything that loads the collector or makes loopback
# traffic (integration suites, the demo, the benchmark, golden captures).
# The agent sees every TCP connection on the host, so two such runs at once
# would each find the other's edges. FL_HOST_LOCK names the lock file.
fl_lock_host() {
	local lock=${FL_HOST_LOCK:-/run/lock/faultline-host.lock}
	mkdir -p "$(dirname "$lock")" || return 1
	exec 9>"$lock" || return 1
	if ! flock -n 9; then
		echo "waiting for $lock (another faultline run holds it)" >&2
		flock 9 || return 1
	fi
}
