#!/usr/bin/env bats
# quanta load: HDF5, .npy, .npz and CSV files into streams, compared value
# for value with what h5py and numpy read from the same files; field
# choice, --start/--count/--batch, class names; and bad input.

load helpers

setup() {
	quanta_setup
	export PYTHONPATH="$ROOT/tests"
}
teardown() { quanta_teardown; }

# same STREAM FILE [FIELD=DATASET...]: every field of the stream equals
# the dataset (HDF5) or member (.npy/.npz) of that name, dtype included.
same() {
	"$PY" - "$@" <<'EOF'
import sys, numpy as np, h5py, pystream as ps
stream, path = sys.argv[1], sys.argv[2]
r = ps.Reader(open(stream, "rb"))
bs = list(r)
if path.endswith(".npz"):
    src = dict(np.load(path))
elif path.endswith(".npy"):
    src = {r.header["fields"][0]["name"]: np.load(path)}
else:
    f = h5py.File(path, "r")
    src = {k: f[k][()] for k in f}
for f in r.header["fields"]:
    got = np.concatenate([b[f["name"]] for b in bs])
    want = src[f["name"]]
    assert got.dtype == want.dtype, (f["name"], got.dtype, want.dtype)
    assert got.shape == want.shape, (f["name"], got.shape, want.shape)
    assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), f["name"]
print(len(r.header["fields"]), "fields equal")
EOF
}

# $output with runs of blanks squeezed (inspect aligns its columns).
sq() { printf '%s\n' "$output" | tr -s ' '; }

@test "load: --help shows usage and an example; --version" {
	run quanta load --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "Usage: quanta load FILE"* ]]
	[[ "$output" == *"Example"* ]]
	run quanta load --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-load (quanta) "* ]]
}

@test "load: HDF5, every dataset at the root, values equal to h5py's" {
	quanta load "$DATA/eor-simfast21-maps.h5" --batch 7 -o "$T/eor.qs"
	run same "$T/eor.qs" "$DATA/eor-simfast21-maps.h5"
	[ "$status" -eq 0 ]
	[ "$output" = "7 fields equal" ]
	run quanta inspect "$T/eor.qs" --header
	[[ "$(sq)" == *"images float32 (200, 200)"* ]]
	[[ "$(sq)" == *"half uint8 ()"* ]]
}

@test "load: datasets with another sample count are skipped, with a note" {
	run bash -c "quanta load '$DATA/cms-2012-ecal-hits.h5' -o '$T/cms.qs'"
	[ "$status" -eq 0 ]
	[[ "$output" == *"skipping dataset 'event_offsets': 13 samples"* ]]
	run same "$T/cms.qs" "$DATA/cms-2012-ecal-hits.h5"
	[ "$output" = "4 fields equal" ]
	# Named, it loads alone.
	quanta load "$DATA/cms-2012-ecal-hits.h5" --fields event_offsets -o "$T/o.qs"
	run same "$T/o.qs" "$DATA/cms-2012-ecal-hits.h5"
	[ "$output" = "1 fields equal" ]
}

@test "load: --fields order, --start, --count and --batch" {
	quanta load "$DATA/eor-simfast21-maps.h5" --fields xHI,redshift \
		--start 10 --count 25 --batch 8 -o "$T/s.qs"
	"$PY" - "$T/s.qs" "$DATA/eor-simfast21-maps.h5" <<'EOF'
import sys, numpy as np, h5py, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
bs = list(r)
assert [f["name"] for f in r.header["fields"]] == ["xHI", "redshift"]
assert [len(b["xHI"]) for b in bs] == [8, 8, 8, 1]
f = h5py.File(sys.argv[2])
for k in ("xHI", "redshift"):
    assert np.array_equal(np.concatenate([b[k] for b in bs]), f[k][10:35])
assert r.end == {"batches": 4, "samples": 25}
EOF
	# --count past the end stops at the end; --start at the end is empty.
	run bash -c "quanta load '$DATA/eor-simfast21-maps.h5' --fields xHI --start 50 --count 99 | quanta inspect"
	[[ "$output" == *"samples: 10 in 1 batch"* ]]
	run bash -c "quanta load '$DATA/eor-simfast21-maps.h5' --fields xHI --start 60 | quanta inspect"
	[[ "$output" == *"samples: 0"* ]]
}

