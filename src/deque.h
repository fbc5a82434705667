/*
 * deque.h - the per-worker work-stealing deque (Chase-Lev), owner push/take
 * at the bottom (LIFO), thieves steal at the top (FIFO).  Internal.
 *
 * Theory of operation
 * -------------------
 * Chase and Lev, "Dynamic circular work-stealing deque" (SPAA 2005), with
 * the C11 memory orders proved correct by Le, Pop, Cohen and Zappa Nardelli,
 * "Correct and efficient work-stealing for weak memory models" (PPoPP 2013),
 * including their release/acquire on the published buffer after growth.
 *
 *   top     only ever increases, by a seq_cst CAS (a thief's steal, or the
 *           owner's take of the last item).
 *   bottom  written by the owner only.  Items live in [top, bottom).
 *   buf     a power-of-two ring of item pointers; the owner replaces it
 *           with one twice as large when full (never shrinks).  Replaced
 *           buffers are kept on the owner's retired list until the deque
 *           is destroyed, because a thief may still be reading one.
 *
 * The race on the last item is settled by the two seq_cst fences (take:
 * between writing bottom and reading top; steal: between reading top and
 * reading bottom) plus the CAS on top: the owner and a thief cannot both
 * miss each other's claim, and only one CAS can win.
 *
 * Departure from the paper, for ThreadSanitizer: every store to bottom is a
 * release store (the paper uses a release fence before push's store and
 * relaxed stores in take).  TSan ignores standalone fences, and C11 release
 * sequences are not continued by relaxed stores of the same thread, so a
 * thief reading a bottom value written by take must still synchronise
 * with the pushes that wrote the items below it.  On x86-64 a release
 * store is a plain store, so this costs nothing.
 *
 * Indices are signed 64-bit: they cannot wrap in the life of a process.
 * Slots are atomic (relaxed) cells: the owner may overwrite a slot a thief
 * is reading only after that thief's CAS has failed, and relaxed accesses
 * make that benign race defined.
 */
#ifndef TG_DEQUE_H
#define TG_DEQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"

typedef struct tg__deque_buf {
	int64_t mask; /* capacity - 1; capacity is a power of two */
	struct tg__deque_buf *retired_next; /* owner-only list link */
	TG_ATOMIC(void *) slot[];
} tg__deque_buf;

typedef struct tg__deque {
	/* Thieves hammer top; keep it away from the owner's bottom. */
	_Alignas(64) TG_ATOMIC(int64_t) top;
	_Alignas(64) TG_ATOMIC(int64_t) bottom;
	TG_ATOMIC(void *) buf;     /* tg__deque_buf * */
	tg__deque_buf *retired;    /* owner only; freed by destroy */
} tg__deque;

/* Result of a steal. */
enum tg__steal { TG__STEAL_OK, TG__STEAL_EMPTY, TG__STEAL_LOST };

/* capacity must be a power of two >= 1.  Returns 0 or -1 (no memory). */
int tg__deque_init(tg__deque *d, int64_t capacity);
/* Frees the buffer and every retired buffer.  No concurrent users. */
void tg__deque_destroy(tg__deque *d);
/* Owner only: replaces the full buffer by one twice as large.  Returns the
 * new buffer, or NULL (no memory; the deque is unchanged). */
tg__deque_buf *tg__deque_grow(tg__deque *d, tg__deque_buf *old, int64_t top,
			      int64_t bottom);

/* Owner only.  Returns false only if the deque was full and could not
 * grow (out of memory); item is then not queued. */
static inline bool
tg__deque_push(tg__deque *d, void *item)
{
	int64_t b = tg_atomic_load_relaxed_i64(&d->bottom);
	/* acquire: pairs with the thieves' seq_cst CAS on top, so a thief's
	 * read of a slot happens before we reuse that slot below. */
	int64_t t = tg_atomic_load_acquire_i64(&d->top);
	/* relaxed: only the owner writes buf. */
	tg__deque_buf *buf = tg_atomic_load_relaxed_ptr(&d->buf);

	if (b - t > buf->mask) {
		buf = tg__deque_grow(d, buf, t, b);
		if (buf == NULL)
			return false;
	}
	/* relaxed: published by the release store of bottom below. */
	tg_atomic_store_relaxed_ptr(&buf->slot[b & buf->mask], item);
	/* release: publishes the slot and everything written to the item
	 * before the push.  Pairs with the acquire load of bottom in
	 * tg__deque_steal. */
	tg_atomic_store_release_i64(&d->bottom, b + 1);
	return true;
}

