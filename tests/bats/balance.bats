#!/usr/bin/env bats
# quanta-balance: equal counts per bin within groups, down and up,
# deterministic, on hand-made streams whose counts are known.

load helpers

setup() {
	quanta_setup
	# eor.py OUT [--nan] [--no-end] [--labels]: 37 samples; xHI in 4 bins
	# of [0, 1] with these counts per redshift:
	#   z=7: 5 3 4 2    z=8: 1 2 2 6    z=9: 3 3 3 3
	# in a shuffled order, batches of 5, each sample with a unique id.
	cat > "$T/eor.py" <<-'EOF'
	import sys
	sys.path.insert(0, sys.argv[1])
	import numpy as np
	import pystream as ps
	out, opts = sys.argv[2], sys.argv[3:]
	counts = {7: [5, 3, 4, 2], 8: [1, 2, 2, 6], 9: [3, 3, 3, 3]}
	x, z = [], []
	for zz, cs in counts.items():
	    for k, c in enumerate(cs):
	        for j in range(c):
	            x.append(0.25 * k + 0.02 + 0.03 * j)
	            z.append(zz)
	rng = np.random.default_rng(5)
	p = rng.permutation(len(x))
	x = np.array(x, np.float32)[p]
	z = np.array(z, np.float32)[p]
	if "--nan" in opts:
	    x[17] = np.nan
	ids = np.arange(len(x))
	maps = rng.standard_normal((len(x), 2, 3)).astype(np.float32)
	fields = [ps.field("xHI", "<f4", []), ps.field("redshift", "<f4", []),
	          ps.field("id", "<i8", []), ps.field("maps", "<f4", [2, 3])]
	if "--labels" in opts:
	    fields.append(ps.field("labels", "<i8", [], classes=["a", "b", "c"]))
	w = ps.Writer(open(out, "wb"), fields, end_marker="--no-end" not in opts)
	for s in range(0, len(x), 5):
	    b = {"xHI": x[s:s + 5], "redshift": z[s:s + 5], "id": ids[s:s + 5],
	         "maps": maps[s:s + 5]}
	    if "--labels" in opts:
	        # class a: ids < 30, b: the rest, c: none
	        b["labels"] = (ids[s:s + 5] >= 30).astype(np.int64)
	    w.write(b)
	w.close()
	EOF
	# cells.py IN: "z bin count" lines, then "ids: ..." in output order.
	cat > "$T/cells.py" <<-'EOF'
	import sys, collections
	sys.path.insert(0, sys.argv[1])
	import numpy as np
	import pystream as ps
	r = ps.Reader(open(sys.argv[2], "rb"))
	c, ids = collections.Counter(), []
	for b in r:
	    for x, z, i in zip(b["xHI"], b["redshift"], b["id"]):
	        c[(int(z), min(int(x * 4), 3))] += 1
	        ids.append(int(i))
	for k in sorted(c):
	    print(k[0], k[1], c[k])
	print("ids:", " ".join(map(str, ids)))
	EOF
	$PY "$T/eor.py" "$ROOT/tests" "$T/eor.qs"
}

teardown() { quanta_teardown; }

cells() { $PY "$T/cells.py" "$ROOT/tests" "$1"; }

@test "balance: down-samples every bin to its redshift's smallest bin" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		-i "$T/eor.qs" -o "$T/out.qs" --quiet
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run cells "$T/out.qs"
	[ "$status" -eq 0 ]
	expected="7 0 2
