#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""End-to-end tests of the process lifecycle (root, real BPF): forks, execs, pid reuse.

Ground truth is tests/targets/lifecycle.c and tests/targets/static_leak.c:
each leaking line carries `/* @leak bytes=B count=C proc=WHO */`, what is
live at that line when the process WHO is done. Every case compares
memtrace's JSON reports with the markers exactly, per process:

  fork-dashdash     memtrace -- lifecycle fork: the parent and both children,
                    each under its own pid, exact (the children allocate right
                    after fork returns: a late attach would miss it)
  fork-pid          the same under -p
  no-follow-forks   -p --no-follow-forks: the parent only
  prefork-pid       -p on a parent that forked its children before: they are
                    traced too (their leaks come after the attach), exact
  exec-static-pid   -p on a process that executes a static program: the new
                    image is probed before it runs, the old image's leak is gone
  fork-python       memtrace -- python3 forks.py: multiprocessing's fork children,
                    each with its own Python lines, exact (the children's code objects
                    are read in each child, or in the parent when the child is gone)
  finalize-pid      -p on a Python process that returns: the final report is what
                    was outstanding when Py_FinalizeEx began, exact
  pid-reuse-all     -a: a process exits, a new one gets its pid (ns_last_pid):
                    reported as the new process, nothing of the old one

Prints `ok NAME` / `FAIL NAME: reason`, then `lifecycle: N passed, M failed`.
CI=true: not being root is a failure. Standard library only.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.path.abspath(os.environ.get("MEMTRACE", os.path.join(ROOT, "memtrace")))
TARGETS = os.path.join(ROOT, ".output", "targets")
LIFECYCLE = os.path.join(TARGETS, "lifecycle")
STATIC = os.path.join(TARGETS, "static_leak")
PYTHON = os.environ.get("LIFECYCLE_PYTHON", "/usr/bin/python3")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TMP = tempfile.mkdtemp(prefix="memtrace-lifecycle-")
MARK = re.compile(r"/\*\s*@leak\s+bytes=(\d+)\s+count=(\d+)\s+proc=([\w-]+)\s*\*/")
PROCS = []
RESULTS = []


def markers():
    """{who: {(file, line): (bytes, count)}} from both sources."""
    truth = {}
    for src in ("lifecycle.c", "static_leak.c"):
        with open(os.path.join(ROOT, "tests", "targets", src)) as f:
            for n, text in enumerate(f, 1):
                m = MARK.search(text)
                if m:
                    truth.setdefault(m.group(3), {})[(src, n)] = (int(m.group(1)),
                                                                  int(m.group(2)))
    return truth


