/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The metrics endpoint: libmicrohttpd driven from the daemon's own loop
 * (no thread: a scrape reads the daemon's state between its steps, no
 * lock). GET /metrics answers the render callback's text; anything else
 * is 404, a method other than GET or HEAD 405. Bounded: at most
 * MT_SERVER_MAX_CONN connections at once, each dropped after
 * MT_SERVER_TIMEOUT seconds idle, 16 KiB of request memory each.
 */
#ifndef MT_DAEMON_SERVER_H
#define MT_DAEMON_SERVER_H

#include <stddef.h>

#define MT_SERVER_MAX_CONN 16
#define MT_SERVER_TIMEOUT 10

struct mt_server;

/* The exposition into a malloc'd *buf of *len bytes: 0 or -errno (then a 500). */
typedef int (*mt_server_render_fn)(void *ctx, char **buf, size_t *len);

/*
 * Listen on addr ("127.0.0.1:9464", "[::1]:9464", ":9464" for every
 * address). NULL with errno set, after a message.
 */
struct mt_server *mt_server__new(const char *addr, mt_server_render_fn fn, void *ctx);
void mt_server__free(struct mt_server *s);
/* The descriptor to poll (POLLIN), and the longest wait in ms before mt_server__run (-1: none). */
int mt_server__fd(const struct mt_server *s);
int mt_server__timeout_ms(const struct mt_server *s);
/* Serve what is ready. */
void mt_server__run(struct mt_server *s);
/* The port listened on (":0" picks one). */
int mt_server__port(const struct mt_server *s);

/* "HOST:PORT" -> a socket address (IPv4, or IPv6 in brackets). 0 or -EINVAL. */
struct sockaddr_storage;
int mt_server__parse_addr(const char *addr, struct sockaddr_storage *ss);

#endif
