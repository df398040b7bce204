#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""End-to-end tests of memtrace against hostile or broken targets (root).

A traced process controls its files, its name and its lifetime; these
cases check that it cannot turn memtrace (probes in a file it did not map),
hang it (a FIFO where a library was), fool it, or be hurt by it (a command
killed when memtrace stops reporting). Helpers, environment variables and
output format are those of tests/e2e/run.py (E2E_ONLY, E2E_BUDGET, ...).

Only the Python standard library is used.
"""

import ctypes
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402
from run import Fail, Lines, case, log, result, spawn  # noqa: E402

MEMTRACE, TARGETS, TMP = e2e.MEMTRACE, e2e.TARGETS, e2e.TMP
LIFECYCLE = os.path.join(TARGETS, "lifecycle")
FIRST = len(e2e.CASES)  # run.py's cases come first; ours follow

# ---------------------------------------------------------------------------
# the links a process holds, and the file each uprobe_multi link is on

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
SYS_PIDFD_OPEN, SYS_PIDFD_GETFD, SYS_BPF = 434, 438, 321
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_LINK_TYPE_UPROBE_MULTI = 12


def link_fds(pid):
    """The fds of process pid that are BPF links."""
    out = []
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                if re.search(r"^link_id:", f.read(), re.M):
                    out.append(int(fd))
        except OSError:
            pass
    return out


def uprobe_multi_paths(pid):
    """The file (kernel's d_path) of every uprobe_multi link process pid holds."""
    pidfd = LIBC.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        raise Fail("pidfd_open(%d): %s" % (pid, os.strerror(ctypes.get_errno())))
    paths = []
    try:
        for fd in link_fds(pid):
            ours = LIBC.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
            if ours < 0:
                continue
            try:
                info = ctypes.create_string_buffer(256)
                path = ctypes.create_string_buffer(4096)
                # bpf_link_info: type, id, prog_id, pad, then uprobe_multi's path,
                # offsets, ref_ctr_offsets, cookies, path_size, count, flags, pid
                struct.pack_into("=IIII QQQQ I", info, 0, 0, 0, 0, 0,
                                 ctypes.addressof(path), 0, 0, 0, len(path))
                attr = struct.pack("=IIQ", ours, len(info), ctypes.addressof(info))
                abuf = ctypes.create_string_buffer(attr, len(attr))
                if LIBC.syscall(SYS_BPF, BPF_OBJ_GET_INFO_BY_FD, abuf, len(attr)) < 0:
                    continue
                if struct.unpack_from("=I", info, 0)[0] == BPF_LINK_TYPE_UPROBE_MULTI:
                    paths.append(path.value.decode(errors="replace"))
            finally:
                os.close(ours)
    finally:
        os.close(pidfd)
    return paths


def wait_line(lines, pat, timeout):
    """The first line matching pat (a string), or None."""
    return lines.wait(lambda l: l if re.search(pat, l) else None, timeout)


def system_libc():
    with open("/proc/self/maps") as f:
        for line in f:
            m = re.search(r"(/\S*/libc\.so\.6)$", line.strip())
            if m:
                return m.group(1)
    raise Fail("no libc.so.6 in our own maps")


# ---------------------------------------------------------------------------
# 1. a library path swapped for a symlink to another file when memtrace opens it

IN_OPEN = 0x20


def swap_on_open(path, decoy, done):
    """When path is next opened, replace it by a symlink to decoy (inotify)."""
    ifd = LIBC.inotify_init1(os.O_CLOEXEC)
    if ifd < 0 or LIBC.inotify_add_watch(ifd, path.encode(), IN_OPEN) < 0:
        raise Fail("inotify: %s" % os.strerror(ctypes.get_errno()))

    def watch():
        try:
            os.read(ifd, 4096)
            tmp = path + ".swap"
            os.symlink(decoy, tmp)
            os.rename(tmp, path)
            done.set()
        finally:
            os.close(ifd)

    threading.Thread(target=watch, daemon=True).start()


@case("swap-library-symlink")
def t_swap_library(_):
    d = os.path.join(TMP, "swap")
    lib, dec = os.path.join(d, "lib"), os.path.join(d, "decoy")
    os.makedirs(lib)
    os.makedirs(dec)
    real, decoy = os.path.join(lib, "libc.so.6"), os.path.join(dec, "libc.so.6")
    shutil.copy(system_libc(), real)
    shutil.copy(system_libc(), decoy)
    env = dict(os.environ, LD_LIBRARY_PATH=lib)
    tgt = spawn([LIFECYCLE, "leak-a"], stdin=subprocess.PIPE, env=env)
    tl = Lines(tgt.stdout, "target")
    if not wait_line(tl, r"^ready", 10):
        raise Fail("target did not start")
    with open("/proc/%d/maps" % tgt.pid) as f:
        if real not in f.read():
            raise Fail("target does not map the private libc copy")
    swapped = threading.Event()
    swap_on_open(real, decoy, swapped)
    mt = spawn([MEMTRACE, "-p", str(tgt.pid), "--interval", "1", "-o", os.devnull])
    ml = Lines(mt.stderr, "memtrace")
    attached = wait_line(ml, r"attached to pid|error:", 20)
    errs = []
    if not swapped.is_set():
        errs.append("memtrace never opened the library (no swap happened)")
    if attached and "error:" not in attached:
        paths = uprobe_multi_paths(mt.pid)
        e2e.info("uprobe_multi links on: %s" % sorted(set(paths)))
        if not paths:
            errs.append("attached, but memtrace holds no uprobe_multi link")
        if any(p.startswith(dec) for p in paths):
            errs.append("a uprobe landed in the decoy %s" % decoy)
        if not any(p.startswith(real) for p in paths):
            errs.append("no uprobe in the mapped file %s: %s" % (real, paths))
    elif attached is None:
        errs.append("memtrace neither attached nor refused: %s" % ml.text()[-300:])
    else:
        e2e.info("refused: %s" % attached)
    mt.send_signal(signal.SIGINT)
    e2e.reap(mt)
    tgt.stdin.close()
    e2e.reap(tgt)
    return errs


# ---------------------------------------------------------------------------
# 2. a signal ends memtrace within a second, also while a target's file blocks

ALLOC_LOOP_SRC = r'''
#include <stdlib.h>
#include <unistd.h>
static void *volatile keep;
int main(void)
{
	for (;;) {
		keep = malloc(100); /* leaks on purpose */
		usleep(20000);
	}
}
'''


def build_alloc_loop(d, name="alloc_loop"):
    """ALLOC_LOOP_SRC built as d/name (-g, not stripped)."""
    src, prog = os.path.join(d, "alloc_loop.c"), os.path.join(d, name)
    with open(src, "w") as f:
        f.write(ALLOC_LOOP_SRC)
    r = subprocess.run(["cc", "-O1", "-g", "-fno-builtin", "-o", prog, src], capture_output=True)
    if r.returncode:
        raise Fail("cc: %s" % r.stderr.decode()[-200:])
    return prog


def stripped_with_fifo_debuglink(d):
    """A program whose .gnu_debuglink names a FIFO next to it (libdw opens it)."""
    prog = build_alloc_loop(d)
    dbg = prog + ".debug"
    for argv in (["objcopy", "--only-keep-debug", prog, dbg],
                 ["objcopy", "--strip-debug", "--add-gnu-debuglink=" + dbg, prog]):
        r = subprocess.run(argv, capture_output=True, cwd=d)
        if r.returncode:
            raise Fail("%s: %s" % (" ".join(argv), r.stderr.decode()[-200:]))
    os.unlink(dbg)
    os.mkfifo(dbg)
    return prog


def with_unterminated_debug_str(d):
    """alloc_loop whose .debug_str does not end in a NUL (its last string runs off the end)."""
    prog = build_alloc_loop(d, "alloc_loop_badstr")
    sec = os.path.join(d, "debug_str.bin")
    r = subprocess.run(["objcopy", "--dump-section", ".debug_str=" + sec, prog],
                       capture_output=True)
    if r.returncode:
        raise Fail("objcopy --dump-section: %s" % r.stderr.decode()[-200:])
    with open(sec, "rb") as f:
        data = bytearray(f.read())
    data[-1:] = b"X"
    with open(sec, "wb") as f:
        f.write(bytes(data))
    r = subprocess.run(["objcopy", "--update-section", ".debug_str=" + sec, prog],
                       capture_output=True)
    if r.returncode:
        raise Fail("objcopy --update-section: %s" % r.stderr.decode()[-200:])
    return prog


@case("corrupt-debug-str")
def t_corrupt_debug_str(_):
    """A string section without its last NUL: no DWARF read past it (ASan in
    e2e-sanitize), the function named from the symbol table, no line."""
    tgt = start_built("badstr", with_unterminated_debug_str)
    r = e2e.run([MEMTRACE, "-p", str(tgt.pid), "--count", "1", "--interval", "0.5"], timeout=30)
    e2e.kill_group(tgt)
    if r.timed_out or r.rc != 0:
        return ["memtrace -p: %s: %s" % (r.describe(), r.err[-300:])]
    rows = [l for l in r.out.splitlines() if "alloc_loop_badstr" in l and " main " in l + " "]
    if not rows:
        return ["no row of main [alloc_loop_badstr]: %r" % r.out[-400:]]
    if any("alloc_loop.c:" in l for l in rows):
        return ["a line from DWARF memtrace should not trust: %r" % rows]
    return []


def sigterm_timed(mt):
    """SIGTERM mt; the seconds until it exited, or None (then it is killed)."""
    t0 = time.monotonic()
    mt.send_signal(signal.SIGTERM)
    try:
        mt.wait(5)
    except subprocess.TimeoutExpired:
        e2e.kill_group(mt)
        mt.wait(5)
        return None
    secs = time.monotonic() - t0
    e2e.info("exit %s %.2f s after SIGTERM" % (mt.returncode, secs))
    return secs


def start_built(name, build):
    """build(d) in a new directory TMP/name, started; its Popen."""
    d = os.path.join(TMP, name)
    os.makedirs(d)
    tgt = spawn([build(d)])
    time.sleep(0.2)
    return tgt


@case("sigterm-stuck")
def t_sigterm_stuck(_):
    tgt = start_built("stuck", stripped_with_fifo_debuglink)
    mt = spawn([MEMTRACE, "-p", str(tgt.pid), "--interval", "0.5"])
    ml = Lines(mt.stderr, "memtrace")
    errs = []
    # the symbolizer meets the FIFO when it reads the program (at attach or
    # at the first report)
    attached = wait_line(ml, r"attached to pid", 5)
    e2e.info("attached" if attached else "stuck before attaching")
    time.sleep(1.5)
    secs = sigterm_timed(mt)
    if secs is None:
        return ["memtrace still running 5 s after SIGTERM"]
    if secs > 1.5:
        errs.append("exited %.2f s after SIGTERM, want within 1 s" % secs)
    out = mt.stdout.read().decode(errors="replace")
    if mt.returncode == 0:
        if not re.search(r"report #\d+ at .*, final", out):
            errs.append("exit 0 without a final report")
    elif not wait_line(ml, r"^memtrace: error: ", 1):
        errs.append("exit %s without a 'memtrace: error:' line" % mt.returncode)
    if tgt.poll() is not None:
        errs.append("the target did not survive")
    return errs


@case("sigterm-blocked-open")
def t_sigterm_blocked_open(_):
    # -o names a FIFO nobody reads: opening it blocks until a signal ends memtrace
    fifo = os.path.join(TMP, "out.fifo")
    os.mkfifo(fifo)
    sleeper = spawn(["sleep", "30"])
    mt = spawn([MEMTRACE, "-p", str(sleeper.pid), "-o", fifo])
    time.sleep(1)
    secs = sigterm_timed(mt)
    if secs is None:
        return ["memtrace still running 5 s after SIGTERM"]
    err = mt.stderr.read().decode(errors="replace")
    errs = []
    if secs > 1.5:
        errs.append("exited %.2f s after SIGTERM, want within 1 s" % secs)
    if mt.returncode != 1 or not re.search(r"^memtrace: error: ", err, re.M):
        errs.append("exit %s, want 1 with a 'memtrace: error:' line: %r"
                    % (mt.returncode, err[-200:]))
    return errs


# ---------------------------------------------------------------------------
# 6. a target's names reach the terminal and files escaped

@case("escapes-in-names")
def t_escapes(_):
    d = os.path.join(TMP, "esc\x1b[2J")
    os.makedirs(d)
    prog = build_alloc_loop(d, "ev\x1b[31mil\x9b")
    tgt = spawn([prog])
    time.sleep(0.3)
    errs = []
    for fmt in ("text", "json"):
        r = e2e.run([MEMTRACE, "-v", "-p", str(tgt.pid), "--count", "1", "--interval", "0.5",
                     "--format", fmt], timeout=30)
        raw = r.out + r.err
        if r.rc != 0:
            errs.append("%s: %s" % (fmt, r.describe()))
        for bad in ("\x1b", "\x9b", "\ufffd"):
            if bad in raw:
                i = raw.index(bad)
                errs.append("%s: a raw %r reached the output: %r" % (fmt, bad, raw[i - 60:i + 20]))
        want = "ev\\x1b[31mil" if fmt == "text" else "ev\\u001b[31mil"
        if want not in r.out:
            errs.append("%s: the module's name is not shown escaped (%r)" % (fmt, want))
    return errs


# ---------------------------------------------------------------------------
# 7. pids named twice, memtrace's own, one root cannot read, one exiting

def error_lines(text):
    return [l for l in text.splitlines() if l.startswith("memtrace: error: ")]


@case("pid-checks")
def t_pid_checks(_):
    errs = []
    sleeper = spawn(["sleep", "30"])
    p = str(sleeper.pid)
    r = e2e.run([MEMTRACE, "-p", "%s,%s" % (p, p), "--count", "2", "--interval", "0.3"])
    heads = re.findall(r"^memtrace: pid %s .*report #(\d+)" % p, r.out, re.M)
    if r.rc != 0 or heads != ["1", "2"]:
        errs.append("-p P,P: want reports #1 and #2 of P once each, got %s (%s)"
                    % (heads, r.describe()))
    r = e2e.run(["sh", "-c", 'exec "$0" -p $$ --count 1', MEMTRACE])
    if r.rc != 1 or not any("memtrace itself" in l for l in error_lines(r.err)):
        errs.append("own pid: want exit 1 and an error line: %s" % r.describe())
    try:
        with open("/proc/1/maps"):
            e2e.info("pid 1 is readable here: its message is not checked")
    except PermissionError:
        r = e2e.run([MEMTRACE, "-p", "1", "--count", "1"])
        lines = error_lines(r.err)
        if r.rc != 1 or len(lines) != 1 or "needs root" in lines[0]:
            errs.append("pid 1 (unreadable to root): %s" % r.describe())
    # processes that exit while memtrace starts: each outcome said plainly
    said = set()
    for i in range(12):
        short = spawn(["sleep", "%.2f" % (0.1 + 0.08 * i)])
        threading.Thread(target=short.wait, daemon=True).start()
        r = e2e.run([MEMTRACE, "-p", str(short.pid), "--count", "1", "--interval", "0.2"])
        for l in error_lines(r.err):
            l = l.replace(str(short.pid), "N")
            said.add(l)
            if not re.search(r"no process with pid N|pid N has exited|pid N exited", l):
                errs.append("a target exiting during the start: %r" % l)
        if r.rc not in (0, 1):
            errs.append("a target exiting during the start: %s" % r.describe())
    e2e.info("said: %s" % sorted(said))
    return errs


# ---------------------------------------------------------------------------
# 8. -o FILE: no symlink followed, no file written through, mode 0600

@case("output-file")
def t_output_file(_):
    d = os.path.join(TMP, "out")
    os.makedirs(d)
    victim, link = os.path.join(d, "victim"), os.path.join(d, "link")
    with open(victim, "w") as f:
        f.write("untouched\n")
    os.symlink(victim, link)
    errs = []
    r = e2e.run([MEMTRACE, "--count", "1", "--interval", "0.2", "-o", link, "--", "true"])
    if r.rc != 1 or not re.search(r"^memtrace: error: .*symbolic link", r.err, re.M):
        errs.append("-o SYMLINK: want exit 1 and an error line: %s" % r.describe())
    # an existing file with a second name: replaced, not written through
    old, other = os.path.join(d, "old"), os.path.join(d, "other-name")
    with open(old, "w") as f:
        f.write("untouched\n")
    os.link(old, other)
    os.chmod(old, 0o644)
    new = os.path.join(d, "new")
    for path in (old, new):
        r = e2e.run([MEMTRACE, "--count", "1", "--interval", "0.2", "-o", path, "--", "true"])
        if r.rc != 0:
            errs.append("-o %s: %s" % (os.path.basename(path), r.describe()))
            continue
        st = os.lstat(path)
        if st.st_mode & 0o777 != 0o600:
            errs.append("-o %s: mode %o, want 600" % (os.path.basename(path), st.st_mode & 0o777))
        with open(path) as f:
            if "report #1" not in f.read():
                errs.append("-o %s: no report in the file" % os.path.basename(path))
    for path in (victim, other):
        with open(path) as f:
            if f.read() != "untouched\n":
                errs.append("%s was written through" % os.path.basename(path))
    # memtrace's own descriptors are links too, and fine (a shell's >(cmd))
    r = e2e.run([MEMTRACE, "--count", "1", "--interval", "0.2", "-o", "/dev/stdout", "--", "true"])
    if r.rc != 0 or "report #1" not in r.out:
        errs.append("-o /dev/stdout: %s" % r.describe())
    leftovers = [n for n in os.listdir(d) if n not in ("victim", "link", "old", "other-name", "new")]
    if leftovers:
        errs.append("temporary files left: %s" % leftovers)
    return errs


# ---------------------------------------------------------------------------
# 3. the command runs to its end: after --count, after a write error

# a command that outlives memtrace's reports, with an exit status of its own
LONG_CMD = ["sh", "-c", "sleep 1.5; echo cmd-ran-to-its-end >&2; exit 7"]


def run_to_end(name, args, want_rc, want_error, close_stdout=False):
    argv = [MEMTRACE, "--interval", "0.3"] + args + ["--"] + LONG_CMD
    if close_stdout:
        argv = ["sh", "-c", 'exec "$@" >&-', "sh"] + argv
    r = e2e.run(argv, timeout=30)
    errs = []
    if r.timed_out:
        return ["%s: %s" % (name, r.describe())]
    if "cmd-ran-to-its-end" not in r.out + r.err:
        errs.append("%s: the command did not run to its end (%s)" % (name, r.describe()))
    if r.rc != want_rc:
        errs.append("%s: exit %s, want %d (%s)" % (name, r.rc, want_rc, r.describe()))
    error_lines = [l for l in r.err.splitlines() if l.startswith("memtrace: error: ")]
    if want_error and len(error_lines) != 1:
        errs.append("%s: want one 'memtrace: error:' line: %r" % (name, r.err[-300:]))
    if not want_error and error_lines:
        errs.append("%s: unexpected %s" % (name, error_lines[0]))
    return errs


@case("count-outlived")
def t_count_outlived(_):
    out = os.path.join(TMP, "count.txt")
    errs = run_to_end("--count 1", ["--count", "1", "-o", out], 7, False)
    with open(out) as f:
        heads = [l for l in f if " report #" in l]
    # one report per process (the shell and its sleep), each the final one
    if not heads or any(not re.search(r"report #1 at .*, final$", l.strip()) for l in heads):
        errs.append("want one final report per process: %r" % heads)
    return errs


@case("write-error-dashdash")
def t_write_error_dashdash(_):
    errs = run_to_end("-o /dev/full", ["-o", "/dev/full"], 1, True)
    # stdout closed: writes fail, and nothing opened later takes its place
    errs += run_to_end("stdout closed", [], 1, True, close_stdout=True)
    return errs


# 4. -- lets the command go once it is probed: job control, debuggers and
# memtrace's own death are the command's business

def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


@case("dashdash-detached")
def t_dashdash_detached(_):
    done = os.path.join(TMP, "survived")
    cmd = "echo started; sleep 2.5; echo yes > %s" % done
    mt = spawn([MEMTRACE, "--interval", "0.3", "--", "sh", "-c", cmd])
    ml = Lines(mt.stderr, "memtrace")
    line = wait_line(ml, r"attached to pid (\d+)", 10)
    if not line:
        e2e.kill_group(mt)
        return ["no 'attached to pid' line"]
    pid, errs = int(re.search(r"attached to pid (\d+)", line).group(1)), []
    time.sleep(0.3)
    if proc_status(pid, "TracerPid") != "0":
        errs.append("the command is still traced (TracerPid %s)" % proc_status(pid, "TracerPid"))
    # a debugger can attach (it could not while memtrace was the tracer)
    g = e2e.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "info inferiors"], timeout=30)
    if g.rc != 0 or ("process %d" % pid) not in g.out:
        errs.append("gdb -p: %s" % g.describe())
    # a stop is the command's: nothing undoes it
    os.kill(pid, signal.SIGSTOP)
    time.sleep(0.5)
    state = (proc_status(pid, "State") or "?")[:1]
    os.kill(pid, signal.SIGCONT)
    if state != "T":
        errs.append("SIGSTOP of the command: state %s half a second later, want T" % state)
    # memtrace's death is not the command's
    mt.send_signal(signal.SIGKILL)
    mt.wait(5)
    deadline = time.monotonic() + 10
    while not os.path.exists(done) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not os.path.exists(done):
        errs.append("the command did not run to its end after SIGKILL of memtrace")
    return errs


