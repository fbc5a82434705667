/*
 * test_blocks.c - the error path's blocks (src/blocks.c): a freed block
 * serves the next request of its class, empty slabs go back to the system
 * beyond TG__BLOCKS_EMPTY_MAX and once a period shows them unneeded (a
 * peak is not kept) but not while a steady workload reuses them, large
 * blocks and custom allocators bypass the slabs, a block outlives an
 * allocator swap, tg_set_allocator and tg_trim_memory give the empty
 * slabs back, and threads share the slabs safely.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_alloc.h"

#include "alloc.h"
#include "blocks.h"

static tg__blocks_stats_t
stats(void)
{
	tg__blocks_stats_t st;

	tg__blocks_stats(&st);
	return st;
}

/* Each test starts with the C library's allocator and no slab. */
static int
default_allocator(void **state)
{
	(void)state;
	return tg_reset_allocator() == TG_OK && stats().slabs == 0 ? 0 : -1;
}

static int
no_slabs(void **state)
{
	(void)state;
	tg__blocks_set_clock(NULL);
	tg__blocks_drain();
	return 0;
}

/* A clock the tests move by hand, for the decay's periods. */
static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

/* Blocks of a class that fit in one slab (its head takes a little). */
static size_t
per_slab(size_t cls)
{
	return (TG__BLOCKS_SLAB_SIZE - 64) / cls;
}

static void
test_blocks_freed_block_serves_the_next_request(void **state)
{
	unsigned char *p, *q, *r;
	size_t i;

	(void)state;
	p = tg__block_alloc(100, false);
	assert_non_null(p);
	r = tg__block_alloc(100, false); /* keeps the slab from emptying */
	assert_non_null(r);
	assert_int_equal(stats().slabs, 1);
	assert_int_equal(stats().blocks_out, 2);
	memset(p, 0xab, 100);
	tg__block_free(p);
	assert_int_equal(stats().blocks_out, 1);
	/* 100 bytes and 90 are one class (128 with the head) */
	q = tg__block_alloc(90, true);
	assert_ptr_equal(q, p);
	for (i = 0; i < 90; i++)
		assert_int_equal(q[i], 0); /* zeroed as asked */
	/* another class takes another slab */
	p = tg__block_alloc(600, false);
	assert_non_null(p);
	assert_int_equal(stats().slabs, 2);
	tg__block_free(p);
	tg__block_free(q);
	tg__block_free(r);
	assert_int_equal(stats().blocks_out, 0);
	assert_int_equal(stats().slabs, 2);
	assert_int_equal(stats().empty_slabs, 2); /* kept for the next peak */
	/* an empty slab serves any class */
	p = tg__block_alloc(2000, false);
	assert_non_null(p);
	assert_int_equal(stats().slabs, 2);
	assert_int_equal(stats().empty_slabs, 1);
	tg__block_free(p);
}

static void
test_blocks_a_peak_goes_back_to_the_system(void **state)
{
	size_t cls = tg__alloc_class(1000 + 16); /* 1024 */
	size_t n = 40 * per_slab(cls), i, r;
	void **p = calloc(n, sizeof(*p));

	(void)state;
	assert_non_null(p);
	fake_now = 0;
	tg__blocks_set_clock(fake_clock);
	for (i = 0; i < n; i++) {
		p[i] = tg__block_alloc(1000, false);
		assert_non_null(p[i]);
		memset(p[i], (int)i, 1000);
	}
	assert_int_equal(stats().slabs, 40); /* every slab filled */
	assert_int_equal(stats().blocks_out, n);
	/* freed in an order that empties no slab until the end */
	for (i = 0; i < n; i += 2)
		tg__block_free(p[i]);
	assert_int_equal(stats().slabs, 40);
	assert_int_equal(stats().empty_slabs, 0);
	for (i = 1; i < n; i += 2)
		tg__block_free(p[i]);
	assert_int_equal(stats().blocks_out, 0);
	assert_int_equal(stats().slabs, TG__BLOCKS_EMPTY_MAX);
	assert_int_equal(stats().empty_slabs, TG__BLOCKS_EMPTY_MAX);
	/* a workload that needs one slab at a time: after two periods the
	 * empties it never touched are gone */
	for (r = 0; r < 2; r++) {
		fake_now += TG__BLOCKS_DECAY_NS;
		for (i = 0; i < 100; i++) {
			p[0] = tg__block_alloc(1000, false);
			assert_non_null(p[0]);
			tg__block_free(p[0]);
		}
		if (r == 0) /* the first period saw the peak itself */
			assert_int_equal(stats().slabs,
					 TG__BLOCKS_EMPTY_MAX);
	}
	assert_int_equal(stats().slabs, 1);
	assert_int_equal(stats().empty_slabs, 1);
	free(p);
}

