/*
 * test_deque.c - single-thread unit tests of the work-stealing deque
 * (src/deque.h, src/deque.c).  The concurrent behaviour is covered by
 * tests/stress/stress_deque.c and the Relacy model in tests/relacy.
 *
 * Each test checks the whole observable state it can see: the items and
 * their order, size(), looks_empty(), and the invariant bottom >= top.
 * Allocation counts come from an allocator installed with
 * tg_set_allocator, which also injects the out-of-memory failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "taskgroup/common.h"

#include "deque.h"

/* ------------------------------------------------------------------ */
/* Counting, failing allocator                                          */

static struct {
	long mallocs;  /* successful allocations */
	long frees;    /* frees of non-NULL blocks */
	long calls;    /* allocation attempts */
	long fail_at;  /* attempt number (1-based) that fails first; 0: none */
	int fail_once; /* only that attempt fails, later ones succeed */
	size_t largest; /* largest size requested */
} heap;

static void *
count_malloc(size_t size)
{
	void *p;

	heap.calls++;
	if (size > heap.largest)
		heap.largest = size;
	if (heap.fail_at != 0 && (heap.fail_once ? heap.calls == heap.fail_at
						  : heap.calls >= heap.fail_at))
		return NULL;
	/* Nothing in these tests legitimately needs more than 1 GiB. */
	if (size > ((size_t)1 << 30))
		return NULL;
	p = malloc(size);
	if (p != NULL)
		heap.mallocs++;
	return p;
}

static void *
count_calloc(size_t count, size_t size)
{
	void *p;

	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	p = count_malloc(count * size);
	if (p != NULL)
		memset(p, 0, count * size);
	return p;
}

static void *
count_realloc(void *ptr, size_t size)
{
	(void)ptr;
	(void)size;
	fail_msg("the deque never reallocates");
	return NULL;
}

static void
count_free(void *ptr)
{
	if (ptr != NULL)
		heap.frees++;
	free(ptr);
}

static const tg_allocator counting = { count_malloc, count_calloc,
				       count_realloc, count_free };

static int
setup_heap(void **state)
{
	(void)state;
	memset(&heap, 0, sizeof(heap));
	return tg_set_allocator(&counting) == TG_OK ? 0 : -1;
}

static int
teardown_heap(void **state)
{
	(void)state;
	/* Every test frees all it allocated (destroy included). */
	assert_int_equal(heap.mallocs, heap.frees);
	return tg_reset_allocator() == TG_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static int64_t
top_of(tg__deque *d)
{
	return tg_atomic_load_relaxed_i64(&d->top);
}

static int64_t
bottom_of(tg__deque *d)
{
	return tg_atomic_load_relaxed_i64(&d->bottom);
}

static int64_t
capacity_of(tg__deque *d)
{
	tg__deque_buf *buf = tg_atomic_load_relaxed_ptr(&d->buf);

	return buf->mask + 1;
}

/* Test only: an empty deque may start at any index, and starting near
 * 2^62 shows that nothing depends on small indices (reliability.md §2.2).
 * Single-threaded here, so relaxed stores suffice. */
static void
set_origin(tg__deque *d, int64_t origin)
{
	assert_int_equal(top_of(d), bottom_of(d));
	tg_atomic_store_relaxed_i64(&d->top, origin);
	tg_atomic_store_relaxed_i64(&d->bottom, origin);
}

/* Items are addresses inside one array, so their value is their index. */
static int cells[4096];
#define ITEM(i) ((void *)&cells[(i)])

static void
assert_state(tg__deque *d, int64_t size)
{
	assert_true(bottom_of(d) >= top_of(d));
	assert_int_equal(tg__deque_size(d), size);
	assert_int_equal(tg__deque_looks_empty(d), size == 0);
}

static void *
steal_one(tg__deque *d)
{
	void *x = NULL;
	enum tg__steal r = tg__deque_steal(d, &x);

	/* Single-threaded, a steal is never lost. */
	assert_int_not_equal(r, TG__STEAL_LOST);
	if (r == TG__STEAL_EMPTY)
		return NULL;
	assert_non_null(x);
	return x;
}

static const int64_t origins[] = { 0, (int64_t)1 << 62 };

/* ------------------------------------------------------------------ */
/* Tests                                                                */

static void
test_deque_init_rejects_bad_capacity(void **state)
{
	static const int64_t bad[] = { 0, -1, -2, 3, 5, 6, 7, 12, 1000,
				       INT64_MIN, INT64_MAX,
				       ((int64_t)1 << 40) + 1 };
	static const int64_t good[] = { 1, 2, 4, 64, 1024 };
	tg__deque d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tg__deque_init(&d, bad[i]), -1);
	/* Rejected before allocating anything. */
	assert_int_equal(heap.calls, 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tg__deque_init(&d, good[i]), 0);
		assert_int_equal(capacity_of(&d), good[i]);
		assert_int_equal(top_of(&d), 0);
		assert_int_equal(bottom_of(&d), 0);
		assert_state(&d, 0);
		tg__deque_destroy(&d);
	}
}

