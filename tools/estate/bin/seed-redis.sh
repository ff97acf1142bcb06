#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# seed-redis.sh NAME FIXTURE - FLUSHALL, then the commands of FIXTURE (one a
# line, redis-cli syntax) over the unix socket of bin/redis.sh NAME.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
name=${1:?usage: seed-redis.sh NAME FIXTURE}
fixture=${2:?usage: seed-redis.sh NAME FIXTURE}
sock=$STACK_STATE_DIR/$name/redis.sock
redis-cli -s "$sock" flushall >/dev/null
if [ -s "$fixture" ]; then
	out=$(redis-cli -s "$sock" <"$fixture")
	if grep -q '^ERR\|^WRONGTYPE' <<<"$out"; then echo "$out" >&2; exit 1; fi
fi
