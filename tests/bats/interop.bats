#!/usr/bin/env bats
# Python interoperability: streams packed by Python's msgpack +
# msgpack_numpy (no quanta code) are read by the stages with the right
# values, and streams the stages write are read back by Python into the
# exact arrays.

load helpers

setup() { quanta_setup; }
teardown() { quanta_teardown; }

# Arrays of many dtypes and shapes, with NaN/Inf, packed by hand as the
# FORMAT.md example does; their numpy statistics go to $T/want.json.
write_numpy_stream() {
	"$PY" - "$T/np.qs" "$T/want.json" <<'EOF'
import json, sys
import msgpack, msgpack_numpy as m, numpy as np
rng = np.random.default_rng(12)
n = 300
cols = {
    "f32": rng.normal(5.0, 3.0, (n, 2, 3)).astype("<f4"),
    "f64": rng.normal(-1e6, 1e-3, n).astype("<f8"),
    "i1": rng.integers(-128, 128, (n, 4)).astype("|i1"),
    "u2": rng.integers(0, 65536, n).astype("<u2"),
    "i4": rng.integers(-2**31, 2**31, (n, 2)).astype("<i4"),
    "i8": rng.integers(0, 5, n).astype("<i8"),
    "u8": rng.integers(0, 2**40, n).astype("<u8"),
    "b": rng.random((n, 3)) < 0.3,
}
cols["f32"][7, 1, 2] = np.nan
cols["f32"][9, 0, 0] = np.inf
cols["f32"][11, 0, 1] = -np.inf
fields = [{"name": k, "dtype": v.dtype.str, "shape": list(v.shape[1:])}
          for k, v in cols.items()]
fields[5]["classes"] = ["a", "b", "c", "d", "e"]
out = open(sys.argv[1], "wb")
out.write(msgpack.packb({"quanta": 1, "end_marker": True, "fields": fields,
                         "provenance": []}))
for s in range(0, n, 64):
    out.write(msgpack.packb({k: v[s:s + 64] for k, v in cols.items()},
                            default=m.encode))
out.write(msgpack.packb({"quanta.end": {"batches": 5, "samples": n}}))
want = {}
for k, v in cols.items():
    x = v.astype(np.float64).ravel()
    f = x[np.isfinite(x)]
    want[k] = {"count": x.size, "finite": f.size, "nan": int(np.isnan(x).sum()),
               "posinf": int(np.isposinf(x).sum()), "neginf": int(np.isneginf(x).sum()),
               "min": f.min(), "max": f.max(), "mean": f.mean(), "std": f.std(),
               "shape": list(v.shape)}
want["i8"]["hist"] = np.bincount(cols["i8"], minlength=5).tolist()
json.dump(want, open(sys.argv[2], "w"))
EOF
}

@test "interop: numpy arrays packed by msgpack_numpy: inspect gets numpy's statistics" {
	write_numpy_stream
	quanta inspect --json "$T/np.qs" > "$T/got.json"
	"$PY" - "$T/got.json" "$T/want.json" <<'EOF'
import json, math, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["samples"] == 300 and got["batches"] == 5
for k, w in want.items():
    g = got["stats"][k]
    for key in ("count", "finite", "nan", "posinf", "neginf", "shape"):
        assert g[key] == w[key], (k, key, g[key], w[key])
    for key in ("min", "max", "mean", "std"):
        assert math.isclose(g[key], w[key], rel_tol=1e-12, abs_tol=1e-12), \
            (k, key, g[key], w[key])
assert [h["count"] for h in got["stats"]["i8"]["histogram"]] == want["i8"]["hist"]
assert [h["class"] for h in got["stats"]["i8"]["histogram"]] == list("abcde")
EOF
}

@test "interop: a stream a stage wrote reads back into the exact arrays" {
	write_numpy_stream
	quanta filter --field i8 --class-index 0,1,2,3,4 -q -i "$T/np.qs" -o "$T/out.qs"
	"$PY" - "$T/np.qs" "$T/out.qs" <<'EOF'
import sys
import msgpack, msgpack_numpy as m, numpy as np
def read(p):
    msgs = list(msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False))
    return msgs[0], msgs[1:-1], msgs[-1]
h0, b0, _ = read(sys.argv[1])
h1, b1, end = read(sys.argv[2])
assert end == {"quanta.end": {"batches": 5, "samples": 300}}, end
assert h1["fields"] == h0["fields"], (h1["fields"], h0["fields"])
assert h1["provenance"][-1]["stage"] == "filter" and h1["end_marker"] is True
assert len(b1) == len(b0)
for x, y in zip(b0, b1):
    assert list(x) == list(y)
    for k in x:
        assert y[k].dtype == x[k].dtype and y[k].shape == x[k].shape, k
        assert x[k].tobytes() == y[k].tobytes(), k   # bit for bit, NaN included
