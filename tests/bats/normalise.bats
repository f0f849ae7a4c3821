#!/usr/bin/env bats
# quanta-normalise: fit on a training stream, apply to a test stream;
# numbers checked against numpy, the parameter file against h5py, the
# identity in the provenance, and every kind of bad input.

load helpers

setup() {
	quanta_setup
	PS="$ROOT/tests/pystream.py"
	# maps: 3 channels of 4x4; counts: small integers.
	$PY "$PS" write "$T/train.qs" --field maps:f4:3,4,4 --field counts:u1:2,3 \
		--field labels:i8: --random 50 --batch 8 --seed 1
	$PY "$PS" write "$T/test.qs" --field maps:f4:3,4,4 --field counts:u1:2,3 \
		--field labels:i8: --random 20 --batch 8 --seed 2
	# expect.py METHOD PER_CHANNEL FIELD TRAIN TEST OUT: numpy's
	# normalisation of TEST with TRAIN's statistics against OUT.
	cat > "$T/expect.py" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1])
	import numpy as np
	import pystream as ps
	method, per_channel, field, train, test, out = sys.argv[2:8]
	def load(path):
	    r = ps.Reader(open(path, "rb"))
	    return np.concatenate([b[field] for b in r]), r.header
	x, _ = load(train)
	t, _ = load(test)
	y, h = load(out)
	x, t = x.astype(np.float64), t.astype(np.float64)
	if per_channel == "1":
	    # channel = axis 1 of the batch array: statistics over the others
	    axes = tuple(i for i in range(x.ndim) if i != 1)
	    shape = [1, -1] + [1] * (x.ndim - 2)
	else:
	    axes, shape = None, [1]
	def stat(f, a):
	    return np.asarray(f(a, axis=axes)).reshape(shape)
	if "minmax" in method:
	    lo, hi = stat(np.min, x), stat(np.max, x)
	    x, t = (x - lo) / (hi - lo), (t - lo) / (hi - lo)
	if "standard" in method:
	    m, s = stat(np.mean, x), stat(np.std, x)
	    t = (t - m) / s
	assert y.dtype == np.float32, y.dtype
	err = np.abs(y - t).max() / max(1.0, np.abs(t).max())
	print("max relative error %.3g" % err)
	sys.exit(0 if err < 2e-6 else 1)
	EOF
	# ident.py PARAMS: the sha256 recomputed from the file, as
	# docs/stages/normalise.md specifies it.
	cat > "$T/ident.py" <<-'EOF'
	import hashlib, sys
	import h5py
	import numpy as np
	f = h5py.File(sys.argv[1], "r")
	a = f.attrs
	shape = ",".join("*" if d < 0 else str(d) for d in np.atleast_1d(a["shape"]))
	msg = ("quanta-normalise 1\nfield=%s\nmethod=%s\nper_channel=%d\nshape=%s\n"
	       % (a["field"], a["method"], a["per_channel"], shape)).encode()
	msg += b"scale=" + f["scale"][()].astype("<f8").tobytes() + b"\n"
	msg += b"offset=" + f["offset"][()].astype("<f8").tobytes() + b"\n"
	print(hashlib.sha256(msg).hexdigest(), a["sha256"])
	EOF
}

teardown() { quanta_teardown; }

expect() { $PY "$T/expect.py" "$ROOT/tests" "$@"; }

@test "normalise: fit on train, apply on test: every method matches numpy" {
	for method in minmax standard minmax,standard; do
		for pc in 0 1; do
			opt=; [ $pc = 1 ] && opt=--per-channel
			quanta normalise --fit "$T/p.h5" --field maps --method $method \
				$opt --no-output -q -i "$T/train.qs"
			quanta normalise --apply "$T/p.h5" -q -i "$T/test.qs" \
				-o "$T/out.qs"
			run expect $method $pc maps "$T/train.qs" "$T/test.qs" "$T/out.qs"
			echo "$method per-channel=$pc: $output"
			[ "$status" -eq 0 ]
		done
	done
}

@test "normalise: --fit with an output normalises the training set as --apply does" {
	run quanta normalise --fit "$T/p.h5" --field maps --method minmax,standard \
		--per-channel -i "$T/train.qs" -o "$T/train-n.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fitted minmax,standard on field 'maps' (50 samples, 3 channels)"* ]]
	run expect minmax,standard 1 maps "$T/train.qs" "$T/train.qs" "$T/train-n.qs"
	[ "$status" -eq 0 ]
	quanta normalise --apply "$T/p.h5" -q -i "$T/train.qs" -o "$T/train-a.qs"
	diff <($PY "$PS" samples "$T/train-n.qs") <($PY "$PS" samples "$T/train-a.qs")
	# The other fields pass through untouched.
	run $PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np
