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

# The text of a PDF picture, one run of characters per line: "h X Y TEXT"
# for text written left to right (X its left end, Y its baseline from the
# top of the page, in points), "v X Y TEXT" for text written upwards (Y
# its lower end).  Superscripts are runs of their own.  Needs Ghostscript.
pdf_text() {
	command -v gs >/dev/null || skip "needs Ghostscript (gs) to read the text of a PDF"
	gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=txtwrite -dTextFormat=0 \
		-sOutputFile=- "$1" | "$PY" -c '
import html, re, sys
pat = r"<char bbox=\"(\S+) (\S+) (\S+) (\S+)\" c=\"([^\"]*)\"/>"
lines = {}
for x0, y0, x1, y1, c in re.findall(pat, sys.stdin.read()):
    x0, y0, x1, y1 = map(float, (x0, y0, x1, y1))
    up = x0 == x1 and y0 != y1
    lines.setdefault(("v", x0) if up else ("h", y0), []).append(
        (-y0 if up else x0, -y1 if up else x1, html.unescape(c)))
for (kind, pos), cs in sorted(lines.items()):
    cs.sort()
    run, end = "", None
    for a, b, c in cs + [(float("inf"), 0, "")]:
        if end is not None and a > end + 3:
            x, y = (pos, -start) if kind == "v" else (start, pos)
            print(kind, round(x), round(y), run)
            run = ""
        if not run:
            start = a
        run, end = run + c, b
'
}

@test "plot-data: --help lists the kinds with examples, --version" {
	run quanta-plot-data --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta plot-data KIND"* ]]
	for k in curves confusion images class-means hist scatter; do
		[[ "$output" == *"  $k "* ]]
	done
	[[ "$output" == *"Examples:"* ]]
	[[ "$output" == *"--units TEXT"* ]]
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

@test "plot-data images and class-means --units: the colour bar gives the unit" {
	mk_images "$T/i.qs"
	run quanta plot-data images -i "$T/i.qs" --units GeV -o "$T/i.png"
	[ "$status" -eq 0 ]
	is_png "$T/i.png"
	run quanta plot-data images -i "$T/i.qs" --log --units mK -o "$T/i.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/i.pdf"
	[[ "$output" == *"v "*" images [mK]"* ]]
	run quanta plot-data class-means -i "$T/i.qs" --units GeV -o "$T/m.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/m.pdf"
	[[ "$output" == *"v "*" mean images [GeV]"* ]]
	# without --units the label has none: the stream format has no unit
	run quanta plot-data images -i "$T/i.qs" -o "$T/n.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/n.pdf"
	[[ "$output" == *"v "*" images"* ]]
	[[ "$output" != *"["* ]]
}

@test "plot-data --units: empty, control characters or another kind is an error" {
	mk_images "$T/i.qs"
	run quanta plot-data images -i "$T/i.qs" --units "" -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"--units"* ]]
	run quanta plot-data images -i "$T/i.qs" --units $'m\tK' -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"control character"* ]]
	run quanta plot-data images -i "$T/i.qs" \
		--units "a unit name far longer than any colour bar has room for" -o "$T/p.png"
	assert_usage_error plot-data
	run quanta plot-data hist -i "$T/i.qs" --field labels --units GeV -o "$T/p.png"
	assert_usage_error plot-data
	[[ "$output" == *"'--units' does not apply to 'hist'"* ]]
	run quanta plot-data images -i "$T/i.qs" --units
	assert_usage_error plot-data
	assert_no_file "$T/p.png"
}