@test "load: h5py types: bool, enum, float16, classes attributes, strings skipped" {
	"$PY" - "$T/t.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["flag"] = np.array([True, False, True, True])
    f.create_dataset("kind", data=np.array([0, 2, 1, 2], np.uint8),
                     dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2}, basetype="u1"))
    f["half"] = np.array([0.5, 1.5, -2, 4], np.float16)
    f["labels"] = np.array([4, 0, 1, 3], np.int64)
    f["labels"].attrs["classes"] = ["g", "q", "t", "w", "z"]
    f["fixed"] = np.array([1, 0, 1, 0], np.int32)
    f["fixed"].attrs["classes"] = np.array([b"no", b"yes"], dtype="S3")
    f["names"] = np.array([b"w", b"x", b"y", b"z"])
    f.attrs["source"] = "test"
EOF
	run quanta load "$T/t.h5" -o "$T/t.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-load: skipping dataset 'names': "*"strings"* ]]
	run quanta inspect "$T/t.qs" --header
	[[ "$(sq)" == *"flag bool ()"* ]]
	[[ "$(sq)" == *"kind uint8 ()"* ]]
	[[ "$(sq)" == *"half float32 ()"* ]]
	[[ "$(sq)" == *"labels int64 () classes: g, q, t, w, z"* ]]
	[[ "$(sq)" == *"fixed int32 () classes: no, yes"* ]]
	"$PY" - "$T/t.qs" <<'EOF'
import sys, numpy as np, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
b = list(r)[0]
assert b["flag"].tolist() == [True, False, True, True]
assert b["kind"].tolist() == [0, 2, 1, 2]
assert b["half"].tolist() == [0.5, 1.5, -2, 4]
EOF
	# Named, a string dataset is an error.
	run quanta load "$T/t.h5" --fields names
	assert_usage_error load
	[[ "$output" == *"'names'"*"strings"* ]]
}

@test "load: --classes names the classes of a label field" {
	run bash -c "quanta load '$DATA/eor-simfast21-maps.h5' --fields run --classes run=a,b,c | quanta inspect --header"
	[[ "$(sq)" == *"run int32 () classes: a, b, c"* ]]
	run quanta load "$DATA/eor-simfast21-maps.h5" --classes xHI=a,b
	assert_usage_error load
	run quanta load "$DATA/eor-simfast21-maps.h5" --classes nope=a,b
	assert_usage_error load
}

@test "load: .npy is one field named after the file or --name" {
	"$PY" -c "import numpy as np; np.save('$T/my-data.npy', np.arange(3000, dtype='<i8').reshape(1000, 3))"
	quanta load "$T/my-data.npy" --batch 64 -o "$T/n.qs"
	run same "$T/n.qs" "$T/my-data.npy"
	[ "$output" = "1 fields equal" ]
	run bash -c "quanta load '$T/my-data.npy' --name x --start 998 | quanta inspect"
	[[ "$(sq)" == *"x int64 (2, 3)"* ]]
	quanta load "$DATA/climate-channel-means.npy" -o "$T/c.qs"
	run same "$T/c.qs" "$DATA/climate-channel-means.npy"
	[ "$output" = "1 fields equal" ]
}

