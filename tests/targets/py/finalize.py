# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""finalize.py: a Python process whose leak is freed by its own teardown.

Prints "ready PID", waits for "go" on stdin, leaks at the marked line,
prints "done", waits for "end" and returns: Py_FinalizeEx then frees the leak. memtrace -p must report what was
outstanding when finalization began (tests/e2e/lifecycle.py).
"""
import os
import sys

KEEP = []


def wait(word):
    for line in sys.stdin:
        if line.startswith(word):
            return


def main():
    print("ready %d" % os.getpid(), flush=True)
    wait("go")
    for _ in range(7):
        b = bytearray(100000)  # @leak bytes=700007 count=7 proc=finalize
        KEEP.append(b)
    print("done", flush=True)
    wait("end")


main()
