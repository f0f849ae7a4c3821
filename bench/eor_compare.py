#!/usr/bin/python3
"""eor_compare.py: `quanta simulate eor` against the real SimFast21 maps.

Runs the simulator (QUANTA_BIN or bin/) and compares its maps with the 60
SimFast21 maps of ../shared/data/eor-simfast21-maps.h5 (150 Mpc, 200 cells,
escape fractions 0.15 / 0.25 / 0.5, z = 10 .. 8):

  history   mean xHI per redshift: real runs against simulated runs whose
            zeta is fixed to the value matched to each escape fraction
  moments   per-map mean and std of dTb in bins of xHI
  pixels    the brightness distribution (percentiles, fraction of dark
            cells) in bins of xHI
  power     the azimuthally averaged 2D power spectrum, Delta^2(k) =
            k^2 P(k) / (2 pi) in mK^2, in bins of xHI
  bubbles   ionised regions (cells below 0.1 T0(z), i.e. x_HI (1 + delta)
            < 0.1): mean free path (Mesinger and Furlanetto 2007, rays in
            the plane) and the area-weighted radius of connected regions
  R2        xHI ~ a + b mean + c std, least squares: R^2 on real maps, on
            simulated maps, and the simulated fit applied to the real maps

Prints Markdown tables (what docs/stages/simulate.md quotes).  Python only
with numpy, h5py, msgpack and msgpack_numpy (Debian's packages):

    /usr/bin/python3 bench/eor_compare.py [--fit] [--runs 6] [--seed 1] [--default-n 2000]

--fit first finds, for each escape fraction, the zeta whose simulated
xHI(z) is closest to the real run's (a golden-section search, 14 steps of
20 x --runs maps); without it the --zeta values are used.
"""
import argparse
import os
import subprocess
import sys
import time

import h5py
import msgpack
import msgpack_numpy as mnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FESC = (0.15, 0.25, 0.5)
ZS = (10.0, 9.5, 9.0, 8.5, 8.0)
XBINS = ((0.0, 0.05), (0.05, 0.3), (0.3, 0.6), (0.6, 0.9))
KS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def t0(z):
    """Neutral mean-density brightness, mK (sim/eor.c's T0)."""
    h2 = 0.6766 ** 2
    return 27.0 * (0.0490 * h2 / 0.023) * np.sqrt(0.15 / (0.3111 * h2) * (1 + z) / 10)


def read_stream(data):
    """All batches of a quanta stream (bytes) as one dict of arrays."""
    u = msgpack.Unpacker(object_hook=mnp.decode, raw=False,
                         max_buffer_size=2 ** 31 - 1)
    u.feed(data)
    out, header = {}, None
    for m in u:
        if header is None:
            header = m
            continue
        if m and all(isinstance(v, np.ndarray) for v in m.values()):
            for k, v in m.items():
                out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def simulate(args, extra):
    exe = os.path.join(args.bin, "quanta-simulate")
    cmd = [exe, "eor", "--seed", str(args.seed)] + extra
    t = time.time()
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
    d = read_stream(res.stdout)
    d["maps"] = d["maps"][:, 0]
    print(f"<!-- {' '.join(['quanta simulate'] + cmd[1:])}: "
          f"{len(d['xHI'])} maps in {time.time() - t:.1f} s -->")
    return d


def fit_zeta(args, real, fesc, extra):
    """The zeta whose simulated mean xHI(z) is closest (least squares over
    the five redshifts) to the real run's: golden-section search in ln zeta."""
    want = np.array([real["xHI"][(real["redshift"] == z) & (real["fesc"] == fesc)].mean()
                     for z in ZS])

    def cost(lz):
        exe = os.path.join(args.bin, "quanta-simulate")
        out = subprocess.run([exe, "eor", "--seed", str(args.seed), "-n",
                              str(20 * args.runs), "--zeta", f"{np.exp(lz):.6g}"] + extra,
                             check=True, stdout=subprocess.PIPE).stdout
        d = read_stream(out)
        got = np.array([d["xHI"][d["redshift"] == z].mean() for z in ZS])
        return ((got - want) ** 2).sum()

    a, b = np.log(2.0), np.log(200.0)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = cost(c), cost(d)
    for _ in range(14):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = cost(d)
    return float(np.exp((a + b) / 2))


