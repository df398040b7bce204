// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The "RSS keeps growing, traced bytes do not" rule on synthetic report sequences. */
#include "report/untraced.h"
#include "test.h"

#define MIB (1LL << 20)

struct step {
	bool known;
	__s64 rss, traced, want;
};

static void run(const struct step *s, size_t n, const char *what)
{
	struct mt_untraced u = {0};

	for (size_t i = 0; i < n; i++) {
		__s64 got = mt_untraced__update(&u, s[i].known, s[i].rss, s[i].traced);

		if (!ASSERT_EQ(got, s[i].want, what))
			fprintf(stderr, "  at report %zu\n", i + 1);
	}
}

MT_TEST(untraced_rule)
{
	/* RSS +2 MiB a report, traced flat: said from the third step on, summed */
	static const struct step grows[] = {
	    {true, 10 * MIB, MIB, 0},	    {true, 12 * MIB, MIB, 0},
	    {true, 14 * MIB, MIB, 0},	    {true, 16 * MIB, MIB, 6 * MIB},
	    {true, 18 * MIB, MIB, 8 * MIB},
	};
	/* traced growing as much as RSS: a leak the probes see, never said */
	static const struct step seen[] = {
	    {true, 10 * MIB, MIB, 0},	  {true, 12 * MIB, 3 * MIB, 0},
	    {true, 14 * MIB, 5 * MIB, 0}, {true, 16 * MIB, 7 * MIB, 0},
	    {true, 18 * MIB, 9 * MIB, 0},
	};
	/* a flat step starts over; so does a report without RSS */
	static const struct step broken[] = {
	    {true, 10 * MIB, 0, 0}, {true, 12 * MIB, 0, 0},	  {true, 14 * MIB, 0, 0},
	    {true, 14 * MIB, 0, 0}, {true, 16 * MIB, 0, 0},	  {true, 18 * MIB, 0, 0},
	    {false, 0, 0, 0},	    {true, 20 * MIB, 0, 0},	  {true, 22 * MIB, 0, 0},
	    {true, 24 * MIB, 0, 0}, {true, 26 * MIB, 0, 6 * MIB},
	};
	/* small growth (a few pages a report) stays below the floor */
	static const struct step small[] = {
	    {true, 10 * MIB, 0, 0},	    {true, 10 * MIB + 4096, 0, 0},
	    {true, 10 * MIB + 8192, 0, 0},  {true, 10 * MIB + 12288, 0, 0},
	    {true, 10 * MIB + 16384, 0, 0},
	};
	/* traced grows but by less than half the RSS growth: the difference counts;
	 * traced shrinking counts as no growth */
	static const struct step part[] = {
	    {true, 0, 4 * MIB, 0},
	    {true, 4 * MIB, 5 * MIB, 0},
	    {true, 8 * MIB, 6 * MIB, 0},
	    {true, 12 * MIB, 2 * MIB, 10 * MIB},
	};

	run(grows, sizeof(grows) / sizeof(grows[0]), "grows");
	run(seen, sizeof(seen) / sizeof(seen[0]), "seen");
	run(broken, sizeof(broken) / sizeof(broken[0]), "broken");
	run(small, sizeof(small) / sizeof(small[0]), "small");
	run(part, sizeof(part) / sizeof(part[0]), "part");
}
