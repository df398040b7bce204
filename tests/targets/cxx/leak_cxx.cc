// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * leak_cxx: C++ leaks through every way a program reaches operator new,
 * each at a known line with known sizes (markers as in leak_apis.c:
 * "@leak bytes=B count=C" on the line that must be the site; a container
 * growing inside the standard library's headers is the user's line that
 * called it, as valgrind reports it). Built -O2 -g. tests/e2e/alloc.py
 * compares memtrace's report with the markers and with valgrind's
 * definitely and indirectly lost bytes.
 *
 * Blocks that are freed again (a vector's old buffers, deleted objects)
 * must leave nothing. Output goes through write(2): no stdio buffer.
 *	leak_cxx		do the work, print "leak_cxx done"
 *	leak_cxx --wait		print "ready <pid>", wait for SIGUSR1, work,
 *				print "done", wait for SIGUSR2
 */
#include <csignal>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>
#include <unistd.h>
#include "../waiting.h"

struct Foo {
	long a, b, c;
};

struct alignas(64) Big {
	char b[128];
};

/* the compiler must not see through the leaks */
static void *volatile sink;

__attribute__((noinline)) static void plain_new()
{
	sink = new Foo(); /* @leak bytes=24 count=1 */
	sink = new int[25]; /* @leak bytes=100 count=1 */
	sink = new (std::nothrow) char[33]; /* @leak bytes=33 count=1 */
	sink = new Big(); /* @leak bytes=128 count=1 */
	Foo *gone = new Foo();
	sink = gone;
	delete gone;
	int *arr = new int[7];
	sink = arr;
	delete[] arr;
}

__attribute__((noinline)) static void containers()
{
	auto *v = new std::vector<int>(); /* @leak bytes=24 count=1 */
	for (int i = 0; i < 5; i++)
		v->push_back(i); /* @leak bytes=32 count=1 */
	sink = v;
	auto *s = new std::string(); /* @leak bytes=32 count=1 */
	s->assign(40, 'x'); /* @leak bytes=41 count=1 unwind=libstdc++ */
	sink = s;
	auto *m = new std::map<int, long>(); /* @leak bytes=48 count=1 */
	for (int i = 0; i < 3; i++)
		(*m)[i] = i; /* @leak bytes=144 count=3 */
	sink = m;
	auto *l = new std::list<int>(); /* @leak bytes=24 count=1 */
	for (int i = 0; i < 4; i++)
		l->push_back(i); /* @leak bytes=96 count=4 */
	sink = l;
	std::vector<long> temp(100, 1); /* freed at return */
	sink = temp.data();
}

__attribute__((noinline)) static void smart()
{
	sink = new std::shared_ptr<Foo>(std::make_shared<Foo>()); /* @leak bytes=56 count=2 */
	sink = std::make_unique<Foo>().release(); /* @leak bytes=24 count=1 */
	std::unique_ptr<long[]> u(new long[6]); /* @leak bytes=48 count=1 */
	sink = u.release();
	auto kept = std::make_shared<Foo>(); /* freed at return */
	sink = kept.get();
}

int main(int argc, char **argv)
{
	int wait = waiting_start(argc, argv);

	plain_new();
	containers();
	smart();
	waiting_end(wait, "leak_cxx done\n");
	return 0;
}
