#!/usr/bin/env bats
# quanta split: exact fractions, exact stratification, the parts together
# are the input (same multiset of samples), determinism for a seed, graph
# samples, provenance, and bad input.

load helpers

setup() {
	quanta_setup
	PYS="$ROOT/tests/pystream.py"
}
teardown() { quanta_teardown; }

mk() { "$PY" "$PYS" write "$@"; }

mk_labelled() { # FILE N: images, 5-class labels, a float
	mk "$1" --field images:f4:4,4 --field labels:i8: --classes labels=g,q,t,w,z \
		--field v:f8: --random "$2" --batch 37 --seed 9
}

# same_multiset INPUT PART...: the parts hold exactly the input's samples.
same_multiset() {
	local in=$1 p
	shift
	"$PY" "$PYS" samples "$in" | sort > "$T/want.txt"
	for p in "$@"; do "$PY" "$PYS" samples "$p"; done | sort > "$T/got.txt"
	cmp "$T/want.txt" "$T/got.txt"
}

# counts FILE FIELD: per-class sample counts "c0 c1 ..." (jq over inspect).
counts() {
	quanta inspect --json "$1" | jq -r "[.stats.$2.histogram[].count] | join(\" \")"
}

@test "split: exact fractions, and the parts together are the input" {
	mk_labelled "$T/in.qs" 1000
	run quanta split --train 0.8 -i "$T/in.qs" -o "$T/train.qs" --test-out "$T/test.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-split: 1000 samples: 800 train, 200 test" ]]
	[ "$(quanta inspect --json "$T/train.qs" | jq .samples)" -eq 800 ]
	[ "$(quanta inspect --json "$T/test.qs" | jq .samples)" -eq 200 ]
	same_multiset "$T/in.qs" "$T/train.qs" "$T/test.qs"
}

@test "split: three parts, stratified: every class within one sample of its share" {
	mk_labelled "$T/in.qs" 2003
	quanta split --train 0.7 --val 0.1 --stratify labels --seed 3 -q -i "$T/in.qs" \
		-o "$T/tr.qs" --val-out "$T/va.qs" --test-out "$T/te.qs"
	same_multiset "$T/in.qs" "$T/tr.qs" "$T/va.qs" "$T/te.qs"
	all=($(counts "$T/in.qs" labels))
	tr=($(counts "$T/tr.qs" labels))
	va=($(counts "$T/va.qs" labels))
	te=($(counts "$T/te.qs" labels))
	for c in 0 1 2 3 4; do
		echo "class $c: ${all[$c]} -> ${tr[$c]} ${va[$c]} ${te[$c]}"
		"$PY" -c "
import math, sys
n, parts = ${all[$c]}, (${tr[$c]}, ${va[$c]}, ${te[$c]})
assert sum(parts) == n
for got, f in zip(parts, (0.7, 0.1, 0.2)):
    assert math.floor(n * f - 1e-9) <= got <= math.ceil(n * f + 1e-9), (n, f, got)
"
	done
}

@test "split: the same seed gives the same parts, another seed others" {
	mk_labelled "$T/in.qs" 500
	for run in 1a 1b 2; do
		quanta split --train 0.6 --seed ${run%[ab]} -q -i "$T/in.qs" \
			-o "$T/a$run.qs" --test-out "$T/b$run.qs"
		"$PY" "$PYS" body "$T/a$run.qs" "$T/a$run.body"
		"$PY" "$PYS" body "$T/b$run.qs" "$T/b$run.body"
	done
	cmp "$T/a1a.body" "$T/a1b.body"
	cmp "$T/b1a.body" "$T/b1b.body"
	! cmp -s "$T/a1a.body" "$T/a2.body"
	# a part keeps the input order of its samples
	"$PY" "$PYS" samples "$T/in.qs" > "$T/in.txt"
	"$PY" "$PYS" samples "$T/a1a.qs" > "$T/a.txt"
	grep -n -F -x -f "$T/a.txt" "$T/in.txt" | cut -d: -f1 > "$T/pos.txt"
	[ "$(wc -l < "$T/pos.txt")" -eq 300 ]
	sort -n -c "$T/pos.txt"
}

