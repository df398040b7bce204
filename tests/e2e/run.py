#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""End-to-end tests of memtrace against real processes (root, real BPF).

Expects `make memtrace targets` to have run. Each case prints `ok NAME` or
`FAIL NAME: reason`; the last line is `e2e: N passed, M failed` and the exit
status is non-zero on any failure.

Ground truth is tests/targets/leak_apis.c: every allocator call carries a
marker `/* @leak bytes=B count=C [kind=mmap] [vg=skip] */` giving what must
still be live at that line when the program is done (kind: the row's "kind",
heap unless said); the cases compare
memtrace's reports with the markers exactly. tests/targets/sample_mix.c
(sampling: means over 20 sampled runs against its markers),
tests/targets/host_leak.c (-a, whole-host mode) and tests/targets/sys_paths.c
(the mmap family by the path a call takes: libc's wrappers count, raw system
calls do not) use the same markers.

Environment:
  CI=true               a missing capability, tool or BPF failure is a FAIL
  MEMTRACE_ALLOW_SKIP=1 outside CI, not being root skips everything (loudly)
  MEMTRACE=path         binary to test (default ./memtrace)
  E2E_ONLY=a,b          run only the cases whose name starts with a or b
  E2E_VERBOSE=1         print the commands, extra details; keep the outputs
  E2E_BUDGET=SEC        time budget of the whole suite (default 150)

Only the Python standard library is used.
"""

import collections
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.path.abspath(os.environ.get("MEMTRACE", os.path.join(ROOT, "memtrace")))
TARGETS = os.path.join(ROOT, ".output", "targets")
LEAK = os.path.join(TARGETS, "leak_apis")
LEAK_SRC = os.path.join(ROOT, "tests", "targets", "leak_apis.c")
NOLIBC_SRC = os.path.join(ROOT, "tests", "e2e", "static_nolibc.c")
SRC_BASE = "leak_apis.c"
MODULE = "leak_apis"
SAMPLE_MIX = os.path.join(TARGETS, "sample_mix")
SAMPLE_SRC = os.path.join(ROOT, "tests", "targets", "sample_mix.c")
HOST_LEAK = os.path.join(TARGETS, "host_leak")
HOST_SRC = os.path.join(ROOT, "tests", "targets", "host_leak.c")
SYS_PATHS = os.path.join(TARGETS, "sys_paths")
SYS_SRC = os.path.join(ROOT, "tests", "targets", "sys_paths.c")

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VERBOSE = os.environ.get("E2E_VERBOSE", "") not in ("", "0")
ONLY = [s for s in os.environ.get("E2E_ONLY", "").split(",") if s]

RUN_TIMEOUT = 60.0  # hard limit for one memtrace run
ERROR_TIMEOUT = 10.0  # bad input must be refused within this
# the whole suite (a normal run takes ~40 s); once spent, runs get 5 s and
# cases not yet started fail at once, so a hanging memtrace cannot hang us
BUDGET = float(os.environ.get("E2E_BUDGET", "300"))

# the number of calls in leak_apis that return a failure to the program:
# realloc(huge), reallocarray overflow, malloc(SIZE_MAX-4096),
# malloc(SIZE_MAX/2), calloc overflow, posix_memalign(align 3), mmap(len 0)
N_FAILED_CALLS = 7
N_THREADS = 4  # NTHREADS in leak_apis.c
N_PRE = 100  # PRE_N in leak_apis.c

T0 = time.monotonic()
TMP = tempfile.mkdtemp(prefix="memtrace-e2e-")
CHILDREN = []  # every Popen we started; killed on any exit path
RESULTS = []  # (name, ok, reason)


class Fail(Exception):
    pass


class Skip(Exception):
    """A case that cannot run here; under CI=true a missing tool is a Fail instead."""


def log(msg):
    print(msg, flush=True)


def info(msg):
    """A note that is neither a result nor noise: what a case compared."""
    print("# " + msg, flush=True)


def vlog(msg):
    if VERBOSE:
        print("  | " + msg.replace("\n", "\n  | "), flush=True)


def elapsed():
    return time.monotonic() - T0


# ---------------------------------------------------------------------------
# processes

def spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
          stderr=subprocess.PIPE, env=None):
    """Popen in its own session (so its whole group can be killed)."""
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                         env=env, start_new_session=True, cwd=ROOT)
    CHILDREN.append(p)
    return p


def kill_group(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.kill()
    except ProcessLookupError:
        pass


def reap(p, timeout=5.0):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(p)
        try:
            return p.wait(5)
        except subprocess.TimeoutExpired:
            return None


def cleanup():
    for p in CHILDREN:
        if p.poll() is None:
            kill_group(p)
    for p in CHILDREN:
        try:
            p.wait(2)
        except Exception:
            pass
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                if f:
                    f.close()
            except Exception:
                pass
    CHILDREN.clear()


class Run:
    """Result of a finished command."""

    def __init__(self, rc, out, err, secs, timed_out):
        self.rc, self.out, self.err = rc, out, err
        self.secs, self.timed_out = secs, timed_out

    def describe(self):
        if self.timed_out:
            s = "timed out after %.0f s (killed)" % self.secs
        elif self.rc is not None and self.rc < 0:
            s = "killed by signal %d" % -self.rc
        else:
            s = "exit %s" % self.rc
        tail = self.err.strip().splitlines()[-3:]
        if tail:
            s += "; stderr: " + " | ".join(tail)
        return s


def run(argv, timeout=RUN_TIMEOUT, stdin_data=None, env=None):
    timeout = max(5.0, min(timeout, BUDGET - elapsed()))
    t = time.monotonic()
    p = spawn(argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
              env=env)
    timed_out = False
    try:
        out, err = p.communicate(stdin_data, timeout=timeout)
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

    def __init__(self, f, name=""):
        self.f, self.name = f, name
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

    def wait(self, pred, timeout, start=0):
        """First line at index >= start matching pred, or None on timeout/EOF."""
        end = time.monotonic() + timeout
        with self.cv:
            i = start
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


def regex(pat):
    r = re.compile(pat)
    return lambda line: r.search(line)


class Target:
    """A `leak_apis --wait` process driven by signals."""

    def __init__(self, extra=()):
        self.p = spawn([LEAK, "--wait"] + list(extra), stdin=subprocess.PIPE)
        self.out = Lines(self.p.stdout, "target stdout")
        self.err = Lines(self.p.stderr, "target stderr")
        m = self.out.wait(regex(r"^ready (\d+)$"), 10)
        if not m:
            raise Fail("leak_apis --wait did not print 'ready'")
        self.pid = int(m.group(1))
        if self.pid != self.p.pid:
            raise Fail("leak_apis printed pid %d, Popen says %d" % (self.pid, self.p.pid))

    def start_work(self):
        os.kill(self.pid, signal.SIGUSR1)
        if not self.out.wait(regex(r"^done$"), 30):
            raise Fail("leak_apis did not print 'done' within 30 s after SIGUSR1")

    def finish(self):
        os.kill(self.pid, signal.SIGUSR2)
        rc = reap(self.p, 10)
        if rc != 0:
            raise Fail("leak_apis --wait exited %s after SIGUSR2" % rc)


class Memtrace:
    """A memtrace process running in the background."""

    def __init__(self, args):
        self.argv = [MEMTRACE] + list(args)
        vlog("$ " + " ".join(self.argv) + " &")
        self.p = spawn(self.argv)
        self.out = Lines(self.p.stdout, "memtrace stdout")
        self.err = Lines(self.p.stderr, "memtrace stderr")

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

def read_reports(path):
    """Complete JSON lines written so far (a partial last line is ignored)."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    reps = []
    for n, line in enumerate(data.split("\n")[:-1], 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise Fail("%s line %d is not JSON (%s): %.120s" % (os.path.basename(path), n, e, line))
        if not isinstance(obj, dict):
            raise Fail("%s line %d is not a JSON object" % (os.path.basename(path), n))
        reps.append(obj)
    return reps


def for_pid(reps, pid):
    return [r for r in reps if r.get("pid") == pid]


def wait_reports(path, pid, n, timeout):
    end = time.monotonic() + timeout
    while True:
        reps = for_pid(read_reports(path), pid)
        if len(reps) >= n or time.monotonic() > end:
            return reps
        time.sleep(0.1)


def final_report(reps, pid=None):
    if pid is not None:
        reps = for_pid(reps, pid)
    if not reps:
        raise Fail("no JSON report%s" % ("" if pid is None else " for pid %d" % pid))
    last = reps[-1]
    if last.get("final") is not True:
        raise Fail("last report (seq %s) is not final: %s" % (last.get("seq"), brief(last)))
    return last


def brief(rep):
    keys = ("pid", "seq", "final", "exited", "total_bytes", "total_count", "groups")
    return "{" + ", ".join("%s: %s" % (k, rep.get(k)) for k in keys) + "}"


def base(path):
    return os.path.basename(path or "")


def is_ours(site):
    return base(site.get("file")) == SRC_BASE


def sites_of(rep):
    s = rep.get("sites")
    if not isinstance(s, list):
        raise Fail("report has no 'sites' list: %s" % brief(rep))
    return s


def num(site, key):
    v = site.get(key)
    return v if isinstance(v, int) else 0


# ---------------------------------------------------------------------------
# ground truth: the markers in leak_apis.c

Marker = collections.namedtuple("Marker", "line bytes count kind vg func text")

FUNC_DEF = re.compile(r"^[A-Za-z_][^;=]*?\b([A-Za-z_]\w*)\s*\([^;]*$")
MARK = re.compile(r"/\*\s*@leak\s+(.*?)\s*\*/")


def parse_markers(path=LEAK_SRC, min_markers=20):
    name = base(path)
    with open(path) as f:
        src = f.read().split("\n")
    markers, funcs, func = {}, {}, None
    for i, text in enumerate(src, 1):
        m = FUNC_DEF.match(text)
        if m and i < len(src) and src[i].startswith("{"):
            func = m.group(1)
        funcs[i] = func
        mm = MARK.search(text)
        if not mm or "@leak bytes" not in text or text.lstrip().startswith("*"):
            continue
        attrs = dict(kv.split("=", 1) for kv in mm.group(1).split())
        b = int(attrs["bytes"])
        c = int(attrs.get("count", "0"))
        if (b == 0) != (c == 0) or (c and b % c):
            raise Fail("bad marker at %s:%d: %s" % (name, i, text.strip()))
        markers[i] = Marker(i, b, c, attrs.get("kind", "heap"), attrs.get("vg"), func,
                            text.strip())
    if len(markers) < min_markers:
        raise Fail("only %d markers found in %s" % (len(markers), path))
    return markers, funcs


def expected(markers, min_size=None, max_size=None):
    """line -> (bytes, count) after a size filter on the per-call size."""
    exp = {}
    for m in markers.values():
        b, c = m.bytes, m.count
        if c:
            size = b // c
            if (min_size is not None and size < min_size) or \
               (max_size is not None and size > max_size):
                b, c = 0, 0
        exp[m.line] = (b, c)
    return exp


def check_lines(rep, markers, funcs, exp):
    """Exact per-line comparison of one report with the expectation."""
    errs = []
    rows = collections.defaultdict(list)
    for s in sites_of(rep):
        if is_ours(s):
            rows[s.get("line")].append(s)
    for line, (b, c) in sorted(exp.items()):
        got = rows.get(line, [])
        gb = sum(num(s, "bytes") for s in got)
        gc = sum(num(s, "count") for s in got)
        if len(got) > 1:
            errs.append("%s:%d has %d rows in line mode" % (SRC_BASE, line, len(got)))
        if (gb, gc) != (b, c):
            errs.append("%s:%d (%s) bytes/count %d/%d, want %d/%d  [%s]" % (
                SRC_BASE, line, markers[line].func, gb, gc, b, c, markers[line].text[:60]))
        for s in got:
            # a report of this memtrace says what each row is (older saved ones do not)
            if b and s.get("kind", markers[line].kind) != markers[line].kind:
                errs.append("%s:%d kind %r, want %r" % (SRC_BASE, line, s.get("kind"),
                                                        markers[line].kind))
            if b and s.get("function") != markers[line].func:
                errs.append("%s:%d function %r, want %r" % (SRC_BASE, line, s.get("function"),
                                                            markers[line].func))
            mod = s.get("module")
            if b and mod is not None and base(mod) != MODULE:
                errs.append("%s:%d module %r, want %r" % (SRC_BASE, line, mod, MODULE))
    for line, got in sorted(rows.items(), key=lambda kv: kv[0] or 0):
        if line in exp:
            continue
        gb = sum(num(s, "bytes") for s in got)
        if gb:
            src = ""
            try:
                with open(LEAK_SRC) as f:
                    src = f.read().split("\n")[line - 1].strip()
            except Exception:
                pass
            errs.append("unmarked site %s:%s (%s) has %d bytes in %d blocks  [%s]" % (
                SRC_BASE, line, funcs.get(line), gb, sum(num(s, "count") for s in got), src[:60]))
    want_total = sum(b for b, _ in exp.values())
    got_total = sum(num(s, "bytes") for ss in rows.values() for s in ss)
    if want_total != got_total:
        errs.append("total over %s sites %d, want %d" % (SRC_BASE, got_total, want_total))
    return errs


def check_consistency(rep, top0=True):
    errs = []
    for k in ("pid", "comm", "time", "seq", "final", "exited", "group_by", "total_bytes",
              "total_count", "groups", "drops", "events", "sites"):
        if k not in rep:
            errs.append("report lacks %r" % k)
    if errs:
        return errs
    s = rep["sites"]
    if top0:
        tb = sum(num(x, "bytes") for x in s)
        tc = sum(num(x, "count") for x in s)
        if tb != rep["total_bytes"] or tc != rep["total_count"]:
            errs.append("--top 0: sites sum to %d B/%d, report totals say %s B/%s" % (
                tb, tc, rep["total_bytes"], rep["total_count"]))
        if rep["groups"] != len(s):
            errs.append("--top 0: %d site rows but groups=%s" % (len(s), rep["groups"]))
    return errs


def check_drops(rep):
    drops = rep.get("drops") or {}
    bad = {k: v for k, v in drops.items() if v}
    return ["drops not zero: %s" % bad] if bad else []


def check_events(rep, pre=0):
    """pre: blocks leak_apis --pre allocated before memtrace attached and freed after."""
    ev = rep.get("events") or {}
    errs = []
    if ev.get("alloc_failed") != N_FAILED_CALLS:
        errs.append("events.alloc_failed=%s, want %d (calls that returned failure to the program)"
                    % (ev.get("alloc_failed"), N_FAILED_CALLS))
    # glibc allocates each thread's tcache with _int_malloc (no probed entry) and frees it
    # with free() at thread exit: an internal free (one per thread), never untracked; free(NULL)
    # must not count
    uf, inf = ev.get("untracked_free"), ev.get("internal_free")
    if uf != pre:
        errs.append("events.untracked_free=%s, want %d (blocks allocated before attaching; "
                    "glibc's own tcache frees are internal_free; free(NULL) is ignored)"
                    % (uf, pre))
    if not isinstance(inf, int) or not 0 <= inf <= N_THREADS + 1:
        errs.append("events.internal_free=%s, want 0..%d (glibc's tcache, one per thread)"
                    % (inf, N_THREADS + 1))
    return errs


def other_sites(rep):
    """Sites outside leak_apis.c with live bytes (information only)."""
    out = []
    for s in sites_of(rep):
        if not is_ours(s) and num(s, "bytes"):
            out.append("%s:%s %s [%s] %d B/%d" % (base(s.get("file")), s.get("line"),
                                                  s.get("function"), base(s.get("module")),
                                                  num(s, "bytes"), num(s, "count")))
    return out


# ---------------------------------------------------------------------------
# the cases

CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


def result(name, errs_or_reason):
    """Record a result: a list of errors (empty = ok) or a reason string."""
    if isinstance(errs_or_reason, str):
        errs = [errs_or_reason]
    else:
        errs = list(errs_or_reason)
    if errs:
        reason = errs[0] if len(errs) == 1 else "%d problems:\n    - %s" % (
            len(errs), "\n    - ".join(errs))
        log("FAIL %s: %s" % (name, reason))
        RESULTS.append((name, False, reason))
    else:
        log("ok %s" % name)
        RESULTS.append((name, True, ""))


def need_tool(tool):
    if CI:
        raise Fail("%s not installed (CI=true: a missing tool is a failure)" % tool)
    raise Skip("%s not installed (this is a FAIL under CI=true)" % tool)


def need_time(name):
    if elapsed() > BUDGET:
        raise Fail("suite time budget (%.0f s) spent before this case" % BUDGET)


def run_cases(suite, cases):
    """A runner's main: each (name, fn(markers, funcs) -> errors) of cases that E2E_ONLY
    keeps, `ok NAME` or `FAIL NAME:` with its errors, then `SUITE: N passed, M failed`.
    Returns the exit status."""
    if os.geteuid() != 0:
        print("%s: needs root" % suite)
        print("%s: 0 passed, 1 failed" % suite)
        return 1
    markers, funcs = parse_markers()
    passed = failed = 0
    for name, fn in cases:
        if ONLY and not any(name.startswith(o) for o in ONLY):
            continue
        try:
            need_time(name)
            errs = fn(markers, funcs)
        except Skip as e:
            print("SKIPPED %s: %s" % (name, e))
            continue
        except Fail as e:
            errs = [str(e)]
        except Exception as e:  # a bug in the runner or a malformed output
            errs = ["%s: %s" % (type(e).__name__, e)]
        finally:
            cleanup()
        if errs:
            failed += 1
            print("FAIL %s:" % name)
            for e in errs[:20]:
                print("    - " + e)
        else:
            passed += 1
            print("ok %s" % name)
    if not VERBOSE:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%s: %d passed, %d failed" % (suite, passed, failed))
    return 1 if failed else 0


def memtrace_dashdash(args, out, target_args=(), timeout=RUN_TIMEOUT, env=None, stdin_data=None):
    return run([MEMTRACE] + list(args) + ["-o", out, "--", LEAK] + list(target_args),
               timeout=timeout, env=env, stdin_data=stdin_data)


def require_clean_run(r, out, want_rc=0):
    if r.timed_out or r.rc != want_rc:
        raise Fail("memtrace -- leak_apis: %s (want exit %d)" % (r.describe(), want_rc))
    reps = read_reports(out)
    if not reps:
        raise Fail("no report in -o file; %s" % r.describe())
    return reps


STATE = {}  # results shared between cases (line-mode totals, the report for valgrind)


@case("dashdash-exact")
def t_dashdash(markers, funcs):
    """`--` mode, line grouping: every marker exact; pass-through of output."""
    plain = run([LEAK], timeout=30)
    if plain.rc != 0:
        raise Fail("untraced leak_apis failed: %s" % plain.describe())
    out = os.path.join(TMP, "dashdash.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0"], out)
    reps = require_clean_run(r, out)
    errs = []
    m = re.search(r"^memtrace: attached to pid (\d+)", r.err, re.M)
    if not m:
        errs.append("no 'memtrace: attached to pid N' line on stderr")
    rep = final_report(reps)
    STATE["line_report"] = rep
    STATE.setdefault("counter_reports", []).insert(0, ("--", rep, 0))
    if m and rep.get("pid") != int(m.group(1)):
        errs.append("report pid %s != attached pid %s" % (rep.get("pid"), m.group(1)))
    if rep.get("exited") is not True:
        errs.append("final report of an exited command has exited=%r" % rep.get("exited"))
    if rep.get("group_by") != "line":
        errs.append("group_by=%r, want 'line'" % rep.get("group_by"))
    if rep.get("comm") != "leak_apis":
        errs.append("comm=%r, want 'leak_apis'" % rep.get("comm"))
    errs += check_consistency(rep)
    errs += check_lines(rep, markers, funcs, expected(markers))
    # the command's output passes through untouched
    if r.out != plain.out:
        errs.append("stdout differs from an untraced run: %r vs %r" % (r.out[:200], plain.out[:200]))
    their_err = [l for l in r.err.splitlines() if not l.startswith("memtrace:")]
    if their_err != plain.err.splitlines():
        errs.append("target's stderr differs: %r vs %r" % (their_err[:5], plain.err.splitlines()))
    vlog("other live sites: " + "; ".join(other_sites(rep)))
    return errs


