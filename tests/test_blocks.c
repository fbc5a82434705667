/*
 * test_blocks.c - recycled blocks of the error path (src/blocks.c): a freed
 * block serves the next request of its class, the lists hold at most
 * TG__BLOCKS_HELD_MAX bytes in all, large blocks and custom allocators bypass
 * the lists, tg_set_allocator gives the held blocks back, and threads
 * share the lists safely.
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

static size_t
held_blocks(void)
{
	size_t blocks, bytes;

	tg__blocks_held(&blocks, &bytes);
	return blocks;
}

static size_t
held_bytes(void)
{
	size_t blocks, bytes;

	tg__blocks_held(&blocks, &bytes);
	return bytes;
}

/* Each test starts with the C library's allocator and empty lists. */
static int
default_allocator(void **state)
{
	(void)state;
	return tg_reset_allocator() == TG_OK && held_blocks() == 0 ? 0 : -1;
}

static int
empty_lists(void **state)
{
	(void)state;
	tg__blocks_drain();
	return 0;
}

static void
test_blocks_freed_block_serves_the_next_request(void **state)
{
	unsigned char *p, *q;
	size_t i;

	(void)state;
	p = tg__block_alloc(100, false);
	assert_non_null(p);
	memset(p, 0xab, 100);
	tg__block_free(p);
	assert_int_equal(held_blocks(), 1);
	/* 100 bytes and 90 are one class (128 with the head) */
	q = tg__block_alloc(90, true);
	assert_ptr_equal(q, p);
	for (i = 0; i < 90; i++)
		assert_int_equal(q[i], 0); /* zeroed as asked */
	assert_int_equal(held_blocks(), 0);
	tg__block_free(q);
	/* another class does not take it */
	p = tg__block_alloc(600, false);
	assert_non_null(p);
	assert_ptr_not_equal(p, q);
	assert_int_equal(held_blocks(), 1);
	tg__block_free(p);
	assert_int_equal(held_blocks(), 2);
}

static void
test_blocks_the_lists_hold_at_most_the_budget(void **state)
{
	size_t cls = tg__alloc_class(1000 + 16); /* 1024 */
	size_t n = TG__BLOCKS_HELD_MAX / cls + 50, i;
	void **p = calloc(n, sizeof(*p));
	void *small;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < n; i++) {
		p[i] = tg__block_alloc(1000, false);
		assert_non_null(p[i]);
	}
	small = tg__block_alloc(10, false);
	for (i = 0; i < n; i++)
		tg__block_free(p[i]);
	assert_int_equal(held_blocks(), TG__BLOCKS_HELD_MAX / cls);
	assert_int_equal(held_bytes(), TG__BLOCKS_HELD_MAX);
	/* the budget is shared: a block of another class finds it spent */
	tg__block_free(small);
	assert_int_equal(held_blocks(), TG__BLOCKS_HELD_MAX / cls);
	/* taking one makes room for one */
	p[0] = tg__block_alloc(1000, false);
	assert_int_equal(held_bytes(), TG__BLOCKS_HELD_MAX - cls);
	tg__block_free(p[0]);
	assert_int_equal(held_bytes(), TG__BLOCKS_HELD_MAX);
	free(p);
}

static void
test_blocks_large_ones_go_back_to_the_allocator(void **state)
{
	void *p = tg__block_alloc(5000, true);

	(void)state;
	assert_non_null(p);
	tg__block_free(p);
	assert_int_equal(held_blocks(), 0);
	/* the largest listed class is 4096 bytes, the head included */
	p = tg__block_alloc(4096 - 16, false);
	tg__block_free(p);
	assert_int_equal(held_bytes(), 4096);
	p = tg__block_alloc(4096 - 15, false);
	tg__block_free(p);
	assert_int_equal(held_bytes(), 4096);
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
	/* blocks held for the C library's allocator go back before the swap */
	for (i = 0; i < 10; i++)
		p[i] = tg__block_alloc(40 * (i + 1), false);
	for (i = 0; i < 10; i++)
		tg__block_free(p[i]);
	assert_true(held_blocks() > 0);
	assert_int_equal(test_alloc_setup(NULL), 0);
	assert_int_equal(held_blocks(), 0);
	for (i = 0; i < 10; i++) {
		p[i] = tg__block_alloc(40 * (i + 1), i % 2 == 0);
		assert_non_null(p[i]);
	}
	assert_int_equal(test_alloc_calls, 10);
	assert_int_equal(test_alloc_live, 10);
	for (i = 0; i < 10; i++)
		tg__block_free(p[i]);
	assert_int_equal(test_alloc_live, 0); /* none held back */
	assert_int_equal(held_blocks(), 0);
	test_alloc_fail_all = 1;
	assert_null(tg__block_alloc(40, false));
	assert_int_equal(test_alloc_teardown(NULL), 0);
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
	tg__blocks_drain();
	assert_int_equal(test_alloc_setup(NULL), 0);
	test_alloc_fail_all = 1;
	assert_null(tg__block_grow(p, 4, 4000));
	test_alloc_fail_all = 0;
	assert_string_equal(p, "xyz");
	assert_int_equal(tg_reset_allocator(), TG_OK);
	tg__block_free(p); /* made by the C library's malloc */
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
test_blocks_threads_share_the_lists(void **state)
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
	assert_true(held_blocks() > 0);
	assert_true(held_bytes() <= TG__BLOCKS_HELD_MAX);
}

#define T(name) cmocka_unit_test_setup_teardown(name, default_allocator, empty_lists)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_blocks_freed_block_serves_the_next_request),
		T(test_blocks_the_lists_hold_at_most_the_budget),
		T(test_blocks_large_ones_go_back_to_the_allocator),
		T(test_blocks_custom_allocator_sees_every_request),
		T(test_blocks_grow_keeps_the_contents),
		T(test_blocks_threads_share_the_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
