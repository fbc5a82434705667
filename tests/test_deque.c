/*
 * test_deque.c - single-thread unit tests of the work-stealing deque
 * (src/deque.h, src/deque.c: Chase-Lev with a private region, "split").
 * The concurrent behaviour is covered by tests/stress/stress_deque.c and
 * the Relacy model in tests/relacy.
 *
 * Each test checks the whole observable state it can see after every
 * step: the items and their order, the indices (top <= split <= bottom,
 * split == the owner's copy, top_floor <= top), looks_empty() and
 * the queue limit.  Allocation counts come from an allocator installed with
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
split_of(tg__deque *d)
{
	return tg_atomic_load_relaxed_i64(&d->split);
}

static int64_t
capacity_of(tg__deque *d)
{
	tg__deque_buf *buf = tg_atomic_load_relaxed_ptr(&d->buf);

	/* The thieves' view and the owner's copy agree at rest. */
	assert_ptr_equal(buf, d->buf_owner);
	return buf->mask + 1;
}

/* Test only: an empty deque may start at any index, and starting near
 * 2^62 shows that nothing depends on small indices (reliability.md §2.2).
 * Single-threaded here, so relaxed stores suffice. */
static void
set_origin(tg__deque *d, int64_t origin)
{
	int64_t room = d->push_end - d->top_floor;

	assert_int_equal(top_of(d), d->bottom);
	tg_atomic_store_relaxed_i64(&d->top, origin);
	tg_atomic_store_relaxed_i64(&d->split, origin);
	d->bottom = origin;
	d->split_owner = origin;
	d->top_floor = origin;
	d->push_end = origin + room;
}

/* Items are addresses inside one array, so an item names its index. */
static int cells[4096];
#define ITEM(i) ((void *)&cells[(i)])

/* The whole state at rest: public [top, split), private [split, bottom). */
static void
assert_state(tg__deque *d, int64_t public_n, int64_t private_n)
{
	int64_t t = top_of(d), s = split_of(d), b = d->bottom;

	assert_true(t <= s);
	assert_true(s <= b);
	assert_int_equal(s, d->split_owner);
	assert_true(d->top_floor <= t);
	assert_int_equal(s - t, public_n);
	assert_int_equal(b - s, private_n);
	assert_int_equal(tg__deque_looks_empty(d), public_n == 0);
	assert_true(b - t <= capacity_of(d));
}

static void *
steal_one(tg__deque *d)
{
	void *x = NULL;
	enum tg__steal r = tg__deque_steal(d, &x);

	/* Single-threaded, a steal is never lost. */
	assert_int_not_equal(r, TG__STEAL_LOST);
	if (r == TG__STEAL_EMPTY) {
		/* An empty public region asks the owner to share. */
		assert_true(tg__deque_wanted(d));
		return NULL;
	}
	assert_non_null(x);
	return x;
}

/* Publishes everything private (share halves, so repeat). */
static void
share_all(tg__deque *d)
{
	while (tg__deque_share(d))
		;
	assert_int_equal(split_of(d), d->bottom);
}

static const int64_t origins[] = { 0, (int64_t)1 << 62 };
#define N_ORIGINS (sizeof(origins) / sizeof(origins[0]))

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
		assert_int_equal(d.bottom, 0);
		assert_false(tg__deque_wanted(&d));
		assert_state(&d, 0, 0);
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
	for (o = 0; o < N_ORIGINS; o++) {
		tg__deque d;
		long before = heap.mallocs;
		int i;

		assert_int_equal(tg__deque_init(&d, 128), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 100; i++) {
			assert_true(tg__deque_push(&d, ITEM(i)));
			assert_state(&d, 0, i + 1);
		}
		for (i = 99; i >= 0; i--) {
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
			assert_state(&d, 0, i);
		}
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0, 0);
		/* No growth was needed. */
		assert_int_equal(capacity_of(&d), 128);
		assert_int_equal(heap.mallocs - before, 1);
		tg__deque_destroy(&d);
	}
}

/* LIFO holds across the split: private items first, then the public ones
 * through the Chase-Lev take (top of the public region first). */
