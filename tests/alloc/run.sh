#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Allocation failures at every allocation site in turn (jansson's
# test_chaos.c is the model). The sources under test are built under
# ASan+UBSan (LeakSanitizer on) with tests/alloc/failalloc.h force-included:
# each malloc/calloc/realloc/strdup/strndup call site is known by FILE:LINE.
# A count run lists the sites a workload reaches; then, for each site, the
# workload is run again with the first call of that site failing (ENOMEM).
#
#   golden   tests/unit/test_golden.c over every golden case, the parsers
#            and lib/ instrumented (the harness itself is not): each run
#            must end without a sanitizer report (no crash, no leak, no UB)
#            and either pass (the failure was absorbed with identical
#            results) or fail its comparison (the loss is visible).
#   gatectl  gatectl instrumented (gate/ and lib/), a set of invocations of
#            every command over fixture stores (the fixture suite's own):
#            each failing run must exit 2 with one line on stderr, or exit
#            as the reference run did with byte-identical output; no
#            sanitizer report; a writing command leaves the store as it
#            was (its dump unchanged) or, if it succeeded, intact.
#
# ALLOC_NTH=N also fails the Nth call of each site (default 1).
# Prints "alloc-failures: N passed, N failed" (one check per site and
# workload).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
CC=${CC:-cc}
NTH=${ALLOC_NTH:-1}
SAN="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFL="-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:exitcode=98
passed=0 failed=0
ok() { passed=$((passed + 1)); [ -n "${VERBOSE:-}" ] && echo "  ok   $*"; return 0; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() { echo "alloc-failures: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

work=${ALLOC_WORK:-$(mktemp -d /tmp/faultline-alloc.XXXXXX)}
mkdir -p "$work/obj"
trap '[ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"' EXIT

# build OUT SRC...: instrumented objects of SRC, linked with failalloc.c
# and whatever else is in $EXTRA (not instrumented)
build() {
	local out=$1 objs=() s o
	shift
	for s in "$@"; do
		o=$work/obj/$(echo "$s" | tr / _).o
		$CC $SAN $CFL -include tests/alloc/failalloc.h $INC -c "$s" -o "$o" 2>>"$work/build.log" || return 1
		objs+=("$o")
	done
	# shellcheck disable=SC2086
	$CC $SAN $CFL $INC tests/alloc/failalloc.c $EXTRA "${objs[@]}" $LIBS -o "$out" 2>>"$work/build.log"
}

san_report() { grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined)' "$1"; }

# ---- golden: the parsers ---------------------------------------------------------
INC="-Iinclude -Ilib -Iagent -Itests/unit" EXTRA="tests/unit/test_golden.c" LIBS="-lsqlite3 -ljansson -lnghttp2 -lm"
# shellcheck disable=SC2046
if ! build "$work/golden" $(ls agent/proto_*.c lib/*.c) agent/procnet.c; then
	bad "build the instrumented golden test: $(tail -5 "$work/build.log")"; finish; exit 1
fi
FA_REPORT=$work/golden.sites "$work/golden" >"$work/golden.ref" 2>&1; rc=$?
if [ $rc -ne 0 ] || san_report "$work/golden.ref"; then
	bad "golden reference run: exit $rc: $(tail -3 "$work/golden.ref")"
fi
gsites=0 gabsorbed=0 gvisible=0
while read -r site calls; do
	[ "$calls" -ge "$NTH" ] || continue
	gsites=$((gsites + 1))
	FA_FAIL="$site@$NTH" "$work/golden" >"$work/run.out" 2>&1; rc=$?
	if san_report "$work/run.out" || { [ $rc -ne 0 ] && [ $rc -ne 1 ]; } ||
		! grep -q "failalloc: failed $site" "$work/run.out"; then
		bad "golden, $site failing (call $NTH of $calls): exit $rc"
		grep -E 'ERROR:|runtime error|SUMMARY|failalloc|#[0-9] ' "$work/run.out" | head -8 | sed 's/^/      /'
	else
		ok "golden $site"
		[ $rc -eq 0 ] && gabsorbed=$((gabsorbed + 1)) || gvisible=$((gvisible + 1))
	fi
done <"$work/golden.sites"
echo "golden: $gsites allocation sites reached; each failed in turn: $gabsorbed absorbed (identical results), $gvisible visible as a failed comparison"

# ---- gatectl -----------------------------------------------------------------------
INC=$(make -s --no-print-directory print-GATE_INCLUDES) EXTRA=""
LIBS=$(make -s --no-print-directory print-LDLIBS_GATE)
# shellcheck disable=SC2046
if ! build "$work/gatectl" $(ls gate/*.c gate/*/*.c lib/*.c); then
	bad "build the instrumented gatectl: $(tail -5 "$work/build.log")"; finish; exit 1
fi
cc -std=gnu11 -D_GNU_SOURCE -Ilib tests/gate/mkfixture.c lib/*.c -lsqlite3 -ljansson -lm -o "$work/mkfixture" &&
	"$work/mkfixture" "$work/graph.db" <tests/gate/graph.spec || { bad "fixture"; finish; exit 1; }
sqlite3 "$work/graph.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
traces=tests/gate/otlp/traces.jsonl api=tests/gate/openapi/api.json
G=$work/gatectl DB=$work/graph.db
# invocations: NAME|WRITES(0/1)|ARGS (DB is the store, a fresh copy for writers)
cat >"$work/invocations" <<EOF
graph|0|--db DB graph
graph-json|0|--db DB graph -o json
graph-dot|0|--db DB graph -o dot
paths|0|--db DB paths -o json
paths-table|0|--db DB paths
scope|0|--db DB scope --changed api -o json
scope-table|0|--db DB scope --changed api
health|0|--db DB health --service api --since 2h -o json
blindspots|0|--db DB blindspots -o json
blindspots-table|0|--db DB blindspots
diff|0|--db DB diff --since 1h --vs-since 2h --vs-until 1h -o json
import-otlp|1|--db DB import otlp $traces
import-openapi|1|--db DB import openapi $api --service checkout
compact|1|--db DB compact
merge|1|merge DB $work/graph.db
EOF
dump() { sqlite3 "$1" .dump 2>&1 | sha256sum | cut -c1-16; }
while IFS='|' read -r name writes args; do
	cp "$DB" "$work/w.db"
	rm -f "$work/g.sites"
	# shellcheck disable=SC2086
	FA_REPORT=$work/g.sites "$G" ${args//DB/$work/w.db} >"$work/g.ref" 2>"$work/g.referr"; refrc=$?
	touch "$work/g.sites"
	if san_report "$work/g.referr"; then
		bad "gatectl $name reference run: $(head -3 "$work/g.referr")"; continue
	fi
	nsites=0 nabs=0 nerr=0
	while read -r site calls; do
		[ "$calls" -ge "$NTH" ] || continue
		nsites=$((nsites + 1))
		cp "$DB" "$work/w.db"
		before=$(dump "$work/w.db")
		# shellcheck disable=SC2086
		FA_FAIL="$site@$NTH" "$G" ${args//DB/$work/w.db} >"$work/g.out" 2>"$work/g.err"; rc=$?
		grep -v '^failalloc: ' "$work/g.err" >"$work/g.msg"
		why=
		san_report "$work/g.err" && why="sanitizer report"
		grep -q "failalloc: failed $site" "$work/g.err" || why="${why:+$why, }site not reached"
		if [ -z "$why" ]; then
			if [ $rc -eq 2 ] && [ "$(wc -l <"$work/g.msg")" -eq 1 ]; then
				nerr=$((nerr + 1))
				[ "$writes" = 1 ] && [ "$(dump "$work/w.db")" != "$before" ] &&
					why="exit 2 but the store changed"
			elif [ $rc -eq $refrc ] && cmp -s "$work/g.out" "$work/g.ref"; then
				nabs=$((nabs + 1))
			else
				why="exit $rc (reference $refrc), $(wc -l <"$work/g.msg") lines on stderr, output $(cmp -s "$work/g.out" "$work/g.ref" && echo same || echo different)"
			fi
			[ "$writes" = 1 ] && [ "$(sqlite3 "$work/w.db" 'PRAGMA integrity_check' 2>&1)" != ok ] &&
				why="${why:+$why, }integrity_check failed"
		fi
		if [ -n "$why" ]; then
			bad "gatectl $name, $site failing: $why"
			head -3 "$work/g.msg" | sed 's/^/      /'
			grep -E 'ERROR:|runtime error|#[0-4] ' "$work/g.err" | head -6 | sed 's/^/      /'
		else
			ok "gatectl $name $site"
		fi
	done <"$work/g.sites"
	echo "gatectl $name: $nsites allocation sites; failed in turn: $nerr exit 2 with one line, $nabs absorbed (identical output)"
done <"$work/invocations"

finish