FOLDED_SPEEDSCOPE = re.compile(r"^(.*) (\d+)$")                 # speedscope's import regex
FOLDED_FLAMEGRAPH = re.compile(r"^(.*)\s+?(\d+(?:\.\d*)?)$")  # flamegraph.pl's


def check_folded(text):
    """Folded lines as both parsers read them, strictly: one space, integer, no empty frame.
    Returns (errors, [(frames, bytes)])."""
    errs, stacks = [], []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        m = FOLDED_SPEEDSCOPE.match(line)
        m2 = FOLDED_FLAMEGRAPH.match(line)
        if not m or not m2 or m.group(1) != m2.group(1) or int(m2.group(2)) != int(m.group(2)):
            errs.append("folded line %d not read alike by speedscope and flamegraph.pl: %.120s"
                        % (n, line))
            continue
        frames = m.group(1).split(";")
        if any(not f or f != f.strip(" ") and f.endswith(" ") for f in frames) or \
                "  " in line[-22:] or line != line.rstrip() or "\r" in line:
            errs.append("folded line %d: empty frame or stray space: %.120s" % (n, line))
        if int(m.group(2)) <= 0:
            errs.append("folded line %d: %s bytes" % (n, m.group(2)))
        stacks.append((frames, int(m.group(2))))
    return errs, stacks


def run_unprivileged(argv, timeout=60):
    """Run as nobody: the saved-report subcommands need no root."""
    return run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv,
               timeout=timeout)