static void
test_deque_take_lifo_through_public_items(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < N_ORIGINS; o++) {
		tg__deque d;
		int i;

		assert_int_equal(tg__deque_init(&d, 64), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 40; i++)
			assert_true(tg__deque_push(&d, ITEM(i)));
		assert_true(tg__deque_share(&d)); /* [0,20) public */
		assert_state(&d, 20, 20);
		assert_true(tg__deque_share(&d)); /* [0,30) public */
		assert_state(&d, 30, 10);
		for (i = 39; i >= 30; i--)
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
		assert_state(&d, 30, 0);
		for (i = 29; i >= 0; i--) {
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
			assert_state(&d, i, 0);
		}
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0, 0);
		assert_int_equal(top_of(&d), origins[o] + 1); /* last by CAS */
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
	/* Never used: the signed indices make bottom - 1 = -1 < top. */
	for (i = 0; i < 3; i++) {
		assert_null(tg__deque_take(&d));
		assert_int_equal(top_of(&d), 0);
		assert_int_equal(d.bottom, 0);
		assert_state(&d, 0, 0);
	}
	assert_null(steal_one(&d));
	/* Share with nothing private publishes nothing and keeps want. */
	assert_false(tg__deque_share(&d));
	assert_true(tg__deque_wanted(&d));
	assert_null(tg__deque_take(&d));

	/* Emptied by a private take, by a public take and by a steal. */
	assert_true(tg__deque_push(&d, ITEM(1)));
	assert_ptr_equal(tg__deque_take(&d), ITEM(1));
	assert_null(tg__deque_take(&d));
	assert_state(&d, 0, 0);
	assert_true(tg__deque_push(&d, ITEM(2)));
	assert_true(tg__deque_share(&d));
	assert_false(tg__deque_wanted(&d));
	assert_ptr_equal(tg__deque_take(&d), ITEM(2)); /* public, by CAS */
	assert_null(tg__deque_take(&d));
	assert_int_equal(top_of(&d), 1);
	assert_state(&d, 0, 0);
	assert_true(tg__deque_push(&d, ITEM(3)));
	assert_true(tg__deque_share(&d));
	assert_ptr_equal(steal_one(&d), ITEM(3));
	assert_null(tg__deque_take(&d));
	assert_null(steal_one(&d));
	assert_int_equal(top_of(&d), 2);
	assert_int_equal(d.bottom, 2);
	assert_state(&d, 0, 0);
	tg__deque_destroy(&d);
}

static void
test_deque_growth_from_capacity_1_keeps_items(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < N_ORIGINS; o++) {
		tg__deque d;
		long before = heap.mallocs;
		int i;

		assert_int_equal(tg__deque_init(&d, 1), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 1000; i++) {
			assert_true(tg__deque_push(&d, ITEM(i)));
			if (i == 500)
				share_all(&d); /* grow with public items too */
		}
		assert_state(&d, 501, 499);
		/* 1 -> 1024: ten doublings, each a new buffer. */
		assert_int_equal(capacity_of(&d), 1024);
		assert_int_equal(heap.mallocs - before, 11);
		/* Oldest half by steal (FIFO), the rest by take (LIFO). */
		share_all(&d);
		for (i = 0; i < 500; i++)
			assert_ptr_equal(steal_one(&d), ITEM(i));
		for (i = 999; i >= 500; i--)
			assert_ptr_equal(tg__deque_take(&d), ITEM(i));
		assert_null(tg__deque_take(&d));
		assert_null(steal_one(&d));
		assert_state(&d, 0, 0);
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
	share_all(&d);
	assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	/* window [2, 3); fill to [2, 6): slots 2,3,0,1 (the owner learns
	 * of the steals by re-reading top when the ring looks full) */
	for (i = 0; i < 3; i++)
		assert_true(tg__deque_push(&d, ITEM(next++)));
	assert_int_equal(capacity_of(&d), 4);
	assert_true(tg__deque_push(&d, ITEM(next++))); /* grows */
	assert_int_equal(capacity_of(&d), 8);
	assert_state(&d, 1, next - oldest - 1);
	share_all(&d);
	while (oldest < next)
		assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	assert_state(&d, 0, 0);
	tg__deque_destroy(&d);
}

