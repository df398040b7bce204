// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The command line's tiers: --growth, --exact[=PIDS], and what -a means. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include "test.h"
#include "opts.h"
#include "lib/log.h"

/* Parse a NULL-terminated list of arguments after "memtrace". */
static int parse(struct mt_opts *o, const char *const *args)
{
	char *argv[16] = {"memtrace"};
	int argc = 1;

	while (*args && argc < 15)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return mt_opts__parse(o, argc, argv);
}

MT_TEST(opts_growth_tiers)
{
	struct mt_opts o;
	int level = mt_log__level();

	mt_log__set_level(-1); /* the usage errors are expected */
	ASSERT_EQ(parse(&o, (const char *const[]){"-a", NULL}), 0, "-a");
	ASSERT_TRUE(o.growth, "-a alone is --growth");
	ASSERT_EQ(o.sample_rate, 0, "-a --growth samples nothing");
	ASSERT_EQ(o.syscall_tps, MT_WHEN_OFF, "-a --growth: no mmap tracepoints");
	ASSERT_EQ(o.unwind_cfi, MT_WHEN_ON, "-a --growth: CFI stacks");
	ASSERT_EQ(parse(&o, (const char *const[]){"-a", "--exact", NULL}), 0, "-a --exact");
	ASSERT_FALSE(o.growth, "-a --exact");
	ASSERT_EQ(o.sample_rate, 512 * 1024, "-a --exact samples by default");
	ASSERT_EQ(o.syscall_tps, MT_WHEN_ON, "-a --exact: mmap tracepoints");
	ASSERT_EQ(parse(&o, (const char *const[]){"-a", "--sample-rate", "0", NULL}), 0,
		  "-a --sample-rate 0");
	ASSERT_FALSE(o.growth, "a sample rate is exact tracing");
	ASSERT_EQ(parse(&o, (const char *const[]){"-p", "1", NULL}), 0, "-p");
	ASSERT_FALSE(o.growth, "-p is exact by default");
	ASSERT_EQ(parse(&o, (const char *const[]){"--growth", "-p", "1", NULL}), 0, "--growth -p");
	ASSERT_TRUE(o.growth, "--growth -p");
	ASSERT_EQ(parse(&o, (const char *const[]){"--growth", "--exact", "-p", "1", NULL}), -EINVAL,
		  "both modes");
	ASSERT_EQ(
	    parse(&o, (const char *const[]){"--growth", "--sample-rate", "4K", "-p", "1", NULL}),
	    -EINVAL, "--growth samples no allocator call");
	ASSERT_EQ(parse(&o, (const char *const[]){"--growth", "-p", "1,2", "--exact=2", NULL}), 0,
		  "--exact=PIDS");
	ASSERT_EQ(o.nr_exact_pids, 1, "one exact pid");
	ASSERT_EQ(o.exact_pids[0], 2, "pid 2 exact");
	ASSERT_EQ(parse(&o, (const char *const[]){"--growth", "-p", "1", "--exact=3", NULL}),
		  -EINVAL, "--exact=PIDS names -p targets");
	ASSERT_EQ(parse(&o, (const char *const[]){"-p", "1", "--exact=1", NULL}), -EINVAL,
		  "--exact=PIDS needs --growth");
	mt_log__set_level(level);
}

/* BPF's R * ln(100) for a rate other than the loader's: never below it, 1e-5 R + 2 above at most.
 */
MT_TEST(abi_sample_exact)
{
	static const __u64 rates[] = {1, 4096, 65536, 524288, 1 << 20, 123457, 1ULL << 40};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		double want = ceil((double)rates[i] * log(100.0));
		__u64 got = MT_SAMPLE_EXACT(rates[i]);
		char what[64];

		snprintf(what, sizeof(what), "rate %llu", (unsigned long long)rates[i]);
		ASSERT_TRUE(got >= want && got <= want + 2 + rates[i] * 1e-5, what);
	}
}
