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

(type names as tp_name has them: type(o).__name__ for heap types,
__qualname__ for built-ins with a module) and waits for stdin to close.
"""
import gc
import json
import sys

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


def tp_name(t):
    mod = t.__module__
    if t.__flags__ & (1 << 9) or mod == "builtins":  # heap type, or a built-in's
        return t.__name__
    return "%s.%s" % (mod, t.__name__)


def census():
    counts = {}
    objs = gc.get_objects()
    for o in objs:
        n = tp_name(type(o))
        counts[n] = counts.get(n, 0) + 1
    total = len(objs)
    del objs, o
    return counts, total


def main():
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
                                             nfrozen), flush=True)
    sys.stdin.read()
    return keep, frozen


if __name__ == "__main__":
    main()