@case("saved-reports")
def t_saved_reports(markers, funcs):
    """memtrace report re-renders a saved file as nobody: JSON byte-identical, folded stacks
    that parse and add up to the total exactly, text; memtrace diff of a file with itself."""
    if not shutil.which("setpriv"):
        need_tool("setpriv")
    errs = []
    out = os.path.join(TMP, "saved.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0"], out)
    reps = require_clean_run(r, out)
    os.chmod(TMP, 0o755)
    os.chmod(out, 0o644)
    with open(out, "rb") as f:
        saved = f.read()

    again = run_unprivileged([MEMTRACE, "report", "--all", "--format", "json", out])
    if again.rc != 0 or again.out.encode() != saved:
        errs.append("report --all --format json is not the saved file byte for byte (%s)"
                    % again.describe())

    last = reps[-1]
    fold = run_unprivileged([MEMTRACE, "report", "--format", "folded", out])
    if fold.rc != 0:
        errs.append("report --format folded: %s" % fold.describe())
    else:
        ferrs, stacks = check_folded(fold.out)
        errs += ferrs
        want = [(st["bytes"]) for s in last["sites"] for st in s.get("stacks", []) if st["bytes"] > 0]
        if len(stacks) != len(want):
            errs.append("%d folded lines, %d stacks with bytes in the JSON" % (len(stacks), len(want)))
        if sum(b for _, b in stacks) != last["total_bytes"]:
            errs.append("folded lines add up to %d bytes, total_bytes %d"
                        % (sum(b for _, b in stacks), last["total_bytes"]))
        # each marked line of leak_apis.c: the folded stacks whose leaf frame names it add up
        # to exactly the JSON's bytes for that line
        for s in last["sites"]:
            if not s.get("file") or not s["file"].endswith(SRC_BASE) or not s.get("stacks"):
                continue
            tag = "%s (%s:%d)" % (s["function"], s["file"], s["line"])
            got = sum(b for frames, b in stacks
                      if any(f == tag for f in frames))
            if got < s["bytes"]:
                errs.append("folded stacks through %s: %d bytes, JSON says %d" % (tag, got, s["bytes"]))

    text = run_unprivileged([MEMTRACE, "report", out])
    if text.rc != 0 or not re.search(r"^memtrace: pid %d \(" % last["pid"], text.out, re.M):
        errs.append("report (text): %s" % text.describe())

    d = run_unprivileged([MEMTRACE, "diff", "--format", "json", out, out])
    try:
        dj = json.loads(d.out) if d.rc == 0 else None
    except ValueError:
        dj = None
    if not dj:
        errs.append("diff A A: %s" % d.describe())
    elif dj["growth_bytes"] != 0 or any(x["growth_bytes"] or x["state"] != "both"
                                         for x in dj["rows"]) or \
            dj["bytes_b"] != last["total_bytes"]:
        errs.append("diff of a file with itself is not all zero: %.200s" % d.out)

    bad = os.path.join(TMP, "saved-bad.json")
    with open(bad, "wb") as f:
        f.write(saved[:len(saved) // 2])
    os.chmod(bad, 0o644)
    b = run_unprivileged([MEMTRACE, "report", bad])
    if b.rc != 1 or not re.search(r"line 1: byte \d+: truncated", b.err):
        errs.append("a truncated file: want exit 1 and 'line 1: byte N: truncated', got %s"
                    % b.describe())
    return errs


@case("attach-modes")
def t_attach_modes(markers, funcs):
    """The exact line check under each --attach-mode memtrace offers besides auto."""
    h = run([MEMTRACE, "--help"], timeout=ERROR_TIMEOUT)
    if h.rc != 0 or "--attach-mode" not in h.out + h.err:
        raise Skip("memtrace --help lists no --attach-mode (%s)" % h.describe())
    errs = []
    for mode in ("multi", "perf"):  # auto (session here) is every other case
        out = os.path.join(TMP, "mode-%s.json" % mode)
        r = memtrace_dashdash(["--format", "json", "--top", "0", "--attach-mode", mode], out)
        try:
            rep = final_report(require_clean_run(r, out))
        except Fail as e:
            errs.append("%s: %s" % (mode, e))
            continue
        STATE.setdefault("counter_reports", []).append(("--attach-mode " + mode, rep, 0))
        errs += ["%s: %s" % (mode, e) for e in check_lines(rep, markers, funcs, expected(markers))]
    return errs


# sys_paths.c: RAW_PAGES, ASM_PAGES (mmaps that bypass libc's wrapper, left mapped), and the
# calls that fail: the mremap that cannot grow in place, the reallocarray whose product wraps
SYS_RAW_PAGES = (37, 41)
SYS_FAILED_CALLS = 2
TP_LINE = r"(?m)^memtrace:\s+%s\s+syscall tracepoint\s+no trap$"
UPROBE_LINE = r"(?m)^memtrace:\s+%s\s+at 0x[0-9a-f]+"
# no tracefs, and no CAP_SYS_ADMIN to mount one: the tracepoints cannot attach
NO_TRACEFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              "umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; "
              "exec setpriv --bounding-set -sys_admin \"$@\"", "sh"]


def sys_paths_run(label, prefix, args, line_re, said=None):
    """memtrace -v ARGS -- sys_paths: -v names the attachment of mmap, munmap, mremap (and
    says `said` once, when given);
    the markers are exact, mmaps that bypass libc's wrapper are not counted, alloc_failed
    is exact. Returns (errors, sys_paths.c line -> stacks)."""
    out = os.path.join(TMP, "sys-%s.json" % re.sub(r"\W+", "_", label))
    r = run(prefix + [MEMTRACE, "-v", "--format", "json", "--top", "0", "-o", out] + args +
            ["--", SYS_PATHS], timeout=RUN_TIMEOUT)
    if r.timed_out or r.rc != 0:
        return ["%s: memtrace -- sys_paths: %s" % (label, r.describe())], {}
    errs = []
    for fn in ("mmap", "munmap", "mremap"):
        if not re.search(line_re % fn, r.err):
            errs.append("-v shows no %r line for %s" % (line_re % fn, fn))
    if said and len(re.findall(said, r.err)) != 1:
        errs.append("-v does not say once %r: %s" % (said, r.err[:300]))
    truth, _ = parse_markers(SYS_SRC, min_markers=1)
    rep = final_report(read_reports(out))
    got = per_line(rep, base(SYS_SRC))
    for line in sorted(set(truth) | set(got), key=lambda x: x or 0):
        b, c = got.get(line, [0, 0])[:2]
        m = truth.get(line)
        if m and (b, c) != (m.bytes, m.count):
            errs.append("sys_paths.c:%d %d B/%d, want %d B/%d  [%s]" % (
                line, b, c, m.bytes, m.count, m.text[:60]))
        elif not m and b:
            errs.append("unmarked site sys_paths.c:%s has %d B in %d blocks" % (line, b, c))
    raw = [s for s in sites_of(rep) if num(s, "bytes") in [n * 4096 for n in SYS_RAW_PAGES]]
    if raw:
        errs.append("mmaps that bypass libc's wrapper were counted: %s" % ["%s:%s %s B" % (
            base(s.get("file")), s.get("line"), num(s, "bytes")) for s in raw])
    failed = (rep.get("events") or {}).get("alloc_failed")
    if failed != SYS_FAILED_CALLS:
        errs.append("events.alloc_failed=%s, want %d" % (failed, SYS_FAILED_CALLS))
    errs += check_drops(rep)
    stacks = {s.get("line"): [(f.get("function"), base(f.get("file")), f.get("line"))
                              for f in s.get("stack") or []]
              for s in sites_of(rep) if base(s.get("file")) == base(SYS_SRC)}
    return ["%s: %s" % (label, e) for e in errs], stacks


@case("syscall-tracepoints")
def t_syscall_tracepoints(markers, funcs):
    """mmap, munmap, mremap by system call tracepoints (--syscall-tracepoints on; -v: no
    trap), by uprobes (the default outside -a, and off), and by uprobes when tracepoints
    cannot attach: the same exact numbers and stacks; mmaps made without libc's wrapper are
    never counted."""
    need_binary(SYS_PATHS)
    if not shutil.which("setpriv") or not shutil.which("unshare"):
        need_tool("setpriv/unshare")
    errs, tp_stacks = sys_paths_run("tracepoints", [], ["--syscall-tracepoints", "on"], TP_LINE)
    STATE["tracepoints"] = not errs
    for label, prefix, args, said in (
            ("default (-- mode)", [], [], r"(?m)^memtrace: mmap, munmap, mremap by uprobes "),
            ("--syscall-tracepoints off", [], ["--syscall-tracepoints", "off"], None),
            ("no tracefs", NO_TRACEFS, ["--syscall-tracepoints", "on"],
             r"(?m)^memtrace: mmap, munmap, mremap keep uprobes: "
             r"system call tracepoints did not attach")):
        e, stacks = sys_paths_run(label, prefix, args, UPROBE_LINE, said)
        errs += e
        if not e and stacks != tp_stacks:
            errs.append("%s: stacks differ from the tracepoints': %s vs %s" % (
                label, stacks, tp_stacks))
    # every other -- and -p case runs with uprobes (the default); leak_apis with tracepoints
    out = os.path.join(TMP, "tps.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--syscall-tracepoints", "on"], out)
    rep = final_report(require_clean_run(r, out))
    STATE.setdefault("counter_reports", []).append(("--syscall-tracepoints on", rep, 0))
    errs += ["--syscall-tracepoints on: %s" % e
             for e in check_lines(rep, markers, funcs, expected(markers))]
    return errs


@case("dashdash-passthrough")
def t_passthrough(markers, funcs):
    """exit status, death by signal, args/env/stdin pass through."""
    errs = []
    out = os.path.join(TMP, "exit3.json")
    r = memtrace_dashdash(["--format", "json"], out, ["--exit", "3"])
    if r.timed_out or r.rc != 3:
        errs.append("leak_apis --exit 3: memtrace %s, want exit 3" % r.describe())
    elif not read_reports(out) or read_reports(out)[-1].get("final") is not True:
        errs.append("leak_apis --exit 3: no final report")
    out = os.path.join(TMP, "kill15.json")
    r = memtrace_dashdash(["--format", "json"], out, ["--kill", "15"])
    if r.timed_out or r.rc != 128 + 15:
        errs.append("leak_apis --kill 15: memtrace %s, want exit 143 (128+SIGTERM)" % r.describe())
    else:
        reps = read_reports(out)
        if not reps or reps[-1].get("final") is not True or reps[-1].get("exited") is not True:
            errs.append("leak_apis --kill 15: no final report with exited=true")
    args = ["--echo", "two words", "", "--format", "-p", "*", "$HOME", "ünï"]
    env = dict(os.environ, LEAK_APIS_ENV="x=1 'y' \"z\"")
    data = b"line one\nline two\n"
    plain = run([LEAK] + args, timeout=30, env=env, stdin_data=data)
    out = os.path.join(TMP, "echo.json")
    r = memtrace_dashdash(["--format", "json"], out, args, env=env, stdin_data=data)
    if r.timed_out or r.rc != 0:
        errs.append("leak_apis --echo: memtrace %s" % r.describe())
    # argv[0] is the path the command was run as; compare the rest
    strip0 = lambda s: "\n".join(l for l in s.splitlines() if not l.startswith("arg[0]="))
    if strip0(r.out) != strip0(plain.out):
        errs.append("args/env/stdin not passed through: got %r, want %r" % (
            strip0(r.out)[:300], strip0(plain.out)[:300]))
    return errs


def wait_settled_report(mt, out, pid, timeout=15):
    """After the target printed 'done': wait for two more reports, return the last."""
    n0 = len(for_pid(read_reports(out), pid))
    reps = wait_reports(out, pid, n0 + 2, timeout)
    if len(reps) < n0 + 2:
        mt.fail_context("no report for pid %d within %d s after the work was done "
                        "(%d reports so far)" % (pid, timeout, len(reps)))
    return reps[-1]


