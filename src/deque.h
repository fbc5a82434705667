/*
 * deque.h - the per-worker work-stealing deque: Chase-Lev with a private
 * region (a split deque).  The owner pushes and takes at the bottom (LIFO);
 * thieves steal at the top (FIFO).  Internal.
 *
 * Theory of operation
 * -------------------
 * Base algorithm: Chase and Lev, "Dynamic circular work-stealing deque"
 * (SPAA 2005), with the C11 memory orders proved by Le, Pop, Cohen and
 * Zappa Nardelli (PPoPP 2013), including release/acquire on the buffer
 * published after growth.
 *
 * Split (after Lace, van Dijk and van de Pol 2014): thieves never look at
 * the owner's bottom.  They see
 *
 *     top <= split <= bottom        items in [top, split) are public,
 *                                   items in [split, bottom) are private
 *
 * and treat split exactly as plain Chase-Lev thieves treat bottom.  The
 * owner pushes and takes private items with plain owner-only accesses: no
 * fence and no locked instruction for work nobody stole.  Only when the
 * private region is empty does the owner take through the Chase-Lev
 * protocol on split (store split, seq_cst fence, read top, CAS on the last
 * item), which is therefore the published-bottom protocol of the paper
 * with split in the role of bottom.
 *
 * Sharing: a thief that finds the public region empty sets want.  The
 * owner reads want (relaxed) at every push and take, and answers by
 * moving split up over half of its private items (a release store, which
 * publishes their slots).  A thief's request that the owner misses for a
 * moment costs parallelism, never work: private items are the owner's and
 * it runs them itself before it can wait for anything.  (A task that
 * spins on a sibling without joining, checkpointing or spawning would keep
 * its private children to itself: checkpoints share too, see cancel.c.)
 *
 *   top      only increases, by a seq_cst CAS (a steal, or the owner's take
 *            of the last public item).
 *   split    written by the owner only (release stores).
 *   want     set by thieves, cleared by the owner; a hint (relaxed).
 *   buf      power-of-two ring of item pointers, replaced (never shrunk)
 *            by the owner when full; replaced rings stay on the retired
 *            list until destroy, since a thief may still read one.
 *
 * Departure from the paper, for ThreadSanitizer: every store to split is a
 * release store.  TSan ignores standalone fences, and under the C++20/C23
 * rules TSan follows, a relaxed store by the same thread does not continue
 * a release sequence (C11 said it did; the Relacy mutant that makes take's
 * stores relaxed survives for that reason).  On x86-64 a release store is
 * a plain store.  Indices are signed 64-bit and cannot wrap in a process's life.
 * Slots are relaxed atomic cells: a slot may be overwritten while a thief
 * whose CAS is bound to fail reads it.
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
	/* Thieves CAS top: its own line. */
	_Alignas(64) TG_ATOMIC(int64_t) top;
	/* What thieves read (split, buf) and write (want). */
	_Alignas(64) TG_ATOMIC(int64_t) split;
	TG_ATOMIC(uint32_t) want;
	TG_ATOMIC(void *) buf; /* tg__deque_buf * */
	/* Owner only. */
	_Alignas(64) int64_t bottom;
	int64_t split_owner;       /* the owner's copy of split */
	int64_t top_floor;         /* a value top had: top >= top_floor */
	int64_t push_end;          /* push's fast path: bottom below it
				    * (make_room) */
	int64_t queue_max;         /* most items push queues (default: no
				    * limit); beyond it push refuses */
	tg__deque_buf *buf_owner;  /* the owner's copy of buf */
	tg__deque_buf *retired;    /* freed by destroy */
} tg__deque;

/* Result of a steal. */
enum tg__steal { TG__STEAL_OK, TG__STEAL_EMPTY, TG__STEAL_LOST };

/* capacity must be a power of two >= 1.  Returns 0 or -1 (no memory). */
int tg__deque_init(tg__deque *d, int64_t capacity);
/* Frees the buffer and every retired buffer.  No concurrent users. */
void tg__deque_destroy(tg__deque *d);
/* Owner only: replaces the full buffer by one twice as large.  Returns the
 * new buffer, or NULL (no memory; the deque is unchanged). */
