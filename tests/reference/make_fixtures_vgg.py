#!/usr/bin/python3
"""Write the PyTorch reference for whole training steps of the VGG
regressor of models/eor.net (with `size=16`).

    /usr/bin/python3 tests/reference/make_fixtures_vgg.py   (from the repo root)

Writes tests/reference/vgg_step.h5, read by tests/unit/test_vgg_step.c.
The network is models/eor.net with 16x16 maps, written out in torch:

    [Conv2d(c, 3, padding='same', bias=False)] x 2, BatchNorm2d(c,
    momentum=0.1, eps=1e-3), ReLU, MaxPool2d(2)   for c = 32, 64, 128
    [Conv2d(256, 3, padding='same', bias=False)] x 2, BatchNorm2d, ReLU
    Flatten (256 * 2 * 2 = 1024)
    [Linear(., 1024, bias=False), BatchNorm1d(1024, momentum=0.1,
    eps=1e-3), ReLU] x 3
    Linear(1024, 1);  MSELoss against xHI (N,) viewed as (N, 1);
    Adam(lr=0.01)

It has 4.3M parameters, too many to store, so the initial parameters are
a formula the C test evaluates to the same bits.  Trainable parameters
are numbered p = 0, 1, ... in quanta's order (qt_net_each_param: nodes
in file order, weight before bias, buffers skipped; the script prints
it); element i of parameter p (C order) draws s = uniform(p, i) in
[-1, 1): splitmix64 of (p << 32) + i, its top 53 bits times 2^-53, times
2, minus 1 (all exact in float64), and is

    conv and dense weights, the last bias:  s / sqrt(fan_in)
                                            (fan_in = Cin*3*3 or in)
    batch norm weight:                      1 + 0.1 s
    batch norm bias:                        0.1 s

The running statistics start as torch's (mean 0, variance 1); the
float32 run starts from the float64 values rounded to float32.  (A
smooth formula such as sin(0.7 i + 1.3 p) will not do: every weight
matrix it makes has rank 2.)  One batch of BATCH maps (float32-exact
normal values) and targets xHI (uniform in [0, 1), float32-exact),
STEPS Adam steps on that same batch in training mode, then one forward
pass in evaluation mode.

Instead of whole tensors, each parameter is summarised by its sum, sum of
squares, sum of absolute values, largest absolute value and its values at
NIDX fixed indices.  Layout:

    maps                (BATCH, 1, 16, 16) float32
    xHI                 (BATCH,) float32
    params/numel        (P,) int64   element counts, in quanta's order
                                     (attribute `names`: quanta's names)
    params/index        (P, NIDX) int64  the sampled flat indices
    DT/loss             (STEPS,)  loss of the forward pass of step 1..STEPS
    DT/SET/stats        (P, 4)    sum, sum of squares, sum |x|, max |x|
    DT/SET/values       (P, NIDX) the values at params/index
                        SET: init (the formula), grad (gradients of step 1),
                        step1, step3 (parameters after 1 and 3 Adam steps)
    DT/running1/BN/running_mean, running_var   (C) after step 1
    DT/running/BN/running_mean, running_var    (C) after STEPS steps
    DT/eval_pred        (BATCH, 1)  evaluation-mode output after STEPS steps

for DT = f64 and f32 (summaries computed in float64 from the float32
values; BN is batchnorm_1 ... batchnorm_7).  Deterministic (fixed seed,
one torch thread) and byte-for-byte reproducible (no timestamps).

It also prints how well the reference itself is defined, which sets the
C test's tolerances: torch float64 run again with the batch reversed
(the same sums in another order), and torch float32, against torch
float64.  Adam turns the rounding noise of gradients that vanish in
exact arithmetic into updates of lr * noise / eps, so after the first
update even float64 torch agrees with itself only to ~1e-9 (1e-7 after
three steps), and float32 not at all.
"""
import math
import os
from collections import OrderedDict

import h5py
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 16
BATCH = 4
STEPS = 3
LR = 0.01
ADAM_EPS = 1e-8
NIDX = 32
SEED = 20240612


