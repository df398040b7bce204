#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""End-to-end tests of memtrace on CPython processes (root, real BPF).

Expects `make memtrace` to have run. Each check prints `ok NAME` or
`FAIL NAME: reason`; the last line is `python-e2e: N passed, M failed` and
the exit status is non-zero on any failure. Names are CASE:PYTHON.

Ground truth is the targets in tests/targets/py/: every leaking line carries
a marker `# @leak bytes=B [exact=E] [count=C] ...` (grammar in leaks.py)
giving what must still be live at that line; the cases compare memtrace's
per-line reports with them (within 2% of the payload, exactly where libc's
view is knowable).

Cases, for every Python below unless said otherwise:
  leaks          memtrace -- PY leaks.py: every marked line (functions, a
                 method, a generator, a coroutine, a lambda, deep recursion,
                 ctypes calls into libc, two threads at one line, a thread
                 allocating with the GIL released while the main thread
                 spins holding it, sqlite3, churn lines: one freed entirely,
                 one keeping its last block, where the allocated volume is
                 checked) within 2%, exact where knowable, with the right
                 function; unmarked lines hold under 64 KiB
  module-level   the same report: a leak in the script's module body
  tracemalloc    PY -X tracemalloc=1 leaks.py (untraced): tracemalloc's
                 per-line sizes vs memtrace's, side by side
  pid-service    memtrace -p on service.py: the leak line in an interval
                 report after the leak and in the final one, taken at
                 Py_FinalizeEx, then a clean exit
  pidns          leaks.py --wait as pid 1 of a new PID namespace,
                 memtrace -p HOSTPID: every marked line
  pymalloc-off   memtrace --pymalloc off -- PY small.py: 100000 small tuples
                 visible at their line
  python-allocators  --python-allocators: pyenv 3.12 sees the small tuples
                 (rows of kind pyobj);
                 Debian's LTO 3.11 gets the warning and a normal run
  unsupported    pyenv 3.9: one warning, native lines, exit 0
  kinds          kinds.py, memtrace -- PY and -X tracemalloc=1 (untraced),
                 default mode: its "big" line (bytes objects) is one heap
                 row exactly the truth and exactly tracemalloc's; its
                 "small" line (short strings) has a heap row of exactly its
                 list's item array and an arena row of exactly as many
                 1 MiB arenas as pymalloc says it mapped then
                 (sys._debugmallocstats), never merged into the line; the
                 report's "kinds" add up to its total; on 3.11+ the frame
                 data stack is a runtime row (whole pages, 16 KiB or
                 more). --pymalloc off: both
                 lines exactly tracemalloc's (the small one up to one list
                 object taken from the list free list, which tracemalloc
                 charges to the line that took it), no arena rows (on 3.12
                 and sid's 3.15: under probes it is slow)
  imports        memtrace -- PY imports.py (pyenv 3.12, Debian's 3.11, sid's
                 3.15): the string a module keeps, created while Python
                 loads it inside the import machinery's frames, is at the
                 script's `import` line, not at <frozen importlib...>
  filters        pyenv 3.12: --include '*/leaks.py' keeps only leaks.py's rows,
                 every marked line as in leaks, totals of those rows alone;
                 --exclude '*/leaks.py' --exclude '<frozen *>' keeps every
                 other row and none of those files
  sid-leaks      Debian sid's 3.13, 3.14 and 3.15 (static LTO builds, glibc
                 2.43) in a chroot (tests/sid-chroot.sh builds it once):
                 memtrace -- chroot ROOT python3.X leaks.py, every marked
                 line (function and module level) as in leaks
  sid-pid        the same Pythons: leaks.py --wait in the chroot, memtrace -p
                 through /proc/PID/root as for a container: every marked
                 line in an interval report and in the final one (taken at
                 Py_FinalizeEx)
  objects        every Python above and sid's: objects.py builds known
                 populations (12345 Foo, 3456 Slotted, 2345 dicts, lists,
                 1111 Frozen in the permanent generation) and prints its
                 gc.get_objects() census; memtrace -p --py-objects=stop
                 must report the same count for those types and the same
                 total, with no failed link and a stated pause
  objects-racy   pyenv 3.12 and sid's 3.14: objects.py --churn (a thread
                 builds and drops dicts all the time), plain --py-objects:
                 three walks end, one at least sees Foo, Slotted and
                 Frozen whole, each walk under 2 s; objects.py's untracked
                 str, bytes, int and float (one level down from the
                 containers) equal its in-process count and bytes
  many           pyenv 3.12: many.py holds 5 M objects at one line under
                 memtrace --pymalloc off --: the live-allocation table
                 (sized at start, said once) holds them all: exact, no
                 drops (~50 s here, the suite's last case)

Pythons: pyenv 3.10, 3.11, 3.12, 3.13 (shared libpython; $PYENV_ROOT or
~/.pyenv) and /usr/bin/python3.11 (Debian: static, LTO, stripped); 3.9 for
the unsupported case. A missing one is skipped, loudly; under CI=true it is
a FAIL.

Environment:
  CI=true               a missing Python, tool or capability is a FAIL
  MEMTRACE_ALLOW_SKIP=1 outside CI, not being root skips everything (loudly)
  MEMTRACE=path         binary to test (default ./memtrace)
  E2E_ONLY=a,b          run only the checks whose name starts with a or b
                        (e.g. leaks, pidns:3.12)
  E2E_VERBOSE=1         print the commands and every table; keep the outputs
  E2E_BUDGET=SEC        time budget of the whole suite (default 480)

Only the Python standard library is used.
"""

import ast
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.path.abspath(os.environ.get("MEMTRACE", os.path.join(ROOT, "memtrace")))
PYDIR = os.path.join(ROOT, "tests", "targets", "py")
LEAKS = os.path.join(PYDIR, "leaks.py")
SMALL = os.path.join(PYDIR, "small.py")
MANY = os.path.join(PYDIR, "many.py")
SERVICE = os.path.join(PYDIR, "service.py")
KINDS = os.path.join(PYDIR, "kinds.py")
IMPORTS = os.path.join(PYDIR, "imports.py")
OBJECTS = os.path.join(PYDIR, "objects.py")
PYENV = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")

# (label, path); the label names the checks
PYTHONS = [
    ("3.10", os.path.join(PYENV, "versions", "3.10.13", "bin", "python3")),
    ("3.11", os.path.join(PYENV, "versions", "3.11.7", "bin", "python3")),
    ("3.12", os.path.join(PYENV, "versions", "3.12.1", "bin", "python3")),
    ("3.13", os.path.join(PYENV, "versions", "3.13.0", "bin", "python3")),
    ("deb3.11", "/usr/bin/python3.11"),
]
UNSUPPORTED = ("3.9", os.path.join(PYENV, "versions", "3.9.18", "bin", "python3"))
# Debian sid's interpreters, run in the chroot tests/sid-chroot.sh builds
SID = [("sid3.13", "python3.13"), ("sid3.14", "python3.14"), ("sid3.15", "python3.15")]
SID_SCRIPT = os.path.join(ROOT, "tests", "sid-chroot.sh")

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VERBOSE = os.environ.get("E2E_VERBOSE", "") not in ("", "0")
ONLY = [s for s in os.environ.get("E2E_ONLY", "").split(",") if s]

RUN_TIMEOUT = 60.0  # hard limit for one memtrace run
BUDGET = float(os.environ.get("E2E_BUDGET", "480"))
TOLERANCE = 0.02  # per-line bytes vs the payload truth
ZERO_SLACK = 16384  # bytes=0 lines: pymalloc noise allowed (an arena is 1 MiB)
UNMARKED_MAX = 65536  # an unmarked line of leaks.py holding more is misattribution
SMALL_MIN = 100000  # small.py: tuples that must be seen at their line

T0 = time.monotonic()
TMP = tempfile.mkdtemp(prefix="memtrace-pye2e-")

# the process, report and check helpers are run.py's (one copy for every runner)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402
from run import (Fail, Run, base, brief, check_drops, cleanup, elapsed, for_pid,  # noqa: E402
                 kill_group, log, num, read_reports, reap, regex, sites_of, spawn, vlog,
                 wait_reports, wait_settled_report)
RESULTS = []  # (name, ok, reason)
SKIPS = []  # (name, reason)


class Skip(Exception):
    """A check that cannot run here; under CI=true a missing Python/tool is a Fail instead."""


def info(msg):
    print("# " + msg.replace("\n", "\n# "), flush=True)


# ---------------------------------------------------------------------------
# processes (the conventions of run.py)


def run(argv, timeout=RUN_TIMEOUT, env=None):
    timeout = max(5.0, min(timeout, BUDGET - elapsed()))
    t = time.monotonic()
    p = spawn(argv, env=env)
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(p)
        out, err = p.communicate()
    r = Run(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
            time.monotonic() - t, timed_out)
    vlog("$ %s -> %s (%.1f s)" % (" ".join(argv), r.rc, r.secs))
    return r


class Lines:
    """Collects the lines of a pipe in a thread; wait() for one to appear."""

    def __init__(self, f):
        self.f = f
        self.lines = []
        self.eof = False
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        for raw in iter(self.f.readline, b""):
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def wait(self, pred, timeout):
        """First line matching pred, or None on timeout/EOF."""
        end = time.monotonic() + timeout
        with self.cv:
            i = 0
            while True:
                while i < len(self.lines):
                    m = pred(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = end - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self.cv.wait(left)

    def text(self):
        with self.cv:
            return "\n".join(self.lines)


class Waiting:
    """A target that prints 'ready <pid>', leaks on SIGUSR1 ('done'), exits on SIGUSR2.

    pid is the process memtrace traces and signals go to: the Python itself,
    or (pidns) found under the unshare process that started it.
    """

    def __init__(self, argv, what, find_pid=None):
        self.what = what
        self.p = spawn(argv)
        self.out = Lines(self.p.stdout)
        self.err = Lines(self.p.stderr)
        m = self.out.wait(regex(r"^ready (\d+)$"), 15)
        if not m:
            raise Fail("%s did not print 'ready' within 15 s (%s; stderr: %s)" % (
                what, "exited %s" % self.p.poll() if self.p.poll() is not None else "running",
                " | ".join(self.err.text().strip().splitlines()[-3:]) or "empty"))
        self.said_pid = int(m.group(1))
        self.pid = find_pid(self) if find_pid else self.said_pid
        if not find_pid and self.pid != self.p.pid:
            raise Fail("%s printed pid %d, Popen says %d" % (what, self.pid, self.p.pid))

    def start_work(self, timeout=30):
        os.kill(self.pid, signal.SIGUSR1)
        if not self.out.wait(regex(r"^done$"), timeout):
            raise Fail("%s did not print 'done' within %d s after SIGUSR1 (stderr: %s)" % (
                self.what, timeout, " | ".join(self.err.text().strip().splitlines()[-3:])))

    def finish(self):
        os.kill(self.pid, signal.SIGUSR2)
        rc = reap(self.p, 10)
        if rc != 0:
            raise Fail("%s exited %s after SIGUSR2 (stderr: %s)" % (
                self.what, rc, " | ".join(self.err.text().strip().splitlines()[-3:])))


class Memtrace:
    """A memtrace process running in the background."""

    def __init__(self, args):
        self.argv = [MEMTRACE] + list(args)
        vlog("$ " + " ".join(self.argv) + " &")
        self.p = spawn(self.argv)
        self.out = Lines(self.p.stdout)
        self.err = Lines(self.p.stderr)

    def wait_attached(self, pid, timeout=30):
        m = self.err.wait(regex(r"^memtrace: attached to pid %d\b" % pid), timeout)
        if not m:
            self.fail_context("no 'memtrace: attached to pid %d' line within %d s" % (pid, timeout))

    def fail_context(self, msg):
        rc = self.p.poll()
        state = "still running" if rc is None else "exited %s" % rc
        err = self.err.text().strip().splitlines()[-3:]
        raise Fail("%s (memtrace %s; stderr: %s)" % (msg, state, " | ".join(err) or "empty"))

    def wait_exit(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.p.poll() is None:
            kill_group(self.p)
            reap(self.p)


# ---------------------------------------------------------------------------
# reports


def final_report(reps):
    if not reps:
        raise Fail("no JSON report")
    last = reps[-1]
    if last.get("final") is not True:
        raise Fail("last report (seq %s) is not final: %s" % (last.get("seq"), brief(last)))
    return last


def unresolved(rep):
    """(bytes, count) of rows without a file: Python frames memtrace could not name."""
    rows = [s for s in sites_of(rep) if not s.get("file")]
    return sum(num(s, "bytes") for s in rows), sum(num(s, "count") for s in rows)


# ---------------------------------------------------------------------------
# ground truth: the markers in the targets

Marker = collections.namedtuple(
    "Marker", "line bytes exact count alloc native py310 bytearray scope func text")

MARK = re.compile(r"#.*?@leak\s+(.*?)\s*$")


def qualnames(src):
    """line -> (qualname, co_name) of the innermost def/lambda; module lines '<module>'."""
    tree = ast.parse(src)
    spans = []  # (first, last, qualname, name)

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                name = "<lambda>" if isinstance(child, ast.Lambda) else child.name
                q = prefix + name
                first = min([child.lineno] + [d.lineno for d in
                                              getattr(child, "decorator_list", [])])
                spans.append((first, child.end_lineno, q, name))
                visit(child, q + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    out = {}
    # outer spans first, inner ones overwrite
    for first, last, q, name in sorted(spans, key=lambda s: (s[0], -s[1])):
        for ln in range(first, last + 1):
            out[ln] = (q, name)
    return out


def parse_markers(path):
    with open(path) as f:
        src = f.read()
    names = qualnames(src)
    markers, noise, small = {}, set(), None
    for i, text in enumerate(src.split("\n"), 1):
        code = text.split("#", 1)[0].strip()
        if not code:  # comments and docstring lines are grammar, not markers
            continue
        if re.search(r"#.*@noise\b", text):
            noise.add(i)
        if re.search(r"#.*@small\b", text):
            small = i
        m = MARK.search(text)
        if not m:
            continue
        attrs = {}
        for tok in m.group(1).split():
            k, _, v = tok.partition("=")
            attrs[k] = v
        try:
            mk = Marker(i, int(attrs["bytes"]),
                        int(attrs["exact"]) if "exact" in attrs else None,
                        int(attrs["count"]) if "count" in attrs else None,
                        int(attrs["alloc"]) if "alloc" in attrs else None,
                        "native" in attrs,
                        int(attrs["py310"]) if "py310" in attrs else None,
                        "bytearray" in attrs, attrs.get("scope", "function"),
                        names.get(i, ("<module>", "<module>")), text.strip())
        except (KeyError, ValueError):
            raise Fail("bad marker at %s:%d: %s" % (base(path), i, text.strip()))
        markers[i] = mk
    return markers, noise, small, names


def want_bytes(mk, ver):
    return mk.py310 if (mk.py310 is not None and ver[:2] == (3, 10)) else mk.bytes


def want_exact(mk, ver):
    """libc's view of the line: from 3.15 on a bytearray's buffer is a bytes object (+32 B)."""
    if mk.exact is None or not mk.bytearray or ver[:2] < (3, 15):
        return mk.exact
    return mk.exact + 32 * (mk.count or 1)


def want_func(mk, ver):
    q, name = mk.func
    return name if ver[:2] < (3, 11) else q  # co_qualname from 3.11 on


# what a line's objects are; pymalloc arenas and the runtime's mappings are rows of their own
OBJECT_KINDS = ("heap", "mmap", "pyobj")


def rows_by_line(rep, path, kinds=OBJECT_KINDS):
    rows = collections.defaultdict(list)
    for s in sites_of(rep):
        if s.get("file") == path and s.get("kind", "heap") in kinds:
            rows[s.get("line")].append(s)
    return rows


def check_marker(rows, mk, ver, path):
    """Errors of one marked line in one report; and the (bytes, count) found."""
    errs = []
    got = rows.get(mk.line, [])
    gb = sum(num(s, "bytes") for s in got)
    gc = sum(num(s, "count") for s in got)
    ga = sum(num(s, "alloc_bytes") for s in got)
    where = "%s:%d (%s)" % (base(path), mk.line, want_func(mk, ver))
    if len(got) > 1:
        errs.append("%s has %d rows in line mode" % (where, len(got)))
    b = want_bytes(mk, ver)
    exact = want_exact(mk, ver)
    if mk.alloc is not None:
        # a churn line: what it allocated was seen, and under 1% of it is live
        if abs(ga - mk.alloc) > TOLERANCE * mk.alloc:
            errs.append("%s: churn line shows %d bytes allocated, want %d +-%d%%" % (
                where, ga, mk.alloc, TOLERANCE * 100))
        if gb >= mk.alloc / 100.0:
            errs.append("%s: churn line has %d of %d allocated bytes live (%.1f%%), want < 1%%"
                        % (where, gb, ga, 100.0 * gb / max(ga, 1)))
    if b == 0:
        if gb > ZERO_SLACK:
            errs.append("%s: %d bytes live in %d blocks, want ~0 (at most %d)" % (
                where, gb, gc, ZERO_SLACK))
    else:
        if abs(gb - b) > TOLERANCE * b:
            errs.append("%s: %d bytes in %d blocks, want %d +-%d%%%s" % (
                where, gb, gc, b, TOLERANCE * 100,
                " (exactly %d)" % exact if exact is not None else ""))
        elif exact is not None and b == mk.bytes and gb != exact:
            errs.append("%s: %d bytes, want exactly %d (libc's view; within 2%% of %d)" % (
                where, gb, exact, b))
        if mk.count is not None and gc != mk.count:
            errs.append("%s: count %d, want %d" % (where, gc, mk.count))
    fn = want_func(mk, ver)
    for s in got:
        if num(s, "bytes") and s.get("function") != fn:
            errs.append("%s: function %r, want %r" % (where, s.get("function"), fn))
    return errs, gb, gc


def gil_overlap_errs(stdout):
    """leaks.py says how often its main thread ran (holding the GIL) during the GIL-free step."""
    m = re.search(r"^main held the GIL (\d+) times during sqlite3_step$", stdout, re.M)
    if not m:
        return ["leaks.py did not print 'main held the GIL N times during sqlite3_step'"]
    if int(m.group(1)) == 0:
        return ["the main thread never ran during the worker's sqlite3_step: the GIL-free "
                "allocation was not tested against another GIL holder"]
    return []


def check_leaks(rep, markers, noise, ver, path, scopes=("function",)):
    """Every marker of the given scopes; unmarked lines of the target hold little."""
    errs = []
    rows = rows_by_line(rep, path)
    table = []
    for mk in sorted(markers.values(), key=lambda m: m.line):
        if mk.scope not in scopes:
            continue
        e, gb, gc = check_marker(rows, mk, ver, path)
        errs += e
        table.append((mk, gb, gc))
    for line, got in sorted(rows.items(), key=lambda kv: kv[0] or 0):
        if line in markers or line in noise:
            continue
        gb = sum(num(s, "bytes") for s in got)
        if gb > UNMARKED_MAX:
            errs.append("unmarked line %s:%s (%s) holds %d bytes in %d blocks: misattributed?" % (
                base(path), line, got[0].get("function"), gb, sum(num(s, "count") for s in got)))
    return errs, table


# ---------------------------------------------------------------------------
# checks and results

def result(name, errs_or_reason):
    if isinstance(errs_or_reason, str):
        errs = [errs_or_reason]
    else:
        errs = list(errs_or_reason)
    if errs:
        reason = errs[0] if len(errs) == 1 else "%d problems:\n    - %s" % (
            len(errs), "\n    - ".join(errs[:25]))
        log("FAIL %s: %s" % (name, reason))
        RESULTS.append((name, False, reason))
    else:
        log("ok %s" % name)
        RESULTS.append((name, True, ""))


def selected(name):
    return not ONLY or any(name.startswith(o) for o in ONLY)


def check(name, fn, *args):
    """Run one check: fn returns a list of errors (or raises Fail/Skip)."""
    if not selected(name):
        return
    try:
        if elapsed() > BUDGET:
            raise Fail("suite time budget (%.0f s) spent before this check" % BUDGET)
        result(name, fn(*args))
    except Skip as e:
        log("SKIPPED %s: %s" % (name, e))
        SKIPS.append((name, str(e)))
    except Fail as e:
        result(name, str(e))
    except KeyboardInterrupt:
        result(name, "interrupted")
        raise
    except Exception as e:  # a bug in the runner or a malformed report
        import traceback
        vlog(traceback.format_exc())
        result(name, "%s: %s" % (type(e).__name__, e))
    finally:
        cleanup()


def missing(what):
    if CI:
        raise Fail("%s (CI=true: a missing Python or tool is a failure)" % what)
    raise Skip("%s (this is a FAIL under CI=true)" % what)


PY_VERSIONS = {}  # path -> version tuple, or an error string


def py_version(path, argv=None):
    """The interpreter's version_info[:3]; Skip/Fail when it is not there.

    path is the interpreter's file on this host, argv (default [path]) the
    command that runs it (a chroot for sid's)."""
    if path not in PY_VERSIONS:
        if not os.access(path, os.X_OK):
            PY_VERSIONS[path] = "%s not found" % path
        else:
            r = run((argv or [path]) + ["-c",
                                        "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                    timeout=20)
            if r.rc != 0 or not re.match(r"^\d+\.\d+\.\d+$", r.out.strip()):
                PY_VERSIONS[path] = "%s does not run: %s" % (path, r.describe())
            else:
                PY_VERSIONS[path] = tuple(int(x) for x in r.out.strip().split("."))
    v = PY_VERSIONS[path]
    if isinstance(v, str):
        missing(v)
    return v


STATE = {}  # label -> memtrace's final report of leaks.py


def memtrace_leaks(label, py):
    """memtrace -- PY leaks.py once per Python (shared by leaks, module-level, tracemalloc)."""
    if label in STATE:
        if isinstance(STATE[label], Fail):
            raise Fail("(the leaks run) %s" % STATE[label])
        return STATE[label]
    out = os.path.join(TMP, "leaks-%s.json" % label)
    r = run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", py, LEAKS])
    try:
        if r.timed_out or r.rc != 0:
            raise Fail("memtrace -- %s leaks.py: %s (want exit 0)" % (py, r.describe()))
        if "reporting Python lines" not in r.err:
            raise Fail("memtrace did not say 'reporting Python lines' (stderr: %s)" %
                       " | ".join(r.err.strip().splitlines()[-3:]))
        rep = final_report(read_reports(out))
    except Fail as e:
        STATE[label] = e
        raise
    STATE[label] = (rep, r)
    return STATE[label]


def fmt_table(rows, head, left=(0,)):
    """Columns right-aligned but those in left (indexes; -1 = the last)."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    left = {i % len(widths) for i in left}

    def line(r):
        return "  ".join(str(x).ljust(w) if i in left else str(x).rjust(w)
                         for i, (x, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(head)] + [line(r) for r in rows])


# ---- leaks, module-level, tracemalloc -----------------------------------------

def t_leaks(label, py, M):
    ver = py_version(py)
    rep, r = memtrace_leaks(label, py)
    markers, noise = M["leaks"][0], M["leaks"][1]
    errs, table = check_leaks(rep, markers, noise, ver, LEAKS)
    errs += check_drops(rep) + gil_overlap_errs(r.out)
    m = re.search(r"runs CPython (\d+\.\d+\.\d+)", r.err)
    if not m or m.group(1) != "%d.%d.%d" % ver:
        errs.append("memtrace detected CPython %s, the interpreter is %d.%d.%d" % (
            m.group(1) if m else "nothing", ver[0], ver[1], ver[2]))
    if errs or VERBOSE:
        info("leaks:%s (Python %s), memtrace per line:\n%s" % (
            label, ".".join(map(str, ver)), fmt_table(
            [(mk.line, want_func(mk, ver), want_bytes(mk, ver),
              "-" if mk.exact is None else want_exact(mk, ver), gb, gc)
             for mk, gb, gc in table],
            ("line", "function", "truth", "exact", "memtrace", "count"), left=(0, 1))))
        ub, uc = unresolved(rep)
        info("rows without a file (unresolved frames): %d bytes in %d blocks" % (ub, uc))
    return errs


def t_module_level(label, py, M):
    ver = py_version(py)
    rep, _ = memtrace_leaks(label, py)
    markers, noise = M["leaks"][0], M["leaks"][1]
    errs, _ = check_leaks(rep, markers, noise, ver, LEAKS, scopes=("module",))
    if errs:
        ub, uc = unresolved(rep)
        mk = [m for m in markers.values() if m.scope == "module"][0]
        errs.append("rows without a file hold %d bytes in %d blocks%s" % (
            ub, uc, " (the module-level leak of %d bytes is among them: the script's code "
            "object was freed before the final report and its line could not be read)"
            % mk.exact if mk.exact and ub >= mk.exact else ""))
    return errs


def t_tracemalloc(label, py, M):
    ver = py_version(py)
    markers = M["leaks"][0]
    tm_out = os.path.join(TMP, "tracemalloc-%s.json" % label)
    env = dict(os.environ, MEMTRACE_PY_TRACEMALLOC=tm_out)
    r = run([py, "-X", "tracemalloc=1", LEAKS], env=env)
    if r.timed_out or r.rc != 0:
        raise Fail("%s -X tracemalloc=1 leaks.py: %s" % (py, r.describe()))
    try:
        with open(tm_out) as f:
            tm = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("no tracemalloc dump: %s" % e)
    rep, _ = memtrace_leaks(label, py)
    rows = rows_by_line(rep, LEAKS)
    errs, table, skipped = [], [], []
    for mk in sorted(markers.values(), key=lambda m: m.line):
        mt = sum(num(s, "bytes") for s in rows.get(mk.line, []))
        t = tm.get("%s:%d" % (LEAKS, mk.line), 0)
        truth = want_bytes(mk, ver)
        if mk.native or mk.scope == "module" or truth == 0:
            why = ("native: tracemalloc cannot see it" if mk.native else
                   "module level: see module-level" if mk.scope == "module" else "freed")
            table.append((mk.line, want_func(mk, ver), truth, mt, t, "-", why))
            skipped.append(mk.line)
            continue
        d = (mt - t) / float(max(t, 1))
        table.append((mk.line, want_func(mk, ver), truth, mt, t, "%+.2f%%" % (100 * d), ""))
        if abs(mt - t) > TOLERANCE * max(mt, t):
            errs.append("%s:%d (%s): memtrace %d B, tracemalloc %d B (%+.2f%%)" % (
                base(LEAKS), mk.line, want_func(mk, ver), mt, t, 100 * d))
        if abs(t - truth) > TOLERANCE * truth:
            errs.append("%s:%d: tracemalloc %d B is not within 2%% of the marker %d B "
                        "(target bug?)" % (base(LEAKS), mk.line, t, truth))
    compared = len(table) - len(skipped)
    if compared < 8:
        errs.append("only %d lines compared" % compared)
    if errs or VERBOSE or label == "3.12":
        info("tracemalloc:%s (Python %s): per-line bytes, memtrace (libc's view: a "
             "bytearray's 56-byte object stays in pymalloc) vs tracemalloc (objects incl. "
             "headers)\n%s" % (label, ".".join(map(str, ver)), fmt_table(
                 table, ("line", "function", "truth", "memtrace", "tracemalloc", "diff", ""),
                 left=(0, 1, -1))))
    else:
        info("tracemalloc:%s: %d lines within 2%% of memtrace (table: E2E_VERBOSE=1)" % (
            label, compared))
    return errs


# ---- kinds: arenas apart, lines as tracemalloc has them ---------------------------------

ARENA = 1 << 20


def kinds_run(label, argv, script, outdir, inner, mode):
    """memtrace [--pymalloc off] -- argv script, and argv -X tracemalloc=1 script.

    outdir: where the target's files are on this host, inner: the same seen by the
    target. Returns (report, truth, tracemalloc's per-line sizes)."""
    off = mode == "off"
    env = dict(os.environ, MEMTRACE_PY_TRUTH=os.path.join(inner, "truth-%s.json" % mode))
    out = os.path.join(TMP, "kinds-%s-%s.json" % (label, mode))
    r = run([MEMTRACE] + (["--pymalloc", "off"] if off else []) +
            ["--format", "json", "--top", "0", "-o", out, "--"] + argv + [script], env=env)
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace %s-- %s kinds.py: %s" % ("--pymalloc off " if off else "",
                                                       " ".join(argv), r.describe()))
    rep = final_report(read_reports(out))
    tm_env = dict(os.environ, MEMTRACE_PY_TRACEMALLOC=os.path.join(inner, "tm-%s.json" % mode))
    if off:
        tm_env["PYTHONMALLOC"] = "malloc"
    r = run(argv + ["-X", "tracemalloc=1", script], env=tm_env)
    if r.timed_out or r.rc != 0:
        raise Fail("%s -X tracemalloc=1 kinds.py: %s" % (" ".join(argv), r.describe()))
    try:
        with open(os.path.join(outdir, "truth-%s.json" % mode)) as f:
            truth = json.load(f)
        with open(os.path.join(outdir, "tm-%s.json" % mode)) as f:
            tm = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("kinds.py wrote no truth or tracemalloc dump: %s" % e)
    return rep, truth, tm


def kinds_errs(rep, truth, tm, script, mode, ver):
    errs = []
    lines = truth["lines"]
    obj = rows_by_line(rep, script)
    arenas = rows_by_line(rep, script, ("arena",))
    kinds = rep.get("kinds") or {}
    if sum(num(v, "bytes") for v in kinds.values()) != num(rep, "total_bytes"):
        errs.append("the kinds' bytes %s do not add up to total_bytes %d" % (
            {k: num(v, "bytes") for k, v in kinds.items()}, num(rep, "total_bytes")))
    arena_rows = [s for s in sites_of(rep) if s.get("kind") == "arena"]
    if sum(num(s, "bytes") for s in arena_rows) > num(kinds.get("arena", {}), "bytes"):
        errs.append("arena rows hold more than the report's arena total")
    # 3.11+ keep frames in data-stack chunks the interpreter maps itself (16 KiB or more)
    runtime = [s for s in sites_of(rep) if s.get("kind") == "runtime"]
    if ver[:2] >= (3, 11) and (not runtime or
                               any(num(s, "bytes") < 16384 or num(s, "bytes") % 4096
                                   for s in runtime)):
        errs.append("runtime rows %s: want the thread's frame data stack, whole pages of "
                    "16 KiB or more" % [(s.get("line"), num(s, "bytes")) for s in runtime])
    for name in ("big", "small"):
        ln = lines[name]
        got = obj.get(ln, [])
        gb = sum(num(s, "bytes") for s in got)
        t = tm.get("%s:%d" % (script, ln), 0)
        where = "kinds.py:%d (%s, %s)" % (ln, name, mode)
        if len(got) != 1:
            errs.append("%s: %d rows of its objects, want 1" % (where, len(got)))
        if mode == "off" and arenas.get(ln):
            errs.append("%s: arena rows under --pymalloc off" % where)
        if name == "big":
            if gb != truth["big"] or t != truth["big"]:
                errs.append("%s: memtrace %d B, tracemalloc %d B, truth %d B: want all equal"
                            % (where, gb, t, truth["big"]))
        elif mode == "default":
            ga = sum(num(s, "bytes") for s in arenas.get(ln, []))
            gc = sum(num(s, "count") for s in arenas.get(ln, []))
            if gb != truth["small_items"]:
                errs.append("%s: %d B of objects, want exactly the list's item array, %d B "
                            "(arenas kept apart)" % (where, gb, truth["small_items"]))
            if truth["arenas"] < 1:
                errs.append("%s: pymalloc mapped no arena for it (target bug?)" % where)
            if gc != truth["arenas"] or ga != truth["arenas"] * ARENA:
                errs.append("%s: arena rows %d B in %d, pymalloc mapped %d arenas of 1 MiB" % (
                    where, ga, gc, truth["arenas"]))
        elif not 0 <= t - gb <= 64:
            errs.append("%s: memtrace %d B, tracemalloc %d B: want equal (up to one list "
                        "object from the free list)" % (where, gb, t))
        if VERBOSE:
            info("kinds %s: memtrace %d B, tracemalloc %d B" % (where, gb, t))
    return errs


# --pymalloc off sends every object through libc: slow under probes, so on two Pythons
KINDS_OFF = ("3.12", "sid3.15")


def kinds_case(label, argv, script, outdir, inner, ver):
    errs = []
    for mode in ("default", "off") if label in KINDS_OFF else ("default",):
        rep, truth, tm = kinds_run(label, argv, script, outdir, inner, mode)
        errs += kinds_errs(rep, truth, tm, script, mode, ver) + check_drops(rep)
    return errs


def t_kinds(label, py, M):
    return kinds_case(label, [py], KINDS, TMP, TMP, py_version(py))


# ---- imports: import-time allocations at the import line -------------------------------

def imports_case(label, argv, script):
    out = os.path.join(TMP, "imports-%s.json" % label)
    r = run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--"] + argv + [script])
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace -- %s imports.py: %s" % (" ".join(argv), r.describe()))
    m = re.search(r"^import-bytes (\d+)$", r.out, re.M)
    if not m:
        raise Fail("imports.py did not print 'import-bytes N': %r" % r.out[:200])
    want = int(m.group(1))
    with open(IMPORTS) as f:
        line = [i for i, t in enumerate(f, 1) if t.rstrip().endswith("# @import")][0]
    rep = final_report(read_reports(out))
    got = sum(num(s, "bytes") for s in rows_by_line(rep, script).get(line, []))
    errs = check_drops(rep)
    # the string, and what else the import left (a module, its dict, sys.modules)
    if not want <= got <= want + (256 << 10):
        errs.append("imports.py:%d (the import) holds %d B, want the module's %d-byte string "
                    "and at most 256 KiB more" % (line, got, want))
    for s in sites_of(rep):
        if ((s.get("file") or "").startswith("<frozen importlib") and
                s.get("kind", "heap") in OBJECT_KINDS and num(s, "bytes") >= want):
            errs.append("%s:%s holds %d B: the import's string was not moved to the import "
                        "line" % (s.get("file"), s.get("line"), num(s, "bytes")))
    info("imports:%s: import line %d holds %d B (the string: %d B)" % (label, line, got, want))
    return errs


def t_imports(label, py, M):
    py_version(py)
    return imports_case(label, [py], IMPORTS)


# ---- --include / --exclude -----------------------------------------------------------

def t_filters(label, py, M):
    ver = py_version(py)
    markers, noise = M["leaks"][0], M["leaks"][1]
    errs = []
    for args in (["--include", "*/leaks.py"],
                 ["--exclude", "*/leaks.py", "--exclude", "<frozen *>"]):
        out = os.path.join(TMP, "filters-%s.json" % args[0].strip("-"))
        r = run([MEMTRACE] + args + ["--format", "json", "--top", "0", "-o", out, "--", py,
                                     LEAKS])
        if r.timed_out or r.rc != 0:
            raise Fail("memtrace %s -- %s leaks.py: %s" % (" ".join(args), py, r.describe()))
        rep = final_report(read_reports(out))
        files = set(s.get("file") for s in sites_of(rep))
        what = " ".join(args)
        if args[0] == "--include":
            if files != {LEAKS}:
                errs.append("%s: rows of %s" % (what, sorted(str(f) for f in files - {LEAKS})))
            e, _ = check_leaks(rep, markers, noise, ver, LEAKS)
            errs += ["%s: %s" % (what, x) for x in e]
        else:
            bad = sorted(str(f) for f in files if f == LEAKS or
                         (f or "").startswith("<frozen "))
            if bad or not files:
                errs.append("%s: rows of %s (%d files in all)" % (what, bad, len(files)))
        if sum(num(s, "bytes") for s in sites_of(rep)) != num(rep, "total_bytes"):
            errs.append("%s: total_bytes %d is not the sum of the rows kept" % (
                what, num(rep, "total_bytes")))
    return errs


# ---- -p on a service ---------------------------------------------------------------

def finish_errs(mt, out, pid, markers, noise, ver, path):
    """After the -p target was told to exit: memtrace exits 0, and its last report is the
    final one taken at Py_FinalizeEx, with every marker still there."""
    errs = []
    rc = mt.wait_exit(5)
    if rc is None:
        errs.append("memtrace still running 5 s after its only target exited")
    elif rc != 0:
        errs.append("memtrace exited %s after the target exited, want 0" % rc)
    reps = for_pid(read_reports(out), pid)
    last = reps[-1] if reps else {}
    # the final report is taken when the interpreter begins to finalize:
    # the process is still alive (exited false) and its leaks are still there
    if last.get("final") is not True or last.get("exited") is not False:
        errs.append("last report is not the final one taken at Py_FinalizeEx: %s" % brief(last))
    else:
        e, _ = check_leaks(last, markers, noise, ver, path)
        errs += ["final report: " + x for x in e]
    return errs


def t_pid_service(label, py, M):
    ver = py_version(py)
    markers, noise = M["service"][0], M["service"][1]
    t = Waiting([py, SERVICE], "service.py")
    out = os.path.join(TMP, "service-%s.json" % label)
    mt = Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p", str(t.pid),
                   "-o", out])
    errs = []
    try:
        mt.wait_attached(t.pid)
        if not mt.err.wait(regex(r"reporting Python lines"), 1):
            errs.append("memtrace did not say 'reporting Python lines'")
        t.start_work()
        rep = wait_settled_report(mt, out, t.pid)
        if rep.get("final"):
            errs.append("report while the process lives has final=true")
        e, _ = check_leaks(rep, markers, noise, ver, SERVICE)
        errs += ["interval report: " + x for x in e + check_drops(rep)]
        t.finish()
        errs += finish_errs(mt, out, t.pid, markers, noise, ver, SERVICE)
    finally:
        mt.stop()
    return errs


# ---- PID namespace -------------------------------------------------------------------

def ns_child(w):
    """The host pid of the Python that unshare --fork started (pid 1 inside)."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            with open("/proc/%d/task/%d/children" % (w.p.pid, w.p.pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        if len(kids) == 1:
            with open("/proc/%d/status" % kids[0]) as f:
                ns = [l.split()[1:] for l in f if l.startswith("NSpid:")]
            if not ns or len(ns[0]) != 2 or ns[0][1] != "1":
                raise Fail("pid %d is not pid 1 of a child PID namespace (NSpid %s)" % (
                    kids[0], ns))
            return kids[0]
        time.sleep(0.05)
    raise Fail("unshare (pid %d) has no single child" % w.p.pid)


def t_pidns(label, py, M):
    ver = py_version(py)
    unshare = shutil.which("unshare")
    if not unshare:
        missing("unshare (util-linux) not installed")
    markers, noise = M["leaks"][0], M["leaks"][1]
    t = Waiting([unshare, "--pid", "--fork", "--mount-proc", py, LEAKS, "--wait"],
                "leaks.py --wait in a PID namespace", find_pid=ns_child)
    if t.said_pid != 1:
        raise Fail("leaks.py says it is pid %d in its namespace, want 1" % t.said_pid)
    out = os.path.join(TMP, "pidns-%s.json" % label)
    mt = Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p", str(t.pid),
                   "-o", out])
    errs = []
    try:
        mt.wait_attached(t.pid)
        if not mt.err.wait(regex(r"reporting Python lines"), 1):
            errs.append("memtrace did not say 'reporting Python lines'")
        t.start_work()
        rep = wait_settled_report(mt, out, t.pid)
        # the module body ran before 'ready', before memtrace attached
        e, table = check_leaks(rep, markers, noise, ver, LEAKS)
        errs += e + check_drops(rep) + gil_overlap_errs(t.out.text())
        if errs or VERBOSE:
            info("pidns:%s, memtrace per line:\n%s" % (label, fmt_table(
                [(mk.line, want_func(mk, ver), want_bytes(mk, ver), gb, gc)
                 for mk, gb, gc in table], ("line", "function", "truth", "memtrace", "count"),
                left=(0, 1))))
        t.finish()
        if mt.wait_exit(5) is None:
            errs.append("memtrace still running 5 s after its target exited")
    finally:
        mt.stop()
    return errs


# ---- small objects: --pymalloc off, --python-allocators ----------------------------------

def run_small(label, py, args):
    out = os.path.join(TMP, "small-%s-%s.json" % (label, args[0].strip("-")))
    r = run([MEMTRACE] + args + ["--format", "json", "--top", "0", "-o", out, "--", py, SMALL])
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace %s -- %s small.py: %s (want exit 0)" % (" ".join(args), py,
                                                                      r.describe()))
    m = re.search(r"^small n=(\d+) tuple_size=(\d+) pythonmalloc=(\S*)$", r.out, re.M)
    if not m:
        raise Fail("small.py did not print its 'small n=... tuple_size=...' line: %r"
                   % r.out[:200])
    return final_report(read_reports(out)), r, int(m.group(1)), int(m.group(2)), m.group(3)


def small_line_errs(rep, ver, M, tuple_size, kind="heap"):
    """The small tuples at their line, in rows of this kind (pyobj: the Python domains)."""
    _, _, line, names = M["small"]
    got = rows_by_line(rep, SMALL).get(line, [])
    errs = ["small.py:%d: a %s row, want %s" % (line, s.get("kind"), kind)
            for s in got if s.get("kind") != kind and num(s, "count") >= SMALL_MIN]
    gb = sum(num(s, "bytes") for s in got)
    gc = sum(num(s, "count") for s in got)
    q, name = names[line]
    fn = name if ver[:2] < (3, 11) else q
    if gc < SMALL_MIN:
        errs.append("small.py:%d (%s): count %d, want at least %d (one per tuple)" % (
            line, fn, gc, SMALL_MIN))
    if gb < SMALL_MIN * tuple_size:
        errs.append("small.py:%d: %d bytes, want at least %d x %d" % (
            line, gb, SMALL_MIN, tuple_size))
    for s in got:
        if s.get("function") != fn:
            errs.append("small.py:%d: function %r, want %r" % (line, s.get("function"), fn))
    return errs, gb, gc


def t_pymalloc_off(label, py, M):
    ver = py_version(py)
    rep, r, n, size, pm = run_small(label, py, ["--pymalloc", "off"])
    errs = []
    if pm != "malloc":
        errs.append("the command ran with PYTHONMALLOC=%r, want 'malloc'" % pm)
    e, gb, gc = small_line_errs(rep, ver, M, size)
    info("pymalloc-off:%s: small.py line %d: %d bytes in %d blocks (%d tuples of %d bytes)" % (
        label, M["small"][2], gb, gc, n, size))
    return errs + e + check_drops(rep)


def t_many(label, py, M):
    """5 M live objects under --pymalloc off: the live-allocation table, sized at start
    from the host's memory, holds every one; the line is exact, nothing dropped."""
    line = [i for i, l in enumerate(open(MANY).read().split("\n"), 1) if "# @many" in l]
    out = os.path.join(TMP, "many-%s.json" % label)
    t0 = time.time()
    r = run([MEMTRACE, "--pymalloc", "off", "--format", "json", "--top", "0", "-o", out,
             "--", py, MANY], timeout=400)
    took = time.time() - t0
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace --pymalloc off -- %s many.py: %s (want exit 0)" % (py, r.describe()))
    m = re.search(r"^many n=(\d+) obj=(\d+) array=(\d+)$", r.out, re.M)
    if not m or len(line) != 1:
        raise Fail("many.py did not print its 'many n=...' line, or has no @many marker")
    n, obj, arr = int(m.group(1)), int(m.group(2)), int(m.group(3))
    rep = final_report(read_reports(out))
    got = rows_by_line(rep, MANY).get(line[0], [])
    gb, gc = sum(num(s, "bytes") for s in got), sum(num(s, "count") for s in got)
    errs = check_drops(rep)
    # each instance and the list's item array
    if (gb, gc) != (n * obj + arr, n + 1):
        errs.append("many.py:%d: %d bytes in %d blocks, want %d in %d" % (
            line[0], gb, gc, n * obj + arr, n + 1))
    said = [l for l in r.err.splitlines() if "live-allocation table:" in l]
    if len(said) != 1 or "MiB of kernel memory" not in said[0]:
        errs.append("memtrace did not say once what its table reserves: %r" % said)
    if errs or VERBOSE:
        info("many:%s: many.py line %d: %d bytes in %d blocks (%d objects of %d bytes), "
             "%.1f s; %s" % (label, line[0], gb, gc, n, obj, took, said[0] if said else ""))
    return errs


def t_python_allocators(label, py, M):
    ver = py_version(py)
    rep, r, n, size, pm = run_small(label, py, ["--python-allocators"])
    errs = []
    if pm:
        errs.append("--python-allocators set PYTHONMALLOC=%r in the command" % pm)
    if "inlines pymalloc" in r.err:
        errs.append("memtrace says %s inlines pymalloc (a non-LTO build)" % py)
    e, gb, gc = small_line_errs(rep, ver, M, size, "pyobj")
    info("python-allocators:%s: small.py line %d: %d bytes in %d blocks" % (
        label, M["small"][2], gb, gc))
    return errs + e + check_drops(rep)


def t_python_allocators_lto(label, py, M):
    ver = py_version(py)
    rep, r, n, size, pm = run_small(label, py, ["--python-allocators"])
    errs = []
    warns = [l for l in r.err.splitlines() if "inlines pymalloc" in l]
    if len(warns) != 1:
        errs.append("%d warnings that %s inlines pymalloc, want 1 (stderr: %s)" % (
            len(warns), py, " | ".join(r.err.strip().splitlines()[-4:])))
    elif "--pymalloc" not in warns[0]:
        errs.append("the LTO warning does not point at --pymalloc=off: %r" % warns[0])
    if "probing the PyMem_Raw" in r.err:
        errs.append("memtrace says it probes the Python domains after refusing to")
    _, gb, gc = small_line_errs(rep, ver, M, size)
    if gc >= SMALL_MIN:
        errs.append("small.py line shows %d blocks: probes were attached after all?" % gc)
    errs += check_drops(rep)
    return errs


# ---- unsupported version ---------------------------------------------------------------

def t_unsupported(label, py, M):
    ver = py_version(py)
    if ver[:2] >= (3, 10):
        raise Fail("%s is Python %s, not an unsupported one" % (py, ver))
    out = os.path.join(TMP, "unsupported-%s.json" % label)
    r = run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", py, LEAKS])
    errs = []
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace -- %s leaks.py: %s (want exit 0)" % (py, r.describe()))
    warns = [l for l in r.err.splitlines() if "Python lines unavailable" in l]
    if len(warns) != 1:
        errs.append("%d 'Python lines unavailable' warnings, want 1 (stderr: %s)" % (
            len(warns), " | ".join(r.err.strip().splitlines()[-4:])))
    elif "%d.%d" % ver[:2] not in warns[0]:
        errs.append("the warning does not name the version %d.%d: %r" % (ver[0], ver[1], warns[0]))
    rep = final_report(read_reports(out))
    pyrows = [s for s in sites_of(rep) if (s.get("file") or "").endswith(".py")
              or (s.get("file") or "").startswith("<frozen")]
    if pyrows:
        errs.append("%d rows with Python files, e.g. %s:%s" % (
            len(pyrows), pyrows[0].get("file"), pyrows[0].get("line")))
    native = [s for s in sites_of(rep) if num(s, "bytes") and (s.get("file") or "").endswith(".c")
              and num(s, "line") > 0 and base(s.get("module")).startswith("libpython")]
    if not native:
        errs.append("no native line (a .c file:line in libpython) with live bytes")
    # the ctypes calls into libc are never freed: they outlive the interpreter
    want = sum(m.bytes for m in M["leaks"][0].values() if m.native and m.exact is not None)
    ffi = sum(num(s, "bytes") for s in sites_of(rep) if base(s.get("module")).startswith("libffi"))
    if ffi < want:
        errs.append("rows of libffi (ctypes calls into libc) hold %d bytes, want at least %d" % (
            ffi, want))
    errs += check_drops(rep)
    return errs


# ---- Debian sid's Pythons in a chroot ------------------------------------------------

SID_ROOT = {}  # "root": (chroot dir, directory of the targets inside it) or a Fail


def sid_setup():
    """The sid chroot (built once by tests/sid-chroot.sh) with the targets copied in."""
    if "root" not in SID_ROOT:
        r = run(["sh", SID_SCRIPT], timeout=BUDGET)
        root = r.out.strip().splitlines()[-1] if r.out.strip() else ""
        if r.timed_out or r.rc != 0 or not os.path.isdir(root):
            SID_ROOT["root"] = "tests/sid-chroot.sh failed: %s" % r.describe()
        else:
            inner = tempfile.mkdtemp(prefix="memtrace-pye2e-", dir=os.path.join(root, "tmp"))
            os.chmod(inner, 0o755)
            for f in (LEAKS, SERVICE, SMALL, KINDS, IMPORTS, OBJECTS):
                shutil.copy(f, inner)
            SID_ROOT["root"] = (root, inner)
    v = SID_ROOT["root"]
    if isinstance(v, str):
        missing(v)
    return v


def sid_python(name):
    """(argv running sid's python3.X, its version, ROOT, the targets' directory in ROOT)."""
    root, inner = sid_setup()
    argv = ["chroot", root, "/usr/bin/" + name]
    ver = py_version(os.path.join(root, "usr", "bin", name), argv)
    return argv, ver, root, "/" + os.path.relpath(inner, root)


def detected_errs(err, ver):
    m = re.search(r"runs CPython (\d+\.\d+\.\d+)", err)
    if not m or m.group(1) != "%d.%d.%d" % ver:
        return ["memtrace detected CPython %s, the interpreter is %d.%d.%d" % (
            m.group(1) if m else "nothing", ver[0], ver[1], ver[2])]
    return []


def t_sid_leaks(label, name, M):
    argv, ver, root, inner = sid_python(name)
    leaks = os.path.join(inner, "leaks.py")
    markers, noise = M["leaks"][0], M["leaks"][1]
    out = os.path.join(TMP, "sid-leaks-%s.json" % label)
    r = run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--"] + argv + [leaks])
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace -- %s leaks.py: %s (want exit 0)" % (" ".join(argv), r.describe()))
    rep = final_report(read_reports(out))
    errs, table = check_leaks(rep, markers, noise, ver, leaks, scopes=("function", "module"))
    errs += check_drops(rep) + gil_overlap_errs(r.out) + detected_errs(r.err, ver)
    if errs or VERBOSE:
        info("sid-leaks:%s (Python %s), memtrace per line:\n%s" % (
            label, ".".join(map(str, ver)), fmt_table(
                [(mk.line, want_func(mk, ver), want_bytes(mk, ver), gb, gc)
                 for mk, gb, gc in table], ("line", "function", "truth", "memtrace", "count"),
                left=(0, 1))))
    return errs


def t_sid_kinds(label, name, M):
    argv, ver, root, inner = sid_python(name)
    return kinds_case(label, argv, os.path.join(inner, "kinds.py"),
                      os.path.join(root, inner.lstrip("/")), inner, ver)


def t_sid_imports(label, name, M):
    argv, ver, root, inner = sid_python(name)
    return imports_case(label, argv, os.path.join(inner, "imports.py"))


def t_sid_pid(label, name, M):
    argv, ver, root, inner = sid_python(name)
    leaks = os.path.join(inner, "leaks.py")
    markers, noise = M["leaks"][0], M["leaks"][1]
    t = Waiting(argv + [leaks, "--wait"], "%s leaks.py --wait in the sid chroot" % name)
    out = os.path.join(TMP, "sid-pid-%s.json" % label)
    mt = Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p", str(t.pid),
                   "-o", out])
    errs = []
    try:
        mt.wait_attached(t.pid)
        errs += detected_errs(mt.err.text(), ver)
        t.start_work()
        rep = wait_settled_report(mt, out, t.pid)
        e, _ = check_leaks(rep, markers, noise, ver, leaks)
        errs += ["interval report: " + x for x in e + check_drops(rep)]
        errs += gil_overlap_errs(t.out.text())
        t.finish()
        errs += finish_errs(mt, out, t.pid, markers, noise, ver, leaks)
    finally:
        mt.stop()
    return errs


