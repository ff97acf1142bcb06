# shellcheck shell=bash
# Shared by the BPF integration suites (run.sh, identity.sh, tls.sh); source
# it after setting SUITE, the name on the closing "SUITE: N passed, N failed"
# line. Provides the paths, ok/bad/finish, and it_require.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/tests/integration
agent=$root/build/faultline-agent
gatectl=$root/build/gatectl
PY=/usr/bin/python3

# shellcheck source=../../tools/lib/servers.sh
. "$root/tools/lib/servers.sh"
fl_lock_host

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() {
	echo "$SUITE: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# it_require CMD...: root, the built binaries and each command, or one FAIL
# and exit: under CI=true as anywhere, a missing piece is a failure.
it_require() {
	if [ "$(id -u)" -ne 0 ]; then
		bad "needs root to load BPF programs (run: sudo make test)"
		finish; exit 1
	fi
	local c
	for c in "$agent" "$gatectl"; do
		[ -x "$c" ] || { bad "missing $c (run: make)"; finish; exit 1; }
	done
	for c in "$@"; do
		command -v "$c" >/dev/null ||
			{ bad "missing $c (run: tools/install-deps.sh)"; finish; exit 1; }
	done
}
