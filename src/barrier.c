/*
 * barrier.c - asyncio.Barrier (taskgroup/barrier.h).
 *
 * Theory of operation
 * -------------------
 * CPython's state machine (Lib/asyncio/locks.py), under one mutex with one
 * condition variable that every change of state broadcasts:
 *
 *   FILLING    arrivals are counted (count) and wait for the round to fill;
 *   DRAINING   the last arrival released the round; its waiters leave, and
 *              new arrivals wait until the last has left (count 0), which
 *              makes the state FILLING again;
 *   RESETTING  tg_barrier_reset with waiters inside: they leave broken, and
 *              new arrivals wait for the last of them, as for a drain;
 *   BROKEN     tg_barrier_abort: every wait fails until a reset.
 *
 * Two refinements over CPython, where a thread pool makes its races real:
 *  - round counts released rounds.  A waiter that sees it move was
 *    released and returns its index, even if an abort, a reset or a
 *    cancellation came before it woke (CPython raises BrokenBarrierError
 *    when an abort slips in before the released task runs again).
 *  - A waiter that leaves cancelled while its round fills gives its place
 *    to those that arrived after it (their indexes move down by one), so
 *    a round's indexes stay distinct (CPython hands the next arrival an
 *    index that a waiter already holds).  The round's waiters are a list
 *    on their stacks, in arrival order, for that.
 *
 * A waiter that has to wait enters a blocking region and registers with
 * its pool's cancel waiters (wait.h), both without the mutex: it unlocks,
 * does both, locks again and looks at the state afresh.  The last arrival
 * and every wait that fails at once pay for neither.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "taskgroup/barrier.h"
#include "taskgroup/blocking.h"
#include "taskgroup/cancel.h"

#include "alloc.h"
#include "error_internal.h"
#include "wait.h"

enum { FILLING, DRAINING, RESETTING, BROKEN };

/* A waiter of the round being filled, on its own stack. */
typedef struct waiter {
	int index; /* moves down when an earlier waiter leaves cancelled */
	struct waiter *prev, *next;
} waiter;

/* The shared state (tg__malloc'd).  Everything but parties under mu. */
typedef struct block {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast on every change of state or round */
	int parties;       /* constant */
	int count;         /* asyncio's _count: arrivals not yet left */
	int state;
	int users;      /* threads inside tg_barrier_wait: destroy's EBUSY */
	uint64_t round; /* rounds released */
	waiter *head, *tail; /* the filling round's waiters, oldest first */
} block;

/* The caller's handle, in tg_barrier's opaque storage. */
typedef struct handle {
	uint64_t magic; /* HANDLE_MAGIC while initialised */
	block *blk;
} handle;

_Static_assert(sizeof(handle) <= sizeof(tg_barrier), "tg_barrier too small");
_Static_assert(_Alignof(handle) <= _Alignof(tg_barrier),
	       "tg_barrier alignment");

/* "tgbarr1\0": zeroed, stale or destroyed storage does not match. */
#define HANDLE_MAGIC UINT64_C(0x7467626172723100)

/* What a wait ended with. */
enum { OUT_INDEX, OUT_BROKEN, OUT_RESET, OUT_CANCELLED };

/* b's block, or NULL when b is NULL or not an initialised barrier. */
static block *
block_of(const tg_barrier *b)
{
	const handle *h;

	if (b == NULL)
		return NULL;
	h = (const handle *)(const void *)b->opaque;
	return h->magic == HANDLE_MAGIC ? h->blk : NULL;
}

int
tg_barrier_init(tg_barrier *b, int parties)
{
	handle *h;
	block *k;

	if (b == NULL || parties < 1)
		return TG_EINVAL;
	k = tg__malloc(sizeof(*k));
	if (k == NULL)
		return TG_ENOMEM;
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		tg__free(k);
		return TG_EAGAIN;
	}
	if (pthread_cond_init(&k->cv, NULL) != 0) {
		pthread_mutex_destroy(&k->mu);
		tg__free(k);
		return TG_EAGAIN;
	}
	k->parties = parties;
	k->count = 0;
	k->state = FILLING;
	k->users = 0;
	k->round = 0;
	k->head = k->tail = NULL;
	/* The whole storage, so that no stale byte outlives a re-init. */
	memset(b, 0, sizeof(*b));
	h = (handle *)(void *)b->opaque;
	h->magic = HANDLE_MAGIC;
	h->blk = k;
	return TG_OK;
}

/* Called with k->mu held, before the first wait: enters a blocking region
 * and registers with the pool's cancel waiters, both without the mutex
 * (wait.h's lock order).  The caller must look at the state again. */
static void
sleep_prepare(block *k, tg__cancel_waiter *cw, bool *region)
{
	pthread_mutex_unlock(&k->mu);
	/* Fails only past the depth bound: the wait goes on outside one. */
	*region = tg_blocking_begin() == TG_OK;
	tg__cancel_wait_add(cw, &k->mu, &k->cv);
	pthread_mutex_lock(&k->mu);
}

static void
list_push(block *k, waiter *me)
{
	me->next = NULL;
	me->prev = k->tail;
	if (k->tail != NULL)
		k->tail->next = me;
	else
		k->head = me;
	k->tail = me;
}

static void
list_remove(block *k, waiter *me)
{
	if (me->prev != NULL)
		me->prev->next = me->next;
	else
		k->head = me->next;
	if (me->next != NULL)
		me->next->prev = me->prev;
	else
		k->tail = me->prev;
}

