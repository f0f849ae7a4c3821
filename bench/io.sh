#!/bin/sh
# bench/io.sh: streams and I/O throughput of quanta against cp and h5py on
# one float32 HDF5 data set (1 GB by default), and the peak memory of the
# streaming stages (docs/BENCHMARKS.md, "Streams and I/O").
#
#   bench/io.sh [BINDIR [BASE_BINDIR]]   # BINDIR defaults to bin/
#   RUNS=9 ROWS=250000 COLS=1000 bench/io.sh build/io/bin
#
# Makes (under $TMPDIR or /tmp, removed at the end) big.h5, a contiguous
# float32 dataset x of ROWS x COLS standard normal values written by h5py,
# and big.qs, the same as a quanta stream; then times each command with
# hyperfine (or a shell loop without it): RUNS runs after one warm-up,
# median and minimum, wall clock.  Every figure is warm-cache: the files
# sit in the page cache (nothing here can drop it without root); commands
# that write a file start from a removed output and a `sync`.  GB/s counts
# the data set's bytes (ROWS x COLS x 4) over wall time.  "vs h5py" is the
# time of h5py's chunked read (a whole process) over the command's time:
# above 1 is faster than h5py reading the file.  Peak RSS comes from
# /usr/bin/time -v at the full size and at a tenth of it: memory bounded by
# the batch, not the data set, shows as two equal columns.
#
# With BASE_BINDIR (an older build), its quanta commands are timed too and
# a before/after table follows.  VERBOSE=1 prints every run's time.
# IDLE=90 waits, before each command, until the CPUs have been at least
# 90% idle over 5 s (at most IDLE_WAIT=300 s): on a shared machine other
# people's jobs otherwise take the second CPU a pipeline needs.
#
# Needs /usr/bin/python3 (or $PYTHON) with h5py and numpy, /usr/bin/time,
# and free disk of about 4.5 times the data set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BINDIR=${1:-${BINDIR:-bin}}
BASE=${2:-}
ROWS=${ROWS:-250000}
COLS=${COLS:-1000}
RUNS=${RUNS:-7}
PYTHON=${PYTHON:-/usr/bin/python3}
TIME=/usr/bin/time

die() { echo "bench/io.sh: $*" >&2; exit 2; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
BINDIR=$(abs "$BINDIR")
[ -z "$BASE" ] || BASE=$(abs "$BASE")
for d in "$BINDIR" $BASE; do
	[ -x "$d/quanta" ] && [ -x "$d/quanta-load" ] ||
		die "no quanta programs in $d (run 'make', or give BINDIR)"
done
"$PYTHON" -c 'import h5py, numpy' 2>/dev/null ||
	die "$PYTHON lacks h5py or numpy (set PYTHON)"
[ -x "$TIME" ] || die "$TIME is missing (install the 'time' package)"
Q=$BINDIR/quanta
H5PY="$PYTHON $here/io_h5py.py"

bytes=$((ROWS * COLS * 4))
small=$((ROWS / 10))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/quanta-io.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
free_kb=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
[ "$free_kb" -gt $((bytes / 1024 * 9 / 2)) ] ||
	die "$tmp needs $((bytes * 9 / 2 / 1000000)) MB free, has $((free_kb / 1000)) MB"
cd "$tmp"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs," \
     "$(free -g | awk '/^Mem:/ { print $2 }') GB RAM; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pipes: pipe-max-size $(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo '?') bytes;" \
     "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?')" \
     "(quanta splices into pipes only with [always] or [madvise])"
echo "data: $ROWS x $COLS float32 ($((bytes / 1000000)) MB), $RUNS runs per command, warm page cache"
if command -v hyperfine > /dev/null; then
	echo "timer: $(hyperfine --version)"
else
	echo "timer: shell loop (hyperfine is not installed)"
fi

$H5PY create big.h5 "$ROWS" "$COLS"
"$Q" load big.h5 -o big.qs
"$Q" load big.h5 -n "$small" -o small.qs
cat big.h5 big.qs > /dev/null

# summary NAME: "median min" seconds of NAME.times (one per line)
summary() {
	sort -g "$1.times" | awk '{ t[NR] = $1 }
		END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		      printf "%.4f %.4f\n", m, t[1] }'
}