@test "split: batching the input differently does not change the split" {
	for bs in 7 100 1000; do
		mk "$T/in$bs.qs" --field x:f4:2 --field y:i8: --random 1000 --batch $bs --seed 5
		quanta split --train 0.7 --stratify y --seed 3 --window 64 -q -i "$T/in$bs.qs" \
			-o "$T/a$bs.qs" --test-out "$T/b$bs.qs"
		"$PY" "$PYS" samples "$T/a$bs.qs" > "$T/a$bs.txt"
	done
	[ "$(wc -l < "$T/a7.txt")" -ge 690 ]
	cmp "$T/a7.txt" "$T/a100.txt"
	cmp "$T/a7.txt" "$T/a1000.txt"
}

@test "split: a periodic input does not end up in one part" {
	# label = sample index mod 5; without stratifying, a systematic rule
	# ('every fifth sample to test') would put one label in test only
	PYTHONPATH="$ROOT/tests" "$PY" - "$T/in.qs" <<'EOF'
import sys
import pystream as ps
import numpy as np
w = ps.Writer(open(sys.argv[1], "wb"), [ps.field("k", "<i8", [])])
for s in range(0, 10000, 100):
    w.write({"k": np.arange(s, s + 100) % 5})
w.close()
EOF
	quanta split --train 0.8 -q -i "$T/in.qs" -o "$T/tr.qs" --test-out "$T/te.qs"
	counts "$T/te.qs" k
	for c in $(counts "$T/te.qs" k); do
		[ "$c" -gt 330 ]
		[ "$c" -lt 470 ]
	done
}

@test "split: graph samples (ragged nodes, edges indexing them) stay intact" {
	mk "$T/g.qs" --field nodes:f4:*,3 --field edges:i8:*,2 --index-of edges=nodes \
		--field y:i8: --classes y=a,b --random 300 --batch 16 --seed 2
	quanta split --train 0.5 --stratify y -q -i "$T/g.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	same_multiset "$T/g.qs" "$T/a.qs" "$T/b.qs"
}

@test "split: train to stdout by default, --rest as the test output, provenance" {
	mk_labelled "$T/in.qs" 100
	quanta split --train 0.5 -q -i "$T/in.qs" --rest "$T/rest.qs" > "$T/train.qs"
	same_multiset "$T/in.qs" "$T/train.qs" "$T/rest.qs"
	run quanta inspect --header --json "$T/rest.qs"
	echo "$output" | jq -e '.provenance[-1].stage == "split" and .provenance[-1].params.part == "test"'
	run quanta inspect --header --json "$T/train.qs"
	echo "$output" | jq -e '.provenance[-1].params.part == "train" and
		(.provenance[-1].args | index("--train")) != null'
	# the input's header is kept
	echo "$output" | jq -e '.fields[1].classes == ["g","q","t","w","z"]'
}

@test "split: one-hot labels and --test alone" {
	PYTHONPATH="$ROOT/tests" "$PY" - "$T/in.qs" <<'EOF'
import sys
import pystream as ps
import numpy as np
rng = np.random.default_rng(0)
w = ps.Writer(open(sys.argv[1], "wb"), [ps.field("y", "<f4", [3], classes=["a", "b", "c"])])
for _ in range(10):
    w.write({"y": np.eye(3, dtype=np.float32)[rng.integers(0, 3, 30)]})
w.close()
EOF
	quanta split --test 0.25 --stratify y -q -i "$T/in.qs" -o "$T/tr.qs" --test-out "$T/te.qs"
	all=($(counts "$T/in.qs" y))
	te=($(counts "$T/te.qs" y))
	for c in 0 1 2; do
		"$PY" -c "
import math; n, got = ${all[$c]}, ${te[$c]}
assert math.floor(n * 0.25) <= got <= math.ceil(n * 0.25), (n, got)"
	done
}

@test "split: outputs to a named pipe and to /dev/null are written in place" {
	mk_labelled "$T/in.qs" 50
	mkfifo "$T/fifo"
	cat "$T/fifo" > "$T/from-fifo.qs" &
	quanta split --train 0.5 -q -i "$T/in.qs" -o "$T/fifo" --test-out /dev/null
	wait
	[ -p "$T/fifo" ]
	[ -c /dev/null ]
	[ "$(quanta inspect --json "$T/from-fifo.qs" | jq .samples)" -eq 25 ]
}

@test "split --help mentions an example; --version" {
	run quanta split --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--test-out"* && "$output" == *"Example"* ]]
	run quanta split --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-split (quanta) "* ]]
}