def create(name):
    """A new file, byte-for-byte reproducible: no timestamps."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    path = os.path.join(HERE, name).encode()
    return h5py.File(h5py.h5f.create(path, h5py.h5f.ACC_TRUNC, fcpl=fcpl,
                                     fapl=fapl))


def group(f, path):
    """The group at path, created without timestamps."""
    g = f
    for part in path.split("/"):
        if part not in g:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(g.id, part.encode(), gcpl=gcpl)
        g = g[part]
    return g


def write(f, path, t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    parent, _, name = path.rpartition("/")
    g = group(f, parent) if parent else f
    return g.create_dataset(name, data=a, track_times=False)


def vgg_net():
    """models/eor.net with size=16; module names are quanta's node names
    for the layers with parameters."""
    layers = []
    count = {"conv2d": 0, "batchnorm": 0, "dense": 0, "relu": 0,
             "maxpool2d": 0}

    def add(kind, m):
        count[kind] += 1
        layers.append((f"{kind}_{count[kind]}", m))

    cin = 1
    for c, pool in ((32, True), (64, True), (128, True), (256, False)):
        add("conv2d", nn.Conv2d(cin, c, 3, padding="same", bias=False))
        add("conv2d", nn.Conv2d(c, c, 3, padding="same", bias=False))
        add("batchnorm", nn.BatchNorm2d(c, eps=1e-3, momentum=0.1))
        add("relu", nn.ReLU())
        if pool:
            add("maxpool2d", nn.MaxPool2d(2))
        cin = c
    layers.append(("flatten_1", nn.Flatten()))
    fin = 256 * (SIZE // 8) ** 2
    for _ in range(3):
        add("dense", nn.Linear(fin, 1024, bias=False))
        add("batchnorm", nn.BatchNorm1d(1024, eps=1e-3, momentum=0.1))
        add("relu", nn.ReLU())
        fin = 1024
    add("dense", nn.Linear(1024, 1))
    return nn.Sequential(OrderedDict(layers))


def trainable(model):
    """(quanta name, module, parameter) in quanta's order."""
    out = []
    for name, m in model.named_children():
        for pname in ("weight", "bias"):
            p = getattr(m, pname, None)
            if isinstance(p, nn.Parameter):
                out.append((f"{name}/{pname}", m, p))
    return out


