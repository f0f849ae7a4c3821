#!/usr/bin/env bats
# quanta inspect: the report in text and JSON, its statistics against
# numpy, --head, --header, and bad input.  Test streams come from
# tests/pystream.py (msgpack + msgpack_numpy only).

load helpers

setup() {
	quanta_setup
	PYS="$ROOT/tests/pystream.py"
}
teardown() { quanta_teardown; }

mk() { "$PY" "$PYS" write "$@"; }

# jets-like: images with 3 NaN and 2 +Inf, labels with class names, a flag.
mk_jets() {
	mk "$T/j.qs" --field images:f4:20,20 --field labels:i8: \
		--classes labels=g,q,t,w,z --field flag:b1: \
		--random 250 --batch 64 --seed 4 --nan images=3 --inf images=2
}

@test "inspect: text report with fields, classes, counts, statistics, histogram" {
	mk_jets
	run quanta inspect "$T/j.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "${lines[0]}" == "quanta stream, format 1" ]]
	[[ "$output" == *"images  float32  (20, 20)"* ]]
	[[ "$output" == *"labels  int64    ()"*"classes: g, q, t, w, z"* ]]
	[[ "$output" == *"samples: 250 in 4 batches"* ]]
	# the table row: shape of the whole stream, nan and inf counts
	[[ "$output" =~ images\ +float32\ +\(250,\ 20,\ 20\)\ .*\ 3\ +2 ]]
	[[ "$output" =~ labels\ +int64\ +\(250,\) ]]
	[[ "$output" == *"labels classes:"* ]]
	[[ "$output" =~ \ g\ +[0-9]+\ +[0-9.]+% ]]
	[[ "$output" == *"flag values:"* ]]
}

@test "inspect --json: statistics equal numpy's (finite values, population std)" {
	mk_jets
	quanta inspect --json "$T/j.qs" > "$T/q.json"
	"$PY" "$PYS" dump "$T/j.qs" > "$T/np.json"
	"$PY" - "$T/q.json" "$T/np.json" <<'EOF'
import json, sys, math
q, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert q["samples"] == 250 and q["batches"] == 4, (q["samples"], q["batches"])
for name, want in n["fields"].items():
    got = q["stats"][name]
    for k in ("count", "finite", "nan", "posinf", "neginf"):
        assert got[k] == want[k], (name, k, got[k], want[k])
    assert got["shape"] == want["shape"], (name, got["shape"], want["shape"])
    for k in ("min", "max", "mean", "std"):
        assert math.isclose(got[k], want[k], rel_tol=1e-12, abs_tol=1e-15), \
            (name, k, got[k], want[k])
h = {e["class"]: e["count"] for e in q["stats"]["labels"]["histogram"]}
assert sum(h.values()) == 250 and set(h) == set("gqtwz"), h
assert [e["value"] for e in q["stats"]["flag"]["histogram"]] == [0, 1]
EOF
}

@test "inspect: reads stdin, -i and the dispatcher alike" {
	mk_jets
	quanta inspect --json "$T/j.qs" > "$T/a"
	quanta-inspect --json < "$T/j.qs" > "$T/b"
	cat "$T/j.qs" | quanta inspect --json -i - > "$T/c"
	cmp "$T/a" "$T/b"
	cmp "$T/a" "$T/c"
}

@test "inspect --head: small samples in full, large ones abbreviated, class names" {
	mk "$T/s.qs" --field small:i4:2,3 --field big:f4:40,40 --field labels:i8: \
		--classes labels=noise,signal --random 5 --batch 2 --seed 1
	run quanta inspect --head 3 "$T/s.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"sample 0:"* && "$output" == *"sample 2:"* ]]
	[[ "$output" != *"sample 3:"* ]]
	# a 2x3 int sample: two bracketed rows, no ellipsis
	[[ "$output" =~ small\ =\ \[\[[\ 0-9]+\]$'\n'\ +\[[\ 0-9]+\]\] ]]
	# 1600 elements: summarised like numpy
	[[ "$output" == *"big = [["*"..."*"]]"* ]]
	[[ "$output" =~ labels\ =\ [01]\ \((noise|signal)\) ]]
}

@test "inspect --head --json: the samples' exact values" {
	mk "$T/s.qs" --field x:f8:3 --field n:i2: --random 7 --batch 3 --seed 2
	quanta inspect --json --head 4 "$T/s.qs" > "$T/q.json"
	"$PY" - "$T/s.qs" "$T/q.json" <<'EOF'
import json, sys
import msgpack, msgpack_numpy as m, numpy as np
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=m.decode, raw=False))
x = np.concatenate([b["x"] for b in msgs[1:-1]])
n = np.concatenate([b["n"] for b in msgs[1:-1]])
head = json.load(open(sys.argv[2]))["head"]
assert len(head) == 4
for i, s in enumerate(head):
    assert np.array_equal(np.array(s["x"]), x[i]), (s["x"], x[i])
    assert s["n"] == n[i]
EOF
}

