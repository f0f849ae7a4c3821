#!/usr/bin/env bats
# quanta train: normal use, reproducibility, resume, and bad input.

load helpers

setup() {
	quanta_setup
	# A small jets stream shared by the tests.
	quanta simulate jets -n 600 --seed 3 > "$T/jets.qs"
	cat > "$T/tiny.net" <<'NET'
input images [1, 20, 20]
target labels
x = images | conv2d(2, kernel=5) | relu | maxpool2d(4) | flatten
logits = dense(x, 5)
loss cross_entropy(logits, labels)
optimizer adam(lr=0.01)
train epochs=2 batch=100
NET
}
teardown() { quanta_teardown; }

@test "train: --help shows usage and an example" {
	run quanta train --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta train"* ]]
	[[ "$output" == *"Example"* ]]
}

@test "train: --version" {
	run quanta train --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-train (quanta) "* ]]
}

@test "train: --summary prints the jets network with 3505 parameters" {
	run quanta train --model "$ROOT/models/jets.net" --summary
	[ "$status" -eq 0 ]
	[[ "$output" == *"conv2d_1 (conv2d)"*"(*, 5, 16, 16)"*"130"* ]]
	[[ "$output" == *"Total params: 3505"* ]]
}

@test "train: writes an h5py-readable checkpoint and a JSON-lines log" {
	run quanta train --model "$T/tiny.net" -i "$T/jets.qs" --val-fraction 0.2 \
		--log "$T/log.jsonl" -o "$T/ck.h5" -j 1
	[ "$status" -eq 0 ]
	[ "$(wc -l < "$T/log.jsonl")" -eq 2 ]
	$PY - "$T/ck.h5" "$T/log.jsonl" <<'PY'
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == "quanta-checkpoint"
assert f["weights/conv2d_1/weight"].shape == (2, 1, 5, 5)
assert f["weights/dense_1/bias"].shape == (5,)
assert f["optimizer/dense_1/weight/exp_avg"].shape == (5, 32)
assert list(f["history/epoch"][:]) == [1.0, 2.0]
assert "input images" in f.attrs["model"]
st = json.loads(f.attrs["state"])
assert st["epoch"] == 2 and st["step"] == 10, st   # 480 samples / 100
lines = [json.loads(l) for l in open(sys.argv[2])]
assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(lines[0])
PY
}

@test "train: same seed and data give bit-identical weights, at 1 and 2 threads" {
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/a.h5" -q -j 1
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/b.h5" -q -j 2
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/c.h5" -q -j 1 --seed 9
	$PY - "$T" <<'PY'
import h5py, numpy as np, sys
t = sys.argv[1]
def w(p): return h5py.File(p, "r")["weights/dense_1/weight"][:]
assert np.array_equal(w(t + "/a.h5"), w(t + "/b.h5"))
assert not np.array_equal(w(t + "/a.h5"), w(t + "/c.h5"))
PY
}

@test "train: resuming gives the same weights as training straight through" {
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/full.h5" -q -e 3
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" -o "$T/half.h5" -q -e 1
	quanta train --resume "$T/half.h5" -i "$T/jets.qs" -o "$T/resumed.h5" -q -e 3
	$PY - "$T" <<'PY'
import h5py, numpy as np, sys
t = sys.argv[1]
a, b = h5py.File(t + "/full.h5", "r"), h5py.File(t + "/resumed.h5", "r")
for k in ["conv2d_1/weight", "dense_1/weight", "dense_1/bias"]:
    assert np.array_equal(a["weights/" + k][:], b["weights/" + k][:]), k
assert list(b["history/epoch"][:]) == [1.0, 2.0, 3.0]
PY
}

@test "train: early stopping and schedules are accepted" {
	run quanta train --model "$T/tiny.net" -i "$T/jets.qs" --val-fraction 0.25 \
		-e 4 --early-stopping 1 --schedule step:1:0.5 -o "$T/es.h5"
	[ "$status" -eq 0 ]
	[ -f "$T/es.h5" ]
}