/* A power of two whose ring cannot exist (2^61 slots of 8 bytes is 2^64
 * bytes): init must report no memory, not succeed with a buffer that the
 * size computation wrapped round to a few bytes. */
static void
test_deque_init_rejects_overflowing_capacity(void **state)
{
	static const int64_t huge[] = { (int64_t)1 << 61, (int64_t)1 << 62 };
	tg__deque d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		int rc = tg__deque_init(&d, huge[i]);

		if (rc == 0) {
			size_t asked = heap.largest;

			tg__deque_destroy(&d);
			fail_msg("init(%lld) succeeded with a %zu-byte buffer "
				 "(size computation overflowed)",
				 (long long)huge[i], asked);
		}
		assert_int_equal(rc, -1);
	}
}

static void
test_deque_init_out_of_memory(void **state)
{
	tg__deque d;

	(void)state;
	heap.fail_at = 1;
	assert_int_equal(tg__deque_init(&d, 4), -1);
	assert_int_equal(heap.mallocs, 0);
}

static void
test_deque_push_take_lifo(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
		tg__deque d;
		long before = heap.mallocs;
		int i;

		assert_int_equal(tg__deque_init(&d, 128), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 100; i++) {
			assert_true(tg__deque_push(&d, ITEM(i)));
			assert_state(&d, i + 1);
		}
		for (i = 99; i >= 0; i--) {
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
			assert_state(&d, i);
		}
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0);
		/* No growth was needed. */
		assert_int_equal(capacity_of(&d), 128);
		assert_int_equal(heap.mallocs - before, 1);
		tg__deque_destroy(&d);
	}
}

static void
test_deque_take_empty_returns_null(void **state)
{
	tg__deque d;
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 2), 0);
	/* Never used: the signed indices make b = -1 < t = 0. */
	for (i = 0; i < 3; i++) {
		assert_null(tg__deque_take(&d));
		assert_int_equal(top_of(&d), 0);
		assert_int_equal(bottom_of(&d), 0);
		assert_state(&d, 0);
	}
	assert_null(steal_one(&d));
	/* Emptied by take, then by steal: still empty, indices unchanged
	 * by the failed takes (bottom restored). */
	assert_true(tg__deque_push(&d, ITEM(1)));
	assert_ptr_equal(tg__deque_take(&d), ITEM(1));
	assert_null(tg__deque_take(&d));
	assert_int_equal(top_of(&d), 1); /* the last item is taken by CAS */
	assert_int_equal(bottom_of(&d), 1);
	assert_true(tg__deque_push(&d, ITEM(2)));
	assert_ptr_equal(steal_one(&d), ITEM(2));
	assert_null(tg__deque_take(&d));
	assert_null(steal_one(&d));
	assert_int_equal(top_of(&d), 2);
	assert_int_equal(bottom_of(&d), 2);
	assert_state(&d, 0);
	tg__deque_destroy(&d);
}

static void
test_deque_growth_from_capacity_1_keeps_items(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
		tg__deque d;
		long before = heap.mallocs;
		int i;

		assert_int_equal(tg__deque_init(&d, 1), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 1000; i++) {
			assert_true(tg__deque_push(&d, ITEM(i)));
			assert_state(&d, i + 1);
		}
		/* 1 -> 1024: ten doublings, each a new buffer. */
		assert_int_equal(capacity_of(&d), 1024);
		assert_int_equal(heap.mallocs - before, 11);
		/* Oldest half by steal (FIFO), the rest by take (LIFO). */
		for (i = 0; i < 500; i++)
			assert_ptr_equal(steal_one(&d), ITEM(i));
		for (i = 999; i >= 500; i--)
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
		assert_null(tg__deque_take(&d));
		assert_null(steal_one(&d));
		assert_state(&d, 0);
		tg__deque_destroy(&d);
	}
}

/* Growth with the live window wrapped round the ring: top is not at slot
 * 0 when the buffer fills, so the copy must use each index's slot. */
