#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""memtrace daemon against real processes and real consumers (root, real BPF).

The targets are tests/targets/daemon_leak (idle ones, and leakers whose one
allocation line is marked @leak, 1 MiB each). The daemon watches only them
(--match comm=daemon_leak): other engineers' processes on this machine grow
too. Cases:
  - daemon_prometheus: among three idle processes a leaker grows 12 MiB: it
    alone is escalated (exact tracing); then SIGUSR1 makes it leak exactly
    5 MiB more, and a real Prometheus server (Debian's, on 127.0.0.1, a
    temporary config, started and stopped here) scraping the daemon answers
    its query API with exactly 5 MiB at daemon_leak.c's @leak line; the
    scrape passes `promtool check metrics`; when the growth stops the
    process is de-escalated and none of its probes stays (bpftool);
    profiles in --profile-dir are rotated (--keep 2) and parse with Go's
    pprof parser (pprof_check, outputs_pprof's) to the same 5 MiB;
  - daemon_budget: three leakers, --max-escalated 1: one escalated, the
    others counted in memtrace_drops_total{reason="budget"};
  - daemon_push: profiles pushed to a stand-in ingest server built here
    from Debian's Go packages (tests/e2e/ingest_standin.go, Go's pprof
    parser): the name carries the pid, the body the 5 MiB line;
  - daemon_sighup: a config file that escalates nothing, rewritten, then
    SIGHUP: the leaker is escalated;
  - daemon_sigterm: SIGTERM with a process escalated: exit 0, no link of the
    daemon's left, the target runs on (not stopped);
  - daemon_oom: a leaker in a memory cgroup v2 with a 64 MiB limit, escalated,
    then killed by the kernel's OOM killer: its last profile and report are
    written (memtrace-PID-oom.pb.gz, memtrace-PID-oom.json) with the line,
    memtrace_oom_snapshots_total is 1 and a log line says so.
Under CI=true a missing tool (prometheus, promtool, go, the pprof package)
is a failure, never a skip. Prints `daemon: N passed, M failed`.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import outputs_pprof  # noqa: E402

LEAKER = os.path.join(run.TARGETS, "daemon_leak")
LEAKER_SRC = os.path.join(run.ROOT, "tests", "targets", "daemon_leak.c")
STANDIN_SRC = os.path.join(run.ROOT, "tests", "e2e", "ingest_standin.go")
STANDIN_BIN = os.path.join(run.ROOT, ".output", "ingest_standin")
MIB = 1 << 20
# fast settings: a leaker's 12 MiB escalates within a 4 s window, 3 s without a new peak settles
FAST = ["--match", "comm=daemon_leak", "--rss-growth", "8M", "--window", "4", "--settle", "3",
        "--poll", "0.3", "--interval", "0.5", "--exact-for", "60", "--escalate", "exact-now"]


def src_line(mark):
    """The first line of daemon_leak.c holding mark."""
    with open(LEAKER_SRC) as f:
        for n, line in enumerate(f, 1):
            if mark in line:
                return n
    raise run.Fail("no %r in daemon_leak.c" % mark)


def leak_line():
    return src_line("@leak")


def memset_line():
    return src_line("memset(p, 1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, args, port=None):
        self.port = port or free_port()
        self.m = run.Memtrace(["daemon", "--listen", "127.0.0.1:%d" % self.port] + list(args))
        if not self.m.err.wait(run.regex(r"^memtrace: daemon: watching"), 30):
            self.m.fail_context("the daemon did not start")
        self.pid = self.m.p.pid

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=10) as r:
            return r.read().decode()

    def wait_log(self, pat, timeout, what):
        m = self.m.err.wait(run.regex(pat), timeout)
        if not m:
            self.m.fail_context("no line /%s/ within %d s (%s)" % (pat, timeout, what))
        return m

    def stop(self, timeout=10):
        if self.m.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        return self.m.wait_exit(timeout)


def leaker(mode="leak", *args):
    p = run.spawn([LEAKER, mode] + [str(a) for a in args])
    return p