7 1 2
7 2 2
7 3 2
8 0 1
8 1 1
8 2 1
8 3 1
9 0 3
9 1 3
9 2 3
9 3 3"
	[ "$(printf '%s\n' "${lines[@]:0:12}")" = "$expected" ]
	# 24 distinct samples, in their input order.
	ids=(${lines[12]#ids: })
	[ "${#ids[@]}" -eq 24 ]
	sorted=$(printf '%s\n' "${ids[@]}" | sort -n -u | tr '\n' ' ')
	[ "$sorted" = "$(printf '%s ' "${ids[@]}")" ]
	# z=9 is already balanced: all 12 of its samples are kept.
	run $PY "$ROOT/tests/pystream.py" dump "$T/out.qs"
	[[ "$output" == *'"samples": 24'* ]]
}

@test "balance: up-samples with replacement to the largest bin, copies adjacent" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--mode up --seed 7 -i "$T/eor.qs" -o "$T/out.qs" --quiet
	[ "$status" -eq 0 ]
	run cells "$T/out.qs"
	expected="7 0 5
7 1 5
7 2 5
7 3 5
8 0 6
8 1 6
8 2 6
8 3 6
9 0 3
9 1 3
9 2 3
9 3 3"
	[ "$(printf '%s\n' "${lines[@]:0:12}")" = "$expected" ]
	ids=(${lines[12]#ids: })
	[ "${#ids[@]}" -eq 56 ]
	# Every one of the 37 input samples at least once; non-decreasing: copies follow
	# their original.
	[ "$(printf '%s\n' "${ids[@]}" | sort -n -u | wc -l)" -eq 37 ]
	[ "$(printf '%s\n' "${ids[@]}" | sort -n | tr '\n' ' ')" = \
	  "$(printf '%s ' "${ids[@]}")" ]
}

@test "balance: output batches are no larger than the input's" {
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --mode up \
		-q -i "$T/eor.qs" -o "$T/out.qs"
	run $PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps
r = ps.Reader(open('$T/out.qs', 'rb'))
print(max(len(b['id']) for b in r))"
	[ "$output" -le 5 ]
}

@test "balance: the same seed gives the same samples, another seed others" {
	for run in 1a 1b 2; do
		quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
			--seed ${run%[ab]} -q -i "$T/eor.qs" -o "$T/out$run.qs"
		$PY "$ROOT/tests/pystream.py" samples "$T/out$run.qs" > "$T/s$run.txt"
	done
	cmp "$T/s1a.txt" "$T/s1b.txt"
	! cmp -s "$T/s1a.txt" "$T/s2.txt"
}

@test "balance: a pipe (spooled to a temporary file) gives what a file gives" {
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --mode up \
		--seed 3 -q -i "$T/eor.qs" -o "$T/file.qs"
	cat "$T/eor.qs" | TMPDIR="$T" quanta balance --field xHI --bins 4 \
		--range 0,1 --by redshift --mode up --seed 3 -q > "$T/pipe.qs"
	run $PY "$ROOT/tests/pystream.py" samples "$T/file.qs"
	a="$output"
	run $PY "$ROOT/tests/pystream.py" samples "$T/pipe.qs"
	[ "$output" = "$a" ]
	# The temporary copy is gone.
	[ -z "$(ls "$T" | grep quanta-spool)" ]
}

@test "balance: without --by, one group" {
	# over all redshifts: bins have 9 8 9 11 samples
	run quanta balance --field xHI --bins 4 --range 0,1 -i "$T/eor.qs" \
		-o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"down-sampled 37 samples to 32"* ]]
	[[ "$output" == *"all "*"|  9  8  9 11 | 8 per bin"* ]]
}

@test "balance: reports the counts before and after as a table" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		-i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "quanta-balance: down-sampled 37 samples to 24: 'xHI' in 4 bins of width 0.25 over [0, 1], by redshift" ]
	[ "${lines[1]}" = "  redshift | 0 1 2 3 | after" ]
	[ "${lines[2]}" = "  7        | 5 3 4 2 | 2 per bin" ]
	[ "${lines[3]}" = "  8        | 1 2 2 6 | 1 per bin" ]
	[ "${lines[4]}" = "  9        | 3 3 3 3 | 3 per bin" ]
}

@test "balance: without --range, bins span the data's min and max" {
	run quanta balance --field xHI --bins 4 --by redshift -i "$T/eor.qs" \
		-o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"over [0.02, 0.92]"* ]]
}

@test "balance: bins agree with numpy.histogram" {
	$PY "$ROOT/tests/pystream.py" write "$T/r.qs" --field x:f4: --random 997 \
		--batch 64 --seed 11
	for range in "" "--range -2.5,1.75"; do
		run quanta balance --field x --bins 7 $range --allow-empty \
			-i "$T/r.qs" -o "$T/out.qs"
		[ "$status" -eq 0 ]
		got=$(printf '%s\n' "${lines[@]}" | grep '^  all' | tail -n 1 | cut -d'|' -f2 | xargs)
		want=$($PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps, numpy as np
x = np.concatenate([b['x'] for b in ps.Reader(open('$T/r.qs', 'rb'))]).astype(np.float64)
r = '$range'.split(' ')[-1].split(',') if '$range' else None
c, _ = np.histogram(x, bins=7, range=tuple(map(float, r)) if r else None)
print(' '.join(map(str, c)))")
		echo "got $got, numpy $want"
		[ "$got" = "$want" ]
	done
}

@test "balance: samples outside --range are dropped and counted" {
	# [0, 0.5] holds bins 0 and 1 only: the others are dropped
	run quanta balance --field xHI --bins 2 --range 0,0.5 --by redshift \
		-i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"20 samples outside [0, 0.5] dropped"* ]]
	[[ "$output" == *"down-sampled 37 samples to 14"* ]]
}

