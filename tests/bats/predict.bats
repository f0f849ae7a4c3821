#!/usr/bin/env bats
# quanta predict: normal use, mismatches refused, bad input.

load helpers

setup() {
	quanta_setup
	quanta simulate jets -n 400 --seed 3 > "$T/jets.qs"
	cat > "$T/tiny.net" <<'NET'
input images [1, 20, 20]
target labels
x = images | conv2d(2, kernel=5) | relu | maxpool2d(4) | flatten
logits = dense(x, 5)
loss cross_entropy(logits, labels)
train epochs=1 batch=100
NET
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/ck.h5" -q
}
teardown() { quanta_teardown; }

@test "predict: --help and --version" {
	run quanta predict --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Example"* ]]
	run quanta predict --version
	[ "$status" -eq 0 ]
}

@test "predict: adds prob and pred with class names; probabilities sum to 1" {
	quanta predict --model "$T/ck.h5" -i "$T/jets.qs" -b 64 -o "$T/out.qs"
	$PY - "$T/out.qs" <<'PY'
import msgpack, msgpack_numpy as m, numpy as np, sys
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
h = msgs[0]
names = [f["name"] for f in h["fields"]]
assert names[-2:] == ["prob", "pred"], names
assert h["fields"][-1]["classes"] == ["g", "q", "t", "w", "z"]
assert h["provenance"][-1]["stage"] == "predict"
batches = [b for b in msgs[1:] if "quanta.end" not in b]
prob = np.concatenate([b["prob"] for b in batches])
pred = np.concatenate([b["pred"] for b in batches])
assert prob.shape == (400, 5) and pred.shape == (400,)
assert np.allclose(prob.sum(1), 1, atol=1e-5)
assert (prob.argmax(1) == pred).all()
PY
}

@test "predict: the same predictions whatever the batch size (to float32 rounding)" {
	quanta predict --model "$T/ck.h5" -i "$T/jets.qs" -b 7 -o "$T/a.qs"
	quanta predict --model "$T/ck.h5" -i "$T/jets.qs" -b 400 -o "$T/b.qs"
	$PY - "$T" <<'PY'
import msgpack, msgpack_numpy as m, numpy as np, sys
def probs(p):
    ms = msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False)
    return np.concatenate([b["prob"] for b in list(ms)[1:] if "prob" in b])
# BLAS blocks a product differently for 7 rows and for 400: last-bit
# differences only.
a, b = probs(sys.argv[1] + "/a.qs"), probs(sys.argv[1] + "/b.qs")
assert a.shape == b.shape == (400, 5)
assert np.allclose(a, b, rtol=1e-5, atol=1e-6), abs(a - b).max()
PY
}

@test "predict: a stream with other shapes is refused, nothing written" {
	quanta simulate jets -n 10 --size 16 > "$T/small.qs"
	run quanta predict --model "$T/ck.h5" -i "$T/small.qs" -o "$T/out.qs"
	assert_usage_error predict
	[[ "$output" == *"images"*"trained on"* ]]
	assert_no_file "$T/out.qs"
}

@test "predict: a stream whose preprocessing differs is refused" {
	$PY - "$T/jets.qs" "$T/pre.qs" <<'PY'
import msgpack, sys
data = open(sys.argv[1], "rb").read()
u = msgpack.Unpacker(raw=False); u.feed(data)
msgs = list(u)
msgs[0]["provenance"].append({"stage": "normalise", "version": "0", "args": [],
    "params": {"normalise.sha256": "ab" * 32}})
with open(sys.argv[2], "wb") as f:
    for x in msgs: f.write(msgpack.packb(x, use_bin_type=True))
PY
	run quanta predict --model "$T/ck.h5" -i "$T/pre.qs" -o "$T/out.qs"
	assert_usage_error predict
	[[ "$output" == *"normalise.sha256"* ]]
	assert_no_file "$T/out.qs"
	run quanta predict --model "$T/ck.h5" -i "$T/pre.qs" --ignore-preprocessing -o "$T/out.qs"
	[ "$status" -eq 0 ]
}

@test "predict: missing, foreign or corrupt checkpoints" {
	run quanta predict --model "$T/none.h5" -i "$T/jets.qs"
	assert_usage_error predict
	$PY -c "import h5py; h5py.File('$T/foreign.h5', 'w')['x'] = [1]"
	run quanta predict --model "$T/foreign.h5" -i "$T/jets.qs" -o "$T/out.qs"
	assert_usage_error predict
	[[ "$output" == *"not a quanta checkpoint"* ]]
	head -c 3000 "$T/ck.h5" > "$T/cut.h5"
	run quanta predict --model "$T/cut.h5" -i "$T/jets.qs" -o "$T/out.qs"
	assert_usage_error predict
	assert_no_file "$T/out.qs"
}

@test "predict: truncated input leaves no output file" {
	head -c 50000 "$T/jets.qs" > "$T/cut.qs"
	run quanta predict --model "$T/ck.h5" -i "$T/cut.qs" -o "$T/out.qs"
	assert_usage_error predict
	assert_no_file "$T/out.qs"
}
