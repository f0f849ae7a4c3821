"""io_h5py.py: the h5py side of bench/io.sh.

    io_h5py.py create FILE ROWS COLS   a float32 dataset 'x' (ROWS, COLS) of
                                       standard normal values, contiguous
                                       (h5py's default layout)
    io_h5py.py chunked FILE [REPEAT]   read 'x' in blocks of 256 rows into one
                                       reused buffer (what quanta load does)
    io_h5py.py whole FILE [REPEAT]     read 'x' in one call (x[:])

A read prints one line to stderr: the median seconds of REPEAT reads
(default 1) timed inside Python, without the interpreter's start and the
import of h5py, which bench/io.sh times separately as whole processes.
"""
import statistics
import sys
import time

import h5py
import numpy as np

BATCH = 256


def create(path, rows, cols):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", (rows, cols), dtype="<f4")
        step = max(1, (64 << 20) // (4 * cols))
        for i in range(0, rows, step):
            k = min(step, rows - i)
            d[i:i + k] = rng.standard_normal((k, cols), dtype=np.float32)


def read_chunked(path):
    with h5py.File(path, "r") as f:
        d = f["x"]
        n = d.shape[0]
        buf = np.empty((BATCH,) + d.shape[1:], d.dtype)
        for i in range(0, n, BATCH):
            k = min(BATCH, n - i)
            d.read_direct(buf, np.s_[i:i + k], np.s_[0:k])


def read_whole(path):
    with h5py.File(path, "r") as f:
        x = f["x"][:]
    return x.shape


def main(argv):
    if len(argv) < 3 or argv[1] not in ("create", "chunked", "whole"):
        sys.exit(__doc__)
    if argv[1] == "create":
        create(argv[2], int(argv[3]), int(argv[4]))
        return
    read = read_chunked if argv[1] == "chunked" else read_whole
    times = []
    for _ in range(int(argv[3]) if len(argv) > 3 else 1):
        t0 = time.perf_counter()
        read(argv[2])
        times.append(time.perf_counter() - t0)
    print("%.4f" % statistics.median(times), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