EOF
}

@test "interop: PyG-style graph batches survive a split, edges re-offset" {
	"$PY" - "$T/g.qs" <<'EOF'
import sys
import msgpack, msgpack_numpy as m, numpy as np
rng = np.random.default_rng(3)
fields = [{"name": "x", "dtype": "<f4", "shape": [None, 2]},
          {"name": "edge_index", "dtype": "<i8", "shape": [None, 2], "index_of": "x"},
          {"name": "y", "dtype": "<i8", "shape": []}]
out = open(sys.argv[1], "wb")
out.write(msgpack.packb({"quanta": 1, "end_marker": False, "fields": fields}))
for b in range(6):
    nodes = rng.integers(1, 6, 10)
    ptr = np.concatenate([[0], np.cumsum(nodes)]).astype("<i8")
    edges = [rng.integers(0, k, (3, 2)) + ptr[i] for i, k in enumerate(nodes)]
    out.write(msgpack.packb({
        "x": rng.normal(size=(ptr[-1], 2)).astype("<f4"), "x.ptr": ptr,
        "edge_index": np.concatenate(edges).astype("<i8"),
        "edge_index.ptr": np.arange(0, 31, 3, dtype="<i8"),
        "y": np.arange(10) % 2}, default=m.encode))
EOF
	quanta split --train 0.5 --stratify y --window 7 -q -i "$T/g.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	"$PY" - "$T/g.qs" "$T/a.qs" "$T/b.qs" <<'EOF'
import sys
import msgpack, msgpack_numpy as m, numpy as np
def graphs(p):
    out = []
    for b in msgpack.Unpacker(open(p, "rb"), object_hook=m.decode, raw=False):
        if "x" not in b:
            continue
        xp, ep = b["x.ptr"], b["edge_index.ptr"]
        for i in range(len(xp) - 1):
            e = b["edge_index"][ep[i]:ep[i + 1]]
            assert (e >= xp[i]).all() and (e < xp[i + 1]).all()
            out.append((b["x"][xp[i]:xp[i + 1]].tobytes(), (e - xp[i]).tobytes(),
                        int(b["y"][i])))
    return sorted(out)
g = graphs(sys.argv[1])
a, b = graphs(sys.argv[2]), graphs(sys.argv[3])
assert len(a) == len(b) == 30 and sorted(a + b) == g
EOF
}

@test "interop: what else Python may write: str keys, no provenance, Fortran order" {
	"$PY" - "$T/s.qs" <<'EOF'
import sys
import msgpack, msgpack_numpy as m, numpy as np
a = np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4))
out = open(sys.argv[1], "wb")
# use_bin_type=False: every byte string, data included, is a msgpack str
out.write(msgpack.packb({"quanta": 1, "fields": [
    {"name": "a", "dtype": "<f8", "shape": [3, 4]}]}, use_bin_type=False))
out.write(msgpack.packb({"a": a}, default=m.encode, use_bin_type=False))
EOF
	run quanta inspect --json --head 2 "$T/s.qs"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.stats.a.mean == 11.5 and .head[1].a[0] == [12,13,14,15]'
}

@test "interop: dtypes quanta cannot take are refused by name" {
	"$PY" - "$T/be.qs" "$T/obj.qs" <<'EOF'
import sys
import msgpack, msgpack_numpy as m, numpy as np
for path, arr, dt in ((sys.argv[1], np.arange(3, dtype=">f4"), ">f4"),
                      (sys.argv[2], np.array(["a", "b"], dtype=object), "|O")):
    out = open(path, "wb")
    out.write(msgpack.packb({"quanta": 1, "fields": [
        {"name": "v", "dtype": "<f4", "shape": []}]}))
    out.write(msgpack.packb({"v": arr}, default=m.encode))
EOF
	run quanta inspect "$T/be.qs"
	assert_usage_error inspect
	[[ "$output" == *"big-endian"* ]]
	run quanta inspect "$T/obj.qs"
	assert_usage_error inspect
}

@test "interop: pystream.py and a stage agree on every byte of the batches" {
	# a stage re-encodes what it reads; the batch messages must come out
	# exactly as msgpack-numpy packed them
	"$PY" "$ROOT/tests/pystream.py" write "$T/p.qs" --field a:f4:3 --field b:u1:2,2 \
		--field c:i8: --classes c=x,y --field n:f8:*,2 --random 50 --batch 8 --seed 4
	quanta filter --finite a -q -i "$T/p.qs" -o "$T/q.qs"
	"$PY" "$ROOT/tests/pystream.py" body "$T/p.qs" "$T/p.body"
	"$PY" "$ROOT/tests/pystream.py" body "$T/q.qs" "$T/q.body"
	cmp "$T/p.body" "$T/q.body"
}