def series(text, name):
    """[(labels dict, value)] of one family in an exposition."""
    out = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r'^(\w+)(?:\{(.*)\})? (\S+)$', line)
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((labels, float(m.group(3))))
    return out


def uprobe_links(pid):
    """Allocator probe links process pid holds (/proc/PID/fdinfo): [(id, type, pid)]."""
    return [ln for ln in run.held_links(pid) if ln[1] in ("12", "uprobe_multi", "perf_event")]


def _which(tool):
    import shutil
    return shutil.which(tool)


class Prometheus:
    """Debian's prometheus on 127.0.0.1 scraping one target every second."""

    def __init__(self, target_port):
        if not _which("prometheus"):
            run.need_tool("prometheus (Debian prometheus)")
        self.dir = os.path.join(run.TMP, "prom-%d" % target_port)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: memtrace\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.p = run.spawn(["prometheus", "--config.file=" + cfg,
                            "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                            "--web.listen-address=127.0.0.1:%d" % self.port,
                            "--log.level=warn"])

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": q}))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.loads(r.read().decode())
        except OSError:
            return None
        if body.get("status") != "success":
            return None
        return body["data"]["result"]

    def wait(self, q, pred, timeout):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            last = self.query(q)
            if last and pred(last):
                return last
            if self.p.poll() is not None:
                raise run.Fail("prometheus exited %s: %s" % (
                    self.p.returncode, self.p.stderr.read().decode(errors="replace")[-300:]))
            time.sleep(0.5)
        raise run.Fail("prometheus: %s did not come within %d s (last answer: %s)" % (
            q, timeout, json.dumps(last)[:300]))

    def stop(self):
        run.kill_group(self.p, signal.SIGTERM)
        run.reap(self.p)


def promtool_check(text):
    if not _which("promtool"):
        run.need_tool("promtool (Debian prometheus)")
    r = run.run(["promtool", "check", "metrics"], stdin_data=text.encode(), timeout=30)
    if r.rc != 0:
        return ["promtool check metrics: %s %s" % (r.describe(), r.out.strip()[-300:])]
    return []


def escalate_one(d, more):
    """Start a leaker (16 MiB in 1 s) among three idle ones; wait for its escalation and
    the end of its first 16 MiB. Returns (leaker process, idle processes)."""
    idle = [leaker("idle") for _ in range(3)]
    lk = leaker("leak", 16, 60, more)
    d.wait_log(r"pid %d \(daemon_leak\): watch -> exact: rss grew" % lk.pid, 20,
               "escalation of the leaker")
    time.sleep(1.5)
    return lk, idle


def site_bytes(text, pid, line):
    """The leaker's outstanding heap bytes at the @leak line in a scrape (0 when absent)."""
    return sum(v for lab, v in series(text, "memtrace_site_outstanding_bytes")
               if lab.get("pid") == str(pid) and lab.get("line") == str(line) and
               lab.get("kind") == "heap")


