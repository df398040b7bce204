#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""End-to-end tests of symbols for binaries as distributions ship them (root).

  stripped-addr2line  a binary stripped of every symbol: its line is printed as
                      [module+0xADDR], addr2line on the unstripped build names
                      the marked line, the build-id is the file's, and one line
                      says how to get line information
  minidebuginfo       a stripped binary with MiniDebugInfo (.gnu_debugdata, xz):
                      the function is named from it
  debuginfod          the stripped binary again, with a real debuginfod server
                      (Debian's debuginfod, on 127.0.0.1) serving the unstripped
                      build and DEBUGINFOD_URLS set: the marked line, exact

Helpers, environment variables and output format are those of tests/e2e/run.py.
Only the Python standard library is used.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402
from run import Fail, case  # noqa: E402

MEMTRACE, TMP = e2e.MEMTRACE, e2e.TMP
FIRST = len(e2e.CASES)

LEAK_SRC = r'''
#include <stdlib.h>
static void *volatile keep[4];
__attribute__((noinline)) void leak_here(int i)
{
	keep[i] = malloc(4000); /* LEAK */
}
int main(void)
{
	for (int i = 0; i < 4; i++)
		leak_here(i);
	return 0;
}
'''
LEAK_LINE = next(n for n, l in enumerate(LEAK_SRC.split("\n"), 1) if "LEAK" in l)
BUILD = {}


def sh(argv, **kw):
    r = subprocess.run(argv, capture_output=True, **kw)
    if r.returncode:
        raise Fail("%s: %s" % (" ".join(argv), r.stderr.decode(errors="replace")[-300:]))
    return r.stdout.decode(errors="replace")


def builds():
    """prog.c built -O1 -g (dbg), stripped of every symbol (stripped), and stripped
    with MiniDebugInfo (mini): {name: path}."""
    if BUILD:
        return BUILD
    d = os.path.join(TMP, "sym")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "prog.c")
    with open(src, "w") as f:
        f.write(LEAK_SRC)
    dbg, stripped, mini = (os.path.join(d, n) for n in ("prog_dbg", "prog_stripped",
                                                          "prog_mini"))
    sh(["cc", "-O1", "-g", "-o", dbg, src])
    sh(["strip", "-s", "-o", stripped, dbg])
    # MiniDebugInfo as Fedora makes it: the function symbols .dynsym lacks,
    # in an xz-compressed ELF inside .gnu_debugdata
    funcs = sh(["nm", "--format=posix", "--defined-only", dbg]).split("\n")
    keep = os.path.join(d, "keep")
    with open(keep, "w") as f:
        f.write("\n".join(l.split()[0] for l in funcs if len(l.split()) > 1
                          and l.split()[1] in "Tt") + "\n")
    small = os.path.join(d, "mini.debug")
    sh(["objcopy", "--only-keep-debug", dbg, small])
    sh(["objcopy", "-S", "--remove-section", ".comment", "--keep-symbols=" + keep, small])
    sh(["xz", "-f", small])
    sh(["strip", "-s", "-o", mini, dbg])
    sh(["objcopy", "--add-section", ".gnu_debugdata=" + small + ".xz", mini])
    BUILD.update(dbg=dbg, stripped=stripped, mini=mini, dir=d)
    return BUILD


def build_id(path):
    m = re.search(r"Build ID: ([0-9a-f]+)", sh(["readelf", "-n", path]))
    return m.group(1) if m else None


def leak_row(prog, env=None):
    """memtrace -- prog: (its text report, the JSON row of the 16000-byte leak, stderr)."""
    out = os.path.join(TMP, "sym-%s.json" % os.path.basename(prog))
    r = e2e.run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", prog],
                env=env, timeout=60)
    if r.timed_out or r.rc != 0:
        raise Fail("memtrace -- %s: %s" % (prog, r.describe()))
    rep = e2e.final_report(e2e.read_reports(out))
    rows = [s for s in e2e.sites_of(rep) if e2e.num(s, "bytes") == 16000]
    if len(rows) != 1:
        raise Fail("want one row of 16000 B, got %s" % [(s.get("function"), s.get("file"),
                                                        e2e.num(s, "bytes"))
                                                       for s in e2e.sites_of(rep)])
    text = e2e.run([MEMTRACE, "report", out], timeout=30)
    return text.out, rows[0], r.err


@case("stripped-addr2line")
def t_stripped(markers, funcs):
    b = builds()
    text, row, err = leak_row(b["stripped"])
    errs = []
    m = re.search(r"\[prog_stripped\+0x([0-9a-f]+)\]", text)
    if not m:
        return ["no [prog_stripped+0xADDR] in the text report: %r" % text[-400:]]
    line = sh(["addr2line", "-e", b["dbg"], "0x" + m.group(1)]).strip()
    if not line.endswith("prog.c:%d" % LEAK_LINE):
        errs.append("addr2line -e prog_dbg 0x%s: %s, want prog.c:%d" % (m.group(1), line,
                                                                        LEAK_LINE))
    site = (row.get("stack") or [{}])[row.get("site") or 0]
    if site.get("build_id") != build_id(b["stripped"]):
        errs.append("build_id %r, readelf says %r" % (site.get("build_id"),
                                                       build_id(b["stripped"])))
    if site.get("elf_addr") != "0x" + m.group(1):
        errs.append("JSON elf_addr %r, text +0x%s" % (site.get("elf_addr"), m.group(1)))
    hints = [l for l in err.splitlines() if "no line information for prog_stripped" in l]
    if len(hints) != 1 or build_id(b["stripped"]) not in hints[0]:
        errs.append("want one line naming prog_stripped's build-id: %r" % err[-400:])
    return errs


@case("minidebuginfo")
def t_minidebuginfo(markers, funcs):
    b = builds()
    _, row, _ = leak_row(b["mini"])
    if row.get("function") != "leak_here":
        return ["function %r, want leak_here (from .gnu_debugdata)" % row.get("function")]
    return []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@case("debuginfod")
def t_debuginfod(markers, funcs):
    if not shutil.which("debuginfod"):
        e2e.need_tool("debuginfod")
    b = builds()
    srv = os.path.join(b["dir"], "srv")
    os.makedirs(srv, exist_ok=True)
    shutil.copy(b["dbg"], srv)
    port = free_port()
    d = subprocess.Popen(["debuginfod", "-F", srv, "-p", str(port), "-d",
                          os.path.join(b["dir"], "db.sqlite")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d" % port
        want = "%s/buildid/%s/debuginfo" % (url, build_id(b["dbg"]))
        for _ in range(100):  # its first scan of the directory
            if subprocess.run(["curl", "-sf", "-o", os.devnull, want]).returncode == 0:
                break
            time.sleep(0.2)
        else:
            return ["debuginfod did not serve %s" % want]
        env = dict(os.environ, DEBUGINFOD_URLS=url,
                   DEBUGINFOD_CACHE_PATH=os.path.join(b["dir"], "cache"))
        _, row, _ = leak_row(b["stripped"], env=env)
    finally:
        d.terminate()
        d.wait()
    got = (e2e.base(row.get("file")), row.get("line"), row.get("function"))
    if got != ("prog.c", LEAK_LINE, "leak_here"):
        return ["with debuginfod: %s, want %s" % (got, ("prog.c", LEAK_LINE, "leak_here"))]
    return []


def main():
    return e2e.run_cases("symbols", e2e.CASES[FIRST:])


if __name__ == "__main__":
    sys.exit(main())