RSS_KEYS = ("rss_bytes", "rss_anon_bytes", "swap_bytes")


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def check_rss(rep, pid):
    """RSS fields of a live process's report: integers, anon <= rss, near what /proc says now."""
    errs = []
    vals = {k: rep.get(k, "missing") for k in RSS_KEYS}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals.values()):
        return ["rss fields not non-negative integers: %s" % vals]
    if vals["rss_anon_bytes"] > vals["rss_bytes"]:
        errs.append("rss_anon_bytes %d > rss_bytes %d" % (vals["rss_anon_bytes"], vals["rss_bytes"]))
    if vals["rss_bytes"] % 4096:
        errs.append("rss_bytes %d is not whole pages" % vals["rss_bytes"])
    now = status_kb(pid, "VmRSS")
    # the target is idle after its work: its RSS moves by a few pages at most
    if now is not None and not (now // 2 <= vals["rss_bytes"] <= now * 2):
        errs.append("rss_bytes %d far from VmRSS %d read now" % (vals["rss_bytes"], now))
    if not isinstance(rep.get("untraced_growth_bytes"), int):
        errs.append("untraced_growth_bytes missing: %r" % rep.get("untraced_growth_bytes"))
    return errs


@case("pid-mode")
def t_pid(markers, funcs):
    """-p on a waiting process; exact interval report; exits by itself."""
    errs = []
    t = Target(["--pre"])  # 100 blocks live before the attach, freed after it
    out = os.path.join(TMP, "pid.json")
    mt = Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p", str(t.pid),
                   "-o", out])
    try:
        mt.wait_attached(t.pid)
        t.start_work()
        rep = wait_settled_report(mt, out, t.pid)
        if rep.get("final"):
            errs.append("report while the process lives has final=true")
        errs += ["interval report: " + e for e in check_rss(rep, t.pid)]
        errs += ["interval report: " + e for e in check_consistency(rep)]
        errs += ["interval report: " + e for e in
                 check_lines(rep, markers, funcs, expected(markers))]
        STATE.setdefault("counter_reports", []).append(("-p (interval report)", rep, N_PRE))
        seqs = [x.get("seq") for x in for_pid(read_reports(out), t.pid)]
        if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
            errs.append("seq not increasing: %s" % seqs[:20])
        t.finish()
        rc = mt.wait_exit(5)
        if rc is None:
            errs.append("memtrace still running 5 s after its only target exited")
            mt.stop()
        elif rc != 0:
            errs.append("memtrace exited %s after the target exited, want 0" % rc)
        reps = for_pid(read_reports(out), t.pid)
        last = reps[-1] if reps else {}
        if last.get("final") is not True or last.get("exited") is not True:
            errs.append("last report is not final/exited: %s" % brief(last))
        elif any(last.get(k, 0) is not None for k in RSS_KEYS):
            errs.append("exited process: rss fields not null: %s" %
                        {k: last.get(k, "missing") for k in RSS_KEYS})
        else:
            errs += ["final report: " + e for e in
                     check_lines(last, markers, funcs, expected(markers))]
    finally:
        mt.stop()
    return errs


def parse_valgrind(xml_path):
    """line -> definitely lost bytes, by the innermost frame in leak_apis.c."""
    per_line = collections.Counter()
    unplaced = 0
    root = ET.parse(xml_path).getroot()
    for e in root.iter("error"):
        if e.findtext("kind") != "Leak_DefinitelyLost":
            continue
        lost = int(e.find("xwhat").findtext("leakedbytes"))
        line = None
        for fr in e.find("stack").iter("frame"):
            if fr.findtext("file") == SRC_BASE:
                line = int(fr.findtext("line"))
                break
        if line is None:
            unplaced += lost
        else:
            per_line[line] += lost
    return per_line, unplaced


@case("event-counters")
def t_counters(markers, funcs):
    """drops all zero; events.alloc_failed and untracked_free exact (reports of earlier cases)."""
    reps = STATE.get("counter_reports")
    if not reps:  # the cases that make these reports did not run: one of our own
        out = os.path.join(TMP, "counters.json")
        r = memtrace_dashdash(["--format", "json", "--top", "0"], out)
        reps = [("--", final_report(require_clean_run(r, out)), 0)]
    errs = []
    for label, rep, pre in reps:
        errs += ["%s: %s" % (label, e) for e in check_drops(rep) + check_events(rep, pre)]
    return errs


@case("valgrind-peer")
def t_valgrind(markers, funcs):
    """valgrind's definitely-lost bytes per line vs memtrace (malloc family only)."""
    vg = shutil.which("valgrind")
    if not vg:
        need_tool("valgrind")
    xml = os.path.join(TMP, "vg.xml")
    r = run([vg, "--leak-check=full", "--xml=yes", "--xml-file=" + xml, LEAK, "--no-pvalloc"],
            timeout=90)
    if r.timed_out or r.rc != 0:
        raise Fail("valgrind run: %s" % r.describe())
    vgl, unplaced = parse_valgrind(xml)
    rep = STATE.get("line_report")
    if rep is None:  # dashdash-exact did not run or produced nothing: our own run
        out = os.path.join(TMP, "vg-memtrace.json")
        r = memtrace_dashdash(["--format", "json", "--top", "0"], out)
        rep = final_report(require_clean_run(r, out))
    mt = collections.Counter()
    for s in sites_of(rep):
        if is_ours(s):
            mt[s.get("line")] += num(s, "bytes")
    compared = sorted(l for l, m in markers.items() if m.kind != "mmap" and m.vg != "skip")
    skipped = sorted(l for l, m in markers.items() if m.kind == "mmap" or m.vg == "skip")
    errs = []
    for l in sorted(set(compared) | set(vgl)):
        if l in skipped:
            continue
        if vgl.get(l, 0) != mt.get(l, 0):
            errs.append("%s:%d (%s): valgrind definitely lost %d B, memtrace %d B" % (
                SRC_BASE, l, funcs.get(l), vgl.get(l, 0), mt.get(l, 0)))
        if l in markers and vgl.get(l, 0) != markers[l].bytes:
            errs.append("%s:%d: valgrind %d B disagrees with the marker %d B (target bug?)" % (
                SRC_BASE, l, vgl.get(l, 0), markers[l].bytes))
    if unplaced:
        errs.append("valgrind: %d definitely lost bytes without a %s frame" % (unplaced, SRC_BASE))
    info("valgrind-peer: compared %d lines of the malloc family (malloc, calloc, realloc, "
         "reallocarray, posix_memalign, aligned_alloc, memalign, valloc, mmap-served malloc/calloc, "
         "threads); skipped %d lines valgrind cannot see (mmap, mremap) or aborts on (pvalloc)"
         % (len(compared), len(skipped)))
    return errs


# ---- BPF links --------------------------------------------------------------

UPROBE_LINK_TYPES = ("uprobe_multi", "12", "perf_event", "7")


def bpftool_links():
    """id -> type of every BPF link on the system (bpftool -j link show)."""
    r = run(["bpftool", "-j", "link", "show"], timeout=20)
    if r.rc != 0:
        raise Fail("bpftool link show: %s" % r.describe())
    try:
        links = json.loads(r.out or "[]")
    except ValueError:
        raise Fail("bpftool -j link show: not JSON: %.100s" % r.out)
    return {l["id"]: str(l.get("type")) for l in links}


def held_links(pid):
    """BPF links whose fds process pid holds: [(link_id, link_type, uprobe pid or None)]."""
    out = []
    d = "/proc/%d/fdinfo" % pid
    try:
        fds = os.listdir(d)
    except OSError:
        return out
    for fd in fds:
        try:
            with open(os.path.join(d, fd), errors="replace") as f:
                info = f.read()
        except OSError:
            continue
        m = re.search(r"^link_id:\s*(\d+)", info, re.M)
        if not m:
            continue
        t = re.search(r"^link_type:\s*(\S+)", info, re.M)
        p = re.search(r"^pid:\s*(\d+)", info, re.M)
        out.append((int(m.group(1)), t.group(1) if t else "?", int(p.group(1)) if p else None))
    return out


def held_bpf_fds(pid):
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if "bpf" in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def count_type12(links):
    return sum(1 for t in links.values() if t in ("12", "uprobe_multi"))


def links_gone(ids, timeout=3.0):
    end = time.monotonic() + timeout
    while True:
        left = set(ids) & set(bpftool_links())
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


@case("bpf-links")
def t_links(markers, funcs):
    """uprobe links exist while tracing and are gone after exit and after kill -9."""
    if not shutil.which("bpftool"):
        need_tool("bpftool")
    errs = []
    before = bpftool_links()
    counts = [count_type12(before)]

    # 1: -p mode, target exits, memtrace exits by itself
    t = Target()
    out = os.path.join(TMP, "links1.json")
    mt = Memtrace(["--format", "json", "--interval", "0.5", "-p", str(t.pid), "-o", out])
    try:
        mt.wait_attached(t.pid)
        held = held_links(mt.p.pid)
        ups = [h for h in held if h[1] in UPROBE_LINK_TYPES]
        during = bpftool_links()
        counts.append(count_type12(during))
        vlog("memtrace holds links %s" % held)
        if not ups:
            errs.append("-p: memtrace holds no uprobe link fd while attached (links: %s)" % held)
        missing = [h[0] for h in ups if h[0] not in during]
        if missing:
            errs.append("-p: links %s held by memtrace not listed by bpftool" % missing)
        wrong = [h for h in ups if h[2] is not None and h[2] != t.pid]
        if wrong:
            errs.append("-p %d: uprobe_multi links not filtered to the target pid: %s" % (t.pid, wrong))
        if held_bpf_fds(t.pid):
            errs.append("the traced process holds BPF fds")
        t.start_work()
        t.finish()
        rc = mt.wait_exit(10)
        if rc is None:
            errs.append("-p: memtrace still running 10 s after its target exited")
            mt.stop()
        left = links_gone([h[0] for h in held])
        if left:
            errs.append("-p: links %s still exist after memtrace exited" % sorted(left))
    finally:
        mt.stop()

    # 2: -p mode, memtrace killed with SIGKILL; the target must live on unharmed
    t = Target()
    out = os.path.join(TMP, "links2.json")
    mt = Memtrace(["--format", "json", "--interval", "0.5", "-p", str(t.pid), "-o", out])
    try:
        mt.wait_attached(t.pid)
        held = held_links(mt.p.pid)
        if not [h for h in held if h[1] in UPROBE_LINK_TYPES]:
            errs.append("kill -9: memtrace holds no uprobe link fd while attached")
        os.kill(mt.p.pid, signal.SIGKILL)
        mt.p.wait(10)
        left = links_gone([h[0] for h in held])
        if left:
            errs.append("kill -9: links %s still exist after memtrace was killed" % sorted(left))
        try:
            t.start_work()
            t.finish()
        except Fail as e:
            errs.append("kill -9: the target did not survive memtrace's death: %s" % e)
    finally:
        mt.stop()

    # 3: `--` mode: the command must not inherit memtrace's BPF fds
    out = os.path.join(TMP, "links3.json")
    mt = Memtrace(["--format", "json", "-o", out, "--", LEAK, "--wait"])
    try:
        m = mt.out.wait(regex(r"^ready (\d+)$"), 30)
        if not m:
            mt.fail_context("`-- leak_apis --wait` never printed ready")
        cpid = int(m.group(1))
        mt.wait_attached(cpid)
        held = held_links(mt.p.pid)
        if not [h for h in held if h[1] in UPROBE_LINK_TYPES]:
            errs.append("--: memtrace holds no uprobe link fd while attached")
        n = held_bpf_fds(cpid)
        if n:
            errs.append("--: the command inherited %d BPF fds from memtrace (missing O_CLOEXEC?)" % n)
        os.kill(cpid, signal.SIGUSR1)
        if not mt.out.wait(regex(r"^done$"), 30):
            mt.fail_context("`-- leak_apis --wait` never printed done")
        os.kill(cpid, signal.SIGUSR2)
        rc = mt.wait_exit(10)
        if rc != 0:
            errs.append("--: memtrace exit %s after the command exited 0" % rc)
        left = links_gone([h[0] for h in held])
        if left:
            errs.append("--: links %s still exist after memtrace exited" % sorted(left))
    finally:
        mt.stop()

    after = bpftool_links()
    counts.append(count_type12(after))
    info("bpf-links: uprobe_multi (bpftool: type 12) links system-wide: before %d, while "
         "attached %d, after %d; ownership checked in /proc/PID/fdinfo" % tuple(counts))
    new = {i: t for i, t in after.items() if i not in before and t in UPROBE_LINK_TYPES}
    if new and not other_memtraces():
        errs.append("new uprobe links left on the system: %s" % new)
    return errs


