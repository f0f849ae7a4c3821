#!/usr/bin/python3
"""Write the PyTorch reference for whole training steps of the jets network.

    /usr/bin/python3 tests/reference/make_fixtures_net.py   (from the repo root)

Writes tests/reference/jets_step.h5, read by tests/unit/test_jets_step.c.
The network is models/jets.net written out in torch:

    Conv2d(1, 5, 5) ReLU MaxPool2d(2) Conv2d(5, 10, 5) ReLU MaxPool2d(2)
    Flatten Linear(40, 30) ReLU Linear(30, 20) ReLU Linear(20, 10) ReLU
    Linear(10, 5);  CrossEntropyLoss;  Adam(lr=0.03)

with torch's default initialisation under a fixed seed, one batch of
BATCH random 20x20 images and labels, and STEPS Adam steps on that same
batch.  Layout, for each dtype group "f64" and "f32":

    DT/images          (BATCH, 1, 20, 20)  input (the same values in both
                                           groups: drawn in float64 and
                                           rounded to float32, because the
                                           test feeds them through a float32
                                           stream field)
    DT/labels          (BATCH,) int64
    DT/loss            (STEPS,)  the loss of the forward pass of step 1..STEPS
    DT/init/NAME       the initial parameters
    DT/grad/NAME       the gradients of step 1 (from the initial parameters)
    DT/step1/NAME      the parameters after 1 Adam step
    DT/step3/NAME      the parameters after 3 Adam steps

NAME is quanta's parameter name, node name + "/" + parameter name:
conv2d_1/weight, conv2d_1/bias, conv2d_2/..., dense_1/... dense_4/...
(the same as a torch state_dict's values, in order).  The float32 group
runs the same model in float32 from the float64 initial parameters
rounded to float32.  Deterministic: fixed seed, one torch thread.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 16
STEPS = 3
SEED = 20240611
NAMES = ["conv2d_1", "conv2d_2", "dense_1", "dense_2", "dense_3", "dense_4"]


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
    g.create_dataset(name, data=a, track_times=False)


def jets_net():
    return nn.Sequential(
        nn.Conv2d(1, 5, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(5, 10, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(40, 30), nn.ReLU(),
        nn.Linear(30, 20), nn.ReLU(),
        nn.Linear(20, 10), nn.ReLU(),
        nn.Linear(10, 5))


def named_params(model):
    """(quanta name, parameter) in state_dict order."""
    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    out = []
    for name, m in zip(NAMES, layers):
        out.append((name + "/weight", m.weight))
        out.append((name + "/bias", m.bias))
    return out


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    ref = jets_net().double()  # torch's default init, drawn in float64
    gen = torch.Generator().manual_seed(SEED + 1)
    # float32-exact images: the test loads them through a float32 field
    images = torch.randn(BATCH, 1, 20, 20, generator=gen,
                         dtype=torch.float64).float().double()
    labels = torch.randint(0, 5, (BATCH,), generator=gen, dtype=torch.int64)

    with create("jets_step.h5") as f:
        for key, dt in (("f64", torch.float64), ("f32", torch.float32)):
            model = jets_net().to(dt)
            with torch.no_grad():
                for (_, p), (_, q) in zip(named_params(model),
                                          named_params(ref)):
                    p.copy_(q.to(dt))
            opt = torch.optim.Adam(model.parameters(), lr=0.03,
                                   foreach=False)
            lossf = nn.CrossEntropyLoss()
            x = images.to(dt)
            write(f, f"{key}/images", x)
            write(f, f"{key}/labels", labels)
            for name, p in named_params(model):
                write(f, f"{key}/init/{name}", p)
            losses = []
            for step in range(1, STEPS + 1):
                opt.zero_grad()
                loss = lossf(model(x), labels)
                loss.backward()
                losses.append(loss.item())
                if step == 1:
                    for name, p in named_params(model):
                        write(f, f"{key}/grad/{name}", p.grad)
                opt.step()
                if step in (1, STEPS):
                    for name, p in named_params(model):
                        write(f, f"{key}/step{step}/{name}", p)
            write(f, f"{key}/loss", np.array(losses, np.float64))
            print(f"{key}: losses {losses}")


if __name__ == "__main__":
    main()
