#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""memtrace benchmarks: what tracing costs the traced process, and memtrace itself.

Sections, each printed as markdown (see tests/bench/README.md):

churn   ns per malloc+free pair of .output/bench/churn, untraced and under
        memtrace in several modes, interleaved (round-robin over modes,
        BENCH_RUNS rounds), for 1 and 2 threads. The workload times its own
        loop per thread with CLOCK_THREAD_CPUTIME_ID; the table shows medians.
python  wall seconds of tests/bench/pywork.py (pure-Python allocation churn)
        untraced, under memtrace (default, sampled, --growth, --python-allocators) and
        under python -X tracemalloc=1, interleaved, medians, as ratios to
        untraced; on pyenv's CPython 3.12.1 and Debian's /usr/bin/python3.11.
services throughput of Debian's redis-server (redis-benchmark) and nginx (ab)
        attached by -p: untraced, --growth, exact and sampled 512K, interleaved,
        medians (BENCH_SVC_RUNS, 3); the verdict: --growth loses <= 3%.
loader  memtrace's own CPU (% of one core per interval) and RSS while
        .output/bench/livemany holds 1 M live allocations from 100 k sites
        at --interval 1; perf profile of memtrace when a target is missed.
daemon  memtrace daemon watching every process of the host plus 500 idle
        ones (nothing escalated: --max-escalated 0) at --poll 10 (the
        default) and --poll 1: its CPU (% of one core) and RSS; and a
        metrics scrape of 10 escalated processes x 100 sites (the unit test
        daemon_scrape_10x100: synthetic report models, the real
        libmicrohttpd server, a libcurl client; median of 20).

Every workload runs against a private copy of libc (and of libpython when the
interpreter has one) through LD_LIBRARY_PATH, so other tracers' probes on the
system libraries cannot skew the numbers, and memtrace runs from a private
copy of ./memtrace, so a rebuild during the run changes nothing.
Standard library only.

Environment: BENCH_SECTIONS (comma-separated subset of churn,python,services,loader,render,daemon;
default all), MEMTRACE, CHURN, PYWORK, LIVEMANY, and per section:
churn:  BENCH_RUNS (5), BENCH_SECONDS (0.6), BENCH_SIZE (32),
        BENCH_THREADS ("1,2"), BENCH_MODES (subset of mode names), BENCH_DEPTH
        (16: calls deep in the deep-* modes, ~20-frame stacks), CHURN_NOFP;
python: BENCH_PY_RUNS (5; BENCH_PY_RUNS2, 3, for the second interpreter),
        BENCH_PY_SECONDS (1.5: untraced CPU seconds per run), BENCH_PY_CAP (4: wall seconds a slower mode may take; it runs
        fewer iterations, scaled), BENCH_PYTHON (pyenv 3.12.1),
        BENCH_PYTHON2 (/usr/bin/python3.11, "" = skip), BENCH_PY_MODES;
loader: BENCH_LIVE_SITES (100000), BENCH_LIVE_PER_SITE (10),
        BENCH_LIVE_INTERVAL (1), BENCH_LIVE_WINDOW (10: seconds sampled),
        BENCH_LIVE_SETTLE (3), BENCH_PROFILE (auto: perf profile when a
        target is missed; 1 always; 0 never), BENCH_PROFILE_SECONDS (6);
daemon: BENCH_DAEMON_PROCS (500), BENCH_DAEMON_WINDOW (30: seconds sampled at
        --poll 10; a third of it at --poll 1).
