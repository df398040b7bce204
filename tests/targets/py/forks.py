# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""forks.py: a Python parent whose forked children leak, for tests/e2e/lifecycle.py.

The parent leaks at its marked line, starts two children with
multiprocessing's fork start method (each leaks at its own marked line and
exits), waits for them and prints "children PID1 PID2". bytearray(100000)
asks the C allocator for 100001 bytes each: exact per line.
"""
import multiprocessing
import sys

KEEP = []


def leak(n):
    for _ in range(n):
        b = bytearray(100000)  # @leak bytes=N*100001 count=N proc=child
        KEEP.append(b)


def main():
    multiprocessing.set_start_method("fork")
    for _ in range(3):
        b = bytearray(100000)  # @leak bytes=300003 count=3 proc=parent
        KEEP.append(b)
    kids = [multiprocessing.Process(target=leak, args=(n,)) for n in (4, 6)]
    for k in kids:
        k.start()
    for k in kids:
        k.join()
        if k.exitcode:
            sys.exit(1)
    print("children %d %d" % tuple(k.pid for k in kids), flush=True)


if __name__ == "__main__":
    main()