@test "balance: an empty bin is an error naming the group and the bin" {
	run quanta balance --field xHI --bins 8 --range 0,1 --by redshift \
		-i "$T/eor.qs" -o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"redshift 7 has no samples in xHI bin 3 [0.375, 0.5)"* ]]
	[[ "$output" == *"--allow-empty"* ]]
	assert_no_file "$T/out.qs"
}

@test "balance: --allow-empty balances the non-empty bins of each group" {
	run quanta balance --field xHI --bins 8 --range 0,1 --by redshift \
		--allow-empty -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"down-sampled 37 samples to 22"* ]]
	[[ "$output" == *"| 4 1 3 0 4 0 2 0 | 1 per bin (3 empty)"* ]]
	[[ "$output" == *"| 3 0 3 0 3 0 3 0 | 3 per bin (4 empty)"* ]]
}

@test "balance: classes of a label field, empty class is an error" {
	$PY "$T/eor.py" "$ROOT/tests" "$T/lab.qs" --labels
	run quanta balance --class labels -i "$T/lab.qs" -o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"labels bin 2 c has no samples"* ]]
	assert_no_file "$T/out.qs"
	run quanta balance --class labels --allow-empty --seed 2 \
		-i "$T/lab.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"down-sampled 37 samples to 14: classes of 'labels'"* ]]
	[[ "$output" == *"| 30  7  0 | 7 per bin (1 empty)"* ]]
	run $PY "$ROOT/tests/pystream.py" dump "$T/out.qs"
	[[ "$output" == *'"samples": 14'* ]]
}

@test "balance: classes within groups" {
	$PY "$T/eor.py" "$ROOT/tests" "$T/lab.qs" --labels
	run quanta balance --class labels --by redshift --allow-empty --mode up \
		-i "$T/lab.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"redshift |  a  b  c | after"* ]]
}

@test "balance: provenance records what was done" {
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --seed 9 \
		-q -i "$T/eor.qs" -o "$T/out.qs"
	run quanta inspect --header "$T/out.qs"
	[[ "$output" == *"balance.field=xHI"* ]]
	[[ "$output" == *"balance.by=redshift"* ]]
	[[ "$output" == *"balance.bins=4"* ]]
	[[ "$output" == *"balance.range=0,1"* ]]
	[[ "$output" == *"balance.mode=down"* ]]
	[[ "$output" == *"balance.seed=9"* ]]
	[[ "$output" == *"balance.samples_in=37"* ]]
	[[ "$output" == *"balance.samples_out=24"* ]]
}

@test "balance: --help and --version" {
	run quanta balance --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta balance"* ]]
	[[ "$output" == *"Examples:"* ]]
	run quanta balance --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"0."* ]]
}

@test "balance: usage errors" {
	run quanta balance -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --class labels -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --bins 0 -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --range 1,0 -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --range 0 -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --mode sideways -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --seed -1 -i "$T/eor.qs"
	assert_usage_error balance
	run quanta balance --field xHI --frobnicate
	assert_usage_error balance
	[[ "$output" == *"Try 'quanta balance --help'"* ]]
}

@test "balance: a missing --by field is a one-line error" {
	run quanta balance --field xHI --by z -i "$T/eor.qs" -o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"no field 'z'"*"redshift"* ]]
	assert_no_file "$T/out.qs"
}

@test "balance: a field that is not one value per sample is refused" {
	run quanta balance --field maps -i "$T/eor.qs" -o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"(2, 3) is not one value per sample"* ]]
	run quanta balance --field xHI --by maps -i "$T/eor.qs" -o "$T/out.qs"
	assert_usage_error balance
	assert_no_file "$T/out.qs"
}

@test "balance: NaN in the binned field names the batch" {
	$PY "$T/eor.py" "$ROOT/tests" "$T/nan.qs" --nan
	run quanta balance --field xHI --bins 4 --by redshift -i "$T/nan.qs" \
		-o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"batch 4, sample 2: field 'xHI' is NaN"* ]]
	assert_no_file "$T/out.qs"
}