def t_prometheus(markers, funcs):
    errs = []
    line = leak_line()
    pdir = os.path.join(run.TMP, "profiles")
    # --settle 12: Prometheus takes a few seconds to show a series
    d = Daemon(FAST + ["--settle", "12", "--profile-dir", pdir, "--keep", "2"])
    prom = Prometheus(d.port)
    try:
        lk, idle = escalate_one(d, 5)
        base = site_bytes(d.scrape(), lk.pid, line)  # its first leaks after the probes went in
        os.kill(lk.pid, signal.SIGUSR1)  # exactly 5 MiB more at the @leak line
        q = ('memtrace_site_outstanding_bytes{pid="%d",line="%d",function="leak_one"}'
             % (lk.pid, line))
        res = prom.wait(q, lambda r: float(r[0]["value"][1]) == base + 5 * MIB, 30)
        if not res[0]["metric"].get("file", "").endswith("daemon_leak.c"):
            errs.append("the series names file %r" % res[0]["metric"].get("file"))
        tiers = prom.query("memtrace_process_tier") or []
        pids = sorted(int(r["metric"]["pid"]) for r in tiers)
        if pids != [lk.pid]:
            errs.append("escalated pids %s, want only the leaker %d (idle: %s)" % (
                pids, lk.pid, [p.pid for p in idle]))
        rss = prom.query('memtrace_process_rss_bytes{comm="daemon_leak"}') or []
        ours = sorted([lk.pid] + [p.pid for p in idle])
        got = sorted(int(r["metric"]["pid"]) for r in rss)
        if not set(ours) <= set(got):
            errs.append("memtrace_process_rss_bytes has pids %s, want %s among them" % (got, ours))
        text = d.scrape()
        errs += promtool_check(text)
        esc = series(text, "memtrace_escalations_total")
        if not esc or esc[0][1] != 1:
            errs.append("memtrace_escalations_total %s, want 1" % esc)
        # growth stopped: de-escalated, its probes gone
        d.wait_log(r"pid %d \(daemon_leak\): exact -> watch: growth stopped" % lk.pid, 25,
                   "de-escalation")
        time.sleep(0.5)
        text = d.scrape()
        if series(text, "memtrace_process_tier"):
            errs.append("a process is still escalated after de-escalation")
        if series(text, "memtrace_site_outstanding_bytes"):
            errs.append("site series left after de-escalation")
        dd = series(text, "memtrace_deescalations_total")
        if not dd or dd[0][1] != 1:
            errs.append("memtrace_deescalations_total %s, want 1" % dd)
        left = uprobe_links(d.pid)
        if left:
            errs.append("%d uprobe links of the daemon left after de-escalation" % len(left))
        # profiles: rotated to 2 numbered files (the last one made at de-escalation)
        names = sorted(n for n in os.listdir(pdir) if re.match(r"memtrace-%d-\d{8}\.pb\.gz$"
                                                               % lk.pid, n))
        if len(names) != 2:
            errs.append("profiles of the leaker: %s, want 2 (--keep 2)" % names)
        outputs_pprof.build_checker()
        if names:
            _, samples = outputs_pprof.check(os.path.join(pdir, names[-1]))
            got = sum(v[3] for v, file, ln, fn, _ in samples
                      if run.base(file) == "daemon_leak.c" and ln == line)
            if got != base + 5 * MIB:
                errs.append("last profile: inuse_space at daemon_leak.c:%d is %d, want %d" % (
                    line, got, base + 5 * MIB))
        rc = d.stop()
        if rc != 0:
            errs.append("daemon exit %s after SIGTERM" % rc)
    finally:
        prom.stop()
        d.m.stop()
    return errs


def t_budget(markers, funcs):
    errs = []
    d = Daemon(FAST + ["--max-escalated", "1"])
    try:
        lks = [leaker("leak", 16, 60) for _ in range(3)]
        d.wait_log(r": watch -> exact: rss grew", 20, "one escalation")
        time.sleep(1.5)
        text = d.scrape()
        tiers = series(text, "memtrace_process_tier")
        if len(tiers) != 1:
            errs.append("%d processes escalated, want 1 (--max-escalated 1)" % len(tiers))
        elif int(tiers[0][0]["pid"]) not in [p.pid for p in lks]:
            errs.append("escalated pid %s is not a leaker" % tiers[0][0]["pid"])
        budget = [v for lab, v in series(text, "memtrace_drops_total")
                  if lab.get("reason") == "budget"]
        if not budget or budget[0] < 2:
            errs.append("memtrace_drops_total{reason=\"budget\"} %s, want >= 2" % budget)
        if series(text, "memtrace_escalated_processes")[0][1] != 1:
            errs.append("memtrace_escalated_processes is not 1")
    finally:
        d.m.stop()
    return errs


