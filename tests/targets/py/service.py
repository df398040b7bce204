# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""service.py: a long-running Python process that leaks on request.

For `memtrace -p` in tests/e2e/python.py: prints "ready <pid>", waits for
SIGUSR1 (signal.sigwait), leaks 20 x bytearray(250000) at the marked line
(malloc'ed as 250001 bytes each), prints "done", then sleeps until SIGUSR2
(at most 120 s) and exits 0.
"""
import os
import signal
import sys

KEEP = []
# free pymalloc pools in live arenas, so the small bytearray objects of the
# leak do not make pymalloc map a new 1 MiB arena at the leak line (see
# prewarm in leaks.py)
WARM = [(i, i) for i in range(200000)][::2048]  # @noise


def handle_request(n, size):
    for _ in range(n):
        KEEP.append(bytearray(size))  # @leak bytes=5000000 exact=5000020 bytearray count=20


def main():
    sigs = {signal.SIGUSR1, signal.SIGUSR2}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    print("ready %d" % os.getpid(), flush=True)
    signal.sigwait({signal.SIGUSR1})
    handle_request(20, 250000)
    print("done", flush=True)
    if signal.sigtimedwait({signal.SIGUSR2}, 120) is None:
        sys.exit("service.py: no SIGUSR2 within 120 s")


if __name__ == "__main__":
    main()
