#!/usr/bin/env bats
# quanta filter: ranges (inclusive and strict, NaN outside), classes by
# name and number, --finite, the kept/dropped report, exact round trips,
# and bad input.

load helpers

setup() {
	quanta_setup
	PYS="$ROOT/tests/pystream.py"
}
teardown() { quanta_teardown; }

mk() { "$PY" "$PYS" write "$@"; }

# eor-like: xHI = 0, 0.01, ..., 1.00 (101 samples) with a NaN at 0.5,
# a 4x4 map per sample, a redshift label.
mk_eor() {
	PYTHONPATH="$ROOT/tests" "$PY" - "$T/eor.qs" <<'EOF'
import sys
import numpy as np
import pystream as ps
x = np.round(np.arange(101) / 100, 2)
x[50] = np.nan
maps = np.arange(101 * 16, dtype=np.float32).reshape(101, 4, 4)
z = np.arange(101) % 3
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("maps", "<f4", [4, 4]), ps.field("xHI", "<f8", []),
               ps.field("z", "<i8", [], classes=["z7", "z8", "z9"])])
for s in range(0, 101, 16):
    w.write({"maps": maps[s:s + 16], "xHI": x[s:s + 16], "z": z[s:s + 16]})
w.close()
EOF
}

# read FILE FIELD: the field's values, one per line, as numpy prints them.
values() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
bs = [b for b in msgs[1:] if "quanta.end" not in b]
for v in (np.concatenate([b[sys.argv[2]] for b in bs]) if bs else []):
    print(v)
EOF
}

@test "filter: an inclusive range keeps both ends; NaN is in no range" {
	mk_eor
	run quanta filter --field xHI --min 0.01 --max 0.99 -i "$T/eor.qs" -o "$T/f.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-filter: kept 98 of 101 samples (3 dropped, 3 out of range)" ]]
	run values "$T/f.qs" xHI
	[ "${lines[0]}" = "0.01" ]
	[ "${lines[97]}" = "0.99" ]
	[[ "$output" != *nan* ]]
}

@test "filter: --gt and --lt are strict, and mix with --min/--max" {
	mk_eor
	quanta filter --field xHI --gt 0.01 --lt 0.99 -q -i "$T/eor.qs" -o "$T/f.qs"
	run values "$T/f.qs" xHI
	[ "${#lines[@]}" -eq 96 ]
	[ "${lines[0]}" = "0.02" ]
	quanta filter --field xHI --min 0.5 -q -i "$T/eor.qs" -o "$T/g.qs"
	[ "$(values "$T/g.qs" xHI | wc -l)" -eq 50 ]
	quanta filter --field xHI --gt 0.2 --max 0.3 -q -i "$T/eor.qs" -o "$T/h.qs"
	[ "$(values "$T/h.qs" xHI | tr '\n' ' ')" = "0.21 0.22 0.23 0.24 0.25 0.26 0.27 0.28 0.29 0.3 " ]
}

@test "filter: the kept samples are exactly the input's, in order (numpy mask)" {
	mk_eor
	quanta filter --field xHI --min 0.1 --max 0.9 -q -i "$T/eor.qs" -o "$T/f.qs"
	"$PY" - "$T/eor.qs" "$T/f.qs" <<'EOF'
import sys, msgpack, msgpack_numpy as m, numpy as np
def read(p):
    bs = [b for b in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False)
          if "maps" in b]
    return {k: np.concatenate([b[k] for b in bs]) for k in bs[0]}
a, b = read(sys.argv[1]), read(sys.argv[2])
keep = (a["xHI"] >= 0.1) & (a["xHI"] <= 0.9)
for k in a:
    assert b[k].dtype == a[k].dtype and np.array_equal(b[k], a[k][keep]), k
EOF
}