def build_standin():
    if not _which("go"):
        run.need_tool("go (Debian golang-go)")
    if not os.path.isdir(outputs_pprof.PPROF_PKG):
        run.need_tool("github.com/google/pprof/profile (Debian golang-github-google-pprof-dev)")
    if os.path.exists(STANDIN_BIN) and \
            os.path.getmtime(STANDIN_BIN) >= os.path.getmtime(STANDIN_SRC):
        return
    r = run.run(["go", "build", "-o", STANDIN_BIN, STANDIN_SRC], timeout=300,
                env=outputs_pprof.go_env())
    if r.rc != 0:
        raise run.Fail("building ingest_standin: %s" % r.describe())


def t_push(markers, funcs):
    errs = []
    line = leak_line()
    build_standin()
    port = free_port()
    srv = run.spawn([STANDIN_BIN, "127.0.0.1:%d" % port])
    out = run.Lines(srv.stdout, "standin")
    if not out.wait(run.regex(r"^listening"), 10):
        raise run.Fail("the stand-in ingest server did not start")
    d = Daemon(FAST + ["--push", "http://127.0.0.1:%d" % port, "--app", "fleet"])
    try:
        lk, _ = escalate_one(d, 5)
        base = site_bytes(d.scrape(), lk.pid, line)
        os.kill(lk.pid, signal.SIGUSR1)
        want = "fleet{pid=%d,comm=daemon_leak}" % lk.pid
        end = time.monotonic() + 20
        ok = False
        while time.monotonic() < end and not ok:
            lines = out.text().splitlines()
            for i, ln in enumerate(lines):
                f = ln.split("\t")
                if f[0] != "ingest" or f[1] != want:
                    continue
                got = sum(int(s.split("\t")[1]) for s in lines[i + 1:i + 1 + int(f[5])]
                          if s.split("\t")[3].endswith("daemon_leak.c") and
                          int(s.split("\t")[4]) == line)
                if got == base + 5 * MIB:
                    ok = True
                    if f[4] != "pprof" or not int(f[2]) <= int(f[3]):
                        errs.append("ingest query: %s" % ln)
                    break
            time.sleep(0.3)
        if not ok:
            errs.append("no push of %s with 5 MiB at daemon_leak.c:%d; the stand-in saw: %s" %
                        (want, line, out.text()[-400:]))
        if re.search(r"(?m)^error", out.text()):
            errs.append("the stand-in refused a push: %s" % out.text()[-300:])
    finally:
        d.m.stop()
        run.kill_group(srv)
    return errs