/* Slots freed by steals are reused without growing (push refreshes its
 * floor of top only when the ring looks full). */
static void
test_deque_push_reuses_stolen_slots(void **state)
{
	tg__deque d;
	int i, next = 0, oldest = 0;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 8), 0);
	for (i = 0; i < 1000; i++) {
		while (next - oldest < 8)
			assert_true(tg__deque_push(&d, ITEM(next++)));
		share_all(&d);
		assert_ptr_equal(steal_one(&d), ITEM(oldest++));
		assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	}
	assert_int_equal(capacity_of(&d), 8);
	assert_null(d.retired);
	while (oldest < next)
		assert_ptr_equal(steal_one(&d), ITEM(oldest++));
	assert_state(&d, 0, 0);
	tg__deque_destroy(&d);
}

/* Thieves see only public items: a steal from a deque whose items are all
 * private fails and asks; share publishes half of them (at least one), the
 * oldest first; steals then come out in push order. */
static void
test_deque_steal_fifo(void **state)
{
	size_t o;

	(void)state;
	for (o = 0; o < N_ORIGINS; o++) {
		tg__deque d;
		int i = 0, shares = 0;

		assert_int_equal(tg__deque_init(&d, 16), 0);
		set_origin(&d, origins[o]);
		for (i = 0; i < 10; i++)
			assert_true(tg__deque_push(&d, ITEM(i)));
		assert_false(tg__deque_wanted(&d));
		assert_null(steal_one(&d)); /* all private: sets want */
		assert_true(tg__deque_share(&d));
		assert_false(tg__deque_wanted(&d));
		assert_state(&d, 5, 5); /* half of 10 */
		for (i = 0; i < 10;) {
			void *x = steal_one(&d);

			if (x == NULL) {
				assert_true(tg__deque_share(&d));
				shares++;
				continue;
			}
			assert_ptr_equal(x, ITEM(i));
			i++;
			assert_int_equal(top_of(&d), origins[o] + i);
		}
		/* 10 -> 5 public, then 3, 1, 1 */
		assert_int_equal(shares, 3);
		assert_null(steal_one(&d));
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0, 0);
		tg__deque_destroy(&d);
	}
}

/* take, checked against the reference deque: public [lo, sp), private
 * [sp, hi) (indices relative to the origin). */
static void
ref_take(tg__deque *d, const int *ref, int64_t *lo, int64_t *sp, int64_t *hi)
{
	void *x = tg__deque_take(d);

	if (*hi > *sp) {
		/* private: no fence, no CAS */
		assert_ptr_equal(x, ITEM(ref[--*hi]));
	} else if (*sp - *lo > 1) {
		/* public, not the last: split and bottom move down */
		assert_ptr_equal(x, ITEM(ref[--*hi]));
		--*sp;
	} else if (*sp - *lo == 1) {
		/* the last public item: won by CAS, top moves up */
		assert_ptr_equal(x, ITEM(ref[*lo]));
		++*lo;
	} else {
		assert_null(x);
	}
}

/* Random push/take/steal/share against a reference deque. */
static void
test_deque_interleaved_push_take_steal(void **state)
{
	static int ref[8192];
	size_t o;

	(void)state;
	for (o = 0; o < N_ORIGINS; o++) {
		uint64_t rng = 0x9e3779b97f4a7c15ull + o;
		/* reference: public [lo, sp), private [sp, hi) */
		int64_t lo = 0, sp = 0, hi = 0;
		int next = 0, step;
		tg__deque d;

		assert_int_equal(tg__deque_init(&d, 1), 0);
		set_origin(&d, origins[o]);
		for (step = 0; step < 30000; step++) {
			unsigned r;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			r = (unsigned)(rng % 16);
			if (r < 7 && next < 4000) {
				ref[hi++] = next;
				assert_true(tg__deque_push(&d, ITEM(next)));
				next++;
			} else if (r < 11) {
				ref_take(&d, ref, &lo, &sp, &hi);
			} else if (r < 14) {
				void *x = steal_one(&d);

				if (sp > lo) {
					assert_ptr_equal(x, ITEM(ref[lo++]));
				} else {
					assert_null(x);
				}
			} else {
				bool shared = tg__deque_share(&d);

				assert_int_equal(shared, hi > sp);
				if (hi > sp)
					sp += (hi - sp + 1) / 2;
			}
			assert_state(&d, sp - lo, hi - sp);
			assert_int_equal(top_of(&d), origins[o] + lo);
			assert_int_equal(d.bottom, origins[o] + hi);
			if (lo == hi && next >= 4000)
				break;
		}
		while (hi > lo)
			ref_take(&d, ref, &lo, &sp, &hi);
		assert_null(tg__deque_take(&d));
		assert_state(&d, 0, 0);
		tg__deque_destroy(&d);
	}
}

