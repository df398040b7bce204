#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The allocator a process really uses, and the user's line as the site.

Ground truth: the markers in tests/targets/cxx/leak_cxx.cc (C++: new, new[],
nothrow and aligned new, vector growth, string, map, list, make_shared,
make_unique, a released unique_ptr; built -O2 -g) and tests/targets/leak_wrap.c
(leaks through two levels of the program's own wrappers, six calls below
main). Every marked line must carry exactly its bytes and count, no other
line of the file any byte; valgrind (definitely + indirectly lost, per the
innermost frame of the file that is not a wrapper) must agree.

  cxx-dashdash      memtrace -- leak_cxx: every `new` at the user's line; the
                    runtime's rows (libstdc++'s emergency pool) marked runtime
                    and after the program's; untracked_free 0
  cxx-pid           the same under -p (attached before the work)
  cxx-valgrind      valgrind's lost bytes per line == memtrace's
  cxx-host          the same under -a --sample-rate 0: libstdc++'s operator new
                    probed for every process, each new at the user's line
  wrap-alloc-fn     --alloc-fn 'xmalloc*' --alloc-fn xcalloc --alloc-fn xstrdup:
                    exact at the wrappers' callers; without it all at
                    xmalloc_raw; -v marks the skipped frames
  wrap-valgrind     valgrind, read past the same wrappers, agrees
  jemalloc-*        the same programs linked with -ljemalloc, -- and -p: probes
                    in libjemalloc (none single-stepped), exact; leak_wrap
                    with jemalloc linked into the executable (probed there);
                    leak_jex: mallocx, rallocx, xallocx (grown in place, and
                    refused), sdallocx, dallocx, exact
  tcmalloc-*        the same with LD_PRELOAD=libtcmalloc.so.4, -- and -p
  mimalloc-*        the same with LD_PRELOAD=libmimalloc.so.2 (its entries move
                    the size out of %rdi first: single-stepped, said by -v)
  prefix            --prefix je_ on a library with jemalloc's API under je_
                    names (a stand-in built here): exact at the callers
  glib              g_malloc, g_malloc0, g_malloc_n, g_realloc, g_strdup: each at
                    the line that called GLib
  unprobed-warning  a process that dlopen()s tcmalloc (malloc still binds to
                    libc): -p names the allocator it does not probe
  sid-*             glibc 2.43, jemalloc and tcmalloc of Debian sid (the chroot
                    of tests/sid-chroot.sh, leak_cxx built there with its g++):
                    run chrooted as a container would, attached with -p: exact,
                    and no hot entry (malloc, calloc, realloc, free, the memalign
                    family, operator new and delete) single-stepped

A marker with `unwind=libstdc++` is a leak whose only path to the user's line
runs through libstdc++'s own code (no frame pointers there): with CFI stacks
(the default) it is at the user's line under every allocator, libstdc++'s
frames being skipped as the site even where operator new is jemalloc's,
tcmalloc's or mimalloc's; only -a's frame-pointer stacks (cxx-host) may
leave its bytes, exact, in a row inside libstdc++ (reported as pending).

