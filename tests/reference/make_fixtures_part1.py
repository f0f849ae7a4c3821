#!/usr/bin/python3
"""Write the PyTorch reference fixtures of kernel library part 1.

    /usr/bin/python3 tests/reference/make_fixtures_part1.py   (from the repo root)

Writes tests/reference/{dense,conv2d,pool2d,activation}.h5.  Each file holds
one group per dtype ("f64", "f32"), and in it one group per configuration
("c0", "c1", ...) with the inputs, the forward output, an upstream gradient
dy and the gradients torch.autograd computes for it.  Inputs are drawn once
in float64 and cast to float32; the float32 outputs are computed by torch in
float32.  "nconfig" (int32, 1 element) counts the configurations and
"meta/cK" (int32) gives each one's options, as documented per file below.
Deterministic: fixed seed, no threads involved in the values.
"""
import os
import warnings

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def create(name):
    """A new file, byte-for-byte reproducible: no timestamps; the latest
    format keeps the per-dataset overhead small."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    path = os.path.join(HERE, name).encode()
    return h5py.File(h5py.h5f.create(path, h5py.h5f.ACC_TRUNC, fcpl=fcpl,
                                     fapl=fapl))


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def group(f, path):
    """The group at path, created without timestamps (reproducible files)."""
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
    g.create_dataset(name, data=a, track_times=False)


def grads(out, dy, *leaves):
    out.backward(dy)
    return [None if t is None else t.grad for t in leaves]


def leaf(t, dt):
    return None if t is None else t.to(dt).clone().requires_grad_(True)


def dense(gen):
    """meta/cK = [has_bias]"""
    configs = [((4, 5), 3, True), ((3, 7), 2, False), ((2, 3, 4), 5, True)]
    with create("dense.h5") as f:
        write(f, "nconfig", np.array([len(configs)], np.int32))
        for k, (xshape, out, bias) in enumerate(configs):
            c = f"c{k}"
            x0 = randn(gen, *xshape)
            w0 = randn(gen, out, xshape[-1]) * 0.5
            b0 = randn(gen, out) if bias else None
            dy0 = randn(gen, *xshape[:-1], out)
            write(f, f"meta/{c}", np.array([int(bias)], np.int32))
            for name, dt in DTYPES.items():
                x, w, b = leaf(x0, dt), leaf(w0, dt), leaf(b0, dt)
                dy = dy0.to(dt)
                y = F.linear(x, w, b)
                dx, dw, db = grads(y, dy, x, w, b)
                g = f"{name}/{c}/"
                for key, t in dict(x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw,
                                   db=db).items():
                    if t is not None:
                        write(f, g + key, t)


def same_pads(n, k, s):
    """Keras/TF 'same' (PyTorch padding='same' when s == 1)."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d(gen):
    """meta/cK = [stride_h, stride_w, pad_top, pad_left, pad_bottom,
    pad_right, has_bias, same]; same = 1 when the pads are 'same' padding
    (the C test checks qt_conv2d_same_padding against them)."""
    # (x shape, (Cout, KH, KW), stride, pads (t, l, b, r) or 'same', bias)
    configs = [
        ((2, 3, 7, 7), (4, 3, 3), (1, 1), (0, 0, 0, 0), True),   # valid
        ((2, 3, 7, 7), (4, 3, 3), (1, 1), "same", True),         # same, odd
        ((2, 2, 8, 7), (3, 4, 4), (1, 1), "same", True),         # same, even
        ((2, 3, 9, 8), (2, 5, 5), (2, 2), (0, 0, 0, 0), False),  # stride 2
        ((1, 2, 6, 7), (3, 2, 3), (2, 1), (1, 0, 0, 2), True),   # asymmetric
        ((2, 2, 9, 10), (3, 3, 3), (2, 2), "same", True),        # TF same s2
        ((2, 4, 5, 6), (3, 1, 1), (1, 1), (0, 0, 0, 0), True),   # 1x1
        ((2, 1, 10, 10), (5, 5, 5), (1, 1), "same", True),       # jets-like
        ((2, 3, 6, 6), (2, 2, 2), (2, 2), (0, 0, 0, 0), False),  # even, s2
    ]
    with create("conv2d.h5") as f:
        write(f, "nconfig", np.array([len(configs)], np.int32))
        for k, (xs, (cout, kh, kw), st, pads, bias) in enumerate(configs):
            c = f"c{k}"
            same = pads == "same"
            if same:
                pt, pb = same_pads(xs[2], kh, st[0])
                pl, pr = same_pads(xs[3], kw, st[1])
            else:
                pt, pl, pb, pr = pads
            x0 = randn(gen, *xs)
            w0 = randn(gen, cout, xs[1], kh, kw) * 0.3
            b0 = randn(gen, cout) if bias else None
            oh = (xs[2] + pt + pb - kh) // st[0] + 1
            ow = (xs[3] + pl + pr - kw) // st[1] + 1
            dy0 = randn(gen, xs[0], cout, oh, ow)
            write(f, f"meta/{c}", np.array(
                [st[0], st[1], pt, pl, pb, pr, int(bias), int(same)],
                np.int32))
            for name, dt in DTYPES.items():
                x, w, b = leaf(x0, dt), leaf(w0, dt), leaf(b0, dt)
                dy = dy0.to(dt)
                y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, stride=st)
                if same and st == (1, 1):
                    # our pads are exactly PyTorch's padding='same'
                    y2 = F.conv2d(x, w, b, padding="same")
                    assert torch.equal(y.detach(), y2.detach()), c
                dx, dw, db = grads(y, dy, x, w, b)
                g = f"{name}/{c}/"
                for key, t in dict(x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw,
                                   db=db).items():
                    if t is not None:
                        write(f, g + key, t)


