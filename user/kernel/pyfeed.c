// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "mt_python.h"
#include "kernel/loader.h"
#include "kernel/pyfeed.h"

struct mt_py_feed {
	struct ring_buffer *rb;
	mt_py_feed_fn fn;
	void *ctx;
};

static int py_feed_sample(void *ctx, void *data, size_t size)
{
	struct mt_py_feed *f = ctx;
	struct mt_py_event ev;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	f->fn(f->ctx, ev.tgid, ev.py_stack);
	return 0;
}

struct mt_py_feed *mt_py_feed__new(const struct mt_bpf_maps *maps, mt_py_feed_fn fn, void *ctx)
{
	struct mt_py_feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fn = fn;
	f->ctx = ctx;
	f->rb = ring_buffer__new(maps->py_events, py_feed_sample, f, NULL);
	if (!f->rb) {
		int err = errno;

		free(f);
		errno = err;
		return NULL;
	}
	return f;
}

void mt_py_feed__free(struct mt_py_feed *f)
{
	if (!f)
		return;
	ring_buffer__free(f->rb);
	free(f);
}

int mt_py_feed__fd(const struct mt_py_feed *f)
{
	return ring_buffer__epoll_fd(f->rb);
}

int mt_py_feed__consume(struct mt_py_feed *f)
{
	return ring_buffer__consume(f->rb);
}
