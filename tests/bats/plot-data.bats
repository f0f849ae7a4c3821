#!/usr/bin/env bats
# quanta plot-data: every kind writes a real PNG / SVG / PDF; bad input
# (unknown kind or extension, missing field, missing file, truncated
# stream, label out of range) is a one-line error with no picture left.

load helpers

setup() {
	quanta_setup
	export PYTHONPATH="$ROOT/tests"
	# Under `make sanitize`, tests/run.sh points LeakSanitizer at
	# tests/lsan.supp (font caches of PLplot's cairo driver).
}
teardown() { quanta_teardown; }

# A jets-like stream: 40 samples of (1, 8, 8) images with a blob whose
# width grows with the class, labels and predictions of 3 classes.
mk_images() { # OUT [--strip-end]
	"$PY" - "$1" <<'EOF'
import sys, numpy as np, pystream as ps
rs = np.random.RandomState(1)
n = 40
lab = np.arange(n) % 3
yy, xx = np.mgrid[0:8, 0:8]
img = np.exp(-((yy - 3.5) ** 2 + (xx - 3.5) ** 2)[None] / (1 + lab[:, None, None]))
img = (img * rs.exponential(10, (n, 1, 1)))[:, None].astype(np.float32)
pred = np.where(np.arange(n) % 5 == 0, (lab + 1) % 3, lab)
cls = ["g", "q", "t"]
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("images", "<f4", [1, 8, 8]),
               ps.field("labels", "<i8", [], classes=cls),
               ps.field("pred", "<i8", [], classes=cls)])
for s in range(0, n, 16):
    w.write({"images": img[s:s + 16], "labels": lab[s:s + 16],
             "pred": pred[s:s + 16]})
w.close()
EOF
}

# An eor-like stream: xHI, its prediction, and a redshift per sample.
mk_eor() {
	"$PY" - "$1" <<'EOF'
import sys, numpy as np, pystream as ps
rs = np.random.RandomState(2)
n = 300
z = rs.choice([7.0, 8.0, 9.0], n)
x = rs.beta(1 + (z - 6), 2).astype(np.float32)
p = (x + 0.05 * rs.randn(n)).astype(np.float32)
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("xHI", "<f4", []), ps.field("pred", "<f4", []),
               ps.field("redshift", "<f8", [])])
w.write({"xHI": x, "pred": p, "redshift": z})
w.close()
EOF
}

mk_log() {
	for e in 1 2 3 4 5 6; do
		printf '{"epoch": %d, "loss": 1.%d, "val_loss": 1.%d, "accuracy": 0.%d, "val_accuracy": 0.%d, "lr": 0.01, "seconds": 1.5}\n' \
			"$e" $((9 - e)) $((9 - e + 1)) $((3 + e)) $((2 + e))
	done >"$1"
}

mk_metrics() {
	cat >"$1" <<'EOF'
{"task": "classification", "classes": ["background", "tropical cyclone", "atmospheric river"],
 "confusion": [[980, 3, 17], [2, 15, 3], [5, 1, 19]]}
EOF
}

