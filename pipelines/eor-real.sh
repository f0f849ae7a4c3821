#!/bin/bash
# pipelines/eor-real.sh: the eor-21cm experiments on the 60 real SimFast21
# maps (../shared/data/eor-simfast21-maps.h5), after the same xHI cut:
#
#   (a) sim -> real: the model of pipelines/eor.sh, with the simulation's
#       normalisation parameters, applied to the real maps;
#   (b) real half -> other half: models/eor.net trained on the half=0 maps,
#       tested on the half=1 maps, and the reverse, for several seeds;
#   (c) the baseline, a linear fit of xHI on each map's mean and std
#       (scripts/eor_baseline.py), fitted on the same training stream and
#       tested on the same maps, with bootstrap intervals.
#
# Usage: pipelines/eor-real.sh [-d SIMDIR] [-o OUTDIR] [-e EPOCHS]
#                              [-k "SEEDS"] [-p POOL] [-l LR] [-c SCHED]
#                              [-B BOOT] [-A]
# Defaults: SIMDIR out/eor (made by pipelines/eor.sh if it has no
# eor.h5), OUTDIR out/eor-real, 100 epochs for the ~23 maps of a half
# (150 optimizer steps), seeds "1 2 3", pool 5, Adam lr 0.001 with a
# cosine schedule (as pipelines/eor.sh), 2000 bootstrap
# resamples: about 2 minutes on two cores after pipelines/eor.sh.  -A
# runs (a) and its baseline only (seconds), e.g. for a model per seed:
#   for s in 1 2 3; do pipelines/eor.sh -s $s -o out/eor-s$s &&
#     pipelines/eor-real.sh -A -d out/eor-s$s -o out/eor-real-s$s; done
# Prints, and writes to results.txt, R^2 of the network and of the
# baseline on every test set.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
PATH="${QUANTA_BIN:-$here/bin}:$PATH"
PY=${PY:-/usr/bin/python3}
DATA=${DATA:-${QUANTA_DATA:-$here/../shared/data}}
[ -d "$DATA" ] || DATA=/work/shared/data
sim="$here/out/eor" out="$here/out/eor-real" epochs=100 seeds="1 2 3" pool=5 boot=2000
lr=0.001 sched=cosine only_a=0
while getopts "d:o:e:k:p:l:c:B:Ah" opt; do
	case $opt in
	d) sim=$OPTARG ;;
	o) out=$OPTARG ;;
	e) epochs=$OPTARG ;;
	k) seeds=$OPTARG ;;
	p) pool=$OPTARG ;;
	l) lr=$OPTARG ;;
	c) sched=$OPTARG ;;
	B) boot=$OPTARG ;;
	A) only_a=1 ;;
	h) sed -n '2,25p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
real="$DATA/eor-simfast21-maps.h5"
[ -r "$real" ] || { echo "eor-real.sh: $real not found (set DATA)" >&2; exit 2; }
real="$(cd "$DATA" && pwd)/eor-simfast21-maps.h5"
if [ ! -e "$sim/eor.h5" ]; then
	echo "== no model in $sim: running pipelines/eor.sh -o $sim first" >&2
	"$here/pipelines/eor.sh" -o "$sim"
fi
sim="$(cd "$sim" && pwd)"
base="$here/scripts/eor_baseline.py"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$out"
SECONDS=0

echo "== load the real maps, keep 0.01 <= xHI <= 0.99" >&2
quanta load "$real" --fields images,xHI,redshift,half --rename images=maps \
	--shape maps=1,200,200 | quanta filter --field xHI --min 0.01 --max 0.99 -o real.qs
quanta plot-data hist -i real.qs --field xHI --by redshift --bins 10 --range 0,1 \
	--title "real SimFast21 maps: xHI per redshift (after the cut)" -o real-xhi.png
quanta plot-data images -i real.qs --field maps --label xHI --n 16 --log \
	--title "real maps: dTb in mK (log colour), titled by xHI" -o real-maps.png

echo "== (a) the simulation's model on the real maps" >&2
quanta normalise --apply "$sim/norm.h5" -q -i real.qs -o real-simnorm.qs
quanta predict --model "$sim/eor.h5" -i real-simnorm.qs -o pred-sim2real.qs
quanta evaluate -i pred-sim2real.qs --truth xHI --json metrics-sim2real.json |
	tee metrics-sim2real.txt