/* asyncio's `finally: count -= 1; _exit()`: the last to leave a drain or
 * a reset opens the next round. */
static void
leave_counted(block *k)
{
	if (--k->count == 0) {
		if (k->state == RESETTING || k->state == DRAINING)
			k->state = FILLING;
		pthread_cond_broadcast(&k->cv);
	}
}

tg_error *
tg_barrier_wait(tg_barrier *b, int *index)
{
	block *k = block_of(b);
	tg__cancel_waiter cw;
	bool sleeping = false, region = false;
	uint64_t round;
	waiter me;
	int outcome;

	if (k == NULL)
		return tg__error_usage(TG_EINVAL, NULL,
				       "tg_barrier_wait: not an initialised "
				       "barrier");
	/* A checkpoint: a cancelled task does not arrive at all. */
	if (tg_cancelled())
		return tg__error_cancelled(__FILE__, __LINE__, __func__);

	pthread_mutex_lock(&k->mu);
	k->users++;
	/* _block: wait for the drain or the reset to end. */
	while (k->state == DRAINING || k->state == RESETTING) {
		if (!sleeping) {
			sleep_prepare(k, &cw, &region);
			sleeping = true;
			continue;
		}
		if (tg__cancel_wait_cancelled())
			break;
		pthread_cond_wait(&k->cv, &k->mu);
	}
	if (k->state == BROKEN) {
		outcome = OUT_BROKEN;
		goto out;
	}
	if (k->state != FILLING || (sleeping && tg__cancel_wait_cancelled())) {
		outcome = OUT_CANCELLED; /* not counted: nothing to undo */
		goto out;
	}

	me.index = k->count++;
	if (me.index + 1 == k->parties) {
		/* _release: the round is full. */
		k->state = DRAINING;
		k->round++;
		pthread_cond_broadcast(&k->cv);
		outcome = OUT_INDEX;
		leave_counted(k);
		goto out;
	}
	/* _wait: for the round to fill (round moves), or to break. */
	round = k->round;
	list_push(k, &me);
	while (k->round == round && k->state == FILLING) {
		if (!sleeping) {
			sleep_prepare(k, &cw, &region);
			sleeping = true;
			continue;
		}
		if (tg__cancel_wait_cancelled())
			break; /* leaves below, no longer counted */
		pthread_cond_wait(&k->cv, &k->mu);
	}
	list_remove(k, &me);
	if (k->round != round) {
		outcome = OUT_INDEX; /* released, whatever came after */
	} else if (k->state != FILLING) {
		outcome = OUT_RESET; /* BROKEN or RESETTING */
	} else {
		waiter *w;

		/* Cancelled while filling: the later arrivals move up. */
		for (w = me.next; w != NULL; w = w->next)
			w->index--;
		outcome = OUT_CANCELLED;
	}
	leave_counted(k);

out:
	if (sleeping) {
		pthread_mutex_unlock(&k->mu);
		tg__cancel_wait_remove(&cw);
		if (region)
			(void)tg_blocking_end();
		/* Counted out only now: the pool no longer knows mu and cv,
		 * so destroy may free them. */
		pthread_mutex_lock(&k->mu);
	}
	k->users--;
	pthread_mutex_unlock(&k->mu);

	switch (outcome) {
	case OUT_INDEX:
		if (index != NULL)
			*index = me.index;
		return NULL;
	case OUT_BROKEN:
		return TG_RAISE(&tg_BrokenBarrierError, "barrier aborted");
	case OUT_RESET:
		return TG_RAISE(&tg_BrokenBarrierError,
				"barrier aborted or reset during the wait");
	default:
		return tg__error_cancelled(__FILE__, __LINE__, __func__);
	}
}

int
tg_barrier_abort(tg_barrier *b)
{
	block *k = block_of(b);

	if (k == NULL)
		return TG_EINVAL;
	pthread_mutex_lock(&k->mu);
	k->state = BROKEN;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return TG_OK;
}

int
tg_barrier_reset(tg_barrier *b)
{
	block *k = block_of(b);

	if (k == NULL)
		return TG_EINVAL;
	pthread_mutex_lock(&k->mu);
	/* With arrivals inside, the last of them to leave opens the next
	 * round (leave_counted). */
	k->state = k->count > 0 ? RESETTING : FILLING;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return TG_OK;
}

bool
tg_barrier_broken(const tg_barrier *b)
{
	block *k = block_of(b);
	bool broken;

	if (k == NULL)
		return false;
	pthread_mutex_lock(&k->mu);
	broken = k->state == BROKEN;
	pthread_mutex_unlock(&k->mu);
	return broken;
}

int
tg_barrier_n_waiting(const tg_barrier *b)
{
	block *k = block_of(b);
	int n;

	if (k == NULL)
		return TG_EINVAL;
	pthread_mutex_lock(&k->mu);
	n = k->state == FILLING ? k->count : 0;
	pthread_mutex_unlock(&k->mu);
	return n;
}

int
tg_barrier_parties(const tg_barrier *b)
{
	block *k = block_of(b);

	/* parties never changes after init. */
	return k != NULL ? k->parties : TG_EINVAL;
}

int
tg_barrier_destroy(tg_barrier *b)
{
	block *k = block_of(b);
	int users;

	if (k == NULL)
		return TG_EINVAL;
	pthread_mutex_lock(&k->mu);
	users = k->users;
	pthread_mutex_unlock(&k->mu);
	if (users != 0)
		return TG_EBUSY;
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	tg__free(k);
	memset(b, 0, sizeof(*b));
	return TG_OK;
}