is_png() {
	[ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
}

is_svg() {
	[ -s "$1" ] && head -c 100 "$1" | grep -q '^<?xml' && grep -q '<svg' "$1"
}

@test "plot-data: --help lists the kinds with examples, --version" {
	run quanta-plot-data --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta plot-data KIND"* ]]
	for k in curves confusion images class-means hist scatter; do
		[[ "$output" == *"  $k "* ]]
	done
	[[ "$output" == *"Examples:"* ]]
	run quanta plot-data images --help
	[ "$status" -eq 0 ]
	run quanta plot-data --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-plot-data (quanta) "* ]]
}

@test "plot-data curves: PNG and SVG from a training log" {
	mk_log "$T/train.jsonl"
	run quanta plot-data curves --log "$T/train.jsonl" -o "$T/c.png"
	[ "$status" -eq 0 ]
	is_png "$T/c.png"
	run quanta plot-data curves --log "$T/train.jsonl" --keys loss,val_loss \
		--logy --title "jets CNN" --size 700x400 -o "$T/c.svg"
	[ "$status" -eq 0 ]
	is_svg "$T/c.svg"
	grep -q 'width="700pt" height="400pt"' "$T/c.svg"
}

@test "plot-data confusion: from quanta evaluate --json, PNG, SVG and PDF" {
	mk_metrics "$T/m.json"
	run quanta plot-data confusion --metrics "$T/m.json" -o "$T/cm.png"
	[ "$status" -eq 0 ]
	is_png "$T/cm.png"
	run quanta plot-data confusion --metrics "$T/m.json" --normalise -o "$T/cm.svg"
	[ "$status" -eq 0 ]
	is_svg "$T/cm.svg"
	run quanta plot-data confusion --metrics "$T/m.json" -o "$T/cm.pdf"
	[ "$status" -eq 0 ]
	[ "$(head -c 5 "$T/cm.pdf")" = "%PDF-" ]
	# and straight from evaluate
	mk_images "$T/i.qs"
	quanta evaluate -i "$T/i.qs" --json "$T/e.json" >/dev/null
	run quanta plot-data confusion --metrics "$T/e.json" -o "$T/e.png"
	[ "$status" -eq 0 ]
	is_png "$T/e.png"
}

@test "plot-data images and class-means: PNG and SVG, log colour" {
	mk_images "$T/i.qs"
	run quanta plot-data images -i "$T/i.qs" --n 9 -o "$T/i.png"
	[ "$status" -eq 0 ]
	is_png "$T/i.png"
	run quanta plot-data images --log --label labels --pred pred -o "$T/i.svg" <"$T/i.qs"
	[ "$status" -eq 0 ]
	is_svg "$T/i.svg"
	grep -q 'viewBox' "$T/i.svg"
	run quanta plot-data class-means -i "$T/i.qs" -o "$T/m.png"
	[ "$status" -eq 0 ]
	is_png "$T/m.png"
	run quanta plot-data class-means -i "$T/i.qs" --log -o "$T/m.svg"
	[ "$status" -eq 0 ]
	is_svg "$T/m.svg"
}

@test "plot-data hist and scatter: PNG and SVG" {
	mk_eor "$T/e.qs"
	run quanta plot-data hist -i "$T/e.qs" --field xHI --by redshift -o "$T/h.png"
	[ "$status" -eq 0 ]
	is_png "$T/h.png"
	run quanta plot-data hist -i "$T/e.qs" --field pred --range 0,1 --bins 10 \
		--density --log -o "$T/h.svg"
	[ "$status" -eq 0 ]
	is_svg "$T/h.svg"
	run quanta plot-data scatter -i "$T/e.qs" --x xHI --y pred -o "$T/s.png"
	[ "$status" -eq 0 ]
	is_png "$T/s.png"
	run quanta plot-data scatter -i "$T/e.qs" --x xHI --max-points 50 -o "$T/s.svg"
	[ "$status" -eq 0 ]
	is_svg "$T/s.svg"
}

@test "plot-data: unknown kind, unknown extension, missing -o" {
	mk_images "$T/i.qs"
	run quanta plot-data pie -i "$T/i.qs" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"unknown kind 'pie'"* ]]
	run quanta plot-data images -i "$T/i.qs" -o "$T/p.gif"
	assert_usage_error plot-data
	[[ "$output" == *".png, .svg or .pdf"* ]]
	run quanta plot-data images -i "$T/i.qs"
	assert_usage_error plot-data
	run quanta plot-data
	assert_usage_error plot-data
	run quanta plot-data images -i "$T/i.qs" --bins 4 -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"'--bins' does not apply to 'images'"* ]]
	run quanta plot-data images -i "$T/i.qs" --size 12 -o "$T/p.png"
	assert_usage_error plot-data
	assert_no_file "$T/p.png" "$T/p.gif"
}

@test "plot-data: missing field or file is an error and leaves no picture" {
	mk_images "$T/i.qs"
	run quanta plot-data images -i "$T/i.qs" --field nope -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"no field 'nope'"* ]]
	run quanta plot-data hist -i "$T/i.qs" --field labels --by nope -o "$T/p.png"
	assert_usage_error plot-data
	run quanta plot-data hist -i "$T/i.qs" --field images -o "$T/p.png"
	assert_usage_error plot-data
	run quanta plot-data curves --log "$T/none.jsonl" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"cannot open"* ]]
	echo '{"epoch": 1, "loss": 0.5' >"$T/bad.jsonl"
	run quanta plot-data curves --log "$T/bad.jsonl" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"bad.jsonl:1:"* ]]
	run quanta plot-data confusion --metrics "$T/none.json" -o "$T/p.png"
	assert_usage_error plot-data
	run quanta plot-data images -i "$T/none.qs" -o "$T/p.png"
	assert_usage_error plot-data
	assert_no_file "$T/p.png"
}

@test "plot-data: truncated stream is an error and leaves no picture" {
	mk_images "$T/i.qs"
	"$PY" "$ROOT/tests/pystream.py" strip-end "$T/i.qs" "$T/s.qs"
	run quanta plot-data class-means -i "$T/s.qs" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"truncated"* ]]
	head -c 1500 "$T/i.qs" >"$T/cut.qs"
	run quanta plot-data hist -i "$T/cut.qs" --field labels -o "$T/p.svg"
	assert_usage_error plot-data
	assert_no_file "$T/p.png" "$T/p.svg"
}

@test "plot-data: a label outside the class names is an error" {
	"$PY" - "$T/o.qs" <<'EOF'
import sys, numpy as np, pystream as ps
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("images", "<f4", [4, 4]),
               ps.field("labels", "<i8", [], classes=["a", "b"])])
w.write({"images": np.ones((3, 4, 4), np.float32), "labels": np.array([0, 1, 2])})
w.close()
EOF
	run quanta plot-data class-means -i "$T/o.qs" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"label 2 of sample 2 is outside [0, 2)"* ]]
	run quanta plot-data images -i "$T/o.qs" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"label 2 of sample 2 in 'labels' is outside [0, 2)"* ]]
	assert_no_file "$T/p.png"
}