"""
import datetime
import hashlib
import json
import os
import re
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.environ.get("MEMTRACE", os.path.join(ROOT, "memtrace"))
CHURN = os.environ.get("CHURN", os.path.join(ROOT, ".output", "bench", "churn"))
CHURN_NOFP = os.environ.get("CHURN_NOFP", os.path.join(ROOT, ".output", "bench", "churn-nofp"))
PYWORK = os.environ.get("PYWORK", os.path.join(ROOT, "tests", "bench", "pywork.py"))
LIVEMANY = os.environ.get("LIVEMANY", os.path.join(ROOT, ".output", "bench", "livemany"))
SECTIONS = os.environ.get("BENCH_SECTIONS",
                          "churn,python,services,loader,render,daemon").split(",")
IDLE = os.path.join(ROOT, ".output", "targets", "daemon_leak")
UNIT_TESTS = os.path.join(ROOT, ".output", "unit-tests")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TARGET_S = float(os.environ.get("BENCH_SECONDS", "0.6"))
SIZE = int(os.environ.get("BENCH_SIZE", "32"))
DEPTH = int(os.environ.get("BENCH_DEPTH", "16"))  # churn's calls deep: ~20-frame stacks
THREADS = [int(t) for t in os.environ.get("BENCH_THREADS", "1,2").split(",")]
EX_USAGE = 64  # argp's exit status for an unknown option or a bad argument
FLOOR = "floor-return"  # the reference for the "x floor" column
TARGET_RATIO = 1.3  # full tracing vs its bare-trap floor

PY_RUNS = int(os.environ.get("BENCH_PY_RUNS", "5"))
PY_RUNS2 = int(os.environ.get("BENCH_PY_RUNS2", "3"))  # for the second interpreter
PY_SECONDS = float(os.environ.get("BENCH_PY_SECONDS", "1.5"))
PY_CAP = float(os.environ.get("BENCH_PY_CAP", "4"))
PY_WARMUP = 64  # pywork iterations before its timed loop
PYTHONS = [
    os.environ.get("BENCH_PYTHON", os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python3")),
    os.environ.get("BENCH_PYTHON2", "/usr/bin/python3.11"),
]

LIVE_SITES = int(os.environ.get("BENCH_LIVE_SITES", "100000"))
LIVE_PER_SITE = int(os.environ.get("BENCH_LIVE_PER_SITE", "10"))
LIVE_INTERVAL = os.environ.get("BENCH_LIVE_INTERVAL", "1")
LIVE_WINDOW = int(os.environ.get("BENCH_LIVE_WINDOW", "10"))
LIVE_SETTLE = float(os.environ.get("BENCH_LIVE_SETTLE", "3"))
PROFILE = os.environ.get("BENCH_PROFILE", "auto")
PROFILE_S = int(os.environ.get("BENCH_PROFILE_SECONDS", "6"))
LIVE_CPU_TARGET = 2.0  # % of one core, median per interval
LIVE_RSS_TARGET = 100  # MB
DEFAULT_MAX_ALLOCS = 1 << 20  # memtrace --max-allocs default

# placeholder for the memtrace binary in mode prefixes (a private copy at run time)
MT = "@memtrace@"
MT_BIN = MEMTRACE


def mt(*opts):
    """argv prefix: memtrace with these options, report discarded."""
    return [MT, *opts, "-o", "/dev/null", "--"]


def resolve(argv):
    return [MT_BIN if a == MT else a for a in argv]


# the workload of a mode, as the last element of its prefix: churn with or
# without frame pointers, DEPTH calls deep (stack walks of ~20 frames)
DEEP_FP, DEEP_NOFP = "@deep-fp@", "@deep-nofp@"


def workload(prefix, depth=None):
    """(memtrace prefix, churn argv tail after ITER THREADS SIZE, binary) of a mode."""
    if prefix and prefix[-1] in (DEEP_FP, DEEP_NOFP):
        return (prefix[:-1], [str(DEPTH if depth is None else depth)],
                CHURN if prefix[-1] == DEEP_FP else CHURN_NOFP)
    return prefix, [], CHURN


# One line per mode: (name, argv prefix put before "churn ITER THREADS SIZE"
# [, the floor mode to compare it with when that is not floor-return]).
MODES = [
    ("untraced", []),
    ("floor-entry", mt("--floor", "entry")),
    ("floor-return", mt("--floor", "return")),
    ("full", mt()),
    ("full-nostacks", mt("--no-stacks")),
    # unsampled calls skip the return trap: bounded below by floor-entry
    ("sampled-512K", mt("--sample-rate", "512K"), "floor-entry"),
    # no allocator probe: page faults only (a churn that does not grow: none)
    ("growth", mt("--growth"), "untraced"),
    # ~20-frame stacks: the frame-pointer walk on code built with frame
    # pointers, the CFI unwinder (warm: rules learned) on code built without
    ("deep-floor", mt("--floor", "return") + [DEEP_NOFP], "deep-floor"),
    ("deep-fp-walk", mt("--unwind", "fp") + [DEEP_FP], "deep-floor"),
    ("deep-cfi-nofp", mt() + [DEEP_NOFP], "deep-floor"),
    ("deep-cfi-fp", mt() + [DEEP_FP], "deep-floor"),
]
# the CFI unwinder's budget: at most this much more per recorded allocation than the FP walk
CFI_BUDGET_NS = 300
# modes whose drop counters are checked from one extra --format json run
CHECK_DROPS = ["full", "sampled-512K", "deep-cfi-nofp"]

# Python modes: (name, memtrace prefix, interpreter options, first interpreter only)
PY_MODES = [
    ("untraced", [], [], False),
    # empty probes where default tracing has them: the bare-trap floor
    ("floor-return", mt("--floor", "return"), [], False),
    ("default", mt(), [], False),
    # no native stack and no Python frames: what stacks add to default
    ("no-stacks", mt("--no-stacks"), [], False),
    ("sampled-512K", mt("--sample-rate", "512K"), [], False),
    ("growth", mt("--growth"), [], False),
    # pyenv's PyObject_Malloc/Free entries are single-stepped (~10 us per call)
    ("python-allocators", mt("--python-allocators"), [], True),
    ("tracemalloc", [], ["-X", "tracemalloc=1"], False),
]
PY_CHECK_DROPS = ["default"]


class Skip(Exception):
    pass


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


# ---------------------------------------------------------------------------
# churn: ns per malloc+free pair


def run_churn(prefix, iters, threads, env, verbose=False):
    """One run; returns (churn's JSON dict, memtrace's stderr)."""
    prefix, tail, churn = workload(prefix)
    argv = resolve(prefix)
    if verbose and prefix:
        argv.insert(1, "-v")
    argv += [churn, str(iters), str(threads), str(SIZE)] + tail
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    if prefix and p.returncode == EX_USAGE:
        raise Skip((p.stderr.strip().splitlines() or ["exit status 64"])[0])
    if p.returncode != 0:
        sys.exit("bench: %s failed (exit %d):\n%s" % (" ".join(argv), p.returncode, p.stderr))
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.exit("bench: no result from %s:\n%s%s" % (" ".join(argv), p.stdout, p.stderr))
    return json.loads(lines[-1]), p.stderr


def calibrate(prefix, threads, env):
    """Iterations for ~TARGET_S CPU seconds per thread; also checks the libc probed."""
    iters, stderr_v = 20000, ""
    for _ in range(4):
        res, err = run_churn(prefix, iters, threads, env, verbose=not stderr_v)
        stderr_v = stderr_v or err
        ns = res["ns_per_pair"]
        if ns * iters >= 0.05e9:
            break
        iters = int(iters * min(100, 0.1e9 / max(ns * iters, 1)))
    return max(1000, min(200_000_000, int(TARGET_S * 1e9 / ns))), stderr_v


def ldd(binary, env):
    """{soname: path} of what binary loads under env."""
    out = subprocess.run([binary], env=dict(env, LD_TRACE_LOADED_OBJECTS="1"),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    libs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>":
            libs[parts[0]] = parts[2]
    return libs


def private_libs(binary, tmp, env):
    """Copy binary's libc and libpython into tmp (once); check they are loaded from there.

    Returns [(soname, original path)] of the libraries copied for this binary."""
    copied = []
    for soname, path in ldd(binary, os.environ).items():
        if soname != "libc.so.6" and not soname.startswith("libpython"):
            continue
        dst = os.path.join(tmp, soname)
        if not os.path.exists(dst):
            shutil.copy2(path, dst)
        copied.append((soname, path))
    now = ldd(binary, env)
    for soname, _ in copied:
        if now.get(soname) != os.path.join(tmp, soname):
            sys.exit("bench: the private copy of %s is not loaded by %s: %s"
                     % (soname, binary, now.get(soname)))
    return copied


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "nproc %d, kernel %s, CPU %s" % (os.cpu_count(), platform.release(), cpu)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


TRACERS = ("memtrace", "bpftrace", "memleak", "memleak-bpfcc", "heaptrack", "perf", "valgrind")


def other_tracers():
    """Tracers running now that this script did not start: they share the CPUs."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
            if comm not in TRACERS and not comm.startswith("memleak"):
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append("pid %s `%s`" % (d, cmd[:120]))
        except OSError:
            continue
    return found


def fmt_ns(v):
    return "%.1f" % v if v < 100 else "%.0f" % v


