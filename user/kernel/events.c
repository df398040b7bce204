// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "kernel/events.h"
#include "mt_python.h"

struct mt_events {
	struct ring_buffer *rb;
	struct mt_events_ops ops;
	void *ctx;
};

static int on_py_stack(void *ctx, void *data, size_t size)
{
	struct mt_events *ev = ctx;
	struct mt_py_event e;

	if (size < sizeof(e) || !ev->ops.py_stack)
		return 0;
	memcpy(&e, data, sizeof(e));
	ev->ops.py_stack(ev->ctx, e.tgid, e.py_stack);
	return 0;
}

static int on_proc(void *ctx, void *data, size_t size)
{
	struct mt_events *ev = ctx;
	struct mt_proc_event e;

	if (size < sizeof(e) || !ev->ops.proc)
		return 0;
	memcpy(&e, data, sizeof(e));
	ev->ops.proc(ev->ctx, &e);
	return 0;
}

static int on_unwind(void *ctx, void *data, size_t size)
{
	struct mt_events *ev = ctx;

	if (ev->ops.unwind)
		ev->ops.unwind(ev->ctx, data, size);
	return 0;
}

struct mt_events *mt_events__new(const struct mt_bpf_maps *maps, const struct mt_events_ops *ops,
				 void *ctx)
{
	struct mt_events *ev = calloc(1, sizeof(*ev));
	int err;

	if (!ev)
		return NULL;
	ev->ops = *ops;
	ev->ctx = ctx;
	ev->rb = ring_buffer__new(maps->py_events, on_py_stack, ev, NULL);
	if (!ev->rb) {
		err = -errno;
		goto err_out;
	}
	err = ring_buffer__add(ev->rb, maps->proc_events, on_proc, ev);
	if (!err)
		err = ring_buffer__add(ev->rb, maps->unwind_events, on_unwind, ev);
	if (err)
		goto err_out;
	return ev;
err_out:
	mt_events__free(ev);
	errno = -err;
	return NULL;
}

void mt_events__free(struct mt_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev);
}

int mt_events__fd(const struct mt_events *ev)
{
	return ring_buffer__epoll_fd(ev->rb);
}

int mt_events__consume(struct mt_events *ev)
{
	return ring_buffer__consume(ev->rb);
}
