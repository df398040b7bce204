#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""pprof output read by the real consumers (root, real BPF).

`--format pprof -o FILE` on tests/targets/leak_apis, read back three ways:
  - Go's own parser and CheckValid (Debian golang-github-google-pprof-dev):
    tests/e2e/pprof_check.go, built by this runner into .output/; per source
    line, inuse_space and inuse_objects must equal the @leak markers and the
    JSON report of the same program, exactly;
  - `go tool pprof -symbolize=none -raw` and `-top` (Debian golang-go);
  - in -p mode, every read of the file while memtrace rewrites it is a
    whole gzip stream (the file is replaced atomically, never rewritten in
    place).

Under CI=true a missing go or pprof package is a failure, never a skip.
Reuses run.py's helpers (E2E_ONLY, E2E_BUDGET, E2E_VERBOSE as there);
prints `outputs_pprof: N passed, M failed`.
"""
import collections
import gzip
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

CHECK_SRC = os.path.join(run.ROOT, "tests", "e2e", "pprof_check.go")
CHECK_BIN = os.path.join(run.ROOT, ".output", "pprof_check")
GOPATH = "/usr/share/gocode"
PPROF_PKG = os.path.join(GOPATH, "src", "github.com", "google", "pprof", "profile")
def go_env():
    env = dict(os.environ)
    env.update({"GO111MODULE": "off", "GOPATH": GOPATH, "HOME": run.TMP,
                "GOCACHE": os.path.join(run.ROOT, ".output", "gocache"),
                "PPROF_TMPDIR": run.TMP})
    return env


def build_checker():
    """Build pprof_check once (needs golang-go and golang-github-google-pprof-dev)."""
    if not shutil.which("go"):
        run.need_tool("go (Debian golang-go)")
    if not os.path.isdir(PPROF_PKG):
        run.need_tool("github.com/google/pprof/profile (Debian golang-github-google-pprof-dev)")
    if os.path.exists(CHECK_BIN) and os.path.getmtime(CHECK_BIN) >= os.path.getmtime(CHECK_SRC):
        return
    r = run.run(["go", "build", "-o", CHECK_BIN, CHECK_SRC], timeout=300, env=go_env())
    if r.rc != 0:
        raise run.Fail("building pprof_check: %s" % r.describe())


def check(path):
    """Go's parser + CheckValid on path: (header dict, [sample tuples])."""
    r = run.run([CHECK_BIN, path], timeout=30)
    if r.rc != 0:
        raise run.Fail("pprof_check %s: %s" % (os.path.basename(path), r.describe()))
    head, samples = {}, []
    for line in r.out.splitlines():
        if line.startswith("sample\t"):
            parts = line.split("\t")
            v = [int(x) for x in parts[1:5]]
            samples.append((v, parts[6], int(parts[7]), parts[8], parts[5]))
            continue
        parts = line.split(" ")
        if parts[0] == "type":
            head.setdefault("types", []).append("%s/%s" % (parts[1], parts[2]))
        else:
            head[parts[0]] = " ".join(parts[1:])
    return head, samples


def per_line(samples):
    """line -> [inuse_space, inuse_objects, functions] over leaves in leak_apis.c."""
    rows = collections.defaultdict(lambda: [0, 0, set()])
    for v, file, line, fn, _ in samples:
        if run.base(file) == run.SRC_BASE:
            rows[line][0] += v[3]
            rows[line][1] += v[2]
            rows[line][2].add(fn)
    return rows