a = list(ps.Reader(open('$T/train.qs', 'rb'))); b = list(ps.Reader(open('$T/train-n.qs', 'rb')))
print(all((x['counts'] == y['counts']).all() and (x['labels'] == y['labels']).all() for x, y in zip(a, b)))"
	[ "$output" = True ]
}

@test "normalise: a piped input (spooled) fits and normalises as a file does" {
	quanta normalise --fit "$T/a.h5" --field maps -q -i "$T/train.qs" -o "$T/a.qs"
	cat "$T/train.qs" | TMPDIR="$T" quanta normalise --fit "$T/b.h5" \
		--field maps -q > "$T/b.qs"
	diff <($PY "$PS" samples "$T/a.qs") <($PY "$PS" samples "$T/b.qs")
	[ "$($PY "$T/ident.py" "$T/a.h5")" = "$($PY "$T/ident.py" "$T/b.h5")" ]
	[ -z "$(ls "$T" | grep quanta-spool)" ]
}

@test "normalise: --no-output writes the parameters and no stream" {
	run quanta normalise --fit "$T/p.h5" --field maps --no-output -q \
		-i "$T/train.qs"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -s "$T/p.h5" ]
}

@test "normalise: the parameter file holds the statistics, readable with h5py" {
	quanta normalise --fit "$T/p.h5" --field maps --method minmax,standard \
		--per-channel --no-output -i "$T/train.qs"
	run $PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np, h5py
x = np.concatenate([b['maps'] for b in ps.Reader(open('$T/train.qs', 'rb'))]).astype(np.float64)
f = h5py.File('$T/p.h5', 'r'); a = f.attrs
assert a['format'] == 'quanta-normalise 1' and a['field'] == 'maps'
assert a['method'] == 'minmax,standard' and a['per_channel'] == 1
assert list(a['shape']) == [3, 4, 4] and a['channels'] == 3 and a['count'] == 50 * 16
assert a['dtype'] == 'float32' and a['ddof'] == 0
ax = (0, 2, 3)
lo, hi = x.min(axis=ax), x.max(axis=ax)
s = (x - lo[None, :, None, None]) / (hi - lo)[None, :, None, None]
for k, v in [('min', lo), ('max', hi), ('mean', x.mean(axis=ax)), ('std', x.std(axis=ax)),
             ('scaled_mean', s.mean(axis=ax)), ('scaled_std', s.std(axis=ax))]:
    assert np.allclose(f[k][()], v, rtol=1e-12, atol=1e-12), k
# scale/offset: the one affine map per channel
y = x * f['scale'][()][None, :, None, None] + f['offset'][()][None, :, None, None]
assert np.allclose(y.mean(axis=ax), 0, atol=1e-9) and np.allclose(y.std(axis=ax), 1)
print('ok')"
	echo "$output"
	[ "$output" = ok ]
	# The identity is the documented sha256 of the transform.
	run $PY "$T/ident.py" "$T/p.h5"
	set -- $output
	[ "$1" = "$2" ]
}

