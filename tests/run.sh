#!/bin/sh
# Run every test of quanta and end with one line "N passed, N failed".
#
#   tests/run.sh UNIT_TEST_BINARY...
#
# Unit tests and Bats both speak TAP; this script counts "ok" and "not ok"
# lines (skips count as passed and are listed) and exits non-zero when any
# test failed or a test program crashed.
set -u
BUILD=${BUILD:-build}
BINDIR=${BINDIR:-bin}
export QUANTA_BIN="$(cd "$BINDIR" && pwd)"
export PATH="$QUANTA_BIN:$PATH"
# Sanitizer builds: font-library caches PLplot loads are not leaks of ours.
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
log="$BUILD/test.log"
mkdir -p "$BUILD"
: > "$log"
crashed=0

run_tap() { # name command...
	name=$1; shift
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out" >> "$log"
	printf '%s\n' "$out" | grep -E '^(not ok|# )' | sed "s|^|$name: |"
	np=$(printf '%s\n' "$out" | grep -cE '^ok ')
	nf=$(printf '%s\n' "$out" | grep -cE '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "$name: exited $rc without a failed test (crash?)"
		nf=$((nf + 1))
	fi
	passed=$((passed + np)); failed=$((failed + nf))
	printf '%-40s %4d passed, %d failed\n' "$name" "$np" "$nf"
}

passed=0; failed=0
for t in "$@"; do
	run_tap "$(basename "$t")" "$t"
done
# The fuzz replayer: seed corpus plus random mutations, a few seconds.
if [ -x "$BUILD/tests/fuzz_stream_run" ]; then
	run_tap fuzz_stream "$BUILD/tests/fuzz_stream_run" tests/fuzz/corpus
fi
for b in tests/bats/*.bats; do
	[ -e "$b" ] || continue
	run_tap "$(basename "$b")" bats --tap "$b"
done
echo "(full output in $log)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