def other_memtraces():
    """Pids of memtrace processes we did not start (another engineer's run)."""
    ours = {p.pid for p in CHILDREN}
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in ours:
            try:
                # a process may name itself with any bytes (hostile.py's do)
                with open("/proc/%s/comm" % d, errors="replace") as f:
                    if f.read().strip() == "memtrace":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


# ---- bad input --------------------------------------------------------------

def expect_error(name, argv, need_error_line=True, extra_check=None, allow_argp=False):
    r = run([MEMTRACE] + argv, timeout=ERROR_TIMEOUT)
    errs = []
    lines = [l for l in r.err.splitlines() if l.strip()]
    if r.timed_out:
        errs.append("hung: no exit within %.0f s" % ERROR_TIMEOUT)
    elif r.rc < 0:
        errs.append("crashed: killed by signal %d" % -r.rc)
    elif r.rc == 0:
        errs.append("exit status 0, want non-zero")
    if not r.timed_out:
        if any(l.startswith("memtrace: attached") for l in lines):
            errs.append("printed an 'attached' line")
        errline = [l for l in lines if l.startswith("memtrace: error:")]
        if allow_argp and not errline:
            if not lines:
                errs.append("no message on stderr")
        elif need_error_line:
            if len(lines) != 1 or not lines[0].startswith("memtrace: error:"):
                errs.append("stderr must be exactly one 'memtrace: error: ...' line, got %d lines: %s"
                            % (len(lines), " | ".join(lines[:4]) or "(empty)"))
        if extra_check:
            errs += extra_check(r)
    if errs:
        errs[0] += "  [$ memtrace %s -> %s]" % (" ".join(argv), r.describe())
    result("bad-input:" + name, errs)


def free_pid():
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    for pid in (999999, pid_max - 1, pid_max - 7):
        if pid < pid_max and not os.path.exists("/proc/%d" % pid):
            return pid
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    return 999999


@case("bad-input")
def t_bad_input(markers, funcs):
    """Each bad input: non-zero exit within 10 s, one error line, no crash."""
    sleeper = Target()  # a valid pid to pair with bad options
    try:
        pid = free_pid()
        expect_error("no-such-pid", ["-p", str(pid)])
        expect_error("kernel-thread", ["-p", "2"])
        expect_error("pid-list-garbage", ["-p", "12x,"])

        exe = os.path.join(TMP, "static_nolibc")
        cc = run(["cc", "-static", "-nostdlib", "-fno-stack-protector", "-O1", "-Wall", "-Werror",
                  NOLIBC_SRC, "-o", exe], timeout=60)
        if cc.rc != 0:
            result("bad-input:static-nolibc", "cannot build %s: %s" % (NOLIBC_SRC, cc.describe()))
        else:
            expect_error("static-nolibc-cmd", ["--", exe])
            sp = spawn([exe, "sleep"])
            try:
                expect_error("static-nolibc-pid", ["-p", str(sp.pid)])
            finally:
                kill_group(sp)
                reap(sp)

        def mentions(word):
            return lambda r: [] if word in r.err else ["stderr does not mention %r" % word]

        expect_error("unknown-option", ["--no-such-option", "-p", str(sleeper.pid)],
                     allow_argp=True, extra_check=mentions("no-such-option"))
        expect_error("negative-interval", ["--interval", "-1", "-p", str(sleeper.pid)])
        expect_error("group-by-nonsense", ["--group-by", "nonsense", "--", LEAK],
                     extra_check=lambda r: ["the command ran (its output appeared)"]
                     if "leak_apis done" in r.out else [])
        expect_error("format-nonsense", ["--format", "xml", "-p", str(sleeper.pid)])
        expect_error("missing-command", ["--", "/nonexistent/cmd-e2e"])
        expect_error("no-target", [])
        if held_bpf_fds(sleeper.pid):
            result("bad-input:target-untouched", "the waiting target holds BPF fds")
        sleeper.start_work()  # the refused runs must not have harmed it
        sleeper.finish()
    finally:
        kill_group(sleeper.p)
    return None  # sub-results already recorded


# ---- grouping -----------------------------------------------------------------

def run_grouped(mode):
    out = os.path.join(TMP, "group-%s.json" % mode)
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--group-by", mode], out)
    rep = final_report(require_clean_run(r, out))
    errs = []
    if rep.get("group_by") != mode:
        errs.append("group_by=%r, want %r" % (rep.get("group_by"), mode))
    errs += check_consistency(rep)
    base_rep = STATE.get("line_report")
    if base_rep:
        for k in ("total_bytes", "total_count"):
            if rep.get(k) != base_rep.get(k):
                errs.append("%s=%s, line mode had %s" % (k, rep.get(k), base_rep.get(k)))
    return rep, errs


def row_is_ours(s):
    return is_ours(s) or base(s.get("module")) == MODULE


@case("group-by-function")
def t_group_function(markers, funcs):
    rep, errs = run_grouped("function")
    want = collections.defaultdict(lambda: [0, 0])
    for m in markers.values():
        want[m.func][0] += m.bytes
        want[m.func][1] += m.count
    got = collections.defaultdict(lambda: [0, 0])
    rows = collections.Counter()
    for s in sites_of(rep):
        if row_is_ours(s):
            got[s.get("function")][0] += num(s, "bytes")
            got[s.get("function")][1] += num(s, "count")
            rows[s.get("function")] += 1
    for fn in sorted(set(want) | set(got), key=str):
        if tuple(got.get(fn, (0, 0))) != tuple(want.get(fn, (0, 0))):
            errs.append("function %s: bytes/count %d/%d, want %d/%d" % (
                fn, got[fn][0], got[fn][1], want[fn][0], want[fn][1]))
    dup = [fn for fn, n in rows.items() if n > 1]
    if dup:
        errs.append("functions with several rows: %s" % dup)
    return errs


@case("group-by-file")
def t_group_file(markers, funcs):
    rep, errs = run_grouped("file")
    rows = [s for s in sites_of(rep) if is_ours(s)]
    wb = sum(m.bytes for m in markers.values())
    wc = sum(m.count for m in markers.values())
    gb = sum(num(s, "bytes") for s in rows)
    gc = sum(num(s, "count") for s in rows)
    # one row per kind of memory: the file's heap blocks, its mappings
    kinds = sorted(set(m.kind for m in markers.values() if m.bytes))
    if sorted(s.get("kind", "heap") for s in rows) != kinds:
        errs.append("rows of kinds %s for %s, want one of each of %s" % (
            sorted(s.get("kind") for s in rows), SRC_BASE, kinds))
    for k in kinds:
        want = sum(m.bytes for m in markers.values() if m.kind == k)
        got = sum(num(s, "bytes") for s in rows if s.get("kind", "heap") == k)
        if got != want:
            errs.append("%s, kind %s: %d bytes, want %d" % (SRC_BASE, k, got, want))
    if (gb, gc) != (wb, wc):
        errs.append("%s: bytes/count %d/%d, want %d/%d" % (SRC_BASE, gb, gc, wb, wc))
    return errs


@case("group-by-stack")
def t_group_stack(markers, funcs):
    rep, errs = run_grouped("stack")
    per_line = collections.defaultdict(lambda: [0, 0])
    nostack = 0
    runtime = []
    for s in sites_of(rep):
        st = s.get("stack")
        if not isinstance(st, list) or not st:
            nostack += 1
            continue
        fr = next((f for f in st if base(f.get("file")) == SRC_BASE), None)
        if fr is None:
            continue
        if fr.get("line") not in markers and base(st[0].get("file")) != SRC_BASE:
            # the C library's own block for a call of the program (the CFI unwinder walks
            # libc and ld.so): pthread_create's thread-local storage; no marker, not a leak
            runtime.append("%s:%s %s %d B/%d" % (base(st[0].get("file")), st[0].get("line"),
                                                  st[0].get("function"), num(s, "bytes"),
                                                  num(s, "count")))
            continue
        per_line[fr.get("line")][0] += num(s, "bytes")
        per_line[fr.get("line")][1] += num(s, "count")
        fnames = [f.get("function") for f in st]
        if num(s, "bytes") and fr.get("line") in markers and "run_all" not in fnames \
                and "thread_worker" not in fnames:
            errs.append("stack of %s:%s lacks its callers: %s" % (SRC_BASE, fr.get("line"), fnames))
    if nostack:
        errs.append("%d rows without a stack" % nostack)
    if runtime:
        info("group-by-stack: the C library's blocks for calls of the program: %s"
             % "; ".join(runtime))
    exp = expected(markers)
    for line in sorted(set(exp) | set(per_line), key=lambda x: x or 0):
        want = exp.get(line, (0, 0))
        got = tuple(per_line.get(line, (0, 0)))
        if got != want:
            errs.append("stacks whose innermost %s frame is line %s: %d/%d, want %d/%d" % (
                SRC_BASE, line, got[0], got[1], want[0], want[1]))
    return errs[:15]


# ---- filters --------------------------------------------------------------------

@case("size-filters")
def t_filters(markers, funcs):
    errs = []
    for name, args, lo, hi in (("min-size 4000", ["--min-size", "4000"], 4000, None),
                               ("max-size 1024", ["--max-size", "1024"], None, 1024),
                               ("min 100 max 900", ["--min-size", "100", "--max-size", "900"],
                                100, 900)):
        out = os.path.join(TMP, "filter-%s.json" % name.replace(" ", "_"))
        r = memtrace_dashdash(["--format", "json", "--top", "0"] + args, out)
        try:
            rep = final_report(require_clean_run(r, out))
        except Fail as e:
            errs.append("%s: %s" % (name, e))
            continue
        errs += ["--%s: %s" % (name, e) for e in
                 check_lines(rep, markers, funcs, expected(markers, lo, hi))]
    out = os.path.join(TMP, "min-age.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--min-age", "3600"], out)
    try:
        rep = final_report(require_clean_run(r, out))
        young = [s for s in sites_of(rep) if is_ours(s) and num(s, "bytes")]
        if young:
            errs.append("--min-age 3600: %d sites of a 1-second-old process reported, e.g. %s:%s"
                        % (len(young), SRC_BASE, young[0].get("line")))
    except Fail as e:
        errs.append("--min-age 3600: %s" % e)
    return errs


@case("alloc-table-spill")
def t_spill(markers, funcs):
    """A table too small for the live set: the overflow goes to the spill map, still exact."""
    out = os.path.join(TMP, "spill.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--max-allocs", "1024"], out)
    rep = final_report(require_clean_run(r, out))
    errs = check_drops(rep) + check_lines(rep, markers, funcs, expected(markers))
    spilled = (rep.get("events") or {}).get("spilled")
    if not spilled:
        errs.append("events.spilled=%r with a 1024-entry table: the spill path was not taken"
                    % spilled)
    return errs


