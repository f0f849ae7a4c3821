#!/usr/bin/env bats
# quanta save: streams into HDF5, .npy and .npz files checked with h5py and
# numpy; exact round trips with quanta load; ragged (graph) fields; and no
# output file at all when the stream is bad or cut short.

load helpers

setup() {
	quanta_setup
	export PYTHONPATH="$ROOT/tests"
	PYS="$ROOT/tests/pystream.py"
}
teardown() { quanta_teardown; }

# A stream of 1000 samples: images, labels with classes, a bool mask,
# float64 values; batches of 64.
mk_stream() {
	"$PY" "$PYS" write "$1" --field images:f4:5,4 --field labels:i8: \
		--classes labels=g,q,t,w,z --field mask:b1:3 --field x:f8: \
		--field id:u2: --random 1000 --batch 64 --seed 3 "${@:2}"
}

# equal STREAM FILE: every field of the stream equals the dataset/member
# of that name (ragged fields: their rows and NAME_ptr offsets).
equal() {
	"$PY" - "$@" <<'EOF'
import sys, numpy as np, h5py, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
bs = list(r)
path = sys.argv[2]
src = dict(np.load(path)) if path.endswith(".npz") else \
      {r.header["fields"][0]["name"]: np.load(path)} if path.endswith(".npy") else \
      {k: v[()] for k, v in h5py.File(path, "r").items()}
for f in r.header["fields"]:
    name = f["name"]
    got = np.concatenate([b[name] for b in bs])
    if f["shape"] and f["shape"][0] is None:
        ptr = [0]
        for b in bs:
            ptr += list(b[name + ".ptr"][1:] + ptr[-1])
        assert np.array_equal(src[name + "_ptr"], ptr), name
        if f.get("index_of"):  # batch rows -> file rows
            shift, out = 0, []
            for b in bs:
                out.append(b[name] + shift)
                shift += len(b[f["index_of"]])
            got = np.concatenate(out)
    assert got.dtype == src[name].dtype, (name, got.dtype, src[name].dtype)
    assert np.array_equal(got, src[name]), name
print("equal")
EOF
}

@test "save: --help shows usage and an example; --version" {
	run quanta save --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: quanta save OUT"* ]]
	[[ "$output" == *"Example"* ]]
	run quanta save --version
	[[ "$output" == "quanta-save (quanta) "* ]]
}

@test "save: a stream into HDF5: datasets, classes, provenance, gzip" {
	mk_stream "$T/s.qs"
	quanta save "$T/s.h5" -i "$T/s.qs" --compress 4
	run equal "$T/s.qs" "$T/s.h5"
	[ "$output" = "equal" ]
	"$PY" - "$T/s.h5" <<'EOF'
import sys, json, h5py
f = h5py.File(sys.argv[1], "r")
assert sorted(f) == ["id", "images", "labels", "mask", "x"]
assert list(f["labels"].attrs["classes"]) == ["g", "q", "t", "w", "z"]
assert f["images"].compression == "gzip" and f["images"].maxshape[0] is None
assert f["mask"].dtype == bool
prov = json.loads(f.attrs["provenance"])
assert prov[-1]["stage"] == "save" and prov[-1]["args"][-2:] == ["--compress", "4"]
EOF
}

@test "save: load | save gives datasets identical to the originals" {
	quanta load "$DATA/eor-simfast21-maps.h5" --batch 16 | quanta save "$T/eor.h5"
	quanta load "$DATA/cms-2012-ecal-hits.h5" 2>/dev/null | quanta save "$T/cms.h5" -c 1
	"$PY" - "$DATA" "$T" <<'EOF'
import sys, numpy as np, h5py
for name, skip in (("eor-simfast21-maps.h5", ()), ("cms-2012-ecal-hits.h5", ("event_offsets",))):
    a = h5py.File(sys.argv[1] + "/" + name, "r")
    b = h5py.File(sys.argv[2] + "/" + name.split("-")[0] + ".h5", "r")
    assert sorted(b) == sorted(k for k in a if k not in skip)
    for k in b:
        x, y = a[k][()], b[k][()]
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), k
EOF
	# And again through a second round: still identical.
	quanta load "$T/eor.h5" | quanta save "$T/eor2.h5"
	"$PY" -c "
import h5py, numpy as np
a, b = h5py.File('$T/eor.h5'), h5py.File('$T/eor2.h5')
assert all(np.array_equal(a[k][()], b[k][()]) for k in a)"
}

@test "save: ragged and graph fields become rows plus NAME_ptr, and load back" {
	"$PY" "$PYS" write "$T/g.qs" --field nodes:f4:*,3 --field edges:i8:*,2 \
		--index-of edges=nodes --field y:i4: --random 50 --batch 8 --seed 2
	quanta save "$T/g.h5" -i "$T/g.qs"
	run equal "$T/g.qs" "$T/g.h5"
	[ "$output" = "equal" ]
	"$PY" -c "
import h5py
f = h5py.File('$T/g.h5')
assert f['edges'].attrs['index_of'] == 'nodes'
assert f['nodes_ptr'].shape == (51,) and f['nodes_ptr'][0] == 0"
	# Loaded back in other batches, the samples are the same.
	quanta load "$T/g.h5" --batch 13 -o "$T/g2.qs"
	"$PY" - "$T/g.qs" "$T/g2.qs" <<'EOF'
import sys, numpy as np, pystream as ps
def samples(p):
    r = ps.Reader(open(p, "rb"))
    return [s for b in r for s in r.samples(b)]
a, b = samples(sys.argv[1]), samples(sys.argv[2])
assert len(a) == len(b) == 50
for s, t in zip(a, b):
    for k in s:
        assert np.array_equal(s[k], t[k]), k
EOF
	# .npy and .npz cannot hold them.
	run quanta save "$T/g.npz" -i "$T/g.qs"
	assert_usage_error save
	[[ "$output" == *"ragged"* ]]
	assert_no_file "$T/g.npz"
}

