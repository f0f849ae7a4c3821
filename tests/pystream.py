#!/usr/bin/python3
"""pystream.py: quanta streams from Python with msgpack + msgpack_numpy only.

A test helper (docs/FORMAT.md is the specification it follows): it makes
streams for the Bats tests before any stage exists, and reads what stages
write back into numpy arrays without quanta code.

    pystream.py write OUT --field images:f4:20,20 --field labels:i8: \\
        --classes labels=g,q --random 100 --batch 32 --seed 1 [--no-end]
    pystream.py dump IN        # header, counts, per-field shape/sum/stats (JSON)
    pystream.py samples IN     # one sha256 per sample, in order
    pystream.py body IN OUT    # the bytes after the header message
    pystream.py header IN [--strip-endpoints]   # the header as JSON
    pystream.py strip-end IN OUT  # the stream without its end map

Shapes: comma-separated sizes, empty for a scalar, '*' first for a ragged
field (e.g. nodes:f4:*,3); --index-of edges=nodes makes a ragged int field
hold row numbers of another (per-sample values in the API, batch-global on
the wire).  OUT/IN may be '-'.  Run with /usr/bin/python3 (Debian's numpy,
msgpack and msgpack_numpy).
"""
import argparse
import hashlib
import json
import sys

import msgpack
import msgpack_numpy as mnp
import numpy as np


def pack(obj):
    return msgpack.packb(obj, default=mnp.encode, use_bin_type=True)


def field(name, dtype, shape, classes=None, index_of=None):
    """A header field map; shape is per sample, None first for ragged."""
    f = {"name": name, "dtype": np.dtype(dtype).str,
         "shape": [None if s is None else int(s) for s in shape]}
    if classes:
        f["classes"] = list(classes)
    if index_of:
        f["index_of"] = index_of
    return f


def ragged(f):
    return len(f["shape"]) > 0 and f["shape"][0] is None


class Writer:
    """Write a header, batches and (unless end_marker=False) an end map.

    write() takes {name: array (n, ...)} for fixed fields and {name: list of
    per-sample arrays} for ragged ones; index fields hold row numbers within
    their sample and are shifted to batch rows here."""

    def __init__(self, out, fields, end_marker=True, provenance=()):
        self.out, self.fields, self.end = out, fields, end_marker
        self.batches = self.samples = 0
        out.write(pack({"quanta": 1, "end_marker": end_marker,
                        "fields": fields, "provenance": list(provenance)}))

    def write(self, batch):
        msg, ptrs = {}, {}
        for f in self.fields:
            if ragged(f):
                parts = batch[f["name"]]
                ptrs[f["name"]] = np.cumsum([0] + [len(p) for p in parts],
                                            dtype=np.int64)
        n = None
        for f in self.fields:
            name, dt = f["name"], np.dtype(f["dtype"])
            if ragged(f):
                parts = [np.asarray(p, dtype=dt) for p in batch[name]]
                if f.get("index_of"):
                    base = ptrs[f["index_of"]]
                    parts = [p + base[i] for i, p in enumerate(parts)]
                rows = (np.concatenate(parts) if parts else
                        np.zeros([0] + f["shape"][1:], dt))
                msg[name] = np.ascontiguousarray(rows.astype(dt))
                msg[name + ".ptr"] = ptrs[name]
                n = len(parts)
            else:
                msg[name] = np.ascontiguousarray(np.asarray(batch[name], dt))
                n = len(msg[name])
        self.out.write(pack(msg))
        self.batches += 1
        self.samples += n

    def close(self):
        if self.end:
            self.out.write(pack({"quanta.end": {"batches": self.batches,
                                                "samples": self.samples}}))
        self.out.flush()


