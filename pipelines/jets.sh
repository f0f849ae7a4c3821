#!/bin/bash
# pipelines/jets.sh: the jet-image workflow end to end.
#
#   simulate jets -> split (stratified) -> standardise (fitted on the
#   training set only) -> train (models/jets.net) -> predict on the test
#   set -> evaluate -> plots
#
# Usage: pipelines/jets.sh [-n SAMPLES] [-e EPOCHS] [-o OUTDIR] [-s SEED]
# Defaults: the seed notebook's 80000 jets and 15 epochs (about a minute
# on two cores); -n 10000 for a quick look.  Writes into OUTDIR
# (default out/jets): the checkpoint, the training log, metrics as text
# and JSON, and PNG plots; prints the accuracy and confusion matrix.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
PATH="${QUANTA_BIN:-$here/bin}:$PATH"
n=80000 epochs=15 out="$here/out/jets" seed=1
while getopts "n:e:o:s:h" opt; do
	case $opt in
	n) n=$OPTARG ;;
	e) epochs=$OPTARG ;;
	o) out=$OPTARG ;;
	s) seed=$OPTARG ;;
	h) sed -n '2,12p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
mkdir -p "$out"
cd "$out"

echo "== simulate $n jets, split 80/20 (stratified)" >&2
quanta simulate jets -n "$n" --seed "$seed" |
	quanta split --train 0.8 --stratify labels --seed "$seed" \
		-o train.qs --test-out test.qs

echo "== standardise the images with statistics of the training set" >&2
quanta normalise --fit norm.h5 --field images --method standard -q \
	-i train.qs -o train-n.qs
quanta normalise --apply norm.h5 -q -i test.qs -o test-n.qs

echo "== train models/jets.net for $epochs epochs" >&2
quanta train --model "$here/models/jets.net" -i train-n.qs --val-fraction 0.1 \
	--epochs "$epochs" --seed "$seed" --log train.jsonl -o jets.h5

echo "== predict and evaluate on the test set" >&2
quanta predict --model jets.h5 -i test-n.qs -o pred.qs
quanta evaluate -i pred.qs --json metrics.json | tee metrics.txt

echo "== plots" >&2
quanta plot-data curves --log train.jsonl -o loss.png
quanta plot-data confusion --metrics metrics.json --normalise -o confusion.png
quanta plot-data images -i test.qs --field images --label labels --log \
	--n 16 -o images.png
quanta plot-data class-means -i test.qs --field images --label labels --log \
	-o class-means.png
echo "== wrote $(ls | tr '\n' ' ')in $out" >&2