__attribute__((noinline, cold)) tg__deque_buf *
tg__deque_grow(tg__deque *d, tg__deque_buf *old, int64_t top, int64_t bottom);
/* Owner only: the Chase-Lev take on split, when no private item is left. */
void *tg__deque_take_public(tg__deque *d);
/* Owner only, push's slow path: refreshes top_floor, grows the buffer if
 * it is full.  Returns false if queue_max items are queued or memory ran
 * out. */
__attribute__((noinline, cold)) bool tg__deque_make_room(tg__deque *d);
/* Owner only: claims up to max of the oldest items (the FIFO end, public
 * or private) with one CAS on top, puts them in out[] oldest first and
 * returns how many; 0 when empty, or when thieves kept winning the race
 * (some private items may then have become public).  For a spawner whose
 * queue is full: running the oldest keeps a long flat batch in spawn
 * order, and memory bounded. */
int tg__deque_take_oldest(tg__deque *d, void **out, int max);
/* Any thread: top now (only grows; the owner also keeps it as
 * top_floor).  acquire: as take_oldest's, which claims from it. */
static inline int64_t
tg__deque_top(tg__deque *d)
{
	return tg_atomic_load_acquire_i64(&d->top);
}
/* Owner only: caps the number of queued items (>= 1). */
void tg__deque_set_queue_max(tg__deque *d, int64_t queue_max);

/* Owner only: a thief asked for work (hint). */
static inline bool
tg__deque_wanted(tg__deque *d)
{
	/* relaxed: a hint; see "Sharing" above. */
	return tg_atomic_load_relaxed_u32(&d->want) != 0;
}

/* Owner only: makes half of the private items (at least one) public.
 * Returns true if it published something (the caller may wake sleepers);
 * with nothing private, leaves want set so the next push shares at once. */
static inline bool
tg__deque_share(tg__deque *d)
{
	int64_t b = d->bottom, s = d->split_owner, ns;

	if (b <= s)
		return false;
	ns = s + (b - s + 1) / 2;
	d->split_owner = ns;
	/* release: publishes the slots [s, ns) and the items' contents.
	 * Pairs with the acquire load of split in tg__deque_steal. */
	tg_atomic_store_release_i64(&d->split, ns);
	/* relaxed: a hint. */
	tg_atomic_store_relaxed_u32(&d->want, 0);
	return true;
}

/* Owner only: true when no item is private (nothing for share). */
/* Publishes every private item (a worker about to block: blocking.c).
 * false when there was none.  Owner only.  The same release store as
 * tg__deque_share, with split moved to bottom instead of half-way. */
static inline bool
tg__deque_share_all(tg__deque *d)
{
	int64_t b = d->bottom;

	if (b <= d->split_owner)
		return false;
	d->split_owner = b;
	/* release: publishes the slots below b and the items' contents.
	 * Pairs with the acquire load of split in tg__deque_steal. */
	tg_atomic_store_release_i64(&d->split, b);
	/* relaxed: a hint. */
	tg_atomic_store_relaxed_u32(&d->want, 0);
	return true;
}

static inline bool
tg__deque_private_empty(const tg__deque *d)
{
	return d->bottom <= d->split_owner;
}

/* Owner only: true if push has room without its slow path.  One compare:
 * push_end is top_floor + min(capacity, queue_max) as of the last
 * make_room, and top only grows, so bottom < push_end keeps the queue
 * under both bounds. */
static inline bool
tg__deque_has_room(const tg__deque *d)
{
	return d->bottom < d->push_end;
}

/* Owner only: push when tg__deque_has_room said so.  item is never NULL
 * (NULL is take's and steal's "nothing"). */
static inline void
tg__deque_push_room(tg__deque *d, void *item)
{
	int64_t b = d->bottom;
	tg__deque_buf *buf = d->buf_owner;

	/* relaxed: index b is private; tg__deque_share publishes it. */
	tg_atomic_store_relaxed_ptr(&buf->slot[b & buf->mask], item);
	d->bottom = b + 1;
}

/* Owner only.  Returns false if the item could not be queued: queue_max
 * items are already queued, or the buffer was full and could not grow
 * (out of memory).  item is never NULL. */
static inline bool
tg__deque_push(tg__deque *d, void *item)
{
	if (!tg__deque_has_room(d) && !tg__deque_make_room(d))
		return false;
	tg__deque_push_room(d, item);
	return true;
}

/* Owner only.  The most recently pushed item, or NULL when empty (or when a
 * thief won the last one). */
