#!/usr/bin/python3
"""Reference fixtures for part 2 of the kernel library, written by PyTorch.

Run from the repository root with Debian's python3 (python3-torch, h5py):

    /usr/bin/python3 tests/reference/make_fixtures_part2.py

Writes tests/reference/{softmax,cross_entropy,bce_logits,mse,dropout,
batchnorm,optim,init}.h5.  Each file holds the same cases twice, under
"f64/..." computed in float64 and under "f32/..." computed in float32 from
the same inputs rounded to float32.  Gradients come from torch autograd.
Integer tensors (class targets) are int64; scalars are 0-d datasets.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
DTYPES = (("f64", torch.float64), ("f32", torch.float32))


def put(g, name, value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    g.create_dataset(name, data=np.asarray(value))


def leaf(a, dt):
    return torch.tensor(a, dtype=dt, requires_grad=True)


def softmax(f, rs):
    cases = {
        "rows": rs.randn(5, 7) * 3,
        # rows far from 0: exp() overflows without the max shift
        "large": np.stack([rs.randn(6) * 2 + 1000, rs.randn(6) * 2 - 1000,
                           np.linspace(-80, 80, 6)]),
        "3d": rs.randn(2, 3, 4),
    }
    dys = {k: rs.randn(*v.shape) for k, v in cases.items()}
    for gname, dt in DTYPES:
        for k, x0 in cases.items():
            g = f.create_group(f"{gname}/{k}")
            put(g, "x", x0)
            put(g, "dy", dys[k])
            for op, fn in (("softmax", torch.softmax),
                           ("log_softmax", torch.log_softmax)):
                x = leaf(x0, dt)
                y = fn(x, -1)
                y.backward(torch.tensor(dys[k], dtype=dt))
                put(g, "y_" + op, y)
                put(g, "dx_" + op, x.grad)


def cross_entropy(f, rs):
    cases = {
        "plain": ((6, 5), False),
        "weighted": ((6, 5), True),
        "pixel": ((2, 3, 4, 5), True),  # (N, C, H, W), per-pixel targets
        "pixel_plain": ((3, 4, 10), False),  # (N, C, P)
    }
    data = {}
    for k, (shape, weighted) in cases.items():
        c = shape[1]
        tshape = (shape[0],) + shape[2:]
        data[k] = (rs.randn(*shape) * 2, rs.randint(0, c, size=tshape),
                   rs.uniform(0.2, 3.0, size=c) if weighted else None)
    for gname, dt in DTYPES:
        for k, (x0, t0, w0) in data.items():
            g = f.create_group(f"{gname}/{k}")
            x = leaf(x0, dt)
            t = torch.tensor(t0, dtype=torch.int64)
            w = None if w0 is None else torch.tensor(w0, dtype=dt)
            loss = F.cross_entropy(x, t, weight=w)
            loss.backward()
            put(g, "logits", x0)
            put(g, "target", t0.astype(np.int64))
            if w0 is not None:
                put(g, "weight", w0)
            put(g, "loss", loss)
            put(g, "prob", torch.softmax(x, 1))
            put(g, "dlogits", x.grad)


def bce_logits(f, rs):
    x0 = np.concatenate([rs.randn(40) * 3, [60.0, -60.0, 0.0]])
    t0 = np.concatenate([rs.uniform(0, 1, 40), [0.0, 1.0, 0.5]])
    for gname, dt in DTYPES:
        g = f.create_group(gname)
        x = leaf(x0, dt)
        loss = F.binary_cross_entropy_with_logits(x, torch.tensor(t0, dtype=dt))
        loss.backward()
        put(g, "logits", x0)
        put(g, "target", t0)
        put(g, "loss", loss)
        put(g, "dlogits", x.grad)


def mse(f, rs):
    p0, t0 = rs.randn(3, 4, 5), rs.randn(3, 4, 5)
    for gname, dt in DTYPES:
        g = f.create_group(gname)
        p = leaf(p0, dt)
        loss = F.mse_loss(p, torch.tensor(t0, dtype=dt))
        loss.backward()
        put(g, "pred", p0)
        put(g, "target", t0)
        put(g, "loss", loss)
        put(g, "dpred", p.grad)


def dropout(f, rs):
    """torch's own mask cannot be reproduced; record it (y != 0 for x != 0)
    so the test checks scaling and backward against torch's arithmetic."""
    p = 0.3
    x0 = rs.uniform(0.5, 2.0, 2000) * rs.choice([-1, 1], 2000)
    dy0 = rs.randn(2000)
    for gname, dt in DTYPES:
        g = f.create_group(gname)
        torch.manual_seed(1)
        x = leaf(x0, dt)
        y = F.dropout(x, p=p, training=True)
        y.backward(torch.tensor(dy0, dtype=dt))
        put(g, "p", p)
        put(g, "x", x0)
        put(g, "dy", dy0)
        put(g, "y", y)
        put(g, "mask", (y != 0).to(torch.uint8))
        put(g, "dx", x.grad)


