# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""leaks.py: Python leaks at known lines for tests/e2e/python.py.

Every line that leaks carries a marker; tests/e2e/python.py parses them and
compares memtrace's per-line report with them. Grammar (a comment on the
line of the allocation):

    @leak bytes=B [exact=E] [count=C] [alloc=A] [native] [py310=B]
          [bytearray] [scope=module]
    @noise

  bytes=B   what the program keeps alive from that line (the payload); the
            report must be within 2% of it. bytes=0: everything allocated on
            the line was freed (a small slack is allowed for pymalloc noise)
  exact=E   what libc sees, when it is knowable: bytearray(N) mallocs N+1
            bytes; bytes of length N malloc N+33 (a 32-byte header and the
            NUL); the 56-byte bytearray object itself stays in pymalloc
  count=C   live blocks at the line
  alloc=A   allocated volume of a churn line: the report must show A
            allocated (within 2%) and under 1% of A live. A line whose
            blocks were all freed is no row at all (memtrace reports what is
            outstanding), so the volume is checked on a churn line that
            keeps its last block; the other churn line is bytes=0
  native    allocated by C code outside Python's allocators (ctypes calls
            into libc, sqlite), invisible to tracemalloc
  py310=B   the payload on Python 3.10, where it differs
  bytearray the blocks are bytearray buffers: from 3.15 on a bytearray
            keeps its bytes in a bytes object, so libc sees 32 more bytes
            per block than exact=E says (E + 32 x C)
  scope=module  a line of the module body (its code object is freed when
            the script ends, before Py_FinalizeEx): checked as its own case
  @noise    a line whose bytes are not checked (pymalloc arenas kept on
            purpose, see prewarm; the imports)

The function of a marked line is its enclosing def (qualified name on
3.11+, co_name on 3.10), from the source.

Modes:
  leaks.py           do the work, sleep 0.2 s, exit 0 (under memtrace --
                     the final report is taken at Py_FinalizeEx, so what the
                     module keeps alive is still live)
  leaks.py --wait    print "ready <pid>", wait for SIGUSR1, do the work,
                     print "done", wait for SIGUSR2 (at most 120 s), exit 0
  MEMTRACE_PY_TRACEMALLOC=FILE with -X tracemalloc=1: at the end, write
                     {"file:line": size} of tracemalloc's per-line
                     statistics (the innermost frame, as memtrace groups)
                     to FILE as JSON