@test "train: with early stopping the checkpoint is the best epoch's whole state" {
	# lr 0.3: val_loss falls to epoch 3, then rises; patience 2 stops at 5
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" --val-fraction 0.25 \
		-e 10 --early-stopping 2 --lr 0.3 --log "$T/es.jsonl" -o "$T/es.h5" -q
	best=$($PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
v = [x["val_loss"] for x in r]
assert len(r) < 10, "did not stop early"
print(v.index(min(v)) + 1)' "$T/es.jsonl")
	[ "$best" -lt "$(wc -l < "$T/es.jsonl")" ]
	# the same run ended at the best epoch
	quanta train --model "$T/tiny.net" -i "$T/jets.qs" --val-fraction 0.25 \
		-e "$best" --lr 0.3 -o "$T/straight.h5" -q
	# resumed with nothing better to find, into another file: the best again
	quanta train --resume "$T/es.h5" -i "$T/jets.qs" --val-fraction 0.25 \
		-e 10 --early-stopping 2 -o "$T/again.h5" -q
	$PY - "$T" "$best" <<'PY'
import h5py, json, numpy as np, sys
t, best = sys.argv[1], int(sys.argv[2])
def tensors(f):
    out = {}
    for top in ("weights", "optimizer"):
        f[top].visititems(lambda k, d: out.setdefault(top + "/" + k, d[()])
                          if isinstance(d, h5py.Dataset) else None)
    return out
es, st = h5py.File(t + "/es.h5", "r"), h5py.File(t + "/straight.h5", "r")
a, b = tensors(es), tensors(st)
assert a.keys() == b.keys() and any(k.startswith("optimizer/") for k in a)
for k in a:
    assert np.array_equal(a[k], b[k]), k
assert json.loads(es.attrs["state"])["epoch"] == best
assert list(es["history/epoch"][:]) == list(range(1, best + 1))
c = tensors(h5py.File(t + "/again.h5", "r"))
for k in a:
    assert np.array_equal(a[k], c[k]), k
PY
}

@test "train: a model file with a typo names file, line and column" {
	sed 's/kernel=5/kernal=5/' "$T/tiny.net" > "$T/typo.net"
	run quanta train --model "$T/typo.net" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"typo.net:3:"*"no option 'kernal'"* ]]
	assert_no_file "$T/x.h5"
}

@test "train: a stream without the model's input field is refused" {
	sed 's/input images/input pixels/; s/= images/= pixels/' "$T/tiny.net" > "$T/other.net"
	run quanta train --model "$T/other.net" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"no field 'pixels'"* ]]
	assert_no_file "$T/x.h5"
}

@test "train: shapes that do not fit the model are refused" {
	sed 's/\[1, 20, 20\]/[1, 16, 16]/' "$T/tiny.net" > "$T/shape.net"
	run quanta train --model "$T/shape.net" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"(1, 16, 16)"*"(1, 20, 20)"* ]]
}

@test "train: labels out of range are refused" {
	sed 's/dense(x, 5)/dense(x, 3)/' "$T/tiny.net" > "$T/three.net"
	run quanta train --model "$T/three.net" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"classes"* ]]
	assert_no_file "$T/x.h5"
}

@test "train: a loss that diverges stops with a clear message, nothing written" {
	cat > "$T/reg.net" <<'NET'
input images [1, 20, 20]
target mass
y = images | flatten | dense(1)
loss mse(y, mass)
optimizer sgd(lr=1000)
train epochs=20 batch=100
NET
	run quanta train --model "$T/reg.net" -i "$T/jets.qs" -o "$T/x.h5" -q
	assert_usage_error train
	[[ "$output" == *"the loss became inf"* ]]
	assert_no_file "$T/x.h5"
}

@test "train: NaN in the inputs is refused" {
	$PY - "$T/nan.qs" <<'PY'
import msgpack, msgpack_numpy as m, numpy as np, sys
x = np.zeros((10, 1, 20, 20), np.float32); x[3, 0, 5, 5] = np.nan
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"quanta": 1, "fields": [
        {"name": "images", "dtype": "<f4", "shape": [1, 20, 20]},
        {"name": "labels", "dtype": "<i8", "shape": []}]}))
    f.write(msgpack.packb({"images": x, "labels": np.zeros(10, np.int64)}, default=m.encode))
PY
	run quanta train --model "$T/tiny.net" -i "$T/nan.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"non-finite"* ]]
	assert_no_file "$T/x.h5"
}

@test "train: truncated input stream and missing files" {
	head -c 100000 "$T/jets.qs" > "$T/cut.qs"
	run quanta train --model "$T/tiny.net" -i "$T/cut.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"truncated"* ]]
	run quanta train --model "$T/missing.net" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	run quanta train --model "$T/tiny.net" -i "$T/missing.qs" -o "$T/x.h5"
	assert_usage_error train
	assert_no_file "$T/x.h5"
}

@test "train: a foreign HDF5 file is not a checkpoint to resume" {
	$PY -c "import h5py; h5py.File('$T/foreign.h5', 'w')['x'] = [1, 2]"
	run quanta train --resume "$T/foreign.h5" -i "$T/jets.qs" -o "$T/x.h5"
	assert_usage_error train
	[[ "$output" == *"not a quanta checkpoint"* ]]
}

@test "train: bad options" {
	run quanta train --model "$T/tiny.net" --epochs 0 -o "$T/x.h5"
	assert_usage_error train
	run quanta train --model "$T/tiny.net" --lr abc -o "$T/x.h5"
	assert_usage_error train
	run quanta train --model "$T/tiny.net" --bogus
	assert_usage_error train
	[[ "$output" == *"unknown option '--bogus'"* ]]
	run quanta train --model "$T/tiny.net" -i "$T/jets.qs"
	assert_usage_error train
}