def batchnorm(f, rs):
    """Three training steps from fresh running stats, then one evaluation
    step; gradients of the last training step and of the eval step."""
    cases = {
        "bn2d": ((4, 3, 5, 5), True, 0.1, 1e-5),
        "bn1d": ((8, 6), True, 0.1, 1e-5),
        "bn1d_seq_noaffine": ((5, 4, 3), False, 0.1, 1e-5),
        # Keras BatchNormalization(momentum=0.9, epsilon=1e-3)
        "bn2d_keras": ((3, 2, 4, 4), True, 0.1, 1e-3),
    }
    data = {}
    for k, (shape, affine, mom, eps) in cases.items():
        c = shape[1]
        xs = [rs.randn(*shape) * rs.uniform(0.5, 3) + rs.uniform(-2, 2)
              for _ in range(3)]
        data[k] = dict(xs=xs, x_eval=rs.randn(*shape),
                       dy=rs.randn(*shape), dy_eval=rs.randn(*shape),
                       gamma=rs.uniform(0.5, 1.5, c) if affine else None,
                       beta=rs.randn(c) if affine else None)
    for gname, dt in DTYPES:
        for k, (shape, affine, mom, eps) in cases.items():
            d = data[k]
            c = shape[1]
            g = f.create_group(f"{gname}/{k}")
            bn = (torch.nn.BatchNorm1d if len(shape) < 4 else
                  torch.nn.BatchNorm2d)(c, eps=eps, momentum=mom,
                                        affine=affine).to(dt)
            if affine:
                with torch.no_grad():
                    bn.weight.copy_(torch.tensor(d["gamma"]))
                    bn.bias.copy_(torch.tensor(d["beta"]))
                put(g, "gamma", d["gamma"])
                put(g, "beta", d["beta"])
            put(g, "momentum", mom)
            put(g, "eps", eps)
            bn.train()
            for i, x0 in enumerate(d["xs"]):
                put(g, f"x{i}", x0)
                x = leaf(x0, dt)
                bn.zero_grad()
                y = bn(x)
                if i == 2:
                    y.backward(torch.tensor(d["dy"], dtype=dt))
            put(g, "y", y)
            put(g, "dy", d["dy"])
            put(g, "dx", x.grad)
            dims = [0] + list(range(2, len(shape)))
            xl = torch.tensor(d["xs"][2], dtype=dt)
            put(g, "save_mean", xl.mean(dims))
            put(g, "save_invstd",
                1 / torch.sqrt(xl.var(dims, unbiased=False) + eps))
            if affine:
                put(g, "dgamma", bn.weight.grad)
                put(g, "dbeta", bn.bias.grad)
            put(g, "running_mean", bn.running_mean)
            put(g, "running_var", bn.running_var)
            bn.eval()
            bn.zero_grad()
            x = leaf(d["x_eval"], dt)
            y = bn(x)
            y.backward(torch.tensor(d["dy_eval"], dtype=dt))
            put(g, "x_eval", d["x_eval"])
            put(g, "dy_eval", d["dy_eval"])
            put(g, "y_eval", y)
            put(g, "dx_eval", x.grad)
            if affine:
                put(g, "dgamma_eval", bn.weight.grad)
                put(g, "dbeta_eval", bn.bias.grad)