def compare(samples, markers, json_rep=None):
    """Per-line inuse values against the markers and the JSON report (same run or not)."""
    errs = []
    got = per_line(samples)
    exp = run.expected(markers)
    for line, (b, c) in sorted(exp.items()):
        gb, gc, fns = got.get(line, [0, 0, set()])
        if (gb, gc) != (b, c):
            errs.append("%s:%d inuse_space/inuse_objects %d/%d, want %d/%d (markers)"
                        % (run.SRC_BASE, line, gb, gc, b, c))
        if b and fns != {markers[line].func}:
            errs.append("%s:%d functions %s, want %s" % (run.SRC_BASE, line, sorted(fns),
                                                         markers[line].func))
    for line, (gb, _, _) in sorted(got.items()):
        if line not in exp and gb:
            errs.append("unmarked line %s:%d has %d bytes" % (run.SRC_BASE, line, gb))
    if json_rep is not None:
        js = run.per_line(json_rep, run.SRC_BASE)
        for line in sorted(set(js) | set(got)):
            a = (js[line][0], js[line][1]) if line in js else (0, 0)
            b = (got[line][0], got[line][1]) if line in got else (0, 0)
            if a != b:
                errs.append("%s:%d JSON bytes/count %d/%d, pprof %d/%d"
                            % (run.SRC_BASE, line, a[0], a[1], b[0], b[1]))
        # every sample's leaf is its row's site (never the allocator), the
        # values the row's, also outside leak_apis.c: summed per leaf, as a row
        # with several stacks (one cut short while its path was being learned,
        # say) is several samples, its totals since start on the first
        rows, leaves = collections.Counter(), collections.Counter()
        for s in run.sites_of(json_rep):
            key = (run.base(s.get("file")) or "-", s.get("line") or 0, s.get("function") or "-")
            for i, k in enumerate(("bytes", "count", "alloc_bytes", "alloc_count")):
                rows[key + (i,)] += run.num(s, k)
        for v, file, line, fn, _ in samples:
            key = (run.base(file) or "-", line, "-" if fn == "??" else fn)
            for i, x in enumerate((v[3], v[2], v[1], v[0])):
                leaves[key + (i,)] += x
        rows, leaves = +rows, +leaves
        if rows != leaves:
            errs.append("sample leaves differ from the JSON rows: only in JSON %s; only in "
                        "pprof %s" % (sorted(rows - leaves)[:3], sorted(leaves - rows)[:3]))
    return errs


def check_head(head, period="1"):
    errs = []
    want = ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
            "inuse_space/bytes"]
    if head.get("types") != want:
        errs.append("sample types %s, want %s" % (head.get("types"), want))
    if head.get("default") != "inuse_space":
        errs.append("default sample type %r" % head.get("default"))
    if head.get("period_type") != "space bytes":
        errs.append("period type %r, want 'space bytes'" % head.get("period_type"))
    if head.get("period") != period:
        errs.append("period %r, want %s" % (head.get("period"), period))
    return errs


def go_pprof(path, what, period="1", big_leaks=True):
    """`go tool pprof -symbolize=none -raw` and `-top` read the file."""
    errs = []
    r = run.run(["go", "tool", "pprof", "-symbolize=none", "-raw", path], timeout=60,
                env=go_env())
    if r.rc != 0:
        return ["%s: go tool pprof -raw: %s" % (what, r.describe())]
    for s in ("PeriodType: space bytes", "Period: %s" % period,
              "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]",
              "Locations", "Mappings"):
        if s not in r.out:
            errs.append("%s: -raw output lacks %r" % (what, s))
    if big_leaks and not re.search(r"(?m)^\s+\d+: 0x[0-9a-f]+ M=\d+ big_leaks \S*leak_apis\.c:\d+",
                                   r.out):
        errs.append("%s: -raw shows no big_leaks location with its file:line" % what)
    r = run.run(["go", "tool", "pprof", "-symbolize=none", "-top", path], timeout=60,
                env=go_env())
    if r.rc != 0:
        return errs + ["%s: go tool pprof -top: %s" % (what, r.describe())]
    if "Type: inuse_space" not in r.out:
        errs.append("%s: -top is not of inuse_space: %.200r" % (what, r.out))
    if big_leaks and not re.search(r"(?m)^\s+\S+\s+\S+%\s+\S+%\s+\S+\s+\S+%\s+big_leaks$",
                                   r.out):
        errs.append("%s: -top does not list big_leaks: %.300r" % (what, r.out))
    return errs


