#!/bin/sh
# bench/run.sh: quanta against PyTorch on the jets CNN (models/jets.net),
# training and inference samples/s at 1 and 2 threads, peak memory, and
# achieved GFLOP/s as a fraction of the machine's peak.
#
#   make bench                                   # builds, then runs this
#   BENCHDIR=build/bench bench/run.sh            # run again
#   THREADS="1 2" RUNS=7 STEPS=20 PEAK_GFLOPS=80 bench/run.sh
#
# Each program runs once per thread count under /usr/bin/time -v (for
# "Maximum resident set size") and reports the median of RUNS timed runs
# of STEPS batches of 1000 (bench/jets_train.c, bench/jets_train_torch.py
# say exactly what is timed).  The ratio is quanta / PyTorch.  GFLOP/s
# counts a training step as 3 forward passes (forward, and backward twice
# the forward); PEAK_GFLOPS is the float32 peak per core (AVX2/AVX-512
# FMA: 2 FMA pipes x 8 floats x 2 flops x ~2.5 GHz = 80 on the machine
# of docs/BENCHMARKS.md).  On a shared machine, read the per-run lists
# printed with --verbose (VERBOSE=1) before trusting a median.
#
# Then bench/eor.sh (the eor-21cm VGG regressor: a few minutes and 5 GB
# of memory) with EOR_RUNS=5 runs of EOR_STEPS=1 step; EOR=0 skips it.
set -eu
BENCHDIR=${BENCHDIR:-build/bench}
THREADS=${THREADS:-1 2}
RUNS=${RUNS:-7}
STEPS=${STEPS:-20}
PEAK_GFLOPS=${PEAK_GFLOPS:-80}
PYTHON=${PYTHON:-/usr/bin/python3}
VERBOSE=${VERBOSE:-0}
TIME=/usr/bin/time

if [ ! -x "$BENCHDIR/jets_train" ]; then
	echo "bench/run.sh: $BENCHDIR/jets_train is missing (run 'make bench')" >&2
	exit 2
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
	echo "bench/run.sh: $PYTHON has no torch (install python3-torch)" >&2
	exit 2
fi
if [ ! -x "$TIME" ]; then
	echo "bench/run.sh: $TIME is missing (install the 'time' package)" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME THREADS COMMAND...: the program's result line plus rss_kb=N
run() {
	name=$1 t=$2; shift 2
	if ! "$TIME" -v "$@" > "$tmp/out" 2> "$tmp/err"; then
		echo "bench/run.sh: $name failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/err")
	printf '%s rss_kb=%s\n' "$(tail -n 1 "$tmp/out")" "$rss" >> "$tmp/results"
	[ "$VERBOSE" = 0 ] || tail -n 1 "$tmp/out" >&2
}

: > "$tmp/results"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $THREADS; do
	run quanta "$t" "$BENCHDIR/jets_train" --threads "$t" --runs "$RUNS" --steps "$STEPS"
	if [ "$t" -gt 1 ]; then
		OMP_WAIT_POLICY=PASSIVE run torch "$t" "$PYTHON" bench/jets_train_torch.py \
			--threads "$t" --runs "$RUNS" --steps "$STEPS"
	else
		run torch "$t" "$PYTHON" bench/jets_train_torch.py \
			--threads "$t" --runs "$RUNS" --steps "$STEPS"
	fi
done

awk -v peak="$PEAK_GFLOPS" '
function val(key,   i) {
	for (i = 2; i <= NF; i++)
		if (index($i, key "=") == 1)
			return substr($i, length(key) + 2)
	return ""
}
{
	t = val("threads"); who = $1
	train[who, t] = val("train_sps"); infer[who, t] = val("infer_sps")
	rss[who, t] = val("rss_kb")
	if (who == "quanta") flops = val("fwd_flops")
	if (!(t in seen)) { seen[t] = 1; order[++nt] = t }
}
END {
	printf "\njets CNN, batch 1000, float32; samples/s (median); forward %.0f FLOP/sample, training 3x\n", flops
	printf "%-7s %-9s %12s %12s %8s %8s %10s\n", "threads", "", "train/s", "infer/s",
	       "GFLOP/s", "of peak", "peak RSS"
	for (k = 1; k <= nt; k++) {
		t = order[k]
		for (w = 1; w <= 2; w++) {
			who = w == 1 ? "quanta" : "torch"
			g = train[who, t] * 3 * flops / 1e9
			printf "%-7s %-9s %12.0f %12.0f %8.2f %7.1f%% %7.0f MB\n", t, who,
			       train[who, t], infer[who, t], g, 100 * g / (peak * t),
			       rss[who, t] / 1024
		}
		printf "%-7s %-9s %11.2fx %11.2fx %8s %8s %9.2fx\n", t, "ratio",
		       train["quanta", t] / train["torch", t],
		       infer["quanta", t] / infer["torch", t], "", "",
		       rss["quanta", t] / rss["torch", t]
	}
}' "$tmp/results"

if [ "${EOR:-1}" != 0 ]; then
	echo
	BENCHDIR=$BENCHDIR THREADS=$THREADS RUNS=${EOR_RUNS:-5} \
		STEPS=${EOR_STEPS:-1} bench/eor.sh
fi