def batchnorms(model):
    return [(name, m) for name, m in model.named_children()
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def running(model):
    """(name, running_mean, running_var) copies for every batch norm."""
    return [(name, m.running_mean.detach().clone(),
             m.running_var.detach().clone())
            for name, m in batchnorms(model)]


def uniform(p, n):
    """n numbers in [-1, 1) for parameter p: splitmix64 of (p << 32) + i,
    top 53 bits; exact in float64, so the C test gets the same bits."""
    u64 = np.uint64
    z = (u64(p) << u64(32)) + np.arange(n, dtype=u64)
    z = z + u64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    z = z ^ (z >> u64(31))
    return 2.0 * ((z >> u64(11)).astype(np.float64) * 2.0 ** -53) - 1.0


def formula(p, module, pname, shape):
    """The initial values of trainable parameter number p, float64."""
    n = int(np.prod(shape))
    s = uniform(p, n)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        v = 1.0 + 0.1 * s if pname == "weight" else 0.1 * s
    else:
        fan_in = int(np.prod(module.weight.shape[1:]))
        v = (1.0 / math.sqrt(float(fan_in))) * s
    return v.reshape(shape)


def summary(t):
    """sum, sum of squares, sum |x|, max |x| (float64) and the flat values."""
    a = t.detach().double().numpy().ravel().copy()  # not a view of t
    return (np.array([math.fsum(a), math.fsum(a * a), math.fsum(np.abs(a)),
                      np.abs(a).max()]), a)


def spread(a, b, index):
    """Largest differences between two runs, as the C test measures them:
    losses relative to the loss; parameter values at the sampled indices,
    running statistics and the evaluation output relative to the max |x|
    of their tensor."""
    out = {}
    out["loss 1"] = abs(a["loss"][0] - b["loss"][0]) / abs(a["loss"][0])
    out["loss 2, 3"] = max(abs(x - y) / abs(x)
                           for x, y in zip(a["loss"][1:], b["loss"][1:]))
    for s in ("grad", "step1", "step3"):
        out[s] = max(np.abs(x[ix] - y[ix]).max() / st[3]
                     for (st, x), (_, y), ix in zip(a["sets"][s],
                                                    b["sets"][s], index))
    for s in ("running1", "running"):
        out[s] = max(((x - y.double()).abs().max() / x.abs().max()).item()
                     for ra, rb in zip(a[s], b[s])
                     for x, y in zip(ra[1:], rb[1:]))
    ea, eb = a["eval_pred"], b["eval_pred"].double()
    out["eval_pred"] = ((ea - eb).abs().max() / ea.abs().max()).item()
    return out


def run(dt, init, maps, xhi):
    """STEPS Adam steps in dtype dt; returns a dict of results."""
    model = vgg_net().to(dt)
    with torch.no_grad():
        for (_, _, p), v in zip(trainable(model), init):
            p.copy_(torch.from_numpy(v).to(dt))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=ADAM_EPS,
                           foreach=False)
    lossf = nn.MSELoss()
    x = torch.from_numpy(maps).to(dt)
    y = torch.from_numpy(xhi).to(dt).view(-1, 1)
    res = {"loss": [], "sets": {}}

    def snap(key, grads=False):
        res["sets"][key] = [summary(p.grad if grads else p)
                            for _, _, p in trainable(model)]

    snap("init")
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        res["loss"].append(loss.item())
        if step == 1:
            snap("grad", grads=True)
            res["running1"] = running(model)
        opt.step()
        if step in (1, STEPS):
            snap(f"step{step}")
    res["running"] = running(model)
    model.eval()
    with torch.no_grad():
        res["eval_pred"] = model(x)
    return res


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    maps = torch.randn(BATCH, 1, SIZE, SIZE, generator=gen,
                       dtype=torch.float64).float().numpy()
    xhi = torch.rand(BATCH, generator=gen, dtype=torch.float64).float().numpy()

    ref = vgg_net()
    params = trainable(ref)
    init = [formula(p, m, name.split("/")[1], tuple(q.shape))
            for p, (name, m, q) in enumerate(params)]
    names = [name for name, _, _ in params]
    numel = np.array([q.numel() for _, _, q in params], np.int64)
    rng = np.random.RandomState(SEED + 1)
    index = np.stack([np.sort(rng.randint(0, n, NIDX)) for n in numel])
    print("parameters in quanta's order:")
    for name, n in zip(names, numel):
        print(f"  {name:22s} {n}")
    print(f"  total {numel.sum()}")

    results = {}
    with create("vgg_step.h5") as f:
        write(f, "maps", maps)
        write(f, "xHI", xhi)
        d = write(f, "params/numel", numel)
        d.attrs["names"] = np.array(names, dtype=h5py.string_dtype())
        write(f, "params/index", index.astype(np.int64))
        for key, dt in (("f64", torch.float64), ("f32", torch.float32)):
            res = run(dt, init, maps, xhi)
            results[key] = res
            write(f, f"{key}/loss", np.array(res["loss"], np.float64))
            for s, summ in res["sets"].items():
                stats = np.stack([st for st, _ in summ])
                values = np.stack([a[ix] for (_, a), ix in zip(summ, index)])
                write(f, f"{key}/{s}/stats", stats.astype(np.float64))
                write(f, f"{key}/{s}/values", values.astype(np.float64))
            for s, when in (("running1", "running1"),
                            ("running", "running")):
                for name, rm, rv in res[when]:
                    write(f, f"{key}/{s}/{name}/running_mean", rm)
                    write(f, f"{key}/{s}/{name}/running_var", rv)
            write(f, f"{key}/eval_pred", res["eval_pred"])
            print(f"{key}: losses {res['loss']}, eval output "
                  f"{res['eval_pred'].view(-1).tolist()}")

    # How well the reference itself is defined: torch float64 with the
    # batch reversed (the same sums in another order), and torch float32,
    # against torch float64.  These set the C test's tolerances.
    rev = run(torch.float64, init, maps[::-1].copy(), xhi[::-1].copy())
    rev["eval_pred"] = rev["eval_pred"].flip(0)
    for name, other in (("f64, batch reversed", rev),
                        ("f32", results["f32"])):
        print(f"torch {name} vs torch f64:")
        for k, v in spread(results["f64"], other, index).items():
            print(f"  {k:10s} {v:.2g}")
    print("wrote", os.path.join(HERE, "vgg_step.h5"),
          os.path.getsize(os.path.join(HERE, "vgg_step.h5")), "bytes")


if __name__ == "__main__":
    main()
