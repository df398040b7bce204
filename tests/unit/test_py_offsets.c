// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython detection and the Python symbolizer against live interpreters:
 * every Python on the machine (pyenv 3.10.13, 3.11.7, 3.12.1, 3.13.0 and
 * Debian's static /usr/bin/python3.11) is started, detected, and its offsets
 * compared with shared/notes/cpython.md. Then a script whose main thread
 * sleeps inside wait_here() at a known line is walked from user space with
 * the detected offsets (what the BPF walker does) and every frame resolved
 * with mt_sym_python. A missing interpreter is skipped with a note, or is
 * a failure when CI=true. Needs ptrace access to children (as root, or
 * with the default Yama scope 1, which allows a parent to read them).
 *
 * Debian sid's 3.13, 3.14 and 3.15 (static LTO builds) run in the chroot
 * tests/sid-chroot.sh builds ($MEMTRACE_SID, default /var/tmp/memtrace-sid)
 * when it is ready and we are root; otherwise they are skipped with a note
 * (building it is the e2e suite's job; tests/e2e/python.py checks them too).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/types.h>
#include "proc/elf.h"
#include "proc/procmaps.h"
#include "proc/procmem.h"
#include "python/py_offsets.h"
#include "symbolize/sym_python.h"
#include "test.h"

/*
 * Expected offsets per minor version, from cpython.md sections 2-4 and 7;
 * 3.15 from Debian sid's 3.15.2 (_Py_DebugOffsets read from the file).
 */
static const struct mt_py_offsets expect_tab[] = {
    {.version = 0x030a0000,
     .code_mask = ~0ULL,
     .flags = MT_PY_LASTI_INDEX,
     .rt_interp_head = 32,
     .is_next = 0,
     .is_threads_head = 8,
     .ts_next = 8,
     .ts_thread_id = 176,
     .ts_frame = 24,
     .ts_cframe_frame = -1,
     .fr_code = 32,
     .fr_previous = 24,
     .fr_instr = 96,
     .fr_owner = -1,
     .owner_skip = 3,
     .code_adaptive = 0,
     .co_firstlineno = 40},
    {.version = 0x030b0000,
     .code_mask = ~0ULL,
     .rt_interp_head = 40,
     .is_next = 0,
     .is_threads_head = 16,
     .ts_next = 8,
     .ts_thread_id = 152,
     .ts_frame = 56,
     .ts_cframe_frame = 8,
     .fr_code = 32,
     .fr_previous = 48,
     .fr_instr = 56,
     .fr_owner = -1,
     .owner_skip = 3,
     .code_adaptive = 184,
     .co_firstlineno = 72},
    {.version = 0x030c0000,
     .code_mask = ~0ULL,
     .rt_interp_head = 40,
     .is_next = 0,
     .is_threads_head = 72,
     .ts_next = 8,
     .ts_thread_id = 136,
     .ts_frame = 56,
     .ts_cframe_frame = 0,
     .fr_code = 0,
     .fr_previous = 8,
     .fr_instr = 56,
     .fr_owner = 70,
     .owner_skip = 3,
     .code_adaptive = 192,
     .co_firstlineno = 68},
    {.version = 0x030d0000,
     .code_mask = ~0ULL,
     .rt_interp_head = 632,
     .is_next = 7264,
     .is_threads_head = 7344,
     .ts_next = 8,
     .ts_thread_id = 152,
     .ts_frame = 72,
     .ts_cframe_frame = -1,
     .fr_code = 0,
     .fr_previous = 8,
     .fr_instr = 56,
     .fr_owner = 70,
     .owner_skip = 3,
     .code_adaptive = 200,
     .co_firstlineno = 68},
    {.version = 0x030e0000,
     .code_mask = ~3ULL,
     .rt_interp_head = 808,
     .is_next = 7272,
     .is_threads_head = 7344,
     .ts_next = 8,
     .ts_thread_id = 152,
     .ts_frame = 72,
     .ts_cframe_frame = -1,
     .fr_code = 0,
     .fr_previous = 8,
     .fr_instr = 56,
     .fr_owner = 74,
     .owner_skip = 3,
     .code_adaptive = 208,
     .co_firstlineno = 68},
    {.version = 0x030f0000,
     .code_mask = ~3ULL,
     .rt_interp_head = 936,
     .is_next = 7264,
     .is_threads_head = 7336,
     .ts_next = 8,
     .ts_thread_id = 176,
     .ts_frame = 72,
     .ts_cframe_frame = -1,
     .fr_code = 0,
     .fr_previous = 8,
     .fr_instr = 56,
     .fr_owner = 74,
     .owner_skip = 3,
     .code_adaptive = 208,
     .co_firstlineno = 68},
};

struct python {
	const char *rel; /* under $PYENV_ROOT/versions, or absolute */
	__u32 version;	 /* exact, or the minor version when micro is 0 */
	bool sid;	 /* rel is a path in the sid chroot */
};

static const struct python pythons[] = {
    {"3.10.13/bin/python3.10", 0x030a0df0},    /* pyenv, shared libpython */
    {"3.11.7/bin/python3.11", 0x030b07f0},     /* pyenv */
    {"3.12.1/bin/python3.12", 0x030c01f0},     /* pyenv */
    {"3.13.0/bin/python3.13", 0x030d00f0},     /* pyenv */
    {"/usr/bin/python3.11", 0x030b0000},       /* Debian's static one, any 3.11.x */
    {"/usr/bin/python3.13", 0x030d0000, true}, /* Debian sid: static, LTO */
    {"/usr/bin/python3.14", 0x030e0000, true}, {"/usr/bin/python3.15", 0x030f0000, true},
};

/*
 * The script: its main thread sleeps in wait_here() at WAIT_LINE, called
 * through a generator that list() runs from C, which puts an entry (shim)
 * frame on the chain on 3.12+. Names cover the three string kinds: "mëthod"
 * (Latin-1), "caller_λ" (UCS-2), and the file name (an emoji, UCS-4).
 */
#define WAIT_LINE 6
static const char script[] = "import sys, time\n"
			     "\n"
			     "def wait_here():\n"
			     "    sys.stdout.write('ready\\n')\n"
			     "    sys.stdout.flush()\n"
			     "    time.sleep(60)\n"
			     "\n"
			     "def caller_λ():\n"
			     "    wait_here()\n"
			     "\n"
			     "class Outer:\n"
			     "    def mëthod(self):\n"
			     "        caller_λ()\n"
			     "\n"
			     "def gen():\n"
			     "    yield Outer().mëthod()\n"
			     "\n"
			     "list(gen())\n";
#define SCRIPT_NAME "tëst_λ_\xf0\x9f\x98\x80.py"

static bool ci(void)
{
	const char *v = getenv("CI");

	return v && !strcmp(v, "true");
}

/* The sid chroot when it is ready and we may enter it, else NULL. */
static const char *sid_root(void)
{
	const char *dir = getenv("MEMTRACE_SID");
	char stamp[PATH_MAX];

	if (!dir || !*dir)
		dir = "/var/tmp/memtrace-sid";
	snprintf(stamp, sizeof(stamp), "%s/.memtrace-ready", dir);
	return geteuid() == 0 && !access(stamp, R_OK) ? dir : NULL;
}

/* The interpreter's path as we see it (for a sid one: under the chroot). */
static void python_path(const struct python *py, char *buf, size_t sz)
{
	const char *root = getenv("PYENV_ROOT"), *home = getenv("HOME");

	if (py->sid)
		snprintf(buf, sz, "%s%s", sid_root() ?: "/nonexistent-sid", py->rel);
	else if (py->rel[0] == '/')
		snprintf(buf, sz, "%s", py->rel);
	else if (root)
		snprintf(buf, sz, "%s/versions/%s", root, py->rel);
	else
		snprintf(buf, sz, "%s/.pyenv/versions/%s", home ? home : "/root", py->rel);
}

/* Is the interpreter there? If not: a note, or a failure under CI=true. */
static bool have_python(const struct python *py, const char *path)
{
	if (!access(path, X_OK))
		return true;
	if (py->sid)
		printf("     note: %s: no sid chroot ready (tests/sid-chroot.sh) or not root, "
		       "skipped\n",
		       py->rel);
	else if (ci())
		MT_FAIL("%s: missing (CI=true)", path);
	else
		printf("     note: %s missing, skipped\n", path);
	return false;
}

/*
 * Start argv with stdout on a pipe (*out), chrooted to root unless it is
 * NULL; the child dies with us.
 */
static pid_t spawn_in(const char *root, char *const argv[], int *out)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		if (root && (chroot(root) || chdir("/")))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0)
		close(pfd[0]);
	else
		*out = pfd[0];
	return pid;
}

