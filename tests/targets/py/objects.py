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

Then the objects the collector does not track, one level down: str, bytes,
int and float objects (ATOM_N of each flavour: ASCII, Latin-1, UCS-2 and
UCS-4 strings, floats, big and negative ints, bytes) held by lists, dicts
(str-keyed, general and split instance dicts), sets, frozensets and tuples,
some held twice; counted as pympler counts them: the items of every
container gc.get_objects() returns (list, tuple, dict keys and values, set,
frozenset, subclasses included), each object once (by id), with
sys.getsizeof() bytes, printed as

    atoms {"str": [count, bytes], ...}

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
ATOM_N = 2222
ATOMS = (str, bytes, int, float)


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
    objs = gc.get_objects()
    # made after the census's list: on 3.14+ the collector tracks every
    # dict, and the names and counts it holds are gone by the walk
    counts = {}
    for o in objs:
        n = type(o).__name__
        counts[n] = counts.get(n, 0) + 1
    total = len(objs)
    untracked = atom_census(objs)
    del objs, o
    return counts, total, untracked


def atom_census(objs):
    """{type name: [count, bytes]} of the untracked objects the containers hold"""
    seen = {}
    for o in objs:
        if isinstance(o, dict):
            items = list(dict.keys(o)) + list(dict.values(o))
        elif isinstance(o, list):
            items = list.__iter__(o)
        elif isinstance(o, tuple):
            items = tuple.__iter__(o)
        elif isinstance(o, set):
            items = set.__iter__(o)
        elif isinstance(o, frozenset):
            items = frozenset.__iter__(o)
        else:
            continue
        for r in items:
            if type(r) in ATOMS:
                seen[id(r)] = r
    out = {}
    for r in seen.values():
        c = out.setdefault(type(r).__name__, [0, 0])
        c[0] += 1
        c[1] += sys.getsizeof(r)
    return json.dumps(out, sort_keys=True)


def atoms():
    """The untracked populations, in tracked containers"""
    n = ATOM_N
    strs = (["ascii-%d" % i for i in range(n)] + ["l\xe9-%d" % i for i in range(n)] +
            ["\u20ac-%d" % i for i in range(n)] + ["\U0001f600-%d" % i for i in range(n)])
    big = [2 ** 70 + i for i in range(n)]
    held = [
        strs,
        {"key-%d" % i: i + 0.5 for i in range(n)},      # str keys, float values
        {big[i]: b"x" * (i % 40) for i in range(n)},     # general keys
        set(-1000 - i for i in range(n)),                # negative ints
        frozenset(bytes([i % 256, i // 256]) for i in range(n)),
        tuple(strs[:500]) + ([],),                       # held twice; a tracked tuple
        big,
        [float(i) for i in range(n)] + [3.25] * 5,       # one float five times
    ]
    # split instance dicts: Foo's attributes materialized as a dict
    for i in range(200):
        f = Foo(10 ** 12 + i)
        f.name = "foo-%d" % i
        f.__dict__
        held.append(f)
    return held


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
    keep.append(atoms())
    gc.collect()
    nfrozen = gc.get_freeze_count()
    # every tracked object, the permanent generation included: empty it
    # into the oldest generation, count, and freeze everything again
    gc.unfreeze()
    counts, total, untracked = census()
    gc.freeze()
    print("objects %s total=%d frozen=%d" % (json.dumps(counts, sort_keys=True), total,
                                             nfrozen))
    print("atoms %s" % untracked)
    del counts, total, untracked
    if "--churn" in sys.argv:
        threading.Thread(target=churn, daemon=True).start()
    print("ready %d" % os.getpid(), flush=True)
    signal.sigwait(wait)
    return keep, frozen


if __name__ == "__main__":
    main()
