#!/usr/bin/env bats
# Streams through pipes at full size: a writer splices large messages into
# a pipe (common/endpoint.c) and a reader reads large tensor data straight
# into the tensors; whatever route the bytes take, a pipe carries exactly
# the stream a file gets, also to readers that are slow, that hand the
# pipe's pages on to other pipes and hold them, or that stop early.
#
# The data set (made once per file): 64000 samples of x (1000 float32,
# 256 MB), an int64 label and a ragged float32 field of 0 to 20 rows of 3.

load helpers

setup_file() {
	D="$BATS_FILE_TMPDIR"
	/usr/bin/python3 - "$D/big.h5" "$D/x.sha256" <<'EOF'
import hashlib, sys
import h5py, numpy as np
rng = np.random.default_rng(7)
n = 64000
x = rng.standard_normal((n, 1000), dtype=np.float32)
counts = rng.integers(0, 21, n)
ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
with h5py.File(sys.argv[1], "w") as f:
    f["x"] = x
    f["label"] = rng.integers(0, 5, n).astype(np.int64)
    f["hits"] = rng.standard_normal((int(ptr[-1]), 3), dtype=np.float32)
    f["hits_ptr"] = ptr
open(sys.argv[2], "w").write(hashlib.sha256(x.tobytes()).hexdigest() + "\n")
EOF
}

setup() {
	quanta_setup
	D="$BATS_FILE_TMPDIR"
}
teardown() { quanta_teardown; }

# sha256 of the data of an .npy file (after its header).
npy_sha256() {
	"$PY" -c 'import hashlib, sys, numpy as np
a = np.load(sys.argv[1], mmap_mode="r")
print(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())' "$1"
}

@test "pipe: load | cat carries the stream load writes into a file (1 MB and 2.8 MB batches)" {
	for b in 256 700; do
		quanta load "$D/big.h5" --batch $b > "$T/file.qs"
		quanta load "$D/big.h5" --batch $b | cat > "$T/pipe.qs"
		cmp "$T/file.qs" "$T/pipe.qs"
	done
}

@test "pipe: load | save x.npy and load | inspect give the direct versions' data and statistics" {
	quanta load "$D/big.h5" --batch 700 | quanta save "$T/pipe.npy" --fields x
	[ "$(npy_sha256 "$T/pipe.npy")" = "$(cat "$D/x.sha256")" ]
	quanta load "$D/big.h5" --batch 700 > "$T/file.qs"
	quanta inspect -i "$T/file.qs" > "$T/file.txt"
	quanta load "$D/big.h5" --batch 700 | quanta inspect > "$T/pipe.txt"
	cmp "$T/file.txt" "$T/pipe.txt"
	grep -q "samples: 64000 in 92 batches" "$T/pipe.txt"
}

@test "pipe: a reader that splices the pipe's pages into other pipes and holds them gets the bytes written" {
	# 16 pipes hold up to 8 MB of the writer's pages, four times its
	# splice arena, while the writer goes on; then they are read out.
	# A writer that reused spliced memory would show here.
	cat > "$T/hold.py" <<'EOF'
import fcntl, os, sys
holds = []
for _ in range(16):
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass
    holds.append((r, w, fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)))
out, eof = sys.stdout.buffer, False
while not eof:
    held = []
    for r, w, cap in holds:
        n = 0
        while n < cap // 2:
            k = os.splice(0, w, min(cap // 16, cap // 2 - n))
            if k == 0:
                eof = True
                break
            n += k
        held.append(n)
        if eof:
            break
    for (r, w, cap), n in zip(holds, held):
        while n:
            b = os.read(r, n)
            out.write(b)
            n -= len(b)
out.flush()
EOF
	quanta load "$D/big.h5" --batch 700 > "$T/file.qs"
	quanta load "$D/big.h5" --batch 700 | "$PY" "$T/hold.py" > "$T/held.qs"
	cmp "$T/file.qs" "$T/held.qs"
}

@test "pipe: a slow reader gets the same stream" {
	quanta load "$D/big.h5" -n 20000 > "$T/file.qs"
	quanta load "$D/big.h5" -n 20000 | { sleep 1; cat; } > "$T/pipe.qs"
	cmp "$T/file.qs" "$T/pipe.qs"
}

@test "pipe: Python-written batches with large tensors and ragged rows, through cat | filter | cat" {
	"$PY" "$ROOT/tests/pystream.py" write "$T/py.qs" --field images:f4:64,64 \
		--field labels:i8: --field nodes:f4:*,3 --random 3000 --batch 300 --seed 5
	cat "$T/py.qs" | quanta filter --finite images -q | cat > "$T/out.qs"
	"$PY" "$ROOT/tests/pystream.py" samples "$T/py.qs" > "$T/in.sha"
	"$PY" "$ROOT/tests/pystream.py" samples "$T/out.qs" > "$T/out.sha"
	cmp "$T/in.sha" "$T/out.sha"
	[ "$(wc -l < "$T/in.sha")" -eq 3000 ]
}

@test "pipe: a reader that stops early stops the writer: quietly by SIGPIPE, or one error line" {
	run bash -c 'quanta load "$1" | head -c 100 > /dev/null; echo "${PIPESTATUS[0]}"' _ "$D/big.h5"
	[ "$output" = 141 ]
	run bash -c 'trap "" PIPE; quanta load "$1" | head -c 100 > /dev/null; echo "${PIPESTATUS[0]}"' _ "$D/big.h5"
	[ "${lines[0]}" = "quanta-load: write error: Broken pipe" ]
	[ "${lines[1]}" = 1 ]
}

@test "pipe: a stream cut inside a large message: the error says how much of it arrived" {
	quanta load "$D/big.h5" -n 2000 > "$T/file.qs"
	# where the message around byte 3000000 starts
	start=$("$PY" -c 'import sys, msgpack
u = msgpack.Unpacker(open(sys.argv[1], "rb"), max_buffer_size=1 << 30)
pos = 0
for _ in u:
    if u.tell() > 3000000:
        break
    pos = u.tell()
print(pos)' "$T/file.qs")
	run bash -c 'head -c 3000000 "$1" | quanta inspect' _ "$T/file.qs"
	[ "$status" -eq 2 ]
	[ "$output" = "quanta-inspect: truncated stream: it ends inside a message ($((3000000 - start)) bytes of it arrived)" ]
}
