# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pywork.py ITER [WARMUP]: a pure-Python allocation-heavy workload for tests/bench/run.py.

Each iteration builds and drops lists, dicts, strings, bytes and bytearrays of
mixed sizes (from a few bytes, served by pymalloc, to tens of KB, served by
libc malloc), keeping the last KEEP iterations' objects alive so frees come
in a different order from allocations. Sizes cycle deterministically, so
every run does exactly the same allocations.

Times ITER iterations (after WARMUP untimed ones, default 64) with time.perf_counter
(wall) and time.process_time (CPU of the process) and prints one JSON line:
{"seconds":WALL,"cpu_seconds":CPU,"iter":ITER,"python":"3.12.1"}.
Standard library only; runs on Python 3.6+.
"""
import json
import platform
import sys
import time

KEEP = 64

# sizes cycle through these (coprime lengths, so combinations vary)
STR_LEN = (3, 17, 60, 200, 700, 1500, 4000, 9000, 33)
BLOB_LEN = (8, 100, 600, 2000, 16000, 64, 300, 5000, 40000, 1200, 24)
LIST_LEN = (0, 2, 5, 20, 90, 300, 8, 1000, 40)
DICT_LEN = (1, 4, 12, 40, 150, 7, 600)


def work(n):
    keep = [None] * KEEP
    for i in range(n):
        s = "x" * STR_LEN[i % 9] + str(i)                # str, concatenation
        b = bytearray(BLOB_LEN[i % 11])                  # bytearray buffer
        r = bytes(BLOB_LEN[(i + 5) % 11])                # bytes object
        l = [j * 3 for j in range(LIST_LEN[i % 9])]      # list growth, small ints
        d = {j: s for j in range(DICT_LEN[i % 7])}       # dict resizes
        t = tuple(l[:7])
        parts = s.split("x")[:50]                        # many small strs
        j = "-".join(parts)
        b.extend(r[:512])                                # bytearray realloc
        keep[i % KEEP] = (s, b, r, l, d, t, j, {"k": i, "v": [i, i + 1]})


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    work(int(sys.argv[2]) if len(sys.argv) > 2 else KEEP)
    t0, c0 = time.perf_counter(), time.process_time()
    work(n)
    t1, c1 = time.perf_counter(), time.process_time()
    print(json.dumps({"seconds": round(t1 - t0, 6), "cpu_seconds": round(c1 - c0, 6),
                      "iter": n, "python": platform.python_version()}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
