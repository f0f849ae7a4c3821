#!/bin/sh
# bench/eor.sh: quanta against PyTorch on the eor-21cm VGG regressor
# (models/eor.net: 200x200 maps, batch 16, Adam; 167M parameters, 164M of
# them in the first dense layer), training samples/s at 1 and 2 threads
# and peak memory.  bench/run.sh runs it after the jets benchmark.
#
#   make bench-build && bench/eor.sh             # build/bench/eor_train
#   BENCHDIR=build/bench SIZE=64 bench/eor.sh    # the quick 64x64 variant
#   THREADS="1 2" ROUNDS=3 RUNS=5 STEPS=1 WARMUP=1 bench/eor.sh
#
# For each thread count the two programs take turns, ROUNDS times each,
# so that both see the same load on a shared machine.  Each runs under
# /usr/bin/time -v (for "Maximum resident set size") and reports the
# median of RUNS timed runs of STEPS training steps after WARMUP untimed
# ones (bench/eor_train.c and bench/eor_train_torch.py say exactly what is
# timed), with the median time per step of the forward pass, backward
# pass and optimizer step; the table shows the median over the rounds
# (the largest peak RSS).  The ratio is quanta / PyTorch.  Peak RSS is
# that of the whole process
# (libraries, interpreter and the synthetic data included).  On a shared
# machine, read the per-run lists printed with VERBOSE=1 before trusting
# a median; IDLE=90 waits, before each program, until the CPUs have been
# at least 90% idle over 5 s (at most IDLE_WAIT=300 s), as bench/io.sh.
set -eu
BENCHDIR=${BENCHDIR:-build/bench}
THREADS=${THREADS:-1 2}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-200}
RUNS=${RUNS:-5}
STEPS=${STEPS:-1}
WARMUP=${WARMUP:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
VERBOSE=${VERBOSE:-0}
TIME=/usr/bin/time

if [ ! -x "$BENCHDIR/eor_train" ]; then
	echo "bench/eor.sh: $BENCHDIR/eor_train is missing (run 'make bench-build')" >&2
	exit 2
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
	echo "bench/eor.sh: $PYTHON has no torch (install python3-torch)" >&2
	exit 2
fi
if [ ! -x "$TIME" ]; then
	echo "bench/eor.sh: $TIME is missing (install the 'time' package)" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/idle.sh"

# run NAME COMMAND...: the program's result line plus time_rss_kb=N
run() {
	name=$1; shift
	wait_idle
	if ! "$TIME" -v "$@" > "$tmp/out" 2> "$tmp/err"; then
		echo "bench/eor.sh: $name failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/err")
	printf '%s time_rss_kb=%s\n' "$(tail -n 1 "$tmp/out")" "$rss" >> "$tmp/results"
	[ "$VERBOSE" = 0 ] || tail -n 1 "$tmp/out" >&2
}

: > "$tmp/results"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
args="--size $SIZE --runs $RUNS --steps $STEPS --warmup $WARMUP"
for t in $THREADS; do
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		r=$((r + 1))
		# shellcheck disable=SC2086
		run quanta "$BENCHDIR/eor_train" --threads "$t" $args
		if [ "$t" -gt 1 ]; then
			# shellcheck disable=SC2086
			OMP_WAIT_POLICY=PASSIVE run torch "$PYTHON" \
				bench/eor_train_torch.py --threads "$t" $args
		else
			# shellcheck disable=SC2086
			run torch "$PYTHON" bench/eor_train_torch.py --threads "$t" $args
		fi
	done
done

awk -v size="$SIZE" '
function val(key,   i) {
	for (i = 2; i <= NF; i++)
		if (index($i, key "=") == 1)
			return substr($i, length(key) + 2)
	return ""
}
# median of the space-separated numbers in s
function med(s,   a, n, i, j, x) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			x = a[j]; a[j] = a[j - 1]; a[j - 1] = x
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	t = val("threads"); who = $1; k = who SUBSEP t
	s_sps[k] = s_sps[k] " " val("train_sps")
	s_fwd[k] = s_fwd[k] " " val("fwd_s"); s_bwd[k] = s_bwd[k] " " val("bwd_s")
	s_opt[k] = s_opt[k] " " val("opt_s")
	if (val("time_rss_kb") + 0 > rss[k] + 0) rss[k] = val("time_rss_kb")
	if (!(t in seen)) { seen[t] = 1; order[++nt] = t }
}
END {
	for (k in s_sps) {
		sps[k] = med(s_sps[k]); fwd[k] = med(s_fwd[k])
		bwd[k] = med(s_bwd[k]); opt[k] = med(s_opt[k])
	}
	printf "\neor VGG regressor, %dx%d, batch 16, Adam, float32; samples/s and seconds per step (medians)\n", size, size
	printf "%-7s %-7s %10s %8s %8s %8s %14s\n", "threads", "", "train/s", "forward", "backward",
	       "adam", "peak RSS"
	for (k = 1; k <= nt; k++) {
		t = order[k]
		for (w = 1; w <= 2; w++) {
			who = w == 1 ? "quanta" : "torch"
			printf "%-7s %-7s %10.2f %8.3f %8.3f %8.3f %7.0f MiB\n", t, who,
			       sps[who, t], fwd[who, t], bwd[who, t], opt[who, t],
			       rss[who, t] / 1024
		}
		printf "%-7s %-7s %9.2fx %8s %8s %8s %13.2fx\n", t, "ratio",
		       sps["quanta", t] / sps["torch", t], "", "", "",
		       rss["quanta", t] / rss["torch", t]
	}
}' "$tmp/results"