def t_sighup(markers, funcs):
    errs = []
    cfg = os.path.join(run.TMP, "daemon.conf")
    with open(cfg, "w") as f:
        f.write("# nothing escalates\nrss-growth 1G\n")
    args = [a for a in FAST]
    i = args.index("--rss-growth")
    del args[i:i + 2]
    d = Daemon(args + ["--config", cfg])
    try:
        lk = leaker("leak", 16, 60, 12)
        time.sleep(2.5)
        if d.m.err.wait(run.regex(r"watch -> exact"), 0.1):
            errs.append("escalated with --rss-growth 1G from the config file")
        with open(cfg, "w") as f:
            f.write("rss-growth 8M\nmax-sites = 30\n")
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"SIGHUP: options read again: --rss-growth 8388608 --window 4 --max-escalated 4", 10,
                   "reload")
        os.kill(lk.pid, signal.SIGUSR1)  # 12 MiB more: growth within the window, whenever
        # the first 16 MiB were
        d.wait_log(r"pid %d \(daemon_leak\): watch -> exact" % lk.pid, 10,
                   "escalation after SIGHUP")
    finally:
        d.m.stop()
    return errs


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def t_growth(markers, funcs):
    """Escalation through the growth tier (--escalate exact): the leaker's new pages at the
    lines that touched them first, then exact tracing while it still grows."""
    errs = []
    line, mline = leak_line(), memset_line()
    args = FAST[:FAST.index("--escalate")] + ["--escalate", "exact", "--settle", "6"]
    d = Daemon(args)
    try:
        lk = leaker("leak", 16, 80, 5)  # 16 MiB in 1.3 s; then 5 MiB at SIGUSR1
        d.wait_log(r"pid %d \(daemon_leak\): watch -> growth: rss grew" % lk.pid, 20,
                   "escalation to growth")
        # the leaks done and reported (a report taken during a memset has part of a MiB)
        end, problem = time.monotonic() + 3.5, "no scrape"
        while time.monotonic() < end and problem:
            time.sleep(0.5)
            text = d.scrape()
            if d.m.err.wait(run.regex(r"pid %d \(daemon_leak\): growth -> exact" % lk.pid), 0):
                problem = "went on to exact before the growth tier could be read"
                break
            grown = {int(lab["line"]): v for lab, v in
                     series(text, "memtrace_site_outstanding_bytes")
                     if lab.get("pid") == str(lk.pid) and lab.get("kind") == "growth"}
            tiers = [lab.get("tier") for lab, _ in series(text, "memtrace_process_tier")]
            # each leak: the malloc line touches its chunk's header page, memset the 1 MiB
            if not grown.get(mline) or grown[mline] % MIB:
                problem = ("growth tier: %s bytes at the memset line %d, want a positive "
                           "multiple of 1 MiB (all: %s)" % (grown.get(mline), mline, grown))
            elif grown.get(line) != grown[mline] // 256:
                problem = ("growth tier: %s bytes at the malloc line %d, want one page per "
                           "MiB at the memset line (%d)" % (grown.get(line), line,
                                                           grown[mline] // 256))
            elif tiers != ["growth"]:
                problem = "tiers %s, want one growth" % tiers
            else:
                problem = None
        if problem:
            errs.append(problem)
        d.wait_log(r"pid %d \(daemon_leak\): growth -> exact: still growing" % lk.pid, 15,
                   "on to exact tracing")
        time.sleep(1)
        os.kill(lk.pid, signal.SIGUSR1)  # exactly 5 MiB under exact tracing
        end, heap = time.monotonic() + 10, None
        while time.monotonic() < end and heap != 5 * MIB:
            time.sleep(0.5)
            heap = site_bytes(d.scrape(), lk.pid, line)
        if heap != 5 * MIB:
            errs.append("exact tier: %s bytes at the @leak line, want exactly 5 MiB" % heap)
    finally:
        d.m.stop()
    return errs


def t_sigterm(markers, funcs):
    errs = []
    d = Daemon(FAST)
    try:
        lk, _ = escalate_one(d, 1)
        held = run.held_links(d.pid)
        if not uprobe_links(d.pid):
            errs.append("no uprobe link of the daemon while a process is escalated")
        rc = d.stop()
        if rc != 0:
            errs.append("exit %s after SIGTERM, want 0" % rc)
        if not d.m.err.wait(run.regex(r"daemon: stopping: every probe removed"), 1):
            errs.append("no 'stopping' line")
        left = run.links_gone([ln[0] for ln in held])
        if left:
            errs.append("links of the daemon left after its exit: %s" % sorted(left))
        os.kill(lk.pid, signal.SIGUSR1)  # it runs on, its allocations unprobed
        time.sleep(0.3)
        st = proc_state(lk.pid)
        if st in ("T", "t"):
            errs.append("the leaker is stopped (state %s) after the daemon's exit" % st)
    finally:
        d.m.stop()
    return errs


class MemCgroup:
    """A memory cgroup with a limit: v2 where the memory controller is on v2, else v1's
    memory controller (this machine's hierarchy is hybrid). Swap is limited too."""

    def __init__(self, name, limit):
        self.path = None
        v2 = "/sys/fs/cgroup"
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                has_v2_memory = "memory" in f.read().split()
        except OSError:
            has_v2_memory = False
        if has_v2_memory:
            self.version, root = 2, v2
        elif os.path.isdir("/sys/fs/cgroup/memory"):
            self.version, root = 1, "/sys/fs/cgroup/memory"
        else:
            raise run.Fail("no memory cgroup controller (v1 or v2) on this machine: the OOM "
                           "path cannot be tested here")
        self.path = os.path.join(root, "%s-%d" % (name, os.getpid()))
        os.makedirs(self.path, exist_ok=True)
        if self.version == 2:
            self._write("memory.max", str(limit))
            self._write("memory.swap.max", "0", optional=True)
        else:
            self._write("memory.limit_in_bytes", str(limit))
            self._write("memory.memsw.limit_in_bytes", str(limit), optional=True)
            self._write("memory.oom_control", "0", optional=True)

    def _write(self, name, value, optional=False):
        try:
            with open(os.path.join(self.path, name), "w") as f:
                f.write(value)
        except OSError as e:
            if not optional:
                raise run.Fail("cgroup %s: writing %s: %s" % (self.path, name, e))

    def spawn(self, argv):
        procs = os.path.join(self.path, "cgroup.procs")

        def enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True, cwd=run.ROOT,
                             preexec_fn=enter)
        run.CHILDREN.append(p)
        return p

    def remove(self):
        if self.path:
            for _ in range(50):
                try:
                    os.rmdir(self.path)
                    return
                except OSError:
                    time.sleep(0.1)


def t_oom(markers, funcs):
    errs = []
    line = leak_line()
    pdir = os.path.join(run.TMP, "oom-profiles")
    cg = MemCgroup("memtrace-oom", 64 * MIB)
    run.log("daemon_oom: memory cgroup v%d at %s, limit 64 MiB" % (cg.version, cg.path))
    d = Daemon(FAST + ["--profile-dir", pdir])
    try:
        if d.m.err.wait(run.regex(r"does not announce OOM victims"), 0.5):
            raise run.Fail("this kernel does not announce OOM victims (oom/mark_victim)")
        lk = cg.spawn([LEAKER, "oom", "50"])
        d.wait_log(r"pid %d \(daemon_leak\): watch -> exact" % lk.pid, 20, "escalation")
        rc = run.reap(lk, 30)
        if rc != -signal.SIGKILL:
            errs.append("the leaker ended with %s, want SIGKILL from the OOM killer" % rc)
        d.wait_log(r"pid %d \(daemon_leak\): chosen by the OOM killer: .* first line "
                   r"\S*daemon_leak.c:%d" % (lk.pid, line), 10, "the OOM log line")
        gz = os.path.join(pdir, "memtrace-%d-oom.pb.gz" % lk.pid)
        js = os.path.join(pdir, "memtrace-%d-oom.json" % lk.pid)
        if not os.path.exists(gz) or not os.path.exists(js):
            errs.append("OOM snapshot files missing: %s" % sorted(os.listdir(pdir)))
            return errs
        outputs_pprof.build_checker()
        _, samples = outputs_pprof.check(gz)
        got = sum(v[3] for v, file, ln, fn, _ in samples
                  if run.base(file) == "daemon_leak.c" and ln == line)
        if got <= 0 or got % MIB:
            errs.append("OOM profile: inuse_space at daemon_leak.c:%d is %d, want a positive "
                        "multiple of 1 MiB" % (line, got))
        with open(js) as f:
            rep = json.loads(f.readline())
        if not rep.get("final"):
            errs.append("the OOM report is not marked final")
        sites = [s for s in rep.get("sites", rep.get("rows", []))
                 if run.base(str(s.get("file"))) == "daemon_leak.c" and s.get("line") == line]
        if not sites or sum(s.get("bytes", 0) for s in sites) != got:
            errs.append("the OOM JSON report's bytes at the line differ from the profile's "
                        "(%d)" % got)
        text = d.scrape()
        oom = series(text, "memtrace_oom_snapshots_total")
        if not oom or oom[0][1] != 1:
            errs.append("memtrace_oom_snapshots_total %s, want 1" % oom)
    finally:
        d.m.stop()
        cg.remove()
    return errs


CASES = (("daemon_prometheus", t_prometheus),
         ("daemon_budget", t_budget),
         ("daemon_push", t_push),
         ("daemon_sighup", t_sighup),
         ("daemon_growth", t_growth),
         ("daemon_sigterm", t_sigterm),
         ("daemon_oom", t_oom))


def main():
    return run.run_cases("daemon", CASES)


if __name__ == "__main__":
    sys.exit(main())