static pid_t spawn(char *const argv[], int *out)
{
	return spawn_in(NULL, argv, out);
}

static void reap(pid_t pid, int fd)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (fd >= 0)
		close(fd);
}

/* Wait up to ms for a line on fd. */
static bool wait_ready(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[64];

	return poll(&pfd, 1, ms) == 1 && read(fd, buf, sizeof(buf)) > 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

	nanosleep(&ts, NULL);
}

/*
 * Wait until pid is blocked in time.sleep(): select (3.10) or
 * clock_nanosleep (3.11+), as /proc/PID/syscall shows (x86-64 numbers).
 */
static bool wait_sleeping(pid_t pid)
{
	char path[64], buf[128];
	int i, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (i = 0; i < 500; i++) {
		long nr = -1;

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			nr = strtol(buf, NULL, 10);
		}
		if (nr == 23 || nr == 35 || nr == 230 || nr == 270)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Detect pid, waiting up to ~5 s for the interpreter to be mapped and relocated. */
static int detect(pid_t pid, struct mt_py_offsets *off, char *desc, size_t desclen)
{
	int err = -ENOENT, i;

	for (i = 0; i < 250; i++) {
		struct mt_maps maps;

		err = mt_maps__read(pid, &maps);
		if (err)
			return err;
		err = mt_py__detect(pid, &maps, off, desc, desclen);
		mt_maps__free(&maps);
		if (err != -ENOENT && err != -EAGAIN)
			return err;
		sleep_ms(20);
	}
	return err;
}

static void check_offsets(const char *name, const struct mt_py_offsets *got, __u32 version)
{
	const struct mt_py_offsets *e = NULL;
	size_t i;

	for (i = 0; i < sizeof(expect_tab) / sizeof(expect_tab[0]); i++)
		if (expect_tab[i].version == (version & 0xffff0000))
			e = &expect_tab[i];
	if (!ASSERT_TRUE(e != NULL, name))
		return;
	if (version & 0xffff)
		ASSERT_EQ(got->version, version, name);
	else
		ASSERT_EQ(got->version & 0xffff0000, version, name);
	ASSERT_TRUE(got->runtime != 0, name);
	ASSERT_EQ(got->code_mask, e->code_mask, name);
	ASSERT_EQ(got->flags, e->flags, name);
	ASSERT_EQ(got->rt_interp_head, e->rt_interp_head, name);
	ASSERT_EQ(got->is_next, e->is_next, name);
	ASSERT_EQ(got->is_threads_head, e->is_threads_head, name);
	ASSERT_EQ(got->ts_next, e->ts_next, name);
	ASSERT_EQ(got->ts_thread_id, e->ts_thread_id, name);
	ASSERT_EQ(got->ts_frame, e->ts_frame, name);
	ASSERT_EQ(got->ts_cframe_frame, e->ts_cframe_frame, name);
	ASSERT_EQ(got->fr_code, e->fr_code, name);
	ASSERT_EQ(got->fr_previous, e->fr_previous, name);
	ASSERT_EQ(got->fr_instr, e->fr_instr, name);
	ASSERT_EQ(got->fr_owner, e->fr_owner, name);
	ASSERT_EQ(got->owner_skip, e->owner_skip, name);
	ASSERT_EQ(got->code_adaptive, e->code_adaptive, name);
	ASSERT_EQ(got->co_firstlineno, e->co_firstlineno, name);
}

MT_TEST(py_detect)
{
	char path[PATH_MAX], desc[512], want[64];
	size_t i;

	for (i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
		const struct python *py = &pythons[i];
		char *argv[] = {py->sid ? (char *)py->rel : path, "-c",
				"import time; time.sleep(30)", NULL};
		struct mt_py_offsets off;
		int fd = -1, err;
		pid_t pid;

		python_path(py, path, sizeof(path));
		if (!have_python(py, path))
			continue;
		pid = spawn_in(py->sid ? sid_root() : NULL, argv, &fd);
		if (!ASSERT_TRUE(pid > 0, "spawn"))
			continue;
		err = detect(pid, &off, desc, sizeof(desc));
		reap(pid, fd);
		if (!ASSERT_OK(err, path)) {
			fprintf(stderr, "  %s\n", desc);
			continue;
		}
		printf("     %s\n", desc);
		snprintf(want, sizeof(want), "CPython %u.%u", pythons[i].version >> 24,
			 (pythons[i].version >> 16) & 0xff);
		ASSERT_TRUE(!strncmp(desc, want, strlen(want)), "desc names the version");
		check_offsets(path, &off, pythons[i].version);
	}
}

MT_TEST(py_detect_not_python)
{
	char *argv[] = {"/bin/sleep", "30", NULL};
	struct mt_py_offsets off;
	char desc[512];
	struct mt_maps maps;
	int fd = -1, err;
	pid_t pid;

	pid = spawn(argv, &fd);
	if (!ASSERT_TRUE(pid > 0, "spawn"))
		return;
	/* until exec has replaced our own image (which links no Python either) */
	for (int i = 0; i < 250; i++) {
		char exe[PATH_MAX], link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0 && (exe[n] = 0, strstr(exe, "sleep")))
			break;
		sleep_ms(20);
	}
	err = mt_maps__read(pid, &maps);
	if (ASSERT_OK(err, "maps")) {
		err = mt_py__detect(pid, &maps, &off, desc, sizeof(desc));
		ASSERT_EQ(err, -ENOENT, "sleep is not Python");
		ASSERT_TRUE(desc[0] != 0, "desc says why");
		mt_maps__free(&maps);
	}
	reap(pid, fd);
	ASSERT_EQ(mt_py__detect(0, NULL, &off, NULL, 0), -EINVAL, "bad arguments");
}