@test "split: bad numbers and options: one line, exit 2, no output" {
	mk_labelled "$T/in.qs" 20
	for args in "--train 1.5" "--train abc" "--train -0.1" "--train 0.8 --val 0.3" \
		"--train 0.5 --val 0.2 --test 0.2" "--train 0.8 --seed x" "--val 0.2" \
		"--train 0.8 --window 0" "--train 0.8 --bogus" "--train" \
		"--train 0.8 --val 0.1" "--train 0.8 --val-out $T/v.qs" "--train 0.8 extra"; do
		eval "run quanta split $args -i \"\$T/in.qs\" -o \"\$T/a.qs\" --test-out \"\$T/b.qs\""
		echo "$args: $output"
		assert_usage_error split
		assert_no_file "$T/a.qs" "$T/b.qs"
	done
	run quanta split --train 0.8 -i "$T/in.qs"
	assert_usage_error split
	[[ "$output" == *"--test-out"* ]]
	run quanta split --train 0.8 -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/a.qs"
	assert_usage_error split
	assert_no_file "$T/a.qs"
}

@test "split: unknown or unusable stratification field: exit 2, no output" {
	mk_labelled "$T/in.qs" 20
	run quanta split --train 0.8 --stratify nope -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	assert_usage_error split
	[[ "$output" == *"no field 'nope'"*"labels"* ]]
	assert_no_file "$T/a.qs" "$T/b.qs"
	run quanta split --train 0.8 --stratify images -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	assert_usage_error split
	assert_no_file "$T/a.qs" "$T/b.qs"
	# a float field that is no label: found while reading
	run quanta split --train 0.8 --stratify v -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	assert_usage_error split
	[[ "$output" == *"not a class index"* ]]
	assert_no_file "$T/a.qs" "$T/b.qs"
}

@test "split: garbage, truncated, no end marker, missing file: one line, exit 2, no output" {
	mk_labelled "$T/in.qs" 300
	head -c 3000 /dev/urandom > "$T/garbage.qs"
	size=$(stat -c %s "$T/in.qs")
	head -c $((size - 500)) "$T/in.qs" > "$T/trunc.qs"
	"$PY" "$PYS" strip-end "$T/in.qs" "$T/noend.qs"
	for f in garbage trunc noend missing; do
		run quanta split --train 0.5 -i "$T/$f.qs" -o "$T/a.qs" --test-out "$T/b.qs"
		echo "$f: $output"
		assert_usage_error split
		assert_no_file "$T/a.qs" "$T/b.qs"
	done
}

# mk_runs FILE [--reverse] [--sizes a,b,...] [--float]: samples of
# simulation runs, interleaved, batches of 7: field run (i8, or f4 with
# --float: run / 4), id (i8, unique), x (f4 (2,)).  Default: 20 runs of 10.
mk_runs() {
	PYTHONPATH="$ROOT/tests" "$PY" - "$@" <<'EOF2'
import sys
import numpy as np
import pystream as ps
out, opts = sys.argv[1], sys.argv[2:]
sizes = [10] * 20
if "--sizes" in opts:
    sizes = [int(s) for s in opts[opts.index("--sizes") + 1].split(",")]
run = np.repeat(np.arange(len(sizes)), sizes)
np.random.default_rng(3).shuffle(run)
ids = np.arange(len(run))
if "--reverse" in opts:
    run, ids = run[::-1].copy(), ids[::-1].copy()
runf = ("<f4", run / 4) if "--float" in opts else ("<i8", run)
x = np.random.default_rng(4).standard_normal((len(run), 2)).astype(np.float32)
w = ps.Writer(open(out, "wb"), [ps.field("run", runf[0], []),
                                ps.field("id", "<i8", []), ps.field("x", "<f4", [2])])
for s in range(0, len(run), 7):
    w.write({"run": runf[1][s:s + 7].astype(runf[0]), "id": ids[s:s + 7],
             "x": x[s:s + 7]})
w.close()
EOF2
}

# group_sets FIELD PART...: one line per part: its sorted distinct values
# of FIELD, then "overlap: N" (values found in more than one part).
group_sets() {
	local field=$1
	shift
	PYTHONPATH="$ROOT/tests" "$PY" - "$field" "$@" <<'EOF2'
import sys
import pystream as ps
field, parts = sys.argv[1], sys.argv[2:]
sets = []
for p in parts:
    s = {float(v) for b in ps.Reader(open(p, "rb")) for v in b[field]}
    sets.append(s)
    print(" ".join("%g" % v for v in sorted(s)))
print("overlap:", sum(len(a & b) for i, a in enumerate(sets) for b in sets[i + 1:]))
EOF2
}

