/*
 * deque.c - the slow paths of the work-stealing deque: creation, growth,
 * the public take, destruction.  The algorithm and its memory orders are
 * explained in deque.h.
 */
#include "deque.h"

#include "alloc.h"

/* Largest capacity whose byte size fits a size_t. */
#define SLOT_SIZE sizeof(((tg__deque_buf *)0)->slot[0])
#define CAPACITY_MAX                                                         \
	((int64_t)((SIZE_MAX - sizeof(tg__deque_buf)) / SLOT_SIZE / 2))

static tg__deque_buf *
buf_new(int64_t capacity)
{
	tg__deque_buf *buf;

	if (capacity > CAPACITY_MAX)
		return NULL; /* the byte size would overflow: out of memory */
	buf = tg__malloc(sizeof(*buf) + (size_t)capacity * SLOT_SIZE);
	if (buf == NULL)
		return NULL;
	buf->mask = capacity - 1;
	buf->retired_next = NULL;
	return buf;
}

int
tg__deque_init(tg__deque *d, int64_t capacity)
{
	tg__deque_buf *buf;

	if (capacity < 1 || (capacity & (capacity - 1)) != 0)
		return -1;
	buf = buf_new(capacity);
	if (buf == NULL)
		return -1;
	/* relaxed: the deque reaches thieves through the pool start
	 * (pthread_create), which orders these stores. */
	tg_atomic_store_relaxed_i64(&d->top, 0);
	tg_atomic_store_relaxed_i64(&d->split, 0);
	tg_atomic_store_relaxed_u32(&d->want, 0);
	tg_atomic_store_relaxed_ptr(&d->buf, buf);
	d->bottom = 0;
	d->split_owner = 0;
	d->top_floor = 0;
	d->queue_max = INT64_MAX;
	d->push_end = capacity; /* top_floor 0 + capacity */
	d->buf_owner = buf;
	d->retired = NULL;
	return 0;
}

tg__deque_buf *
tg__deque_grow(tg__deque *d, tg__deque_buf *old, int64_t top, int64_t bottom)
{
	tg__deque_buf *buf = buf_new((old->mask + 1) * 2);
	int64_t i;

	if (buf == NULL)
		return NULL;
	for (i = top; i < bottom; i++) {
		/* relaxed: published by the release store of buf below. */
		void *x = tg_atomic_load_relaxed_ptr(&old->slot[i & old->mask]);

		tg_atomic_store_relaxed_ptr(&buf->slot[i & buf->mask], x);
	}
	/* release: publishes the copied slots.  Pairs with the acquire load
	 * of buf in tg__deque_steal. */
	tg_atomic_store_release_ptr(&d->buf, buf);
	d->buf_owner = buf;
	/* A thief that loaded old may still read from it: keep it. */
	old->retired_next = d->retired;
	d->retired = old;
	return buf;
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

bool
tg__deque_make_room(tg__deque *d)
{
	int64_t b = d->bottom;
	tg__deque_buf *buf = d->buf_owner;

	/* acquire: pairs with the CAS on top, so a thief's read of a slot
	 * happens before push reuses that slot. */
	d->top_floor = tg_atomic_load_acquire_i64(&d->top);
	if (b - d->top_floor >= d->queue_max)
		return false;
	if (b - d->top_floor > buf->mask) {
		buf = tg__deque_grow(d, buf, d->top_floor, b);
		if (buf == NULL)
			return false;
	}
	d->push_end = d->top_floor + min64(buf->mask + 1, d->queue_max);
	return true;
}

void
tg__deque_set_queue_max(tg__deque *d, int64_t queue_max)
{
	d->queue_max = queue_max < 1 ? 1 : queue_max;
	d->push_end =
		d->top_floor + min64(d->buf_owner->mask + 1, d->queue_max);
}

void *
tg__deque_take_public(tg__deque *d)
{
	int64_t s = d->split_owner - 1; /* == bottom - 1 */
	tg__deque_buf *buf = d->buf_owner;
	int64_t t;
	void *item;

	/* release: see the theory in deque.h (thieves reading this value
	 * stay synchronised with the shares that published the items). */
	tg_atomic_store_release_i64(&d->split, s);
	/* seq_cst fence: orders the split store before the top load.  Pairs
	 * with the fence in tg__deque_steal (store->load, Dekker). */
	tg_atomic_fence_seqcst();
	/* acquire: the value becomes top_floor, which push relies on (slot
	 * reuse after the thieves' reads). */
	t = tg_atomic_load_acquire_i64(&d->top);
	d->top_floor = t;
	if (t > s) {
		/* Empty: restore split (release, as above). */
		tg_atomic_store_release_i64(&d->split, s + 1);
		return NULL;
	}
	/* relaxed: the owner wrote this slot itself. */
	item = tg_atomic_load_relaxed_ptr(&buf->slot[s & buf->mask]);
	if (t == s) {
		/* The last item: race the thieves with their own CAS.  seq_cst
		 * CAS pairs with the thieves' CAS on top. */
		if (tg_atomic_cas_seqcst_i64(&d->top, t, t + 1))
			d->top_floor = t + 1;
		else
			item = NULL;
		tg_atomic_store_release_i64(&d->split, s + 1);
		return item;
	}
	d->bottom = s;
	d->split_owner = s;
	return item;
}

int
tg__deque_take_oldest(tg__deque *d, void **out, int max)
{
	tg__deque_buf *buf = d->buf_owner;
	int64_t s = d->split_owner, t, n, i;
	int tries;

	if (max < 1)
		return 0;
	/* A thief that wins index t makes the CAS below fail: retry a few
	 * times from the new top, then give up (the caller runs its own). */
	for (tries = 0; tries < 4; tries++) {
		/* acquire: as in make_room (a thief's read of a slot happens
		 * before the owner reuses it); the value becomes top_floor. */
		t = tg_atomic_load_acquire_i64(&d->top);
		d->top_floor = t;
		if (t == s) {
			/* Nothing public: make the oldest private items public,
			 * to claim them below as one range. */
			n = d->bottom - s < max ? d->bottom - s : max;
			if (n <= 0)
				return 0;
			s += n;
			d->split_owner = s;
			/* release: publishes the slots and the items' contents
			 * to a thief that steals one of them before the CAS
			 * (pairs with the acquire load of split in
			 * tg__deque_steal). */
			tg_atomic_store_release_i64(&d->split, s);
		}
		n = s - t < max ? s - t : max;
		for (i = 0; i < n; i++)
			/* relaxed: the owner wrote these slots itself, and the
			 * CAS below proves no thief took them. */
			out[i] = tg_atomic_load_relaxed_ptr(
				&buf->slot[(t + i) & buf->mask]);
		/* seq_cst CAS: claims the public range [t, t + n) at once
		 * against the thieves' CAS on top (each claims one index: none
		 * can claim inside the range once top has passed it).  The
		 * owner knows split exactly, so it needs no fence: the steal's
		 * fence guards the owner's lowering of split in take_public,
		 * which this thread is not doing. */
		if (tg_atomic_cas_seqcst_i64(&d->top, t, t + n)) {
			d->top_floor = t + n;
			return (int)n;
		}
	}
	return 0;
}

void
tg__deque_destroy(tg__deque *d)
{
	while (d->retired != NULL) {
		tg__deque_buf *next = d->retired->retired_next;

		tg__free(d->retired);
		d->retired = next;
	}
	tg__free(d->buf_owner);
	/* relaxed: no concurrent users at destroy (the threads are joined). */
	tg_atomic_store_relaxed_ptr(&d->buf, NULL);
	d->buf_owner = NULL;
}