@test "filter: --classes by name and --class-index by number agree" {
	mk "$T/j.qs" --field images:f4:3,3 --field labels:i8: --classes labels=g,q,t,w,z \
		--random 500 --batch 64 --seed 8
	run quanta filter --classes g,w -i "$T/j.qs" -o "$T/a.qs"
	[ "$status" -eq 0 ]
	[[ "$output" =~ kept\ [0-9]+\ of\ 500\ samples\ \([0-9]+\ dropped,\ [0-9]+\ of\ other\ classes\) ]]
	quanta filter --field labels --class-index 3,0 -q -i "$T/j.qs" -o "$T/b.qs"
	"$PY" "$PYS" samples "$T/a.qs" > "$T/a.txt"
	"$PY" "$PYS" samples "$T/b.qs" > "$T/b.txt"
	cmp "$T/a.txt" "$T/b.txt"
	quanta inspect --json "$T/a.qs" |
		jq -e '[.stats.labels.histogram[] | select(.count > 0) | .class] == ["g","w"]'
	# as many as numpy counts
	want=$(values "$T/j.qs" labels | grep -c -x -e 0 -e 3)
	[ "$(wc -l < "$T/a.txt")" -eq "$want" ]
}

@test "filter: class index of an integer field without class names" {
	mk "$T/k.qs" --field k:i4: --random 100 --batch 10 --seed 1
	quanta filter --field k --class-index 7 -q -i "$T/k.qs" -o "$T/f.qs"
	[ "$(values "$T/f.qs" k | sort -u)" = "7" ]
}

@test "filter --finite: drops exactly the samples with NaN or Inf" {
	mk "$T/n.qs" --field images:f4:5,5 --field nodes:f8:*,2 --field y:i8: \
		--random 200 --batch 32 --seed 6 --nan images=7 --inf images=4 --nan nodes=3
	run quanta filter --finite images,nodes,y -i "$T/n.qs" -o "$T/f.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	PYTHONPATH="$ROOT/tests" "$PY" - "$T/n.qs" "$T/f.qs" "$output" <<'EOF'
import sys, re
import numpy as np
import pystream as ps
def samples(p):
    r = ps.Reader(open(p, "rb"))
    return [s for b in r for s in r.samples(b)]
a, b = samples(sys.argv[1]), samples(sys.argv[2])
ok = [s for s in a if all(np.isfinite(s[k]).all() for k in ("images", "nodes"))]
assert len(ok) < len(a) and len(b) == len(ok)
for s, t in zip(ok, b):
    assert all(np.array_equal(s[k], t[k]) for k in s)
m = re.search(r"kept (\d+) of 200 samples \((\d+) dropped, \2 not finite\)", sys.argv[3])
assert m and int(m.group(1)) == len(ok), sys.argv[3]
EOF
}

@test "filter: several tests at once; --quiet; everything dropped is a valid empty stream" {
	mk_eor
	run quanta filter --field z --classes z8 --finite xHI -i "$T/eor.qs" -o "$T/f.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-filter: kept 34 of 101 samples (67 dropped, 66 of other classes, 1 not finite)" ]]
	run quanta filter --field xHI --min 5 --quiet -i "$T/eor.qs" -o "$T/e.qs"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run quanta inspect --json "$T/e.qs"
	echo "$output" | jq -e '.samples == 0 and .batches == 0'
}

@test "filter: ragged graph samples keep their edges (re-offset per batch)" {
	mk "$T/g.qs" --field nodes:f4:*,3 --field edges:i8:*,2 --index-of edges=nodes \
		--field y:i8: --classes y=noise,signal --random 200 --batch 16 --seed 3
	quanta filter --classes signal -q -i "$T/g.qs" -o "$T/f.qs"
	"$PY" "$PYS" samples "$T/f.qs" > "$T/f.txt"
	"$PY" "$PYS" samples "$T/g.qs" > "$T/g.txt"
	[ "$(grep -c -F -x -f "$T/f.txt" "$T/g.txt")" -eq "$(wc -l < "$T/f.txt")" ]
	quanta inspect "$T/f.qs" > /dev/null
}

@test "filter then save: the HDF5 file holds exactly the kept samples, and loads back" {
	[ -x "$QUANTA_BIN/quanta-save" ] || skip "quanta-save is not built yet"
	mk_eor
	quanta filter --field xHI --min 0.01 --max 0.99 -q -i "$T/eor.qs" -o "$T/f.qs"
	quanta filter --field xHI --min 0.01 --max 0.99 -q -i "$T/eor.qs" | quanta save "$T/f.h5"
	"$PY" - "$T/eor.qs" "$T/f.h5" <<'EOF'
import sys, h5py, msgpack, msgpack_numpy as m, numpy as np
bs = [b for b in msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False)
      if "maps" in b]