static void
test_deque_growth_with_wrapped_window(void **state)
{
	tg__deque d;
	int i, next = 0, oldest = 0;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 4), 0);
	for (i = 0; i < 3; i++)
		assert_true(tg__deque_push(&d, ITEM(next++)));
	assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	/* window [2, 3); fill to [2, 6): slots 2,3,0,1 */
	for (i = 0; i < 3; i++)
		assert_true(tg__deque_push(&d, ITEM(next++)));
	assert_int_equal(capacity_of(&d), 4);
	assert_true(tg__deque_push(&d, ITEM(next++))); /* grows */
	assert_int_equal(capacity_of(&d), 8);
	assert_state(&d, next - oldest);
	while (oldest < next)
		assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	assert_state(&d, 0);
	tg__deque_destroy(&d);
}

static void
test_deque_steal_fifo(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
		tg__deque d;
		int i;

		assert_int_equal(tg__deque_init(&d, 16), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 10; i++)
			assert_true(tg__deque_push(&d, ITEM(i)));
		for (i = 0; i < 10; i++) {
			assert_ptr_equal(steal_one(&d), ITEM(i));
			assert_int_equal(top_of(&d), origins[o] + i + 1);
			assert_state(&d, 9 - i);
		}
		assert_null(steal_one(&d));
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0);
		tg__deque_destroy(&d);
	}
}

/* Random push/take/steal against a reference deque (an array). */
static void
test_deque_interleaved_push_take_steal(void **state)
{
	static int ref[20000];
	size_t o;

	(void)state;
	for (o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
		uint64_t rng = 0x9e3779b97f4a7c15ull + o;
		int lo = 0, hi = 0, next = 0, step;
		tg__deque d;

		assert_int_equal(tg__deque_init(&d, 1), 0);
		set_origin(&d, origins[o]);
		for (step = 0; step < 20000; step++) {
			unsigned r;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			r = (unsigned)(rng % 10);
			/* Pushes a little more often than not: the deque
			 * grows, shrinks to empty now and then, and wraps. */
			if (r < 5 && next < 4000) {
				ref[hi++] = next;
				assert_true(tg__deque_push(&d, ITEM(next)));
				next++;
			} else if (r < 8) {
				void *x = tg__deque_take(&d);

				if (lo == hi) {
					assert_null(x);
				} else {
					assert_ptr_equal(x, ITEM(ref[--hi]));
				}
			} else {
				void *x = steal_one(&d);

				if (lo == hi) {
					assert_null(x);
				} else {
					assert_ptr_equal(x, ITEM(ref[lo++]));
				}
			}
			assert_state(&d, hi - lo);
			assert_int_equal(bottom_of(&d) - top_of(&d), hi - lo);
			if (lo == hi) {
				/* Re-base the reference when empty. */
				lo = hi = 0;
			}
		}
		while (lo < hi)
			assert_ptr_equal(tg__deque_take(&d), ITEM(ref[--hi]));
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0);
		tg__deque_destroy(&d);
	}
}

static void
test_deque_size_estimate(void **state)
{
	tg__deque d;
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 2), 0);
	assert_int_equal(tg__deque_size(&d), 0);
	assert_true(tg__deque_looks_empty(&d));
	for (i = 0; i < 7; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	assert_int_equal(tg__deque_size(&d), 7);
	assert_false(tg__deque_looks_empty(&d));
	(void)steal_one(&d);
	(void)steal_one(&d);
	assert_int_equal(tg__deque_size(&d), 5);
	(void)tg__deque_take(&d);
	assert_int_equal(tg__deque_size(&d), 4);
	while (tg__deque_take(&d) != NULL)
		;
	assert_int_equal(tg__deque_size(&d), 0);
	assert_true(tg__deque_looks_empty(&d));
	/* A take on the empty deque must not make the estimate negative
	 * or non-zero. */
	assert_null(tg__deque_take(&d));
	assert_int_equal(tg__deque_size(&d), 0);
	tg__deque_destroy(&d);
}

static void
test_deque_destroy_frees_retired_buffers(void **state)
{
	tg__deque d;
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 1), 0);
	for (i = 0; i < 64; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	/* 1,2,...,64: seven buffers, six of them retired and kept. */
	assert_int_equal(heap.mallocs, 7);
	assert_int_equal(heap.frees, 0);
	assert_non_null(d.retired);
	/* Destroy with items still queued: they are the caller's. */
	tg__deque_destroy(&d);
	assert_int_equal(heap.frees, 7);
	assert_null(tg_atomic_load_relaxed_ptr(&d.buf));
	assert_null(d.retired);

	/* A deque that never grew: one buffer. */
	assert_int_equal(tg__deque_init(&d, 8), 0);
	tg__deque_destroy(&d);
	assert_int_equal(heap.mallocs, 8);
	assert_int_equal(heap.frees, 8);
}

