#!/usr/bin/env bash
# Run unit-test binaries; print their lines and a total "N passed, N failed".
set -u
passed=0; failed=0; rc=0
for t in "$@"; do
  out=$("$t" 2>&1); r=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ] || [ $r -ne 0 ]; then rc=1; fi
  p=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/'); f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  [ -z "$line" ] && failed=$((failed + 1)) && echo "$t: crashed or printed no summary (exit $r)"
done
echo "unit total: $passed passed, $failed failed"
exit $rc