@test "split --group: whole runs, the fractions in samples, the parts are the input" {
	mk_runs "$T/in.qs"
	run quanta split --train 0.8 --group run -i "$T/in.qs" -o "$T/tr.qs" --test-out "$T/te.qs"
	[ "$status" -eq 0 ]
	[ "$output" = "quanta-split: 200 samples in 20 groups of 'run': 160 train (16 groups), 40 test (4 groups)" ]
	[ "$(quanta inspect --json "$T/tr.qs" | jq .samples)" -eq 160 ]
	[ "$(quanta inspect --json "$T/te.qs" | jq .samples)" -eq 40 ]
	same_multiset "$T/in.qs" "$T/tr.qs" "$T/te.qs"
	run group_sets run "$T/tr.qs" "$T/te.qs"
	[ "${lines[2]}" = "overlap: 0" ]
	[ "$(echo ${lines[0]} | wc -w)" -eq 16 ]
	[ "$(echo ${lines[1]} | wc -w)" -eq 4 ]
	# a part keeps the input order of its samples
	"$PY" "$PYS" samples "$T/in.qs" > "$T/in.txt"
	"$PY" "$PYS" samples "$T/tr.qs" > "$T/a.txt"
	grep -n -F -x -f "$T/a.txt" "$T/in.txt" | cut -d: -f1 > "$T/pos.txt"
	[ "$(wc -l < "$T/pos.txt")" -eq 160 ]
	sort -n -c "$T/pos.txt"
}

@test "split --group: three parts, unequal runs: each within one run of its share" {
	sizes=3,17,8,25,1,12,9,30,4,14,6,22,11,2,19,7,16,5,10,13,28,15
	mk_runs "$T/in.qs" --sizes $sizes
	run quanta split --train 0.6 --val 0.2 --group run --seed 4 -i "$T/in.qs" \
		-o "$T/tr.qs" --val-out "$T/va.qs" --test-out "$T/te.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-split: 277 samples in 22 groups of 'run': "*" train ("*" groups), "*" val ("*" groups), "*" test ("*" groups)" ]]
	same_multiset "$T/in.qs" "$T/tr.qs" "$T/va.qs" "$T/te.qs"
	run group_sets run "$T/tr.qs" "$T/va.qs" "$T/te.qs"
	[ "${lines[3]}" = "overlap: 0" ]
	for p in tr:0.6 va:0.2 te:0.2; do
		n=$(quanta inspect --json "$T/${p%:*}.qs" | jq .samples)
		echo "$p: $n samples"
		# the largest run has 30 samples
		"$PY" -c "import sys; n, f = int(sys.argv[1]), float(sys.argv[2]); assert abs(n - 277 * f) < 30, (n, f)" "$n" "${p#*:}"
	done
}

@test "split --group: a float field; the same split from a pipe, in any sample order" {
	mk_runs "$T/in.qs" --float
	mk_runs "$T/rev.qs" --float --reverse
	quanta split --train 0.75 --group run --seed 8 -q -i "$T/in.qs" \
		-o "$T/tr.qs" --test-out "$T/te.qs"
	cat "$T/in.qs" | TMPDIR="$T" quanta split --train 0.75 --group run --seed 8 \
		-q --test-out "$T/te-pipe.qs" > "$T/tr-pipe.qs"
	cmp <("$PY" "$PYS" body "$T/tr.qs" /dev/stdout) <("$PY" "$PYS" body "$T/tr-pipe.qs" /dev/stdout)
	cmp <("$PY" "$PYS" body "$T/te.qs" /dev/stdout) <("$PY" "$PYS" body "$T/te-pipe.qs" /dev/stdout)
	[ -z "$(ls "$T" | grep quanta-spool)" ]
	# the samples in reverse order: the same runs in each part
	quanta split --train 0.75 --group run --seed 8 -q -i "$T/rev.qs" \
		-o "$T/tr-rev.qs" --test-out "$T/te-rev.qs"
	[ "$(group_sets run "$T/tr.qs" "$T/te.qs")" = "$(group_sets run "$T/tr-rev.qs" "$T/te-rev.qs")" ]
	run group_sets run "$T/tr.qs" "$T/te.qs"
	[ "${lines[0]}" != "" ] && [ "${lines[1]}" != "" ]
	[ "$(echo ${lines[1]} | wc -w)" -eq 5 ]
	# another seed, other runs
	quanta split --train 0.75 --group run --seed 9 -q -i "$T/in.qs" \
		-o "$T/tr9.qs" --test-out "$T/te9.qs"
	[ "$(group_sets run "$T/te.qs")" != "$(group_sets run "$T/te9.qs")" ]
}

