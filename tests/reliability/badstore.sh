#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Bad stores: a truncated store, a file of random bytes, random bytes behind
# a SQLite header, a store of a newer schema version, a store held by an
# exclusive lock, a store on a read-only filesystem with unmerged WAL
# content. Every gatectl command (the list is read from `gatectl --help`;
# import, diff --vs-db and merge also with the bad file in their other
# roles) and the agent must give one clear line naming the file and the
# reason, exit 2 (gatectl) or 1 (the agent: a store error is not a usage
# error), and change nothing: content checksum, mode and the files beside
# it the same before and after. Then a good store on a read-only filesystem:
# read commands answer exactly as on a writable copy, writing commands and
# the agent refuse with one line.
#
# The agent runs with --replay /dev/null: it opens the store before it
# loads anything (agent/main.c agent_open), the same code as a live start,
# so no BPF program is loaded and no host lock is needed.
# Needs root (mount). Prints "badstore: N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
gatectl=$root/build/gatectl
agent=$root/build/faultline-agent
PY=/usr/bin/python3
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() { echo "badstore: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

for c in "$gatectl" "$agent"; do
	[ -x "$c" ] || { bad "missing $c (run: make)"; finish; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { bad "needs root (mount)"; finish; exit 1; }
command -v sqlite3 >/dev/null || { bad "missing sqlite3 (run: tools/install-deps.sh)"; finish; exit 1; }

work=$(mktemp -d /tmp/faultline-badstore.XXXXXX)
lock_pid= mounted=
cleanup() {
	[ -n "$lock_pid" ] && kill "$lock_pid" 2>/dev/null && wait "$lock_pid" 2>/dev/null
	[ -n "$mounted" ] && umount "$work/ro"
	[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

# --- the stores --------------------------------------------------------------------
cc -std=gnu11 -D_GNU_SOURCE -I"$root/lib" "$root/tests/gate/mkfixture.c" "$root"/lib/*.c \
	-lsqlite3 -ljansson -lm -o "$work/mkfixture" 2>"$work/cc.err" || { bad "build mkfixture: $(cat "$work/cc.err")"; finish; exit 1; }
good=$work/good.db
"$work/mkfixture" "$good" <"$root/tests/gate/graph.spec" || { bad "fixture"; finish; exit 1; }
sqlite3 "$good" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
traces=$root/tests/gate/otlp/traces.jsonl api=$root/tests/gate/openapi/api.json
mkdir -p "$work/bad" "$work/rosrc" "$work/ro"
head -c $(($(stat -c %s "$good") / 2)) "$good" >"$work/bad/truncated.db"
"$PY" - "$work/bad" <<'EOF'
import random, sys
r = random.Random(18)
open(sys.argv[1] + "/random.db", "wb").write(r.randbytes(65536))
open(sys.argv[1] + "/header.db", "wb").write(b"SQLite format 3\0" + r.randbytes(65520))
EOF
cp "$good" "$work/bad/newer.db" && sqlite3 "$work/bad/newer.db" 'PRAGMA user_version = 99'
cp "$good" "$work/bad/locked.db"
cp "$good" "$work/rosrc/walstore.db" && cp "$good" "$work/rosrc/clean.db"
# unmerged WAL content beside a store: written by a connection that never checkpoints
"$PY" - "$work/rosrc/walstore.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("UPDATE services SET kind = kind")
c.execute("INSERT INTO agent_counters(name, value, updated_ns) VALUES ('x', 1, 1) "
          "ON CONFLICT(name) DO UPDATE SET value = value + 1")
import os
os._exit(0)   # no close: no checkpoint, the -wal stays
EOF
chmod 0644 "$work/bad"/*.db	# the agent must not narrow a file it refuses
mount --bind "$work/rosrc" "$work/ro" && mount -o remount,bind,ro "$work/ro" && mounted=1 ||
	{ bad "cannot mount a read-only bind mount"; finish; exit 1; }
[ -s "$work/ro/walstore.db-wal" ] || bad "no WAL content beside walstore.db"

# a holder of an exclusive lock (locking_mode=EXCLUSIVE: readers too are kept out)
"$PY" - "$work/bad/locked.db" "$work/locked.ready" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA locking_mode = EXCLUSIVE")
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(300)
EOF
lock_pid=$!
for _ in $(seq 100); do [ -e "$work/locked.ready" ] && break; sleep 0.05; done

# state FILE: what "changed nothing" compares: content, mode, files beside it
state() {
	local f=$1
	printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-16)" "$(stat -c %a "$f")"
	ls -1 "$(dirname "$f")" | grep -F "$(basename "$f")"
}

# --- the commands -------------------------------------------------------------------
mapfile -t cmds < <("$gatectl" --help 2>&1 | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ "${#cmds[@]}" -ge 9 ] && ok "gatectl --help lists ${#cmds[@]} commands: ${cmds[*]}" ||
	bad "gatectl --help lists ${#cmds[@]} commands"
# argv of each command, BAD standing for the bad file (one line an invocation)
invocations() {
	local c
	for c in "${cmds[@]}"; do
		case $c in
		scope) echo "--db BAD scope --changed checkout" ;;
		health) echo "--db BAD health --service checkout --since 1h" ;;
		import) echo "--db BAD import otlp $traces"
			echo "--db BAD import openapi $api --service checkout" ;;
		diff) echo "--db BAD diff --since 1h --vs-since 2h --vs-until 1h"
			echo "--db $good diff --vs-db BAD" ;;
		merge) echo "merge BAD $good"
			echo "merge $work/merged-new.db BAD" ;;
		# acts on a sandbox's network, never opens a store: usage (2), nothing changed
		fault) echo "LENIENT --db BAD fault" ;;
		graph | paths | blindspots | compact) echo "--db BAD $c" ;;
		# a command this table does not know yet: exit 2 and nothing
		# changed, whatever it needs (its own arguments or the store)
		*) echo "LENIENT --db BAD $c" ;;
		esac
	done
}
invocations >"$work/invocations"

# check CASE FILE REGEX: every invocation (at once: a locked store makes each
# wait out the 5 s busy timeout) and then the agent on FILE
check() {
	local name=$1 f=$2 re=$3 before n=0 nbad=0 line args out err rc i=0 first= pids=()
	before=$(state "$f")
	: >"$work/$name.fails"
	while read -r line; do
		i=$((i + 1))
		case $line in LENIENT\ *) line=${line#LENIENT } ;; esac
		args=${line//BAD/$f}
		# shellcheck disable=SC2086
		( timeout 60 "$gatectl" $args >"$work/$name.$i.out" 2>"$work/$name.$i.err"
		  echo $? >"$work/$name.$i.rc" ) &
		pids+=($!)
	done <"$work/invocations"
	wait "${pids[@]}"
	i=0
	while read -r line; do
		local re_line=$re lenient=
		i=$((i + 1))
		case $line in LENIENT\ *) lenient=1 line=${line#LENIENT } ;; esac
		rc=$(cat "$work/$name.$i.rc") out=$(cat "$work/$name.$i.out") err=$(cat "$work/$name.$i.err")
		[ -n "$first" ] || first=$err
		n=$((n + 1))
		if [ "$rc" -ne 2 ] || [ "$(wc -l <"$work/$name.$i.err")" -ne 1 ] || [ -n "$out" ] ||
			{ [ -z "$lenient" ] && ! grep -qE "^gatectl: .*'$f'.*($re_line)" <<<"$err"; }; then
			nbad=$((nbad + 1))
			echo "    gatectl $line: rc=$rc err=[$err] out=[${out:0:80}]" >>"$work/$name.fails"
		fi
	done <"$work/invocations"
	rm -f "$work/merged-new.db"
	[ "$(state "$f")" = "$before" ] || { nbad=$((nbad + 1)); echo "    changed: $(state "$f" | tr '\n' ' ') was $(tr '\n' ' ' <<<"$before")" >>"$work/$name.fails"; }
	[ "$nbad" -eq 0 ] && ok "$name: $n gatectl invocations exit 2, one line ('${first:0:120}'), nothing changed" ||
		{ bad "$name: $nbad of $n gatectl invocations"; cat "$work/$name.fails"; }
	timeout 60 "$agent" --db "$f" --replay /dev/null >"$work/out" 2>"$work/err"; rc=$?
	err=$(cat "$work/err")
	if [ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] &&
		grep -qE "^faultline-agent: cannot open '$f': .*($re)" <<<"$err" && [ "$(state "$f")" = "$before" ]; then
		ok "$name: agent exits 1 with one line, nothing changed"
	else
		bad "$name: agent rc=$rc err=[$err] state $(state "$f" | tr '\n' ' ') was $(tr '\n' ' ' <<<"$before")"
	fi
}

check truncated "$work/bad/truncated.db" 'damaged store'
check random "$work/bad/random.db" 'not a SQLite database|not a faultline store'
check header "$work/bad/header.db" 'not a faultline store'
check newer "$work/bad/newer.db" 'schema version 99 is newer than this build'
check locked "$work/bad/locked.db" 'locked by another process'
check walstore-rofs "$work/ro/walstore.db" 'read-only filesystem|Read-only file system'

# --- a good store on a read-only filesystem -------------------------------------------
before=$(state "$work/ro/clean.db")
nread=0 nsame=0
for c in graph paths blindspots "scope --changed checkout"; do
	# shellcheck disable=SC2086
	a=$("$gatectl" --db "$work/ro/clean.db" $c -o json 2>&1); ra=$?
	# shellcheck disable=SC2086
	b=$("$gatectl" --db "$good" $c -o json 2>&1); rb=$?
	nread=$((nread + 1))
	[ $ra -eq $rb ] && [ "$a" = "$b" ] && nsame=$((nsame + 1)) || echo "    $c: rc $ra vs $rb"
done
[ "$nsame" -eq "$nread" ] && [ "$(state "$work/ro/clean.db")" = "$before" ] &&
	ok "good store on a read-only filesystem: $nread read commands answer exactly as on a writable copy" ||
	bad "read-only filesystem: $nsame of $nread read commands the same"
"$gatectl" --db "$work/ro/clean.db" compact >/dev/null 2>"$work/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "Read-only file system" "$work/err" &&
	ok "compact on a read-only filesystem: exit 2, '$(cat "$work/err")'" || bad "compact rofs: rc=$rc $(cat "$work/err")"
"$agent" --db "$work/ro/new.db" --replay /dev/null >/dev/null 2>"$work/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "cannot open '$work/ro/new.db': Read-only file system" "$work/err" &&
	[ ! -e "$work/ro/new.db" ] && ok "agent on a read-only directory: exit 1, '$(cat "$work/err")'" ||
	bad "agent rofs: rc=$rc $(cat "$work/err")"

finish
