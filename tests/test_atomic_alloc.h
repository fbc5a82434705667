/*
 * test_atomic_alloc.h - a thread-safe counting allocator that fails on
 * demand, for tg_set_allocator (worker threads allocate too, so every
 * counter is a C11 atomic).  Include it once per test program.
 *
 *   ta_arm(TA_FAIL_ONCE, k)  fail only the k-th allocation from now (1-based)
 *   ta_arm(TA_FAIL_FROM, k)  fail the k-th and every later one
 *   ta_arm(TA_FAIL_SIZE, n)  fail every allocation of exactly n bytes
 *   ta_disarm()              stop failing (counting goes on)
 *   ta_calls()               allocation attempts since the last arm/disarm
 *   ta_failed()              allocations failed on purpose since then
 *   ta_live()                blocks handed out and not yet freed (all time)
 *
 * The allocator itself may only be installed while no runner exists
 * (common.h); arming and disarming is allowed at any time.
 */
#ifndef TG_TEST_ATOMIC_ALLOC_H
#define TG_TEST_ATOMIC_ALLOC_H

#include <stdatomic.h>
#include <stdlib.h>

#include "taskgroup/common.h"

enum { TA_COUNT = 0, TA_FAIL_ONCE = 1, TA_FAIL_FROM = 2, TA_FAIL_SIZE = 3 };

static atomic_long ta_live_;
static atomic_long ta_calls_;
static atomic_long ta_failed_;
static atomic_long ta_k_;
static atomic_int ta_mode_;

static inline int
ta_should_fail(size_t size)
{
	long n = atomic_fetch_add(&ta_calls_, 1) + 1;
	int mode = atomic_load(&ta_mode_);
	long k = atomic_load(&ta_k_);
	int fail = (mode == TA_FAIL_ONCE && n == k) ||
		   (mode == TA_FAIL_FROM && n >= k) ||
		   (mode == TA_FAIL_SIZE && size == (size_t)k);

	if (fail)
		atomic_fetch_add(&ta_failed_, 1);
	return fail;
}

static inline void *
ta_malloc(size_t n)
{
	void *p = ta_should_fail(n) ? NULL : malloc(n);

	if (p != NULL)
		atomic_fetch_add(&ta_live_, 1);
	return p;
}

static inline void *
ta_calloc(size_t c, size_t n)
{
	void *p = ta_should_fail(c * n) ? NULL : calloc(c, n);

	if (p != NULL)
		atomic_fetch_add(&ta_live_, 1);
	return p;
}

static inline void *
ta_realloc(void *old, size_t n)
{
	void *p = ta_should_fail(n) ? NULL : realloc(old, n);

	if (p != NULL && old == NULL)
		atomic_fetch_add(&ta_live_, 1);
	return p;
}

static inline void
ta_free(void *p)
{
	if (p != NULL)
		atomic_fetch_sub(&ta_live_, 1);
	free(p);
}

static const tg_allocator ta_allocator = { ta_malloc, ta_calloc, ta_realloc,
					   ta_free };

static inline void
ta_arm(int mode, long k)
{
	atomic_store(&ta_mode_, TA_COUNT);
	atomic_store(&ta_calls_, 0);
	atomic_store(&ta_failed_, 0);
	atomic_store(&ta_k_, k);
	atomic_store(&ta_mode_, mode);
}

static inline void
ta_disarm(void)
{
	ta_arm(TA_COUNT, 0);
}

static inline long
ta_calls(void)
{
	return atomic_load(&ta_calls_);
}

static inline long
ta_failed(void)
{
	return atomic_load(&ta_failed_);
}

static inline long
ta_live(void)
{
	return atomic_load(&ta_live_);
}

#endif /* TG_TEST_ATOMIC_ALLOC_H */
