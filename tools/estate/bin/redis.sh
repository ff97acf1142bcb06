#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# redis.sh NAME PORT - redis-server on 127.0.0.1:PORT without persistence,
# working dir and unix socket (for set-up that must not be TCP traffic) in
# $STACK_STATE_DIR/NAME. set-proc-title no keeps the process's environment
# (OTEL_SERVICE_NAME) readable in /proc/PID/environ.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
name=${1:?usage: redis.sh NAME PORT}
port=${2:?usage: redis.sh NAME PORT}
dir=$STACK_STATE_DIR/$name
mkdir -p "$dir"
exec redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	--dir "$dir" --daemonize no --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
	--set-proc-title no --logfile '' --loglevel notice
