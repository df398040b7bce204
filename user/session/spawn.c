// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lib/log.h"
#include "session/spawn.h"

static void kill_child(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/*
 * Step a stopped child from syscall to syscall until ready() says so, then
 * let it go (detached). 0, or a negative errno (the child is then killed
 * or gone).
 */
static int step_until_ready(pid_t pid, mt_spawn_ready_fn ready, void *arg, const char *what)
{
	int st, err;

	for (;;) {
		int sig = 0;

		err = ready(pid, arg);
		if (err > 0)
			break;
		if (err < 0) {
			kill_child(pid);
			return err;
		}
		/* run to the next syscall entry or exit */
		for (;;) {
			if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig)) {
				err = -errno;
				kill_child(pid);
				return err;
			}
			if (waitpid(pid, &st, 0) != pid) {
				err = -errno;
				kill_child(pid);
				return err;
			}
			if (WIFEXITED(st) || WIFSIGNALED(st)) {
				pr_err("'%s' exited before its allocator was mapped", what);
				return -ECHILD;
			}
			sig = 0;
			if (WSTOPSIG(st) == (SIGTRAP | 0x80))
				break; /* syscall stop: check again */
			if (st >> 16)
				continue;   /* ptrace event (exec, exit) */
			sig = WSTOPSIG(st); /* a real signal: deliver it */
		}
	}
	if (ptrace(PTRACE_DETACH, pid, NULL, NULL)) {
		err = -errno;
		kill_child(pid);
		return err;
	}
	return 0;
}

pid_t mt_spawn__start(char **argv, mt_spawn_ready_fn ready, void *arg)
{
	int pipefd[2], st, child_errno = 0, err;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		sigset_t none;

		close(pipefd[0]);
		/* the command starts with the signal mask memtrace was started with */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0)
			execvp(argv[0], argv);
		child_errno = errno;
		if (write(pipefd[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pipefd[1]);
	/* the pipe closes on a successful exec, or carries execvp's errno */
	do
		n = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, &st, 0);
		pr_err("cannot run '%s': %s", argv[0], strerror(child_errno));
		return -child_errno;
	}
	/* stopped by the exec's SIGTRAP, before the first instruction */
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		pr_err("'%s' did not start", argv[0]);
		return -ECHILD;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
		err = -errno;
		pr_err("ptrace '%s': %s", argv[0], strerror(errno));
		kill_child(pid);
		return err;
	}
	err = step_until_ready(pid, ready, arg, argv[0]);
	if (err)
		return err;
	return pid;
}

bool mt_spawn__reap(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (r < 0)
		*status = 0; /* reaped already: nothing to tell */
	return true;
}

int mt_spawn__exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}