MT_TEST(py_detect_old_version)
{
	char path[PATH_MAX], desc[512];
	struct python old = {"3.9.18/bin/python3.9", 0x03090000};
	char *argv[] = {path, "-c", "import time; time.sleep(30)", NULL};
	struct mt_py_offsets off;
	int fd = -1, err;
	pid_t pid;

	python_path(&old, path, sizeof(path));
	if (access(path, X_OK)) {
		printf("     note: %s missing, skipped\n", path);
		return;
	}
	pid = spawn(argv, &fd);
	if (!ASSERT_TRUE(pid > 0, "spawn"))
		return;
	err = detect(pid, &off, desc, sizeof(desc));
	reap(pid, fd);
	ASSERT_EQ(err, -EOPNOTSUPP, "3.9 is not supported");
	ASSERT_TRUE(strstr(desc, "3.9") && strstr(desc, "3.10-3.15"), desc);
}

/*
 * Copy sid's usr/bin/src to dir/name (dir under root), patched: with ft,
 * its _Py_DebugOffsets marked free-threaded (the flag at +16 of
 * .PyRuntime); with version, PY_VERSION_HEX in Py_Version and in
 * _Py_DebugOffsets (+8). Both are statically initialised: the process
 * reads what the file says. inner: the copy's path inside root. Returns
 * whether the copy is ready.
 */
