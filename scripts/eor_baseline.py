"""scripts/eor_baseline.py: the eor-21cm baseline a network has to beat.

Fits xHI = a + b mean(map) + c std(map) by least squares on a training
stream and reports R^2 on test streams, with a bootstrap over the test
maps; when a test stream carries the network's predictions (`pred`, as
`quanta predict` writes it), the network's R^2 is bootstrapped over the
same resamples, and so is the difference network - baseline.

Usage:
  /usr/bin/python3 scripts/eor_baseline.py --train train-n.qs \
      [--test NAME=pred.qs ...] [--boot 2000] [--seed 1] [--json out.json]

Streams are read with msgpack + msgpack_numpy (docs/FORMAT.md); only the
fields `maps`, `xHI` and, when present, `pred` are used.  Give the streams
the network saw (normalised): normalisation is one affine map
y = s x + o for all pixels, which takes (mean, std) to (s mean + o,
|s| std), so the fit and its R^2 are the same as on maps in mK; the
coefficients printed are converted back to mK when the stream's
provenance names its parameter file (`normalise.params`) and it can be
read, else they are in normalised units.

The interval printed is the 16th-84th percentile of R^2 over bootstrap
resamples of the test maps (the fit is held fixed: it is the error of the
test set's finiteness, not of the training).  Maps of one run, or of one
real SimFast21 box, are correlated, so this underestimates the error when
the test set holds few runs.
"""
import argparse, json, os, sys

import msgpack
import msgpack_numpy as mnp
import numpy as np


def read(path):
    """Header and {field: array} of the fields we use, map statistics only."""
    hdr, stats, cols = None, [], {}
    with open(path, "rb") as f:
        for msg in msgpack.Unpacker(f, object_hook=mnp.decode, raw=False,
                                    max_buffer_size=2**31):
            if "quanta" in msg:
                hdr = msg
                continue
            if "quanta.end" in msg:
                continue
            x = msg["maps"].astype(np.float64).reshape(len(msg["maps"]), -1)
            stats.append(np.stack([x.mean(1), x.std(1)], 1))
            for k in ("xHI", "pred", "redshift"):
                if k in msg:
                    cols.setdefault(k, []).append(np.asarray(msg[k], np.float64).reshape(-1))
    if hdr is None:
        sys.exit(f"eor_baseline: {path}: not a quanta stream")
    d = {k: np.concatenate(v) for k, v in cols.items()}
    d["ms"] = np.concatenate(stats) if stats else np.zeros((0, 2))
    return hdr, d


def norm_params(hdr, path):
    """(scale, offset) of the stream's last normalise step, if readable."""
    for step in reversed(hdr.get("provenance", [])):
        p = step.get("params", {}) if isinstance(step, dict) else {}
        if "normalise.params" in p:
            f = p["normalise.params"]
            cand = [f, os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(f))]
            try:
                import h5py
            except ImportError:
                return None
            for c in cand:
                if os.path.exists(c):
                    with h5py.File(c, "r") as h:
                        return float(h["scale"][0]), float(h["offset"][0])
            return None
    return None


def preprocessing(hdr):
    """The normalisation identities of a stream (what quanta predict checks)."""
    ids = set()
    for step in hdr.get("provenance", []):
        for k, v in (step.get("params", {}) if isinstance(step, dict) else {}).items():
            if k.endswith(".sha256"):
                ids.add((k, v))
    return ids


def r2(y, p):
    ss = ((y - y.mean()) ** 2).sum()
    return 1 - ((y - p) ** 2).sum() / ss if ss > 0 else float("nan")


def design(ms, cols):
    return np.column_stack([np.ones(len(ms))] + [ms[:, c] for c in cols])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    hdr, tr = read(a.train)
    fits = {}
    for name, cols in (("mean", [0]), ("mean+std", [0, 1])):
        fits[name] = (cols, np.linalg.lstsq(design(tr["ms"], cols), tr["xHI"], rcond=None)[0])
    coef = fits["mean+std"][1]
    unit = "normalised units"
    sp = norm_params(hdr, a.train)
    if sp is not None:  # x_mK = (y - o) / s: mean_y = s mean + o, std_y = |s| std
        s, o = sp
        coef = np.array([coef[0] + coef[1] * o, coef[1] * s, coef[2] * abs(s)])
        unit = "dTb in mK"
    print(f"baseline fitted on {a.train} ({len(tr['xHI'])} maps): "
          f"xHI = {coef[0]:+.4f} {coef[1]:+.4f} mean {coef[2]:+.4f} std ({unit})")
    out = {"train": a.train, "train_maps": int(len(tr["xHI"])),
           "coef_mean_std": coef.tolist(), "coef_units": unit, "tests": {}}

    rng = np.random.default_rng(a.seed)
    print(f"{'test set':<14} {'maps':>5}  {'R2 mean only':>22}  {'R2 mean+std':>22}  "
          f"{'R2 network':>22}  {'network - mean+std':>22}")
    for spec in a.test:
        name, _, path = spec.partition("=")
        if not path:
            name, path = os.path.basename(spec), spec
        th, te = read(path)
        if preprocessing(th) != preprocessing(hdr):
            sys.exit(f"eor_baseline: {path} was not normalised like {a.train} "
                     "(normalise.sha256 differs): normalise --apply the same file to both")
        y, n = te["xHI"], len(te["xHI"])
        preds = {k: design(te["ms"], c) @ w for k, (c, w) in fits.items()}
        if "pred" in te:
            preds["network"] = te["pred"]
        idx = rng.integers(0, n, size=(a.boot, n)) if n > 1 else np.zeros((0, n), int)
        res = {"file": path, "maps": n}
        cells = []
        for k in ("mean", "mean+std", "network"):
            if k not in preds:
                cells.append(f"{'-':>22}")
                continue
            b = np.array([r2(y[i], preds[k][i]) for i in idx])
            lo, hi = np.nanpercentile(b, [16, 84]) if len(b) else (np.nan, np.nan)
            v = r2(y, preds[k])
            res[k] = {"r2": v, "r2_16": lo, "r2_84": hi,
                      "mse": float(((y - preds[k]) ** 2).mean())}
            cells.append(f"{v:8.4f} [{lo:6.4f},{hi:6.4f}]")
        if "network" in preds:
            b = np.array([r2(y[i], preds["network"][i]) - r2(y[i], preds["mean+std"][i]) for i in idx])
            lo, hi = np.nanpercentile(b, [16, 84]) if len(b) else (np.nan, np.nan)
            v = res["network"]["r2"] - res["mean+std"]["r2"]
            res["network_minus_baseline"] = {"d_r2": v, "d_r2_16": lo, "d_r2_84": hi}
            cells.append(f"{v:+8.4f} [{lo:+.4f},{hi:+.4f}]")
        else:
            cells.append(f"{'-':>22}")
        print(f"{name:<14} {n:>5}  " + "  ".join(cells))
        out["tests"][name] = res
    print("(brackets: 16th-84th percentile over "
          f"{a.boot} bootstrap resamples of the test maps)")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