@test "normalise: train and test streams carry the same identity in their provenance" {
	quanta normalise --fit "$T/p.h5" --field maps --method minmax,standard \
		-q -i "$T/train.qs" -o "$T/train-n.qs"
	quanta normalise --apply "$T/p.h5" -q -i "$T/test.qs" -o "$T/test-n.qs"
	sha=$($PY -c "import h5py; print(h5py.File('$T/p.h5', 'r').attrs['sha256'])")
	[ ${#sha} -eq 64 ]
	for f in train-n test-n; do
		run quanta inspect --header "$T/$f.qs"
		[[ "$output" == *"normalise.sha256=$sha"* ]]
		[[ "$output" == *"normalise.params=$T/p.h5"* ]]
		[[ "$output" == *"normalise.field=maps"* ]]
		[[ "$output" == *"normalise.method=minmax,standard"* ]]
		[[ "$output" == *"normalise.per_channel=0"* ]]
	done
	run $PY "$PS" header "$T/test-n.qs"
	[[ "$output" == *"\"normalise.sha256\": \"$sha\""* ]]
}

@test "normalise: swapping the method changes the identity, not the stream's layout" {
	quanta normalise --fit "$T/a.h5" --field maps --method minmax,standard -q \
		-i "$T/train.qs" -o "$T/a.qs"
	quanta normalise --fit "$T/b.h5" --field maps --method standard -q \
		-i "$T/train.qs" -o "$T/b.qs"
	a=$($PY "$T/ident.py" "$T/a.h5" | cut -d' ' -f1)
	b=$($PY "$T/ident.py" "$T/b.h5" | cut -d' ' -f1)
	[ "$a" != "$b" ]
	diff <(quanta inspect --header "$T/a.qs" | sed -n '/^fields/,/^provenance/p') \
	     <(quanta inspect --header "$T/b.qs" | sed -n '/^fields/,/^provenance/p')
	# min-max then standardise is, up to rounding, standardisation.
	run expect standard 0 maps "$T/train.qs" "$T/train.qs" "$T/a.qs"
	[ "$status" -eq 0 ]
}

@test "normalise: integer input becomes float32" {
	quanta normalise --fit "$T/p.h5" --field counts --method minmax -q \
		-i "$T/train.qs" -o "$T/out.qs"
	quanta normalise --apply "$T/p.h5" -q -i "$T/test.qs" -o "$T/test-n.qs"
	run expect minmax 0 counts "$T/train.qs" "$T/test.qs" "$T/test-n.qs"
	[ "$status" -eq 0 ]
	run quanta inspect --header "$T/test-n.qs"
	[[ "$output" =~ counts\ +float32\ +\(2,\ 3\) ]]
}

@test "normalise: a ragged field per channel uses the columns of its rows" {
	$PY "$PS" write "$T/g.qs" --field nodes:f4:*,3 --random 30 --batch 7 \
		--max-rows 6 --seed 4
	quanta normalise --fit "$T/p.h5" --field nodes --per-channel -q \
		-i "$T/g.qs" -o "$T/g-n.qs"
	run $PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np
x = np.concatenate([b['nodes'] for b in ps.Reader(open('$T/g.qs', 'rb'))]).astype(np.float64)
y = np.concatenate([b['nodes'] for b in ps.Reader(open('$T/g-n.qs', 'rb'))])
want = (x - x.mean(axis=0)) / x.std(axis=0)
print(np.abs(y - want).max() < 1e-5)"
	[ "$output" = True ]
}

@test "normalise: --help and --version" {
	run quanta normalise --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta normalise --fit"* ]]
	[[ "$output" == *"Examples:"* ]]
	run quanta normalise --version
	[ "$status" -eq 0 ]
}

@test "normalise: usage errors" {
	run quanta normalise -i "$T/train.qs"
	assert_usage_error normalise
	run quanta normalise --fit "$T/p.h5" --apply "$T/p.h5" -i "$T/train.qs"
	assert_usage_error normalise
	run quanta normalise --fit "$T/p.h5" -i "$T/train.qs"
	assert_usage_error normalise
	[[ "$output" == *"--field"* ]]
	run quanta normalise --fit "$T/p.h5" --field maps --method zscore -i "$T/train.qs"
	assert_usage_error normalise
	run quanta normalise --apply "$T/p.h5" --method minmax -i "$T/train.qs"
	assert_usage_error normalise
	run quanta normalise --fit "$T/p.h5" --field maps --no-output -o "$T/x.qs"
	assert_usage_error normalise
	run quanta normalise --fit "$T/p.h5" --field maps --per-chanel
	assert_usage_error normalise
	assert_no_file "$T/p.h5" "$T/x.qs"
}

@test "normalise: a missing parameter file is a one-line error, no output" {
	run quanta normalise --apply "$T/nope.h5" -i "$T/test.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"nope.h5"* ]]
	assert_no_file "$T/out.qs"
	echo "not hdf5" > "$T/bad.h5"
	run quanta normalise --apply "$T/bad.h5" -i "$T/test.qs" -o "$T/out.qs"
	assert_usage_error normalise
	assert_no_file "$T/out.qs"
}

@test "normalise: parameters fitted on another layout are refused" {
	quanta normalise --fit "$T/p.h5" --field maps --per-channel --no-output \
		-q -i "$T/train.qs"
	# per-sample shape differs (and with it the channel count)
	$PY "$PS" write "$T/other.qs" --field maps:f4:2,4,4 --random 5 --seed 3
	run quanta normalise --apply "$T/p.h5" -i "$T/other.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"shape (2, 4, 4) here"*"(3, 4, 4)"* ]]
	assert_no_file "$T/out.qs"
	# field missing
	$PY "$PS" write "$T/other.qs" --field images:f4:3,4,4 --random 5 --seed 3
	run quanta normalise --apply "$T/p.h5" -i "$T/other.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"fitted on field 'maps'"*"images"* ]]
	assert_no_file "$T/out.qs"
	# --field names another field than the file's
	run quanta normalise --apply "$T/p.h5" --field counts -i "$T/test.qs" \
		-o "$T/out.qs"
	assert_usage_error normalise
	assert_no_file "$T/out.qs"
}

@test "normalise: edited parameters are refused" {
	quanta normalise --fit "$T/p.h5" --field maps --no-output -q -i "$T/train.qs"
	$PY -c "
import h5py; f = h5py.File('$T/p.h5', 'r+'); f['scale'][0] = 2.0; f.close()"
	run quanta normalise --apply "$T/p.h5" -i "$T/test.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"sha256"* ]]
	assert_no_file "$T/out.qs"
}

@test "normalise: zero variance is an error at fit time, --allow-constant maps it to 0" {
	$PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np
w = ps.Writer(open('$T/c.qs', 'wb'), [ps.field('maps', '<f4', [2, 3])])
x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
x[:, 1] = 0.5
w.write({'maps': x}); w.close()"
	run quanta normalise --fit "$T/p.h5" --field maps --per-channel \
		-i "$T/c.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"field 'maps' channel 1 is constant"*"--allow-constant"* ]]
	assert_no_file "$T/p.h5" "$T/out.qs"
	# globally the field is not constant
	run quanta normalise --fit "$T/p.h5" --field maps -q -i "$T/c.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	rm "$T/p.h5" "$T/out.qs"
	run quanta normalise --fit "$T/p.h5" --field maps --per-channel \
		--allow-constant -i "$T/c.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: field 'maps' channel 1 is constant (0.5)"* ]]
	run $PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np
y = np.concatenate([b['maps'] for b in ps.Reader(open('$T/out.qs', 'rb'))])
print((y[:, 1] == 0).all(), abs(y[:, 0].std() - 1) < 1e-6)"
	[ "$output" = "True True" ]
}