def stack_frames(prefix, env):
    """Frames (not counting inlined ones) of the stack a deep mode records for the
    churn's allocation: churn run with "leak" keeps one block at that stack."""
    mprefix, tail, churn = workload(prefix)
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    out.close()
    try:
        argv = [a for a in resolve(mprefix) if a not in ("-o", "/dev/null")]
        argv = argv[:-1] + ["--group-by", "stack", "--format", "json", "-o", out.name, "--"]
        subprocess.run(argv + [churn, "3000", "1", str(SIZE)] + tail + ["leak"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        with open(out.name) as f:
            rep = json.load(f)
        n = [len([fr for fr in st.get("stack", []) if not fr.get("inlined")])
             for st in rep.get("sites", []) if st.get("bytes") == SIZE]
        return max(n) if n else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    finally:
        os.unlink(out.name)


def bpf_ns_per_run(prefix, env, seconds=2.0, depth=None):
    """memtrace's BPF programs' own time (kernel.bpf_stats_enabled run_time_ns / run_cnt),
    in ns per program run, over ~seconds of churn in mode prefix: free of the trap's
    noise. Its programs are found by the prog_id of memtrace's file descriptors."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        was = f.read().strip()
    mprefix, tail, churn = workload(prefix, depth)
    argv = resolve(mprefix) + [churn, "100000000", "1", str(SIZE)] + tail
    p = None
    try:
        with open(path, "w") as f:
            f.write("1")
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)  # attached, rules learned

        def sample():
            ids = set()
            for fd in os.listdir("/proc/%d/fdinfo" % p.pid):
                try:
                    with open("/proc/%d/fdinfo/%s" % (p.pid, fd)) as f:
                        ids.update(int(m) for m in re.findall(r"prog_id:\s*(\d+)", f.read()))
                except OSError:
                    pass
            t = c = 0
            for i in ids:
                out = subprocess.run(["bpftool", "prog", "show", "id", str(i), "-j"],
                                     stdout=subprocess.PIPE, text=True).stdout
                d = json.loads(out or "{}")
                if d.get("name", "").startswith("mt_libc"):
                    t += d.get("run_time_ns", 0)
                    c += d.get("run_cnt", 0)
            return t, c
        t0, c0 = sample()
        time.sleep(seconds)
        t1, c1 = sample()
        return (t1 - t0) / (c1 - c0) if c1 > c0 else None
    finally:
        if p:  # memtrace and the churn it runs: one process group
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        with open(path, "w") as f:
            f.write(was)


def churn_section(tmp, env):
    for f in (CHURN, CHURN_NOFP):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s missing: run make bench" % f)
    wanted = os.environ.get("BENCH_MODES")
    own_floor = {m[0]: m[2] for m in MODES if len(m) > 2}
    modes = [m[:2] for m in MODES if not wanted or m[0] in wanted.split(",")]
    start = time.monotonic()
    print("## memtrace overhead: churn (malloc(%d) + free per iteration)" % SIZE)
    print()
    print("- %d runs per mode and thread count, interleaved; ~%.1f s CPU per thread and run"
          % (RUNS, TARGET_S))
    sys.stdout.flush()

    # calibration: also drops modes memtrace does not know
    iters, notes, active, links = {}, [], [], {}
    for name, prefix in modes:
        try:
            for t in THREADS:
                iters[name, t], err = calibrate(prefix, t, env)
                m = re.search(r"attached to pid \d+ .*, (\S+) mode", err)
                if prefix:
                    links[name] = m.group(1) if m else "?"
                if prefix and tmp not in err:
                    notes.append("%s: memtrace -v did not report probing %s:\n%s"
                                 % (name, tmp, err))
        except Skip as e:
            notes.append("%s: skipped, memtrace rejected its options (exit 64): %s"
                         % (name, e))
            continue
        active.append((name, prefix))

    # measurement: round-robin over modes and thread counts
    samples = {k: [] for k in iters}
    for _ in range(RUNS):
        for t in THREADS:
            for name, prefix in active:
                res, _ = run_churn(prefix, iters[name, t], t, env)
                samples[name, t].append(res["ns_per_pair"])

    # one JSON run per checked mode for the drop and event counters
    counters = []
    for name, prefix in active:
        if name not in CHECK_DROPS:
            continue
        for t in THREADS:
            out = os.path.join(tmp, "%s-%d.json" % (name, t))
            jp = list(prefix)
            i = jp.index("-o")
            jp[i:i + 2] = ["--format", "json", "-o", out]
            res, _ = run_churn(jp, iters[name, t], t, env)
            with open(out) as f:
                rep = json.loads(f.read().splitlines()[-1])
            counters.append((name, t, res["ns_per_pair"], rep["drops"], rep["events"]))

    med = {k: statistics.median(v) for k, v in samples.items()}
    print("- load average at end %s, section took %.0f s" % (loadavg(), time.monotonic() - start))
    print()
    print("| mode | threads | ns per malloc+free pair (median) | × untraced | × %s | ± (min–max) |"
          % FLOOR)
    print("|---|---:|---:|---:|---:|---|")
    for t in THREADS:
        for name, _ in active:
            m = med[name, t]
            base = med.get(("untraced", t))
            floor = med.get((FLOOR, t))
            xu = "%.1f" % (m / base) if base else "–"
            xf = "%.2f" % (m / floor) if floor and name != "untraced" else "–"
            s = samples[name, t]
            print("| %s | %d | %s | %s | %s | %s–%s (n=%d, ±%.0f%%) |"
                  % (name, t, fmt_ns(m), xu, xf, fmt_ns(min(s)), fmt_ns(max(s)), len(s),
                     50 * (max(s) - min(s)) / m))
    print()
    for name, t, ns, drops, events in counters:
        bad = {k: v for k, v in drops.items() if v}
        print("- %s, %d thread%s (JSON run, %s ns/pair): drops %s%s; events %s"
              % (name, t, "s" if t > 1 else "", fmt_ns(ns),
                 "all 0" if not bad else "NONZERO",
                 "" if not bad else " " + json.dumps(bad),
                 ", ".join("%s=%d" % kv for kv in events.items())))
    if links:
        kinds = sorted(set(links.values()))
        print("- memtrace attached with %s" % (
            "%s links in every mode" % kinds[0] if len(kinds) == 1 else
            ", ".join("%s: %s" % kv for kv in links.items())))
    for name, _ in active:
        fl = own_floor.get(name)
        ratios = ["%.2f× (%d thread%s)" % (med[name, t] / med[fl, t], t, "s" if t > 1 else "")
                  for t in THREADS if (fl, t) in med]
        if ratios:
            print("- %s vs its own floor %s: %s" % (name, fl, ", ".join(ratios)))
    for n in notes:
        print("- note: " + n)
    verdicts = []
    for t in THREADS:
        if ("full", t) in med and (FLOOR, t) in med:
            r = med["full", t] / med[FLOOR, t]
            # per-round ratios: rounds are interleaved, so drift cancels
            pr = [a / b for a, b in zip(samples["full", t], samples[FLOOR, t])]
            verdicts.append("%.2f× (%d thread%s; per-round %.2f–%.2f)"
                            % (r, t, "s" if t > 1 else "", min(pr), max(pr)))
    if verdicts:
        worst = max(med["full", t] / med[FLOOR, t] for t in THREADS if ("full", t) in med)
        print()
        print("**Verdict: full tracing = %s the bare-trap floor (target ≤ %.1f×): %s**"
              % (", ".join(verdicts), TARGET_RATIO,
                 "met" if worst <= TARGET_RATIO else "NOT met"))
    bpf = {}
    if shutil.which("bpftool") and all(m in dict(active) for m in ("deep-cfi-nofp", "deep-fp-walk")):
        # the trap's noise dwarfs a few hundred ns: BPF's own run time says it exactly
        modes_d = dict(active)
        for _ in range(3):
            for m in ("deep-fp-walk", "deep-cfi-nofp", "deep-cfi-fp"):
                if m in modes_d:
                    v = bpf_ns_per_run(modes_d[m], env)
                    if v:
                        bpf.setdefault(m, []).append(v)
        bpf = {m: statistics.median(v) for m, v in bpf.items()}
        print()
        print("| mode (1 thread) | BPF ns per program run (median of 3) | per malloc+free pair (3 runs) |")
        print("|---|---:|---:|")
        for m, v in bpf.items():
            print("| %s | %.0f | %.0f |" % (m, v, 3 * v))
        if "deep-cfi-nofp" in bpf and "deep-fp-walk" in bpf:
            d = 3 * (bpf["deep-cfi-nofp"] - bpf["deep-fp-walk"])
            # the CFI walk goes on through code without frame pointers (libc's
            # thread start) where the FP walk stops: compare at equal depth too,
            # with the CFI walk's own cost per frame (its slope over 8 more frames)
            f_cfi = stack_frames(modes_d["deep-cfi-nofp"], env)
            f_fp = stack_frames(modes_d["deep-fp-walk"], env)
            deeper = [v for v in (bpf_ns_per_run(modes_d["deep-cfi-nofp"], env, depth=DEPTH + 8)
                                  for _ in range(3)) if v]
            print()
            print("**CFI unwinder, BPF time: %+.0f ns per recorded allocation against the "
                  "frame-pointer walk, warm %d-frame stacks**" % (d, DEPTH + 4))
            if f_cfi and f_fp and deeper:
                per_frame = 3 * (statistics.median(deeper) - bpf["deep-cfi-nofp"]) / 8
                eq = d - (f_cfi - f_fp) * per_frame
                print()
                print("**The CFI walk records %d frames, the FP walk %d (it stops where libc has "
                      "no frame pointers); a CFI frame costs %.0f ns: at equal depth the CFI "
                      "unwinder costs %+.0f ns per recorded allocation over the FP walk "
                      "(budget ≤ %d ns: %s)**"
                      % (f_cfi, f_fp, per_frame, eq, CFI_BUDGET_NS,
                         "met" if eq <= CFI_BUDGET_NS else "NOT met"))
    for t in THREADS:
        if all((m, t) in med for m in ("deep-cfi-nofp", "deep-fp-walk", "deep-floor")):
            cfi, fp, fl = med["deep-cfi-nofp", t], med["deep-fp-walk", t], med["deep-floor", t]
            pr = [a - b for a, b in zip(samples["deep-cfi-nofp", t], samples["deep-fp-walk", t])]
            print()
            print("**CFI unwinder, warm %d-frame stacks without frame pointers (%d thread%s): "
                  "%+.0f ns per recorded allocation against the frame-pointer walk in wall "
                  "time (per-round %+.0f..%+.0f: the traps' noise, wider than the budget, so "
                  "the verdict above is BPF's own time); %.2f× the FP walk, %.2f× the "
                  "bare-trap floor (FP walk: %.2f×)**"
                  % (DEPTH + 4, t, "s" if t > 1 else "", cfi - fp, min(pr), max(pr),
                     cfi / fp, cfi / fl, fp / fl))
    print()
    sys.stdout.flush()
    bad_drops = any(any(d.values()) for _, _, _, d, _ in counters)
    return 1 if bad_drops else 0


# ---------------------------------------------------------------------------
# python: wall seconds of pywork.py


def run_py(prefix, py, pyargs, iters, env, verbose=False, check=True):
    """One pywork run; returns (its JSON dict, memtrace's stderr)."""
    argv = resolve(prefix)
    if verbose and prefix:
        argv.insert(1, "-v")
    argv += [py, *pyargs, PYWORK, str(iters), str(PY_WARMUP)]
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    if prefix and p.returncode == EX_USAGE:
        raise Skip((p.stderr.strip().splitlines() or ["exit status 64"])[0])
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        msg = "%s failed (exit %d):\n%s%s" % (" ".join(argv), p.returncode, p.stdout[-2000:],
                                              p.stderr[-4000:])
        if not check:
            raise Skip(msg)
        sys.exit("bench: " + msg)
    return json.loads(lines[-1]), p.stderr


def py_calibrate(prefix, py, pyargs, env, n_full):
    """From a short -v run (>= 0.3 s): (wall s/iter, CPU s/iter, memtrace's stderr)."""
    iters, stderr_v = 100, ""
    for _ in range(4):
        res, err = run_py(prefix, py, pyargs, iters, env, verbose=not stderr_v, check=False)
        stderr_v = stderr_v or err
        sec = res["seconds"]
        if sec >= 0.3 or (n_full and iters >= n_full):
            break
        iters = int(iters * min(50, 0.6 / max(sec, 1e-3)))
        if n_full:
            iters = min(n_full, iters)
    return sec / iters, res["cpu_seconds"] / iters, stderr_v


def py_version(py, env):
    p = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() or "?"


def py_one(py, first, tmp, env, wanted):
    """One interpreter's table; returns 1 when a drop counter is nonzero."""
    copied = private_libs(py, tmp, env)
    version = py_version(py, env)
    modes = [m for m in PY_MODES
             if (first or not m[3]) and (not wanted or m[0] in wanted or m[0] == "untraced")]
    start = time.monotonic()
    print("### CPython %s (`%s`)" % (version, py))
    print()
    print("- private copies in LD_LIBRARY_PATH: %s"
          % ", ".join("%s (of %s)" % c for c in copied))
    sys.stdout.flush()

    # calibration: untraced first, it sets the iteration count of a run
    notes, active, spi, iters, pyinfo = [], [], {}, {}, {}
    n_full = 0
    for name, prefix, pyargs, _ in modes:
        try:
            spi[name], cspi, err = py_calibrate(prefix, py, pyargs, env, n_full)
        except Skip as e:
            notes.append("%s: skipped: %s" % (name, str(e).strip().splitlines()[-1]))
            continue
        if name == "untraced":  # CPU: preemption by other load must not shrink the work
            n_full = max(100, int(round(PY_SECONDS / cspi, -2)))
        if prefix:
            probed = re.findall(r"probing (/\S+)", err)
            m = re.search(r"runs (CPython \S+), .*: (.*)", err)
            pyinfo[name] = m.group(0).split(": ", 1)[-1] if m else "no Python detected"
            if m:
                pyinfo[name] = "%s: %s" % (m.group(1), m.group(2))
            off = [f for f in probed if not f.startswith(tmp)]
            if not probed or off:
                notes.append("%s: memtrace -v probed %s, not only the private copies in %s"
                             % (name, ", ".join(probed) or "nothing", tmp))
        iters[name] = n_full if spi[name] * n_full <= PY_CAP else max(
            PY_WARMUP, int(PY_CAP / spi[name]))
        active.append((name, prefix, pyargs))
    if "untraced" not in spi:
        print("- untraced run failed: %s" % notes)
        return 0

    # measurement: round-robin over modes; seconds scaled to n_full iterations
    wall = {name: [] for name, _, _ in active}
    cpu = {name: [] for name, _, _ in active}
    runs = PY_RUNS if first else PY_RUNS2
    for _ in range(runs):
        for name, prefix, pyargs in active:
            res, _ = run_py(prefix, py, pyargs, iters[name], env)
            wall[name].append(res["seconds"] * n_full / iters[name])
            cpu[name].append(res["cpu_seconds"] * n_full / iters[name])

    counters = []
    for name, prefix, pyargs in active:
        if name not in PY_CHECK_DROPS:
            continue
        out = os.path.join(tmp, "py-%s.json" % name)
        jp = list(prefix)
        i = jp.index("-o")
        jp[i:i + 2] = ["--format", "json", "-o", out]
        res, _ = run_py(jp, py, pyargs, iters[name], env)
        with open(out) as f:
            rep = json.loads(f.read().splitlines()[-1])
        counters.append((name, res["seconds"] * n_full / iters[name], rep))

    med = {k: statistics.median(v) for k, v in wall.items()}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    base = med["untraced"]
    print("- %d runs per mode, interleaved; %d pywork iterations (~%.1f s CPU untraced) per run, "
          "fewer where a mode would take over %.0f s (scaled); section took %.0f s"
          % (runs, n_full, PY_SECONDS, PY_CAP, time.monotonic() - start))
    print()
    print("| mode | seconds (median) | × untraced | ± (min–max) | CPU seconds (median) "
          "| × untraced (CPU) | iterations per run |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, _, _ in active:
        s = wall[name]
        unt = name == "untraced"
        print("| %s | %.2f | %s | %.2f–%.2f (n=%d, ±%.0f%%) | %.2f | %s | %d%s |"
              % (name, med[name], "%.2f" % (med[name] / base) if not unt else "–",
                 min(s), max(s), len(s), 50 * (max(s) - min(s)) / med[name], cmed[name],
                 "%.2f" % (cmed[name] / cmed["untraced"]) if not unt else "–",
                 iters[name], "" if iters[name] == n_full else " (scaled)"))
    print()
    bad = False
    for name, sec, rep in counters:
        d = {k: v for k, v in rep["drops"].items() if v}
        bad = bad or bool(d)
        print("- %s (JSON run, %.2f s): drops %s%s; events %s; final report: %s bytes in %d "
              "allocations, %d groups"
              % (name, sec, "all 0" if not d else "NONZERO",
                 "" if not d else " " + json.dumps(d),
                 ", ".join("%s=%d" % kv for kv in rep["events"].items()),
                 rep.get("total_bytes"), rep.get("total_count", 0), rep.get("groups", 0)))
    infos = sorted(set(pyinfo.values()))
    if infos:
        print("- memtrace -v: %s" % "; ".join(infos))
    for name in med:
        r = [w / b for w, b in zip(wall[name], wall["untraced"])]
        if name != "untraced":
            print("- %s: per-round × untraced %.2f–%.2f; wall − CPU %.2f s (median)"
                  % (name, min(r), max(r), med[name] - cmed[name]))
    if "floor-return" in med and "default" in med:
        print("- default vs its bare-trap floor (floor-return): %.2f× wall, %.2f× CPU "
              "(the rest is memtrace's BPF work: maps, native stack, Python frames)"
              % (med["default"] / med["floor-return"], cmed["default"] / cmed["floor-return"]))
    if "no-stacks" in med and "default" in med and "floor-return" in med:
        fr, ns, de = cmed["floor-return"], cmed["no-stacks"], cmed["default"]
        if de > fr:
            print("- of default's CPU time above floor-return, the stacks (native + Python "
                  "frames, default − no-stacks) are %.0f %%, the rest (maps, sizes) %.0f %%"
                  % (100 * (de - ns) / (de - fr), 100 * (ns - fr) / (de - fr)))
    for n in notes:
        print("- note: " + n)
    print()
    sys.stdout.flush()
    return 1 if bad else 0


def python_section(tmp, env):
    if not os.path.exists(PYWORK):
        sys.exit("bench: %s missing" % PYWORK)
    wanted = [m for m in os.environ.get("BENCH_PY_MODES", "").split(",") if m]
    env = dict(env, PYTHONHASHSEED="0")
    for k in ("PYTHONMALLOC", "PYTHONTRACEMALLOC", "PYTHONDEVMODE", "PYTHONHOME",
              "PYTHONPATH"):
        env.pop(k, None)
    print("## Python workload slowdown (tests/bench/pywork.py)")
    print()
    print("Wall seconds of the same pywork iterations, timed inside the script "
          "(time.perf_counter), median over interleaved runs.")
    print()
    rc = 0
    for i, py in enumerate(PYTHONS):
        if not py:
            continue
        if not os.access(py, os.X_OK):
            print("- %s: not found, skipped" % py)
            print()
            continue
        rc |= py_one(py, i == 0, tmp, env, wanted)
    return rc


# ---------------------------------------------------------------------------
# services: throughput of Debian's redis and nginx attached by -p

SVC_RUNS = int(os.environ.get("BENCH_SVC_RUNS", "3"))
SVC_MODES = [
    ("untraced", None),
    ("growth", ["--growth"]),
    ("exact", []),
    ("sampled-512K", ["--sample-rate", "512K"]),
]
# --growth: at most this throughput loss (issue 14)
SVC_GROWTH_LOSS = 0.03


def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def wait_port(port, timeout=10):
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as so:
            if so.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def attach(pid, opts, tmp):
    """memtrace OPTS -p PID, once it says it attached; None for untraced."""
    if opts is None:
        return None
    errf = open(os.path.join(tmp, "svc.err"), "w+")
    mtp = subprocess.Popen([MT_BIN, *opts, "--interval", "60", "-o", "/dev/null", "-p",
                            str(pid)], stdout=subprocess.DEVNULL, stderr=errf)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        errf.seek(0)
        if "attached to pid" in errf.read() or mtp.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return mtp


def detach(mtp):
    if mtp:
        mtp.send_signal(signal.SIGINT)
        try:
            mtp.wait(timeout=30)
        except subprocess.TimeoutExpired:
            mtp.kill()
            mtp.wait()


def redis_run(opts, tmp):
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                            "--appendonly", "no", "--dir", tmp],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port):
            raise Skip("redis-server did not listen")
        mtp = attach(srv.pid, opts, tmp)
        try:
            out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get",
                                  "-n", "100000", "-r", "100000", "-q"],
                                 stdout=subprocess.PIPE, text=True, timeout=300).stdout
        finally:
            detach(mtp)
        rps = [float(x) for x in re.findall(r"([\d.]+) requests per second", out)]
        if not rps:
            raise Skip("no result from redis-benchmark: %r" % out[-200:])
        return statistics.mean(rps)
    finally:
        srv.kill()
        srv.wait()