def power2d(m, box):
    """Delta^2(k) (mK^2) of a map at the KS wavenumbers (1/Mpc)."""
    n = m.shape[0]
    f = np.fft.fft2(m - m.mean()) * (box / n) ** 2
    p = np.abs(f) ** 2 / box ** 2
    k = 2 * np.pi / box * np.fft.fftfreq(n, 1 / n)
    kk = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    out = []
    for kc in KS:
        sel = (kk > kc / 1.25) & (kk <= kc * 1.25)
        out.append(kc ** 2 * p[sel].mean() / (2 * np.pi))
    return np.array(out)


def labels(mask):
    """4-connected components of a periodic boolean map: a label per cell
    (-1 outside), by min-label propagation with pointer jumping."""
    n = mask.size
    lab = np.where(mask.ravel(), np.arange(n), n)
    lab2 = lab.reshape(mask.shape)
    while True:
        new = lab2.copy()
        for ax in (0, 1):
            for s in (1, -1):
                r = np.roll(lab2, s, axis=ax)
                new = np.where(mask & (r < new), r, new)
        flat = new.ravel()
        inside = flat < n
        flat[inside] = np.minimum(flat[inside], flat[flat[inside]])
        new = flat.reshape(mask.shape)
        if np.array_equal(new, lab2):
            break
        lab2 = new
    return np.where(mask, lab2, -1)


def region_radius(mask, cell):
    """Area-weighted mean radius sqrt(A / pi) of connected regions, Mpc."""
    if not mask.any():
        return np.nan, 0
    lab = labels(mask)
    _, area = np.unique(lab[lab >= 0], return_counts=True)
    r = np.sqrt(area / np.pi) * cell
    return (area * r).sum() / area.sum(), len(area)


def mfp(mask, cell, rng, nray=2000):
    """Mean free path: from random ionised cells in random directions, the
    distance to the first neutral cell (periodic), Mpc; median and mean."""
    n = mask.shape[0]
    ys, xs = np.nonzero(mask)
    if len(ys) == 0 or mask.all():
        return np.nan, np.nan
    pick = rng.integers(0, len(ys), nray)
    y, x = ys[pick] + 0.5, xs[pick] + 0.5
    a = rng.uniform(0, 2 * np.pi, nray)
    dy, dx = np.sin(a) * 0.5, np.cos(a) * 0.5
    dist = np.full(nray, np.nan)
    for step in range(1, 4 * n):
        yy = (np.floor(y + dy * step).astype(int)) % n
        xx = (np.floor(x + dx * step).astype(int)) % n
        hit = ~mask[yy, xx] & np.isnan(dist)
        dist[hit] = step * 0.5 * cell
        if not np.isnan(dist).any():
            break
    dist = dist[~np.isnan(dist)]
    return np.median(dist), dist.mean()


def per_map(maps, xhi, z, box, seed):
    """Per-map statistics: mean, std, Delta^2 at KS, bubble sizes."""
    cell = box / maps.shape[1]
    rng = np.random.default_rng(seed)
    rows = []
    for m, zz in zip(maps, z):
        ion = m < 0.1 * t0(zz)
        rr, nreg = region_radius(ion, cell)
        med, mean = mfp(ion, cell, rng)
        rows.append(dict(mean=m.mean(), std=m.std(), ps=power2d(m, box),
                         rreg=rr, nreg=nreg, mfp_med=med, mfp_mean=mean,
                         dark=(m < 1).mean(), ionf=ion.mean()))
    return rows


def r2_fit(x, y):
    a = np.column_stack([np.ones(len(y))] + list(x))
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef, r2(a @ coef, y)