Standard library only; runs on 3.9 too (the unsupported-version case).
"""
# What Python allocates while importing a module is reported at the import
# line (memtrace passes over the import machinery's frames): not checked.
import ctypes  # @noise
import json  # @noise
import os  # @noise
import signal  # @noise
import sqlite3  # @noise
import sys  # @noise
import tempfile  # @noise
import threading  # @noise
import time  # @noise

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.calloc.restype = ctypes.c_void_p
LIBC.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
LIBC.strdup.restype = ctypes.c_void_p
LIBC.strdup.argtypes = [ctypes.c_char_p]

# What the leaks stay reachable from. Each list stays under 64 items: a
# longer list's item array (> 512 bytes) would be realloc'ed through libc at
# the line that appends, on top of that line's truth.
KEEP = []
NATIVE = []
# Bound at the end of the module; the name exists from here on, so binding
# it there stores into an existing key and resizes no dict at that line.
MODULE_BUF = None
THREADED = []


def prewarm():
    """Leave free pymalloc pools in live arenas.

    Small objects (the bytearray objects, frames, ints, list items) come
    from pymalloc. When no arena has a free pool, pymalloc mmaps a new 1 MiB
    arena and memtrace rightly charges it to the Python line running then,
    which would add 1 MiB to a marked line. So fill a dozen arenas with
    tuples and free all but one in 2048: the arenas stay (each keeps a few
    tuples), with hundreds of free pools for what follows.
    """
    objs = [(i, i) for i in range(200000)]  # @noise
    return objs[::2048]


WARM = prewarm()


def leak_bytearray():
    KEEP.append(bytearray(1100000))  # @leak bytes=1100000 exact=1100001 bytearray count=1


def leak_bytes_repeat():
    KEEP.append(b"r" * 1300000)  # @leak bytes=1300000 exact=1300033 count=1


class Cache:
    def __init__(self):
        self.items = []

    def put(self, n):
        self.items.append(bytes(n))  # @leak bytes=1200000 exact=1200099 count=3


def chunks(n, size):
    for _ in range(n):
        yield bytearray(size)  # @leak bytes=1000000 exact=1000004 bytearray count=4


async def acoro(n):
    return bytearray(n)  # @leak bytes=700000 exact=700001 bytearray count=1


def run_coro(coro):
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise RuntimeError("coroutine did not finish")


MAKE = lambda n: bytearray(n)  # noqa: E731  @leak bytes=900000 exact=900001 bytearray count=1


def deep(k, n):
    if k:
        return deep(k - 1, n)
    return bytearray(n)  # @leak bytes=600000 exact=600001 bytearray count=1


def native_calls():
    NATIVE.append(LIBC.malloc(800000))  # @leak bytes=800000 exact=800000 count=1 native
    NATIVE.append(LIBC.calloc(1000, 500))  # @leak bytes=500000 exact=500000 count=1 native
    payload = b"s" * 299999
    NATIVE.append(LIBC.strdup(payload))  # @leak bytes=300000 exact=300000 count=1 native


def leak_shared(out, n, size, barrier):
    barrier.wait()
    for _ in range(n):
        out.append(bytearray(size))  # @leak bytes=3000000 exact=3000020 bytearray count=20


def two_threads():
    barrier = threading.Barrier(2)
    outs = [[], []]
    ts = [threading.Thread(target=leak_shared, args=(o, 10, 150000, barrier)) for o in outs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    THREADED.extend(outs)


# The GIL-free phase. The worker allocates inside C calls that release the
# GIL: ctypes calls into libc, and sqlite3_step, where randomblob() mallocs
# its result. For the sqlite allocation the main thread provably holds the
# GIL: the worker's query waits on a database lock the main thread holds
# (sqlite's busy handler sleeps, GIL released), the main thread releases the
# lock and spins in Python code until the query has returned, so the malloc
# runs while the main thread spins. Steps in STEP[0]: 1 worker's page cache
# warm, 2 main holds the lock, 3 lock released, 4 the query returned.
STEP = [0]
BLOB_SQL = "SELECT randomblob(500000) FROM t"


def gil_free_worker(out, n, size, db):
    for _ in range(n):
        out.append(LIBC.malloc(size))  # @leak bytes=2000000 exact=2000000 count=20 native
    conn = sqlite3.connect(db, timeout=60, check_same_thread=False)
    conn.execute("SELECT count(*) FROM t").fetchone()  # @noise (sqlite's page cache)
    out.append(conn)
    STEP[0] = 1
    while STEP[0] < 2:
        time.sleep(0.001)
    # the blob stays in the statement's result row (not fetched); 3.10's
    # cursor also fetches the row ahead into a bytes object, at this line
    cur = conn.execute(BLOB_SQL)  # @leak bytes=500000 py310=1000033 native
    STEP[0] = 4
    out.append(cur)


def gil_free_thread():
    """Returns how often the main thread ran Python code between releasing the lock and
    the worker's query returning: while the worker's randomblob() ran."""
    tmp = tempfile.mkdtemp(prefix="memtrace-leaks-")
    db = os.path.join(tmp, "gil.db")
    setup = sqlite3.connect(db)
    setup.execute("CREATE TABLE t(x)")
    setup.execute("INSERT INTO t VALUES (1)")
    setup.commit()
    setup.close()
    out = []
    t = threading.Thread(target=gil_free_worker, args=(out, 20, 100000, db))
    spins = [0] * 5
    t.start()
    while STEP[0] < 1:  # @leak bytes=0
        spins[STEP[0]] += 1  # @leak bytes=0
    lock = sqlite3.connect(db, timeout=60, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    STEP[0] = 2
    end = time.monotonic() + 0.05  # the worker gets the GIL, runs into the lock
    while time.monotonic() < end:  # @leak bytes=0
        spins[STEP[0]] += 1  # @leak bytes=0
    lock.execute("COMMIT")
    STEP[0] = 3
    while t.is_alive():  # @leak bytes=0
        spins[STEP[0]] += 1  # @leak bytes=0
    t.join()
    lock.close()
    THREADED.append(out)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return spins[3]


def churn(rounds, size):
    for _ in range(rounds):
        b = bytearray(size)  # @leak bytes=0
        del b


def churn_keep_last(rounds, size):
    for _ in range(rounds):
        b = bytearray(size)  # @leak bytes=200000 exact=200001 bytearray count=1 alloc=60000300
    return b


def run_all():
    leak_bytearray()
    leak_bytes_repeat()
    cache = Cache()
    for _ in range(3):
        cache.put(400000)
    KEEP.append(cache)
    KEEP.extend(chunks(4, 250000))
    KEEP.append(run_coro(acoro(700000)))
    KEEP.append(MAKE(900000))
    KEEP.append(deep(60, 600000))
    native_calls()
    two_threads()
    during = gil_free_thread()
    # proof that the GIL-free allocation ran while the main thread held the
    # GIL (tests/e2e/python.py checks that N > 0)
    print("main held the GIL %d times during sqlite3_step" % during, flush=True)
    churn(300, 200000)
    KEEP.append(churn_keep_last(300, 200000))


def dump_tracemalloc(path):
    import tracemalloc

    if not tracemalloc.is_tracing():
        sys.exit("leaks.py: %s set but tracemalloc is not tracing (-X tracemalloc=1)"
                 % "MEMTRACE_PY_TRACEMALLOC")
    snap = tracemalloc.take_snapshot()
    sizes = {}
    for st in snap.statistics("lineno"):
        fr = st.traceback[0]
        sizes["%s:%d" % (fr.filename, fr.lineno)] = st.size
    with open(path, "w") as f:
        json.dump(sizes, f)


def main():
    wait = "--wait" in sys.argv[1:]
    if wait:
        sigs = {signal.SIGUSR1, signal.SIGUSR2}
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)  # threads inherit it
        print("ready %d" % os.getpid(), flush=True)
        signal.sigwait({signal.SIGUSR1})
    run_all()
    if wait:
        print("done", flush=True)
        signal.sigtimedwait({signal.SIGUSR2}, 120)
    else:
        time.sleep(0.2)
    tm = os.environ.get("MEMTRACE_PY_TRACEMALLOC")
    if tm:
        dump_tracemalloc(tm)


MODULE_BUF = bytearray(1400000)  # @leak bytes=1400000 exact=1400001 bytearray count=1 scope=module

if __name__ == "__main__":
    main()