static bool patched_copy(const char *root, const char *dir, const char *src_name, const char *name,
			 bool ft, __u32 version, char *inner, size_t innersz)
{
	char src[PATH_MAX], dst[PATH_MAX], buf[65536];
	struct mt_elf e = {.fd = -1};
	struct mt_elf_sym sym = {.name = "Py_Version"};
	__u64 one = 1, v64 = version, off;
	GElf_Shdr sh;
	int in, out;
	ssize_t n = -1;
	bool ok = false;

	snprintf(src, sizeof(src), "%s/usr/bin/%s", root, src_name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	snprintf(inner, innersz, "%s", dst + strlen(root));
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			break;
	if (in >= 0 && out >= 0 && n == 0 && !mt_elf__open(&e, dst) &&
	    !mt_elf__section(&e, ".PyRuntime", &sh)) {
		ok = true;
		if (ft)
			ok = pwrite(out, &one, sizeof(one), sh.sh_offset + 16) == sizeof(one);
		if (ok && version) {
			mt_elf__find_syms(&e, &sym, 1, MT_ELF_ANY, MT_ELF_DYNSYM_FIRST);
			ok = sym.found && !mt_elf__offset(&e, sym.value, &off) &&
			     pwrite(out, &version, sizeof(version), off) == sizeof(version) &&
			     pwrite(out, &v64, sizeof(v64), sh.sh_offset + 8) == sizeof(v64);
		}
	}
	mt_elf__close(&e);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok;
}

/* Run dir/name (a patched copy) in root: detection must refuse it saying why. */
static void detect_refused(const char *root, const char *dir, const char *name, const char *inner,
			   const char *why)
{
	char *argv[] = {(char *)inner, "-c", "import time; time.sleep(30)", NULL};
	char path[PATH_MAX + 300], desc[512];
	struct mt_py_offsets off;
	int fd = -1, err;
	pid_t pid;

	pid = spawn_in(root, argv, &fd);
	if (ASSERT_TRUE(pid > 0, "spawn")) {
		err = detect(pid, &off, desc, sizeof(desc));
		ASSERT_EQ(err, -EOPNOTSUPP, name);
		ASSERT_TRUE(strstr(desc, why) && !strchr(desc, '\n'), desc);
		printf("     %s\n", desc);
	}
	reap(pid, fd);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/*
 * Builds memtrace does not support, made from sid's: free-threaded (by the
 * ABI flag in the name, by _Py_DebugOffsets.free_threaded) and a 3.15
 * pre-release (whose _Py_DebugOffsets layout changed between betas).
 */
MT_TEST(py_detect_refused_builds)
{
	static const struct {
		const char *src, *name;
		bool ft;
		__u32 version;
		const char *why;
	} cases[] = {
	    {"python3.14", "python3.14t", false, 0, "free-threaded"},
	    {"python3.14", "python3", true, 0, "free-threaded"},
	    {"python3.15", "python3.15", false, 0x030f00b4, "pre-release"},
	};
	const char *root = sid_root();
	char dir[256], inner[PATH_MAX];

	if (!root) {
		printf("     note: no sid chroot ready (tests/sid-chroot.sh) or not root, "
		       "skipped\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/tmp/mt-ft-XXXXXX", root);
	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ASSERT_TRUE(patched_copy(root, dir, cases[i].src, cases[i].name, cases[i].ft,
					     cases[i].version, inner, sizeof(inner)),
				cases[i].name))
			detect_refused(root, dir, cases[i].name, inner, cases[i].why);
	}
	rmdir(dir);
}

/* ---- a user-space frame walk with the detected offsets ---- */

#define MAX_FRAMES 64

static int read_ptr(pid_t pid, __u64 addr, __u64 *val)
{
	return mt_procmem__read(pid, addr, val, sizeof(*val));
}

/*
 * Walk the first thread with a frame, innermost first, as the BPF walker
 * does; returns the number of frames or a negative errno. *skipped: entry
 * frames passed over (owner >= owner_skip).
 */
static int walk(pid_t pid, const struct mt_py_offsets *o, struct mt_py_frame *out, int max,
		int *skipped)
{
	__u64 interp, ts, fr = 0;
	int n = 0, i, err;

	*skipped = 0;
	err = read_ptr(pid, o->runtime + o->rt_interp_head, &interp);
	if (err || !interp)
		return err ?: -ENOENT;
	err = read_ptr(pid, interp + o->is_threads_head, &ts);
	for (i = 0; !err && ts && i < 64; i++) {
		err = read_ptr(pid, ts + o->ts_frame, &fr);
		if (!err && fr && o->ts_cframe_frame >= 0)
			err = read_ptr(pid, fr + o->ts_cframe_frame, &fr);
		if (err || fr)
			break;
		err = read_ptr(pid, ts + o->ts_next, &ts);
	}
	if (err || !fr)
		return err ?: -ENOENT;
	for (i = 0; fr && i < MAX_FRAMES && n < max; i++) {
		__u64 code, instr = 0, prev;
		__s32 lasti = 0;
		__u8 owner = 0;

		if (o->fr_owner >= 0 && mt_procmem__read(pid, fr + o->fr_owner, &owner, 1))
			return -EFAULT;
		if (read_ptr(pid, fr + o->fr_previous, &prev))
			return -EFAULT;
		if (o->fr_owner < 0 || owner < o->owner_skip) {
			if (read_ptr(pid, fr + o->fr_code, &code))
				return -EFAULT;
			code &= o->code_mask;
			if (o->flags & MT_PY_LASTI_INDEX)
				err =
				    mt_procmem__read(pid, fr + o->fr_instr, &lasti, sizeof(lasti));
			else
				err = read_ptr(pid, fr + o->fr_instr, &instr);
			if (!err)
				err = mt_procmem__read(pid, code + o->co_firstlineno,
						       &out[n].firstlineno,
						       sizeof(out[n].firstlineno));
			if (err)
				return err;
			out[n].code = code;
			out[n].offset = o->flags & MT_PY_LASTI_INDEX
					    ? (__u32)(2 * lasti)
					    : (__u32)(instr - (code + o->code_adaptive));
			n++;
		} else {
			(*skipped)++;
		}
		fr = prev;
	}
	return n;
}

struct want_frame {
	const char *function;
	int line;
};

/* python runs script_path (both as the target sees them: in the sid chroot for sid's) */
static void check_live(const struct python *py, const char *python, const char *script_path)
{
	char *argv[] = {(char *)python, (char *)script_path, NULL};
	const bool py310 = (py->version & 0xffff0000) == 0x030a0000;
	const struct want_frame want[] = {
	    {"wait_here", WAIT_LINE},
	    {"caller_λ", 9},
	    {py310 ? "mëthod" : "Outer.mëthod", 13},
	    {"gen", 16},
	    {"<module>", 18},
	};
	struct mt_py_frame frames[MAX_FRAMES], bad;
	struct mt_frame out[MAX_FRAMES], again;
	struct mt_sym_python *s = NULL;
	struct mt_py_offsets off;
	char desc[512];
	int fd = -1, n = 0, skipped = 0, i, err;
	pid_t pid;

	pid = spawn_in(py->sid ? sid_root() : NULL, argv, &fd);
	if (!ASSERT_TRUE(pid > 0, "spawn"))
		return;
	if (!ASSERT_TRUE(wait_ready(fd, 15000), "script ready") ||
	    !ASSERT_TRUE(wait_sleeping(pid), "script sleeping"))
		goto cleanup;
	err = detect(pid, &off, desc, sizeof(desc));
	if (!ASSERT_OK(err, desc))
		goto cleanup;
	s = mt_sym_python__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		goto cleanup;
	if (!ASSERT_OK(mt_sym_python__add_pid(s, pid, &off), "add_pid"))
		goto cleanup;

	n = walk(pid, &off, frames, MAX_FRAMES, &skipped);
	if (!ASSERT_EQ(n, 5, python))
		goto cleanup;
	/* 3.12+: the entry frame list() pushed when it re-entered the interpreter */
	if (off.fr_owner >= 0)
		ASSERT_TRUE(skipped >= 1, "entry frame skipped");
	for (i = 0; i < n; i++) {
		err = mt_sym_python__resolve(s, pid, &frames[i], &out[i]);
		if (!ASSERT_OK(err, python))
			continue;
		ASSERT_EQ(out[i].kind, MT_FRAME_PYTHON, "kind");
		ASSERT_EQ(out[i].addr, frames[i].code, "addr");
		ASSERT_STREQ(out[i].file, script_path, python);
		ASSERT_STREQ(out[i].function, want[i].function, python);
		ASSERT_EQ(out[i].line, want[i].line, python);
	}
	printf("     %s: %s:%d %s", python, SCRIPT_NAME, out[0].line, out[0].function);
	for (i = 1; i < n; i++)
		printf(" <- %s:%d", out[i].function, out[i].line);
	printf(" (%d entry frames skipped)\n", skipped);

	/* the same code object again: cached, same interned strings */
	ASSERT_OK(mt_sym_python__resolve(s, pid, &frames[0], &again), "again");
	ASSERT_TRUE(again.file == out[0].file && again.function == out[0].function, "interned");

	/* a recorded first line that no longer matches: the object was reused */
	bad = frames[0];
	bad.firstlineno++;
	ASSERT_EQ(mt_sym_python__resolve(s, pid, &bad, &again), -ESTALE, "firstlineno mismatch");
	ASSERT_EQ(again.file, NULL, "nothing on error");
	/* not a code object: the interpreter state */
	bad.code = off.runtime;
	err = mt_sym_python__resolve(s, pid, &bad, &again);
	ASSERT_TRUE(err == -ESTALE || err == -EFAULT, "not a code object");
	bad.code = 8;
	ASSERT_EQ(mt_sym_python__resolve(s, pid, &bad, &again), -EFAULT, "unmapped");

	/* after the process is gone, cached frames still resolve */
	reap(pid, fd);
	fd = -1;
	err = mt_sym_python__resolve(s, pid, &frames[0], &again);
	ASSERT_OK(err, "cached after exit");
	ASSERT_EQ(again.line, WAIT_LINE, "cached after exit");
	bad = frames[0];
	bad.code += 16; /* never read: not cached */
	ASSERT_EQ(mt_sym_python__resolve(s, pid, &bad, &again), -ESRCH, "gone, uncached");
	mt_sym_python__forget_pid(s, pid);
	ASSERT_EQ(mt_sym_python__resolve(s, pid, &frames[0], &again), -ENOENT, "forgotten");
	pid = -1;
cleanup:
	mt_sym_python__free(s);
	reap(pid, fd);
}

/* Write the script into a new directory under root (NULL: /); its path inside root. */
static bool write_script(const char *root, char *dir, size_t dirsz, char *inner, size_t innersz)
{
	FILE *f;
	char path[PATH_MAX];

	snprintf(dir, dirsz, "%s/tmp/mt-py-XXXXXX", root ? root : "");
	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, SCRIPT_NAME);
	snprintf(inner, innersz, "%s", path + (root ? strlen(root) : 0));
	f = fopen(path, "w");
	if (!ASSERT_TRUE(f != NULL, "script")) {
		rmdir(dir);
		return false;
	}
	fputs(script, f);
	fclose(f);
	return true;
}

