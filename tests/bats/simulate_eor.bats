#!/usr/bin/env bats
# quanta simulate eor: 21cm brightness maps of reionisation.  Streams are
# read back with msgpack + msgpack_numpy only, as a numpy user would.

load helpers

setup() { quanta_setup; }
teardown() { quanta_teardown; }

# summary FILE: one line per fact about an eor stream.
summary() {
	"$PY" - "$1" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
h, end, batches = msgs[0], msgs[-1], msgs[1:-1]
print("fields", " ".join(f"{f['name']}:{f['dtype']}:{f['shape']}" for f in h["fields"]))
p = h["provenance"][-1]
print("prov", p["stage"], p["params"]["workflow"], "seed", p["params"]["seed"],
      "zeta", p["params"]["zeta_min"], p["params"]["zeta_max"])
print("end", end["quanta.end"]["samples"])
if batches:
    d = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    x, z, mp = d["xHI"], d["redshift"], d["maps"]
    print("n", len(x), "batches", len(batches))
    print("map_shape", mp.shape[1:], mp.dtype)
    print("redshifts", " ".join(f"{v:g}" for v in z))
    print("xhi_range", bool((x >= 0).all() and (x <= 1).all()), x.dtype)
    print("finite", bool(np.isfinite(mp).all() and (mp >= 0).all() and (mp < 1000).all()))
    # brightness follows the neutral fraction: 27 mK ((1 + z) / 10)^(1/2)
    # per unit xHI, times a mean density near 1
    t0 = 27 * np.sqrt((1 + z) / 10)
    r = mp.mean(axis=(1, 2, 3)) / (t0 * np.maximum(x, 1e-3))
    big = x > 0.1
    print("brightness_per_xhi", bool(big.any() and (r[big] > 0.6).all() and (r[big] < 1.3).all()))
    print("runs", " ".join(str(v) for v in d["run"]))
    same = all(len(set(d["zeta"][d["run"] == k])) == 1 for k in set(d["run"]))
    print("one_zeta_per_run", same)
EOF
}

# same_samples A B: the two streams hold the same samples, whatever batching.
same_samples() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
def read(p):
    bs = [x for x in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False)
          if "maps" in x]
    return {k: np.concatenate([b[k] for b in bs]) for k in bs[0]}
a, b = read(sys.argv[1]), read(sys.argv[2])
sys.exit(0 if all(np.array_equal(a[k], b[k]) for k in a) else 1)
EOF
}

@test "simulate eor: fields, shapes, ranges, layout, provenance" {
	run bash -c "quanta simulate eor -n 8 --size 64 --seed 3 > '$T/e.qs'"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run summary "$T/e.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"fields maps:<f4:[1, 64, 64] xHI:<f4:[] redshift:<f4:[] zeta:<f4:[] run:<i8:[]"* ]]
	[[ "$output" == *"prov simulate eor seed 3 zeta 8 32"* ]]
	[[ "$output" == *"end 8"* ]]
	[[ "$output" == *"n 8 batches 1"* ]]
	[[ "$output" == *"map_shape (1, 64, 64) float32"* ]]
	# four slices a redshift, the first two redshifts of 10,9.5,9,8.5,8
	[[ "$output" == *"redshifts 10 10 10 10 9.5 9.5 9.5 9.5"* ]]
	[[ "$output" == *"xhi_range True float32"* ]]
	[[ "$output" == *"finite True"* ]]
	[[ "$output" == *"runs 0 0 0 0 0 0 0 0"* ]]
}

@test "simulate eor: full-size maps, brightness per unit xHI as in SimFast21" {
	quanta simulate eor -n 20 --per-redshift 1 --zeta 10 -o "$T/e.qs"
	run summary "$T/e.qs"
	echo "$output"
	[[ "$output" == *"map_shape (1, 200, 200) float32"* ]]
	[[ "$output" == *"redshifts 10 9.5 9 8.5 8 10 9.5 9 8.5 8"* ]]
	[[ "$output" == *"brightness_per_xhi True"* ]]
	[[ "$output" == *"runs 0 0 0 0 0 1 1 1 1 1 2 2 2 2 2 3 3 3 3 3"* ]]
	[[ "$output" == *"one_zeta_per_run True"* ]]
}

@test "simulate eor: the same seed gives byte-identical output" {
	# (the same arguments: -o is recorded in the provenance)
	quanta-simulate eor -n 12 --size 32 --seed 42 > "$T/a.qs"
	quanta-simulate eor -n 12 --size 32 --seed 42 > "$T/b.qs"
	cmp "$T/a.qs" "$T/b.qs"
}

@test "simulate eor: different seeds give different maps" {
	quanta-simulate eor -n 6 --size 32 --seed 1 -o "$T/a.qs"
	quanta-simulate eor -n 6 --size 32 --seed 2 -o "$T/b.qs"
	run same_samples "$T/a.qs" "$T/b.qs"
	[ "$status" -eq 1 ]
}