@test "inspect: ragged and graph fields (rows per sample, sample-relative indices)" {
	mk "$T/g.qs" --field nodes:f4:*,3 --field edges:i8:*,2 --index-of edges=nodes \
		--field y:i8: --random 40 --batch 8 --max-rows 6 --seed 5
	run quanta inspect --head 1 "$T/g.qs"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" =~ nodes\ +float32\ +\(\*,\ 3\)\ +ragged ]]
	[[ "$output" =~ edges\ +int64\ +\(\*,\ 2\)\ +ragged,\ indexes\ nodes ]]
	[[ "$output" =~ nodes:\ [0-9]+\ rows,\ [0-9]+\ to\ [0-9]+\ per\ sample ]]
	quanta inspect --json "$T/g.qs" > "$T/q.json"
	# indices are relative to their sample: below the largest node count
	run jq -e '.stats.edges.max < .stats.nodes.rows.max and .stats.edges.min >= 0' "$T/q.json"
	[ "$status" -eq 0 ]
}

@test "inspect --header: the header only, without reading the batches" {
	mk_jets
	# cut the stream inside its second batch: the header is still whole
	head -c 20000 "$T/j.qs" > "$T/cut.qs"
	run quanta inspect --header "$T/cut.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fields:"* && "$output" != *"samples:"* ]]
	run quanta inspect --header --json "$T/cut.qs"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.fields[1].classes == ["g","q","t","w","z"] and (has("samples") | not)'
	run quanta inspect "$T/cut.qs"
	assert_usage_error inspect
}

@test "inspect: provenance steps are listed" {
	mk_jets
	quanta filter --field labels --min 0 -q -i "$T/j.qs" -o "$T/f.qs"
	run quanta inspect --header "$T/f.qs"
	[[ "$output" == *"provenance:"*"1. filter "*"--field labels --min 0"* ]]
	run quanta inspect --header --json "$T/f.qs"
	echo "$output" | jq -e '.provenance[0].stage == "filter" and .provenance[0].args[0] == "--field"'
}

@test "inspect: an empty stream and a stream without end marker" {
	mk "$T/e.qs" --field x:f4: --random 0 --batch 4
	run quanta inspect "$T/e.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"samples: 0 in 0 batches"* ]]
	run quanta inspect --json "$T/e.qs"
	echo "$output" | jq -e '.stats.x.min == null and .stats.x.count == 0'
	# end_marker false: EOF ends the stream
	mk "$T/n.qs" --field x:f4: --random 9 --batch 4 --no-end
	run quanta inspect "$T/n.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"no end marker"* && "$output" == *"samples: 9 in 3 batches"* ]]
}

@test "inspect: memory stays flat on a long stream" {
	ldd "$QUANTA_BIN/quanta-inspect" | grep -q libasan &&
		skip "AddressSanitizer keeps freed memory in quarantine"
	mk "$T/big.qs" --field images:f4:20,20 --field labels:i8: --random 40000 \
		--batch 500 --seed 3
	/usr/bin/time -f '%M' -o "$T/rss" quanta-inspect "$T/big.qs" > /dev/null
	echo "max RSS $(cat "$T/rss") KiB for a $(stat -c %s "$T/big.qs")-byte stream"
	[ "$(cat "$T/rss")" -lt 30000 ]
}

@test "inspect --help mentions an example; --version" {
	run quanta inspect --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta inspect"* && "$output" == *"Example"* ]]
	run quanta inspect --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-inspect (quanta) "* ]]
}

@test "inspect: garbage, truncated, missing end marker, missing file: one line, exit 2" {
	head -c 4000 /dev/urandom > "$T/garbage.qs"
	run quanta inspect "$T/garbage.qs"
	assert_usage_error inspect
	printf 'hello world\n' > "$T/text.qs"
	run quanta inspect "$T/text.qs"
	assert_usage_error inspect
	mk_jets
	size=$(stat -c %s "$T/j.qs")
	head -c $((size - 100)) "$T/j.qs" > "$T/trunc.qs"
	run quanta inspect "$T/trunc.qs"
	assert_usage_error inspect
	[[ "$output" == *"truncated"* ]]
	# the end map cut off exactly: the header promised one
	"$PY" "$PYS" strip-end "$T/j.qs" "$T/noend.qs"
	run quanta inspect "$T/noend.qs"
	assert_usage_error inspect
	[[ "$output" == *"without its end marker"* ]]
	run quanta inspect "$T/missing.qs"
	assert_usage_error inspect
	[[ "$output" == *"missing.qs"* ]]
	run quanta inspect < /dev/null
	assert_usage_error inspect
}

@test "inspect: bad options: exit 2 with a hint" {
	mk_jets
	for args in "--head abc" "--head -1" "--head 1.5" "--bogus" "$T/j.qs $T/j.qs" \
		"-i $T/j.qs $T/j.qs" "--head"; do
		eval "run quanta inspect $args"
		echo "$args: $output"
		assert_usage_error inspect
	done
}