@case("min-age-exact")
def t_min_age(markers, funcs):
    """--min-age rebuilds sites from the live allocations: every marker still exact."""
    out = os.path.join(TMP, "min-age-exact.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--min-age", "0.000001"], out)
    rep = final_report(require_clean_run(r, out))
    return check_drops(rep) + check_lines(rep, markers, funcs, expected(markers))


def held_map_ids(pid):
    """{map name: id} of the BPF maps process pid holds (from /proc/PID/fdinfo)."""
    ids = []
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"(?m)^map_id:\s*(\d+)", f.read())
        except OSError:
            continue
        if m:
            ids.append(int(m.group(1)))
    shown = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show"]))
    return {x.get("name"): x["id"] for x in shown if x["id"] in ids}


def map_values(map_id):
    out = json.loads(subprocess.check_output(["bpftool", "-j", "map", "dump", "id", str(map_id)]))
    return [e["formatted"]["value"] for e in out]


@case("sampled-filter-purge")
def t_sampled_filter(markers, funcs):
    """Sampled mode: the free filter counts exactly the live records, also after a traced
    process exits and memtrace drops its records (else frees of live blocks that hash
    alike would be turned away, or the filter would fill up over a long run)."""
    if not shutil.which("bpftool"):
        need_tool("bpftool")
    a, b = Target(), Target()
    out = os.path.join(TMP, "filter.json")
    mt = Memtrace(["--format", "json", "--sample-rate", "2K", "--max-allocs", "1024",
                   "--interval", "0.5", "-p", "%d,%d" % (a.pid, b.pid), "-o", out])
    errs = []
    try:
        mt.wait_attached(a.pid)
        mt.wait_attached(b.pid)
        a.start_work()
        b.start_work()

        def check(when, want_tgids):
            ids = held_map_ids(mt.p.pid)
            live = [v for v in map_values(ids["mt_allocs"]) if v["tgid"]]
            spilled = map_values(ids["mt_allocs_spill"])
            counted = sum(map_values(ids["mt_sampled"]))
            tgids = sorted({v["tgid"] for v in live} | {v["tgid"] for v in spilled})
            if tgids != sorted(want_tgids):
                errs.append("%s: records of %s, want %s" % (when, tgids, sorted(want_tgids)))
            if counted != len(live) + len(spilled):
                errs.append("%s: the filter counts %d records, %d live (%d spilled)"
                            % (when, counted, len(live) + len(spilled), len(spilled)))
        check("both running", [a.pid, b.pid])
        a.finish()
        if not mt.err.wait(regex(r"report #\d+ at .*process exited|pid %d .*exited" % a.pid), 10):
            time.sleep(1.5)
        time.sleep(0.5)
        check("after the first exited", [b.pid])
    finally:
        b.finish()
        mt.wait_exit(10)
        mt.stop()
    return errs


@case("pid-target-killed")
def t_pid_killed(markers, funcs):
    """-p: the target dies by SIGKILL; memtrace ends by itself with a final report."""
    errs = []
    t = Target()
    out = os.path.join(TMP, "killed.json")
    mt = Memtrace(["--format", "json", "--interval", "0.5", "-p", str(t.pid), "-o", out])
    try:
        mt.wait_attached(t.pid)
        t.start_work()
        os.kill(t.pid, signal.SIGKILL)
        reap(t.p)
        rc = mt.wait_exit(5)
        if rc is None:
            errs.append("memtrace still running 5 s after its target was killed")
        elif rc != 0:
            errs.append("memtrace exited %s, want 0" % rc)
        reps = for_pid(read_reports(out), t.pid)
        if not reps or reps[-1].get("final") is not True or reps[-1].get("exited") is not True:
            errs.append("no final report with exited=true: %s" % (brief(reps[-1]) if reps else "none"))
    finally:
        mt.stop()
    return errs


@case("count")
def t_count(markers, funcs):
    """--count N and the positional `interval count`: N reports, exit 0, target unharmed."""
    errs = []
    t = Target()
    try:
        for label, args, n in (("--count 3", ["--interval", "0.2", "--count", "3"], 3),
                               ("positional 0.2 2", [], 2)):
            out = os.path.join(TMP, "count-%d.json" % n)
            argv = ["--format", "json", "-o", out] + args + ["-p", str(t.pid)]
            if not args:
                argv += ["0.2", str(n)]
            mt = Memtrace(argv)
            try:
                rc = mt.wait_exit(15)
                if rc is None:
                    errs.append("%s: still running after 15 s" % label)
                    continue
                if rc != 0:
                    errs.append("%s: exit %s (stderr: %s)" % (label, rc, mt.err.text()[-200:]))
                got = len(for_pid(read_reports(out), t.pid))
                if got != n:
                    errs.append("%s: %d reports, want %d" % (label, got, n))
            finally:
                mt.stop()
        if held_bpf_fds(t.pid):
            errs.append("the target holds BPF fds")
        t.start_work()  # still works after memtrace detached
        t.finish()
    finally:
        kill_group(t.p)
    return errs


@case("top")
def t_top(markers, funcs):
    """--top 3: three rows; groups still counts every group."""
    out = os.path.join(TMP, "top3.json")
    r = memtrace_dashdash(["--format", "json", "--top", "3"], out)
    rep = final_report(require_clean_run(r, out))
    errs = []
    if len(sites_of(rep)) != 3:
        errs.append("--top 3: %d rows" % len(sites_of(rep)))
    base_rep = STATE.get("line_report")
    if base_rep:
        for k in ("groups", "total_bytes", "total_count"):
            if rep.get(k) != base_rep.get(k):
                errs.append("--top 3: %s=%s, --top 0 had %s" % (k, rep.get(k), base_rep.get(k)))
    return errs


# ---- several pids ------------------------------------------------------------------

@case("multi-pid")
def t_multi(markers, funcs):
    errs = []
    a, b = Target(), Target()
    out = os.path.join(TMP, "multi.json")
    mt = Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p",
                   "%d,%d" % (a.pid, b.pid), "-o", out])
    try:
        mt.wait_attached(a.pid)
        mt.wait_attached(b.pid)
        a.start_work()
        b.start_work()
        for t in (a, b):
            rep = wait_settled_report(mt, out, t.pid)
            errs += ["pid %d: %s" % (t.pid, e) for e in
                     check_lines(rep, markers, funcs, expected(markers))]
        na, nb = len(for_pid(read_reports(out), a.pid)), len(for_pid(read_reports(out), b.pid))
        if abs(na - nb) > 1:
            errs.append("uneven reports: %d for pid %d, %d for pid %d" % (na, a.pid, nb, b.pid))
        a.finish()
        time.sleep(1.5)
        if mt.p.poll() is not None:
            errs.append("memtrace exited (%s) when the first of two targets exited" % mt.p.returncode)
        else:
            nb0 = len(for_pid(read_reports(out), b.pid))
            if len(wait_reports(out, b.pid, nb0 + 1, 5)) <= nb0:
                errs.append("no more reports for pid %d after pid %d exited" % (b.pid, a.pid))
        b.finish()
        rc = mt.wait_exit(5)
        if rc is None:
            errs.append("memtrace still running 5 s after both targets exited")
        elif rc != 0:
            errs.append("memtrace exited %s, want 0" % rc)
        reps = read_reports(out)
        for t in (a, b):
            mine = for_pid(reps, t.pid)
            if not mine or mine[-1].get("final") is not True or mine[-1].get("exited") is not True:
                errs.append("pid %d: no final report with exited=true" % t.pid)
            fin = [x for x in mine if x.get("final")]
            if len(fin) > 1:
                errs.append("pid %d: %d final reports" % (t.pid, len(fin)))
    finally:
        mt.stop()
        for t in (a, b):
            kill_group(t.p)
    return errs


# ---- text output ----------------------------------------------------------------------

@case("demo-first-stacks")
def t_demo_first_stacks(markers, funcs):
    """The bundled demo (no frame pointers, strndup from libc): every cached request's
    two blocks at cache_put's two lines, also the first ones, whose stacks the CFI
    unwinder has not learned yet (copies rate-limited): a caller in libc is
    stepped out of with libc's own rule, never a row of its own."""
    prog = os.path.join(ROOT, ".output", "demo", "leaky")
    out = os.path.join(TMP, "demo.json")
    r = run([MEMTRACE, "--format", "json", "--top", "0", "--interval", "1", "-o", out, "--", prog, "2"])
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace -- leaky: %s" % r.describe())
    m = re.search(r"leaky: handled (\d+) requests", r.out)
    if not m:
        raise Fail("leaky did not say how many requests it handled (%r)" % r.out[-200:])
    n = (int(m.group(1)) + 3) // 4  # every fourth request is cached (ids 0, 4, ...)
    rows = {}
    errs = []
    for s in sites_of(final_report(read_reports(out))):
        if base(s.get("file")) == "leaky.c":
            rows[s.get("line")] = rows.get(s.get("line"), 0) + num(s, "count")
        elif "strndup" in (s.get("function") or ""):
            errs.append("a row in %s: %s allocations" % (s.get("function"), s.get("count")))
    if sorted(rows.items()) != [(21, n), (23, n)]:
        errs.append("leaky.c rows %s, want %d allocations at lines 21 and 23" % (rows, n))
    return errs


