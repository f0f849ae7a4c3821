#!/usr/bin/env bats
# quanta simulate: the workflow dispatch and `jets`.  Streams are read back
# with msgpack + msgpack_numpy only, as a numpy user would.

load helpers

setup() { quanta_setup; }
teardown() { quanta_teardown; }

# summary FILE: one line per fact about a stream (fields, shapes, labels).
summary() {
	"$PY" - "$1" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
h, end, batches = msgs[0], msgs[-1], msgs[1:-1]
print("fields", " ".join(f"{f['name']}:{f['dtype']}:{f['shape']}" for f in h["fields"]))
print("classes", ",".join(h["fields"][1]["classes"]))
p = h["provenance"][-1]
print("prov", p["stage"], p["params"]["workflow"], "seed", p["params"]["seed"])
print("end", end["quanta.end"]["samples"])
if batches:
    d = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    print("n", len(d["labels"]), "batches", len(batches))
    print("image_shape", d["images"].shape[1:], d["images"].dtype)
    print("labels", d["labels"].min(), d["labels"].max(), d["labels"].dtype)
    s = d["images"].sum(axis=(1, 2, 3))
    print("sum_min %.5f sum_max %.5f" % (s.min(), s.max()))
    print("finite", bool(np.isfinite(d["images"]).all() and (d["images"] >= 0).all()))
    print("mass", d["mass"].dtype, "pt", d["pt"].dtype, "pt_range",
          bool((d["pt"] > 300).all() and (d["pt"] < 1100).all()))
EOF
}

# same_samples A B: the two streams hold the same samples, whatever batching.
same_samples() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
def read(p):
    bs = [x for x in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False)
          if "images" in x]
    return {k: np.concatenate([b[k] for b in bs]) for k in bs[0]}
a, b = read(sys.argv[1]), read(sys.argv[2])
sys.exit(0 if all(np.array_equal(a[k], b[k]) for k in a) else 1)
EOF
}

@test "simulate jets: fields, shapes, labels, normalisation, provenance" {
	run quanta simulate jets -n 100 --seed 3 -o "$T/j.qs"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run summary "$T/j.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"fields images:<f4:[1, 20, 20] labels:<i8:[] pt:<f4:[] mass:<f4:[]"* ]]
	[[ "$output" == *"classes g,q,t,w,z"* ]]
	[[ "$output" == *"prov simulate jets seed 3"* ]]
	[[ "$output" == *"end 100"* ]]
	[[ "$output" == *"n 100 batches 1"* ]]
	[[ "$output" == *"image_shape (1, 20, 20) float32"* ]]
	[[ "$output" == *"labels 0 4 int64"* ]]
	[[ "$output" == *"sum_min 1.00000 sum_max 1.00000"* ]]
	[[ "$output" == *"finite True"* ]]
	[[ "$output" == *"mass float32 pt float32 pt_range True"* ]]
}

@test "simulate jets: writes to stdout through the dispatcher" {
	quanta simulate jets -n 30 --batch 8 > "$T/s.qs"
	run summary "$T/s.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"n 30 batches 4"* ]]
}

@test "simulate jets: the same seed gives byte-identical output" {
	# (the same arguments: -o is recorded in the provenance)
	quanta-simulate jets -n 200 --seed 42 > "$T/a.qs"
	quanta-simulate jets -n 200 --seed 42 > "$T/b.qs"
	cmp "$T/a.qs" "$T/b.qs"
}

@test "simulate jets: different seeds give different jets" {
	quanta-simulate jets -n 50 --seed 1 -o "$T/a.qs"
	quanta-simulate jets -n 50 --seed 2 -o "$T/b.qs"
	run same_samples "$T/a.qs" "$T/b.qs"
	[ "$status" -eq 1 ]
}

@test "simulate jets: --batch does not change the samples" {
	quanta-simulate jets -n 250 --batch 7 -o "$T/a.qs"
	quanta-simulate jets -n 250 --batch 1000 -o "$T/b.qs"
	run summary "$T/a.qs"
	[[ "$output" == *"n 250 batches 36"* ]]
	same_samples "$T/a.qs" "$T/b.qs"
}