/* Out of memory while growing: push returns false, the item is not
 * queued, and the deque is exactly as before (same buffer, same items,
 * same order), usable once memory is back. */
static void
test_deque_grow_out_of_memory_leaves_deque_intact(void **state)
{
	tg__deque d;
	tg__deque_buf *buf;
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 4), 0);
	for (i = 0; i < 4; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	(void)steal_one(&d); /* window [1, 4) */
	assert_true(tg__deque_push(&d, ITEM(4))); /* [1, 5): full */
	buf = tg_atomic_load_relaxed_ptr(&d.buf);

	heap.fail_at = heap.calls + 1; /* every allocation from now fails */
	for (i = 0; i < 3; i++) {
		assert_false(tg__deque_push(&d, ITEM(100 + i)));
		assert_ptr_equal(tg_atomic_load_relaxed_ptr(&d.buf), buf);
		assert_null(d.retired);
		assert_int_equal(top_of(&d), 1);
		assert_int_equal(bottom_of(&d), 5);
		assert_state(&d, 4);
	}
	/* Still a working deque while memory is short. */
	assert_ptr_equal(tg__deque_take(&d), ITEM(4));
	assert_true(tg__deque_push(&d, ITEM(5))); /* fits again */
	assert_false(tg__deque_push(&d, ITEM(6)));

	heap.fail_at = 0; /* memory is back */
	assert_true(tg__deque_push(&d, ITEM(6)));
	assert_int_equal(capacity_of(&d), 8);
	for (i = 1; i <= 3; i++)
		assert_ptr_equal(steal_one(&d), ITEM(i));
	assert_ptr_equal(tg__deque_take(&d), ITEM(6));
	assert_ptr_equal(tg__deque_take(&d), ITEM(5));
	assert_null(tg__deque_take(&d));
	assert_state(&d, 0);
	tg__deque_destroy(&d);
}

/* SQLite-style sweep: fail the k-th allocation (once, then forever) for
 * every k of a growth sequence; each push either succeeds or returns
 * false with nothing lost, and nothing leaks. */
static void
test_deque_grow_out_of_memory_sweep(void **state)
{
	static int ids[200];
	int mode;

	(void)state;
	for (mode = 0; mode < 2; mode++) {
		long k;

		for (k = 1; k <= 9; k++) {
			tg__deque d;
			int i, queued = 0, refused = 0;

			heap.calls = 0;
			heap.fail_at = k;
			heap.fail_once = mode == 0;
			if (tg__deque_init(&d, 1) != 0) {
				assert_int_equal(k, 1);
				continue;
			}
			for (i = 0; i < 200; i++) {
				if (tg__deque_push(&d, ITEM(i)))
					ids[queued++] = i;
				else
					refused++;
				assert_state(&d, queued);
			}
			/* Fail-once refuses one push; fail-forever refuses
			 * every push after the ring filled up. */
			assert_true(refused >= 1);
			if (mode == 0)
				assert_int_equal(refused, 1);
			/* Items come back in order: the queued ones,
			 * oldest first. */
			for (i = 0; i < queued; i++)
				assert_ptr_equal(steal_one(&d),
						 ITEM(ids[i]));
			assert_null(steal_one(&d));
			tg__deque_destroy(&d);
			assert_int_equal(heap.mallocs, heap.frees);
		}
	}
	heap.fail_at = 0;
	heap.fail_once = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_heap, teardown_heap)
		T(test_deque_init_rejects_bad_capacity),
		T(test_deque_init_rejects_overflowing_capacity),
		T(test_deque_init_out_of_memory),
		T(test_deque_push_take_lifo),
		T(test_deque_take_empty_returns_null),
		T(test_deque_growth_from_capacity_1_keeps_items),
		T(test_deque_growth_with_wrapped_window),
		T(test_deque_steal_fifo),
		T(test_deque_interleaved_push_take_steal),
		T(test_deque_size_estimate),
		T(test_deque_destroy_frees_retired_buffers),
		T(test_deque_grow_out_of_memory_leaves_deque_intact),
		T(test_deque_grow_out_of_memory_sweep),
#undef T
	};

	return cmocka_run_group_tests_name("deque", tests, NULL, NULL);
}
