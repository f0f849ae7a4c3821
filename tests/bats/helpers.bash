# helpers.bash: common set-up for quanta's Bats tests.
#
#   load helpers
#   setup() { quanta_setup; }
#   teardown() { quanta_teardown; }
#
# QUANTA_BIN (set by tests/run.sh, default bin/) holds the programs; $T is a
# fresh temporary folder; $ROOT the repository; $DATA the shared real data.

quanta_setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	: "${QUANTA_BIN:=$ROOT/bin}"
	PATH="$QUANTA_BIN:$PATH"
	DATA="${QUANTA_DATA:-$ROOT/../shared/data}"
	[ -d "$DATA" ] || DATA=/work/shared/data
	# A test that reads the shared real data sets is skipped, saying
	# so, on a checkout that has none beside it.
	if [ ! -d "$DATA" ] && type "$BATS_TEST_NAME" 2>/dev/null |
	    grep -q 'DATA'; then
		skip "needs the shared data sets (../shared/data or QUANTA_DATA)"
	fi
	T="$(mktemp -d "${TMPDIR:-/tmp}/quanta-bats.XXXXXX")"
	export ROOT DATA T PATH
}

quanta_teardown() {
	[ -n "${T:-}" ] && rm -rf "$T"
}

# Python with numpy, torch, h5py and msgpack-numpy (Debian's packages).
PY=/usr/bin/python3

# assert_one_line_error STAGE: $output is one line "quanta-STAGE: ..."
# and $status is 2.
assert_usage_error() {
	local stage=$1
	if [ "$status" -ne 2 ]; then
		echo "expected exit 2, got $status: $output" >&2
		return 1
	fi
	case "${lines[0]}" in
	"quanta-$stage: "*) ;;
	*) echo "expected 'quanta-$stage: ...', got: $output" >&2; return 1 ;;
	esac
	# One line of error, plus at most the "Try ..." hint.
	if [ "${#lines[@]}" -gt 2 ] || { [ "${#lines[@]}" -eq 2 ] &&
	    [[ "${lines[1]}" != Try* ]]; }; then
		echo "expected a one-line error, got: $output" >&2
		return 1
	fi
}

# No file in $T/ matching the pattern (no half-written output).
assert_no_file() {
	local f
	for f in "$@"; do
		if [ -e "$f" ]; then
			echo "unexpected file $f" >&2
			return 1
		fi
	done
	if ls -A "$(dirname "$1")" | grep -q '\.tmp'; then
		echo "temporary file left in $(dirname "$1")" >&2
		return 1
	fi
}