@test "load: .npz members, stored and deflated, read in parallel" {
	"$PY" - "$T" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(0)
d = dict(x=rng.random((5000, 4)).astype(np.float32), y=rng.integers(0, 5, 5000),
         m=rng.random(5000) > 0.5, u=np.arange(5000, dtype=np.uint16))
np.savez(sys.argv[1] + "/s.npz", **d)
np.savez_compressed(sys.argv[1] + "/c.npz", scalar=np.float64(1), **d)
EOF
	quanta load "$T/s.npz" --batch 100 -o "$T/s.qs"
	run same "$T/s.qs" "$T/s.npz"
	[ "$output" = "4 fields equal" ]
	run quanta load "$T/c.npz" --batch 333 -o "$T/c.qs"
	[[ "$output" == *"skipping member 'scalar': a 0-d array"* ]]
	run same "$T/c.qs" "$T/c.npz"
	[ "$output" = "4 fields equal" ]
	run bash -c "quanta load '$T/c.npz' --fields u,x --start 4990 | quanta inspect"
	[[ "$(sq)" == *"fields:
 u uint16 ()
 x float32 (4,)"* ]]
	[[ "$output" == *"samples: 10 in 1 batch"* ]]
}

@test "load: CSV with text, NA and numbers (penguins)" {
	quanta load "$DATA/penguins.csv" --batch 50 -o "$T/p.qs"
	run quanta inspect "$T/p.qs" --header
	[[ "$(sq)" == *"species int64 () classes: Adelie, Gentoo, Chinstrap"* ]]
	[[ "$(sq)" == *"sex int64 () classes: male, female"* ]]
	[[ "$(sq)" == *"bill_length_mm float32 ()"* ]]
	"$PY" - "$T/p.qs" "$DATA/penguins.csv" <<'EOF'
import sys, csv, numpy as np, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
bs = list(r)
col = lambda k: np.concatenate([b[k] for b in bs])
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(col("species")) == len(rows) == 344
cls = {f["name"]: f.get("classes") for f in r.header["fields"]}
for k in ("species", "island", "sex"):
    want = [cls[k].index(x[k]) if x[k] != "NA" else -1 for x in rows]
    assert col(k).tolist() == want, k
for k in ("bill_length_mm", "body_mass_g", "year"):
    want = np.array([float(x[k]) if x[k] != "NA" else np.nan for x in rows], np.float32)
    assert np.array_equal(col(k), want, equal_nan=True), k
EOF
}

@test "load: CSV --group, --int, --classes and --fields" {
	quanta load "$DATA/penguins.csv" --group bill=bill_length_mm,bill_depth_mm \
		--int year --classes species=Gentoo,Adelie,Chinstrap \
		--fields species,bill,year -o "$T/g.qs"
	run quanta inspect "$T/g.qs" --header
	[[ "$(sq)" == *"fields:
 species int64 () classes: Gentoo, Adelie, Chinstrap
 bill float32 (2,)
 year int64 ()
provenance:"* ]]
	"$PY" - "$T/g.qs" <<'EOF'
import sys, numpy as np, pystream as ps
b = list(ps.Reader(open(sys.argv[1], "rb")))[0]
assert b["bill"][0].tolist() == [np.float32(39.1), np.float32(18.7)]
assert b["species"][0] == 1 and b["year"][0] == 2007
EOF
	# NA in an integer column, text in a numeric one: errors with the line.
	run quanta load "$DATA/penguins.csv" --int body_mass_g
	assert_usage_error load
	[[ "$output" == *"line 5, column 'body_mass_g'"* ]]
	run quanta load "$DATA/penguins.csv" --float island
	assert_usage_error load
	[[ "$output" == *"'Torgersen' is not a number"* ]]
	run quanta load "$DATA/penguins.csv" --classes species=Adelie,Gentoo
	assert_usage_error load
	[[ "$output" == *"'Chinstrap' is not among the --classes"* ]]
}

@test "load: CSV integers beyond 2^53 load exactly (TrackML particle ids)" {
	run quanta load "$DATA/trackml-event000001000-particles.csv" -o "$T/tr.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"column 'particle_id' holds integers beyond 2^24"* ]]
	"$PY" - "$T/tr.qs" "$DATA/trackml-event000001000-particles.csv" <<'EOF'
import sys, numpy as np, pystream as ps
bs = list(ps.Reader(open(sys.argv[1], "rb")))
got = np.concatenate([b["particle_id"] for b in bs])
want = [int(l.split(",")[0]) for l in open(sys.argv[2]).readlines()[1:]]
assert got.dtype == np.int64 and got.tolist() == want
assert np.concatenate([b["q"] for b in bs]).dtype == np.float32
EOF
	run bash -c "quanta load '$DATA/trackml-event000001000-particles.csv' --int particle_id,q,nhits --fields particle_id,q | quanta inspect --header"
	[[ "$(sq)" == *"q int64 ()"* ]]
}

@test "load: CSV quoting, CRLF, blank lines and a byte-order mark" {
	printf '\xef\xbb\xbfname,"x, y",n\r\n"a ""b""",1.5,3\r\n\r\nc,NA,4\r\n"multi\nline",,5\r\n' > "$T/q.csv"
	quanta load "$T/q.csv" -o "$T/q.qs"
	"$PY" - "$T/q.qs" <<'EOF'
import sys, numpy as np, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
b = list(r)[0]
f = {x["name"]: x for x in r.header["fields"]}
assert f["name"]["classes"] == ['a "b"', "c", "multi\nline"], f["name"]
assert "x__y" in f
assert np.array_equal(b["x__y"], [1.5, np.nan, np.nan], equal_nan=True)
assert b["n"].tolist() == [3, 4, 5]
EOF
}

@test "load: the provenance names the file; saved provenance comes back" {
	quanta load "$DATA/eor-simfast21-maps.h5" --fields xHI | quanta save "$T/x.h5"
	run bash -c "quanta load '$T/x.h5' | quanta inspect --header"
	[[ "${lines[4]}" == "  1. load "*"--fields xHI"*"format=hdf5]" ]]
	[[ "${lines[5]}" == "  2. save "* ]]
	[[ "${lines[6]}" == "  3. load "*"[file=$T/x.h5, format=hdf5]" ]]
}

@test "load: a missing file, a missing dataset, a bad option: one line, exit 2" {
	run quanta load "$T/nope.h5"
	assert_usage_error load
	[[ "$output" == *"cannot open '$T/nope.h5'"* ]]
	run quanta load "$DATA/eor-simfast21-maps.h5" --fields images,nope
	assert_usage_error load
	[[ "$output" == *"no dataset 'nope' (it has: fesc, half, images"* ]]
	run quanta load "$DATA/eor-simfast21-maps.h5" --start 61
	assert_usage_error load
	run quanta load "$DATA/eor-simfast21-maps.h5" --batch x
	assert_usage_error load
	run quanta load "$DATA/eor-simfast21-maps.h5" --bogus
	assert_usage_error load
	[ "${lines[1]}" = "Try 'quanta load --help'." ]
	run quanta load
	assert_usage_error load
	run quanta load "$DATA/penguins.csv" --name x
	assert_usage_error load
}

@test "load: files that are not what they say: one line, exit 2, no output" {
	echo "not hdf5 at all" > "$T/fake.h5"
	run quanta load "$T/fake.h5" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"'$T/fake.h5' is not an HDF5 file"* ]]
	echo "a,b" > "$T/data.xyz"
	run quanta load "$T/data.xyz" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"unknown file type"* ]]
	cp "$DATA/penguins.csv" "$T/fake.npz"
	run quanta load "$T/fake.npz" -o "$T/out.qs"
	assert_usage_error load
	"$PY" -c "import numpy as np; np.save('$T/be.npy', np.arange(4, dtype='>f4')); np.save('$T/fo.npy', np.asfortranarray(np.ones((3, 2)))); np.save('$T/ob.npy', np.array([{}, 1], dtype=object))"
	run quanta load "$T/be.npy" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"big-endian"* ]]
	run quanta load "$T/fo.npy" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"Fortran"* ]]
	run quanta load "$T/ob.npy" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"object"* ]]
	head -c 1000 "$T/be.npy" > /dev/null
	"$PY" -c "import numpy as np; np.save('$T/big.npy', np.ones((1000, 10)))"
	head -c 50000 "$T/big.npy" > "$T/cut.npy"
	run quanta load "$T/cut.npy" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"truncated"* ]]
	printf 'a,b\n1,2\n3\n' > "$T/ragged.csv"
	run quanta load "$T/ragged.csv" -o "$T/out.qs"
	assert_usage_error load
	[[ "$output" == *"line 3 has 1 cells, the header has 2"* ]]
	: > "$T/empty.csv"
	run quanta load "$T/empty.csv" -o "$T/out.qs"
	assert_usage_error load
	assert_no_file "$T/out.qs"
}

