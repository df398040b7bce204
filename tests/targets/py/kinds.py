# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""kinds.py: the two systems side by side, with their ground truth, for
tests/e2e/python.py (case kinds).

Two lines, each marked `# @kind NAME` (the runner finds them by name):

  big    20 bytes objects of 100000+i bytes, stored into a list sized
         beforehand (and the sizes made beforehand: an int freed at the
         line would sit in 3.14's int free list): each a libc malloc of
         100000+i+33 bytes (a 32-byte header and the NUL), exactly what
         tracemalloc says of the line
  small  100000 short strings: pymalloc serves them from arenas it
         maps while the line runs; the list's item array (over 512 bytes)
         is realloc'ed through libc at the line. A warm-up builds and frees
         twice as many first, so pymalloc's own table of arenas (a libc
         block it grows as arenas are added) is large enough already and
         the line's libc blocks are the item array alone. Strings have no
         free list (tuples do, and tracemalloc charges a tuple taken from
         one to the line that took it, where no allocator is called).
         With PYTHONMALLOC=malloc (no pymalloc, every object a libc block):
         25000 strings and no warm-up, slow enough under probes as it is

At the end the program writes, as JSON, to $MEMTRACE_PY_TRUTH (if set):
  big           the bytes the line keeps, from the sizes above
  small_items   the item array of the list: sys.getsizeof(list) less an
                empty list's
  arenas        pymalloc's count of arenas allocated while the small line
                ran ("# arenas allocated total" of sys._debugmallocstats
                before and after; 0 when pymalloc is not in use)
  lines         {"big": N, "small": N}
and, run with -X tracemalloc=1 and $MEMTRACE_PY_TRACEMALLOC set, the
per-line sizes of tracemalloc's snapshot ({"file:line": bytes}, innermost
frame) there.

Standard library only.
"""
import json
import os
import re
import sys
import tempfile

KEEP_BIG = [None] * 20
KEEP_SMALL = None
N_BIG = 20
BIG = 100000
NO_PYMALLOC = os.environ.get("PYTHONMALLOC") == "malloc"
N_SMALL = 25000 if NO_PYMALLOC else 100000
SIZES = [BIG + i for i in range(N_BIG)]


def arenas_total():
    """pymalloc's arenas allocated so far; _debugmallocstats writes to fd 2."""
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        for line in f.read().decode(errors="replace").splitlines():
            if line.startswith("# arenas allocated total"):
                return int(line.split("=")[1].replace(",", "").strip())
    return 0


def lines_of():
    out = {}
    with open(__file__) as f:
        for i, text in enumerate(f, 1):
            m = re.search(r"\S.*  # @kind (big|small)$", text)
            if m:
                out[m.group(1)] = i
    return out


def main():
    global KEEP_SMALL
    for i in range(N_BIG):
        KEEP_BIG[i] = bytes(SIZES[i])  # @kind big
    if not NO_PYMALLOC:
        warm = [str(i) for i in range(2 * N_SMALL)]
        del warm
    before = arenas_total()
    KEEP_SMALL = [str(i) for i in range(N_SMALL)]  # @kind small
    after = arenas_total()
    truth = {
        "big": sum(BIG + i + 33 for i in range(N_BIG)),
        "small_items": sys.getsizeof(KEEP_SMALL) - sys.getsizeof([]),
        "arenas": after - before,
        "lines": lines_of(),
    }
    path = os.environ.get("MEMTRACE_PY_TRUTH")
    if path:
        with open(path, "w") as f:
            json.dump(truth, f)
    path = os.environ.get("MEMTRACE_PY_TRACEMALLOC")
    if path:
        import tracemalloc
        snap = tracemalloc.take_snapshot()
        stats = {"%s:%d" % (s.traceback[0].filename, s.traceback[0].lineno): s.size
                 for s in snap.statistics("lineno")}
        with open(path, "w") as f:
            json.dump(stats, f)


if __name__ == "__main__":
    main()