static inline __attribute__((always_inline)) void *
tg__deque_take(tg__deque *d)
{
	int64_t b = d->bottom - 1;

	if (__builtin_expect(b >= d->split_owner, 1)) {
		/* Private: no thief can claim an index at or above split. */
		void *item;

		d->bottom = b;
		/* relaxed: the owner wrote this slot itself. */
		item = tg_atomic_load_relaxed_ptr(
			&d->buf_owner->slot[b & d->buf_owner->mask]);
		/* Pushed items are never NULL: telling the compiler lets a
		 * caller's NULL check fold away on this, the common, path
		 * (UBSan reports it if it were ever reached).  Unoptimised
		 * builds (coverage) would only keep a branch never taken. */
#ifdef __OPTIMIZE__
		if (item == NULL)
			__builtin_unreachable();
#endif
		return item;
	}
	if (d->split_owner <= d->top_floor)
		return NULL; /* top >= top_floor >= split: surely empty */
	return tg__deque_take_public(d);
}

/* Owner only: reverses the private items at indices >= from, so that
 * tg__deque_take returns them oldest first.  Private slots are invisible
 * to thieves until tg__deque_share publishes them, so plain swaps do. */
static inline void
tg__deque_reverse_private(tg__deque *d, int64_t from)
{
	int64_t lo = from > d->split_owner ? from : d->split_owner;
	int64_t hi = d->bottom - 1;
	tg__deque_buf *buf = d->buf_owner;

	for (; lo < hi; lo++, hi--) {
		/* relaxed: private slots, written by the owner itself. */
		void *a = tg_atomic_load_relaxed_ptr(&buf->slot[lo & buf->mask]);
		void *b = tg_atomic_load_relaxed_ptr(&buf->slot[hi & buf->mask]);

		tg_atomic_store_relaxed_ptr(&buf->slot[lo & buf->mask], b);
		tg_atomic_store_relaxed_ptr(&buf->slot[hi & buf->mask], a);
	}
}

/* Any thread.  On TG__STEAL_OK *item is the oldest public item.  On
 * TG__STEAL_EMPTY the thief has asked the owner to share. */
static inline enum tg__steal
tg__deque_steal(tg__deque *d, void **item)
{
	/* acquire: pairs with other thieves' and the owner's CAS on top. */
	int64_t t = tg_atomic_load_acquire_i64(&d->top);
	int64_t s;
	tg__deque_buf *buf;
	void *x;

	/* seq_cst fence: pairs with the owner's fence in take_public. */
	tg_atomic_fence_seqcst();
	/* acquire: pairs with the release stores of split (share, take),
	 * so the slot and the item's contents are visible. */
	s = tg_atomic_load_acquire_i64(&d->split);
	if (t >= s) {
		/* relaxed: a hint; writing only when clear keeps the line
		 * quiet while the owner has nothing to share. */
		if (tg_atomic_load_relaxed_u32(&d->want) == 0)
			tg_atomic_store_relaxed_u32(&d->want, 1);
		return TG__STEAL_EMPTY;
	}
	/* acquire: pairs with the release store of buf in tg__deque_grow,
	 * so the copied slots are visible. */
	buf = tg_atomic_load_acquire_ptr(&d->buf);
	x = tg_atomic_load_relaxed_ptr(&buf->slot[t & buf->mask]);
	/* seq_cst CAS: claims index t against other thieves and the owner's
	 * take of the last public item. */
	if (!tg_atomic_cas_seqcst_i64(&d->top, t, t + 1))
		return TG__STEAL_LOST;
	*item = x;
	return TG__STEAL_OK;
}

/* Any thread: asks the owner to share (what a failed steal does), without
 * the steal's fence.  For thieves that skip a victim that looks empty. */
static inline void
tg__deque_request(tg__deque *d)
{
	/* relaxed: a hint; written only when clear (see steal). */
	if (tg_atomic_load_relaxed_u32(&d->want) == 0)
		tg_atomic_store_relaxed_u32(&d->want, 1);
}

/* Any thread: true if the public region looks empty (a hint for victim
 * selection and parking re-checks). */
static inline bool
tg__deque_looks_empty(tg__deque *d)
{
	/* relaxed: a hint; a steal that follows re-reads with acquire. */
	return tg_atomic_load_relaxed_i64(&d->top) >=
	       tg_atomic_load_relaxed_i64(&d->split);
}

#endif /* TG_DEQUE_H */