quanta plot-data scatter -i pred-sim2real.qs --x xHI \
	--title "trained on simulations, tested on real maps" -o scatter-sim2real.png
"$PY" "$base" --train "$sim/train-n.qs" --test sim-test="$sim/pred.qs" \
	--test real="$out/pred-sim2real.qs" --boot "$boot" --json baseline-sim.json > baseline-sim.txt

r2() { sed -n 's/^ *"r2": *\([^,]*\),*$/\1/p' "$1"; }
if [ "$only_a" = 1 ]; then
	{
		echo "eor-21cm: simulation model on real SimFast21 maps ($SECONDS s; model $sim/eor.h5)"
		printf '%-28s %s\n' "sim -> real, network" "R^2 $(r2 metrics-sim2real.json)"
		cat baseline-sim.txt
	} | tee results.txt
	exit 0
fi

echo "== (b) real half -> other half, seeds $seeds" >&2
quanta filter --field half --max 0 -q -i real.qs -o half0.qs
quanta filter --field half --min 1 -q -i real.qs -o half1.qs
for a in 0 1; do
	b=$((1 - a))
	quanta normalise --fit norm-half$a.h5 --field maps --method minmax,standard \
		-q -i half$a.qs -o half$a-n.qs
	quanta normalise --apply norm-half$a.h5 -q -i half$b.qs -o half$b-by$a-n.qs
	tests=()
	for s in $seeds; do
		# No validation fraction: a half has ~23 maps.  The checkpoint is
		# the last epoch's; the spread over seeds shows what that costs.
		quanta train --model "$here/models/eor.net" --set pool="$pool" \
			-i half$a-n.qs --epochs "$epochs" --seed "$s" -q \
			--lr "$lr" --schedule "$sched" \
			--log train-half$a-s$s.jsonl -o eor-half$a-s$s.h5
		quanta predict --model eor-half$a-s$s.h5 -i half$b-by$a-n.qs \
			-o pred-half${a}to$b-s$s.qs
		quanta evaluate -i pred-half${a}to$b-s$s.qs --truth xHI \
			--json metrics-half${a}to$b-s$s.json > /dev/null
		tests+=(--test "half${a}to$b-s$s=$out/pred-half${a}to$b-s$s.qs")
		# keep the first seed's checkpoint only (118 MB each)
		[ "$s" = "${seeds%% *}" ] || rm -f eor-half$a-s$s.h5
	done
	s1=${seeds%% *}
	quanta plot-data scatter -i pred-half${a}to$b-s$s1.qs --x xHI \
		--title "real half $a -> half $b (seed $s1)" -o scatter-half${a}to$b.png
	quanta plot-data curves --log train-half$a-s$s1.jsonl --logy \
		-o loss-half$a.png
	"$PY" "$base" --train half$a-n.qs "${tests[@]}" --boot "$boot" \
		--json baseline-half$a.json > baseline-half$a.txt
done

{
	echo "eor-21cm on real SimFast21 maps ($SECONDS s; model $sim/eor.h5)"
	printf '%-28s %s\n' "sim -> real, network" "R^2 $(r2 metrics-sim2real.json)"
	for a in 0 1; do
		b=$((1 - a))
		printf '%-28s %s\n' "real half $a -> half $b, network" "R^2 $(for s in $seeds; do r2 metrics-half${a}to$b-s$s.json; done |
			awk '{v[NR]=$1; s+=$1} END {m=s/NR; for(i=1;i<=NR;i++) q+=(v[i]-m)^2;
			     printf "%.4f +- %.4f (mean +- sd over %d seeds:", m, (NR > 1 ? sqrt(q / (NR - 1)) : 0), NR;
			     for(i=1;i<=NR;i++) printf " %.4f", v[i]; print ")"}')"
	done
	echo "baselines (linear fit of xHI on map mean and std), with 16-84% bootstrap intervals:"
	cat baseline-sim.txt baseline-half0.txt baseline-half1.txt
} | tee results.txt