@test "balance: a truncated stream is an error and leaves no output" {
	head -c -40 "$T/eor.qs" > "$T/cut.qs"
	run quanta balance --field xHI --bins 4 --by redshift -i "$T/cut.qs" \
		-o "$T/out.qs"
	assert_usage_error balance
	assert_no_file "$T/out.qs"
	# An upstream stage that died: no end marker, through a pipe.
	run sh -c "head -c -10 '$T/eor.qs' | quanta balance --field xHI --bins 4 -o '$T/out.qs'"
	assert_usage_error balance
	[[ "$output" == *"truncated"* ]]
	assert_no_file "$T/out.qs"
}

@test "balance: garbage and missing input" {
	head -c 1000 /dev/urandom > "$T/junk.qs"
	run quanta balance --field xHI -i "$T/junk.qs" -o "$T/out.qs"
	assert_usage_error balance
	run quanta balance --field xHI -i "$T/nope.qs" -o "$T/out.qs"
	assert_usage_error balance
	assert_no_file "$T/out.qs"
}

@test "balance: an empty stream gives an empty stream" {
	$PY -c "
import sys; sys.path.insert(0, '$ROOT/tests'); import pystream as ps
w = ps.Writer(open('$T/empty.qs', 'wb'), [ps.field('xHI', '<f4', [])]); w.close()"
	run quanta balance --field xHI -i "$T/empty.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 samples to 0"* ]]
	run $PY "$ROOT/tests/pystream.py" dump "$T/out.qs"
	[[ "$output" == *'"samples": 0'* ]]
}

@test "balance --min-count: sparse bins are dropped and do not set the target" {
	# z=8 bin 0 has 1 sample: dropped, so z=8 keeps 2 per bin in bins 1-3
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--min-count 2 --allow-empty -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "quanta-balance: down-sampled 37 samples to 26: 'xHI' in 4 bins of width 0.25 over [0, 1], by redshift" ]
	[ "${lines[1]}" = "quanta-balance: 1 sample dropped: 1 bin with fewer than --min-count 2 samples" ]
	[ "${lines[3]}" = "  7        | 5 3 4 2 | 2 per bin" ]
	[ "${lines[4]}" = "  8        | 1 2 2 6 | 2 per bin (1 under --min-count: 1 dropped)" ]
	[ "${lines[5]}" = "  9        | 3 3 3 3 | 3 per bin" ]
	run cells "$T/out.qs"
	expected="7 0 2
7 1 2
7 2 2
7 3 2
8 1 2
8 2 2
8 3 2
9 0 3
9 1 3
9 2 3
9 3 3"
	[ "$(printf '%s\n' "${lines[@]:0:11}")" = "$expected" ]
	# 3 samples per bin and more: z=7 and z=8 lose their sparse bins
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--min-count 3 --allow-empty -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"down-sampled 37 samples to 27"* ]]
	[[ "$output" == *"7 samples dropped: 4 bins with fewer than --min-count 3 samples"* ]]
	[[ "$output" == *"| 5 3 4 2 | 3 per bin (1 under --min-count: 2 dropped)"* ]]
	[[ "$output" == *"| 1 2 2 6 | 6 per bin (3 under --min-count: 5 dropped)"* ]]
}

@test "balance --min-count 1 is the default; a sparse bin without --allow-empty is an error" {
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --seed 4 \
		-q -i "$T/eor.qs" -o "$T/a.qs"
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --seed 4 \
		--min-count 1 -q -i "$T/eor.qs" -o "$T/b.qs"
	cmp <($PY "$ROOT/tests/pystream.py" samples "$T/a.qs") \
		<($PY "$ROOT/tests/pystream.py" samples "$T/b.qs")
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--min-count 2 -i "$T/eor.qs" -o "$T/out.qs"
	assert_usage_error balance
	[[ "$output" == *"redshift 8 has 1 sample in xHI bin 0 [0, 0.25), fewer than --min-count 2"*"--allow-empty"* ]]
	assert_no_file "$T/out.qs"
}