def nginx_run(opts, tmp):
    port = free_port()
    root = os.path.join(tmp, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "f"), "w") as f:
        f.write("x" * 1024)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("daemon off; worker_processes 1; error_log %s/nginx.err; pid %s/nginx.pid;\n"
                "events { worker_connections 256; }\n"
                "http { access_log off; server { listen 127.0.0.1:%d; root %s; } }\n"
                % (tmp, tmp, port, root))
    srv = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        if not wait_port(port):
            raise Skip("nginx did not listen")
        mtp = attach(srv.pid, opts, tmp)
        try:
            out = subprocess.run(["ab", "-q", "-k", "-n", "40000", "-c", "4",
                                  "http://127.0.0.1:%d/f" % port],
                                 stdout=subprocess.PIPE, text=True, timeout=300).stdout
        finally:
            detach(mtp)
        m = re.search(r"Requests per second:\s+([\d.]+)", out)
        if not m:
            raise Skip("no result from ab: %r" % out[-200:])
        return float(m.group(1))
    finally:
        srv.terminate()
        srv.wait()


def services_section(tmp):
    print("## Services attached by -p: throughput")
    print()
    print("- Debian's redis-server (`redis-benchmark -t set,get -n 100000 -r 100000`, mean "
          "of its two rates) and nginx (`ab -k -n 40000 -c 4`, a 1 KiB file, one worker "
          "followed from its master), %d interleaved runs per mode, medians; the system "
          "libc, memtrace attached by -p before the load starts" % SVC_RUNS)
    print()
    rc = 0
    for svc, fn, tool in (("redis", redis_run, "redis-benchmark"), ("nginx", nginx_run, "ab")):
        if not shutil.which(tool) or not shutil.which("nginx" if svc == "nginx" else
                                                      "redis-server"):
            print("- %s: not installed (tests/install-deps.sh installs it), skipped" % svc)
            continue
        res = {name: [] for name, _ in SVC_MODES}
        try:
            for _ in range(SVC_RUNS):
                for name, opts in SVC_MODES:
                    res[name].append(fn(opts, tmp))
        except Skip as e:
            print("- %s: %s" % (svc, e))
            continue
        base = statistics.median(res["untraced"])
        print("| %s mode | requests/s (median) | × untraced | ± (min–max) |" % svc)
        print("|---|---:|---:|---|")
        for name, _ in SVC_MODES:
            med = statistics.median(res[name])
            print("| %s | %.0f | %.3f | %.0f–%.0f |" % (name, med, med / base, min(res[name]),
                                                      max(res[name])))
        loss = 1 - statistics.median(res["growth"]) / base
        ok = loss <= SVC_GROWTH_LOSS
        print()
        print("**Verdict: %s under --growth loses %.1f%% throughput (target ≤ %.0f%%): %s**"
              % (svc, 100 * loss, 100 * SVC_GROWTH_LOSS, "met" if ok else "NOT met"))
        print()
        sys.stdout.flush()
    return rc


