#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mariadb.sh PORT - MariaDB for the estate: a datadir in
# $STACK_STATE_DIR/mariadb/data (mariadb-install-db on first start),
# 127.0.0.1:PORT only, unix socket $STACK_STATE_DIR/mariadb/mysqld.sock, no
# binary log. mariadbd refuses to run as root: it is exec'd with
# --user=mysql (it drops privileges itself), so the pid is the server's.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
port=${1:?usage: mariadb.sh PORT}
dir=$STACK_STATE_DIR/mariadb
user=${FL_MYSQL_USER:-mysql}
mkdir -p "$dir"
[ "$(id -u)" -ne 0 ] || chown "$user:" "$dir"
if [ ! -d "$dir/data/mysql" ]; then
	mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"$dir/install-db.log" 2>&1 || { cat "$dir/install-db.log" >&2; exit 1; }
fi
exec /usr/sbin/mariadbd --no-defaults --user="$user" --datadir="$dir/data" \
	--socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --port="$port" \
	--bind-address=127.0.0.1 --skip-log-bin --skip-name-resolve \
	--innodb-buffer-pool-size=32M --max-connections=60 --log-error="$dir/mariadb.log"