class Reader:
    """Iterate over the batches ({name: ndarray} with NAME.ptr offsets as
    on the wire) of a stream; .header is the header, .end the end map."""

    def __init__(self, inp):
        self.unpacker = msgpack.Unpacker(inp, object_hook=mnp.decode,
                                         raw=False, max_buffer_size=2**31 - 1)
        self.header = next(self.unpacker)
        if not isinstance(self.header, dict) or "quanta" not in self.header:
            raise ValueError("not a quanta stream")
        self.end = None

    def __iter__(self):
        for msg in self.unpacker:
            if "quanta.end" in msg:
                self.end = msg["quanta.end"]
                continue
            yield msg

    def samples(self, batch):
        """The batch as a list of per-sample {name: array}."""
        n = None
        for f in self.header["fields"]:
            name = f["name"]
            n = len(batch[name + ".ptr"]) - 1 if ragged(f) else len(batch[name])
        out = [{} for _ in range(n)]
        for f in self.header["fields"]:
            name, a = f["name"], batch[f["name"]]
            for i in range(n):
                if ragged(f):
                    p = batch[name + ".ptr"]
                    v = a[p[i]:p[i + 1]]
                    if f.get("index_of"):
                        v = v - batch[f["index_of"] + ".ptr"][i]
                    out[i][name] = v
                else:
                    out[i][name] = a[i]
        return out


def open_in(path):
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def open_out(path):
    return sys.stdout.buffer if path == "-" else open(path, "wb")


def parse_field(spec, classes, index_of):
    try:
        name, dtype, shape = spec.split(":")
        dims = [None if s == "*" else int(s) for s in shape.split(",") if s]
    except ValueError:
        sys.exit("pystream.py: bad --field '%s' (NAME:DTYPE:SHAPE)" % spec)
    return field(name, dtype, dims, classes.get(name), index_of.get(name))


def keyed(items):
    return dict(s.split("=", 1) for s in items or [])


def random_samples(fields, n, rng, max_rows):
    """n samples of random values: normal floats, ints below 10 (class
    indices when the field has classes), indices into the target rows."""
    rows, cols = {}, {}
    for f in fields:
        if ragged(f) and not f.get("index_of"):
            rows[f["name"]] = rng.integers(0, max_rows + 1, n)
    for f in fields:
        name, dt = f["name"], np.dtype(f["dtype"])
        shape = [s for s in f["shape"] if s is not None]

        def draw(lead, tgt_rows=None):
            size = [lead] + shape
            if f.get("index_of"):
                return rng.integers(0, max(tgt_rows, 1), size) if tgt_rows else \
                    np.zeros(size, dt)
            if dt.kind == "f":
                return rng.standard_normal(size).astype(dt)
            if dt.kind == "b":
                return rng.random(size) < 0.5
            hi = len(f["classes"]) if f.get("classes") else 10
            return rng.integers(0, hi, size).astype(dt)
        if ragged(f):
            if f.get("index_of"):
                tr = rows[f["index_of"]]
                cols[name] = [draw(int(rng.integers(0, max_rows + 1)) if tr[i]
                                   else 0, int(tr[i])).astype(dt)
                              for i in range(n)]
            else:
                cols[name] = [draw(int(r)) for r in rows[name]]
        else:
            cols[name] = draw(n)
    return cols


def poison(cols, spec, value, rng):
    """Set `count` random elements of each named float field to value."""
    for name, count in keyed(spec).items():
        a = cols[name]
        flat = np.concatenate([p.ravel() for p in a]) if isinstance(a, list) \
            else a.reshape(-1)
        pos = rng.choice(flat.size, int(count), replace=False)
        if isinstance(a, list):
            flat[pos] = value
            off = 0
            for p in a:
                p.reshape(-1)[:] = flat[off:off + p.size]
                off += p.size
        else:
            flat[pos] = value


def cmd_write(a):
    classes = {k: v.split(",") for k, v in keyed(a.classes).items()}
    fields = [parse_field(s, classes, keyed(a.index_of)) for s in a.field]
    rng = np.random.default_rng(a.seed)
    cols = random_samples(fields, a.random, rng, a.max_rows)
    poison(cols, a.nan, np.nan, rng)
    poison(cols, a.inf, np.inf, rng)
    out = open_out(a.out)
    w = Writer(out, fields, end_marker=not a.no_end)
    for s in range(0, a.random, a.batch):
        w.write({k: v[s:s + a.batch] for k, v in cols.items()})
    w.close()