# ---------------------------------------------------------------------------
# loader: memtrace's own cost with many live allocations


def cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat), None when gone."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def status_kb(pid, *fields):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in fields:
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def bpf_map_memlock(pid):
    """Sum of memlock (bytes) over pid's BPF map fds: the maps' kernel memory."""
    total = n = 0
    fd_dir = "/proc/%d/fdinfo" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return 0, 0
    for fd in fds:
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                info = f.read()
        except OSError:
            continue
        if "map_type:" in info:
            m = re.search(r"memlock:\s+(\d+)", info)
            if m:
                total += int(m.group(1))
                n += 1
    return total, n


def perf_profile(pid, seconds, tmp):
    """perf record memtrace (DWARF call graphs); returns (self rows, inclusive rows, error)."""
    data = os.path.join(tmp, "perf.data")
    rec = subprocess.run(["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384",
                          "-p", str(pid), "-o", data, "--", "sleep", str(seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if rec.returncode != 0 or not os.path.exists(data):
        return [], [], "perf record failed (exit %d): %s" % (rec.returncode, rec.stderr[-500:])

    def report(*opts):
        p = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", *opts],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return [l for l in p.stdout.splitlines() if l.strip() and not l.startswith("#")]

    selfrows = []
    for l in report("--no-children", "--sort", "dso,sym", "--percent-limit", "1"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", l)
        if m:
            selfrows.append((float(m.group(1)), m.group(2), m.group(4).strip()))
    incl = []
    for l in report("--children", "--sort", "dso,sym", "--percent-limit", "3"):
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", l)
        if m and m.group(3) == "memtrace":
            incl.append((float(m.group(1)), float(m.group(2)), m.group(5).strip()))
    return selfrows, incl, None


def read_line(f, timeout):
    r, _, _ = select.select([f], [], [], timeout)
    return f.readline() if r else ""


def loader_section(tmp, env):
    if not os.access(LIVEMANY, os.X_OK):
        sys.exit("bench: %s missing: run make bench" % LIVEMANY)
    private_libs(LIVEMANY, tmp, env)
    live = LIVE_SITES * LIVE_PER_SITE
    profile_s = PROFILE_S if PROFILE != "0" else 0
    hold = int(LIVE_SETTLE + LIVE_WINDOW + profile_s + 4)
    caps = ["--max-stacks", str(2 * LIVE_SITES), "--stack-storage", str(2 * LIVE_SITES)]
    if live * 1.02 > DEFAULT_MAX_ALLOCS:
        caps += ["--max-allocs", str(int(live * 1.25))]
    out = os.path.join(tmp, "live.json")
    errf = os.path.join(tmp, "live.err")
    argv = [MT_BIN, "-v", "--interval", LIVE_INTERVAL, *caps, "--format", "json", "-o", out]
    shown = "memtrace --interval %s %s --format json -o FILE -p PID" % (LIVE_INTERVAL,
                                                                       " ".join(caps))
    print("## Loader cost: %d live allocations from %d sites" % (live, LIVE_SITES))
    print()
    print("- `%s` against `livemany %d %d %d` (%d allocations per site, 16–256 bytes; "
          "1000 distinct malloc calls, every site a distinct frame-pointer stack)"
          % (shown, LIVE_SITES, LIVE_PER_SITE, hold, LIVE_PER_SITE))
    sys.stdout.flush()

    lm = subprocess.Popen([LIVEMANY, str(LIVE_SITES), str(LIVE_PER_SITE), str(hold)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    mtp = None
    try:
        first = json.loads(read_line(lm.stdout, 10) or "{}")
        pid = first.get("pid")
        if not pid:
            sys.exit("bench: livemany did not start")
        with open(errf, "w") as ef:
            mtp = subprocess.Popen(argv + ["-p", str(pid)], stdout=subprocess.DEVNULL,
                                   stderr=ef)
        t_start = time.monotonic()
        while True:
            with open(errf) as f:
                err = f.read()
            if "attached to pid" in err:
                break
            if mtp.poll() is not None or time.monotonic() - t_start > 60:
                sys.exit("bench: memtrace did not attach (exit %s):\n%s" % (mtp.poll(), err))
            time.sleep(0.05)
        attach_s = time.monotonic() - t_start
        if tmp not in err:
            print("- note: memtrace -v did not report probing %s" % tmp)
        # idle: attached, nothing allocated yet
        c0, t0 = cpu_ns(mtp.pid), time.monotonic()
        time.sleep(2)
        idle_pct = (cpu_ns(mtp.pid) - c0) / 1e9 / (time.monotonic() - t0) * 100
        rss_idle = status_kb(mtp.pid, "VmRSS").get("VmRSS", 0)

        c0, t0 = cpu_ns(mtp.pid), time.monotonic()
        lm.stdin.write("go\n")
        lm.stdin.flush()
        holding = json.loads(read_line(lm.stdout, 600) or "{}")
        if holding.get("state") != "holding":
            sys.exit("bench: livemany did not report holding: %s" % holding)
        alloc_wall = time.monotonic() - t0
        alloc_pct = (cpu_ns(mtp.pid) - c0) / 1e9 / alloc_wall * 100

        time.sleep(LIVE_SETTLE)
        per_s, rss = [], []
        c_prev, t_prev = cpu_ns(mtp.pid), time.monotonic()
        c_first, t_first = c_prev, t_prev
        for k in range(LIVE_WINDOW):
            time.sleep(max(0.0, t_first + k + 1 - time.monotonic()))
            c, t = cpu_ns(mtp.pid), time.monotonic()
            if c is None:
                sys.exit("bench: memtrace exited during the measurement:\n" + open(errf).read())
            per_s.append((c - c_prev) / 1e9 / (t - t_prev) * 100)
            rss.append(status_kb(mtp.pid, "VmRSS")["VmRSS"])
            c_prev, t_prev = c, t
        mean_pct = (c_prev - c_first) / 1e9 / (t_prev - t_first) * 100
        hwm = status_kb(mtp.pid, "VmHWM")["VmHWM"]
        maps_b, nmaps = bpf_map_memlock(mtp.pid)
        med_pct = statistics.median(per_s)
        rss_mb = max(rss) / 1024
        cpu_ok = med_pct < LIVE_CPU_TARGET
        rss_ok = hwm / 1024 < LIVE_RSS_TARGET

        prof = None
        if PROFILE == "1" or (PROFILE == "auto" and not (cpu_ok and rss_ok)):
            prof = perf_profile(mtp.pid, profile_s, tmp)

        # teardown: livemany exits after its hold, memtrace then reports and exits
        lm.wait(timeout=hold + 120)
        t_exit = time.monotonic()
        c_exit = cpu_ns(mtp.pid) or 0
        peak = hwm
        c_last = c_exit
        while mtp.poll() is None and time.monotonic() - t_exit < 120:
            peak = max(peak, status_kb(mtp.pid, "VmHWM").get("VmHWM", 0))
            c_last = cpu_ns(mtp.pid) or c_last
            time.sleep(0.05)
        exit_s = time.monotonic() - t_exit
        exit_cpu = (c_last - c_exit) / 1e9
        rc_mt = mtp.wait(timeout=30)
    finally:
        for p in (lm, mtp):
            if p and p.poll() is None:
                p.kill()
                p.wait()

    reps = []
    with open(out) as f:
        for line in f:
            if line.startswith("{"):
                reps.append(json.loads(line))
    if not reps:
        sys.exit("bench: memtrace wrote no report:\n" + open(errf).read())
    peak_ok = peak / 1024 < LIVE_RSS_TARGET
    peak_rep = max(reps, key=lambda r: r.get("total_count", 0))
    drops = {}
    for r in reps:
        for k, v in r["drops"].items():
            drops[k] = max(drops.get(k, 0), v)
    bad = {k: v for k, v in drops.items() if v}

    print("- memtrace attached in %.1f s; %d allocations made in %.1f s traced "
          "(%.1f µs per malloc, charged to livemany)"
          % (attach_s, live, holding["alloc_seconds"], holding["alloc_seconds"] * 1e6 / live))
    print("- sampled %d s at 1 s steps, %.0f s after the last allocation; CPU from "
          "/proc/PID/task/*/schedstat; load average %s" % (LIVE_WINDOW, LIVE_SETTLE, loadavg()))
    print()
    print("| measure | value | target | met |")
    print("|---|---:|---:|---|")
    print("| memtrace CPU, %% of one core (median of 1 s steps) | %.1f | < %.0f | %s |"
          % (med_pct, LIVE_CPU_TARGET, "yes" if cpu_ok else "**no**"))
    print("| memtrace CPU, %% of one core (mean over the window; min–max of steps) "
          "| %.1f (%.1f–%.1f) | | |" % (mean_pct, min(per_s), max(per_s)))
    print("| memtrace VmRSS, MB (max in the window) | %.1f | | |" % rss_mb)
    print("| memtrace VmHWM, MB (peak since start, at the end of the window) | %.1f | < %d | %s |"
          % (hwm / 1024, LIVE_RSS_TARGET, "yes" if rss_ok else "**no**"))
    print("| memtrace VmHWM, MB (whole run: also its final report and purge after the "
          "target exits) | %.1f | < %d | %s |"
          % (peak / 1024, LIVE_RSS_TARGET, "yes" if peak_ok else "**no**"))
    print("| BPF maps, MB (memlock of %d maps: kernel memory, not in RSS) | %.0f | | |"
          % (nmaps, maps_b / 2**20))
    print("| memtrace CPU while idle (attached, nothing live), %% of one core | %.1f | | |"
          % idle_pct)
    print("| memtrace CPU while the allocations were made, %% of one core | %.1f | | |"
          % alloc_pct)
    print("| memtrace VmRSS before the allocations, MB | %.1f | | |" % (rss_idle / 1024))
    print("| memtrace exit after the target's: seconds, CPU seconds | %.1f, %.1f | | |"
          % (exit_s, exit_cpu))
    print()
    print("- per 1 s step, %% of a core: %s" % " ".join("%.1f" % v for v in per_s))
    print("- reports: %d; largest: %d allocations, %s bytes, %d group%s (the 1000 malloc calls "
          "share one source line); drops %s; memtrace exit status %d"
          % (len(reps), peak_rep.get("total_count", 0), peak_rep.get("total_bytes"),
             peak_rep.get("groups", 0), "" if peak_rep.get("groups", 0) == 1 else "s",
             "all 0" if not bad else "NONZERO " + json.dumps(bad), rc_mt))
    if peak_rep.get("total_count", 0) < live:
        print("- note: the largest report counts %d live allocations, fewer than the %d made"
              % (peak_rep.get("total_count", 0), live))
    print()
    print("**Verdict: memtrace %.1f %% of a core (target < %.0f %%): %s; peak RSS %.0f MB "
          "while reporting, %.0f MB including exit (target < %d MB): %s**"
          % (med_pct, LIVE_CPU_TARGET, "met" if cpu_ok else "NOT met", hwm / 1024,
             peak / 1024, LIVE_RSS_TARGET, "met" if rss_ok and peak_ok else "NOT met"))
    print()
    if prof:
        selfrows, incl, perr = prof
        print("### perf profile of memtrace (%d s, `perf record -F 499 --call-graph dwarf -p "
              "PID`)" % profile_s)
        print()
        if perr:
            print("- " + perr)
        else:
            print("Self time, % of memtrace's samples (× the CPU above = % of a core):")
            print()
            print("| self % | module | function |")
            print("|---:|---|---|")
            for pct, dso, sym in selfrows[:15]:
                print("| %.1f | %s | %s |" % (pct, dso, sym))
            print()
            print("Inclusive time of memtrace's own functions (≥ 3 %):")
            print()
            print("| inclusive % | self % | function |")
            print("|---:|---:|---|")
            for ch, se, sym in incl[:15]:
                print("| %.1f | %.1f | %s |" % (ch, se, sym))
        print()
    sys.stdout.flush()
    return 1 if bad else 0


# ---------------------------------------------------------------------------


RENDER_LINE = re.compile(r"render: (\w+): (\d+) bytes, (\d+) ms of CPU")


def render_section(runs=5):
    """Every output format on one report of 100,000 sites of 8 frames (the unit test
    render_100k_sites builds it): CPU time per render (median of runs) and size."""
    print("## Rendering a report of 100,000 sites")
    print()
    if not os.access(UNIT_TESTS, os.X_OK):
        print("skipped: %s missing (make unit)" % UNIT_TESTS)
        return 1
    times, sizes = {}, {}
    for _ in range(runs):
        r = subprocess.run([UNIT_TESTS, "render_100k_sites"], capture_output=True, text=True)
        for m in RENDER_LINE.finditer(r.stdout):
            times.setdefault(m.group(1), []).append(int(m.group(3)))
            sizes[m.group(1)] = int(m.group(2))
    print("| format | CPU ms (median of %d) | range | size |" % runs)
    print("|---|---|---|---|")
    for fmt in ("text", "json", "folded", "pprof", "html"):
        t = sorted(times.get(fmt, []))
        if not t:
            print("| %s | - | - | - |" % fmt)
            continue
        print("| %s | %d | %d-%d | %.1f MB |" % (fmt, statistics.median(t), t[0], t[-1],
                                                 sizes[fmt] / 1e6))
    print()
    return 0


SCRAPE_LINE = re.compile(r"scrape: (\d+)x(\d+): (\d+) bytes, median (\d+) us \(min (\d+), "
                         r"max (\d+)\) over (\d+)")


def count_procs():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


def daemon_section(tmp, env):
    """memtrace daemon's own cost: the watch of every process (500 idle ones added), at
    --poll 10 and 1, nothing escalated; then the scrape of 10 x 100 sites."""
    nproc = int(os.environ.get("BENCH_DAEMON_PROCS", "500"))
    window = float(os.environ.get("BENCH_DAEMON_WINDOW", "30"))
    print("## memtrace daemon")
    print()
    if not os.access(IDLE, os.X_OK):
        print("skipped: %s missing (make targets)" % IDLE)
        return 1
    idle = []
    try:
        for _ in range(nproc):
            idle.append(subprocess.Popen([IDLE, "idle"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
        total = count_procs()
        print("%d processes on the host (%d idle ones added); nothing escalated "
              "(--max-escalated 0), no metrics server (--listen none)" % (total, nproc))
        print()
        print("| --poll | window | daemon CPU, % of one core | per scan | VmRSS | VmHWM | BPF maps "
              "(memlock) |")
        print("|---|---|---|---|---|---|---|")
        for poll, win in ((10, window), (1, window / 3)):
            d = subprocess.Popen([MT_BIN, "daemon", "--max-escalated", "0", "--listen", "none",
                                  "--poll", str(poll)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                 text=True)
            try:
                # loaded (its start measures what growth costs: not part of the window)
                line, end = "", time.monotonic() + 60
                while "daemon: watching" not in line and time.monotonic() < end:
                    line = read_line(d.stderr, end - time.monotonic()) or ""
                    if d.poll() is not None:
                        break
                time.sleep(2)  # its first scans done
                c0, t0 = cpu_ns(d.pid), time.monotonic()
                time.sleep(win)
                c1, t1 = cpu_ns(d.pid), time.monotonic()
                st = status_kb(d.pid, "VmRSS", "VmHWM")
                memlock, nmaps = bpf_map_memlock(d.pid)
            finally:
                d.send_signal(signal.SIGTERM)
                try:
                    d.wait(15)
                except subprocess.TimeoutExpired:
                    d.kill()
                    d.wait()
            if c0 is None or c1 is None:
                print("| %d | - | daemon exited: %s | | | | |"
                      % (poll, d.stderr.read()[-200:]))
                continue
            pct = (c1 - c0) / 1e9 / (t1 - t0) * 100
            scans = (t1 - t0) / poll
            print("| %d s | %.0f s | %.3f %% | %.1f ms | %.1f MB | %.1f MB | %.1f MB in %d maps |"
                  % (poll, t1 - t0, pct, (c1 - c0) / 1e6 / scans, st.get("VmRSS", 0) / 1024,
                     st.get("VmHWM", 0) / 1024, memlock / 1e6, nmaps))
        print()
    finally:
        for p in idle:
            p.kill()
        for p in idle:
            p.wait()
    print("Metrics scrape (unit test daemon_scrape_10x100: 10 escalated processes x 100 sites "
          "and 500 RSS series, the real server and a libcurl client):")
    print()
    r = subprocess.run([UNIT_TESTS, "daemon_scrape_10x100"], capture_output=True, text=True)
    m = SCRAPE_LINE.search(r.stdout)
    if not m:
        print("scrape: no result (%s)" % r.stdout[-200:])
        return 1
    print("| processes x sites | exposition | median | min | max | scrapes |")
    print("|---|---|---|---|---|---|")
    print("| %s x %s | %.0f KB | %.2f ms | %.2f ms | %.2f ms | %s |" % (
        m.group(1), m.group(2), int(m.group(3)) / 1e3, int(m.group(4)) / 1e3,
        int(m.group(5)) / 1e3, int(m.group(6)) / 1e3, m.group(7)))
    print()
    return 0


def main():
    global MT_BIN
    if not os.access(MEMTRACE, os.X_OK):
        sys.exit("bench: %s missing: run make bench" % MEMTRACE)
    for s in SECTIONS:
        if s not in ("churn", "python", "services", "loader", "render", "daemon"):
            sys.exit("bench: unknown section %r in BENCH_SECTIONS (churn, python, services, "
                     "loader, render, daemon)" % s)
    start = datetime.datetime.now().astimezone()
    tmp = tempfile.mkdtemp(prefix="memtrace-bench-")
    rc = 0
    try:
        MT_BIN = os.path.join(tmp, "memtrace")
        shutil.copy2(os.path.realpath(MEMTRACE), MT_BIN)
        with open(MT_BIN, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        built = datetime.datetime.fromtimestamp(os.path.getmtime(MT_BIN)).strftime(
            "%Y-%m-%d %H:%M")
        env = dict(os.environ, LD_LIBRARY_PATH=tmp)
        env.pop("LD_PRELOAD", None)
        if os.access(CHURN, os.X_OK):
            libc = private_libs(CHURN, tmp, env)
        else:
            libc = private_libs(LIVEMANY, tmp, env)
        print("# memtrace benchmarks")
        print()
        print("- machine: %s" % machine())
        print("- date: %s, load average at start %s" % (start.strftime("%Y-%m-%d %H:%M %Z"),
                                                         loadavg()))
        print("- memtrace: private copy of %s (built %s, sha256 %s)"
              % (os.path.realpath(MEMTRACE), built, digest))
        print("- libc: private copy of %s in %s (LD_LIBRARY_PATH)"
              % (dict(libc).get("libc.so.6", "?"), tmp))
        others = other_tracers()
        if others:
            print("- **other tracers running** (they share the 2 vCPUs): %s" % "; ".join(others))
        print("- sections: %s" % ", ".join(SECTIONS))
        print()
        sys.stdout.flush()
        if "churn" in SECTIONS:
            rc |= churn_section(tmp, env)
        if "python" in SECTIONS:
            rc |= python_section(tmp, env)
        if "services" in SECTIONS:
            rc |= services_section(tmp)
        if "loader" in SECTIONS:
            rc |= loader_section(tmp, env)
        if "render" in SECTIONS:
            rc |= render_section()
        if "daemon" in SECTIONS:
            rc |= daemon_section(tmp, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("Total %.0f s, load average at end %s."
          % ((datetime.datetime.now().astimezone() - start).total_seconds(), loadavg()))
    return rc


if __name__ == "__main__":
    sys.exit(main())