/* Owner only.  The most recently pushed item, or NULL when empty (or when a
 * thief won the last one). */
static inline void *
tg__deque_take(tg__deque *d)
{
	int64_t b = tg_atomic_load_relaxed_i64(&d->bottom) - 1;
	tg__deque_buf *buf = tg_atomic_load_relaxed_ptr(&d->buf);
	int64_t t;
	void *item;

	/* release: see the theory above (keeps thieves synchronised with
	 * the pushes below b). */
	tg_atomic_store_release_i64(&d->bottom, b);
	/* seq_cst fence: orders the bottom store before the top load.
	 * Pairs with the fence in tg__deque_steal (store->load, Dekker). */
	tg_atomic_fence_seqcst();
	t = tg_atomic_load_relaxed_i64(&d->top);
	if (t > b) {
		/* Empty: restore bottom (release, as above). */
		tg_atomic_store_release_i64(&d->bottom, b + 1);
		return NULL;
	}
	/* relaxed: the owner wrote this slot itself. */
	item = tg_atomic_load_relaxed_ptr(&buf->slot[b & buf->mask]);
	if (t == b) {
		/* The last item: race the thieves for it with their own CAS.
		 * seq_cst CAS pairs with the thieves' CAS on top. */
		if (!tg_atomic_cas_seqcst_i64(&d->top, t, t + 1))
			item = NULL;
		tg_atomic_store_release_i64(&d->bottom, b + 1);
	}
	return item;
}

/* Any thread.  On TG__STEAL_OK *item is the oldest item. */
static inline enum tg__steal
tg__deque_steal(tg__deque *d, void **item)
{
	/* acquire: pairs with other thieves' and the owner's CAS on top. */
	int64_t t = tg_atomic_load_acquire_i64(&d->top);
	int64_t b;
	tg__deque_buf *buf;
	void *x;

	/* seq_cst fence: pairs with the owner's fence in tg__deque_take. */
	tg_atomic_fence_seqcst();
	/* acquire: pairs with the release stores of bottom in push/take, so
	 * the slot and the item's contents are visible. */
	b = tg_atomic_load_acquire_i64(&d->bottom);
	if (t >= b)
		return TG__STEAL_EMPTY;
	/* acquire: pairs with the release store of buf in tg__deque_grow,
	 * so the copied slots are visible. */
	buf = tg_atomic_load_acquire_ptr(&d->buf);
	x = tg_atomic_load_relaxed_ptr(&buf->slot[t & buf->mask]);
	/* seq_cst CAS: claims index t against other thieves and the owner's
	 * take of the last item. */
	if (!tg_atomic_cas_seqcst_i64(&d->top, t, t + 1))
		return TG__STEAL_LOST;
	*item = x;
	return TG__STEAL_OK;
}

/* Items queued, as the owner sees it (exact for the owner up to
 * concurrent steals). */
static inline int64_t
tg__deque_size(tg__deque *d)
{
	/* relaxed: an estimate for throttling decisions. */
	int64_t b = tg_atomic_load_relaxed_i64(&d->bottom);
	int64_t t = tg_atomic_load_relaxed_i64(&d->top);

	return b > t ? b - t : 0;
}

/* Any thread: true if the deque looks empty (a hint for idle scans). */
static inline bool
tg__deque_looks_empty(tg__deque *d)
{
	/* relaxed: a hint; a steal that follows re-reads with acquire. */
	return tg_atomic_load_relaxed_i64(&d->top) >=
	       tg_atomic_load_relaxed_i64(&d->bottom);
}

#endif /* TG_DEQUE_H */