static void remove_script(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, SCRIPT_NAME);
	unlink(path);
	rmdir(dir);
}

MT_TEST(py_sym_live)
{
	char dir[256], sid_dir[256], script_path[PATH_MAX], sid_script[PATH_MAX];
	char python[PATH_MAX];
	const char *sid = sid_root();
	bool sid_ok = false;
	size_t i;

	if (!write_script(NULL, dir, sizeof(dir), script_path, sizeof(script_path)))
		return;
	if (sid)
		sid_ok =
		    write_script(sid, sid_dir, sizeof(sid_dir), sid_script, sizeof(sid_script));
	for (i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++) {
		const struct python *py = &pythons[i];

		python_path(py, python, sizeof(python));
		if (!have_python(py, python) || (py->sid && !sid_ok))
			continue;
		if (py->sid)
			check_live(py, py->rel, sid_script);
		else
			check_live(py, python, script_path);
	}
	remove_script(dir);
	if (sid_ok)
		remove_script(sid_dir);
}

MT_TEST(py_sym_api)
{
	struct mt_py_offsets off = {.version = 0x03090000};
	struct mt_py_frame fr = {.code = 0x1000};
	struct mt_sym_python *s;
	struct mt_frame out;

	mt_sym_python__free(NULL);
	mt_sym_python__forget_pid(NULL, 1);
	s = mt_sym_python__new();
	if (!ASSERT_TRUE(s != NULL, "new"))
		return;
	ASSERT_EQ(mt_sym_python__add_pid(s, 1, &off), -EOPNOTSUPP, "3.9");
	ASSERT_EQ(mt_sym_python__add_pid(s, 0, &off), -EINVAL, "pid 0");
	ASSERT_EQ(mt_sym_python__add_pid(s, 1, NULL), -EINVAL, "no offsets");
	ASSERT_EQ(mt_sym_python__resolve(s, 1, &fr, &out), -ENOENT, "unknown pid");
	ASSERT_EQ(out.kind, MT_FRAME_PYTHON, "kind on error");
	ASSERT_EQ(out.addr, 0x1000, "addr on error");
	ASSERT_EQ(mt_sym_python__resolve(s, 1, NULL, &out), -EINVAL, "no frame");
	off.version = 0x030c01f0;
	off.code_mask = ~0ULL;
	ASSERT_OK(mt_sym_python__add_pid(s, 1, &off), "3.12");
	fr.code = 0;
	ASSERT_EQ(mt_sym_python__resolve(s, 1, &fr, &out), -EINVAL, "NULL code");
	mt_sym_python__forget_pid(s, 1);
	mt_sym_python__forget_pid(s, 1);
	mt_sym_python__free(s);
}

