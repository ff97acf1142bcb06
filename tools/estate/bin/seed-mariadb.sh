#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# seed-mariadb.sh - (re)create database shop and its user from
# seed/shop-mariadb.sql over the unix socket of bin/mariadb.sh's server.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
here=$(cd "$(dirname "$0")/.." && pwd)
for _ in $(seq 200); do
	mariadb --no-defaults -S "$STACK_STATE_DIR/mariadb/mysqld.sock" -u root -e 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.1
done
mariadb --no-defaults -S "$STACK_STATE_DIR/mariadb/mysqld.sock" -u root <"$here/seed/shop-mariadb.sql"