def stats(x):
    x = np.asarray(x, np.float64).ravel()
    fin = x[np.isfinite(x)]
    have = fin.size > 0
    return {"count": int(x.size), "finite": int(fin.size),
            "nan": int(np.isnan(x).sum()), "posinf": int(np.isposinf(x).sum()),
            "neginf": int(np.isneginf(x).sum()),
            "sum": float(fin.sum()),
            "min": float(fin.min()) if have else None,
            "max": float(fin.max()) if have else None,
            "mean": float(fin.mean()) if have else None,
            "std": float(fin.std()) if have else None}


def cmd_dump(a):
    r = Reader(open_in(a.inp))
    parts = {f["name"]: [] for f in r.header["fields"]}
    nb = ns = 0
    for b in r:
        nb += 1
        for s in r.samples(b):
            ns += 1
            for k, v in s.items():
                parts[k].append(np.asarray(v))
    out = {"header": r.header, "end": r.end, "batches": nb, "samples": ns,
           "fields": {}}
    for f in r.header["fields"]:
        p = parts[f["name"]]
        arr = (np.concatenate(p) if ragged(f) else np.stack(p)) if p else \
            np.zeros(0)
        d = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
        d.update(stats(arr))
        out["fields"][f["name"]] = d
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


def sample_digest(header, s):
    h = hashlib.sha256()
    for f in header["fields"]:
        v = np.ascontiguousarray(s[f["name"]])
        h.update(("%s|%s|%s|" % (f["name"], v.dtype.str, v.shape)).encode())
        h.update(v.tobytes())
    return h.hexdigest()


def cmd_samples(a):
    r = Reader(open_in(a.inp))
    for b in r:
        for s in r.samples(b):
            print(sample_digest(r.header, s))


def cmd_body(a):
    data = open_in(a.inp).read()
    u = msgpack.Unpacker(raw=False, max_buffer_size=2**31 - 1)
    u.feed(data)
    next(u)
    open_out(a.out).write(data[u.tell():])


def cmd_strip_end(a):
    data = open_in(a.inp).read()
    u = msgpack.Unpacker(raw=False, max_buffer_size=2**31 - 1)
    u.feed(data)
    last = pos = 0
    for msg in u:
        last, pos = pos, u.tell()
    if not (isinstance(msg, dict) and "quanta.end" in msg):
        sys.exit("pystream.py: %s has no end map" % a.inp)
    open_out(a.out).write(data[:last])


ENDPOINT_OPTS = ("-i", "-o", "--input", "--output", "--test-out", "--val-out",
                 "--rest")


def strip_endpoints(args):
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
        elif x in ENDPOINT_OPTS:
            skip = True
        elif not x.split("=", 1)[0] in ENDPOINT_OPTS:
            out.append(x)
    return out


def cmd_header(a):
    h = Reader(open_in(a.inp)).header
    if a.strip_endpoints:
        for p in h.get("provenance", []):
            p["args"] = strip_endpoints(p.get("args", []))
    json.dump(h, sys.stdout, indent=1, sort_keys=True)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out")
    w.add_argument("--field", action="append", required=True)
    w.add_argument("--classes", action="append", help="FIELD=a,b,...")
    w.add_argument("--index-of", action="append", help="FIELD=TARGET")
    w.add_argument("--random", type=int, default=10, help="samples")
    w.add_argument("--batch", type=int, default=4)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--max-rows", type=int, default=5)
    w.add_argument("--nan", action="append", help="FIELD=COUNT")
    w.add_argument("--inf", action="append", help="FIELD=COUNT")
    w.add_argument("--no-end", action="store_true")
    for name in ("dump", "samples", "header"):
        p = sub.add_parser(name)
        p.add_argument("inp")
        if name == "header":
            p.add_argument("--strip-endpoints", action="store_true")
    for name in ("body", "strip-end"):
        p = sub.add_parser(name)
        p.add_argument("inp")
        p.add_argument("out")
    a = ap.parse_args()
    {"write": cmd_write, "dump": cmd_dump, "samples": cmd_samples,
     "body": cmd_body, "header": cmd_header,
     "strip-end": cmd_strip_end}[a.cmd](a)


if __name__ == "__main__":
    main()
