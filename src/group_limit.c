/*
 * group_limit.c - a group's concurrency limit (errgroup's SetLimit): slots,
 * the pending list, and launching a child onto the spawner's deque
 * (tg__launch, with the full-queue overflow).  Split from group.c, whose
 * spawn path calls in here only off its fast path.
 */
#include "taskgroup/group.h"

#include "scheduler.h"

/*
 * A limited group never makes a spawner wait: a child spawned while every
 * slot is taken goes on the group's pending list, and whoever frees a slot
 * (the end of a child, in tg__finish_frame) hands it to the oldest pending
 * child and queues that child on its own worker.  Nothing blocks on a
 * thread's stack, so no wait can deadlock (a blocking spawn could: a child
 * waiting for a slot that only the task below it on the same stack holds).
 *
 * The race between a spawner that finds the group full and a child that
 * frees a slot is the store->load pattern: the spawner appends, then
 * counts pending (seq_cst) and re-reads slots (seq_cst); the releaser
 * frees its slot (seq_cst) and re-reads pending (seq_cst).  At least one of
 * them sees the other and launches the pending child (drain).
 */

/* Takes a slot if one is free.  false when the group is at its limit. */
bool
tg__limit_slot_take(tg__gcore *gc)
{
	/* seq_cst: the re-read of the store->load pattern above. */
	uint64_t s = tg_atomic_load_seqcst_u64(&gc->slots);

	while (s < gc->limit) {
		/* seq_cst CAS: only a count, no data is published through
		 * it; seq_cst keeps it in the pattern above. */
		if (tg_atomic_cas_seqcst_u64(&gc->slots, s, s + 1))
			return true;
		s = tg_atomic_load_seqcst_u64(&gc->slots);
	}
	return false;
}

static void
pending_lock(tg__gcore *gc)
{
	/* seq_cst CAS (acquire side): takes the lock; pairs with the
	 * release store in pending_unlock. */
	while (!tg_atomic_cas_seqcst_u32(&gc->pending_lock, 0, 1))
		tg_atomic_pause();
}

static void
pending_unlock(tg__gcore *gc)
{
	/* release: the list changes happen before the next holder's. */
	tg_atomic_store_release_u32(&gc->pending_lock, 0);
}

/* The oldest pending child, or NULL. */
static tg__frame *
pending_pop(tg__gcore *gc)
{
	tg__frame *f;

	pending_lock(gc);
	f = gc->pending_head;
	if (f != NULL) {
		gc->pending_head = f->next;
		if (gc->pending_head == NULL)
			gc->pending_tail = NULL;
		/* seq_cst RMW: see the theory above. */
		tg_atomic_faa_seqcst_u64(&gc->pending_count, (uint64_t)-1);
	}
	pending_unlock(gc);
	return f;
}

/* Oldest tasks an overflowing spawn runs before it queues its child. */
#define OVERFLOW_CHUNK 64

/* w's deque is full (queue_max items, or no memory to grow): run the
 * oldest queued tasks, then queue f in the room they left (or run f here
 * when nothing could be claimed).  Oldest first keeps a long flat batch in
 * spawn order, as asyncio runs it: a failure early in the batch cancels
 * it before the later children start (running the new child instead
 * would start children that spawn order puts after the failure).  Thieves
 * take from the same end; for a batch of tiny tasks they back off
 * (worker.c, "Tiny steals"), so the spawner's claims do not make them
 * steal more.
 *
 * A thief's request is answered before each task run here: with every
 * slot taken and nothing public, a push cannot succeed until a steal
 * makes room, so no other spawn would answer it, and the thieves idled
 * while the spawner ran every overflowing child alone (a batch of 20,000
 * tasks of 50 us took 1.6x its time on 2 workers, docs/benchmarks.md). */
static TG__COLD void
spawn_overflow(tg__worker *w, tg__frame *f)
{
	void *oldest[OVERFLOW_CHUNK];
	int n = tg__deque_take_oldest(&w->dq, oldest, OVERFLOW_CHUNK);
	int i;
	bool queued;

	for (i = 0; i < n; i++) {
		if (tg__deque_wanted(&w->dq))
			tg__share_work(w);
		tg__run_frame(w, oldest[i]);
	}
	queued = n > 0 && tg__deque_push(&w->dq, f);
	if (tg__deque_wanted(&w->dq))
		tg__share_work(w);
	if (!queued)
		tg__run_frame(w, f);
}

void
tg__launch(tg__worker *w, tg__frame *f)
{
	if (!tg__deque_push(&w->dq, f)) {
		spawn_overflow(w, f);
		return;
	}
	/* Workers that look for work get what is queued now: f may come
	 * after a child that blocks without a checkpoint, and then no later
	 * request would be answered until it returns. */
	if (__builtin_expect(tg__pool_hungry(w->pool), 0))
		tg__feed_hungry(w);
	else if (tg__deque_wanted(&w->dq))
		tg__share_work(w);
}

/* Starts pending children while slots are free. */
static void
drain(tg__worker *w, tg__gcore *gc)
{
	/* seq_cst: see the theory above. */
	while (tg_atomic_load_seqcst_u64(&gc->pending_count) != 0 &&
	       tg__limit_slot_take(gc)) {
		tg__frame *f = pending_pop(gc);

		if (f == NULL) {
			/* Another drainer took it: give the slot back. */
			/* seq_cst RMW: see the theory above. */
			tg_atomic_faa_seqcst_u64(&gc->slots, (uint64_t)-1);
			continue;
		}
		tg__launch(w, f);
	}
}

/* f waits for a slot of gc (f is counted spawned already). */
void
tg__limit_pending_push(tg__worker *w, tg__gcore *gc, tg__frame *f)
{
	f->next = NULL;
	pending_lock(gc);
	if (gc->pending_tail != NULL)
		gc->pending_tail->next = f;
	else
		gc->pending_head = f;
	gc->pending_tail = f;
	/* seq_cst RMW: see the theory above. */
	tg_atomic_faa_seqcst_u64(&gc->pending_count, 1);
	pending_unlock(gc);
	drain(w, gc);
}

void
tg__limit_release(tg__worker *w, tg__gcore *gc)
{
	/* seq_cst RMW: see the theory above. */
	tg_atomic_faa_seqcst_u64(&gc->slots, (uint64_t)-1);
	drain(w, gc);
}

