/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Profiles of escalated processes: each report as a gzipped pprof
 * profile (the pprof encoder of user/output, from the one report model),
 * written to --profile-dir and rotated (--keep N per process), and
 * pushed to a Pyroscope-compatible ingest URL (--push).
 *
 * Files: DIR/memtrace-PID-SEQ.pb.gz (SEQ the report's, zero-padded: names
 * sort by age), replaced atomically; an OOM victim's last report is
 * DIR/memtrace-PID-oom.pb.gz beside memtrace-PID-oom.json (never rotated).
 *
 * Push: POST URL/ingest?name=APP{pid=PID,comm=COMM}&from=T0&until=T1&format=pprof
 * with the gzipped profile as the body (application/octet-stream), each
 * request bounded to MT_PUSH_TIMEOUT seconds.
 */
#ifndef MT_DAEMON_PROFILES_H
#define MT_DAEMON_PROFILES_H

#include <stddef.h>
#include "output/output.h"

#define MT_PUSH_TIMEOUT 5

struct mt_profiles_opts {
	const char *dir;	  /* NULL: no files */
	unsigned int keep;	  /* profiles kept per process (0: all) */
	const char *push_url;	  /* NULL: no push */
	const char *app;	  /* the application name of the pushed series */
	struct mt_output_cfg out; /* the encoder's settings (sampling) */
};

/*
 * The gzipped pprof of r in a malloc'd *buf of *len bytes. 0 or -errno.
 */
int mt_profiles__encode(const struct mt_profiles_opts *o, const struct mt_report *r,
			unsigned char **buf, size_t *len);
/*
 * Write r's profile to the directory (tag "oom": the OOM names) and
 * remove the process's oldest beyond keep. 0 or -errno after a message.
 */
int mt_profiles__write(const struct mt_profiles_opts *o, const struct mt_report *r,
		       const unsigned char *gz, size_t len, const char *tag);
/* The JSON report of r beside it (DIR/memtrace-PID-TAG.json). 0 or -errno. */
int mt_profiles__write_json(const struct mt_profiles_opts *o, const struct mt_report *r,
			    const char *tag);
/*
 * Remove the oldest DIR/memtrace-PID-*.pb.gz of pid beyond keep (the OOM
 * ones stay). The number removed, or -errno.
 */
int mt_profiles__rotate(const char *dir, int pid, unsigned int keep);
/*
 * The push's query string for r (name, from, until, format), into buf:
 * from is r->time - span. Returns buf, or NULL when it does not fit.
 */
char *mt_profiles__push_query(char *buf, size_t size, const char *app, const struct mt_report *r,
			      double span);
/* POST the profile. 0 or -errno after a message (-EIO: the server's status was not 2xx). */
int mt_profiles__push(const struct mt_profiles_opts *o, const struct mt_report *r, double span,
		      const unsigned char *gz, size_t len);

#endif