@test "plot-data scatter: the legend goes to the corner with the fewest points" {
	# predictions on the diagonal, and a crowd of bad ones in the top left
	"$PY" - "$T/tl.qs" <<'EOF'
import sys, numpy as np, pystream as ps
rs = np.random.RandomState(3)
x = rs.uniform(0, 1, 1000)
y = x + 0.03 * rs.randn(1000)
x[:300] = rs.uniform(0, 0.25, 300)
y[:300] = rs.uniform(0.75, 1, 300)
w = ps.Writer(open(sys.argv[1], "wb"), [ps.field("xHI", "<f4", []), ps.field("pred", "<f4", [])])
w.write({"xHI": x.astype(np.float32), "pred": y.astype(np.float32)})
w.close()
EOF
	run quanta plot-data scatter -i "$T/tl.qs" --x xHI -o "$T/s.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/s.pdf"
	# the page is 680 x 640 points: the legend is in the bottom right
	read -r _ x y _ <<<"$(grep ' y = x$' <<<"$output")"
	[ "$x" -gt 340 ]
	[ "$y" -gt 320 ]
	# points along the diagonal only: the top left, off the diagonal
	mk_eor "$T/e.qs"
	run quanta plot-data scatter -i "$T/e.qs" --x xHI -o "$T/e.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/e.pdf"
	read -r _ x y _ <<<"$(grep ' y = x$' <<<"$output")"
	[ "$x" -lt 340 ]
	[ "$y" -lt 320 ]
}

@test "plot-data hist --by: groups with equal histograms both stay visible" {
	# redshifts 7 and 8 have the very same values
	"$PY" - "$T/same.qs" <<'EOF'
import sys, numpy as np, pystream as ps
rs = np.random.RandomState(5)
x = rs.beta(2, 5, 200)
v = np.concatenate([x, x, rs.beta(2, 3, 200)]).astype(np.float32)
w = ps.Writer(open(sys.argv[1], "wb"), [ps.field("xHI", "<f4", []), ps.field("redshift", "<f8", [])])
w.write({"xHI": v, "redshift": np.repeat([7.0, 8.0, 9.0], 200)})
w.close()
EOF
	run quanta plot-data hist -i "$T/same.qs" --field xHI --by redshift --bins 10 -o "$T/h.png"
	[ "$status" -eq 0 ]
	is_png "$T/h.png"
	run quanta plot-data hist -i "$T/same.qs" --field xHI --by redshift --bins 10 -o "$T/h.svg"
	[ "$status" -eq 0 ]
	# The first group is solid (one stroke for the outline, one in the
	# legend); the second (vermillion) is dashed over it, and the third
	# (bluish green) dotted: many short strokes each, through whose gaps
	# the group beneath shows.
	blue=$(grep -c 'stroke:rgb(0%,44.705882%,69.803922%)' "$T/h.svg")
	vermillion=$(grep -c 'stroke:rgb(83.529412%,36.862745%,0%)' "$T/h.svg")
	green=$(grep -c 'stroke:rgb(0%,61.960784%,45.098039%)' "$T/h.svg")
	[ "$blue" -le 4 ]
	[ "$vermillion" -gt 20 ]
	[ "$green" -gt "$vermillion" ]
}

# A training log of 8 epochs whose loss falls geometrically from A to B.
mk_falling_log() { # OUT A B
	"$PY" - "$@" <<'EOF'
import json, sys
out, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
with open(out, "w") as f:
    for e in range(8):
        f.write(json.dumps({"epoch": e + 1, "loss": a * (b / a) ** (e / 7)}) + "\n")
EOF
}

@test "plot-data curves --logy: one notation for the labels of an axis" {
	# six decades: powers of ten only (never 0.001 next to 10^-4)
	mk_falling_log "$T/wide.jsonl" 3 3e-6
	run quanta plot-data curves --log "$T/wide.jsonl" --logy --title T -o "$T/w.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/w.pdf"
	[ "$(grep -Ec ' 0\.[0-9]+$' <<<"$output")" -eq 0 ]
	[ "$(grep -c ' 10$' <<<"$output")" -ge 5 ]
	# three decades: decimals only
	mk_falling_log "$T/three.jsonl" 2 0.002
	run quanta plot-data curves --log "$T/three.jsonl" --logy --title T -o "$T/t.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/t.pdf"
	grep -q ' 0\.01$' <<<"$output"
	grep -q ' 0\.1$' <<<"$output"
	[ "$(grep -c ' 10$' <<<"$output")" -eq 0 ]
	# a range within one decade still gets labels
	mk_falling_log "$T/narrow.jsonl" 1.62 1.31
	run quanta plot-data curves --log "$T/narrow.jsonl" --logy --title T -o "$T/n.pdf"
	[ "$status" -eq 0 ]
	run pdf_text "$T/n.pdf"
	[ "$(grep -Ec ' 1\.[0-9]+$' <<<"$output")" -ge 3 ]
}
