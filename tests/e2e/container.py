#!/usr/bin/env python3
"""Container and exec cases.

Container: a target whose libc is another file than the host's.

The target runs in its own mount namespace with a copy of libc.so.6 (a
different inode) bind-mounted over the host path. memtrace must probe the
file the target really maps (through /proc/PID/root, inode checked):
probing the host path would silently see nothing. The leaks of leak_apis
must come out exact, as on the host.

Exec: `memtrace -- env ... leak_apis` and `-- sh -c 'exec ...'`: the probes
follow the command into the program it executes, exact as ever.

Reuses run.py's helpers; prints `container: N passed, M failed`.
"""
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


class ContainedTarget(run.Target):
    """leak_apis --wait in a private mount namespace with a libc copy."""

    def __init__(self, libc_copy):
        script = "mount --bind %s %s && exec %s --wait" % (libc_copy, LIBC, run.LEAK)
        self.p = run.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                           stdin=subprocess.PIPE)
        self.out = run.Lines(self.p.stdout, "target stdout")
        self.err = run.Lines(self.p.stderr, "target stderr")
        m = self.out.wait(run.regex(r"^ready (\d+)$"), 10)
        if not m:
            raise run.Fail("contained leak_apis did not print 'ready' (stderr: %s)"
                           % self.err.text().strip()[-200:])
        self.pid = int(m.group(1))


def inode_of_libc_in(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].endswith("/libc.so.6"):
                return int(parts[4])
    return None


def t_container(markers, funcs):
    errs = []
    copy_dir = os.path.join(run.TMP, "containerlib")
    os.makedirs(copy_dir, exist_ok=True)
    copy = os.path.join(copy_dir, "libc.so.6")
    shutil.copy2(LIBC, copy)
    t = ContainedTarget(copy)
    out = os.path.join(run.TMP, "container.json")
    mt = None
    try:
        inode = inode_of_libc_in(t.pid)
        if inode != os.stat(copy).st_ino:
            raise run.Fail("the target maps libc inode %s, not the copy's %d: the bind mount "
                           "did not take" % (inode, os.stat(copy).st_ino))
        if inode == os.stat(LIBC).st_ino:
            raise run.Fail("copy and host libc share an inode")
        mt = run.Memtrace(["--format", "json", "--top", "0", "--interval", "0.5", "-p",
                           str(t.pid), "-o", out])
        mt.wait_attached(t.pid)
        t.start_work()
        rep = run.wait_settled_report(mt, out, t.pid)
        errs += run.check_lines(rep, markers, funcs, run.expected(markers))
        t.finish()
        if mt.wait_exit(5) is None:
            errs.append("memtrace still running 5 s after its target exited")
    finally:
        if mt:
            mt.stop()
        run.cleanup()
    return errs


def t_exec(markers, funcs):
    """`--` mode through env and a shell: the probes follow the command's execs."""
    errs = []
    for name, prefix in (("env", ["env", "MEMTRACE_E2E=1"]),
                         ("sh -c", ["sh", "-c", 'exec "$0"'])):
        out = os.path.join(run.TMP, "exec.json")
        if os.path.exists(out):
            os.unlink(out)
        r = run.run([run.MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--"] + prefix +
                    [run.LEAK], timeout=run.RUN_TIMEOUT)
        if r.timed_out or r.rc != 0:
            errs.append("%s: %s" % (name, r.describe()))
            continue
        reps = run.read_reports(out)
        if not reps:
            errs.append("%s: no report" % name)
            continue
        rep = run.final_report(reps)
        if rep.get("comm") != "leak_apis":
            errs.append("%s: comm=%r, want leak_apis" % (name, rep.get("comm")))
        errs += ["%s: %s" % (name, e) for e in
                 run.check_lines(rep, markers, funcs, run.expected(markers))]
    return errs


def main():
    return run.run_cases("container", (("container-libc", t_container),
                                       ("exec-follow", t_exec)))


if __name__ == "__main__":
    sys.exit(main())
