# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""objects.py: known populations of Python objects, for memtrace --py-objects.

Builds FOO_N instances of class Foo (a managed-dict class), SLOT_N of class
Slotted (__slots__), DICT_N dicts and LIST_N lists (each holding a list, so
the collector tracks them), and FROZEN_N instances of class Frozen moved to
the permanent generation with gc.freeze(). Then, after gc.collect(), counts
every GC-tracked object by type with gc.get_objects() (which skips the
permanent generation, so the frozen ones are counted first, as the
generation is emptied by gc.unfreeze() and filled again by gc.freeze()),
prints one line

    objects {"Foo": N, ...} total=T frozen=F

(type names: type(o).__name__, which is tp_name for classes defined in
Python and for the built-ins; C types of a module have "module.Name" as
tp_name), then "ready <pid>", and exits on SIGUSR2. With --churn a
thread then builds and drops lists of dicts without end (a racy walk's
target): the populations above stay as they are.
"""
import gc
import json
import os
import signal
import sys
import threading

FOO_N = 12345
SLOT_N = 3456
DICT_N = 2345
LIST_N = 4567
FROZEN_N = 1111


class Foo:
    def __init__(self, i):
        self.i = i


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, i):
        self.a = i
        self.b = None


class Frozen:
    pass


def census():
    counts = {}
    objs = gc.get_objects()
    for o in objs:
        n = type(o).__name__
        counts[n] = counts.get(n, 0) + 1
    total = len(objs)
    del objs, o
    return counts, total


def churn():
    held = []
    while True:
        held.append([{"k": [i]} for i in range(500)])
        if len(held) > 40:
            del held[:20]


def main():
    wait = {signal.SIGUSR2}  # a set: GC-tracked, made before the census
    signal.pthread_sigmask(signal.SIG_BLOCK, wait)
    # what the end does once before the census: on 3.10/3.11 print's first
    # call with keywords makes its keyword-name tuple, a GC-tracked object
    print("objects.py: building %s" % json.dumps({}, sort_keys=True), flush=True)
    gc.collect()
    frozen = [Frozen() for _ in range(FROZEN_N)]
    gc.freeze()
    keep = [Foo(i) for i in range(FOO_N)]
    keep.append([Slotted(i) for i in range(SLOT_N)])
    keep.append([{"k": [i]} for i in range(DICT_N)])
    keep.append([[[i]] for i in range(LIST_N)])
    gc.collect()
    nfrozen = gc.get_freeze_count()
    # every tracked object, the permanent generation included: empty it
    # into the oldest generation, count, and freeze everything again
    gc.unfreeze()
    counts, total = census()
    gc.freeze()
    print("objects %s total=%d frozen=%d" % (json.dumps(counts, sort_keys=True), total,
                                             nfrozen))
    if "--churn" in sys.argv:
        threading.Thread(target=churn, daemon=True).start()
    print("ready %d" % os.getpid(), flush=True)
    signal.sigwait(wait)
    return keep, frozen


if __name__ == "__main__":
    main()