def r2(pred, y):
    return 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def fmt(v, p=2):
    return "–" if v is None or not np.isfinite(v) else f"{v:.{p}f}"


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", default=os.path.join(
        ROOT, "..", "shared", "data", "eor-simfast21-maps.h5"))
    ap.add_argument("--bin", default=os.environ.get(
        "QUANTA_BIN", os.path.join(ROOT, "bin")))
    ap.add_argument("--runs", type=int, default=6,
                    help="simulated runs per escape fraction (20 maps each)")
    ap.add_argument("--zeta", default="9.88,15.94,28.39",
                    help="zeta matched to fesc 0.15,0.25,0.5 (what --fit finds)")
    ap.add_argument("--default-n", type=int, default=2000,
                    help="maps with the default zeta range (for R^2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--extra", default="", help="more simulate options")
    ap.add_argument("--fit", action="store_true",
                    help="fit each escape fraction's zeta to its xHI history first")
    args = ap.parse_args()
    zetas = [float(v) for v in args.zeta.split(",")]
    extra = args.extra.split()

    f = h5py.File(args.real, "r")
    real = {k: f[k][:] for k in ("images", "xHI", "redshift", "fesc")}
    box = float(f.attrs.get("box_mpc", 150.0))
    real_rows = per_map(real["images"], real["xHI"], real["redshift"], box, 1)

    if args.fit:
        zetas = [fit_zeta(args, real, fe, extra) for fe in FESC]
        print("<!-- fitted zeta: " + ", ".join(f"fesc {fe}: {zt:.2f}" for fe, zt in zip(FESC, zetas)) + " -->")

    sims = []
    for fe, zt in zip(FESC, zetas):
        d = simulate(args, ["-n", str(20 * args.runs), "--zeta", str(zt)] + extra)
        d["fesc"] = np.full(len(d["xHI"]), fe)
        sims.append(d)
    sim = {k: np.concatenate([d[k] for d in sims]) for k in ("maps", "xHI", "redshift", "fesc")}
    sim_rows = per_map(sim["maps"], sim["xHI"], sim["redshift"], box, 2)

    print("### Reionisation history: mean xHI per redshift\n")
    head = ["z"] + [f"real fesc {fe}" for fe in FESC] + \
        [f"sim zeta {zt:g}" for zt in zetas]
    rows = []
    for z in ZS:
        r = [f"{z:g}"]
        for fe in FESC:
            s = (real["redshift"] == z) & (real["fesc"] == fe)
            r.append(f"{real['xHI'][s].mean():.3f} ± {real['xHI'][s].std():.3f}")
        for fe in FESC:
            s = (sim["redshift"] == z) & (sim["fesc"] == fe)
            r.append(f"{sim['xHI'][s].mean():.3f} ± {sim['xHI'][s].std():.3f}")
        rows.append(r)
    table(head, rows)

    def binned(rows_, xhi, key, fn=np.median):
        out = []
        for lo, hi in XBINS:
            s = [r[key] for r, x in zip(rows_, xhi) if lo <= x < hi]
            out.append(fn(np.array(s), axis=0) if s else None)
        return out

    def count(xhi):
        return [int(((xhi >= lo) & (xhi < hi)).sum()) for lo, hi in XBINS]

    print("### Per-map moments of dTb (mK), medians over maps in each xHI bin\n")
    rc, sc = count(real["xHI"]), count(sim["xHI"])
    cols = {k: (binned(real_rows, real["xHI"], k), binned(sim_rows, sim["xHI"], k))
            for k in ("mean", "std", "dark", "ionf", "rreg", "mfp_med", "mfp_mean", "nreg")}
    rows = []
    for i, (lo, hi) in enumerate(XBINS):
        rows.append([f"{lo}–{hi}", f"{rc[i]} / {sc[i]}",
                     f"{fmt(cols['mean'][0][i])} / {fmt(cols['mean'][1][i])}",
                     f"{fmt(cols['std'][0][i])} / {fmt(cols['std'][1][i])}",
                     f"{fmt(cols['dark'][0][i])} / {fmt(cols['dark'][1][i])}"])
    table(["xHI", "maps real / sim", "mean real / sim", "std real / sim",
           "cells < 1 mK real / sim"], rows)

    print("### Brightness distribution: percentiles of all cells (mK)\n")
    qs = (5, 25, 50, 75, 95, 99, 99.9)
    rows = []
    for lo, hi in XBINS:
        for name, d in (("real", real["images"], ), ("sim", sim["maps"])):
            x = real["xHI"] if name == "real" else sim["xHI"]
            s = (x >= lo) & (x < hi)
            if not s.any():
                continue
            v = np.percentile(d[s], qs)
            rows.append([f"{lo}–{hi}", name] + [fmt(a, 2) for a in v] +
                        [fmt(d[s].max(), 0)])
    table(["xHI", "maps"] + [f"p{q:g}" for q in qs] + ["max"], rows)

    print("### Power spectrum Delta^2(k) = k^2 P(k) / 2 pi (mK^2), medians\n")
    rows = []
    for i, (lo, hi) in enumerate(XBINS):
        pr = binned(real_rows, real["xHI"], "ps")[i]
        ps = binned(sim_rows, sim["xHI"], "ps")[i]
        for name, p in (("real", pr), ("sim", ps)):
            if p is not None:
                rows.append([f"{lo}–{hi}", name] + [fmt(v, 1) for v in p])
    table(["xHI", "maps"] + [f"k={k:g}" for k in KS], rows)

    print("### Ionised regions (dTb < 0.1 T0): sizes in Mpc, medians over maps\n")
    rows = []
    for i, (lo, hi) in enumerate(XBINS):
        rows.append([f"{lo}–{hi}",
                     f"{fmt(cols['ionf'][0][i])} / {fmt(cols['ionf'][1][i])}",
                     f"{fmt(cols['mfp_med'][0][i], 1)} / {fmt(cols['mfp_med'][1][i], 1)}",
                     f"{fmt(cols['mfp_mean'][0][i], 1)} / {fmt(cols['mfp_mean'][1][i], 1)}",
                     f"{fmt(cols['rreg'][0][i], 1)} / {fmt(cols['rreg'][1][i], 1)}",
                     f"{fmt(cols['nreg'][0][i], 0)} / {fmt(cols['nreg'][1][i], 0)}"])
    table(["xHI", "ionised fraction real / sim", "MFP median", "MFP mean",
           "region radius (area-weighted)", "regions per map"], rows)

    print("### How well the map mean and std predict xHI (linear least squares)\n")
    dflt = simulate(args, ["-n", str(args.default_n)] + extra)
    feats = lambda m: [m.mean(axis=(1, 2)), m.std(axis=(1, 2))]
    rows = []
    cr, r2r = r2_fit(feats(real["images"]), real["xHI"])
    _, r2rm = r2_fit(feats(real["images"])[:1], real["xHI"])
    cs, r2s = r2_fit(feats(dflt["maps"]), dflt["xHI"])
    _, r2sm = r2_fit(feats(dflt["maps"])[:1], dflt["xHI"])
    a = np.column_stack([np.ones(60)] + feats(real["images"]))
    r2x = r2(a @ cs, real["xHI"])
    keep = (dflt["xHI"] >= 0.01) & (dflt["xHI"] <= 0.99)
    _, r2k = r2_fit([v[keep] for v in feats(dflt["maps"])], dflt["xHI"][keep])
    rows.append(["real SimFast21 (60 maps)", fmt(r2rm, 3), fmt(r2r, 3)])
    rows.append([f"simulated, default zeta range ({len(dflt['xHI'])} maps)",
                 fmt(r2sm, 3), fmt(r2s, 3)])
    rows.append(["simulated, 0.01 <= xHI <= 0.99 (the workflow's cut, "
                 f"{int(keep.sum())} maps)", "", fmt(r2k, 3)])
    rows.append(["fit on simulated, applied to real", "", fmt(r2x, 3)])
    table(["maps", "R^2 mean only", "R^2 mean + std"], rows)
    print(f"Simulated fit: xHI = {cs[0]:.4f} + {cs[1]:.4f} mean + {cs[2]:.4f} std (mK); "
          f"real fit: {cr[0]:.4f} + {cr[1]:.4f} mean + {cr[2]:.4f} std\n")
    xs = dflt["xHI"]
    print("Default-range xHI coverage per redshift (min / median / max): " +
          "; ".join(f"z={z:g}: {xs[dflt['redshift'] == z].min():.2f} / "
                    f"{np.median(xs[dflt['redshift'] == z]):.2f} / "
                    f"{xs[dflt['redshift'] == z].max():.2f}" for z in ZS))


if __name__ == "__main__":
    sys.exit(main())