# the fault suite: memtrace stopped, two of them, threads that come and go,
# full maps. Each: the target's output and exit status unchanged, memtrace's
# exit and message, no BPF link left behind.

STORM_SRC = r'''
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#define ROUNDS 40
#define PER 25
static void *volatile keep[ROUNDS * PER];
static void *work(void *arg)
{
	long i = (long)arg;
	for (int j = 0; j < 50; j++)
		free(malloc(64 + j));
	keep[i] = malloc(100); /* STORM_LEAK */
	return NULL;
}
int main(void)
{
	pthread_t t[PER];
	for (long r = 0; r < ROUNDS; r++) {
		for (long k = 0; k < PER; k++)
			if (pthread_create(&t[k], NULL, work, (void *)(r * PER + k)))
				return 3;
		for (long k = 0; k < PER; k++)
			pthread_join(t[k], NULL);
	}
	printf("storm done\n");
	return 9;
}
'''


def build_c(d, name, src, flags=()):
    path, prog = os.path.join(d, name + ".c"), os.path.join(d, name)
    with open(path, "w") as f:
        f.write(src)
    r = subprocess.run(["cc", "-O1", "-g", "-pthread", "-o", prog, path] + list(flags),
                       capture_output=True)
    if r.returncode:
        raise Fail("cc %s: %s" % (name, r.stderr.decode()[-200:]))
    return prog, path