/*
 * ---- a fake target: code objects, strings and bytes built in our own
 * memory (3.12 layout) and read back through process_vm_readv on ourself ----
 */

#define F_VERSION 0x030c01f0
#define F_ASCII 40     /* sizeof(PyASCIIObject), 3.12 */
#define F_COMPACT 56   /* sizeof(PyCompactUnicodeObject), 3.12 */
#define F_STR_CAP 4200 /* code points a fake string can hold */

struct fake {
	unsigned char code_type[256], str_type[256], bytes_type[256], heap_code_type[256];
	unsigned char code[256];
	unsigned char file[F_COMPACT + 4 * F_STR_CAP], func[F_COMPACT + 4 * F_STR_CAP];
	unsigned char tab[32 + 256];
};

static void put64(unsigned char *b, size_t off, __u64 v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void put32(unsigned char *b, size_t off, __u32 v)
{
	memcpy(b + off, &v, sizeof(v));
}

static __u64 ptr(const void *p)
{
	return (unsigned long)p;
}

static void make_type(unsigned char *t, const char *name, __u64 basicsize, bool heap)
{
	memset(t, 0, 256);
	put64(t, 24, ptr(name));
	put64(t, 32, basicsize);
	put64(t, 168, heap ? 1ULL << 9 : 0);
}

/* A compact str of n code points; ascii: the ASCII layout (kind 1). */
static void make_str(struct fake *f, unsigned char *s, unsigned int kind, bool ascii,
		     const __u32 *cps, size_t n)
{
	unsigned char *data = s + (ascii ? F_ASCII : F_COMPACT);
	size_t i;

	memset(s, 0, F_COMPACT);
	put64(s, 8, ptr(f->str_type));
	put64(s, 16, n);
	put32(s, 32, kind << 2 | 1 << 5 | (ascii ? 1 << 6 : 0));
	for (i = 0; i < n; i++) {
		if (kind == 1)
			data[i] = cps[i];
		else if (kind == 2)
			memcpy(data + 2 * i, &(__u16){cps[i]}, 2);
		else
			memcpy(data + 4 * i, &cps[i], 4);
	}
}

static void make_ascii(struct fake *f, unsigned char *s, const char *text)
{
	__u32 cps[64];
	size_t i, n = strlen(text);

	for (i = 0; i < n && i < 64; i++)
		cps[i] = (unsigned char)text[i];
	make_str(f, s, 1, true, cps, i);
}

/* A well-formed code object "file.py" / "func" at first line 10. */
static void make_fake(struct fake *f)
{
	/* 3.11+ table: +2 for 2 units, then short form for 2 units, then no location */
	static const unsigned char tab[] = {0x80 | 13 << 3 | 1, 0x04, 0x80 | 5 << 3 | 1, 0x12,
					    0x80 | 15 << 3 | 0};

	memset(f, 0, sizeof(*f));
	make_type(f->code_type, "code", 192, false);
	make_type(f->heap_code_type, "code", 192, true);
	make_type(f->str_type, "str", 64, false);
	make_type(f->bytes_type, "bytes", 33, false);
	put64(f->code, 8, ptr(f->code_type));
	put32(f->code, 68, 10);
	put64(f->code, 112, ptr(f->file));
	put64(f->code, 120, ptr(f->func)); /* co_name */
	put64(f->code, 128, ptr(f->func)); /* co_qualname */
	put64(f->code, 136, ptr(f->tab));
	make_ascii(f, f->file, "file.py");
	make_ascii(f, f->func, "func");
	put64(f->tab, 8, ptr(f->bytes_type));
	put64(f->tab, 16, sizeof(tab));
	memcpy(f->tab + 32, tab, sizeof(tab));
}

static struct mt_sym_python *fake_sym(pid_t pid)
{
	struct mt_py_offsets off = {.version = F_VERSION, .code_mask = ~0ULL};
	struct mt_sym_python *s = mt_sym_python__new();

	if (s && mt_sym_python__add_pid(s, pid, &off)) {
		mt_sym_python__free(s);
		s = NULL;
	}
	return s;
}

static int fake_resolve(struct fake *f, __u32 offset, struct mt_frame *out)
{
	struct mt_py_frame fr = {.code = ptr(f->code), .offset = offset, .firstlineno = 10};
	struct mt_sym_python *s = fake_sym(getpid());
	int err;

	if (!s)
		return -ENOMEM;
	err = mt_sym_python__resolve(s, getpid(), &fr, out);
	/* copy the strings out: they die with the symbolizer */
	if (!err) {
		static char file[4 * F_STR_CAP + 8], func[4 * F_STR_CAP + 8];

		snprintf(file, sizeof(file), "%s", out->file);
		snprintf(func, sizeof(func), "%s", out->function);
		out->file = file;
		out->function = func;
	}
	mt_sym_python__free(s);
	return err;
}

MT_TEST(py_sym_fake_target)
{
	static struct fake f;
	struct mt_frame out;
	__u32 cps[F_STR_CAP];
	size_t i;

	make_fake(&f);
	if (!ASSERT_OK(fake_resolve(&f, 0, &out), "well formed"))
		return;
	ASSERT_STREQ(out.file, "file.py", "file");
	ASSERT_STREQ(out.function, "func", "function");
	ASSERT_EQ(out.line, 12, "line");
	ASSERT_OK(fake_resolve(&f, 6, &out), "short form");
	ASSERT_EQ(out.line, 12, "short form line");
	ASSERT_OK(fake_resolve(&f, 8, &out), "no location");
	ASSERT_EQ(out.line, 0, "no location: line unknown");
	ASSERT_OK(fake_resolve(&f, 1000, &out), "past the end");
	ASSERT_EQ(out.line, 0, "past the end: line unknown");

	/* string kinds to UTF-8; lone surrogates and NULs become U+FFFD */
	make_str(&f, f.func, 1, false, (const __u32[]){'f', 0xfc, 0}, 3);
	ASSERT_OK(fake_resolve(&f, 0, &out), "latin-1");
	ASSERT_STREQ(out.function, "f\xc3\xbc\xef\xbf\xbd", "latin-1");
	make_str(&f, f.func, 2, false, (const __u32[]){0x3bb, 'x', 0xd800, 0xffff}, 4);
	ASSERT_OK(fake_resolve(&f, 0, &out), "ucs-2");
	ASSERT_STREQ(out.function, "\xce\xbbx\xef\xbf\xbd\xef\xbf\xbf", "ucs-2");
	make_str(&f, f.func, 4, false, (const __u32[]){0x1f600, 'a', 0x110000, 0xdfff, 0x10ffff},
		 5);
	ASSERT_OK(fake_resolve(&f, 0, &out), "ucs-4");
	ASSERT_STREQ(out.function,
		     "\xf0\x9f\x98\x80"
		     "a\xef\xbf\xbd\xef\xbf\xbd\xf4\x8f\xbf\xbf",
		     "ucs-4");

	/* long strings are cut at 4096 code points */
	for (i = 0; i < F_STR_CAP; i++)
		cps[i] = 0x3bb;
	make_str(&f, f.file, 2, false, cps, F_STR_CAP);
	ASSERT_OK(fake_resolve(&f, 0, &out), "long");
	ASSERT_EQ(strlen(out.file), 4096 * 2 + 3, "cut at 4096 + \"...\"");
	put64(f.file, 16, 1ULL << 40); /* claims 2^40 code points */
	ASSERT_OK(fake_resolve(&f, 0, &out), "huge length");
	ASSERT_EQ(strlen(out.file), 4096 * 2 + 3, "huge length cut");

	/* malformed strings and bytes */
	make_fake(&f);
	put64(f.file, 16, -1);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "negative length");
	make_fake(&f);
	put32(f.file, 32, 1 << 2); /* not compact */
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "not compact");
	put32(f.file, 32, 3 << 2 | 1 << 5);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "kind 3");
	put32(f.file, 32, 2 << 2 | 1 << 5 | 1 << 6);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "ascii with kind 2");
	make_fake(&f);
	put64(f.file, 8, ptr(f.bytes_type));
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "a bytes object as file name");
	make_fake(&f);
	put64(f.code, 112, 0);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "NULL file name");
	put64(f.code, 112, 16);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EFAULT, "unmapped file name");
	make_fake(&f);
	put64(f.tab, 16, (1 << 20) + 1);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "line table over 1 MiB");
	put64(f.tab, 16, -5);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -EBADMSG, "negative bytes size");

	/* not a code object */
	make_fake(&f);
	put64(f.code, 8, ptr(f.heap_code_type));
	ASSERT_EQ(fake_resolve(&f, 0, &out), -ESTALE, "heap type named code");
	put64(f.code, 8, ptr(f.str_type));
	ASSERT_EQ(fake_resolve(&f, 0, &out), -ESTALE, "a str");
	make_fake(&f);
	put64(f.code_type, 32, 200);
	ASSERT_EQ(fake_resolve(&f, 0, &out), -ESTALE, "code type of another size");
}

