#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# run.sh fuzz|smoke|merge BIN... - run libFuzzer targets (build/fuzz/fuzz_<t>)
# on their committed corpus tests/fuzz/corpus/<t>/.
#
#   fuzz   fuzz each target FUZZ_SECONDS (default 60); new inputs go to
#          build/fuzz/work/<t>/ (not committed), crash inputs to
#          build/fuzz/crashes/<t>/, the log to build/fuzz/logs/<t>.log.
#          Prints per target the executions, libFuzzer's final coverage
#          (cov: edges, ft: features), the corpus size and the crashes.
#   smoke  run every corpus input once, no fuzzing (seconds).
#   merge  rebuild the committed corpus: the seeds of mkcorpus.py (real
#          protocol bytes, all kept) plus the fewest inputs of corpus, seeds
#          and build/fuzz/work/<t>/ that cover every edge (-merge=1
#          -use_counters=0: edges, not hit counts, to stay small). With
#          the FUZZ_STRICT=1 binaries built, inputs they fail on (known,
#          unfixed bugs) are left out.
#
# Ends with "fuzz: N passed, N failed" (or "fuzz-smoke: ..."); exits 1 if
# any target crashed, leaked, timed out or broke an invariant.
set -u
cd "$(dirname "$0")/../.." || exit 2
mode=${1:?usage: run.sh fuzz|smoke|merge BIN...}
shift
seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
passed=0 failed=0

for bin in "$@"; do
	t=${bin##*/fuzz_}
	corpus=tests/fuzz/corpus/$t
	work=$out/work/$t art=$out/crashes/$t log=$out/logs/$t.log
	mkdir -p "$corpus" "$work" "$art" "$out/logs"
	if [ "$mode" = merge ]; then
		seeds=$out/seeds new=$out/merged/$t
		rm -rf "$seeds" "$new"
		tests/fuzz/mkcorpus.py "$seeds" >/dev/null || exit 1
		mkdir -p "$new"
		if ! "$bin" -merge=1 -use_counters=0 "$new" "$corpus" "$seeds/$t" "$work" >"$log" 2>&1; then
			echo "fuzz_$t: merge failed (log: $log)"
			failed=$((failed + 1))
			continue
		fi
		cp "$seeds/$t"/* "$new"/
		strict=${bin%/*}-strict/fuzz_$t
		if [ -x "$strict" ]; then	# inputs of known, unfixed bugs stay out
			for f in "$new"/*; do
				"$strict" "$f" >/dev/null 2>&1 || { rm "$f"; echo "fuzz_$t: left out ${f##*/} (known bug)"; }
			done
		fi
		rm -rf "$corpus" && mv "$new" "$corpus"
		echo "fuzz_$t: corpus $(find "$corpus" -type f | wc -l) inputs, $(du -sb "$corpus" | cut -f1) bytes"
		passed=$((passed + 1))
		continue
	fi
	if [ "$mode" = smoke ]; then
		n=$(find "$corpus" -type f | wc -l)
		if find "$corpus" -type f -print0 | xargs -0 -r "$bin" >"$log" 2>&1; then
			echo "fuzz_$t: $n corpus inputs ok"
			passed=$((passed + 1))
		else
			echo "fuzz_$t: FAILED on its corpus (log: $log)"
			grep -aE 'invariant broken|ERROR:|SUMMARY:|Running: ' "$log" | tail -4 | sed 's/^/  /'
			failed=$((failed + 1))
		fi
		continue
	fi
	rm -f "$art"/*
	# no allocation stacks in reports: recording one per malloc cost a
	# quarter of the executions (a crash input replays with full stacks)
	ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0} "$bin" "$work" "$corpus" -max_total_time="$seconds" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -aEo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	corp=$(grep -aEo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
	crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | wc -l)
	printf 'fuzz_%-7s %10s execs (%s/s)  %-20s  %-16s  crashes %d\n' "$t" "${execs:-?}" \
		"${rate:-?}" "${cov:-cov: ?}" "${corp:-corp: ?}" "$crashes"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		grep -aE 'invariant broken|ERROR:|SUMMARY:' "$log" | head -3 | sed 's/^/  /'
		find "$art" -type f | sed 's/^/  input: /'
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
done

name=fuzz
[ "$mode" = fuzz ] || name=fuzz-$mode
echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