static void
test_blocks_steady_reuse_maps_nothing_new(void **state)
{
	size_t cls = tg__alloc_class(1000 + 16), n = 3 * per_slab(cls), i, r;
	size_t mapped = stats().mapped;
	void **p = calloc(n, sizeof(*p));

	(void)state;
	assert_non_null(p);
	fake_now = 0;
	tg__blocks_set_clock(fake_clock);
	/* ten periods of filling three slabs and emptying them again */
	for (r = 0; r < 10 * 20; r++) {
		if (r % 20 == 0)
			fake_now += TG__BLOCKS_DECAY_NS;
		for (i = 0; i < n; i++) {
			p[i] = tg__block_alloc(1000, false);
			assert_non_null(p[i]);
		}
		for (i = 0; i < n; i++)
			tg__block_free(p[i]);
	}
	assert_int_equal(stats().mapped - mapped, 3);
	assert_int_equal(stats().slabs, 3);
	free(p);
}

static void
test_blocks_trim_gives_the_empties_back(void **state)
{
	void *p[3];
	size_t i;

	(void)state;
	assert_int_equal(tg_trim_memory(), 0); /* nothing kept */
	for (i = 0; i < 3; i++)
		p[i] = tg__block_alloc(100 + 1000 * i, false); /* 3 classes */
	assert_int_equal(stats().slabs, 3);
	tg__block_free(p[0]);
	tg__block_free(p[2]);
	/* the slab still in use stays; the two empty ones go */
	assert_int_equal(tg_trim_memory(), 2 * TG__BLOCKS_SLAB_SIZE);
	assert_int_equal(stats().slabs, 1);
	assert_int_equal(stats().empty_slabs, 0);
	assert_int_equal(tg_trim_memory(), 0);
	/* blocks still work after a trim */
	p[0] = tg__block_alloc(100, true);
	assert_non_null(p[0]);
	assert_int_equal(stats().slabs, 2);
	tg__block_free(p[0]);
	tg__block_free(p[1]);
	assert_int_equal(tg_trim_memory(), 2 * TG__BLOCKS_SLAB_SIZE);
	assert_int_equal(stats().slabs, 0);
}

static void
test_blocks_full_slab_takes_blocks_again(void **state)
{
	size_t cls = tg__alloc_class(4000 + 16), n = per_slab(cls), i;
	void *p[32], *extra;

	(void)state;
	assert_true(n < 32);
	for (i = 0; i < n; i++)
		p[i] = tg__block_alloc(4000, false);
	assert_int_equal(stats().slabs, 1);
	/* the slab is full: the next block needs a second one */
	extra = tg__block_alloc(4000, false);
	assert_int_equal(stats().slabs, 2);
	tg__block_free(extra);
	assert_int_equal(stats().empty_slabs, 1);
	/* a block freed in the full slab is the next one handed out, and
	 * the kept empty slab stays as it was */
	tg__block_free(p[3]);
	assert_ptr_equal(tg__block_alloc(3999, false), p[3]);
	assert_int_equal(stats().slabs, 2);
	assert_int_equal(stats().empty_slabs, 1);
	for (i = 0; i < n; i++)
		tg__block_free(p[i]);
	assert_int_equal(stats().blocks_out, 0);
	assert_int_equal(stats().empty_slabs, 2);
}

static void
test_blocks_large_ones_go_to_the_allocator(void **state)
{
	void *p = tg__block_alloc(5000, true);

	(void)state;
	assert_non_null(p);
	assert_int_equal(stats().slabs, 0);
	assert_int_equal(stats().blocks_out, 0);
	tg__block_free(p);
	/* the largest class from slabs is 4096 bytes, the head included */
	p = tg__block_alloc(4096 - 16, false);
	assert_int_equal(stats().blocks_out, 1);
	tg__block_free(p);
	p = tg__block_alloc(4096 - 15, false);
	assert_int_equal(stats().blocks_out, 0);
	tg__block_free(p);
	assert_null(tg__block_alloc(0, false));
	assert_null(tg__block_alloc(SIZE_MAX, false));
	assert_null(tg__block_alloc(SIZE_MAX - 8, true));
	tg__block_free(NULL);
}

static void
test_blocks_custom_allocator_sees_every_request(void **state)
{
	void *p[10];
	size_t i;

	(void)state;
	/* empty slabs kept for the C library's allocator go before the swap */
	for (i = 0; i < 10; i++)
		p[i] = tg__block_alloc(40 * (i + 1), false);
	for (i = 0; i < 10; i++)
		tg__block_free(p[i]);
	assert_true(stats().empty_slabs > 0);
	assert_int_equal(test_alloc_setup(NULL), 0);
	assert_int_equal(stats().slabs, 0);
	for (i = 0; i < 10; i++) {
		p[i] = tg__block_alloc(40 * (i + 1), i % 2 == 0);
		assert_non_null(p[i]);
	}
	assert_int_equal(test_alloc_calls, 10);
	assert_int_equal(test_alloc_live, 10);
	assert_int_equal(stats().slabs, 0);
	for (i = 0; i < 10; i++)
		tg__block_free(p[i]);
	assert_int_equal(test_alloc_live, 0); /* none held back */
	test_alloc_fail_all = 1;
	assert_null(tg__block_alloc(40, false));
	assert_int_equal(test_alloc_teardown(NULL), 0);
}