MT_TEST(py_sym_fake_fuzz)
{
	static struct fake f;
	struct mt_sym_python *s = NULL;
	pid_t self = getpid();
	long ok = 0, errs = 0;
	int i, bad = 0;

	srand(1);
	for (i = 0; i < 20000 && bad < 5; i++) {
		struct mt_py_frame fr = {.code = ptr(f.code), .firstlineno = 10};
		struct mt_py_offsets off = {.version = F_VERSION, .code_mask = ~0ULL};
		struct mt_frame out;
		unsigned char *objs[] = {f.code, f.file, f.func, f.tab};
		int j, err;

		if (i % 1000 == 0) {
			mt_sym_python__free(s);
			s = fake_sym(self);
			if (!ASSERT_TRUE(s != NULL, "new"))
				return;
		}
		make_fake(&f);
		for (j = 1 + rand() % 4; j > 0; j--) {
			unsigned char *o = objs[rand() % 4];
			size_t at = rand() % 144;

			switch (rand() % 5) {
			case 0: /* a random byte */
				o[at] = rand();
				break;
			case 1: /* a random size or length */
				put64(o, 16,
				      (__u64)rand() << (rand() % 40) ^ (rand() % 2 ? ~0ULL : 0));
				break;
			case 2: /* a random str state */
				put32(o, 32, rand());
				break;
			case 3: /* a pointer to another of our objects, or a random one */
				put64(o, 8 * (1 + rand() % 17),
				      rand() % 2 ? ptr(objs[rand() % 4]) + rand() % 64
						 : (__u64)rand() << 16);
				break;
			default: /* line table bytes */
				f.tab[32 + rand() % 8] = rand();
				break;
			}
		}
		fr.offset = rand() % 3 ? (__u32)(rand() % 32) : (__u32)rand();
		/* fresh caches: mutated objects live at the same addresses */
		mt_sym_python__forget_pid(s, self);
		if (!ASSERT_OK(mt_sym_python__add_pid(s, self, &off), "add_pid"))
			break;
		err = mt_sym_python__resolve(s, self, &fr, &out);
		if (!err) {
			ok++;
			if (!out.file || !out.function || out.line < 0) {
				MT_FAIL("incomplete frame");
				bad++;
			}
		} else if (err == -ESTALE || err == -EFAULT || err == -EBADMSG || err == -ENOMEM) {
			errs++;
		} else {
			bad++;
			MT_FAIL("unexpected error %d", err);
		}
	}
	mt_sym_python__free(s);
	printf("     fake-target fuzz: %d runs, %ld resolved, %ld refused\n", i, ok, errs);
	ASSERT_EQ(bad, 0, "fuzz failures");
	ASSERT_TRUE(ok > 100 && errs > 100, "both outcomes exercised");
}
