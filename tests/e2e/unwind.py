#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Native stacks without frame pointers: the CFI unwinder (root, real BPF).

tests/targets/unwind_deep leaks on six paths (wrappers five calls deep, a
qsort callback, a 7-deep recursion, a signal handler, a VLA frame, a second
call site), one block size per path, built -O2 -fomit-frame-pointer
(unwind_deep) and with frame pointers (unwind_deep_fp). It does its rounds
3 times, 200 ms apart, so the first round teaches BPF the rules and the
later ones are unwound in BPF alone. Both memtrace and gdb run with address
space randomisation off (setarch -R; gdb's default), so return addresses
compare as they are.
  - unwind-gdb-nofp, unwind-gdb-fp: `memtrace --group-by stack --format
    json -- unwind_deep 3`: exactly one stack per path, its return addresses
    (site first, inlined frames left out) equal to gdb's backtrace at every
    malloc of that size (a Python breakpoint script; frame pcs from the
    caller of malloc to _start, past main; inlined frames and the tail-call
    frames gdb rebuilds from DWARF call sites left out: a tail call leaves
    no return address on the stack); the marker's bytes
    and count times 3 at the xmalloc line; no drop, no stack left partial
    (events.unwind_partial 0); at
    most 8 stack copies (the first round's 8 allocations; the 16 later ones
    walked in BPF), every one unwound to the outermost frame (-v);
  - unwind-same-stacks: both builds give the same stacks, function by
    function and line by line;
  - unwind-fp-walk: --unwind fp still walks frame pointers (the _fp build's
    wrapper path is whole).

Under CI=true a missing gdb is a failure. Reuses run.py's helpers
(E2E_ONLY, E2E_VERBOSE); prints `unwind: N passed, M failed`.
"""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

SRC = os.path.join(run.ROOT, "tests", "targets", "unwind_deep.c")
BINS = {"nofp": os.path.join(run.TARGETS, "unwind_deep"),
        "fp": os.path.join(run.TARGETS, "unwind_deep_fp")}
ROUNDS = 3
SIZES = range(1001, 1007)  # one per path
PATH_COUNT = {1001: 3}  # allocations per round on a path (else 1)
STATE = {}

GDB_SCRIPT = r'''
import gdb, json
out = []
def on_stop(ev):
    if not isinstance(ev, gdb.BreakpointEvent):
        return
    size = int(gdb.parse_and_eval("$rdi"))
    pcs = []
    f = gdb.newest_frame().older()
    while f is not None:
        if f.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
            pcs.append(f.pc())
        f = f.older()
    out.append({"size": size, "pcs": pcs})
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set breakpoint pending on")
gdb.execute("set backtrace past-main on")
gdb.execute("set backtrace past-entry on")
gdb.execute("handle SIGUSR1 nostop noprint pass")
gdb.events.stop.connect(on_stop)
gdb.execute("break malloc if $rdi >= %d && $rdi <= %d")
gdb.execute("run")
while gdb.selected_inferior().pid:
    gdb.execute("continue")
with open(%r, "w") as f:
    json.dump(out, f)
'''


def gdb_stacks(binary, name):
    """size -> list of gdb's pc lists, one per malloc of that size."""
    if not shutil.which("gdb"):
        run.need_tool("gdb")
    out = os.path.join(run.TMP, "gdb-%s.json" % name)
    script = os.path.join(run.TMP, "gdb-%s.py" % name)
    with open(script, "w") as f:
        f.write(GDB_SCRIPT % (min(SIZES), max(SIZES), out))
    r = run.run(["gdb", "-batch", "-nx", "-x", script, "--args", binary, str(ROUNDS)],
                timeout=120)
    if r.rc != 0 or not os.path.exists(out):
        raise run.Fail("gdb on %s: %s" % (binary, r.describe()))
    got = {}
    with open(out) as f:
        for hit in json.load(f):
            got.setdefault(hit["size"], []).append(hit["pcs"])
    return got


def memtrace_stacks(binary, name, extra=()):
    """(final report, stderr) of `memtrace --group-by stack` on binary, ASLR off."""
    out = os.path.join(run.TMP, "mt-%s.json" % name)
    r = run.run(["setarch", os.uname().machine, "-R", run.MEMTRACE, "-v", "--group-by",
                 "stack", "--format", "json", *extra, "-o", out, "--", binary, str(ROUNDS)])
    if r.rc != 0 or r.timed_out:
        raise run.Fail("memtrace -- %s: %s" % (os.path.basename(binary), r.describe()))
    return run.final_report(run.read_reports(out)), r.err


def stacks_by_size(rep):
    """size -> [(bytes, count, frames)] of the report's stacks of unwind_deep.c."""
    by = {}
    for site in run.sites_of(rep):
        for st in site.get("stacks") or []:
            n = run.num(st, "count")
            if not n or run.num(st, "bytes") % n:
                continue
            size = run.num(st, "bytes") // n
            frames = [f for f in st.get("frames") or [] if not f.get("inlined")]
            by.setdefault(size, []).append((run.num(st, "bytes"), n, frames))
    return by


def marker():
    with open(SRC) as f:
        for i, line in enumerate(f, 1):
            m = re.search(r"/\*\s*@leak bytes=(\d+) count=(\d+)", line)
            if m:
                return i, int(m.group(1)), int(m.group(2))
    raise run.Fail("no @leak marker in %s" % SRC)


def check_build(name):
    binary = BINS[name]
    rep, err = memtrace_stacks(binary, name)
    truth = gdb_stacks(binary, name)
    by = stacks_by_size(rep)
    errs = run.check_drops(rep)
    line, mbytes, mcount = marker()
    xm = [s for s in run.sites_of(rep) if s.get("line") == line and
          run.base(s.get("file")) == os.path.basename(SRC)]
    got = (sum(run.num(s, "bytes") for s in xm), sum(run.num(s, "count") for s in xm))
    if got != (ROUNDS * mbytes, ROUNDS * mcount):
        errs.append("xmalloc line %d: %d B / %d, want %d B / %d"
                    % (line, got[0], got[1], ROUNDS * mbytes, ROUNDS * mcount))
    stacks = {}
    for size in SIZES:
        want_n = ROUNDS * PATH_COUNT.get(size, 1)
        mine = by.get(size, [])
        if len(mine) != 1:
            errs.append("%d-byte path: %d stacks, want 1: %s"
                        % (size, len(mine), [[f.get("function") for f in s[2]] for s in mine]))
            continue
        _, n, frames = mine[0]
        if n != want_n:
            errs.append("%d-byte path: count %d, want %d" % (size, n, want_n))
        addrs = [int(f.get("addr", "0"), 16) for f in frames]
        stacks[size] = [(f.get("function"), f.get("line")) for f in frames]
        hits = truth.get(size, [])
        if len(hits) != want_n:
            errs.append("%d-byte path: gdb stopped %d times, want %d" % (size, len(hits), want_n))
        for pcs in hits:
            if pcs != addrs:
                errs.append("%d-byte path: memtrace %s\n      gdb      %s\n      (%s)"
                            % (size, [hex(a) for a in addrs], [hex(a) for a in pcs],
                               " <- ".join(str(f) for f, _ in stacks[size])))
                break
        run.vlog("%d: %d frames, %s" % (size, len(addrs),
                                         " <- ".join(str(f) for f, _ in stacks[size])))
    STATE[name] = stacks
    ev = rep.get("events") or {}
    if ev.get("unwind_partial") != 0:
        errs.append("events.unwind_partial=%s, want 0" % ev.get("unwind_partial"))
    copies = ev.get("unwind_copies")
    if not isinstance(copies, int) or not 1 <= copies <= 8:
        errs.append("events.unwind_copies=%s, want 1..8 (the first round's allocations)"
                    % copies)
    m = re.search(r"unwinder: (\d+) stack copies: (\d+) unwound to the outermost", err)
    if not m or m.group(1) != m.group(2) or int(m.group(1)) != copies:
        errs.append("-v: not every copy unwound to the outermost frame: %s"
                    % (m.group(0) if m else "no unwinder line"))
    run.info("%s: %d paths, %d stack copies for %d allocations"
             % (name, len(stacks), copies or 0, ROUNDS * mcount))
    return errs


def t_nofp(markers, funcs):
    return check_build("nofp")


def t_fp(markers, funcs):
    return check_build("fp")


def t_same(markers, funcs):
    for name in BINS:
        if name not in STATE:
            check_build(name)
    errs = []
    for size in SIZES:
        a, b = STATE["nofp"].get(size), STATE["fp"].get(size)
        if a != b:
            errs.append("%d-byte path: without frame pointers %s, with %s" % (size, a, b))
    return errs


def t_fp_walk(markers, funcs):
    rep, _ = memtrace_stacks(BINS["fp"], "fpwalk", ["--unwind", "fp"])
    mine = stacks_by_size(rep).get(1001, [])
    want = ["xmalloc", "new_block", "level5", "level4", "level3", "level2", "level1", "main"]
    got = [f.get("function") for f in mine[0][2]][:len(want)] if len(mine) == 1 else mine
    return [] if got == want else ["--unwind fp, wrapper path: %s, want %s" % (got, want)]


CASES = (("unwind-gdb-nofp", t_nofp), ("unwind-gdb-fp", t_fp), ("unwind-same-stacks", t_same),
         ("unwind-fp-walk", t_fp_walk))


def main():
    return run.run_cases("unwind", CASES)


if __name__ == "__main__":
    sys.exit(main())
