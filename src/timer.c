/*
 * timer.c - group deadlines.
 *
 * Theory of operation
 * -------------------
 * Deadlines are rare next to spawns, so they take a mutex: the pool's
 * timer keeps a binary min-heap of the group cores that have a deadline,
 * and one thread, started when the first deadline is set, sleeps on a
 * condition variable until the earliest one.  When a deadline passes the
 * thread cancels that group (reason TG__CANCEL_DEADLINE, cancel.c) and
 * wakes parked workers; running children see it at their next checkpoint.
 *
 * Everything about a core's deadline (its value, its heap slot,
 * timer_open, the DEADLINE cancel bit) changes under the timer's lock,
 * which is what makes the callers agree:
 *  - tg__timer_set refuses once the bit is set, so a fired timeout cannot
 *    be rescheduled;
 *  - only the owning task gives a core its first deadline (timer_open;
 *    the owner also sets TG__JOIN_DEADLINE, on its own thread, so the join
 *    knows without a lock to come here).  Other tasks and threads may
 *    then read and move it (asyncio's Timeout.reschedule from another
 *    task) while the group is open, but never write join_flags, which the
 *    owner reads without a lock; a core without timer_open, so one whose
 *    join skips the timer, is never put in the heap by them;
 *  - the thread sets the bit only for a core still in the heap;
 *  - the join removes the core under the lock before recycling it (and
 *    clears timer_open), and reads the bit afterwards: a core is never
 *    touched by the thread after its join took it off.
 */
#include <errno.h>
#include <time.h>

#include "taskgroup/group.h"

#include "alloc.h"
#include "scheduler.h"
#include "timer.h"

#define NOT_IN_HEAP SIZE_MAX

int64_t
tg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
tg__timer_init(tg__timer *t)
{
	pthread_condattr_t attr;
	int rc;

	if (pthread_mutex_init(&t->lock, NULL) != 0)
		return TG_EAGAIN;
	if (pthread_condattr_init(&attr) != 0) {
		pthread_mutex_destroy(&t->lock);
		return TG_EAGAIN;
	}
	/* Deadlines are on the monotonic clock; so must the waits be. */
	(void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&t->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_destroy(&t->lock);
		return TG_EAGAIN;
	}
	t->started = false;
	t->stop = false;
	t->heap = NULL;
	t->n = t->cap = 0;
	return TG_OK;
}

void
tg__timer_destroy(tg__timer *t)
{
	bool started;

	pthread_mutex_lock(&t->lock);
	t->stop = true;
	started = t->started;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->lock);
	if (started)
		pthread_join(t->thread, NULL);
	tg__free(t->heap);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->lock);
}

/* Heap primitives; the timer's lock is held. */

static void
heap_place(tg__timer *t, size_t i, tg__gcore *gc)
{
	t->heap[i] = gc;
	gc->heap_pos = i;
}

static void
heap_up(tg__timer *t, size_t i)
{
	tg__gcore *gc = t->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (t->heap[parent]->deadline <= gc->deadline)
			break;
		heap_place(t, i, t->heap[parent]);
		i = parent;
	}
	heap_place(t, i, gc);
}

static void
heap_down(tg__timer *t, size_t i)
{
	tg__gcore *gc = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->n)
			break;
		if (c + 1 < t->n && t->heap[c + 1]->deadline < t->heap[c]->deadline)
			c++;
		if (gc->deadline <= t->heap[c]->deadline)
			break;
		heap_place(t, i, t->heap[c]);
		i = c;
	}
	heap_place(t, i, gc);
}

static void
heap_remove(tg__timer *t, tg__gcore *gc)
{
	size_t i = gc->heap_pos;
	tg__gcore *last;

	if (i == NOT_IN_HEAP)
		return;
	gc->heap_pos = NOT_IN_HEAP;
	last = t->heap[--t->n];
	if (last == gc)
		return;
	heap_place(t, i, last);
	heap_up(t, i);
	heap_down(t, last->heap_pos);
}