a = {k: np.concatenate([b[k] for b in bs]) for k in bs[0]}
keep = (a["xHI"] >= 0.01) & (a["xHI"] <= 0.99)
with h5py.File(sys.argv[2], "r") as f:
    for k in a:
        got = f[k][...]
        assert got.dtype == a[k].dtype and np.array_equal(got, a[k][keep]), k
    assert [c.decode() if isinstance(c, bytes) else c for c in f["z"].attrs["classes"]] \
        == ["z7", "z8", "z9"]
EOF
	[ -x "$QUANTA_BIN/quanta-load" ] || skip "quanta-load is not built yet"
	quanta load "$T/f.h5" -o "$T/back.qs"
	"$PY" "$PYS" samples "$T/f.qs" > "$T/f.txt"
	"$PY" "$PYS" samples "$T/back.qs" > "$T/back.txt"
	[ "$(wc -l < "$T/f.txt")" -eq 98 ]
	cmp "$T/f.txt" "$T/back.txt"
}

@test "filter then save and load: graph samples round-trip exactly" {
	[ -x "$QUANTA_BIN/quanta-save" ] && [ -x "$QUANTA_BIN/quanta-load" ] ||
		skip "quanta-save or quanta-load is not built yet"
	mk "$T/g.qs" --field nodes:f4:*,3 --field edges:i8:*,2 --index-of edges=nodes \
		--field y:i8: --classes y=noise,signal --random 120 --batch 16 --seed 7
	quanta filter --classes signal -q -i "$T/g.qs" -o "$T/f.qs"
	quanta filter --classes signal -q -i "$T/g.qs" | quanta save "$T/f.h5"
	quanta load "$T/f.h5" -o "$T/back.qs"
	"$PY" "$PYS" samples "$T/f.qs" > "$T/f.txt"
	"$PY" "$PYS" samples "$T/back.qs" > "$T/back.txt"
	cmp "$T/f.txt" "$T/back.txt"
}

@test "filter --help mentions an example; --version" {
	run quanta filter --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--classes"* && "$output" == *"Example"* ]]
	run quanta filter --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-filter (quanta) "* ]]
}

@test "filter: bad options and numbers: one line, exit 2, no output" {
	mk_eor
	for args in "" "--field xHI --min abc" "--field xHI --max 1e999" "--min 0" \
		"--field xHI --min 0 --gt 0" "--field xHI --lt 0 --max 1" "--bogus" \
		"--field xHI --min" "--field xHI --min 0 extra" "--class-index 1,x" \
		"--class-index 5" "--classes z8,," "--field xHI --min 0.9 --max 0.1" \
		"--field xHI --gt 0.5 --lt 0.5"; do
		eval "run quanta filter $args -i \"\$T/eor.qs\" -o \"\$T/f.qs\""
		echo "[$args] $output"
		assert_usage_error filter
		assert_no_file "$T/f.qs"
	done
}

@test "filter: unknown fields and classes, unusable fields: one line, exit 2, no output" {
	mk_eor
	run quanta filter --field nope --min 0 -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	[[ "$output" == *"no field 'nope'"*"maps, xHI, z"* ]]
	run quanta filter --field maps --min 0 -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	[[ "$output" == *"scalar"* ]]
	run quanta filter --classes z5 -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	[[ "$output" == *"'z5' is not a class of field 'z'"* ]]
	run quanta filter --field xHI --classes a -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	run quanta filter --finite maps,nope -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	# a float field holding no class indices: found while reading
	run quanta filter --field xHI --class-index 0 -i "$T/eor.qs" -o "$T/f.qs"
	assert_usage_error filter
	[[ "$output" == *"not a class index"* ]]
	assert_no_file "$T/f.qs"
}

@test "filter: garbage, truncated, no end marker, missing file: one line, exit 2, no output" {
	mk_eor
	head -c 2000 /dev/urandom > "$T/garbage.qs"
	size=$(stat -c %s "$T/eor.qs")
	head -c $((size - 700)) "$T/eor.qs" > "$T/trunc.qs"
	"$PY" "$PYS" strip-end "$T/eor.qs" "$T/noend.qs"
	for f in garbage trunc noend missing; do
		run quanta filter --field xHI --min 0 -i "$T/$f.qs" -o "$T/f.qs"
		echo "$f: $output"
		assert_usage_error filter
		assert_no_file "$T/f.qs"
	done
}
