// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Profiles of escalated processes (profiles.h): files with rotation, push with libcurl. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/profiles.h"
#include "lib/log.h"
#include "lib/printable.h"
#include "report/report.h"

int mt_profiles__encode(const struct mt_profiles_opts *o, const struct mt_report *r,
			unsigned char **buf, size_t *len)
{
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	int err = mt_out_pprof__encode(&o->out, r, &raw, &raw_len);

	*buf = NULL;
	if (!err)
		err = mt_out_pprof__gzip(raw, raw_len, buf, len);
	free(raw);
	return err;
}

int mt_profiles__write(const struct mt_profiles_opts *o, const struct mt_report *r,
		       const unsigned char *gz, size_t len, const char *tag)
{
	char path[4096];
	int err;

	if (!o->dir)
		return 0;
	if (tag)
		snprintf(path, sizeof(path), "%s/memtrace-%u-%s.pb.gz", o->dir, r->pid, tag);
	else
		snprintf(path, sizeof(path), "%s/memtrace-%u-%08u.pb.gz", o->dir, r->pid, r->seq);
	err = mt_output__replace_file(path, gz, len);
	if (err) {
		pr_warn("writing %s: %s", path, strerror(-err));
		return err;
	}
	if (!tag && o->keep)
		mt_profiles__rotate(o->dir, (int)r->pid, o->keep);
	return 0;
}

int mt_profiles__write_json(const struct mt_profiles_opts *o, const struct mt_report *r,
			    const char *tag)
{
	struct mt_output_cfg cfg = o->out;
	char *buf = NULL, path[4096];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!o->dir || !f) {
		if (f)
			fclose(f);
		return o->dir ? -ENOMEM : 0;
	}
	cfg.format = MT_FORMAT_JSON;
	cfg.path = NULL;
	err = mt_output__report(f, &cfg, r);
	if (fclose(f) && !err)
		err = -ENOMEM;
	snprintf(path, sizeof(path), "%s/memtrace-%u-%s.json", o->dir, r->pid, tag);
	if (!err)
		err = mt_output__replace_file(path, buf, len);
	if (err)
		pr_warn("writing %s: %s", path, strerror(-err));
	free(buf);
	return err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mt_profiles__rotate(const char *dir, int pid, unsigned int keep)
{
	char prefix[32], path[4096];
	char **names = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *de;
	int removed = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	snprintf(prefix, sizeof(prefix), "memtrace-%d-", pid);
	while ((de = readdir(d))) {
		size_t pl = strlen(prefix), n = strlen(de->d_name);
		char **v;

		/* memtrace-PID-NNNNNNNN.pb.gz: the numbered ones only */
		if (strncmp(de->d_name, prefix, pl) || n != pl + 8 + 6 ||
		    strcmp(de->d_name + pl + 8, ".pb.gz") ||
		    strspn(de->d_name + pl, "0123456789") != 8)
			continue;
		if (nr == cap) {
			cap = cap ? cap * 2 : 16;
			v = realloc(names, cap * sizeof(*v));
			if (!v)
				break;
			names = v;
		}
		names[nr] = strdup(de->d_name);
		if (names[nr])
			nr++;
	}
	closedir(d);
	qsort(names, nr, sizeof(*names), by_name);
	for (size_t i = 0; i + keep < nr; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!unlink(path))
			removed++;
	}
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	return removed;
}

/* A label value for the push's name: printable, without the {},= that delimit it. */
static void name_value(char *out, size_t size, const char *s)
{
	mt_printable__str(out, size, s);
	for (char *p = out; *p; p++)
		if (strchr("{},=\\\"", *p))
			*p = '_';
}

char *mt_profiles__push_query(char *buf, size_t size, const char *app, const struct mt_report *r,
			      double span)
{
	char comm[64], name[256], *esc;
	CURL *c = curl_easy_init();
	int n;

	if (!c)
		return NULL;
	name_value(comm, sizeof(comm), r->comm);
	snprintf(name, sizeof(name), "%s{pid=%u,comm=%s}", app ? app : "memtrace", r->pid, comm);
	esc = curl_easy_escape(c, name, 0);
	curl_easy_cleanup(c);
	if (!esc)
		return NULL;
	n = snprintf(buf, size, "name=%s&from=%lld&until=%lld&format=pprof", esc,
		     (long long)(r->time - span), (long long)r->time);
	curl_free(esc);
	return n > 0 && (size_t)n < size ? buf : NULL;
}

/* The server's answer: not kept, its size not bounded by us but by the timeout. */
static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
	return sz * n;
}

int mt_profiles__push(const struct mt_profiles_opts *o, const struct mt_report *r, double span,
		      const unsigned char *gz, size_t len)
{
	struct curl_slist *hdrs = NULL;
	char query[512], url[4096];
	long status = 0;
	CURLcode rc;
	CURL *c;

	if (!o->push_url)
		return 0;
	if (!mt_profiles__push_query(query, sizeof(query), o->app, r, span) ||
	    (size_t)snprintf(url, sizeof(url), "%s/ingest?%s", o->push_url, query) >= sizeof(url))
		return -ENAMETOOLONG;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)gz);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)MT_PUSH_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)MT_PUSH_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		pr_warn("--push %s: %s", o->push_url, curl_easy_strerror(rc));
		return -EIO;
	}
	if (status < 200 || status > 299) {
		pr_warn("--push %s: the server answered %ld", o->push_url, status);
		return -EIO;
	}
	return 0;
}