# ---- --py-objects: objects by type against gc.get_objects() -------------------------------

OBJECT_TYPES = ("Foo", "Slotted", "Frozen", "dict", "list")
ATOM_TYPES = ("str", "bytes", "int", "float")
# interpreters whose census may hold 1-2 small str more than the walk finds
SID_STR_SHORT = ("sid3.14", "sid3.15")


def objects_case(label, argv, script, racy=False):
    """memtrace -p --py-objects=stop on objects.py: per-type counts equal gc.get_objects()'s.

    racy: objects.py --churn (a thread keeps building and dropping dicts)
    and plain --py-objects: the walk ends, the populations that do not
    change are exact, the totals and failures are whatever the race made."""
    t = Waiting(argv + [script] + (["--churn"] if racy else []), "objects.py")
    errs = []
    try:
        m = t.out.wait(regex(r"^objects (\{.*\}) total=(\d+) frozen=(\d+)$"), 1)
        if not m:
            raise Fail("objects.py did not print its 'objects {...} total=N' line")
        truth, total = json.loads(m.group(1)), int(m.group(2))
        m = t.out.wait(regex(r"^atoms (\{.*\})$"), 1)
        if not m:
            raise Fail("objects.py did not print its 'atoms {...}' line")
        atoms = json.loads(m.group(1))
        out = os.path.join(TMP, "objects-%s.json" % label)
        mode = "--py-objects" if racy else "--py-objects=stop"
        r = run([MEMTRACE, "--format", "json", mode, "-p", str(t.pid),
                 "--interval", "0.5", "--count", "3", "-o", out])
        if r.timed_out or r.rc != 0:
            raise Fail("memtrace -p %d %s: %s" % (t.pid, mode, r.describe()))
        reps = read_reports(out)
        if not reps or "objects" not in reps[-1]:
            raise Fail("no report with \"objects\" (stderr: %s)" % r.err.strip()[-300:])
        rep = reps[-1]
        got = {o["type"]: o["count"] for o in rep["objects"]}
        tot = rep["objects_total"]
        if racy:
            # a walk that met a collection loses lists (counted): one of the
            # three must see the stable populations whole
            if len(reps) != 3 or any("objects_total" not in x for x in reps):
                errs.append("%d reports, not 3 with objects" % len(reps))
            exact = [x for x in reps if "objects" in x and all(
                {o["type"]: o["count"] for o in x["objects"]}.get(ty) == truth.get(ty)
                for ty in ("Foo", "Slotted", "Frozen"))]
            if not exact:
                errs.append("no racy walk saw Foo, Slotted and Frozen whole: %s" % [
                    ({o["type"]: o["count"] for o in x.get("objects", [])}.get("Foo"),
                     x.get("objects_total", {}).get("failures")) for x in reps])
            if any(x.get("objects_total", {}).get("pause_us") for x in reps):
                errs.append("a racy walk stopped the process")
            slow = [x["objects_total"]["walk_us"] for x in reps if "objects_total" in x
                    and x["objects_total"]["walk_us"] > 2000000]
            if slow:
                # a racy ring that misses our head is caught, not walked to the cap
                errs.append("racy walks of %s us (want < 2 s)" % slow)
            if errs or VERBOSE:
                info("objects-racy:%s: %d objects in %.3f s, lists cut short per walk: %s" % (
                    label, tot["count"], tot["walk_us"] / 1e6,
                    [x.get("objects_total", {}).get("failures") for x in reps]))
            return errs
        for ty in OBJECT_TYPES:
            if got.get(ty) != truth.get(ty):
                errs.append("%s: memtrace %s, gc.get_objects() %s" % (ty, got.get(ty),
                                                                      truth.get(ty)))
        # str, bytes, int, float one level down from the containers, as
        # objects.py counted them in-process: count and sys.getsizeof bytes
        got_atoms = {o["type"]: [o["count"], o["bytes"]] for o in rep["objects"]
                     if o["type"] in ATOM_TYPES}
        if label in SID_STR_SHORT and got_atoms != atoms and got_atoms.get("str") and \
                atoms.get("str") and {k: v for k, v in got_atoms.items() if k != "str"} == \
                {k: v for k, v in atoms.items() if k != "str"} and \
                0 < atoms["str"][0] - got_atoms["str"][0] <= 2 and \
                0 < atoms["str"][1] - got_atoms["str"][1] <= 128:
            # known, not explained yet (README: Limitations): Debian sid's
            # 3.14 and 3.15 builds sometimes hold one or two small str the
            # walk does not reach; said, not failed
            info("objects:%s: %d untracked str (%d B) short of the census (known on sid "
                 "3.14/3.15)" % (label, atoms["str"][0] - got_atoms["str"][0],
                                 atoms["str"][1] - got_atoms["str"][1]))
            atoms = dict(atoms, str=got_atoms["str"])
        if got_atoms != atoms:
            errs.append("untracked: memtrace %s, in-process %s" % (got_atoms, atoms))
        if [tot.get("untracked"), tot.get("untracked_bytes"), tot.get("untracked_dropped")] != [
                sum(c for c, _ in atoms.values()), sum(b for _, b in atoms.values()), 0]:
            errs.append("untracked totals %s/%s B/%s dropped, want the census's %d/%d B/0" % (
                tot.get("untracked"), tot.get("untracked_bytes"), tot.get("untracked_dropped"),
                sum(c for c, _ in atoms.values()), sum(b for _, b in atoms.values())))
        tracked = tot["count"] - tot.get("untracked", 0)
        if tracked != total:
            diff = {k: got.get(k, 0) - truth.get(k, 0)
                    for k in set(got) | set(truth)
                    if k not in ATOM_TYPES and got.get(k, 0) != truth.get(k, 0)}
            errs.append("total: memtrace %d tracked objects, gc.get_objects() %d (by type: %s)"
                        % (tracked, total, diff))
        if tot.get("permanent") != tracked:
            # objects.py froze every object after its census
            errs.append("permanent generation: %s objects, want all %d" % (
                tot.get("permanent"), tracked))
        if tot["failures"] or not tot["pause_us"]:
            errs.append("failures %d, pause %d us (want 0 and > 0)" % (tot["failures"],
                                                                      tot["pause_us"]))
        if errs or VERBOSE:
            info("objects:%s: %d objects (%d untracked) in %.3f s (stopped), Foo %s" % (
                label, tot["count"], tot.get("untracked", 0), tot["walk_us"] / 1e6,
                got.get("Foo")))
    finally:
        t.finish()
    return errs


