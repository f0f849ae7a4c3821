#!/usr/bin/env bats
# The workflow pipelines end to end at a tiny size: each runs to
# completion, writes its metrics (JSON that parses, with sane values) and
# its pictures (PNG files).  Accuracy is not tested here: one epoch on a
# few hundred samples learns little.  About 30 s in all on two cores.

load helpers

setup() { quanta_setup; }
teardown() { quanta_teardown; }

# is_png FILE...: each file exists and starts with the PNG signature.
is_png() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || { echo "missing picture $f" >&2; return 1; }
		[ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
			{ echo "$f is not a PNG" >&2; return 1; }
	done
}

# json_get FILE KEY: the value of KEY in a JSON file (fails if it does not parse).
json_get() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

@test "pipelines/jets.sh: 2000 jets, 1 epoch: metrics and pictures" {
	run "$ROOT/pipelines/jets.sh" -n 2000 -e 1 -o "$T/jets"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"accuracy"* ]]
	[ "$(json_get "$T/jets/metrics.json" task)" = classification ]
	acc=$(json_get "$T/jets/metrics.json" accuracy)
	"$PY" -c "import sys; a = float(sys.argv[1]); assert 0 <= a <= 1, a" "$acc"
	# 20% of 2000, stratified: within one sample per class of 400
	n=$(json_get "$T/jets/metrics.json" samples)
	[ "$n" -ge 395 ] && [ "$n" -le 405 ]
	[ -s "$T/jets/jets.h5" ] && [ -s "$T/jets/train.jsonl" ]
	is_png "$T/jets"/{loss,confusion,images,class-means}.png
}

@test "pipelines/eor.sh: 200 maps, 1 epoch: R^2 printed, metrics and pictures" {
	run "$ROOT/pipelines/eor.sh" -n 200 -e 1 -o "$T/eor"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# the last line is "R^2 <number>", the number metrics.json holds
	last=${lines[${#lines[@]} - 1]}
	[[ "$last" == "R^2 "* ]]
	[ "$(json_get "$T/eor/metrics.json" task)" = regression ]
	r2=$(json_get "$T/eor/metrics.json" r2)
	"$PY" -c "import math, sys; assert math.isfinite(float(sys.argv[1]))" "$r2"
	[ "${last#R^2 }" = "$r2" ]
	# the test maps are the last run's (runs 0-7 train, 8-9 test)
	n=$(json_get "$T/eor/metrics.json" samples)
	[ "$n" -ge 2 ]
	[ -s "$T/eor/eor.h5" ] && [ -s "$T/eor/norm.h5" ] && [ -s "$T/eor/train.jsonl" ]
	is_png "$T/eor"/{loss,scatter,xhi-before,xhi-after,maps,maps-pred}.png
	[ ! -e "$T/eor/filtered.qs" ] && [ ! -e "$T/eor/balanced.qs" ]
}

@test "pipelines/eor.sh: train and test runs are disjoint" {
	run "$ROOT/pipelines/eor.sh" -n 100 -e 1 -o "$T/eor"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	"$PY" - "$T/eor/train.qs" "$T/eor/test.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
def runs(p):
    return set(np.concatenate([b["run"] for b in msgpack.Unpacker(open(p, "rb"),
        object_hook=m.decode, raw=False, max_buffer_size=2**31) if "run" in b]).tolist())
tr, te = runs(sys.argv[1]), runs(sys.argv[2])
assert tr and te and not tr & te, (tr, te)
EOF
}

@test "pipelines/eor-real.sh: sim -> real, half -> half, baselines" {
	[ -r "$DATA/eor-simfast21-maps.h5" ] || skip "no $DATA/eor-simfast21-maps.h5"
	"$ROOT/pipelines/eor.sh" -n 100 -e 1 -o "$T/eor" > /dev/null 2>&1
	# relative folders, as a user types them
	cd "$T"
	run "$ROOT/pipelines/eor-real.sh" -d eor -o real -e 2 -k 1 -B 50
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"sim -> real, network"*"R^2 "* ]]
	[[ "$output" == *"real half 1 -> half 0, network"* ]]
	# 45 of the 60 real maps pass the xHI cut: 23 in half 0, 22 in half 1
	[ "$(json_get "$T/real/metrics-sim2real.json" samples)" -eq 45 ]
	[ "$(json_get "$T/real/metrics-half0to1-s1.json" samples)" -eq 22 ]
	[ "$(json_get "$T/real/metrics-half1to0-s1.json" samples)" -eq 23 ]
	"$PY" - "$T/real" <<'EOF'
import json, math, sys
d = sys.argv[1]
for f, sets in (("baseline-sim.json", ["sim-test", "real"]),
                ("baseline-half0.json", ["half0to1-s1"]),
                ("baseline-half1.json", ["half1to0-s1"])):
    j = json.load(open(f"{d}/{f}"))
    for s in sets:
        t = j["tests"][s]
        # the linear (mean, std) baseline does well even when fitted on a
        # few maps (~0.87 from the 100-map simulation, 0.97 half -> half)
        assert t["mean+std"]["r2"] > 0.7, (f, s, t)
        assert math.isfinite(t["network"]["r2"]), (f, s, t)
EOF
	is_png "$T/real"/{real-xhi,real-maps,scatter-sim2real,scatter-half0to1,scatter-half1to0,loss-half0,loss-half1}.png
}
