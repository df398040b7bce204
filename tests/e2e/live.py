#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""--live under tmux (root, real BPF).

memtrace --live runs in a 160x40 pane of a private tmux server (its own
socket, killed at the end), driven with send-keys and read with
capture-pane:
  - live-pid: -p on two waiting tests/targets/leak_apis, one doing its
    work: the header (pid, comm, RSS, traced bytes, sparklines), the process
    list, > and < switch; every @leak line with the text report's bytes and
    count; sorted by bytes, then `c` by count, `g` by growth; space pauses (the report number stops), space resumes; `q`
    quits with exit status 0, a final JSON report in -o whose lines equal
    the markers, and a clean terminal: the shell prompt back, no view left
    on the screen, not in the alternate screen, cursor visible, keypad
    mode off, `stty -g` as before;
  - live-dashdash: -- leak_apis: the exit report stays on the screen after
    the command ended, q quits with the command's status;
  - live-sigterm: SIGTERM to memtrace while the view is up: a final report,
    exit 0, the terminal clean as after q;
  - live-error: an error once the view is up (no such pid): exit 1, the
    message printed after the view, the terminal clean;
  - live-refused: stdout not a terminal: a clear message, exit 64.

Under CI=true a missing tmux is a failure, never a skip. Reuses run.py's
helpers (E2E_ONLY, E2E_BUDGET, E2E_VERBOSE as there); prints
`live: N passed, M failed`.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

WIDTH, HEIGHT = 160, 40
ROW = re.compile(r"^([ ^]) +(\d+ B|\d+\.\d [KMGT]iB) +(\d+) +(\S+)  (.*)$")
# a row of another kind than the heap says so first ("mmap at app.c:42 f [app]")
SITE = re.compile(r"^(?:(?:mmap|pyobj|runtime) at |pymalloc arena, first needed at )?"
                  r"(\S+):(\d+) (\S+) \[")
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def fmt_bytes(b):
    """mt_bytes__format without sign: exact below 10 KiB, else one decimal."""
    if b < 10 * 1024:
        return "%d B" % b
    for i, unit in enumerate(("KiB", "MiB", "GiB", "TiB")):
        div = 1 << (10 * (i + 1))
        tenths = b // div * 10 + (b % div * 10 + div // 2) // div
        if tenths < 10240 or unit == "TiB":
            return "%d.%d %s" % (tenths // 10, tenths % 10, unit)


def approx(s):
    n, unit = s.split(" ")
    return float(n) * UNITS[unit]


class Pane:
    """One tmux server of our own with one 160x40 pane running a shell."""
    made = 0

    def __init__(self):
        if not shutil.which("tmux"):
            run.need_tool("tmux (Debian tmux)")
        Pane.made += 1
        self.sock = "memtrace-e2e-live-%d-%d" % (os.getpid(), Pane.made)
        env = dict(os.environ, LANG="C.UTF-8")
        self.tmux("new-session", "-d", "-s", "live", "-x", str(WIDTH), "-y", str(HEIGHT),
                  "bash --norc --noprofile", env=env)
        # a prompt of our own, once the shell reads its input
        self.wait(lambda s: re.search(r"[$#] ?\s*$", s), 10, "the shell's prompt")
        self.type("PS1='livesh$ '; clear")
        self.wait(lambda s: s.strip() == "livesh$", 10, "the prompt 'livesh$'")

    def tmux(self, *args, env=None):
        r = subprocess.run(["tmux", "-u", "-L", self.sock] + list(args), capture_output=True,
                           timeout=10, env=env, cwd=run.ROOT)
        if r.returncode != 0:
            raise run.Fail("tmux %s: exit %d: %s" % (args[0], r.returncode,
                                                     r.stderr.decode(errors="replace").strip()))
        return r.stdout.decode(errors="replace")

    def send(self, *keys):
        run.vlog("send-keys %s" % " ".join(keys))
        self.tmux("send-keys", "-t", "live", *keys)

    def type(self, line):
        self.tmux("send-keys", "-t", "live", "-l", line)
        self.tmux("send-keys", "-t", "live", "Enter")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "live")

    def flags(self):
        out = self.tmux("display-message", "-p", "-t", "live",
                        "#{alternate_on} #{cursor_flag} #{keypad_flag} #{keypad_cursor_flag}")
        return dict(zip(("alternate", "cursor", "keypad", "keypad_cursor"), out.split()))

    def wait(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            s = self.screen()
            got = pred(s)
            if got:
                return got
            if time.monotonic() > end:
                raise run.Fail("%s: not on the screen within %d s; screen:\n%s"
                               % (what, timeout, s.rstrip()))
            time.sleep(0.2)

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=10)


