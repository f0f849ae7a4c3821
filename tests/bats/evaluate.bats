#!/usr/bin/env bats
# quanta evaluate: hand-checked classification (table, JSON, stream),
# multiclass AUC, regression, stream output on stdout, and bad input.

load helpers

setup() {
	quanta_setup
	export PYTHONPATH="$ROOT/tests"
}
teardown() { quanta_teardown; }

# The hand-made binary case (also in tests/unit/test_metrics.c): 8 samples,
# classes bkg/sig, prob[:, 1] = 0.1 0.4 0.35 0.8 | 0.9 0.8 0.3 0.7, so
# pred = 0 0 0 1 | 1 1 0 1: confusion [[3, 1], [1, 3]], accuracy 0.75,
# AUC = (4 + 3.5 + 1 + 3) / 16 = 0.71875 (the 0.8 tie counts one half).
mk_binary() { # OUT [--no-pred]
	"$PY" - "$@" <<'EOF'
import sys
import numpy as np
import pystream as ps
p1 = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.8, 0.3, 0.7], np.float32)
prob = np.stack([1 - p1, p1], 1).astype(np.float32)
lab = np.array([0, 0, 0, 0, 1, 1, 1, 1])
fields = [ps.field("labels", "<i8", [], classes=["bkg", "sig"]),
          ps.field("prob", "<f4", [2])]
if "--no-pred" not in sys.argv:
    fields.append(ps.field("pred", "<i8", [], classes=["bkg", "sig"]))
w = ps.Writer(open(sys.argv[1], "wb"), fields)
for s in (slice(0, 5), slice(5, 8)):
    b = {"labels": lab[s], "prob": prob[s], "pred": prob[s].argmax(1)}
    w.write(b)
w.close()
EOF
}

# Regression: y = 1 2 3 4, p = 1 2 3 5: MSE 0.25, MAE 0.25, R^2 0.8.
mk_regression() {
	"$PY" - "$1" <<'EOF'
import sys
import numpy as np
import pystream as ps
w = ps.Writer(open(sys.argv[1], "wb"), [ps.field("xHI", "<f4", []),
                                        ps.field("pred", "<f4", [])])
w.write({"xHI": np.array([1, 2], np.float32), "pred": np.array([1, 2], np.float32)})
w.write({"xHI": np.array([3, 4], np.float32), "pred": np.array([3, 5], np.float32)})
w.close()
EOF
}

# json FILE EXPR: evaluate a Python expression on the loaded JSON `m`.
json() {
	"$PY" -c "import json, sys; m = json.load(open(sys.argv[1])); print(repr(($2)))" "$1"
}

@test "evaluate: --help shows an example, --version the version" {
	run quanta-evaluate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: quanta evaluate"* ]]
	[[ "$output" == *"Example:"* ]]
	run quanta evaluate --version
	[ "$status" -eq 0 ]
	[[ "$output" == "quanta-evaluate (quanta) "* ]]
}

@test "evaluate: hand-made binary case: accuracy, confusion, AUC in the table" {
	mk_binary "$T/b.qs"
	run quanta evaluate -i "$T/b.qs"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "classification: 8 samples, 2 classes (truth 'labels', predictions 'pred', probabilities 'prob')" ]]
	grep -qx 'accuracy   0.7500' <<<"$output"
	grep -qx "AUC        0.7188  (class 'sig' positive)" <<<"$output"
	grep -qx 'truth\\pred    bkg    sig' <<<"$output"
	grep -qx 'bkg             3      1' <<<"$output"
	grep -qx 'sig             1      3' <<<"$output"
	grep -qx 'bkg         0.750  0.250' <<<"$output"
	grep -qx 'macro     0.7500     0.7500     0.7500          8' <<<"$output"
}

@test "evaluate: without a pred field the classes are the argmax of prob" {
	mk_binary "$T/b.qs" --no-pred
	run quanta evaluate -i "$T/b.qs"
	[ "$status" -eq 0 ]
	grep -qx 'accuracy   0.7500' <<<"$output"
	grep -qx 'sig             1      3' <<<"$output"
}

@test "evaluate: --json holds every metric with class names" {
	mk_binary "$T/b.qs"
	run quanta evaluate -i "$T/b.qs" --json "$T/m.json"
	[ "$status" -eq 0 ]
	[ "$(json "$T/m.json" 'm["confusion"]')" = "[[3, 1], [1, 3]]" ]
	[ "$(json "$T/m.json" 'm["classes"]')" = "['bkg', 'sig']" ]
	[ "$(json "$T/m.json" 'm["accuracy"], m["auc"], m["samples"]')" = "(0.75, 0.71875, 8)" ]
	[ "$(json "$T/m.json" 'm["support"], m["f1_macro"]')" = "([4, 4], 0.75)" ]
	[ "$(json "$T/m.json" 'm["confusion_normalised"][0]')" = "[0.75, 0.25]" ]
}

@test "evaluate: -o writes a one-batch metrics stream" {
	mk_binary "$T/b.qs"
	run quanta evaluate -i "$T/b.qs" -o "$T/m.qs"
	[ "$status" -eq 0 ]
	run "$PY" - "$T/m.qs" <<'EOF'
import sys, numpy as np, pystream as ps
r = ps.Reader(open(sys.argv[1], "rb"))
f = {x["name"]: x for x in r.header["fields"]}
b = list(r)
assert len(b) == 1 and r.end == {"batches": 1, "samples": 1}
assert f["confusion"]["dtype"] == "<i8" and f["confusion"]["shape"] == [2, 2]
assert f["confusion"]["classes"] == ["bkg", "sig"]
assert f["accuracy"]["dtype"] == "<f8" and f["accuracy"]["shape"] == []
assert b[0]["confusion"].tolist() == [[[3, 1], [1, 3]]]
assert b[0]["auc"][0] == 0.71875 and b[0]["accuracy"][0] == 0.75
assert r.header["provenance"][-1]["stage"] == "evaluate"
print("ok")
EOF
	[ "$status" -eq 0 ]
	[ "$output" = "ok" ]
}