@test "save: .npy holds one field; --fields picks it" {
	mk_stream "$T/s.qs"
	quanta save "$T/img.npy" --fields images -i "$T/s.qs"
	"$PY" - "$T/s.qs" "$T/img.npy" <<'EOF'
import sys, numpy as np, pystream as ps
want = np.concatenate([b["images"] for b in ps.Reader(open(sys.argv[1], "rb"))])
got = np.load(sys.argv[2])
assert got.dtype == np.float32 and got.shape == (1000, 5, 4)
assert np.array_equal(got, want)
EOF
	run quanta save "$T/all.npy" -i "$T/s.qs"
	assert_usage_error save
	[[ "$output" == *"one field and the stream has 5"* ]]
	assert_no_file "$T/all.npy"
	run quanta save "$T/l.npy" -i "$T/s.qs" --fields labels
	[ "$status" -eq 0 ]
	[[ "$output" == *"class names of 'labels' are not kept"* ]]
}

@test "save: .npz, stored and compressed, as numpy writes them" {
	mk_stream "$T/s.qs"
	quanta save "$T/s.npz" -i "$T/s.qs"
	quanta save "$T/c.npz" -i "$T/s.qs" --compress 6 --fields x,images 2>/dev/null
	run equal "$T/s.qs" "$T/s.npz"
	[ "$output" = "equal" ]
	"$PY" - "$T" <<'EOF'
import sys, zipfile, numpy as np
t = sys.argv[1]
z = zipfile.ZipFile(t + "/c.npz")
assert [i.filename for i in z.infolist()] == ["x.npy", "images.npy"]
assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(t + "/s.npz").infolist())
a, b = np.load(t + "/s.npz"), np.load(t + "/c.npz")
assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["x"], b["x"])
EOF
	# And back through quanta load.
	quanta load "$T/c.npz" | quanta save "$T/c2.npz"
	"$PY" -c "
import numpy as np
a, b = np.load('$T/c.npz'), np.load('$T/c2.npz')
assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)"
}

@test "save: an empty stream gives empty datasets" {
	"$PY" "$PYS" write "$T/e.qs" --field x:f4:3 --random 0
	quanta save "$T/e.h5" -i "$T/e.qs"
	"$PY" -c "
import h5py; f = h5py.File('$T/e.h5'); assert f['x'].shape == (0, 3)"
}

@test "save: garbage input: one line, exit 2, no file and no temporary file" {
	head -c 3000 /dev/urandom > "$T/junk"
	run quanta save "$T/out.h5" -i "$T/junk"
	assert_usage_error save
	assert_no_file "$T/out.h5"
	run bash -c "echo 'hello' | quanta save '$T/out.npz'"
	assert_usage_error save
	assert_no_file "$T/out.npz"
	run bash -c "quanta save '$T/out.npy' < /dev/null"
	assert_usage_error save
	assert_no_file "$T/out.npy"
}

@test "save: a truncated stream leaves no output file" {
	mk_stream "$T/s.qs"
	# Cut inside a batch, and cut cleanly before the end map.
	head -c 30000 "$T/s.qs" > "$T/cut.qs"
	"$PY" "$PYS" strip-end "$T/s.qs" "$T/noend.qs"
	for f in cut noend; do
		for ext in h5 npy npz; do
			flds=; [ $ext = npy ] && flds="--fields x"
			run quanta save "$T/out.$ext" -i "$T/$f.qs" $flds
			assert_usage_error save
			[[ "$output" == *"truncated"* ]]
			assert_no_file "$T/out.$ext"
		done
	done
	# Through a pipe, from a stage that dies half-way.
	run bash -c "head -c 20000 '$T/s.qs' | quanta save '$T/out.h5'"
	assert_usage_error save
	assert_no_file "$T/out.h5"
}

@test "save: unwritable output, unknown type, bad options: exit 2" {
	mk_stream "$T/s.qs"
	run quanta save "$T/no/such/dir/out.h5" -i "$T/s.qs"
	assert_usage_error save
	[[ "$output" == *"cannot write"* ]]
	run quanta save "$T/out.txt" -i "$T/s.qs"
	assert_usage_error save
	[[ "$output" == *"unknown output type"* ]]
	run quanta save "$T/out.h5" -i "$T/s.qs" --compress 12
	assert_usage_error save
	run quanta save "$T/out.h5" -i "$T/s.qs" --fields nope
	assert_usage_error save
	run quanta save "$T/out.h5" -i "$T/missing.qs"
	assert_usage_error save
	run quanta save
	assert_usage_error save
	run quanta save "$T/out.h5" --bogus
	assert_usage_error save
	assert_no_file "$T/out.h5"
	# An existing file is replaced only by a complete stream.
	echo keep > "$T/old.h5"
	run bash -c "head -c 20000 '$T/s.qs' | quanta save '$T/old.h5'"
	[ "$status" -eq 2 ]
	[ "$(cat "$T/old.h5")" = keep ]
}