@test "normalise: NaN in the data names the field and batch, leaves nothing" {
	$PY "$PS" write "$T/nan.qs" --field maps:f4:3,4,4 --random 50 --batch 8 \
		--seed 1 --nan maps=1
	run quanta normalise --fit "$T/p.h5" --field maps -i "$T/nan.qs" \
		-o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"field 'maps', batch "*", sample "*"NaN"* ]]
	assert_no_file "$T/p.h5" "$T/out.qs"
	# at apply time as well
	quanta normalise --fit "$T/p.h5" --field maps --no-output -q -i "$T/train.qs"
	run quanta normalise --apply "$T/p.h5" -i "$T/nan.qs" -o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"field 'maps', batch "*"NaN"* ]]
	assert_no_file "$T/out.qs"
}

@test "normalise: a truncated stream leaves no parameters and no output" {
	head -c -100 "$T/train.qs" > "$T/cut.qs"
	run quanta normalise --fit "$T/p.h5" --field maps -i "$T/cut.qs" \
		-o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"truncated"* ]]
	assert_no_file "$T/p.h5" "$T/out.qs"
	run sh -c "head -c -10 '$T/train.qs' | quanta normalise --fit '$T/p.h5' --field maps --no-output"
	assert_usage_error normalise
	assert_no_file "$T/p.h5"
	quanta normalise --fit "$T/p.h5" --field maps --no-output -q -i "$T/train.qs"
	head -c -100 "$T/test.qs" > "$T/cut.qs"
	run quanta normalise --apply "$T/p.h5" -i "$T/cut.qs" -o "$T/out.qs"
	assert_usage_error normalise
	assert_no_file "$T/out.qs"
}

@test "normalise: a missing field or an empty stream cannot be fitted" {
	run quanta normalise --fit "$T/p.h5" --field images -i "$T/train.qs" \
		-o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"no field 'images'"* ]]
	$PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps
w = ps.Writer(open('$T/empty.qs', 'wb'), [ps.field('maps', '<f4', [2])]); w.close()"
	run quanta normalise --fit "$T/p.h5" --field maps -i "$T/empty.qs" \
		-o "$T/out.qs"
	assert_usage_error normalise
	[[ "$output" == *"nothing to fit"* ]]
	assert_no_file "$T/p.h5" "$T/out.qs"
}