static void
test_blocks_block_outlives_an_allocator_swap(void **state)
{
	char *p = tg__block_alloc(100, false), *q;

	(void)state;
	assert_non_null(p);
	memcpy(p, "kept", 5);
	assert_int_equal(test_alloc_setup(NULL), 0);
	assert_int_equal(stats().slabs, 1); /* p's slab stays */
	/* grown under the new allocator: the copy is its block */
	q = tg__block_grow(p, 5, 5000);
	assert_non_null(q);
	assert_string_equal(q, "kept");
	assert_int_equal(test_alloc_live, 1);
	/* p went back to its slab, which is not kept: no new slab will be
	 * made while another allocator is in use */
	assert_int_equal(stats().slabs, 0);
	tg__block_free(q);
	assert_int_equal(test_alloc_live, 0);
	assert_int_equal(tg_reset_allocator(), TG_OK);
}

static void
test_blocks_grow_keeps_the_contents(void **state)
{
	char *p = tg__block_alloc(8, false), *q;

	(void)state;
	assert_non_null(p);
	memcpy(p, "abcdefg", 8);
	/* 8 + 16 is class 32: 16 bytes fit without moving */
	assert_ptr_equal(tg__block_grow(p, 8, 16), p);
	q = tg__block_grow(p, 8, 1000);
	assert_non_null(q);
	assert_string_equal(q, "abcdefg");
	tg__block_free(q);
	q = tg__block_grow(NULL, 0, 24);
	assert_non_null(q);
	tg__block_free(q);
	/* out of memory: the old block stays as it was */
	p = tg__block_alloc(8, false);
	memcpy(p, "xyz", 4);
	assert_int_equal(test_alloc_setup(NULL), 0);
	test_alloc_fail_all = 1;
	assert_null(tg__block_grow(p, 4, 4000));
	test_alloc_fail_all = 0;
	assert_string_equal(p, "xyz");
	assert_int_equal(tg_reset_allocator(), TG_OK);
	tg__block_free(p); /* back to its slab, kept empty */
	assert_int_equal(stats().blocks_out, 0);
	assert_int_equal(stats().empty_slabs, 1);
}

#define THREADS 4
#define ROUNDS 20000

static void *
churn(void *arg)
{
	uintptr_t seed = (uintptr_t)arg * 2654435761u + 1;
	unsigned char *held[8] = { 0 };
	size_t sizes[8] = { 0 };
	int r, k;

	for (r = 0; r < ROUNDS; r++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		k = (int)((seed >> 33) % 8);
		if (held[k] != NULL) {
			size_t i;

			for (i = 0; i < sizes[k]; i++)
				if (held[k][i] != (unsigned char)(k + 1))
					return (void *)1; /* someone else wrote */
			tg__block_free(held[k]);
			held[k] = NULL;
		} else {
			sizes[k] = 1 + (size_t)((seed >> 40) % 3000);
			held[k] = tg__block_alloc(sizes[k], (seed & 1) != 0);
			if (held[k] == NULL)
				return (void *)2;
			memset(held[k], k + 1, sizes[k]);
		}
	}
	for (k = 0; k < 8; k++)
		tg__block_free(held[k]);
	return NULL;
}

static void
test_blocks_threads_share_the_slabs(void **state)
{
	pthread_t t[THREADS];
	void *rc;
	uintptr_t i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i),
				 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	assert_int_equal(stats().blocks_out, 0);
	assert_true(stats().empty_slabs > 0);
	assert_int_equal(stats().slabs, stats().empty_slabs);
	assert_true(stats().slabs <= TG__BLOCKS_EMPTY_MAX);
}

#define T(name) cmocka_unit_test_setup_teardown(name, default_allocator, no_slabs)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_blocks_freed_block_serves_the_next_request),
		T(test_blocks_a_peak_goes_back_to_the_system),
		T(test_blocks_steady_reuse_maps_nothing_new),
		T(test_blocks_trim_gives_the_empties_back),
		T(test_blocks_full_slab_takes_blocks_again),
		T(test_blocks_large_ones_go_to_the_allocator),
		T(test_blocks_custom_allocator_sees_every_request),
		T(test_blocks_block_outlives_an_allocator_swap),
		T(test_blocks_grow_keeps_the_contents),
		T(test_blocks_threads_share_the_slabs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
