/*
 * test_alloc.h - a counting allocator that can fail, for the tests that
 * sweep allocation failures through tg_set_allocator.  Include it once per
 * test program (it defines static state).
 *
 *   test_alloc_fail_at = k   fails the k-th allocation from now (0-based)
 *                            and only that one;
 *   test_alloc_fail_all = 1  fails every allocation;
 *   test_alloc_live          blocks allocated and not yet freed;
 *   test_alloc_calls         allocation attempts so far.
 *
 * test_alloc_setup / test_alloc_teardown are cmocka group or test fixtures:
 * teardown checks that the test freed everything it allocated.
 */
#ifndef TG_TEST_ALLOC_H
#define TG_TEST_ALLOC_H

#include <stdlib.h>

#include "taskgroup/common.h"

static long test_alloc_live;
static long test_alloc_calls;
static long test_alloc_fail_at = -1;
static int test_alloc_fail_all;

static int
test_alloc_should_fail(void)
{
	long n = test_alloc_calls++;

	return test_alloc_fail_all || n == test_alloc_fail_at;
}

static void *
test_alloc_malloc(size_t n)
{
	void *p = test_alloc_should_fail() ? NULL : malloc(n);

	test_alloc_live += p != NULL;
	return p;
}

static void *
test_alloc_calloc(size_t c, size_t n)
{
	void *p = test_alloc_should_fail() ? NULL : calloc(c, n);

	test_alloc_live += p != NULL;
	return p;
}

static void *
test_alloc_realloc(void *old, size_t n)
{
	void *p = test_alloc_should_fail() ? NULL : realloc(old, n);

	test_alloc_live += p != NULL && old == NULL;
	return p;
}

static void
test_alloc_free(void *p)
{
	test_alloc_live -= p != NULL;
	free(p);
}

static const tg_allocator test_alloc_counting = {
	test_alloc_malloc, test_alloc_calloc, test_alloc_realloc,
	test_alloc_free
};

static int
test_alloc_setup(void **state)
{
	(void)state;
	test_alloc_live = test_alloc_calls = 0;
	test_alloc_fail_at = -1;
	test_alloc_fail_all = 0;
	return tg_set_allocator(&test_alloc_counting) == TG_OK ? 0 : -1;
}

static int
test_alloc_teardown(void **state)
{
	(void)state;
	test_alloc_fail_all = 0;
	test_alloc_fail_at = -1;
	if (test_alloc_live != 0)
		return -1; /* the test leaked */
	return tg_reset_allocator();
}

#endif /* TG_TEST_ALLOC_H */
