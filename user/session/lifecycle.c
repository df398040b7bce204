// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stddef.h>
#include "proc/procinfo.h"
#include "session/lifecycle.h"

enum mt_lc_action mt_lifecycle__decide(const struct mt_targets *tt, const struct mt_lc_policy *p,
				       const struct mt_proc_event *e, struct target **t)
{
	struct target *found;

	*t = NULL;
	switch (e->type) {
	case MT_PROC_FORK:
		if (p->all || !p->follow_forks)
			return e->stopped ? MT_LC_RESUME : MT_LC_IGNORE;
		*t = mt_targets__find(tt, (pid_t)e->ppid, mt_proc__ticks_of_ns(e->ppid_start_ns));
		return MT_LC_ADOPT;
	case MT_PROC_EXEC:
		found = mt_targets__find(tt, (pid_t)e->pid, mt_proc__ticks_of_ns(e->start_ns));
		if (!found)
			return e->stopped ? MT_LC_RESUME : MT_LC_IGNORE;
		*t = found;
		return MT_LC_REPLAN;
	case MT_PROC_EXIT:
		found = mt_targets__find(tt, (pid_t)e->pid, mt_proc__ticks_of_ns(e->start_ns));
		if (!found)
			return p->all ? MT_LC_FORGET : MT_LC_IGNORE;
		*t = found;
		return MT_LC_RETIRE;
	case MT_PROC_FINALIZE:
		found = mt_targets__find(tt, (pid_t)e->pid, mt_proc__ticks_of_ns(e->start_ns));
		if (!found || found->done)
			return e->stopped ? MT_LC_RESUME : MT_LC_IGNORE;
		*t = found;
		return MT_LC_FINAL;
	case MT_PROC_MAPPED:
	case MT_PROC_UNMAPPING:
	case MT_PROC_EXITING:
		found = mt_targets__find(tt, (pid_t)e->pid, mt_proc__ticks_of_ns(e->start_ns));
		if (!found)
			return e->stopped ? MT_LC_RESUME : MT_LC_IGNORE;
		*t = found;
		return e->type == MT_PROC_MAPPED      ? MT_LC_MAPPED
		       : e->type == MT_PROC_UNMAPPING ? MT_LC_SYMBOLIZE
						      : MT_LC_REFRESH;
	default:
		return e->stopped ? MT_LC_RESUME : MT_LC_IGNORE;
	}
}

const char *mt_lc_action__name(enum mt_lc_action a)
{
	static const char *const names[] = {
	    [MT_LC_IGNORE] = "ignore",	     [MT_LC_RESUME] = "resume", [MT_LC_ADOPT] = "adopt",
	    [MT_LC_REPLAN] = "replan",	     [MT_LC_RETIRE] = "retire", [MT_LC_FORGET] = "forget",
	    [MT_LC_FINAL] = "final",	     [MT_LC_MAPPED] = "mapped", [MT_LC_REFRESH] = "refresh",
	    [MT_LC_SYMBOLIZE] = "symbolize",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) && names[a] ? names[a] : "?";
}
