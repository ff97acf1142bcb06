#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# seed-postgres.sh PORT - (re)create database shop from seed/shop-pg.sql over
# the unix socket of bin/postgres.sh's cluster (no TCP traffic).
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
port=${1:?usage: seed-postgres.sh PORT}
here=$(cd "$(dirname "$0")/.." && pwd)
pgbin=${FL_PG_BIN:-/usr/lib/postgresql/15/bin}
psql() { PGAPPNAME=estate-seed "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 \
	-h "$STACK_STATE_DIR/postgres" -p "$port" -U postgres "$@"; }
for _ in $(seq 200); do
	"$pgbin/pg_isready" -q -h "$STACK_STATE_DIR/postgres" -p "$port" -U postgres -d postgres && break
	sleep 0.1
done
psql -d postgres -c 'DROP DATABASE IF EXISTS shop' -c 'CREATE DATABASE shop'
psql -d shop -f "$here/seed/shop-pg.sql"
