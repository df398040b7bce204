# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""small.py: many small objects at one line, for tests/e2e/python.py.

pymalloc serves objects of 512 bytes or less from its arenas, so by default
memtrace sees only the arenas. Under `memtrace --pymalloc off --` (every
object through libc) or `--python-allocators` (probes on PyObject_Malloc)
each tuple is one allocation at the marked line.

SMALL_N tuples: 100000 plus 2000, the most that CPython's free list of
2-tuples can hand out without calling the allocator, so at least 100000
tuples really are allocated at the line. Prints
"small n=<SMALL_N> tuple_size=<sys.getsizeof of one tuple>
pythonmalloc=<$PYTHONMALLOC>" (the size includes the GC header: what the
allocator is asked for) and exits after 0.1 s.
"""
import os
import sys
import time

SMALL_N = 100000 + 2000


def make_small(n):
    out = []
    for i in range(n):
        out.append((i, None))  # @small
    return out


def main():
    global SMALL
    SMALL = make_small(SMALL_N)
    print("small n=%d tuple_size=%d pythonmalloc=%s" % (
        SMALL_N, sys.getsizeof((0, None)), os.environ.get("PYTHONMALLOC", "")), flush=True)
    time.sleep(0.1)


if __name__ == "__main__":
    main()