def t_exact(markers, funcs):
    """`--` mode: Go's parser, CheckValid, per-line inuse == markers == JSON; go tool pprof."""
    build_checker()
    out = os.path.join(run.TMP, "heap.pb.gz")
    jout = os.path.join(run.TMP, "heap.json")
    r = run.memtrace_dashdash(["--format", "pprof", "--top", "0"], out)
    if r.timed_out or r.rc != 0:
        raise run.Fail("memtrace --format pprof -- leak_apis: %s" % r.describe())
    if os.path.exists(out + ".tmp"):
        return ["%s.tmp left behind" % os.path.basename(out)]
    with open(out, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return ["not a gzip file"]
    json_rep = run.final_report(run.require_clean_run(
        run.memtrace_dashdash(["--format", "json", "--top", "0"], jout), jout))
    head, samples = check(out)
    errs = check_head(head)
    errs += compare(samples, markers, json_rep)
    errs += go_pprof(out, "exact")
    return errs


def t_from_saved(markers, funcs):
    """`memtrace report saved.json --format pprof`: the same profile, no root needed."""
    build_checker()
    jout = os.path.join(run.TMP, "saved.json")
    out = os.path.join(run.TMP, "saved.pb.gz")
    json_rep = run.final_report(run.require_clean_run(
        run.memtrace_dashdash(["--format", "json", "--top", "0"], jout), jout))
    r = run.run([run.MEMTRACE, "report", jout, "--format", "pprof", "-o", out])
    if r.timed_out or r.rc != 0:
        return ["memtrace report --format pprof: %s" % r.describe()]
    head, samples = check(out)
    return check_head(head) + compare(samples, markers, json_rep) + go_pprof(out, "saved")


def gunzip_error(data):
    try:
        gzip.decompress(data)
    except (OSError, EOFError) as e:
        return str(e)
    return None


def t_pid_atomic(markers, funcs):
    """-p, reports every 0.2 s: each read of the file is a whole profile; the final one exact."""
    build_checker()
    errs = []
    out = os.path.join(run.TMP, "pid.pb.gz")
    t = run.Target()
    mt = run.Memtrace(["--format", "pprof", "--top", "0", "--interval", "0.2", "-p",
                       str(t.pid), "-o", out])
    try:
        mt.wait_attached(t.pid)
        t.start_work()
        errs += run.watch_replaced(out, gunzip_error, "gzip stream")
        head, samples = check(out)
        errs += ["interval report: " + e for e in check_head(head) + compare(samples, markers)]
        t.finish()
        rc = mt.wait_exit(5)
        if rc != 0:
            errs.append("memtrace %s after the target exited, want exit 0"
                        % ("still running" if rc is None else "exited %s" % rc))
        head, samples = check(out)
        errs += ["final report: " + e for e in check_head(head) + compare(samples, markers)]
    finally:
        mt.stop()
    return errs


def t_sampled(markers, funcs):
    """--sample-rate: period is the rate; still valid for Go and go tool pprof."""
    build_checker()
    out = os.path.join(run.TMP, "sampled.pb.gz")
    r = run.memtrace_dashdash(["--format", "pprof", "--top", "0", "--sample-rate", "64K",
                               "--seed", "7"], out)
    if r.timed_out or r.rc != 0:
        raise run.Fail("memtrace --sample-rate 64K --format pprof: %s" % r.describe())
    head, samples = check(out)
    errs = check_head(head, period="65536")
    if not samples:
        errs.append("no samples")
    return errs + go_pprof(out, "sampled", period="65536")


def t_python(markers, funcs):
    """Python frames: leaves at leaks.py lines, functions with file and line, no mapping."""
    build_checker()
    out = os.path.join(run.TMP, "py.pb.gz")
    run.record_python_leaks("pprof", out)
    head, samples = check(out)
    errs = check_head(head)
    ours = [(line, fn, m) for v, file, line, fn, m in samples
            if run.base(file) == "leaks.py" and v[3] > 0]
    if len({line for line, _, _ in ours}) < 3:
        errs.append("fewer than 3 leaks.py lines with live bytes: %s" % sorted(ours)[:10])
    for line, fn, m in ours:
        if m != "-" or line <= 0 or fn in ("-", "??", ""):
            errs.append("leaks.py leaf %r at line %d has mapping %r (want none)" % (fn, line, m))
    return errs + go_pprof(out, "python", big_leaks=False)


def t_needs_file(markers, funcs):
    """--format pprof without -o: a usage error naming -o; nothing runs."""
    return run.needs_file_errors("pprof")


def t_write_error(markers, funcs):
    """FILE.tmp cannot be written: exit 1 and one error line naming the file, FILE kept."""
    d = os.path.join(run.TMP, "werr")
    os.makedirs(os.path.join(d, "heap.pb.gz.tmp"), exist_ok=True)  # a directory in the way
    out = os.path.join(d, "heap.pb.gz")
    r = run.memtrace_dashdash(["--format", "pprof"], out)
    errs = []
    if r.rc != 1:
        errs.append("exit %s, want 1" % r.rc)
    lines = [l for l in r.err.splitlines() if l.startswith("memtrace: error:")]
    if len(lines) != 1 or out + ".tmp" not in lines[0]:
        errs.append("error lines %r, want one naming %s.tmp" % (lines, out))
    if not os.path.isdir(out + ".tmp"):
        errs.append("the directory in the way is gone")
    return errs


CASES = (("pprof-exact", t_exact), ("pprof-from-saved", t_from_saved),
         ("pprof-pid-atomic", t_pid_atomic),
         ("pprof-sampled", t_sampled), ("pprof-python", t_python),
         ("pprof-needs-file", t_needs_file), ("pprof-write-error", t_write_error))


def main():
    return run.run_cases("outputs_pprof", CASES)


if __name__ == "__main__":
    sys.exit(main())
