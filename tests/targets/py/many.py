# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""many.py: 5 M live objects at one line, for memtrace's live-allocation table.

Run under `memtrace --pymalloc off --` (PYTHONMALLOC=malloc: every object is
one malloc). The marked line builds a list of MANY_N instances of a
__slots__ class (no free list: one allocation each, sys.getsizeof() bytes:
what the allocator is asked for, GC header included) and the list itself
(its item array: one block; the list object comes from CPython's free list
of lists); nothing else it allocates stays. Prints

    many n=<MANY_N> obj=<bytes of one instance> array=<bytes of the list's item array>

and exits after 0.1 s, holding them. MANY_N in the environment changes the
number.
"""
import itertools
import os
import sys
import time

MANY_N = int(os.environ.get("MANY_N", "5000000"))


class Slot:
    __slots__ = ("a",)


def build(n):
    return [Slot() for _ in itertools.repeat(None, n)]  # @many


def main():
    global KEEP  # held until the interpreter finalizes (the final report)
    KEEP = build(MANY_N)
    print("many n=%d obj=%d array=%d" % (MANY_N, sys.getsizeof(KEEP[0]),
                                         sys.getsizeof(KEEP) - sys.getsizeof([])), flush=True)
    time.sleep(0.1)


if __name__ == "__main__":
    main()