/* The queue limit: push refuses once queue_max items are queued, public
 * and private together, and accepts again as soon as thieves or the owner
 * take some (the owner's stale floor of top is refreshed on the slow
 * path). */
static void
test_deque_queue_limit(void **state)
{
	tg__deque d;
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 2), 0);
	tg__deque_set_queue_max(&d, 7);
	assert_true(tg__deque_looks_empty(&d));
	for (i = 0; i < 7; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	assert_false(tg__deque_push(&d, ITEM(7))); /* full: refused */
	assert_true(tg__deque_looks_empty(&d)); /* nothing public yet */
	share_all(&d);
	assert_false(tg__deque_looks_empty(&d));
	(void)steal_one(&d);
	(void)steal_one(&d);
	/* Two stolen: room for two more, seen after a refresh of top. */
	assert_true(tg__deque_push(&d, ITEM(8)));
	assert_int_equal(d.top_floor, top_of(&d));
	assert_true(tg__deque_push(&d, ITEM(9)));
	assert_false(tg__deque_push(&d, ITEM(10)));
	assert_ptr_equal(tg__deque_take(&d), ITEM(9));
	assert_true(tg__deque_push(&d, ITEM(11)));
	while (tg__deque_take(&d) != NULL)
		;
	assert_true(tg__deque_looks_empty(&d));
	assert_null(tg__deque_take(&d));
	tg__deque_destroy(&d);
}

/* take_oldest claims from the FIFO end by one CAS on top: a range of the
 * public items when there are some, else a range of private items made
 * public for the claim; the rest stays takeable in LIFO order. */
