#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# postgres.sh PORT - PostgreSQL 15 for the estate: a cluster in
# $STACK_STATE_DIR/postgres/data (initdb'd on first start, owned by user
# postgres), listening on 127.0.0.1:PORT only, unix socket in
# $STACK_STATE_DIR/postgres, trust auth, fsync off. Execs the postmaster as
# user postgres (PostgreSQL refuses root), so the pid is the server's.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
port=${1:?usage: postgres.sh PORT}
pgbin=${FL_PG_BIN:-/usr/lib/postgresql/15/bin}
dir=$STACK_STATE_DIR/postgres
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
mkdir -p "$dir"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
if [ ! -s "$dir/data/PG_VERSION" ]; then
	"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	cat >"$dir/data/pg_hba.conf" <<-HBA
		local   all all              trust
		host    all all 127.0.0.1/32 trust
	HBA
fi
exec "${as_pg[@]}" "$pgbin/postgres" -D "$dir/data" -c port="$port" \
	-c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir" \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections=60 -c shared_buffers=32MB -c logging_collector=off
