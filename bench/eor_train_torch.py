#!/usr/bin/python3
"""PyTorch twin of bench/eor_train.c: train the eor-21cm VGG regressor
(models/eor.net) on synthetic maps and report samples/s and peak memory.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/eor_train_torch.py --threads 2

The network is models/eor.net written with the Keras-equivalent torch
layers: pairs of Conv2d(3x3, padding='same', bias=False), BatchNorm2d
(momentum=0.1, eps=1e-3), ReLU, MaxPool2d(2) at 32, 64, 128 and 256
channels (no pooling after the last pair); Flatten; three Linear(1024,
bias=False) + BatchNorm1d(momentum=0.1, eps=1e-3) + ReLU; Linear(1024, 1)
(the model file's leading avgpool2d(pool) is the identity at its default
pool=1 and has no twin here).
MSELoss against xHI; Adam(lr=0.01); float32; --batches batches of --batch
random (1, size, size) maps (standard normal) with targets uniform in
[0, 1), from a fixed seed.  A training step is zero_grad + forward + loss
+ backward + Adam step.  After --warmup untimed steps, each of --runs
timed runs covers --steps steps; the median run is reported, with the
median time per step of the forward pass, the backward pass (zero_grad
included) and the optimizer step, as one line of key=value pairs on
stdout (the format bench/eor.sh reads):

    torch threads=1 size=200 batch=16 train_sps=... fwd_s=... bwd_s=...
          opt_s=... rss_kb=... params=... loss=... train_runs=[...]

rss_kb is getrusage's peak resident set size of the whole process.
zero_grad is torch 1.13's default (set_to_none=False: the gradients stay
allocated between steps and are zeroed, as quanta's are).

Must run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import os
import resource
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=4,
                    help="distinct synthetic batches cycled through")
    ap.add_argument("--steps", type=int, default=1, help="steps per run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.threads > 1:
        # torch's OpenMP workers otherwise spin between ops, which on a
        # shared 2-core machine steals time from the caller
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import torch
    import torch.nn as nn

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def block(cin, cout, pool):
        layers = [nn.Conv2d(cin, cout, 3, padding="same", bias=False),
                  nn.Conv2d(cout, cout, 3, padding="same", bias=False),
                  nn.BatchNorm2d(cout, momentum=0.1, eps=1e-3), nn.ReLU()]
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    def dense(cin):
        return [nn.Linear(cin, 1024, bias=False),
                nn.BatchNorm1d(1024, momentum=0.1, eps=1e-3), nn.ReLU()]

    side = a.size // 8
    model = nn.Sequential(
        *block(1, 32, True), *block(32, 64, True), *block(64, 128, True),
        *block(128, 256, False), nn.Flatten(),
        *dense(256 * side * side), *dense(1024), *dense(1024),
        nn.Linear(1024, 1))
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    lossf = nn.MSELoss()
    n = a.batch * a.batches
    maps = torch.randn(n, 1, a.size, a.size)
    xhi = torch.rand(n, 1)

    def batch(i):
        k = i % a.batches * a.batch
        return maps[k:k + a.batch], xhi[k:k + a.batch]

    model.train()
    fwd, bwd, upd, runs = [], [], [], []
    loss = None
    for r in range(-1, a.runs):
        steps = a.warmup if r < 0 else a.steps
        t0 = time.perf_counter()
        for s in range(steps):
            x, y = batch((0 if r < 0 else a.warmup + r * a.steps) + s)
            t1 = time.perf_counter()
            loss = lossf(model(x), y)
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            if r >= 0:
                fwd.append(t2 - t1)
                bwd.append(t3 - t2)
                upd.append(t4 - t3)
        if r >= 0:
            runs.append(steps * a.batch / (time.perf_counter() - t0))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("torch threads=%d size=%d batch=%d train_sps=%.3f fwd_s=%.3f "
          "bwd_s=%.3f opt_s=%.3f rss_kb=%d params=%d loss=%.4g "
          "train_runs=[%s]" % (
              a.threads, a.size, a.batch, statistics.median(runs),
              statistics.median(fwd), statistics.median(bwd),
              statistics.median(upd), rss, params, loss.item(),
              ",".join("%.3f" % v for v in runs)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