@test "load: --rename and --shape give the real 21cm maps the simulator's layout" {
	quanta load "$DATA/eor-simfast21-maps.h5" --fields images,xHI --rename images=maps \
		--shape maps=1,200,200 -o "$T/maps.qs"
	$PY - "$T/maps.qs" "$DATA/eor-simfast21-maps.h5" <<'PY'
import h5py, msgpack, msgpack_numpy as m, numpy as np, sys
ms = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
assert [f["name"] for f in ms[0]["fields"]] == ["maps", "xHI"]
assert ms[0]["fields"][0]["shape"] == [1, 200, 200]
maps = np.concatenate([b["maps"] for b in ms[1:] if "maps" in b])
ref = h5py.File(sys.argv[2], "r")["images"][:]
assert maps.shape == (60, 1, 200, 200) and np.array_equal(maps[:, 0], ref)
PY
}

@test "load: --shape with another element count, --rename to a taken name" {
	run quanta load "$DATA/eor-simfast21-maps.h5" --shape images=3,200 -o "$T/x.qs"
	assert_usage_error load
	[[ "$output" == *"another number of elements"* ]]
	run quanta load "$DATA/eor-simfast21-maps.h5" --rename images=xHI -o "$T/x.qs"
	assert_usage_error load
	run quanta load "$DATA/eor-simfast21-maps.h5" --rename nosuch=x -o "$T/x.qs"
	assert_usage_error load
	assert_no_file "$T/x.qs"
}