def storm_line(path):
    with open(path) as f:
        return next(n for n, l in enumerate(f, 1) if "STORM_LEAK" in l)


@case("thread-storm")
def t_thread_storm(_):
    """1000 threads that allocate, free and leak 100 B each, 25 at a time: the leak
    is exact, the command's output and exit status are its own."""
    d = os.path.join(TMP, "storm")
    os.makedirs(d)
    prog, src = build_c(d, "storm", STORM_SRC)
    out = os.path.join(TMP, "storm.json")
    r = e2e.run([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", prog], timeout=120)
    errs = []
    if r.rc != 9 or "storm done" not in r.out:
        return ["memtrace -- storm: %s, stdout %r (want exit 9, 'storm done')" % (
            r.describe(), r.out[-100:])]
    rep = e2e.final_report(e2e.read_reports(out))
    line = storm_line(src)
    got = [s for s in e2e.sites_of(rep) if e2e.base(s.get("file")) == "storm.c"]
    at = [(e2e.num(s, "bytes"), e2e.num(s, "count")) for s in got if s.get("line") == line]
    if at != [(100000, 1000)]:
        errs.append("storm.c:%d has %s, want [(100000, 1000)]" % (line, at))
    # stdout's buffer, made under the printf, is that line's (as valgrind says)
    printf = next(n for n, l in enumerate(open(src), 1) if "printf(" in l)
    others = [(s.get("line"), e2e.num(s, "bytes")) for s in got
              if s.get("line") not in (line, printf)]
    if others:
        errs.append("other storm.c lines hold bytes: %s" % others)
    errs += e2e.check_drops(rep)
    return errs


@case("two-memtraces")
def t_two_memtraces(_):
    """Two memtraces on one process: each sees every allocation; each exits 0."""
    tgt = start_built("two", build_alloc_loop)
    outs = [os.path.join(TMP, "two-%d.json" % i) for i in (1, 2)]
    mts = [spawn([MEMTRACE, "-p", str(tgt.pid), "--format", "json", "--top", "0",
                  "--interval", "1", "--count", "2", "-o", o]) for o in outs]
    errs = []
    for i, mt in enumerate(mts, 1):
        try:
            rc = mt.wait(30)
        except subprocess.TimeoutExpired:
            e2e.kill_group(mt)
            rc = "timeout"
        if rc != 0:
            errs.append("memtrace #%d exited %s" % (i, rc))
    if tgt.poll() is not None:
        errs.append("the target did not survive two memtraces (exit %s)" % tgt.returncode)
    e2e.kill_group(tgt)
    for i, o in enumerate(outs, 1):
        reps = e2e.read_reports(o)
        rows = [s for s in e2e.sites_of(reps[-1]) if e2e.base(s.get("file")) == "alloc_loop.c"] \
            if reps else []
        if not rows or any(e2e.num(s, "bytes") % 100 for s in rows):
            errs.append("memtrace #%d: alloc_loop.c rows %s" % (
                i, [(s.get("line"), e2e.num(s, "bytes")) for s in rows]))
    return errs


@case("memtrace-stopped")
def t_memtrace_stopped(_):
    """SIGSTOP of memtrace while its command forks (children wait for it), SIGCONT:
    the command completes with its own output and status, the children's leaks exact."""
    cmd = "for i in 1 2 3 4 5 6; do %s leak-a-now </dev/null >/dev/null & sleep 0.1; " \
          "done; wait; echo forks-done; exit 4" % LIFECYCLE
    out = os.path.join(TMP, "stopped.json")
    mt = spawn([MEMTRACE, "--format", "json", "--top", "0", "-o", out, "--", "sh", "-c", cmd])
    time.sleep(0.4)
    mt.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    mt.send_signal(signal.SIGCONT)
    try:
        rc = mt.wait(60)
    except subprocess.TimeoutExpired:
        e2e.kill_group(mt)
        return ["memtrace -- sh: still running 60 s after SIGCONT"]
    stdout = mt.stdout.read().decode(errors="replace")
    if rc != 4 or "forks-done" not in stdout:
        return ["exit %s, stdout %r (want 4, forks-done)" % (rc, stdout[-200:])]
    # each child leaks 81000 B in 9 blocks at one line of lifecycle.c (marker proc=a);
    # its stdout buffer, made under its printf, is that line's (as valgrind says)
    line = next(n for n, l in enumerate(open(os.path.join(e2e.ROOT, "tests", "targets",
                                                          "lifecycle.c")), 1)
                if "proc=a " in l)
    finals = [rep for rep in e2e.read_reports(out) if rep.get("comm") == "lifecycle"]
    leaks = sorted((e2e.num(s, "bytes"), e2e.num(s, "count")) for rep in finals
                   for s in e2e.sites_of(rep)
                   if e2e.base(s.get("file")) == "lifecycle.c" and s.get("line") == line)
    if leaks != [(81000, 9)] * 6:
        return ["the children's lifecycle.c rows: %s, want six of (81000, 9)" % leaks]
    return []


@case("full-maps")
def t_full_maps(_):
    """A live-allocation table too small: the drops are counted and said, the
    command's status is its own, memtrace exits with it."""
    out = os.path.join(TMP, "full.json")
    prog = "x = [bytearray(10) for i in range(100000)]; print('py-done'); raise SystemExit(6)"
    r = e2e.run([MEMTRACE, "--max-allocs", "1024", "--pymalloc", "off", "--format", "json",
                 "--top", "0", "-o", out, "--", sys.executable, "-c", prog], timeout=120)
    if r.rc != 6 or "py-done" not in r.out:
        return ["memtrace --max-allocs 1024 -- python: %s, stdout %r (want exit 6)" % (
            r.describe(), r.out[-100:])]
    rep = e2e.final_report(e2e.read_reports(out))
    drops = rep.get("drops") or {}
    errs = []
    if not drops.get("allocs_map_full"):
        errs.append("drops.allocs_map_full=%r, want > 0 with 1024 entries" %
                    drops.get("allocs_map_full"))
    if not re.search(r"^memtrace: warning: allocs_map_full=\d+: .*raise --max-allocs", r.err, re.M):
        errs.append("nothing on stderr says the table filled: %r" % r.err[-300:])
    return errs


# 9. a library dlopen()ed, used and dlclose()d between two reports, and
# another loaded after it at the same address

DLLIB_SRC = r'''
#include <stdlib.h>
void *volatile dl_keep[8];
#ifdef PAD /* other code where the first library had dl_leak */
void dl_pad(void)
{
	__asm__ volatile(".skip 8192, 0x90");
}
#endif
void dl_leak(void)
{
	for (int i = 0; i < NBLOCKS; i++)
		dl_keep[i] = malloc(BLOCK); /* DL_LEAK */
}
'''

DLMAIN_SRC = r'''
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
static int use(const char *lib, int close)
{
	void *h = dlopen(lib, RTLD_NOW);
	if (!h)
		return 3;
	((void (*)(void))dlsym(h, "dl_leak"))();
	if (close)
		dlclose(h);
	return 0;
}
int main(int argc, char **argv)
{
	char line[16];
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ready\n");
	if (argc < 3 || !fgets(line, sizeof(line), stdin))
		return 2;
	if (use(argv[1], 1) || use(argv[2], 0))
		return 3;
	printf("done\n");
	while (fgets(line, sizeof(line), stdin) && strncmp(line, "end", 3))
		;
	return 0;
}
'''


@case("dlclosed-library")
def t_dlclosed_library(_):
    """Leaks of a library closed before the next report keep its name and lines, and
    another library loaded after it at the same address does not take them."""
    d = os.path.join(TMP, "dl")
    os.makedirs(d)
    libs = [build_c(d, "libdl_%s.so" % x, DLLIB_SRC,
                    ["-shared", "-fPIC", "-DNBLOCKS=%d" % n, "-DBLOCK=%d" % b] + pad)[0]
            for x, n, b, pad in (("a", 8, 625, []), ("b", 7, 1000, ["-DPAD"]))]
    prog, _ = build_c(d, "dlmain", DLMAIN_SRC, ["-ldl"])
    line = next(n for n, l in enumerate(DLLIB_SRC.split("\n"), 1) if "DL_LEAK" in l)
    # b has other code where a had dl_leak: the same call at the same address
    # (and the same stack) in both would be one BPF site, which no reader splits
    tgt = subprocess.Popen([prog] + libs, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        tgt.stdout.readline()
        out = os.path.join(TMP, "dl.json")
        mt = spawn([MEMTRACE, "-p", str(tgt.pid), "--format", "json", "--top", "0",
                    "--interval", "2", "--count", "1", "-o", out])
        ml = Lines(mt.stderr, "memtrace")
        if not wait_line(ml, r"attached to pid", 10):
            e2e.kill_group(mt)
            return ["memtrace did not attach"]
        tgt.stdin.write(b"go\n")
        tgt.stdin.flush()
        tgt.stdout.readline()
        rc = mt.wait(30)
    finally:
        tgt.kill()
        tgt.wait()
    if rc != 0:
        return ["memtrace exited %s" % rc]
    rep = e2e.final_report(e2e.read_reports(out))
    rows = sorted((e2e.base(s.get("file")), s.get("line"), e2e.num(s, "bytes"),
                   e2e.num(s, "count"), e2e.base(s.get("module")))
                  for s in e2e.sites_of(rep) if e2e.num(s, "bytes") in (5000, 7000))
    want = [("libdl_a.so.c", line, 5000, 8, "libdl_a.so"),
            ("libdl_b.so.c", line, 7000, 7, "libdl_b.so")]
    if rows != want:
        return ["the libraries' leaks: %s, want %s (rows: %s)" % (rows, want, [
            (e2e.base(s.get("file")), s.get("line"), e2e.num(s, "bytes"))
            for s in e2e.sites_of(rep)])]
    return []


# ---------------------------------------------------------------------------

def links_held_by_anyone():
    ids = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            ids |= {l[0] for l in e2e.held_links(int(p))}
    return ids


def leftover_links(before):
    """BPF links made since before that no process holds (memtrace left them behind)."""
    end = time.monotonic() + 3
    while True:
        left = set(e2e.bpftool_links()) - before - links_held_by_anyone()
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.2)


def main():
    ok = 0
    try:
        if os.geteuid() != 0:
            log("SKIPPED hostile: needs root")
            log("e2e: 0 passed, 0 failed")
            return 0
        for name, fn in e2e.CASES[FIRST:]:
            if e2e.ONLY and not any(name.startswith(o) for o in e2e.ONLY):
                continue
            try:
                e2e.need_time(name)
                before = set(e2e.bpftool_links())
                errs = fn(None)
                if errs is not None:
                    e2e.cleanup()
                    left = leftover_links(before)
                    if left:
                        errs = list(errs) + ["BPF links left behind: %s" % sorted(left)]
                    result(name, errs)
            except Fail as e:
                result(name, str(e))
            except Exception as e:
                result(name, "%s: %s" % (type(e).__name__, e))
            finally:
                e2e.cleanup()
    finally:
        e2e.cleanup()
        shutil.rmtree(TMP, ignore_errors=True)
    ok = sum(1 for r in e2e.RESULTS if r[1])
    failed = len(e2e.RESULTS) - ok
    log("hostile: %d passed, %d failed" % (ok, failed))
    return 1 if failed or not e2e.RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