@test "balance --count: fuller bins down to N, smaller ones kept whole and reported" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--count 3 --seed 2 -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "quanta-balance: down-sampled 37 samples to 31 (3 per bin): 'xHI' in 4 bins of width 0.25 over [0, 1], by redshift" ]
	[ "${lines[1]}" = "quanta-balance: 4 bins with fewer than --count 3 samples kept whole (--mode up would copy them up to 3)" ]
	[ "${lines[3]}" = "  7        | 5 3 4 2 | 3 per bin (1 short: kept whole)" ]
	[ "${lines[4]}" = "  8        | 1 2 2 6 | 3 per bin (3 short: kept whole)" ]
	[ "${lines[5]}" = "  9        | 3 3 3 3 | 3 per bin" ]
	run cells "$T/out.qs"
	expected="7 0 3
7 1 3
7 2 3
7 3 2
8 0 1
8 1 2
8 2 2
8 3 3
9 0 3
9 1 3
9 2 3
9 3 3"
	[ "$(printf '%s\n' "${lines[@]:0:12}")" = "$expected" ]
	ids=(${lines[12]#ids: })
	[ "$(printf '%s\n' "${ids[@]}" | sort -n -u | wc -l)" -eq 31 ]
	# the same seed, the same samples
	quanta balance --field xHI --bins 4 --range 0,1 --by redshift --count 3 \
		--seed 2 -q -i "$T/eor.qs" -o "$T/again.qs"
	cmp <($PY "$ROOT/tests/pystream.py" samples "$T/out.qs") \
		<($PY "$ROOT/tests/pystream.py" samples "$T/again.qs")
}

@test "balance --count with --mode up: every bin exactly N, copies only of small bins" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--count 4 --mode up --seed 5 -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "quanta-balance: resampled 37 samples to 48 (4 per bin): "* ]]
	run cells "$T/out.qs"
	for z in 7 8 9; do
		for k in 0 1 2 3; do
			[[ "$output" == *"$z $k 4"* ]]
		done
	done
	ids=(${lines[12]#ids: })
	[ "${#ids[@]}" -eq 48 ]
	# z=7 bin 0 (5) and z=8 bin 3 (6) are down-sampled to 4, every other
	# sample is kept: 37 - 1 - 2 distinct samples
	[ "$(printf '%s\n' "${ids[@]}" | sort -n -u | wc -l)" -eq 34 ]
	[ "$(printf '%s\n' "${ids[@]}" | sort -n | tr '\n' ' ')" = \
	  "$(printf '%s ' "${ids[@]}")" ]
}

@test "balance --count and --min-count together, with classes; provenance" {
	run quanta balance --field xHI --bins 4 --range 0,1 --by redshift \
		--count 3 --min-count 2 --allow-empty -i "$T/eor.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"down-sampled 37 samples to 30 (3 per bin)"* ]]
	[[ "$output" == *"| 1 2 2 6 | 3 per bin (1 under --min-count: 1 dropped; 2 short: kept whole)"* ]]
	run quanta inspect --header "$T/out.qs"
	[[ "$output" == *"balance.min_count=2"* ]]
	[[ "$output" == *"balance.count=3"* ]]
	[[ "$output" == *"balance.samples_out=30"* ]]
	# classes a: 30, b: 7, c: 0; b is under --min-count 8, a gives 20
	$PY "$T/eor.py" "$ROOT/tests" "$T/lab.qs" --labels
	run quanta balance --class labels --min-count 8 --count 20 --allow-empty \
		-i "$T/lab.qs" -o "$T/out.qs"
	[ "$status" -eq 0 ]
	[[ "$output" == *"down-sampled 37 samples to 20 (20 per bin): classes of 'labels'"* ]]
	[[ "$output" == *"| 30  7  0 | 20 per bin (1 empty; 1 under --min-count: 7 dropped)"* ]]
}

@test "balance --help mentions --min-count and --count" {
	run quanta balance --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--min-count K"* ]]
	[[ "$output" == *"--count N"* ]]
	[[ "$output" == *"--min-count 10 --count 30"* ]]
}

@test "balance: bad --min-count and --count values" {
	for args in "--min-count 0" "--min-count -3" "--min-count 2.5" \
		"--min-count abc" "--min-count ''" "--count 0" "--count -1" \
		"--count 1.5" "--count 1e3" "--count 99999999999" "--min-count"; do
		eval "run quanta balance --field xHI --bins 4 --allow-empty -i \"\$T/eor.qs\" -o \"\$T/out.qs\" $args"
		echo "$args: $output"
		assert_usage_error balance
		[[ "$output" == *"--min-count"* || "$output" == *"--count"* ]]
		assert_no_file "$T/out.qs"
	done
}
