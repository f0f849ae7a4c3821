#!/usr/bin/python3
"""PyTorch twin of bench/jets_train.c: train and run the jets CNN on
synthetic data and report samples per second.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/jets_train_torch.py --threads 2

The network, loss, optimizer, batch and data shape are those of
models/jets.net and bench/jets_train.c: Conv2d(1,5,5) ReLU MaxPool2d(2)
Conv2d(5,10,5) ReLU MaxPool2d(2) Flatten Linear(40,30) ReLU Linear(30,20)
ReLU Linear(20,10) ReLU Linear(10,5); CrossEntropyLoss; Adam(lr=0.03);
float32; batches of 1000 random 20x20 images with labels in 0..4, from a
fixed seed.  A training step is zero_grad + forward + loss + backward +
Adam step; inference is a forward pass under torch.no_grad().  Each of
--runs timed runs covers --steps batches, after untimed steps for --warmup
seconds (as bench/jets_train.c); the median run is reported, as one line of key=value pairs on stdout (the
format bench/run.sh reads):

    torch threads=1 train_sps=... infer_sps=... train_runs=[...] infer_runs=[...]

Must run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=10,
                    help="distinct synthetic batches cycled through")
    ap.add_argument("--steps", type=int, default=20, help="batches per run")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of untimed steps first")
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
    model = nn.Sequential(
        nn.Conv2d(1, 5, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(5, 10, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(40, 30), nn.ReLU(),
        nn.Linear(30, 20), nn.ReLU(),
        nn.Linear(20, 10), nn.ReLU(),
        nn.Linear(10, 5))
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    lossf = nn.CrossEntropyLoss()
    n = a.batch * a.batches
    images = torch.randn(n, 1, 20, 20)
    labels = torch.randint(0, 5, (n,))

    def batch(i):
        k = i % a.batches * a.batch
        return images[k:k + a.batch], labels[k:k + a.batch]

    def train(steps, first):
        for i in range(first, first + steps):
            x, y = batch(i)
            opt.zero_grad()
            loss = lossf(model(x), y)
            loss.backward()
            opt.step()
        return loss.item()

    def infer(steps, first):
        with torch.no_grad():
            for i in range(first, first + steps):
                model(batch(i)[0])

    def timed(fn):
        t0, first = time.perf_counter(), 0
        while first == 0 or time.perf_counter() - t0 < a.warmup:
            fn(1, first)
            first += 1
        runs = []
        for r in range(a.runs):
            t0 = time.perf_counter()
            fn(a.steps, first + r * a.steps)
            runs.append(a.steps * a.batch / (time.perf_counter() - t0))
        return runs

    model.train()
    tr = timed(train)
    model.eval()
    inf = timed(infer)
    fmt = lambda v: "[" + ",".join("%.0f" % x for x in v) + "]"
    print("torch threads=%d train_sps=%.0f infer_sps=%.0f train_runs=%s "
          "infer_runs=%s" % (a.threads, statistics.median(tr),
                             statistics.median(inf), fmt(tr), fmt(inf)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