class Proc:
    """A process with its output read line by line in the background."""

    def __init__(self, argv, stdin=subprocess.PIPE):
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True, cwd=ROOT)
        PROCS.append(self.p)
        self.lines, self.err = [], []
        self.cv = threading.Condition()
        for stream, sink in ((self.p.stdout, self.lines), (self.p.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink):
        for raw in stream:
            with self.cv:
                sink.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()

    def wait_line(self, pattern, timeout=15, stderr=False):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for line in (self.err if stderr else self.lines):
                    m = rx.search(line)
                    if m:
                        return m
                left = end - time.monotonic()
                if left <= 0 or self.p.poll() is not None and not self.cv.wait(0.2):
                    raise AssertionError("no line /%s/ within %d s (%s: %s)" % (
                        pattern, timeout, "stderr" if stderr else "stdout",
                        " | ".join((self.err if stderr else self.lines)[-4:])))
                self.cv.wait(min(left, 0.2))

    def say(self, word):
        self.p.stdin.write((word + "\n").encode())
        self.p.stdin.flush()

    def wait(self, timeout=10):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def reports(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def per_line(rep):
    """(file base name, line) -> (bytes, count) of the objects there (not the pymalloc
    arenas or interpreter mappings a line needed: rows of their own)."""
    rows = {}
    for s in rep.get("sites") or []:
        if s.get("kind", "heap") in ("arena", "runtime"):
            continue
        key = (os.path.basename(s.get("file") or ""), s.get("line"))
        b, c = rows.get(key, (0, 0))
        rows[key] = (b + s.get("bytes", 0), c + s.get("count", 0))
    return rows


def check_final(reps, pid, who, truth, also_absent=()):
    """The last report of pid is final and has exactly who's lines."""
    mine = [r for r in reps if r.get("pid") == pid]
    if not mine:
        return ["pid %d (%s): no report" % (pid, who)]
    last, errs = mine[-1], []
    if last.get("final") is not True:
        errs.append("pid %d (%s): last report is not final" % (pid, who))
    got = per_line(last)
    for key, want in sorted(truth[who].items()):
        if got.get(key, (0, 0)) != want:
            errs.append("pid %d (%s): %s:%d has %s B/%s, truth %d B/%d" % (
                pid, who, key[0], key[1], *got.get(key, (0, 0)), *want))
    for other in also_absent:
        for key in truth[other]:
            if key in got:
                errs.append("pid %d (%s): shows %s:%d of %s" % (pid, who, key[0], key[1], other))
    return errs


def case(fn):
    name = fn.__name__[2:].replace("_", "-")
    try:
        errs = fn(markers())
    except AssertionError as e:
        errs = [str(e)]
    RESULTS.append((name, not errs))
    print("ok %s" % name if not errs else "FAIL %s: %s" % (name, "; ".join(errs)), flush=True)


def memtrace(args, out):
    return Proc([MEMTRACE, "--format", "json", "--top", "0", "-o", out] + args)


def fork_case(truth, mode, follow=True, how="fork"):
    out = os.path.join(TMP, "fork-%s-%s-%d.json" % (how, mode, follow))
    extra = [] if follow else ["--no-follow-forks"]
    if mode == "--":
        mt = memtrace(["--interval", "5"] + extra + ["--", LIFECYCLE, how], out)
        target = mt
        mt.wait_line(r"attached to pid", stderr=True)
        pid = int(target.wait_line(r"^ready (\d+)").group(1))
    else:
        target = Proc([LIFECYCLE, how])
        pid = int(target.wait_line(r"^ready (\d+)").group(1))
        mt = memtrace(["--interval", "5", "-p", str(pid)] + extra, out)
        mt.wait_line(r"attached to pid %d" % pid, stderr=True)
        if how == "prefork":  # and to the two children it has
            end = time.monotonic() + 15
            while sum("attached to pid" in line for line in mt.err) < 3:
                if time.monotonic() > end:
                    raise AssertionError("not attached to the children: %s" % mt.err[-3:])
                time.sleep(0.05)
    target.say("go")
    m = target.wait_line(r"^children (\d+) (\d+)")
    c1, c2 = int(m.group(1)), int(m.group(2))
    target.say("end")
    errs = []
    if target is not mt and target.wait() != 0:
        errs.append("lifecycle exited %s" % target.p.returncode)
    rc = mt.wait(10)
    if rc != 0:
        errs.append("memtrace exited %s, want 0 (stderr: %s)" % (rc, " | ".join(mt.err[-3:])))
    reps = reports(out)
    errs += check_final(reps, pid, "parent", truth, ("child1", "child2"))
    if follow:
        errs += check_final(reps, c1, "child1", truth, ("parent", "child2"))
        errs += check_final(reps, c2, "child2", truth, ("parent", "child1"))
    else:
        errs += ["pid %d: reported under --no-follow-forks" % c for c in (c1, c2)
                 if any(r.get("pid") == c for r in reps)]
    return errs


def t_fork_dashdash(truth):
    return fork_case(truth, "--")


def t_fork_pid(truth):
    return fork_case(truth, "-p")


def t_no_follow_forks(truth):
    return fork_case(truth, "-p", follow=False)


def t_prefork_pid(truth):
    """-p on a parent whose children exist already (a prefork server): all traced."""
    return fork_case(truth, "-p", how="prefork")


def end_exec_case(target, mt, out, pid, who, truth, before):
    """End the exec'd target; memtrace exits 0 with who's lines, none of before's.
    Returns (errors, reports)."""
    target.say("end")
    errs = []
    rc = mt.wait(10)
    if rc != 0:
        errs.append("memtrace exited %s, want 0" % rc)
    reps = reports(out)
    return errs + check_final(reps, pid, who, truth, (before,)), reps


def t_exec_static_pid(truth):
    out = os.path.join(TMP, "exec.json")
    target = Proc([LIFECYCLE, "exec", STATIC])
    pid = int(target.wait_line(r"^ready (\d+)").group(1))
    mt = memtrace(["--interval", "0.5", "-p", str(pid)], out)
    mt.wait_line(r"attached to pid %d" % pid, stderr=True)
    target.say("go")
    target.wait_line(r"^done %d" % pid)
    mt.wait_line(r"pid %d executed static_leak: probing static_leak" % pid, stderr=True)
    errs, reps = end_exec_case(target, mt, out, pid, "static", truth, "pre-exec")
    last = [r for r in reps if r.get("pid") == pid][-1:]
    if last and last[0].get("comm") != "static_leak":
        errs.append("comm %r after the exec, want 'static_leak'" % last[0].get("comm"))
    return errs


def exec_dynamic(truth, mode):
    """A static image executes a dynamic one that allocates at once: its C
    library is probed as ld.so maps it, before any of it runs."""
    out = os.path.join(TMP, "exec-dyn%s.json" % mode)
    argv = [STATIC, LIFECYCLE, "leak-a-now"]
    if mode == "-p":
        target = Proc(argv)
        pid = int(target.wait_line(r"^done (\d+)").group(1))
        mt = memtrace(["--interval", "0.5", "-p", str(pid)], out)
        mt.wait_line(r"attached to pid %d" % pid, stderr=True)
    else:
        target = mt = memtrace(["--interval", "0.5", "--"] + argv, out)
        pid = int(target.wait_line(r"^done (\d+)").group(1))
    target.say("exec")
    deadline = time.monotonic() + 15
    while sum(1 for l in target.lines if l == "done %d" % pid) < 2:
        if time.monotonic() > deadline:
            return ["no second 'done' after the exec: %s" % target.lines[-3:]]
        time.sleep(0.05)
    return end_exec_case(target, mt, out, pid, "a", truth, "static")[0]


def t_exec_dynamic_pid(truth):
    return exec_dynamic(truth, "-p")


def t_exec_dynamic_dashdash(truth):
    return exec_dynamic(truth, "--")


def t_fork_python(truth):
    src = os.path.join(ROOT, "tests", "targets", "py", "forks.py")
    lines = {}
    with open(src) as f:
        for n, text in enumerate(f, 1):
            if "@leak" in text:
                lines["parent" if "proc=parent" in text else "child"] = n
    out = os.path.join(TMP, "forks-py.json")
    mt = memtrace(["--interval", "30", "--", PYTHON, src], out)
    m = mt.wait_line(r"^children (\d+) (\d+)", timeout=30)
    kids = {int(m.group(1)): 4, int(m.group(2)): 6}
    errs = []
    if mt.wait(20) != 0:
        errs.append("memtrace exited %s (stderr: %s)" % (mt.p.returncode, " | ".join(mt.err[-3:])))
    reps = reports(out)
    want = {pid: {("forks.py", lines["child"]): (n * 100001, n)} for pid, n in kids.items()}
    parent = [r.get("pid") for r in reps if r.get("pid") not in kids]
    if not parent:
        return errs + ["no report of the parent"]
    want[parent[0]] = {("forks.py", lines["parent"]): (300003, 3)}
    for pid, lines_want in want.items():
        mine = [r for r in reps if r.get("pid") == pid]
        if not mine or mine[-1].get("final") is not True:
            errs.append("pid %d: no final report" % pid)
            continue
        got = per_line(mine[-1])
        for key, w in lines_want.items():
            if got.get(key, (0, 0)) != w:
                errs.append("pid %d: %s:%d has %s B/%s, truth %d B/%d" % (
                    pid, key[0], key[1], *got.get(key, (0, 0)), *w))
        other = [k for k in got if k[0] == "forks.py" and k not in lines_want
                 and k[1] in lines.values()]
        if other:
            errs.append("pid %d: shows %s" % (pid, other))
    return errs


def t_finalize_pid(truth):
    """-p on Python: the final report is taken at Py_FinalizeEx, before the teardown."""
    src = os.path.join(ROOT, "tests", "targets", "py", "finalize.py")
    with open(src) as f:
        line = [n for n, text in enumerate(f, 1) if "@leak" in text][0]
    out = os.path.join(TMP, "finalize.json")
    target = Proc([PYTHON, src])
    pid = int(target.wait_line(r"^ready (\d+)").group(1))
    mt = memtrace(["--interval", "30", "-p", str(pid)], out)
    mt.wait_line(r"attached to pid %d" % pid, stderr=True)
    target.say("go")
    target.wait_line(r"^done")
    target.say("end")
    errs = []
    if target.wait(20) != 0:
        errs.append("the target exited %s" % target.p.returncode)
    if mt.wait(20) != 0:
        errs.append("memtrace exited %s (stderr: %s)" % (mt.p.returncode, " | ".join(mt.err[-3:])))
    mine = [r for r in reports(out) if r.get("pid") == pid]
    if not mine:
        return errs + ["no report"]
    last = mine[-1]
    if last.get("final") is not True or last.get("exited") is not False:
        errs.append("last report final=%s exited=%s, want a final report of a live process" % (
            last.get("final"), last.get("exited")))
    got = per_line(last).get(("finalize.py", line), (0, 0))
    if got != (700007, 7):
        errs.append("finalize.py:%d has %s B/%s, truth 700007 B/7 (before the teardown)"
                    % (line, *got))
    return errs


def start_with_pid(argv, pid, tries=50):
    """Start argv as pid (ns_last_pid), or None when another process took it."""
    for _ in range(tries):
        if os.path.exists("/proc/%d" % pid):
            time.sleep(0.05)
            continue
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = Proc(argv)
        if p.p.pid == pid:
            return p
        p.p.kill()
        p.p.wait()
    return None


def t_pid_reuse_all(truth):
    out = os.path.join(TMP, "reuse.json")
    mt = memtrace(["-a", "--sample-rate", "0", "--interval", "0.5", "--top-processes", "0"] +
                  (["-vv"] if os.environ.get("E2E_VERBOSE") else []), out)
    mt.wait_line(r"^memtrace: whole host", stderr=True, timeout=30)
    a = Proc([LIFECYCLE, "leak-a"])
    pid = int(a.wait_line(r"^ready (\d+)").group(1))
    a.say("go")
    a.wait_line(r"^done")
    errs = []
    # the old owner is reported, then exits
    end = time.monotonic() + 10
    while not any(r.get("pid") == pid and per_line(r) for r in reports(out)):
        if time.monotonic() > end:
            raise AssertionError("pid %d (a): no report within 10 s (memtrace: %s)" % (
                pid, " | ".join(mt.err[-5:])))
        time.sleep(0.1)
    a.say("end")
    a.wait()
    time.sleep(1.5)  # rounds after its exit: the pid is free, its entries gone
    b = start_with_pid([LIFECYCLE, "leak-b"], pid)
    if not b:
        raise AssertionError("could not start a process with pid %d again" % pid)
    b.wait_line(r"^ready %d" % pid)
    b.say("go")
    b.wait_line(r"^done")
    time.sleep(1.5)  # whole report rounds after b's leak
    os.kill(mt.p.pid, signal.SIGINT)
    if mt.wait(10) != 0:
        errs.append("memtrace -a exited %s after SIGINT" % mt.p.returncode)
    b.say("end")
    b.wait()
    errs += check_final(reports(out), pid, "b", truth, ("a",))
    if errs and os.environ.get("E2E_VERBOSE"):
        print("\n".join(l for l in mt.err if str(pid) in l))
    return errs


CASES = (t_fork_dashdash, t_fork_pid, t_no_follow_forks, t_prefork_pid, t_exec_static_pid,
         t_exec_dynamic_pid, t_exec_dynamic_dashdash, t_fork_python, t_finalize_pid, t_pid_reuse_all)


def main():
    only = [s for s in os.environ.get("E2E_ONLY", "").split(",") if s]
    cases = [fn for fn in CASES if not only or
             any(fn.__name__[2:].replace("_", "-").startswith(o) for o in only)]
    if os.geteuid() != 0:
        print("lifecycle: needs root%s" % (" (CI: failure)" if CI else ", skipped"))
        return 1 if CI else 0
    for path in (MEMTRACE, LIFECYCLE, STATIC):
        if not os.access(path, os.X_OK):
            print("lifecycle: missing %s: run `make memtrace targets`" % path)
            return 1
    try:
        for fn in cases:
            case(fn)
    finally:
        for p in PROCS:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
    npass = sum(ok for _, ok in RESULTS)
    print("lifecycle: %d passed, %d failed" % (npass, len(RESULTS) - npass))
    return 0 if npass == len(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