/* Cancels gc because its deadline passed; the lock is held. */
static void
expire(tg__pool *pool, tg__gcore *gc)
{
	tg__scope_cancel(pool, gc, TG__CANCEL_DEADLINE);
	/* Parked joiners and workers re-check their conditions; running
	 * tasks see the cancellation at their next checkpoint. */
	tg__park_wake(&pool->park);
}

static void *
timer_thread(void *arg)
{
	tg__pool *pool = arg;
	tg__timer *t = &pool->timer;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		int64_t now, when;
		struct timespec ts;

		if (t->n == 0) {
			pthread_cond_wait(&t->cv, &t->lock);
			continue;
		}
		when = t->heap[0]->deadline;
		now = tg_now_ns();
		if (when <= now) {
			tg__gcore *gc = t->heap[0];

			heap_remove(t, gc);
			expire(pool, gc);
			continue;
		}
		ts.tv_sec = (time_t)(when / 1000000000);
		ts.tv_nsec = (long)(when % 1000000000);
		/* A signal, a new earlier deadline or a spurious wake-up
		 * all just loop. */
		(void)pthread_cond_timedwait(&t->cv, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Room for one more entry and a running thread; the lock is held. */
static int
ensure_ready(tg__pool *pool, tg__timer *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap != 0 ? 2 * t->cap : 16;
		tg__gcore **heap = tg__realloc(t->heap, cap * sizeof(*heap));

		if (heap == NULL)
			return TG_ENOMEM;
		t->heap = heap;
		t->cap = cap;
	}
	if (!t->started) {
		if (pthread_create(&t->thread, NULL, timer_thread, pool) != 0)
			return TG_EAGAIN;
		t->started = true;
	}
	return TG_OK;
}

int
tg__timer_set(tg__pool *pool, tg__gcore *gc, int64_t deadline, bool owner)
{
	tg__timer *t = &pool->timer;
	int rc = TG_OK;

	pthread_mutex_lock(&t->lock);
	if (!owner && !gc->timer_open) {
		/* The owner's join would not take the core off the heap. */
		rc = TG_ENOTOWNER;
		goto out;
	}
	/* relaxed: the DEADLINE bit is only set under this lock. */
	if (tg_atomic_load_relaxed_u64(&gc->cancel) & TG__CANCEL_DEADLINE) {
		rc = TG_ESTATE;
		goto out;
	}
	/* The owner set TG__JOIN_DEADLINE: its join resets the deadline and
	 * takes the core off the heap. */
	gc->timer_open = true;
	if (deadline == TG_DEADLINE_NONE) {
		heap_remove(t, gc);
		gc->deadline = deadline;
		goto out;
	}
	if (deadline <= tg_now_ns()) {
		heap_remove(t, gc);
		gc->deadline = deadline;
		expire(pool, gc);
		goto out;
	}
	if (gc->heap_pos == NOT_IN_HEAP) {
		rc = ensure_ready(pool, t);
		if (rc != TG_OK)
			goto out; /* nothing changed */
		gc->deadline = deadline;
		t->heap[t->n] = gc;
		gc->heap_pos = t->n++;
	} else {
		gc->deadline = deadline;
	}
	heap_up(t, gc->heap_pos);
	heap_down(t, gc->heap_pos);
	/* The thread may be sleeping until a later deadline. */
	if (t->heap[0] == gc)
		pthread_cond_signal(&t->cv);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int64_t
tg__timer_deadline(tg__pool *pool, tg__gcore *gc)
{
	tg__timer *t = &pool->timer;
	int64_t deadline;

	pthread_mutex_lock(&t->lock);
	deadline = gc->deadline;
	pthread_mutex_unlock(&t->lock);
	return deadline;
}

void
tg__timer_remove(tg__pool *pool, tg__gcore *gc)
{
	tg__timer *t = &pool->timer;

	pthread_mutex_lock(&t->lock);
	heap_remove(t, gc);
	gc->timer_open = false; /* at rest; later movers are refused */
	pthread_mutex_unlock(&t->lock);
}