@test "split --group: fewer runs than parts leaves a part empty, with a warning" {
	mk_runs "$T/in.qs" --sizes 12
	run quanta split --train 0.8 --group run -q -i "$T/in.qs" -o "$T/tr.qs" --test-out "$T/te.qs"
	[ "$status" -eq 0 ]
	[ "$output" = "quanta-split: warning: the test part is empty: 1 group of 'run' cannot be split 0.8/0/0.2" ]
	[ "$(quanta inspect --json "$T/tr.qs" | jq .samples)" -eq 12 ]
	[ "$(quanta inspect --json "$T/te.qs" | jq .samples)" -eq 0 ]
	# an empty stream: empty parts, no warning
	mk_runs "$T/none.qs" --sizes 0
	run quanta split --train 0.8 --group run -i "$T/none.qs" -o "$T/tr.qs" --test-out "$T/te.qs"
	[ "$status" -eq 0 ]
	[ "$output" = "quanta-split: 0 samples in 0 groups of 'run': 0 train (0 groups), 0 test (0 groups)" ]
	[ "$(quanta inspect --json "$T/te.qs" | jq .samples)" -eq 0 ]
}

@test "split --help mentions --group" {
	run quanta split --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--group FIELD"* ]]
	[[ "$output" == *"--group run -i eor.qs"* ]]
}

@test "split --group: bad fields, values and combinations: one line, exit 2, no output" {
	mk_runs "$T/in.qs"
	for args in "--group nope" "--group x" "--group run --stratify run" \
		"--group run --window 64" "--group"; do
		eval "run quanta split --train 0.8 -i \"\$T/in.qs\" -o \"\$T/a.qs\" --test-out \"\$T/b.qs\" $args"
		echo "$args: $output"
		assert_usage_error split
		assert_no_file "$T/a.qs" "$T/b.qs"
	done
	run quanta split --train 0.8 --group nope -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	[[ "$output" == *"no field 'nope'"*"run"* ]]
	run quanta split --train 0.8 --group x -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	[[ "$output" == *"--group x: per-sample shape (2) is not one value per sample"* ]]
	run quanta split --train 0.8 --group run --stratify run -i "$T/in.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	[[ "$output" == *"--group and --stratify"* ]]
	# NaN, and 64-bit integers that doubles cannot tell apart
	PYTHONPATH="$ROOT/tests" "$PY" - "$T" <<'EOF2'
import sys
import numpy as np
import pystream as ps
t = sys.argv[1]
w = ps.Writer(open(t + "/nan.qs", "wb"), [ps.field("z", "<f4", [])])
w.write({"z": np.array([1, 2, 3], np.float32)})
w.write({"z": np.array([1, np.nan], np.float32)})
w.close()
w = ps.Writer(open(t + "/big.qs", "wb"), [ps.field("id", "<i8", [])])
w.write({"id": np.array([1, 2**62 + 1], np.int64)})
w.close()
EOF2
	run quanta split --train 0.8 --group z -i "$T/nan.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	assert_usage_error split
	[[ "$output" == *"batch 2, sample 1: --group z: the value is NaN"* ]]
	assert_no_file "$T/a.qs" "$T/b.qs"
	# found in the first pass: not even a header reaches stdout
	run sh -c "quanta split --train 0.8 --group z -i '$T/nan.qs' --test-out '$T/b.qs' > '$T/stdout.qs'"
	assert_usage_error split
	[ ! -s "$T/stdout.qs" ]
	rm "$T/stdout.qs"
	run quanta split --train 0.8 --group id -i "$T/big.qs" -o "$T/a.qs" --test-out "$T/b.qs"
	assert_usage_error split
	[[ "$output" == *"beyond 2^53"* ]]
	assert_no_file "$T/a.qs" "$T/b.qs"
	# a truncated stream through a pipe: nothing written
	size=$(stat -c %s "$T/in.qs")
	run sh -c "head -c $((size - 100)) '$T/in.qs' | quanta split --train 0.8 --group run -o '$T/a.qs' --test-out '$T/b.qs'"
	assert_usage_error split
	assert_no_file "$T/a.qs" "$T/b.qs"
}