def header(screen, pid=None):
    pat = r"memtrace live: pid %s \((\S+)\) report #(\d+)" % (pid if pid else r"(?:\d+)")
    m = re.search(pat, screen)
    return m


def rows(screen):
    """[(bytes string, count, growth, file base, line, function)] in screen order."""
    out = []
    for line in screen.split("\n"):
        m = ROW.match(line)
        if not m:
            continue
        s = SITE.match(m.group(5))
        out.append((m.group(2), int(m.group(3)), m.group(4),
                    run.base(s.group(1)) if s else None, int(s.group(2)) if s else 0,
                    s.group(3) if s else None))
    return out


def leak_rows(screen):
    return {r[4]: r for r in rows(screen) if r[3] == run.SRC_BASE}


def check_leaks(screen, markers):
    """Every marker with bytes: its row, with the text report's bytes and count."""
    errs = []
    got = leak_rows(screen)
    for line, (b, c) in sorted(run.expected(markers).items()):
        if not b:
            continue
        r = got.get(line)
        if not r:
            errs.append("%s:%d not on the screen" % (run.SRC_BASE, line))
        elif (r[0], r[1], r[5]) != (fmt_bytes(b), c, markers[line].func):
            errs.append("%s:%d shows %s, %d, %s; want %s, %d, %s"
                        % (run.SRC_BASE, line, r[0], r[1], r[5], fmt_bytes(b), c,
                           markers[line].func))
    return errs


def sorted_by(screen, key):
    vals = [approx(r[0]) if key == "bytes" else r[1] for r in rows(screen)]
    return len(vals) > 3 and all(a >= b for a, b in zip(vals, vals[1:]))


def check_clean(pane, before, after, screen):
    errs = []
    for bad in ("memtrace live:", "q quit", "processes:"):
        if bad in screen:
            errs.append("after memtrace ended the screen still shows %r" % bad)
    if not re.search(r"(?m)^livesh\$ ?$", screen):  # capture-pane drops trailing spaces
        errs.append("no shell prompt after memtrace ended; screen:\n%s" % screen.rstrip())
    f = pane.flags()
    want = {"alternate": "0", "cursor": "1", "keypad": "0", "keypad_cursor": "0"}
    if f != want:
        errs.append("terminal state after memtrace ended: %s, want %s" % (f, want))
    if before != after:
        errs.append("stty -g changed: %s -> %s" % (before, after))
    return errs


class Session:
    """memtrace --live ARGS typed into a fresh pane's shell, between two `stty -g`."""

    def __init__(self, name, args):
        self.out = os.path.join(run.TMP, name + ".json")
        self.before = os.path.join(run.TMP, name + ".stty-before")
        self.after = os.path.join(run.TMP, name + ".stty-after")
        self.pane = Pane()
        self.pane.type("stty -g > %s; %s --live --format json -o %s %s; echo live-exit=$?; "
                       "stty -g > %s" % (self.before, shlex.quote(run.MEMTRACE), self.out,
                                         " ".join(shlex.quote(a) for a in args), self.after))

    def ended(self, what, want_rc=0):
        """Wait for memtrace's exit: the errors of its status and the terminal's state."""
        self.pane.wait(lambda s: re.search(r"live-exit=\d+", s) and os.path.exists(self.after),
                       15, "memtrace's exit after %s" % what)
        time.sleep(0.3)
        screen = self.pane.screen()
        errs = []
        if "live-exit=%d\n" % want_rc not in screen:
            errs.append("after %s memtrace's exit status: %s, want %d"
                        % (what, re.search(r"live-exit=\d+", screen).group(0), want_rc))
        with open(self.before) as f1, open(self.after) as f2:
            errs += check_clean(self.pane, f1.read().strip(), f2.read().strip(), screen)
        return errs, screen


