// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A scrape of the daemon's metrics endpoint as a Prometheus server makes
 * it: 10 escalated processes of 100 sites each (synthetic report models,
 * rendered as the daemon renders a report), 500 watched processes, the
 * real libmicrohttpd server driven by a poll loop as the daemon's, and a
 * libcurl client in a thread. Checks the answer (status, content type,
 * series counts) and prints what `make bench` reads:
 *   scrape: 10x100: N bytes, median U us (min A, max B) over 20
 */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "report/report.h"
#include "test.h"

#define NPROC 500
#define NESC 10
#define NSITE 100
#define NSCRAPE 20

struct scrape_ctx {
	struct mt_metrics_proc procs[NPROC];
	struct mt_metrics_sites sites[NESC];
	char comms[NPROC][16];
};

static int render(void *arg, char **buf, size_t *len)
{
	struct scrape_ctx *c = arg;
	struct mt_metrics_view v = {.procs = c->procs, .nr_procs = NPROC, .escalated = NESC};

	return mt_metrics__render_buf(&v, buf, len);
}

struct client {
	int port;
	char *body;
	size_t len;
	long status;
	char ctype[64];
	double us;
	volatile int done;
};

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
	struct client *c = arg;
	char *b = realloc(c->body, c->len + sz * n + 1);

	if (!b)
		return 0;
	memcpy(b + c->len, p, sz * n);
	c->body = b;
	c->len += sz * n;
	b[c->len] = 0;
	return sz * n;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *get(void *arg)
{
	struct client *c = arg;
	char url[64];
	char *ct = NULL;
	CURL *h = curl_easy_init();
	double t0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", c->port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	t0 = now_us();
	if (curl_easy_perform(h) == CURLE_OK) {
		c->us = now_us() - t0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(c->ctype, sizeof(c->ctype), "%s", ct ? ct : "");
	}
	curl_easy_cleanup(h);
	c->done = 1;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

MT_TEST(daemon_scrape_10x100)
{
	struct scrape_ctx *c = calloc(1, sizeof(*c));
	struct mt_row *rows = calloc(NSITE, sizeof(*rows));
	struct mt_server *srv = NULL;
	double us[NSCRAPE];
	struct mt_report r;
	char files[NSITE][32];

	if (!ASSERT_TRUE(c && rows, "alloc"))
		goto out;
	for (int i = 0; i < NPROC; i++) {
		snprintf(c->comms[i], sizeof(c->comms[i]), "proc%d", i);
		c->procs[i] = (struct mt_metrics_proc){.pid = 1000 + i,
						       .comm = c->comms[i],
						       .rss = (i + 1) * 4096LL,
						       .anon = i * 4096LL,
						       .tier = i < NESC ? "exact" : "watch",
						       .sites = i < NESC ? &c->sites[i] : NULL};
	}
	for (int s = 0; s < NSITE; s++) {
		snprintf(files[s], sizeof(files[s]), "src/module%02d.c", s % 37);
		rows[s] = (struct mt_row){.file = files[s],
					  .function = "allocate_something",
					  .line = 100 + s,
					  .bytes = 1000 * (NSITE - s),
					  .growth_bytes = s};
	}
	for (int i = 0; i < NESC; i++) {
		memset(&r, 0, sizeof(r));
		r.pid = 1000 + i;
		snprintf(r.comm, sizeof(r.comm), "proc%d", i);
		r.rows = rows;
		r.nr_rows = r.nr_groups = NSITE;
		ASSERT_OK(mt_metrics__sites(&r, NSITE, &c->sites[i]), "sites");
	}
	srv = mt_server__new("127.0.0.1:0", render, c);
	if (!ASSERT_TRUE(srv != NULL, "server"))
		goto out;
	for (int k = 0; k < NSCRAPE; k++) {
		struct client cl = {.port = mt_server__port(srv)};
		pthread_t th;

		pthread_create(&th, NULL, get, &cl);
		while (!cl.done) {
			struct pollfd pfd = {.fd = mt_server__fd(srv), .events = POLLIN};

			poll(&pfd, 1, 10);
			mt_server__run(srv);
		}
		pthread_join(th, NULL);
		us[k] = cl.us;
		if (k == 0) {
			ASSERT_EQ(cl.status, 200, "status");
			ASSERT_STREQ(cl.ctype, "text/plain; version=0.0.4; charset=utf-8", "type");
			ASSERT_EQ(
			    count(cl.body ? cl.body : "", "\nmemtrace_site_outstanding_bytes{"),
			    NESC * NSITE, "site series");
			ASSERT_EQ(count(cl.body ? cl.body : "", "\nmemtrace_process_rss_bytes{"),
				  NPROC, "rss series");
			printf("     scrape: %dx%d: %zu bytes", NESC, NSITE, cl.len);
		}
		free(cl.body);
	}
	qsort(us, NSCRAPE, sizeof(us[0]), cmp_double);
	printf(", median %.0f us (min %.0f, max %.0f) over %d\n", us[NSCRAPE / 2], us[0],
	       us[NSCRAPE - 1], NSCRAPE);
	ASSERT_TRUE(us[NSCRAPE / 2] < 50000, "median scrape under 50 ms");
out:
	mt_server__free(srv);
	if (c)
		for (int i = 0; i < NESC; i++)
			mt_metrics__sites_free(&c->sites[i]);
	free(c);
	free(rows);
}

MT_TEST(daemon_server_errors)
{
	struct scrape_ctx *c = calloc(1, sizeof(*c));
	struct mt_server *srv = mt_server__new("127.0.0.1:0", render, c);
	struct client cl = {0};

	if (!ASSERT_TRUE(srv != NULL, "server"))
		goto out;
	/* a second server on the same port is refused with a message */
	{
		char addr[32];
		struct mt_server *again;

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", mt_server__port(srv));
		again = mt_server__new(addr, render, c);
		ASSERT_TRUE(again == NULL, "port in use");
		mt_server__free(again);
	}
	ASSERT_TRUE(mt_server__new("nonsense", render, c) == NULL, "bad address");
	/* another path: 404 */
	cl.port = mt_server__port(srv);
	{
		CURL *h = curl_easy_init();
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/other", cl.port);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &cl);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
		/* drive the server from here: the client in non-blocking steps */
		{
			CURLM *m = curl_multi_init();
			int running = 1;

			curl_multi_add_handle(m, h);
			while (running) {
				struct pollfd pfd = {.fd = mt_server__fd(srv), .events = POLLIN};

				curl_multi_perform(m, &running);
				poll(&pfd, 1, 5);
				mt_server__run(srv);
			}
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &cl.status);
			curl_multi_remove_handle(m, h);
			curl_multi_cleanup(m);
		}
		curl_easy_cleanup(h);
		ASSERT_EQ(cl.status, 404, "unknown path");
	}
	free(cl.body);
out:
	mt_server__free(srv);
	free(c);
}