@test "simulate jets: a prefix of the samples is the same stream's prefix" {
	quanta-simulate jets -n 20 --seed 9 -o "$T/a.qs"
	quanta-simulate jets -n 50 --seed 9 --batch 20 -o "$T/b.qs"
	"$PY" - "$T/a.qs" "$T/b.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
first = lambda p: [x for x in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False) if "images" in x][0]
a, b = first(sys.argv[1]), first(sys.argv[2])
assert all(np.array_equal(a[k], b[k]) for k in a)
EOF
}

@test "simulate jets: --classes, --size and --normalise none" {
	quanta-simulate jets -n 60 --classes w,z --size 32 --normalise none -o "$T/wz.qs"
	run summary "$T/wz.qs"
	echo "$output"
	[[ "$output" == *"classes w,z"* ]]
	[[ "$output" == *"image_shape (1, 32, 32) float32"* ]]
	[[ "$output" == *"labels 0 1 int64"* ]]
	# Unnormalised images are in GeV: their sums are of the order of the jet pT.
	"$PY" - "$T/wz.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m
b = [x for x in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False) if "images" in x][0]
s = b["images"].sum(axis=(1, 2, 3))
assert (s > 300).all() and (s < 1300).all(), s
EOF
}

@test "simulate jets: -n 0 writes a valid empty stream" {
	quanta-simulate jets -n 0 -o "$T/e.qs"
	run summary "$T/e.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"end 0"* ]]
}

@test "simulate jets: no progress or chatter on stderr when it is not a terminal" {
	quanta-simulate jets -n 3000 2> "$T/err" > /dev/null
	[ ! -s "$T/err" ]
}

@test "simulate jets: a closed pipe stops it quietly" {
	run bash -c 'quanta-simulate jets -n 100000 | head -c 100 > /dev/null'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "simulate --help lists the workflows, jets --help has an example" {
	run quanta simulate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta simulate WORKFLOW"* ]]
	[[ "$output" == *"jets"* ]]
	[[ "$output" == *"Example"* ]]
	run quanta simulate jets --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--samples"* ]]
	[[ "$output" == *"--classes"* ]]
	[[ "$output" == *"Example:"* ]]
	[[ "$output" == *"quanta simulate jets -n"* ]]
}

@test "simulate --version" {
	run quanta simulate --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-simulate (quanta) "* ]]
	run quanta simulate jets --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-simulate (quanta) "* ]]
}

@test "simulate: unknown workflow names the known ones" {
	run quanta simulate x -o "$T/out.qs"
	assert_usage_error simulate
	[ "${lines[0]}" = "quanta-simulate: unknown workflow 'x' (known: jets, eor)" ]
	assert_no_file "$T/out.qs"
}

@test "simulate: missing workflow, options before the workflow" {
	run quanta simulate
	assert_usage_error simulate
	run quanta simulate -n 3 jets
	assert_usage_error simulate
	[[ "${lines[0]}" == *"WORKFLOW comes first"* ]]
}

@test "simulate jets: bad arguments give a one-line error, exit 2, no file" {
	local args
	while IFS= read -r args; do
		eval "run quanta simulate jets $args -o \"\$T/out.qs\""
		echo "$args -> $output"
		assert_usage_error simulate
		assert_no_file "$T/out.qs"
	done <<'EOF'
-n -1
-n abc
-n 1e3
--classes g,x
--classes g,g
--classes ''
--size 0
--size 1000
--batch 0
--seed -4
--pt-min 900 --pt-max 600
--pt-min 5
--radius 0
--resolution 0.5
--resolution 0.5,abc
--normalise l2
--noise nan
--bogus
--seed
extra
EOF
}

@test "simulate jets: the error names the problem" {
	run quanta simulate jets -n -1
	[[ "${lines[0]}" == "quanta-simulate: --samples: -1 is outside"* ]]
	run quanta simulate jets --classes g,x
	[[ "${lines[0]}" == "quanta-simulate: --classes: unknown class 'x' (known: g,q,t,w,z)" ]]
	run quanta simulate jets --size 0
	[[ "${lines[0]}" == "quanta-simulate: --size: 0 is outside [1, 256]" ]]
}

@test "simulate jets: an unwritable output is a runtime error, no file" {
	run quanta simulate jets -n 10 -o "$T/no/such/dir/out.qs"
	[ "$status" -ne 0 ]
	[[ "${lines[0]}" == "quanta-simulate: "* ]]
	[ ! -e "$T/no" ]
}