def pool2d(gen):
    """Groups max/cK and avg/cK with meta/cK = [kh, kw, sh, sw, ties];
    ties = 1 when x has repeated values (no finite differences then);
    gap/ for the global average pool.  max/cK/argmax are torch's int64
    indices (return_indices=True)."""
    configs = [
        ((2, 3, 6, 6), (2, 2), (2, 2), False),  # exact tiling
        ((2, 2, 7, 5), (2, 2), (2, 2), False),  # floor mode drops a row/col
        ((1, 2, 7, 7), (3, 3), (2, 2), False),  # overlapping windows
        ((2, 1, 6, 8), (2, 3), (1, 2), False),  # rectangular, mixed stride
        ((2, 2, 5, 5), (2, 2), (1, 1), True),   # ties: the first max wins
    ]
    with create("pool2d.h5") as f:
        write(f, "nconfig", np.array([len(configs)], np.int32))
        for k, (xs, ks, st, ties) in enumerate(configs):
            c = f"c{k}"
            if ties:
                x0 = torch.randint(0, 3, xs, generator=gen).to(torch.float64)
            else:
                x0 = randn(gen, *xs)
            oh = (xs[2] - ks[0]) // st[0] + 1
            ow = (xs[3] - ks[1]) // st[1] + 1
            dymax0 = randn(gen, xs[0], xs[1], oh, ow)
            dyavg0 = randn(gen, xs[0], xs[1], oh, ow)
            write(f, f"meta/{c}", np.array([*ks, *st, int(ties)], np.int32))
            for name, dt in DTYPES.items():
                x = leaf(x0, dt)
                y, idx = F.max_pool2d(x, ks, st, return_indices=True)
                dy = dymax0.to(dt)
                (dx,) = grads(y, dy, x)
                g = f"{name}/max/{c}/"
                for key, t in dict(x=x, y=y, argmax=idx, dy=dy,
                                   dx=dx).items():
                    write(f, g + key, t)
                x = leaf(x0, dt)
                y = F.avg_pool2d(x, ks, st)
                dy = dyavg0.to(dt)
                (dx,) = grads(y, dy, x)
                g = f"{name}/avg/{c}/"
                for key, t in dict(x=x, y=y, dy=dy, dx=dx).items():
                    write(f, g + key, t)
        x0 = randn(gen, 2, 3, 5, 4)
        dy0 = randn(gen, 2, 3)
        for name, dt in DTYPES.items():
            x = leaf(x0, dt)
            y = x.mean(dim=(2, 3))
            dy = dy0.to(dt)
            (dx,) = grads(y, dy, x)
            for key, t in dict(x=x, y=y, dy=dy, dx=dx).items():
                write(f, f"{name}/gap/{key}", t)


def activation(gen):
    """Groups relu, sigmoid, tanh, each with x, y, dy, dx; x keeps away
    from 0 so that ReLU's kink does not disturb finite differences."""
    x0 = randn(gen, 3, 4, 5) * 2
    x0 = torch.where(x0.abs() < 1e-2, x0 + 0.1, x0)
    with create("activation.h5") as f:
        for op, fn in (("relu", torch.relu), ("sigmoid", torch.sigmoid),
                       ("tanh", torch.tanh)):
            dy0 = randn(gen, 3, 4, 5)
            for name, dt in DTYPES.items():
                x = leaf(x0, dt)
                y = fn(x)
                dy = dy0.to(dt)
                (dx,) = grads(y, dy, x)
                for key, t in dict(x=x, y=y, dy=dy, dx=dx).items():
                    write(f, f"{name}/{op}/{key}", t)


def main():
    # padding='same' with an even kernel warns that it copies the input
    warnings.filterwarnings("ignore", message=".*padding='same'.*")
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20240601)
    dense(gen)
    conv2d(gen)
    pool2d(gen)
    activation(gen)
    for op in ("dense", "conv2d", "pool2d", "activation"):
        p = os.path.join(HERE, op + ".h5")
        print(f"{p}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