def t_objects(label, py, M):
    py_version(py)
    return objects_case(label, [py], OBJECTS)


def t_objects_racy(label, py, M):
    py_version(py)
    return objects_case(label, [py], OBJECTS, racy=True)


def t_sid_objects_racy(label, name, M):
    argv, ver, root, inner = sid_python(name)
    return objects_case(label, argv, os.path.join(inner, "objects.py"), racy=True)


def t_sid_objects(label, name, M):
    argv, ver, root, inner = sid_python(name)
    return objects_case(label, argv, os.path.join(inner, "objects.py"))


# ---------------------------------------------------------------------------

def preflight():
    if os.geteuid() != 0:
        if os.environ.get("MEMTRACE_ALLOW_SKIP") == "1" and not CI:
            log("*" * 72)
            log("SKIPPED: python e2e tests need root (BPF); MEMTRACE_ALLOW_SKIP=1 set, nothing ran")
            log("*" * 72)
            return None
        result("preflight", "not root: the e2e tests need BPF (set MEMTRACE_ALLOW_SKIP=1 "
               "outside CI to skip)")
        return False
    if not os.access(MEMTRACE, os.X_OK):
        result("preflight", "missing %s: run `make memtrace` first" % MEMTRACE)
        return False
    return True


def summary():
    """Per-Python table of the results."""
    cases = []
    cells = collections.defaultdict(dict)
    for name, ok, _ in RESULTS:
        c, _, label = name.partition(":")
        if not label:
            continue
        if c not in cases:
            cases.append(c)
        cells[label][c] = "ok" if ok else "FAIL"
    for name, _ in SKIPS:
        c, _, label = name.partition(":")
        if c not in cases:
            cases.append(c)
        cells[label][c] = "skip"
    labels = [l for l, _ in PYTHONS] + [UNSUPPORTED[0]] + [l for l, _ in SID]
    rows = [[l] + [cells[l].get(c, "-") for c in cases] for l in labels if cells.get(l)]
    if rows:
        info("results per Python:\n" + fmt_table(rows, ["python"] + cases))