Reuses run.py's helpers; prints `alloc: N passed, M failed`.
"""
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

CXX_SRC = os.path.join(run.ROOT, "tests", "targets", "cxx", "leak_cxx.cc")
WRAP_SRC = os.path.join(run.ROOT, "tests", "targets", "leak_wrap.c")
JEX_SRC = os.path.join(run.ROOT, "tests", "targets", "leak_jex.c")
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"
MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"
PREFIX_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "alloc")
ALLOC_FNS = ["--alloc-fn", "xmalloc*", "--alloc-fn", "xcalloc", "--alloc-fn", "xstrdup"]
WRAPPERS = re.compile(r"^(xmalloc.*|xcalloc|xstrdup)$")
MARK = re.compile(r"/\*\s*@leak\s+(.*?)\s*\*/")


def markers(path):
    """line -> {bytes, count, unwind}."""
    out = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            m = MARK.search(text)
            if m and not text.lstrip().startswith("*"):
                attrs = dict(kv.split("=", 1) for kv in m.group(1).split())
                out[n] = {"bytes": int(attrs["bytes"]), "count": int(attrs["count"]),
                          "unwind": attrs.get("unwind")}
    if len(out) < 2:
        raise run.Fail("only %d markers in %s" % (len(out), path))
    return out


def check(rep, src, label, pending_ok=False):
    """Exact per-line comparison of a final report with src's markers.

    pending_ok: a marker with unwind= may sit, exact, in a row inside
    libstdc++ (frame-pointer stacks, as -a walks them, do not reach past it);
    with CFI stacks it must be at its line, whatever allocator runs under
    the standard library (jemalloc's, tcmalloc's, mimalloc's operator new)."""
    base = os.path.basename(src)
    marks = markers(src)
    errs, rows, lib_rows = [], collections.defaultdict(list), []
    for s in run.sites_of(rep):
        if run.base(s.get("file")) == base:
            rows[s.get("line")].append(s)
        elif (s.get("module") or "").startswith("libstdc++"):
            lib_rows.append(s)
    for line, m in sorted(marks.items()):
        got = rows.pop(line, [])
        gb, gc = sum(run.num(s, "bytes") for s in got), sum(run.num(s, "count") for s in got)
        if m["unwind"] and not got and pending_ok:
            # its path to the line runs through code without frame pointers
            inside = [s for s in lib_rows if (run.num(s, "bytes"), run.num(s, "count")) ==
                      (m["bytes"], m["count"])]
            if inside:
                lib_rows.remove(inside[0])
                run.info("%s: %s:%d pending CFI unwinding through %s: %d B in %s" % (
                    label, base, line, m["unwind"], m["bytes"], inside[0].get("function")))
                continue
        if (gb, gc) != (m["bytes"], m["count"]):
            errs.append("%s: %s:%d bytes/count %d/%d, want %d/%d" % (
                label, base, line, gb, gc, m["bytes"], m["count"]))
        for s in got:
            if s.get("runtime"):
                errs.append("%s: %s:%d marked runtime" % (label, base, line))
    for line, got in sorted(rows.items(), key=lambda kv: kv[0] or 0):
        gb = sum(run.num(s, "bytes") for s in got)
        if gb:
            errs.append("%s: unmarked %s:%s has %d B (%s)" % (label, base, line, gb,
                                                             got[0].get("function")))
    errs += ["%s: %s" % (label, e) for e in run.check_drops(rep)]
    ev = rep.get("events") or {}
    if ev.get("untracked_free") and label.endswith("--"):  # -p: blocks from before the attach
        errs.append("%s: untracked_free=%s, want 0" % (label, ev.get("untracked_free")))
    # the runtime's rows come after every row of the program
    seen_runtime = False
    for s in run.sites_of(rep):
        if s.get("runtime"):
            seen_runtime = True
        elif seen_runtime:
            errs.append("%s: program row %s:%s after a runtime row" % (
                label, run.base(s.get("file")), s.get("line")))
            break
    return errs


class WaitTarget(run.Target):
    """A target program with the --wait protocol (run.Target's, any program)."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(list(argv) + ["--wait"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True, env=env)
        run.CHILDREN.append(self.p)
        self.out = run.Lines(self.p.stdout, "target stdout")
        self.err = run.Lines(self.p.stderr, "target stderr")
        m = self.out.wait(run.regex(r"^ready (\d+)$"), 10)
        if not m:
            raise run.Fail("%s --wait did not print 'ready' (stderr: %s)" % (
                argv[0], self.err.text()[-300:]))
        self.pid = int(m.group(1))


def env_with(extra):
    env = dict(os.environ)
    env.update(extra or {})
    return env


def dashdash(prog, src, label, args=(), env=None, want_module=None, slow_ok=False):
    out = os.path.join(run.TMP, label + ".json")
    # the command's environment through env(1): memtrace itself runs without LD_PRELOAD
    cmd = ["env"] + ["%s=%s" % kv for kv in sorted((env or {}).items())] + [prog] if env \
        else [prog]
    r = run.run([run.MEMTRACE, "-v", "--format", "json", "--top", "0"] + list(args) +
                ["-o", out, "--"] + cmd)
    if r.timed_out or r.rc != 0:
        raise run.Fail("%s: %s" % (label, r.describe()))
    errs = check(run.final_report(run.read_reports(out)), src, label)
    return errs + plan_errors(r.err, label, want_module, slow_ok)


def attach(argv, label, args=(), env=None):
    """Run argv --wait, attach -p -v before its work: (final report, memtrace's stderr)."""
    t = WaitTarget(argv, env=env_with(env))
    out = os.path.join(run.TMP, label + ".json")
    mt = run.Memtrace(["-v", "--format", "json", "--top", "0", "--interval", "0.3"] +
                      list(args) + ["-o", out, "-p", str(t.pid)])
    try:
        mt.wait_attached(t.pid)
        t.start_work()
        t.finish()
        if mt.wait_exit(20) is None:
            mt.fail_context("memtrace did not exit after its target")
    finally:
        mt.stop()
    return run.final_report(run.read_reports(out), t.pid), mt.err.text()


def by_pid(prog, src, label, args=(), env=None, want_module=None, slow_ok=False):
    rep, err = attach([prog], label, args, env)
    return check(rep, src, label) + plan_errors(err, label, want_module, slow_ok)


def plan_errors(err, label, want_module, slow_ok=False):
    """The probes went into want_module; no entry of it is single-stepped."""
    errs, current = [], None
    for line in err.splitlines():
        m = re.match(r"^memtrace: probing (\S+)", line)
        if m:
            current = os.path.basename(m.group(1))
            continue
        if current and want_module and current.startswith(want_module) and \
                "single-stepped:" in line and not slow_ok:
            errs.append("%s: %s: single-stepped probe: %s" % (label, current, line.strip()))
    if want_module and not re.search(r"^memtrace: probing \S*/%s" % re.escape(want_module),
                                     err, re.M):
        errs.append("%s: no probes in %s (-v says: %s)" % (
            label, want_module, "; ".join(l for l in err.splitlines() if "probing" in l)))
    return errs


def t_cxx_dashdash(_m, _f):
    return dashdash(os.path.join(run.TARGETS, "leak_cxx"), CXX_SRC, "cxx--",
                    want_module="libstdc++")


def t_cxx_pid(_m, _f):
    return by_pid(os.path.join(run.TARGETS, "leak_cxx"), CXX_SRC, "cxx-p",
                  want_module="libstdc++")


def t_cxx_host(_m, _f):
    t = WaitTarget([os.path.join(run.TARGETS, "leak_cxx")])
    out = os.path.join(run.TMP, "cxx-host.json")
    mt = run.Memtrace(["-a", "--sample-rate", "0", "--interval", "0.5", "--top-processes", "0",
                       "--top", "0", "--format", "json", "-o", out])
    try:
        if not mt.err.wait(run.regex(r"^memtrace: whole host\b"), 60):
            mt.fail_context("no 'memtrace: whole host' line within 60 s")
        t.start_work()
        # two report rounds after its work (-a reports no more once it exited)
        reps = run.wait_reports(out, t.pid, 2, 10)
        t.finish()
        os.kill(mt.p.pid, signal.SIGINT)
        mt.wait_exit(10)
    finally:
        mt.stop()
    if not re.search(r"probing \S*libstdc\+\+\S* \(as seen by pid", mt.err.text()):
        return ["-a: libstdc++ not probed (%s)" % mt.err.text()[-300:]]
    if len(reps) < 2:
        return ["-a: %d reports of pid %d, want 2 after its work" % (len(reps), t.pid)]
    return check(reps[-1], CXX_SRC, "cxx-a", pending_ok=True)


def valgrind_lines(argv, src, skip_fn=None):
    """line -> definitely + indirectly lost bytes, at the innermost frame of src
    that skip_fn (a wrapper) does not take."""
    vg = shutil.which("valgrind")
    if not vg:
        run.need_tool("valgrind")
    xml = os.path.join(run.TMP, "vg-%s.xml" % os.path.basename(argv[0]))
    r = run.run([vg, "--leak-check=full", "--show-leak-kinds=definite,indirect", "--xml=yes",
                 "--xml-file=" + xml] + list(argv), timeout=120)
    if r.timed_out or r.rc != 0:
        raise run.Fail("valgrind run: %s" % r.describe())
    per_line, base = collections.Counter(), os.path.basename(src)
    for e in ET.parse(xml).getroot().iter("error"):
        if e.findtext("kind") not in ("Leak_DefinitelyLost", "Leak_IndirectlyLost"):
            continue
        # "56 (24 direct, 32 indirect) bytes": the indirect ones have records of their own
        xw = e.find("xwhat")
        direct = re.search(r"\((\d+) direct", xw.findtext("text") or "")
        lost = int(direct.group(1)) if direct else int(xw.findtext("leakedbytes"))
        for fr in e.find("stack").iter("frame"):
            if fr.findtext("file") == base and not (skip_fn and skip_fn(fr.findtext("fn"))):
                per_line[int(fr.findtext("line"))] += lost
                break
    return per_line


def compare_valgrind(vg, src, label):
    marks = markers(src)
    errs = []
    for line in sorted(set(vg) | set(marks)):
        want = marks.get(line, {}).get("bytes", 0)
        if vg.get(line, 0) != want:
            errs.append("%s: %s:%d valgrind %d B, marker %d B" % (
                label, os.path.basename(src), line, vg.get(line, 0), want))
    run.info("%s: valgrind agrees with the %d markers memtrace is held to" % (label, len(marks)))
    return errs


def t_cxx_valgrind(_m, _f):
    return compare_valgrind(valgrind_lines([os.path.join(run.TARGETS, "leak_cxx")], CXX_SRC),
                            CXX_SRC, "cxx-valgrind")


def t_wrap_alloc_fn(_m, _f):
    prog = os.path.join(run.TARGETS, "leak_wrap")
    errs = dashdash(prog, WRAP_SRC, "wrap--", ALLOC_FNS)
    errs += by_pid(prog, WRAP_SRC, "wrap-p", ALLOC_FNS)
    # without --alloc-fn: everything at xmalloc_raw's malloc line
    out = os.path.join(run.TMP, "wrap-plain.json")
    r = run.run([run.MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", prog])
    if r.timed_out or r.rc != 0:
        raise run.Fail("wrap plain: %s" % r.describe())
    ours = [s for s in run.sites_of(run.final_report(run.read_reports(out)))
            if run.base(s.get("file")) == "leak_wrap.c" and run.num(s, "bytes")]
    want = sum(m["bytes"] for m in markers(WRAP_SRC).values())
    if len(ours) != 1 or ours[0].get("function") != "xmalloc_raw" or \
            run.num(ours[0], "bytes") != want:
        errs.append("without --alloc-fn: want one row in xmalloc_raw with %d B, got %s" % (
            want, [(s.get("function"), s.get("line"), s.get("bytes")) for s in ours]))
    # -v: the whole stack, the wrappers' frames marked as skipped
    r = run.run([run.MEMTRACE, "-v", "--group-by", "stack"] + ALLOC_FNS + ["--", prog])
    skipped = re.findall(r"^  - at (\w+) ", r.out + r.err, re.M)
    for fn in ("xmalloc_raw", "xmalloc", "xcalloc", "xstrdup"):
        if fn not in skipped:
            errs.append("-v --group-by stack: no skipped frame '  - at %s' (%s)" % (fn, skipped))
    if not re.search(r"^    at level2 \(", r.out + r.err, re.M):
        errs.append("-v --group-by stack: no frame '    at level2' above the skipped ones")
    return errs


def t_wrap_valgrind(_m, _f):
    vg = valgrind_lines([os.path.join(run.TARGETS, "leak_wrap")], WRAP_SRC,
                        lambda fn: bool(fn and WRAPPERS.match(fn)))
    return compare_valgrind(vg, WRAP_SRC, "wrap-valgrind")


def allocator_cases(name, module, progs, env=None, slow_ok=False):
    def t(_m, _f):
        errs = []
        for prog, src, args in progs:
            label = "%s-%s" % (name, os.path.basename(prog))
            # jemalloc linked into the executable: the probes are in the executable
            mod = os.path.basename(prog) if prog.endswith("_jes") else module
            errs += dashdash(prog, src, label + "--", args, env, mod, slow_ok)
            errs += by_pid(prog, src, label + "-p", args, env, mod, slow_ok)
        return errs
    return t


def t_prefix(_m, _f):
    """--prefix je_: a library with jemalloc's API under prefixed names."""
    lib = os.path.join(run.TMP, "libprefixed.so")
    prog = os.path.join(run.TMP, "prefixed")
    src = os.path.join(PREFIX_DIR, "prefixed_main.c")
    for argv in (["gcc", "-O1", "-g", "-shared", "-fPIC", "-o", lib,
                  os.path.join(PREFIX_DIR, "prefixed_je.c")],
                 ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", prog, src, lib,
                  "-Wl,-rpath," + run.TMP]):
        r = run.run(argv)
        if r.rc != 0:
            raise run.Fail("building the stand-in: %s" % r.describe())
    errs = dashdash(prog, src, "prefix--", ["--prefix", "je_"], want_module="libprefixed",
                    slow_ok=True)
    out = os.path.join(run.TMP, "noprefix.json")
    r = run.run([run.MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", prog])
    rows = [s for s in run.sites_of(run.final_report(run.read_reports(out)))
            if run.base(s.get("file")) == "prefixed_je.c" and run.num(s, "bytes")]
    if sum(run.num(s, "bytes") for s in rows) != 333:
        errs.append("without --prefix: want the 333 B at the stand-in's malloc lines, got %s" %
                    [(s.get("line"), s.get("bytes")) for s in rows])
    return errs


GLIB = "/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0"


def t_glib(_m, _f):
    """GLib's g_malloc family: the line that called GLib."""
    if not os.path.exists(GLIB):
        raise run.Fail("%s missing: tests/install-deps.sh installs it" % GLIB)
    src = os.path.join(PREFIX_DIR, "glib_leak.c")
    prog = os.path.join(run.TMP, "glib_leak")
    r = run.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", prog, src, GLIB])
    if r.rc != 0:
        raise run.Fail("building glib_leak: %s" % r.describe())
    return dashdash(prog, src, "glib--", want_module="libglib-2.0")


def t_unprobed(_m, _f):
    """An allocator mapped but not bound (dlopen): a warning names it."""
    py = subprocess.Popen(["/usr/bin/python3", "-c",
                           "import ctypes, sys; ctypes.CDLL('libtcmalloc_minimal.so.4'); "
                           "print('ready', flush=True); sys.stdin.read()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True)
    run.CHILDREN.append(py)
    out = run.Lines(py.stdout, "python stdout")
    if not out.wait(run.regex(r"^ready$"), 20):
        raise run.Fail("python3 with libtcmalloc_minimal did not start: %s" % py.stderr.read())
    r = run.run([run.MEMTRACE, "--count", "1", "--interval", "0.2", "-p", str(py.pid)])
    py.stdin.close()
    run.reap(py, 10)
    want = r"warning: pid %d maps libtcmalloc_minimal\S*, an allocator memtrace does not " \
           r"probe \(malloc binds to libc\.so\.6\)" % py.pid
    return [] if re.search(want, r.err) else ["no warning naming libtcmalloc_minimal: %s" %
                                              r.describe()]


HOT = re.compile(r"^memtrace:\s+(malloc|calloc|realloc|free|posix_memalign|aligned_alloc|"
                 r"memalign|mallocx|rallocx|sdallocx|dallocx|_Zn\w+|_Zd\w+|tc_\w+)\s.*"
                 r"single-stepped:", re.M)


def t_sid(_m, _f):
    """Debian sid's glibc 2.43, jemalloc, tcmalloc: exact, no hot entry single-stepped."""
    r = run.run([os.path.join(run.ROOT, "tests", "sid-chroot.sh")], timeout=1800)
    if r.rc != 0:
        raise run.Fail("tests/sid-chroot.sh: %s" % r.describe())
    root = r.out.strip().splitlines()[-1]
    work = os.path.join(root, "tmp", "memtrace-alloc")
    os.makedirs(work, exist_ok=True)
    shutil.copy(os.path.join(run.ROOT, "tests", "targets", "waiting.h"), work)
    with open(CXX_SRC) as f:
        src = f.read().replace('#include "../waiting.h"', '#include "waiting.h"')
    with open(os.path.join(work, "leak_cxx.cc"), "w") as f:
        f.write(src)
    for out, extra in (("leak_cxx", ""), ("leak_cxx_je", " -ljemalloc")):
        r = run.run(["chroot", root, "sh", "-c", "cd /tmp/memtrace-alloc && g++ -std=gnu++17 "
                     "-O2 -g -fno-omit-frame-pointer -o %s leak_cxx.cc%s" % (out, extra)],
                    timeout=300)
        if r.rc != 0:
            raise run.Fail("g++ in the sid chroot: %s" % r.describe())
    errs = []
    for label, prog, env in (
            ("sid-glibc", "leak_cxx", None), ("sid-jemalloc", "leak_cxx_je", None),
            ("sid-tcmalloc", "leak_cxx",
             {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"})):
        rep, err = attach(["chroot", root, "/tmp/memtrace-alloc/" + prog], label, env=env)
        errs += check(rep, CXX_SRC, label + "-p")
        errs += ["%s: hot entry single-stepped: %s" % (label, m.group(0).strip())
                 for m in HOT.finditer(err)]
        run.info("%s: probed %s" % (label, "; ".join(
            os.path.basename(l.split()[2]) for l in err.splitlines() if " probing " in l)))
    return errs


def main():
    je = [(os.path.join(run.TARGETS, "leak_cxx_je"), CXX_SRC, ()),
          (os.path.join(run.TARGETS, "leak_wrap_je"), WRAP_SRC, ALLOC_FNS),
          (os.path.join(run.TARGETS, "leak_wrap_jes"), WRAP_SRC, ALLOC_FNS),
          (os.path.join(run.TARGETS, "leak_jex"), JEX_SRC, ())]
    tc = [(os.path.join(run.TARGETS, "leak_cxx"), CXX_SRC, ()),
          (os.path.join(run.TARGETS, "leak_wrap"), WRAP_SRC, ALLOC_FNS)]
    mi = list(tc)
    if not os.path.exists(TCMALLOC):
        tc = []  # tests/install-deps.sh installs it; its absence fails below
    if not os.path.exists(MIMALLOC):
        mi = []
    cases = [("cxx-dashdash", t_cxx_dashdash), ("cxx-pid", t_cxx_pid),
             ("cxx-valgrind", t_cxx_valgrind), ("cxx-host", t_cxx_host), ("wrap-alloc-fn", t_wrap_alloc_fn),
             ("wrap-valgrind", t_wrap_valgrind),
             ("jemalloc", allocator_cases("jemalloc", "libjemalloc", je)),
             ("tcmalloc", allocator_cases("tcmalloc", "libtcmalloc", tc,
                                          {"LD_PRELOAD": TCMALLOC}) if tc else
              lambda _m, _f: ["%s missing: tests/install-deps.sh installs it" % TCMALLOC]),
             ("mimalloc", allocator_cases("mimalloc", "libmimalloc", mi,
                                          {"LD_PRELOAD": MIMALLOC}, slow_ok=True) if mi else
              lambda _m, _f: ["%s missing: tests/install-deps.sh installs it" % MIMALLOC]),
             ("prefix", t_prefix), ("glib", t_glib), ("unprobed-warning", t_unprobed), ("sid", t_sid)]
    return run.run_cases("alloc", cases)


if __name__ == "__main__":
    sys.exit(main())