def t_pid(markers, funcs):
    """-p on two waiting targets: view, picker, sort keys, pause, q with a final report."""
    errs = []
    t, t2 = run.Target(), run.Target()
    ses = Session("pid", ["-p", "%d,%d" % (t.pid, t2.pid)])
    pane = ses.pane
    try:
        pane.wait(lambda s: header(s, t.pid), 30, "the header of pid %d" % t.pid)
        t.start_work()
        screen = pane.wait(lambda s: s if not check_leaks(s, markers) else None, 15,
                           "every @leak line")
        m = header(screen, t.pid)
        if m.group(1) != "leak_apis":
            errs.append("header comm %r, want leak_apis" % m.group(1))
        if not re.search(r"rss \d+(\.\d)? [KMG]?i?B \S+  traced \d+(\.\d)? [KMG]?i?B \S+",
                         screen):
            errs.append("no 'rss N sparkline  traced N sparkline' line: %s"
                        % screen.split("\n")[1])
        if not re.search(r"processes: +\[%d leak_apis\] +%d leak_apis" % (t.pid, t2.pid), screen):
            errs.append("the process list is not '[%d leak_apis] %d leak_apis': %s"
                        % (t.pid, t2.pid, screen.split("\n")[2]))
        if "sort: bytes" not in screen or not sorted_by(screen, "bytes"):
            errs.append("not sorted by bytes at first")
        by_bytes = [r[3:5] for r in rows(screen)]

        # the picker: > shows the other process (no leak lines: it did no work), < back
        pane.send(">")
        screen = pane.wait(lambda s: s if header(s, t2.pid) else None, 5, "pid %d after >"
                           % t2.pid)
        if leak_rows(screen):
            errs.append("pid %d shows %s rows" % (t2.pid, run.SRC_BASE))
        pane.send("<")
        pane.wait(lambda s: header(s, t.pid) and leak_rows(s), 5, "pid %d after <" % t.pid)

        pane.send("c")
        screen = pane.wait(lambda s: s if "sort: count" in s else None, 5, "sort: count")
        if not sorted_by(screen, "count"):
            errs.append("after c the rows are not sorted by count: %s" % rows(screen)[:5])
        if [r[3:5] for r in rows(screen)] == by_bytes:
            errs.append("after c the order did not change")
        pane.send("g")
        pane.wait(lambda s: "sort: growth" in s, 5, "sort: growth")
        pane.send("b")
        pane.wait(lambda s: "sort: bytes" in s, 5, "sort: bytes again")

        pane.send("Space")
        screen = pane.wait(lambda s: s if "PAUSED" in s else None, 5, "PAUSED")
        seq = header(screen, t.pid).group(2)
        time.sleep(2.5)  # two reports at --interval 1
        if header(pane.screen(), t.pid).group(2) != seq:
            errs.append("the report number changed while paused")
        pane.send("Space")
        pane.wait(lambda s: "PAUSED" not in s and header(s, t.pid) and
                  header(s, t.pid).group(2) != seq, 5, "a new report after resuming")

        pane.send("q")
        e, _ = ses.ended("q")
        errs += e
        rep = run.final_report(run.read_reports(ses.out), t.pid)
        run.final_report(run.read_reports(ses.out), t2.pid)
        got = run.per_line(rep, run.SRC_BASE)
        for line, (b, c) in sorted(run.expected(markers).items()):
            g = got.get(line, [0, 0, 0])
            if (g[0], g[1]) != (b, c):
                errs.append("final JSON report %s:%d: %d/%d, want %d/%d"
                            % (run.SRC_BASE, line, g[0], g[1], b, c))
        t.finish()
    finally:
        pane.close()
    return errs