def main():
    def interrupted(signum, frame):
        raise KeyboardInterrupt()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, interrupted)
    try:
        ok = preflight()
        if ok is None:
            log("python-e2e: 0 passed, 0 failed")
            return 0
        if ok:
            M = {}
            for key, path in (("leaks", LEAKS), ("service", SERVICE), ("small", SMALL)):
                M[key] = parse_markers(path)
            if len(M["leaks"][0]) < 15 or not M["service"][0] or not M["small"][2]:
                raise Fail("markers missing in %s" % PYDIR)
            pys = dict(PYTHONS)
            for label, py in PYTHONS:
                check("leaks:" + label, t_leaks, label, py, M)
                check("module-level:" + label, t_module_level, label, py, M)
                check("tracemalloc:" + label, t_tracemalloc, label, py, M)
            for label, py in PYTHONS:
                check("kinds:" + label, t_kinds, label, py, M)
            for label in ("3.12", "deb3.11"):
                check("imports:" + label, t_imports, label, pys[label], M)
            check("filters:3.12", t_filters, "3.12", pys["3.12"], M)
            for label, py in PYTHONS:
                check("pid-service:" + label, t_pid_service, label, py, M)
            for label, py in PYTHONS:
                check("pidns:" + label, t_pidns, label, py, M)
            for label, py in PYTHONS:
                check("pymalloc-off:" + label, t_pymalloc_off, label, py, M)
            check("python-allocators:3.12", t_python_allocators, "3.12", pys["3.12"], M)
            check("python-allocators:deb3.11", t_python_allocators_lto, "deb3.11",
                  pys["deb3.11"], M)
            check("unsupported:" + UNSUPPORTED[0], t_unsupported, UNSUPPORTED[0],
                  UNSUPPORTED[1], M)
            for label, name in SID:
                check("sid-leaks:" + label, t_sid_leaks, label, name, M)
                check("sid-pid:" + label, t_sid_pid, label, name, M)
                check("sid-kinds:" + label, t_sid_kinds, label, name, M)
            check("sid-imports:sid3.15", t_sid_imports, "sid3.15", "python3.15", M)
            for label, py in PYTHONS:
                check("objects:" + label, t_objects, label, py, M)
            for label, name in SID:
                check("sid-objects:" + label, t_sid_objects, label, name, M)
            check("objects-racy:3.12", t_objects_racy, "3.12", pys["3.12"], M)
            check("sid-objects-racy:sid3.14", t_sid_objects_racy, "sid3.14", "python3.14", M)
            # last: ~50 s here (a trap costs ~6 us on this VM, one per object)
            check("many:3.12", t_many, "3.12", pys["3.12"], M)
    except Fail as e:
        result("setup", str(e))
    except KeyboardInterrupt:
        pass
    finally:
        cleanup()
        shutil.rmtree(e2e.TMP, ignore_errors=True)  # run.py's, unused here
        if isinstance(SID_ROOT.get("root"), tuple):
            shutil.rmtree(SID_ROOT["root"][1], ignore_errors=True)
        if not VERBOSE:
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            log("  | outputs kept in %s" % TMP)
    summary()
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    info("%.0f s" % elapsed())
    log("python-e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