@case("text-format")
def t_text(markers, funcs):
    out = os.path.join(TMP, "report.txt")
    r = memtrace_dashdash(["--format", "text"], out)
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace %s" % r.describe())
    try:
        with open(out, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        raise Fail("no -o file written")
    errs = []
    big = max(markers.values(), key=lambda m: m.bytes)
    if not re.search(r"\b%s:%d\b" % (re.escape(SRC_BASE), big.line), text):
        errs.append("the biggest leak %s:%d (%d B) is not in the text report" % (
            SRC_BASE, big.line, big.bytes))
    if not re.search(r"(?im)^.*\bdrops?\b", text):
        errs.append("no line about drops in the text report")
    try:
        json.loads(text.splitlines()[0] if text.strip() else "x")
        errs.append("--format text wrote JSON")
    except ValueError:
        pass
    if errs:
        vlog(text[:2000])
    return errs


# ---- sampling -------------------------------------------------------------------------

def need_binary(path):
    if not os.access(path, os.X_OK):
        raise Fail("missing %s: run `make memtrace targets` first" % path)


def per_line(rep, src_base):
    """line -> [bytes, count, rows] over the rows of one source file."""
    rows = collections.defaultdict(lambda: [0, 0, 0])
    for s in sites_of(rep):
        if base(s.get("file")) == src_base:
            r = rows[s.get("line")]
            r[0] += num(s, "bytes")
            r[1] += num(s, "count")
            r[2] += 1
    return rows


@case("sampling-exact-at-0")
def t_sample_zero(markers, funcs):
    """--sample-rate 0: every allocation, the same per-line numbers as no sampling."""
    out = os.path.join(TMP, "sample0.json")
    r = memtrace_dashdash(["--format", "json", "--top", "0", "--sample-rate", "0"], out)
    rep = final_report(require_clean_run(r, out))
    errs = []
    if rep.get("sampling") is not None:
        errs.append("--sample-rate 0: sampling=%r, want null" % rep.get("sampling"))
    errs += check_consistency(rep) + check_drops(rep)
    errs += check_lines(rep, markers, funcs, expected(markers))
    ref = STATE.get("line_report")
    if ref is None:  # dashdash-exact did not run: our own unsampled run
        out = os.path.join(TMP, "sample-none.json")
        ref = final_report(require_clean_run(
            memtrace_dashdash(["--format", "json", "--top", "0"], out), out))
    got, want = per_line(rep, SRC_BASE), per_line(ref, SRC_BASE)
    for line in sorted(set(got) | set(want), key=lambda x: x or 0):
        g, w = got.get(line, [0, 0, 0])[:2], want.get(line, [0, 0, 0])[:2]
        if g != w:
            errs.append("%s:%s: --sample-rate 0 gives %d B/%d, no sampling %d B/%d"
                        % (SRC_BASE, line, g[0], g[1], w[0], w[1]))
    for k in ("total_bytes", "total_count"):
        if rep.get(k) != ref.get(k):
            errs.append("%s=%s, without sampling %s" % (k, rep.get(k), ref.get(k)))
    return errs


SAMPLE_RATE = 512 * 1024  # R
SAMPLE_SEEDS = range(1, 21)
SAMPLE_MIN_SITE = 8 << 20  # sites this large must average within SAMPLE_TOL of the truth
SAMPLE_TOL = 0.10


@case("sampling-unbiased")
def t_sample_unbiased(markers, funcs):
    """--sample-rate 512K on sample_mix, 20 seeds: unbiased means, Poisson spread.

    --seed does not make a run reproducible (the draws also depend on the thread
    id), so the bounds are statistical; the sizes in sample_mix.c are chosen so
    that a correct memtrace fails them about once in 1000 suite runs:
    for a sampled site of calls of s bytes, B bytes in all, p = 1 - e^(-s/R), one
    run's estimate has a relative sd of sqrt(s (1-p) / (p B)) (about sqrt(R/B)
    for s << R): 12.5% for the 32 MiB tiny and medium lines, 10% for the 38 MB
    large one; the mean of 20 runs 2.8% and 2.25%, so +-10% is 3.6 sd (p = 4e-4
    each) and 4.4 sd (1e-5). With 16 MiB lines and a 9 MB large one, +-10% would
    be 2.5 and 2.15 sd: a false failure in ~5% of suite runs. The observed sd of
    20 runs lies in 0.3..3x of the predicted one unless something is wrong
    (chi-square, 19 degrees of freedom: p < 1e-8).
    """
    need_binary(SAMPLE_MIX)
    truth, _ = parse_markers(SAMPLE_SRC, min_markers=5)
    name = base(SAMPLE_SRC)
    exact_from = SAMPLE_RATE * math.log(100)
    sampled = {l: m for l, m in truth.items() if m.bytes >= SAMPLE_MIN_SITE
               and m.bytes // m.count < exact_from}
    exact = {l: m for l, m in truth.items() if m.count and m.bytes // m.count >= exact_from}
    zero = {l: m for l, m in truth.items() if not m.bytes}
    if len(sampled) < 3 or not exact or not zero:
        raise Fail("%s needs >= 3 sampled sites >= %d B, an exact one and a churn line; "
                   "markers: %s" % (name, SAMPLE_MIN_SITE, sorted(truth)))
    tiny = max(sampled.values(), key=lambda m: m.count)  # the most frequent call
    errs = []
    est = collections.defaultdict(list)  # line -> [(bytes, count)] one per run
    for seed in SAMPLE_SEEDS:
        out = os.path.join(TMP, "sample-%d.json" % seed)
        argv = [MEMTRACE, "--sample-rate", str(SAMPLE_RATE), "--seed", str(seed),
                "--format", "json", "--top", "0", "-o", out, "--", SAMPLE_MIX]
        r = run(argv, timeout=30)
        tag = "seed %d" % seed
        if r.timed_out or r.rc != 0:
            errs.append("%s: memtrace %s" % (tag, r.describe()))
            continue
        try:
            reps = read_reports(out)
            rep = final_report(reps)
        except Fail as e:
            errs.append("%s: %s" % (tag, e))
            continue
        unsampled = [x.get("seq") for x in reps if not x.get("sampling")]
        if unsampled:
            errs.append("%s: reports (seq %s) do not say they are sampled (sampling=%r)"
                        % (tag, unsampled, rep.get("sampling")))
        errs += ["%s: %s" % (tag, e) for e in check_drops(rep)]
        got = per_line(rep, name)
        for line in sampled:
            est[line].append(tuple(got.get(line, [0, 0])[:2]))
        for line, m in sorted(exact.items()):
            g = tuple(got.get(line, [0, 0])[:2])
            if g != (m.bytes, m.count):
                errs.append("%s: %s:%d (%d B calls >= R ln 100, recorded exactly): %d B/%d, "
                            "want %d B/%d" % (tag, name, line, m.bytes // m.count, g[0], g[1],
                                              m.bytes, m.count))
        for line in sorted(zero):
            g = got.get(line, [0, 0])[:2]
            if g != [0, 0]:
                errs.append("%s: %s:%d (%s, everything freed): %d B/%d, want 0"
                            % (tag, name, line, truth[line].func, g[0], g[1]))
        unmarked = {l: v for l, v in got.items() if l not in truth and v[0]}
        if unmarked:
            errs.append("%s: unmarked lines of %s with bytes: %s" % (tag, name, dict(unmarked)))
    if any(len(est[l]) < 2 for l in sampled):  # not enough runs for a mean and a spread
        return errs[:15]
    info("sampling-unbiased: %s, R = %d, %d runs (seeds %d..%d); truth from the markers"
         % (name, SAMPLE_RATE, len(SAMPLE_SEEDS), SAMPLE_SEEDS[0], SAMPLE_SEEDS[-1]))
    info("  %-22s %11s %11s %7s %7s %7s | %7s %9s %7s" % (
        "site", "truth B", "mean B", "err", "sd", "pred sd", "truth n", "mean n", "err"))
    for line, m in sorted(truth.items()):
        label = "%s:%d %s" % (name, line, m.func)
        if line in sampled:
            bs = [b for b, _ in est[line]]
            cs = [c for _, c in est[line]]
            mb, mc = statistics.mean(bs), statistics.mean(cs)
            sd = statistics.stdev(bs) / m.bytes
            s = m.bytes // m.count
            p = -math.expm1(-s / SAMPLE_RATE)
            pred = math.sqrt(s * (1 - p) / p / m.bytes)
            info("  %-22s %11d %11.0f %+6.1f%% %6.1f%% %6.1f%% | %7d %9.1f %+6.1f%%" % (
                label, m.bytes, mb, 100 * (mb / m.bytes - 1), 100 * sd, 100 * pred,
                m.count, mc, 100 * (mc / m.count - 1)))
            for what, mean, want in (("bytes", mb, m.bytes), ("count", mc, m.count)):
                if abs(mean / want - 1) > SAMPLE_TOL:
                    errs.append("%s: mean %s over %d runs %.0f, truth %d (%+.1f%%, bound "
                                "+-%.0f%%); runs: %s" % (
                                    label, what, len(bs), mean, want,
                                    100 * (mean / want - 1), 100 * SAMPLE_TOL,
                                    [b if what == "bytes" else c for b, c in est[line]]))
        else:
            info("  %-22s %11d %11s %7s %7s %7s | %7d %9s" % (
                label, m.bytes, "exact" if line in exact else "0", "", "", "", m.count,
                "(every run)"))
    # the spread: a Poisson estimate of B bytes has a relative sd of about sqrt(R/B)
    bs = [b for b, _ in est[tiny.line]]
    obs = statistics.stdev(bs) / tiny.bytes
    pred = math.sqrt(SAMPLE_RATE / tiny.bytes)
    info("  spread of %s:%d (%d B calls): observed relative sd %.1f%%, sqrt(R/B) %.1f%% "
         "(ratio %.2f, allowed 0.3..3)" % (name, tiny.line, tiny.bytes // tiny.count,
                                           100 * obs, 100 * pred, obs / pred))
    if not 0.3 <= obs / pred <= 3:
        errs.append("%s:%d: relative sd over %d runs %.1f%%, sqrt(R/B) = %.1f%%: not Poisson "
                    "sampling (ratio %.2f outside 0.3..3)" % (name, tiny.line, len(bs),
                                                              100 * obs, 100 * pred, obs / pred))
    return errs[:15]


# ---- whole host (-a) --------------------------------------------------------------------

class HostLeak:
    """A host_leak process: "ready PID", SIGUSR1 -> leak, "done", SIGUSR2 -> exit 0."""

    def __init__(self):
        self.p = spawn([HOST_LEAK], stdin=subprocess.PIPE)
        self.out = Lines(self.p.stdout, "host_leak stdout")
        self.err = Lines(self.p.stderr, "host_leak stderr")
        m = self.out.wait(regex(r"^ready (\d+)$"), 10)
        if not m:
            raise Fail("host_leak did not print 'ready'")
        self.pid = int(m.group(1))

    def start_work(self):
        os.kill(self.pid, signal.SIGUSR1)

    def wait_done(self):
        if not self.out.wait(regex(r"^done$"), 30):
            raise Fail("host_leak %d did not print 'done' within 30 s after SIGUSR1" % self.pid)

    def finish(self):
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGUSR2)
        rc = reap(self.p, 10)
        if rc != 0:
            raise Fail("host_leak %d exited %s after SIGUSR2" % (self.pid, rc))


def stuck_info(pid):
    """Where a process that does not exit is: wchan, kernel stack, user stack (gdb)."""
    bits = []
    for f in ("wchan", "stack"):
        try:
            with open("/proc/%d/%s" % (pid, f)) as fh:
                bits.append("%s: %s" % (f, " ".join(fh.read().split())[:300]))
        except OSError:
            pass
    if shutil.which("gdb"):
        r = run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 12"], timeout=20)
        frames = [l for l in r.out.splitlines() if l.startswith("#") or l.startswith("Thread")]
        if frames:
            bits.append("gdb: " + " / ".join(frames[:30]))
    return "; ".join(bits)


def host_session(name, extra, n_before=2, n_after=1):
    """memtrace -a EXTRA with host_leak processes started before it attached and after.

    Each process leaks, one more report interval passes (JSON: a report of each
    pid written after its leak), then SIGINT: memtrace must exit 0 within 5 s.
    Returns (memtrace pid, the processes, output file, errors).
    """
    need_binary(HOST_LEAK)
    json_out = "json" in extra
    out = os.path.join(TMP, "%s.%s" % (name, "json" if json_out else "txt"))
    errs = []
    procs = [HostLeak() for _ in range(n_before)]
    mt = Memtrace(["-a", "--interval", "1", "--top-processes", "0", "-o", out] + list(extra))
    try:
        if not mt.err.wait(regex(r"^memtrace: whole host\b"), 30):
            mt.fail_context("no 'memtrace: whole host' line within 30 s")
        # host links cover processes that start after them
        procs += [HostLeak() for _ in range(n_after)]
        for p in procs:
            p.start_work()
        for p in procs:
            p.wait_done()
        if json_out:
            seen = {p.pid: len(for_pid(read_reports(out), p.pid)) for p in procs}
            for p in procs:
                if len(wait_reports(out, p.pid, seen[p.pid] + 1, 10)) <= seen[p.pid]:
                    errs.append("no report for pid %d within 10 s after it leaked" % p.pid)
        else:
            time.sleep(2.2)  # two intervals: at least one whole report round after the leaks
        if mt.p.poll() is not None:
            mt.fail_context("memtrace -a exited before SIGINT")
        os.kill(mt.p.pid, signal.SIGINT)
        t = time.monotonic()
        rc = mt.wait_exit(5)
        if rc is None:
            errs.append("memtrace -a still running 5 s after SIGINT (%s)" % stuck_info(mt.p.pid))
        elif rc != 0:
            errs.append("memtrace -a exited %s after SIGINT, want 0 (stderr: %s)"
                        % (rc, " | ".join(mt.err.text().splitlines()[-3:])))
        else:
            vlog("memtrace -a exited %.1f s after SIGINT" % (time.monotonic() - t))
    finally:
        mt.stop()
        STATE["host_stderr"] = mt.err.text()
    for p in procs:
        try:
            p.finish()
        except Fail as e:
            errs.append(str(e))
    return mt.p.pid, procs, out, errs


# 64 KiB calls at R = 512 KiB: p = 1 - e^(-1/8) = 0.1175 per call, each sampled
# call weighs s/p. The estimate of B bytes has a relative sd of
# sqrt(s (1-p) / (p B)) = 0.97 sqrt(R/B): 3.0% for host_leak's 512 MiB, so
# +-15% is 5 sd (a false failure < 1e-6 per process). 64 MiB would give
# 8.6%, and +-15% would be only 1.75 sd: 8% of processes (22% of runs with
# three of them) would fail.
HOST_TOL = 0.15


def check_host_reports(reps, mt_pid, procs, truth, tol, sampled):
    errs = []
    name = base(HOST_SRC)
    if any(r.get("pid") == mt_pid for r in reps):
        errs.append("memtrace's own pid %d has reports" % mt_pid)
    unsampled = [r.get("pid") for r in reps if bool(r.get("sampling")) != sampled]
    if unsampled:
        errs.append("%d reports (pids %s) have sampling=%r, want %s" % (
            len(unsampled), sorted(set(unsampled))[:5], reps[0].get("sampling") if reps else None,
            "a note" if sampled else "null"))
    for p in procs:
        mine = for_pid(reps, p.pid)
        if not mine:
            errs.append("pid %d (host_leak): no report" % p.pid)
            continue
        rep = mine[-1]
        tag = "pid %d" % p.pid
        if rep.get("final") is not True:
            errs.append("%s: last report (seq %s) is not final" % (tag, rep.get("seq")))
        if rep.get("comm") != "host_leak":
            errs.append("%s: comm=%r, want 'host_leak'" % (tag, rep.get("comm")))
        cg = rep.get("cgroup")
        if not isinstance(cg, str) or not cg:
            errs.append("%s: cgroup=%r, want a non-empty string" % (tag, cg))
        got = per_line(rep, name)
        for line, m in sorted(truth.items()):
            b, c = got.get(line, [0, 0])[:2]
            drops = {k: v for k, v in (rep.get("drops") or {}).items() if v}
            if tol == 0:
                ok = (b, c) == (m.bytes, m.count)
            else:
                ok = abs(b / m.bytes - 1) <= tol and abs(c / m.count - 1) <= tol
            vlog("%s: %s:%d %d B/%d, truth %d B/%d (%+.1f%%)" % (
                tag, name, line, b, c, m.bytes, m.count, 100 * (b / m.bytes - 1)))
            if not ok:
                errs.append("%s: %s:%d %d B/%d, truth %d B/%d (%+.1f%%, allowed %s)%s" % (
                    tag, name, line, b, c, m.bytes, m.count, 100 * (b / m.bytes - 1),
                    "+-%.0f%%" % (100 * tol) if tol else "exact",
                    "; drops %s" % drops if drops else ""))
    return errs


@case("host-mode")
def t_host(markers, funcs):
    """-a --exact (sampled by default): host_leak processes before and after the attach.

    (-a alone is --growth: tests/e2e/growth.py all-default.)
    """
    truth, _ = parse_markers(HOST_SRC, min_markers=1)
    mt_pid, procs, out, errs = host_session("host", ["--exact", "--format", "json"])
    # the cost statement counts only the probes that trap
    cost = re.search(r"(?m)^memtrace: whole host: .*$", STATE.get("host_stderr", ""))
    if STATE.get("tracepoints") and not (cost and re.search(
            r"; mmap, munmap and mremap by system call tracepoints, no trap, but every "
            r"system call on the host takes the traced path \(tens of ns\);", cost.group(0))):
        errs.append("the whole-host cost statement does not name the tracepoints: %r"
                    % (cost.group(0) if cost else None))
    reps = read_reports(out)
    errs += check_host_reports(reps, mt_pid, procs, truth, HOST_TOL, sampled=True)
    for p in procs:
        mine = for_pid(reps, p.pid)
        got = per_line(mine[-1], base(HOST_SRC)) if mine else {}
        for line, m in sorted(truth.items()):
            b = got.get(line, [0])[0]
            info("host-mode: pid %d %s:%d estimate %d B, truth %d B (%+.1f%%, bound +-%.0f%%)"
                 % (p.pid, base(HOST_SRC), line, b, m.bytes, 100 * (b / m.bytes - 1),
                    100 * HOST_TOL))
    return errs


@case("host-mode-exact")
def t_host_exact(markers, funcs):
    """-a --sample-rate 0: every allocation, the host_leak line exact."""
    truth, _ = parse_markers(HOST_SRC, min_markers=1)
    mt_pid, procs, out, errs = host_session(
        "host-exact", ["--format", "json", "--sample-rate", "0"], n_before=1, n_after=1)
    errs += check_host_reports(read_reports(out), mt_pid, procs, truth, 0, sampled=False)
    return errs


@case("host-mode-text")
def t_host_text(markers, funcs):
    """-a --format text: the per-process summary lists the pids, then their reports."""
    truth, _ = parse_markers(HOST_SRC, min_markers=1)
    mt_pid, procs, out, errs = host_session("host-text", ["--exact", "--format", "text"],
                                            n_before=1, n_after=1)
    try:
        with open(out, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return errs + ["no -o file written"]
    # the last summary: "memtrace: whole host, N processes with live allocations, final"
    heads = [m for m in re.finditer(r"(?m)^memtrace: whole host, (\d+) processes with live "
                                    r"allocations(, final)?$", text)]
    if not heads or not heads[-1].group(2):
        vlog(text[-3000:])
        return errs + ["no final 'memtrace: whole host, N processes ..., final' summary "
                       "(%d summaries)" % len(heads)]
    table = text[heads[-1].end():].split("\n\n", 1)[0]
    rows = {int(m.group(1)): m for m in re.finditer(
        r"(?m)^\s*(\d+)\s+(\S+)\s+(\d+)\s+(\S.*)$", table)}
    if len(rows) != int(heads[-1].group(1)):
        errs.append("the final summary says %s processes and has %d rows"
                    % (heads[-1].group(1), len(rows)))
    for p in procs:
        row = rows.get(p.pid)
        if not row:
            errs.append("pid %d not in the final summary" % p.pid)
        elif row.group(2) != "host_leak" or int(row.group(3)) < 256 << 20:
            errs.append("pid %d summary row: %r" % (p.pid, row.group(0)))
        # and its own final report, whose rows name the leaking line
        rep = [b for b in text.split("\n\n") if re.match(
            r"memtrace: pid %d \(host_leak\) .*, final\n" % p.pid, b)]
        if not rep:
            errs.append("pid %d: no final per-process report after the summary" % p.pid)
        elif not all(re.search(r"\b%s:%d leak \[host_leak\]" % (re.escape(base(HOST_SRC)), l),
                               rep[-1]) for l in truth):
            errs.append("pid %d: final report does not show %s:%s: %r" % (
                p.pid, base(HOST_SRC), sorted(truth), rep[-1][:300]))
    if mt_pid in rows:
        errs.append("memtrace's own pid %d is in the summary" % mt_pid)
    return errs


# ---------------------------------------------------------------------------

def watch_replaced(path, whole, what, secs=2.0):
    """Read path for secs while memtrace rewrites it: errors for a read that
    whole(data) calls partial (it returns why, or None), for fewer than 3
    reads, and for an inode that never changed (rewritten in place)."""
    errs, reads, inodes, end = [], 0, set(), time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                inodes.add(os.fstat(f.fileno()).st_ino)
                data = f.read()
        except FileNotFoundError:
            continue
        if not data:
            continue  # created empty at start, before the first report
        why = whole(data)
        if why:
            errs.append("read %d: not a whole %s (%s, %d bytes)" % (reads, what, why, len(data)))
            break
        reads += 1
    if reads < 3:
        errs.append("only %d reads of a written %s in %.0f s" % (reads, what, secs))
    if len(inodes) < 2:
        errs.append("the file kept its inode: rewritten in place, not replaced")
    return errs


def needs_file_errors(fmt):
    """--format fmt without -o: a usage error naming -o FILE, and the command not run."""
    r = run([MEMTRACE, "--format", fmt, "--", LEAK], timeout=ERROR_TIMEOUT)
    lines = [l for l in r.err.splitlines() if l.strip()]
    errs = []
    if r.rc != 64:
        errs.append("exit %s, want 64 (usage)" % r.rc)
    if len(lines) != 1 or not lines[0].startswith("memtrace: error:") or "-o FILE" not in lines[0]:
        errs.append("stderr %r, want one 'memtrace: error: ...' line naming -o FILE" % lines)
    if "leak_apis done" in r.out:
        errs.append("the command ran")
    return errs


def record_python_leaks(fmt, out):
    """memtrace --format fmt -o out -- Debian's python3.11 tests/targets/py/leaks.py."""
    py = "/usr/bin/python3.11"
    leaks = os.path.join(ROOT, "tests", "targets", "py", "leaks.py")
    if not os.access(py, os.X_OK):
        need_tool(py)
    r = run([MEMTRACE, "--format", fmt, "--top", "0", "-o", out, "--", py, leaks])
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace --format %s -- python3.11 leaks.py: %s" % (fmt, r.describe()))


def preflight():
    """Root and binaries. Returns False if the suite must stop here."""
    if os.geteuid() != 0:
        if os.environ.get("MEMTRACE_ALLOW_SKIP") == "1" and not CI:
            log("*" * 72)
            log("SKIPPED: e2e tests need root (BPF); MEMTRACE_ALLOW_SKIP=1 set, nothing ran")
            log("*" * 72)
            return None
        result("preflight", "not root: the e2e tests need BPF (set MEMTRACE_ALLOW_SKIP=1 "
               "outside CI to skip)")
        return False
    if os.sysconf("SC_PAGESIZE") != 4096:
        result("preflight", "page size %d: the mmap markers in %s assume 4096"
               % (os.sysconf("SC_PAGESIZE"), SRC_BASE))
        return False
    missing = [p for p in (MEMTRACE, LEAK) if not os.access(p, os.X_OK)]
    if missing:
        result("preflight", "missing %s: run `make memtrace targets` first" % ", ".join(missing))
        return False
    return True


def main():
    def interrupted(signum, frame):
        raise KeyboardInterrupt()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, interrupted)
    try:
        ok = preflight()
        if ok is None:
            log("e2e: 0 passed, 0 failed")
            return 0
        if ok:
            markers, funcs = parse_markers()
            for name, fn in CASES:
                if ONLY and not any(name.startswith(o) for o in ONLY):
                    continue
                try:
                    need_time(name)
                    errs = fn(markers, funcs)
                    if errs is not None:  # None: the case recorded sub-results itself
                        result(name, errs)
                except Skip as e:
                    log("SKIPPED %s: %s" % (name, e))
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
    except KeyboardInterrupt:
        pass
    finally:
        cleanup()
        if not VERBOSE:
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            log("  | outputs kept in %s" % TMP)
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    log("e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