@test "evaluate: -o - puts the stream on stdout and the table on stderr" {
	mk_binary "$T/b.qs"
	quanta evaluate -i "$T/b.qs" -o - >"$T/m.qs" 2>"$T/table"
	grep -qx 'accuracy   0.7500' "$T/table"
	head -c 20 "$T/m.qs" | grep -qa quanta
}

@test "evaluate: multiclass one-vs-rest AUC and macro averages" {
	"$PY" - "$T/c.qs" <<'EOF'
import sys, numpy as np, pystream as ps
# 6 samples, 3 classes; pred = argmax: 0 1 2 | 1 1 0
prob = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .2, .7],
                 [.3, .6, .1], [.1, .5, .4], [.5, .2, .3]], np.float32)
lab = np.array([0, 1, 2, 0, 2, 2])
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("y", "|u1", [], classes=["a", "b", "c"]),
               ps.field("prob", "<f4", [3])])
w.write({"y": lab.astype(np.uint8), "prob": prob})
w.close()
EOF
	run quanta evaluate -i "$T/c.qs" --truth y --json "$T/m.json"
	[ "$status" -eq 0 ]
	grep -qx 'accuracy   0.5000' <<<"$output"
	grep -qx 'a               1      1      0' <<<"$output"
	grep -qx 'c               1      1      1' <<<"$output"
	# class a: positives 0.8, 0.3 against negatives 0.2 0.1 0.1 0.5:
	# 4 + 3 of 8 pairs
	[ "$(json "$T/m.json" 'm["auc_per_class"][0]')" = "0.875" ]
	# precision a 1/2, b 1/3, c 1/1
	[ "$(json "$T/m.json" 'round(m["precision_macro"], 6)')" = "0.611111" ]
}

@test "evaluate: regression MSE, MAE, R^2 and Pearson r" {
	mk_regression "$T/r.qs"
	run quanta evaluate -i "$T/r.qs" --truth xHI --json "$T/m.json"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "regression: 4 samples, 1 output (truth 'xHI', predictions 'pred')" ]]
	grep -qx 'MSE        0.25' <<<"$output"
	grep -qx 'MAE        0.25' <<<"$output"
	grep -qx 'R^2        0.8' <<<"$output"
	[ "$(json "$T/m.json" 'm["r2"], m["mse"]')" = "(0.8, 0.25)" ]
}

@test "evaluate: a missing field is a one-line error naming the fields" {
	mk_binary "$T/b.qs"
	run quanta evaluate -i "$T/b.qs" --truth nope --json "$T/m.json" -o "$T/m.qs"
	assert_usage_error evaluate
	[[ "$output" == *"no field 'nope'"*"labels, prob, pred"* ]]
	assert_no_file "$T/m.json" "$T/m.qs"
}

@test "evaluate: a truncated stream is an error and leaves no output" {
	mk_binary "$T/full.qs"
	"$PY" "$ROOT/tests/pystream.py" strip-end "$T/full.qs" "$T/b.qs"
	run quanta evaluate -i "$T/b.qs" --json "$T/m.json" -o "$T/m.qs"
	assert_usage_error evaluate
	[[ "$output" == *"truncated"* ]]
	assert_no_file "$T/m.json" "$T/m.qs"
	mk_binary "$T/c.qs"
	head -c 150 "$T/c.qs" >"$T/cut.qs"
	run quanta evaluate -i "$T/cut.qs" --json "$T/m.json"
	assert_usage_error evaluate
	assert_no_file "$T/m.json"
}

@test "evaluate: a label outside the class names is an error" {
	"$PY" - "$T/o.qs" <<'EOF'
import sys, numpy as np, pystream as ps
w = ps.Writer(open(sys.argv[1], "wb"),
              [ps.field("labels", "<i8", [], classes=["a", "b"]),
               ps.field("pred", "<i8", [])])
w.write({"labels": np.array([0, 1, 2]), "pred": np.array([0, 1, 1])})
w.close()
EOF
	run quanta evaluate -i "$T/o.qs" --json "$T/m.json"
	assert_usage_error evaluate
	[[ "$output" == *"truth label 2 of sample 2 is outside [0, 2)"* ]]
	assert_no_file "$T/m.json"
}

@test "evaluate: garbage, a missing file, float classes, bad options" {
	echo "not a stream" >"$T/g.qs"
	run quanta evaluate -i "$T/g.qs"
	assert_usage_error evaluate
	run quanta evaluate -i "$T/none.qs"
	assert_usage_error evaluate
	mk_regression "$T/r.qs"
	run quanta evaluate -i "$T/r.qs" --truth xHI --pred nope
	assert_usage_error evaluate
	mk_binary "$T/b.qs"
	run quanta evaluate -i "$T/b.qs" --pred prob
	assert_usage_error evaluate
	run quanta evaluate --bogus
	assert_usage_error evaluate
	[[ "${lines[1]}" == "Try 'quanta evaluate --help'." ]]
	run quanta evaluate -i "$T/b.qs" extra
	assert_usage_error evaluate
}