. "$(dirname "$0")/idle.sh"

# timeit NAME PREPARE COMMAND: time a shell command; PREPARE runs untimed
# before each run.  Appends "NAME median min" to results.
timeit() {
	name=$1 prep=$2 cmd=$3
	wait_idle
	if command -v hyperfine > /dev/null; then
		hyperfine --style none -w 1 -r "$RUNS" -p "$prep" \
			--export-json "$name.json" "$cmd" > /dev/null 2> "$name.err" ||
			{ cat "$name.err" >&2; die "'$cmd' failed"; }
		"$PYTHON" -c 'import json, sys
for t in json.load(open(sys.argv[1]))["results"][0]["times"]: print(t)' \
			"$name.json" > "$name.times"
	else
		: > "$name.times"
		i=0
		while [ "$i" -le "$RUNS" ]; do
			sh -c "$prep"
			t0=$(date +%s.%N)
			sh -c "$cmd" || die "'$cmd' failed"
			t1=$(date +%s.%N)
			# the first run warms up
			[ "$i" -eq 0 ] ||
				awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >> "$name.times"
			i=$((i + 1))
		done
	fi
	echo "$name $(summary "$name")" >> results
	[ "${VERBOSE:-0}" = 0 ] || { printf '%s:' "$name"; tr '\n' ' ' < "$name.times"; echo; } >&2
}

# quanta_suite PREFIX BINDIR: the quanta commands, named PREFIX_...
quanta_suite() {
	p=$1 q=$2/quanta
	timeit "${p}_load" : "$q load big.h5 > /dev/null"
	timeit "${p}_load_inspect" : "$q load big.h5 | $q inspect > /dev/null"
	timeit "${p}_load_save" 'rm -f copy.h5; sync' "$q load big.h5 | $q save copy.h5"
	timeit "${p}_inspect_file" : "$q inspect -i big.qs > /dev/null"
	timeit "${p}_cat_inspect" : "cat big.qs | $q inspect > /dev/null"
	timeit "${p}_load_file" 'rm -f out.qs; sync' "$q load big.h5 -o out.qs"
	rm -f copy.h5 out.qs
}

: > results
timeit cp 'rm -f cp.h5; sync' 'cp big.h5 cp.h5'
timeit cp_sync 'rm -f cp.h5; sync' 'cp big.h5 cp.h5 && sync cp.h5'
rm -f cp.h5
timeit cat_file : 'cat big.qs > /dev/null'
timeit cat_pipe : 'cat big.qs | cat > /dev/null'
timeit py_import : "$PYTHON -c 'import h5py'"
timeit h5py_chunked : "$H5PY chunked big.h5 2> /dev/null"
timeit h5py_whole : "$H5PY whole big.h5 2> /dev/null"
quanta_suite new "$BINDIR"
[ -z "$BASE" ] || quanta_suite base "$BASE"
# h5py's reads timed inside Python (median of RUNS): no interpreter
# start, no import.
for mode in chunked whole; do
	wait_idle
	t=$($H5PY $mode big.h5 "$RUNS" 2>&1)
	echo "h5py_in_$mode $t $t" >> results
done

# rss NAME SIZE COMMAND: peak RSS (kB) of the stage that the command runs
# under $TV, which is /usr/bin/time -v.
rss() {
	name=$1 size=$2 cmd=$3
	TV="$TIME -v -o $name.$size.tv" sh -c "$cmd"
	echo "rss $name $size $(sed -n 's/.*Maximum resident set size (kbytes): //p' \
		"$name.$size.tv")" >> results
}
for size in big small; do
	if [ $size = big ]; then n=$ROWS; else n=$small; fi
	rss load $size "\$TV $Q load big.h5 -n $n | $Q inspect > /dev/null"
	rss inspect $size "$Q load big.h5 -n $n | \$TV $Q inspect > /dev/null"
	rss save $size "\$TV $Q save -i $size.qs copy.h5"
	rss filter $size "\$TV $Q filter -q --finite x -i $size.qs -o /dev/null"
	rss split $size "\$TV $Q split -q --train 0.5 -i $size.qs --test-out /dev/null | cat > /dev/null"
	rm -f copy.h5
done

awk -v bytes="$bytes" -v rows="$ROWS" -v small="$small" -v base="$BASE" \
    -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
