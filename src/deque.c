/*
 * deque.c - the slow paths of the work-stealing deque: creation, growth,
 * destruction.  The algorithm and its memory orders are in deque.h.
 */
#include "deque.h"

#include "alloc.h"

static tg__deque_buf *
buf_new(int64_t capacity)
{
	tg__deque_buf *buf = tg__malloc(sizeof(*buf) +
					(size_t)capacity * sizeof(void *));

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
	/* relaxed: the deque is published to thieves by the pool start
	 * (pthread_create), which orders these stores. */
	tg_atomic_store_relaxed_i64(&d->top, 0);
	tg_atomic_store_relaxed_i64(&d->bottom, 0);
	tg_atomic_store_relaxed_ptr(&d->buf, buf);
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
	/* A thief that loaded old may still read from it: keep it. */
	old->retired_next = d->retired;
	d->retired = old;
	return buf;
}

void
tg__deque_destroy(tg__deque *d)
{
	tg__deque_buf *buf = tg_atomic_load_relaxed_ptr(&d->buf);

	while (d->retired != NULL) {
		tg__deque_buf *next = d->retired->retired_next;

		tg__free(d->retired);
		d->retired = next;
	}
	tg__free(buf);
	tg_atomic_store_relaxed_ptr(&d->buf, NULL);
}