def t_dashdash(markers, funcs):
    """-- leak_apis: the exit report stays up after the command ended; q quits."""
    errs = []
    pane = Pane()
    try:
        pane.type("%s --live -- %s; echo live-exit=$?" % (shlex.quote(run.MEMTRACE),
                                                          shlex.quote(run.LEAK)))
        screen = pane.wait(lambda s: s if "every target exited" in s else None, 30,
                           "the status 'every target exited'")
        if "process exited" not in screen:
            errs.append("the header does not say 'process exited'")
        errs += check_leaks(screen, markers)
        pane.send("q")
        # the status echo's output, not the typed line ("live-exit=$?"), which
        # the screen shows again once the view has left the alternate screen
        screen = pane.wait(lambda s: s if re.search(r"live-exit=\d+", s) else None, 15,
                           "memtrace's exit after q")
        if not re.search(r"live-exit=0$", screen, re.M):
            errs.append("memtrace exit status: %s (want the command's, 0)"
                        % re.search(r"live-exit=\d+", screen).group(0))
        # the command's own output was held while the view was up, then printed
        if "leak_apis done" not in screen:
            errs.append("the command's output is not on the screen after the view ended")
    finally:
        pane.close()
    return errs


def t_sigterm(markers, funcs):
    """SIGTERM while the view is up: a final report, exit 0, the terminal clean."""
    errs = []
    t = run.Target()
    ses = Session("term", ["-p", str(t.pid)])
    pane = ses.pane
    try:
        pane.wait(lambda s: header(s, t.pid), 30, "the header of pid %d" % t.pid)
        t.start_work()
        pane.wait(lambda s: leak_rows(s), 15, "a %s row" % run.SRC_BASE)
        if pane.flags().get("alternate") != "1":
            errs.append("the view is not in the alternate screen")
        shell = int(pane.tmux("display-message", "-p", "-t", "live", "#{pane_pid}"))
        with open("/proc/%d/task/%d/children" % (shell, shell)) as f:
            kids = [int(x) for x in f.read().split()]
        if len(kids) != 1:
            raise run.Fail("the shell has children %s, want memtrace alone" % kids)
        os.kill(kids[0], signal.SIGTERM)
        e, _ = ses.ended("SIGTERM")
        errs += e
        run.final_report(run.read_reports(ses.out), t.pid)
        t.finish()
    finally:
        pane.close()
    return errs


def t_error(markers, funcs):
    """An error after the view took the terminal (no such pid): exit 1, the message
    after the view, the terminal clean."""
    ses = Session("error", ["-p", "999999999"])
    try:
        errs, screen = ses.ended("the error", want_rc=1)
        if "999999999" not in screen:
            errs.append("no message naming the pid after the view ended")
    finally:
        ses.pane.close()
    return errs


def t_refused(markers, funcs):
    """stdout not a terminal: refused with a clear message."""
    r = run.run([run.MEMTRACE, "--live", "-p", "1"], timeout=run.ERROR_TIMEOUT)
    errs = []
    if r.rc != 64:
        errs.append("exit %s, want 64 (usage)" % r.rc)
    if "--live draws on a terminal" not in r.err:
        errs.append("no clear message: %r" % r.err.strip())
    return errs


CASES = (("live-pid", t_pid), ("live-dashdash", t_dashdash), ("live-sigterm", t_sigterm),
         ("live-error", t_error), ("live-refused", t_refused))


def main():
    return run.run_cases("live", CASES)


if __name__ == "__main__":
    sys.exit(main())
