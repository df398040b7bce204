#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""memtrace overhead benchmark: ns per malloc+free pair under each mode.

Runs .output/bench/churn untraced and under memtrace in several modes,
interleaved (round-robin over modes, BENCH_RUNS rounds), for 1 and 2
threads, against a private copy of libc (LD_LIBRARY_PATH) so other tracers'
probes on the system libc cannot skew the numbers. The workload times its
own loop per thread with CLOCK_THREAD_CPUTIME_ID; the table shows medians.
See tests/bench/README.md. Standard library only.

Environment: BENCH_RUNS (runs per mode and thread count, default 5),
BENCH_SECONDS (target CPU seconds per run and thread, default 0.6),
BENCH_SIZE (malloc size, default 32), BENCH_THREADS (default "1,2"),
BENCH_MODES (comma-separated subset of mode names), MEMTRACE, CHURN.
"""
import datetime
import json
import os
import re
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.environ.get("MEMTRACE", os.path.join(ROOT, "memtrace"))
CHURN = os.environ.get("CHURN", os.path.join(ROOT, ".output", "bench", "churn"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TARGET_S = float(os.environ.get("BENCH_SECONDS", "0.6"))
SIZE = int(os.environ.get("BENCH_SIZE", "32"))
THREADS = [int(t) for t in os.environ.get("BENCH_THREADS", "1,2").split(",")]
EX_USAGE = 64  # argp's exit status for an unknown option or a bad argument
FLOOR = "floor-return"  # the reference for the "x floor" column
TARGET_RATIO = 1.3  # full tracing vs its bare-trap floor


def mt(*opts):
    """argv prefix: memtrace with these options, report discarded."""
    return [MEMTRACE, *opts, "-o", "/dev/null", "--"]


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
]
# modes whose drop counters are checked from one extra --format json run
CHECK_DROPS = ["full", "sampled-512K"]


class Skip(Exception):
    pass


def run_churn(prefix, iters, threads, env, verbose=False):
    """One run; returns (churn's JSON dict, memtrace's stderr)."""
    argv = list(prefix)
    if verbose and prefix:
        argv.insert(1, "-v")
    argv += [CHURN, str(iters), str(threads), str(SIZE)]
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


def private_libc(tmp):
    """Copy the libc churn loads into tmp; return the LD_LIBRARY_PATH env."""
    env = dict(os.environ, LD_TRACE_LOADED_OBJECTS="1")
    out = subprocess.run([CHURN], env=env, stdout=subprocess.PIPE, text=True).stdout
    src = "/lib/x86_64-linux-gnu/libc.so.6"
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "libc.so.6" and len(parts) >= 3 and parts[1] == "=>":
            src = parts[2]
    shutil.copy2(src, os.path.join(tmp, "libc.so.6"))
    env = dict(os.environ, LD_LIBRARY_PATH=tmp)
    env.pop("LD_PRELOAD", None)
    check = subprocess.run([CHURN], env=dict(env, LD_TRACE_LOADED_OBJECTS="1"),
                           stdout=subprocess.PIPE, text=True).stdout
    if os.path.join(tmp, "libc.so.6") not in check:
        sys.exit("bench: the private libc copy is not loaded:\n" + check)
    return src, env


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


def fmt_ns(v):
    return "%.1f" % v if v < 100 else "%.0f" % v


def main():
    for f in (MEMTRACE, CHURN):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s missing: run make bench" % f)
    wanted = os.environ.get("BENCH_MODES")
    own_floor = {m[0]: m[2] for m in MODES if len(m) > 2}
    modes = [m[:2] for m in MODES if not wanted or m[0] in wanted.split(",")]
    start = datetime.datetime.now().astimezone()
    print("## memtrace overhead: churn (malloc(%d) + free per iteration)" % SIZE)
    print()
    print("- machine: %s" % machine())
    print("- date: %s, load average at start %s" % (start.strftime("%Y-%m-%d %H:%M %Z"), loadavg()))

    tmp = tempfile.mkdtemp(prefix="memtrace-bench-")
    try:
        src, env = private_libc(tmp)
        print("- libc: private copy of %s in %s (LD_LIBRARY_PATH)" % (src, tmp))
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in samples.items()}
    print("- load average at end %s, total %.0f s"
          % (loadavg(), (datetime.datetime.now().astimezone() - start).total_seconds()))
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
    bad_drops = any(any(d.values()) for _, _, _, d, _ in counters)
    return 1 if bad_drops else 0


if __name__ == "__main__":
    sys.exit(main())