@test "simulate eor: --batch and --threads do not change the maps" {
	quanta-simulate eor -n 30 --size 32 --batch 7 --threads 3 -o "$T/a.qs"
	quanta-simulate eor -n 30 --size 32 --batch 100 --threads 1 -o "$T/b.qs"
	run summary "$T/a.qs"
	[[ "$output" == *"n 30 batches 5"* ]]
	same_samples "$T/a.qs" "$T/b.qs"
}

@test "simulate eor: a prefix of the maps is the same stream's prefix" {
	quanta-simulate eor -n 5 --size 32 --seed 9 -o "$T/a.qs"
	quanta-simulate eor -n 25 --size 32 --seed 9 --batch 5 -o "$T/b.qs"
	"$PY" - "$T/a.qs" "$T/b.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
first = lambda p: [x for x in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False) if "maps" in x][0]
a, b = first(sys.argv[1]), first(sys.argv[2])
assert all(np.array_equal(a[k], b[k]) for k in a)
EOF
}

@test "simulate eor: --redshifts, --per-redshift, a fixed --zeta and the knobs" {
	quanta-simulate eor -n 6 --size 48 --box 36 --redshifts 9,7.5 --per-redshift 3 \
		--zeta 25 --tvir 2e4 --rmax 10 --rmin 1 --residual 0 --nonlinear 1.2 \
		--displacement 2 --no-velocity -o "$T/k.qs"
	run summary "$T/k.qs"
	echo "$output"
	[[ "$output" == *"prov simulate eor seed 1 zeta 25 25"* ]]
	[[ "$output" == *"map_shape (1, 48, 48) float32"* ]]
	[[ "$output" == *"redshifts 9 9 9 7.5 7.5 7.5"* ]]
	# reionisation proceeds: the run's slices are more ionised at z = 7.5
	"$PY" - "$T/k.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m
b = [x for x in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False) if "maps" in x][0]
x = b["xHI"]
assert x[3:].mean() < x[:3].mean(), x
EOF
}

@test "simulate eor: -n 0 writes a valid empty stream" {
	quanta-simulate eor -n 0 -o "$T/e.qs"
	run summary "$T/e.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"end 0"* ]]
}

@test "simulate eor: a closed pipe stops it quietly" {
	run bash -c 'quanta-simulate eor -n 100000 --size 32 | head -c 100 > /dev/null'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "simulate --help lists eor; eor --help has the options and an example" {
	run quanta simulate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"eor"* ]]
	run quanta simulate eor --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta simulate eor"* ]]
	[[ "$output" == *"--size"* ]]
	[[ "$output" == *"--redshifts"* ]]
	[[ "$output" == *"--per-redshift"* ]]
	[[ "$output" == *"--zeta"* ]]
	[[ "$output" == *"Example:"* ]]
	[[ "$output" == *"quanta simulate eor -n"* ]]
	run quanta simulate eor --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-simulate (quanta) "* ]]
}

@test "simulate eor: bad arguments give a one-line error, exit 2, no file" {
	local args
	while IFS= read -r args; do
		eval "run quanta simulate eor $args -o \"\$T/out.qs\""
		echo "$args -> $output"
		assert_usage_error simulate
		assert_no_file "$T/out.qs"
	done <<'EOF'
--size 0
--size 7
--size 2048
-n abc
-n -1
--batch 0
--seed -1
--box 0
--redshifts 8,,9
--redshifts 3
--redshifts abc
--per-redshift 0
--zeta 30,10
--zeta 0.5
--zeta 10,20,30
--tvir 0
--rmax 500
--rmin 40
--residual 2
--nonlinear nan
--displacement -1
--threads -1
--bogus
--size
extra
EOF
}

@test "simulate eor: the error names the problem" {
	run quanta simulate eor --size 7
	[ "${lines[0]}" = "quanta-simulate: --size: 7 must be an even number in [8, 1024]" ]
	run quanta simulate eor -n abc
	[[ "${lines[0]}" == "quanta-simulate: --samples: "* ]]
	run quanta simulate eor --zeta 30,10
	[[ "${lines[0]}" == "quanta-simulate: --zeta: 30,10 must be increasing"* ]]
	run quanta simulate eor --bogus
	[ "${lines[0]}" = "quanta-simulate: unknown option '--bogus'" ]
}

@test "simulate eor: an unwritable output is a runtime error, no file" {
	run quanta simulate eor -n 2 --size 16 -o "$T/no/such/dir/out.qs"
	[ "$status" -ne 0 ]
	[[ "${lines[0]}" == "quanta-simulate: "* ]]
	[ ! -e "$T/no" ]
}
