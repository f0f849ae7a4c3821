"""scripts/validate_jets.py: validation of `quanta simulate jets`: per-class physics figures and a
small CNN (the jets workflow's architecture) trained on the stream.

Usage: quanta simulate jets -n 50000 --normalise none -o j.qs
       /usr/bin/python3 scripts/validate_jets.py j.qs 20   (epochs)
"""
import sys, time
import msgpack, msgpack_numpy as m, numpy as np, torch, torch.nn as nn

def read(path):
    hdr, parts = None, {}
    with open(path, "rb") as f:
        for msg in msgpack.Unpacker(f, object_hook=m.decode, raw=False, max_buffer_size=2**31):
            if "quanta" in msg: hdr = msg; continue
            if "quanta.end" in msg: continue
            for k, v in msg.items(): parts.setdefault(k, []).append(v)
    return hdr, {k: np.concatenate(v) for k, v in parts.items()}

hdr, d = read(sys.argv[1])
names = hdr["fields"][1]["classes"]
X, y = d["images"][:, 0].astype(np.float64), d["labels"]
S = X.shape[-1]; pix = 0.1; half = S * pix / 2
c = (np.arange(S) + 0.5) * pix - half
ETA, PHI = np.meshgrid(c, c)            # rows phi, columns eta
R = np.hypot(ETA, PHI)
E = (X * np.cosh(ETA)).sum((1, 2)); px = (X * np.cos(PHI)).sum((1, 2))
py = (X * np.sin(PHI)).sum((1, 2)); pz = (X * np.sinh(ETA)).sum((1, 2))
mass = np.sqrt(np.maximum(E**2 - px**2 - py**2 - pz**2, 0))
npix = (X > 0).sum((1, 2))
tot = X.sum((1, 2))
width = (X * R).sum((1, 2)) / tot
rings = np.arange(0, 0.85, 0.1)
print("class  n     m_img(mean/median/sd)  m_truth  npix   width   ring fractions dR<0.1,..,0.7-0.8")
for k, nm in enumerate(names):
    s = y == k
    prof = [(X[s] * ((R >= a) & (R < a + 0.1))).sum((1, 2)).mean() / tot[s].mean() for a in rings[:-1]]
    print(f"{nm:5s} {s.sum():5d}  {mass[s].mean():6.1f} {np.median(mass[s]):6.1f} {mass[s].std():5.1f}"
          f"   {d['mass'][s].mean():6.1f}  {npix[s].mean():5.1f}  {width[s].mean():.3f}  "
          + " ".join(f"{p:.3f}" for p in prof))

def best_cut(a, b):
    v = np.sort(np.concatenate([a, b]))
    return max(max(((a < t).mean() + (b >= t).mean()) / 2, ((a >= t).mean() + (b < t).mean()) / 2) for t in v[::max(1, len(v) // 500)])
ix = {n: k for k, n in enumerate(names)}
if all(n in ix for n in "gqwz"):
    print(f"one-variable cuts: W vs Z by image mass {best_cut(mass[y == ix['w']], mass[y == ix['z']]):.3f}, "
          f"g vs q by pixel count {best_cut(npix[y == ix['g']], npix[y == ix['q']]):.3f}, "
          f"g vs q by width {best_cut(width[y == ix['g']], width[y == ix['q']]):.3f}")

def confusion(pred, true, k):
    cm = np.zeros((k, k), int)
    for t, p in zip(true, pred): cm[t, p] += 1
    return cm

def report(title, pred, true):
    cm = confusion(pred, true, len(names))
    print(f"{title}: accuracy {np.mean(pred == true):.3f}")
    print("   true\\pred " + " ".join(f"{n:>5s}" for n in names))
    for k, nm in enumerate(names):
        print(f"   {nm:9s} " + " ".join(f"{v / cm[k].sum():5.2f}" for v in cm[k]))

torch.manual_seed(0); torch.set_num_threads(2)
Xn = X / np.maximum(tot[:, None, None], 1e-12)       # what --normalise sum gives
ntr = int(0.8 * len(y))
mu, sd = Xn[:ntr].mean(0), Xn[:ntr].std(0) + 1e-6     # standardise with train parameters
Z = torch.tensor((Xn - mu) / sd, dtype=torch.float32)[:, None]
Y = torch.tensor(y)

# Baseline 1: logistic regression on the 400 pixels.
lin = nn.Linear(S * S, len(names))
opt = torch.optim.Adam(lin.parameters(), 1e-3, weight_decay=1e-4)
for ep in range(30):
    perm = torch.randperm(ntr)
    for i in range(0, ntr, 256):
        b = perm[i:i + 256]
        loss = nn.functional.cross_entropy(lin(Z[b].flatten(1)), Y[b])
        opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():
    report("logistic regression (test)", lin(Z[ntr:].flatten(1)).argmax(1).numpy(), y[ntr:])

# Baseline 2: the jets workflow's CNN.
net = nn.Sequential(nn.Conv2d(1, 5, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(5, 10, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(10 * (S // 4) ** 2, 30), nn.ReLU(),
                    nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 10), nn.ReLU(),
                    nn.Linear(10, len(names)))
opt = torch.optim.Adam(net.parameters(), 1e-3)
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
t0 = time.time()
for ep in range(epochs):
    perm = torch.randperm(ntr)
    net.train()
    for i in range(0, ntr, 128):
        b = perm[i:i + 128]
        loss = nn.functional.cross_entropy(net(Z[b]), Y[b])
        opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        acc = (net(Z[ntr:]).argmax(1) == Y[ntr:]).float().mean().item()
    print(f"  epoch {ep + 1}: loss {loss.item():.3f} test accuracy {acc:.3f}", flush=True)
with torch.no_grad():
    report(f"CNN, {epochs} epochs, {time.time() - t0:.0f} s (test)", net(Z[ntr:]).argmax(1).numpy(), y[ntr:])