static void
test_deque_take_oldest_in_fifo_order(void **state)
{
	tg__deque d;
	void *out[8];
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 4), 0);
	assert_int_equal(tg__deque_take_oldest(&d, out, 8), 0); /* empty */
	for (i = 0; i < 10; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	/* All private: the 3 oldest, in order. */
	assert_int_equal(tg__deque_take_oldest(&d, out, 3), 3);
	for (i = 0; i < 3; i++)
		assert_ptr_equal(out[i], ITEM(i));
	assert_int_equal(top_of(&d), 3);
	assert_int_equal(split_of(&d), 3);
	assert_int_equal(d.top_floor, 3);
	/* 3..9 public: the 2 oldest of them. */
	share_all(&d);
	assert_int_equal(tg__deque_take_oldest(&d, out, 2), 2);
	assert_ptr_equal(out[0], ITEM(3));
	assert_ptr_equal(out[1], ITEM(4));
	/* The newest still come back LIFO (the public take), thieves FIFO. */
	assert_ptr_equal(tg__deque_take(&d), ITEM(9));
	assert_ptr_equal(steal_one(&d), ITEM(5));
	for (i = 10; i < 14; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	assert_int_equal(tg__deque_take_oldest(&d, out, 0), 0);
	/* Public 6..8 first (never more than the public range)... */
	assert_int_equal(tg__deque_take_oldest(&d, out, 8), 3);
	for (i = 0; i < 3; i++)
		assert_ptr_equal(out[i], ITEM(6 + i));
	/* ...then the private 10..13. */
	assert_int_equal(tg__deque_take_oldest(&d, out, 8), 4);
	for (i = 0; i < 4; i++)
		assert_ptr_equal(out[i], ITEM(10 + i));
	assert_int_equal(tg__deque_take_oldest(&d, out, 8), 0);
	assert_null(tg__deque_take(&d));
	assert_true(tg__deque_looks_empty(&d));
	tg__deque_destroy(&d);
}

/* A full queue makes room through take_oldest: push succeeds after it,
 * without growing the buffer. */
static void
test_deque_take_oldest_makes_room(void **state)
{
	tg__deque d;
	void *out[2];
	int i;

	(void)state;
	assert_int_equal(tg__deque_init(&d, 8), 0);
	tg__deque_set_queue_max(&d, 5);
	for (i = 0; i < 5; i++)
		assert_true(tg__deque_push(&d, ITEM(i)));
	assert_false(tg__deque_push(&d, ITEM(5)));
	assert_int_equal(tg__deque_take_oldest(&d, out, 2), 2);
	assert_ptr_equal(out[0], ITEM(0));
	assert_ptr_equal(out[1], ITEM(1));
	assert_true(tg__deque_push(&d, ITEM(5)));
	assert_true(tg__deque_push(&d, ITEM(6)));
	assert_false(tg__deque_push(&d, ITEM(7)));
	assert_int_equal(d.buf_owner->mask, 7); /* never grew */
	for (i = 6; i >= 2; i--)
		assert_ptr_equal(tg__deque_take(&d), ITEM(i));
	assert_null(tg__deque_take(&d));
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
	assert_true(tg__deque_share(&d)); /* [0, 2) public */
	(void)steal_one(&d);              /* window [1, 4) */
	assert_true(tg__deque_push(&d, ITEM(4))); /* [1, 5): full */
	buf = tg_atomic_load_relaxed_ptr(&d.buf);

	heap.fail_at = heap.calls + 1; /* every allocation from now fails */
	for (i = 0; i < 3; i++) {
		assert_false(tg__deque_push(&d, ITEM(100 + i)));
		assert_ptr_equal(tg_atomic_load_relaxed_ptr(&d.buf), buf);
		assert_ptr_equal(d.buf_owner, buf);
		assert_null(d.retired);
		assert_int_equal(top_of(&d), 1);
		assert_int_equal(d.bottom, 5);
		assert_state(&d, 1, 3);
	}
	/* Still a working deque while memory is short. */
	assert_ptr_equal(tg__deque_take(&d), ITEM(4));
	assert_true(tg__deque_push(&d, ITEM(5))); /* fits again */
	assert_false(tg__deque_push(&d, ITEM(6)));

	heap.fail_at = 0; /* memory is back */
	assert_true(tg__deque_push(&d, ITEM(6)));
	assert_int_equal(capacity_of(&d), 8);
	share_all(&d);
	for (i = 1; i <= 3; i++)
		assert_ptr_equal(steal_one(&d), ITEM(i));
	assert_ptr_equal(tg__deque_take(&d), ITEM(6));
	assert_ptr_equal(tg__deque_take(&d), ITEM(5));
	assert_null(tg__deque_take(&d));
	assert_state(&d, 0, 0);
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
				if (i % 16 == 0)
					(void)tg__deque_share(&d);
				assert_int_equal(d.bottom - top_of(&d), queued);
			}
			/* Fail-once refuses one push; fail-forever refuses
			 * every push after the ring filled up. */
			assert_true(refused >= 1);
			if (mode == 0)
				assert_int_equal(refused, 1);
			/* Items come back in order: the queued ones,
			 * oldest first. */
			share_all(&d);
			for (i = 0; i < queued; i++)
				assert_ptr_equal(steal_one(&d), ITEM(ids[i]));
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
		T(test_deque_take_lifo_through_public_items),
		T(test_deque_take_empty_returns_null),
		T(test_deque_growth_from_capacity_1_keeps_items),
		T(test_deque_growth_with_wrapped_window),
		T(test_deque_push_reuses_stolen_slots),
		T(test_deque_steal_fifo),
		T(test_deque_interleaved_push_take_steal),
		T(test_deque_queue_limit),
		T(test_deque_take_oldest_in_fifo_order),
		T(test_deque_take_oldest_makes_room),
		T(test_deque_destroy_frees_retired_buffers),
		T(test_deque_grow_out_of_memory_leaves_deque_intact),
		T(test_deque_grow_out_of_memory_sweep),
#undef T
	};

	return cmocka_run_group_tests_name("deque", tests, NULL, NULL);
}