OPTIM_CASES = {
    # name: (torch class, options)
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.1, momentum=0.9)),
    "sgd_dampening_wd": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3,
                                     weight_decay=0.1)),
    "sgd_nesterov_wd": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True,
                                    weight_decay=0.01)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_defaults": ("Adam", dict()),
    "adam_wd": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad_wd": ("AdamW", dict(lr=0.02, weight_decay=0.3,
                                       amsgrad=True)),
    "adamax": ("Adamax", dict()),
    "adamax_wd": ("Adamax", dict(lr=0.01, betas=(0.7, 0.95), eps=1e-6,
                                 weight_decay=0.05)),
}
OPTIM_DEFAULTS = dict(lr=None, momentum=0.0, dampening=0.0, nesterov=False,
                      weight_decay=None, amsgrad=False, betas=None, eps=None)


def optim(f, rs):
    """Five steps of each optimizer from one start with given gradients
    (a zero gradient element and sign changes included); the parameters
    after every step."""
    p0 = rs.randn(3, 4)
    grads = rs.randn(5, 3, 4) * rs.uniform(0.01, 2, size=(5, 1, 1))
    grads[:, 0, 0] = 0.0
    grads[2] *= -1
    for gname, dt in DTYPES:
        for k, (cls, opts) in OPTIM_CASES.items():
            g = f.create_group(f"{gname}/{k}")
            p = torch.nn.Parameter(torch.tensor(p0, dtype=dt))
            opt = getattr(torch.optim, cls)([p], **opts)
            hp = dict(opt.param_groups[0])
            put(g, "lr", hp["lr"])
            put(g, "weight_decay", hp["weight_decay"])
            if cls == "SGD":
                put(g, "momentum", hp["momentum"])
                put(g, "dampening", hp["dampening"])
                put(g, "nesterov", int(hp["nesterov"]))
            else:
                put(g, "beta1", hp["betas"][0])
                put(g, "beta2", hp["betas"][1])
                put(g, "eps", hp["eps"])
                put(g, "amsgrad", int(hp.get("amsgrad", False)))
            params = []
            for t in range(5):
                p.grad = torch.tensor(grads[t], dtype=dt)
                opt.step()
                params.append(p.detach().clone())
            put(g, "param0", p0)
            put(g, "grads", grads)
            put(g, "params", torch.stack(params))


def init(f, rs):
    """Fans, gains and the bounds/stds torch.nn.init derives from them."""
    from torch.nn.init import _calculate_fan_in_and_fan_out, calculate_gain
    shapes = [(5, 3), (8, 4, 3, 3), (2, 6, 5), (30, 20, 5, 5)]
    for i, shape in enumerate(shapes):
        g = f.create_group(f"shape{i}")
        w = torch.empty(shape)
        fin, fout = _calculate_fan_in_and_fan_out(w)
        put(g, "shape", np.array(shape, dtype=np.int64))
        put(g, "fan_in", fin)
        put(g, "fan_out", fout)
        put(g, "xavier_uniform_bound", np.sqrt(6.0 / (fin + fout)))
        put(g, "xavier_normal_std", np.sqrt(2.0 / (fin + fout)))
        put(g, "kaiming_std_fan_in_relu", calculate_gain("relu") / np.sqrt(fin))
        put(g, "kaiming_std_fan_out_leaky", calculate_gain("leaky_relu", 0.2) / np.sqrt(fout))
        # nn.Linear/ConvNd reset_parameters: kaiming_uniform_(a=sqrt(5))
        put(g, "default_bound", calculate_gain("leaky_relu", np.sqrt(5)) *
            np.sqrt(3.0 / fin))
    g = f.create_group("gain")
    for name, param in (("linear", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None),
                        ("leaky_relu_0.2", 0.2), ("selu", None)):
        put(g, name, calculate_gain(name.split("_0")[0], param))


def main():
    torch.set_num_threads(1)
    for name, fn in (("softmax", softmax), ("cross_entropy", cross_entropy),
                     ("bce_logits", bce_logits), ("mse", mse),
                     ("dropout", dropout), ("batchnorm", batchnorm),
                     ("optim", optim), ("init", init)):
        path = os.path.join(OUT, name + ".h5")
        rs = np.random.RandomState(1234)
        with h5py.File(path, "w") as f:
            f.attrs["generator"] = "tests/reference/make_fixtures_part2.py"
            f.attrs["torch"] = str(torch.__version__)
            fn(f, rs)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