$1 == "rss" { rss[$2, $3] = $4; next }
{ med[$1] = $2; min[$1] = $3 }
function row(key, what) {
	printf "| %-46s | %6.3f | %6.3f | %6.2f | %5.2f |\n", what, med[key],
	       min[key], bytes / 1e9 / med[key], med["h5py_chunked"] / med[key]
}
function hop(p,   slower) {
	printf "pipe hop (%s): cat big.qs | inspect vs inspect -i big.qs: %+.0f%%;", p,
	       100 * (med[p "_cat_inspect"] / med[p "_inspect_file"] - 1)
	printf " load | inspect vs load -o f.qs, then inspect -i f.qs: %+.0f%%\n",
	       100 * (med[p "_load_inspect"] / (med[p "_load_file"] + med[p "_inspect_file"]) - 1)
	# Two stages on two CPUs at best take as long as the slower alone.
	slower = med[p "_load"] > med[p "_inspect_file"] ? med[p "_load"] : med[p "_inspect_file"]
	printf "pipe hop between stages (%s): load | inspect vs the slower of load > /dev/null" \
	       " and inspect -i big.qs: %+.0f%%\n", p, 100 * (med[p "_load_inspect"] / slower - 1)
}
END {
	print ""
	print "| command | median s | min s | GB/s | vs h5py |"
	print "|---|---:|---:|---:|---:|"
	row("cp", "`cp big.h5 copy.h5`")
	row("cp_sync", "`cp big.h5 copy.h5 && sync copy.h5`")
	row("cat_file", "`cat big.qs > /dev/null`")
	row("cat_pipe", "`cat big.qs \\| cat > /dev/null`")
	row("h5py_chunked", "h5py, 256-row blocks (process)")
	row("h5py_in_chunked", "h5py, 256-row blocks (timed in Python)")
	row("h5py_whole", "h5py, one read `x[:]` (process)")
	row("h5py_in_whole", "h5py, one read `x[:]` (timed in Python)")
	row("py_import", "`python3 -c \"import h5py\"` (no data)")
	row("new_load", "`quanta load big.h5 > /dev/null`")
	row("new_load_inspect", "`quanta load big.h5 \\| quanta inspect`")
	row("new_load_save", "`quanta load big.h5 \\| quanta save copy.h5`")
	row("new_load_file", "`quanta load big.h5 -o out.qs`")
	row("new_inspect_file", "`quanta inspect -i big.qs`")
	row("new_cat_inspect", "`cat big.qs \\| quanta inspect`")
	print ""
	hop("new")
	printf "load | inspect vs h5py chunked read: %.2fx the speed of the h5py process, " \
	       "%.2fx of the read timed in Python\n", med["h5py_chunked"] / med["new_load_inspect"],
	       med["h5py_in_chunked"] / med["new_load_inspect"]
	if (base != "") {
		print ""
		print "| command | before s | after s | speed-up |"
		print "|---|---:|---:|---:|"
		n = split("load load_inspect load_save load_file inspect_file cat_inspect", k, " ")
		split("`quanta load big.h5 > /dev/null`;`quanta load big.h5 \\| quanta inspect`;" \
		      "`quanta load big.h5 \\| quanta save copy.h5`;`quanta load big.h5 -o out.qs`;" \
		      "`quanta inspect -i big.qs`;`cat big.qs \\| quanta inspect`", what, ";")
		for (i = 1; i <= n; i++)
			printf "| %-46s | %6.3f | %6.3f | %5.2fx |\n", what[i], med["base_" k[i]],
			       med["new_" k[i]], med["base_" k[i]] / med["new_" k[i]]
		hop("base")
	}
	print ""
	printf "| stage | peak RSS, %d rows | peak RSS, %d rows |\n", rows, small
	print "|---|---:|---:|"
	n = split("load inspect save filter split", st, " ")
	for (i = 1; i <= n; i++)
		printf "| %s | %.1f MB | %.1f MB |\n", st[i], rss[st[i], "big"] / 1024,
		       rss[st[i], "small"] / 1024
	print ""
	print "load average at the end: " load
}' results
[ -z "${IDLE:-}" ] || echo "each command started after the CPUs were ${IDLE}% idle for 5 s (unless warned above)"
