/*
 * blocking.c - tasks that block: blocking regions, compensating workers,
 * the starvation detector, waits that cancellation wakes, tg_sleep, and
 * the hand-off of tasks a join may not run.
 *
 * Theory of operation
 * -------------------
 * The pool's parallelism P (pool->nworkers) is a count of workers that
 * run tasks, not of threads.  A worker inside a blocking region holds its
 * thread but gives up its share of P: tg_blocking_begin publishes its
 * queue (every private item becomes stealable) and counts it in
 * `blocked`; when fewer than P workers are then outside regions and the
 * pool has work to take, a compensating worker starts (or a lingering one
 * is woken).  Compensators live in slots P .. nslots - 1 of the workers
 * array (made on first use, reused afterwards), so the bound is
 * tg_runner_config.max_blocking.  A compensator that finds nothing to run
 * while more than P workers are outside regions is a surplus: it parks
 * for TG__LINGER_NS, and exits if it is still a surplus then.  Go hands
 * its P to another thread on a blocking system call and Java's
 * ForkJoinPool compensates in managedBlock; this is the same bargain.
 *
 * Counts: active (threads running the loop) and blocked change under
 * comp_lock or with seq_cst RMWs; readers outside the lock use them as
 * hints and decide again under the lock.
 *
 * The starvation detector (the monitor thread) covers blocking the
 * library cannot see: a plain read() or usleep(), or a task spinning on a
 * condition with checkpoints.  Each tick it reads every worker's running
 * task (w->current, a relaxed store by the owner that costs nothing more
 * than the plain store it replaced).  When every worker has run the same
 * task for TG__MONITOR_LOOKS ticks (the starvation bound), it asks each
 * of them for work (a checkpointing task then shares its queue) and, if
 * the pool holds work nobody takes, starts a compensator.  Nothing on the
 * task path pays for it; a frame reused by the next task can look like
 * the same task for one tick, which only delays the verdict.
 *
 * Hand-off: a join runs only tasks of its own group's subtree (group.c,
 * design.md "Blocking").  A task it claimed that is not (stolen, or
 * queued above its mark by a spawn into an outer group) goes to the
 * injection queue, which only workers with an empty stack read, and a
 * compensator starts when no worker is idle to take it.  A join that has
 * found nothing it may run for TG__JOIN_STALL_NS counts as blocked until
 * it finds some (tg__join_stalled): work it may not take, queued where
 * no running worker takes it (parties of a barrier on a blocked worker's
 * deque, a handed-off root while every worker has a stack), then gets a
 * compensator, as work queued behind a blocking region does.
 *
 * Cancel waiters (wait.h): a list under waiters_lock of the condition
 * variables of tasks waiting in tg_sleep and tg_barrier_wait, broadcast by
 * every cancellation (tg__scope_cancel).  The SIGINT handler cannot take
 * locks, so the monitor also broadcasts when it sees the epoch move while
 * waiters are registered.
 */
#include <errno.h>
#include <time.h>

#include "taskgroup/blocking.h"
#include "taskgroup/cancel.h"
#include "taskgroup/runner.h"

#include "error_internal.h"
#include "platform.h"
#include "scheduler.h"
#include "wait.h"

/* slot_state of a compensator's slot (under comp_lock). */
enum { SLOT_FREE = 0, SLOT_RUNNING = 1 };

/* The detector decides after this many looks, spread over the bound. */
#define TG__MONITOR_LOOKS 4
/* Shortest tick (a bound below 4 of these ticks this often). */
#define TG__MONITOR_TICK_MIN_NS 200000
/* A task that used at least 1 / this share of a CPU while the detector
 * watched counts as computing, not blocked (computing()). */
#define TG__MONITOR_CPU_SHARE 4
/* While every worker is idle, the detector looks this many times less
 * often. */
#define TG__MONITOR_IDLE_FACTOR 8

static bool
pool_stopping(tg__pool *pool)
{
	/* acquire: pairs with the seq_cst RMW in stop_workers. */
	return tg_atomic_load_acquire_u32(&pool->stop) != 0;
}

/* Workers outside blocking regions, minus the parallelism: < 0 means a
 * compensator is due, > 0 a surplus.  Hints unless under comp_lock. */
static int64_t
running_minus_p(tg__pool *pool)
{
	/* relaxed: hints; the decisions re-read under comp_lock, where
	 * every change of active is made. */
	int64_t a = tg_atomic_load_relaxed_u32(&pool->active);
	int64_t b = tg_atomic_load_relaxed_u32(&pool->blocked);

	return a - b - pool->nworkers;
}

static bool compensate(tg__pool *pool, bool force, bool need_work);

/* A slot for a new compensator (under comp_lock): a free one, or a new
 * one; NULL at the bound or out of memory. */
static tg__worker *
free_slot(tg__pool *pool)
{
	int n = tg__pool_nused(pool), i;
	tg__worker *w;

	for (i = pool->nworkers; i < n; i++)
		if (pool->workers[i]->slot_state == SLOT_FREE)
			return pool->workers[i];
	if (n >= pool->nslots)
		return NULL;
	w = tg__worker_new(pool, n);
	if (w == NULL)
		return NULL;
	pool->workers[n] = w;
	/* release: a reader of the new count sees the slot's worker
	 * (tg__pool_nused's acquire). */
	tg_atomic_store_release_u32(&pool->nused, (uint32_t)n + 1);
	return w;
}

bool
tg__compensate(tg__pool *pool, bool force)
{
	return compensate(pool, force, true);
}

static bool
compensate(tg__pool *pool, bool force, bool need_work)
{
	tg__worker *w;
	bool started = false;

	if (!force && running_minus_p(pool) >= 0)
		return false;
	if (need_work && !tg__pool_has_work(pool, true))
		return false; /* nothing a new worker could take */
	pthread_mutex_lock(&pool->comp_lock);
	if (pool_stopping(pool) || (!force && running_minus_p(pool) >= 0))
		goto out;
	w = free_slot(pool);
	if (w == NULL)
		goto out; /* the bound: the pool runs with fewer workers */
	if (w->joinable) {
		/* Its last thread retired and is exiting (or gone). */
		pthread_join(w->thread, NULL);
		w->joinable = false;
	}
	/* seq_cst RMW: counted before the thread runs, so its own surplus
	 * test sees itself. */
	tg_atomic_faa_seqcst_u32(&pool->active, 1);
	if (pthread_create(&w->thread, &pool->attr, tg__worker_thread, w) !=
	    0) {
		/* seq_cst RMW: undoes the count above (no thread ran). */
		tg_atomic_faa_seqcst_u32(&pool->active, (uint32_t)-1);
		goto out;
	}
	w->slot_state = SLOT_RUNNING;
	w->joinable = true;
	started = true;
	/* relaxed: a statistic. */
	tg_atomic_faa_relaxed_u64(&pool->stat_compensations, 1);
out:
	pthread_mutex_unlock(&pool->comp_lock);
	return started;
}

bool
tg__compensator_retire(tg__worker *w, int64_t *idle_since)
{
	tg__pool *pool = w->pool;
	int64_t now;
	bool retire = false;

	if (running_minus_p(pool) <= 0) {
		*idle_since = 0;
		return false;
	}
	now = tg_now_ns();
	if (*idle_since == 0) {
		*idle_since = now;
		return false;
	}
	if (now - *idle_since < pool->linger_ns)
		return false;
	pthread_mutex_lock(&pool->comp_lock);
	if (running_minus_p(pool) > 0 && !pool_stopping(pool)) {
		/* seq_cst RMW: see tg__compensate. */
		tg_atomic_faa_seqcst_u32(&pool->active, (uint32_t)-1);
		w->slot_state = SLOT_FREE; /* joinable: joined on reuse */
		retire = true;
	} else {
		*idle_since = 0;
	}
	pthread_mutex_unlock(&pool->comp_lock);
	return retire;
}

void
tg__publish(tg__worker *w, bool blocking)
{
	/* Running batches keep their children in their ranges.  A worker
	 * about to block gives all they have not started (the child that
	 * blocks would otherwise hold its later siblings as long as it
	 * blocks); a join that waits gives half of the innermost, as an
	 * answer to a thief does. */
	if (w->batch != NULL) {
		if (blocking)
			tg__batch_give_all(w);
		else if (tg__deque_private_empty(&w->dq))
			tg__batch_split(w);
	}
	if (tg__deque_share_all(&w->dq))
		tg__park_wake(&w->pool->park);
}

bool
tg__in_subtree(const tg__frame *f, const tg__gcore *gc)
{
	const tg__gcore *g;

	/* Every scope on the way is open: f's group waits for f, and each
	 * scope's owner is inside the scope that encloses it. */
	for (g = f->group; g != NULL; g = g->parent_scope)
		if (g == gc)
			return true;
	return false;
}

bool
tg__handoff(tg__worker *w, tg__frame *f)
{
	tg__pool *pool = w->pool;

	/* relaxed: a hint.  An idle worker takes roots; with none, a
	 * compensator must start first, or nobody may ever run f (every
	 * worker may be waiting beneath it): then the caller runs f. */
	if (tg_atomic_load_relaxed_u32(&pool->idle) == 0 &&
	    !compensate(pool, true, false))
		return false;
	/* relaxed: a statistic. */
	tg_atomic_faa_relaxed_u64(&pool->stat_handoffs, 1);
	tg__pool_inject(pool, f);
	return true;
}

void
tg__join_stalled(tg__worker *w, tg__join_stall *st)
{
	tg__pool *pool = w->pool;
	int64_t now = tg_now_ns();

	if (st->since == 0) {
		st->since = now;
		return;
	}
	if (!st->counted) {
		if (now - st->since < TG__JOIN_STALL_NS)
			return;
		st->counted = true;
		/* seq_cst RMW: as tg_blocking_begin's. */
		tg_atomic_faa_seqcst_u32(&pool->blocked, 1);
	}
	/* Again at every spent budget: the work may appear later (a party
	 * queued by a task that then blocks).  Cheap while the pool has
	 * enough running workers or nothing queued. */
	tg__compensate(pool, false);
}

void
tg__join_unstall(tg__worker *w, tg__join_stall *st)
{
	st->since = 0;
	if (!st->counted)
		return;
	st->counted = false;
	/* seq_cst RMW: as tg_blocking_end's. */
	tg_atomic_faa_seqcst_u32(&w->pool->blocked, (uint32_t)-1);
	if (running_minus_p(w->pool) > 0)
		tg__park_wake(&w->pool->park);
}

/* ------------------------------------------------------------------ */
/* Blocking regions                                                     */

int
tg_blocking_begin(void)
{
	tg__worker *w = tg__self();

	if (w == NULL)
		return TG_OK;
	if (w->blocking_depth >= TG_BLOCKING_DEPTH_MAX)
		return TG_EINVAL;
	if (w->blocking_depth++ > 0)
		return TG_OK;
	tg__publish(w, true);
	/* seq_cst RMW: counted before the compensation test reads it. */
	tg_atomic_faa_seqcst_u32(&w->pool->blocked, 1);
	tg__compensate(w->pool, false);
	return TG_OK;
}

int
tg_blocking_end(void)
{
	tg__worker *w = tg__self();

	if (w == NULL)
		return TG_OK;
	if (w->blocking_depth == 0)
		return TG_ESTATE;
	if (--w->blocking_depth > 0)
		return TG_OK;
	/* seq_cst RMW: pairs with the compensators' surplus test. */
	tg_atomic_faa_seqcst_u32(&w->pool->blocked, (uint32_t)-1);
	/* A surplus now: parked compensators look again (and linger). */
	if (running_minus_p(w->pool) > 0)
		tg__park_wake(&w->pool->park);
	return TG_OK;
}

int
tg_blocking_depth(void)
{
	tg__worker *w = tg__self();

	return w != NULL ? (int)w->blocking_depth : 0;
}

/* ------------------------------------------------------------------ */
/* Waits that cancellation wakes (wait.h)                               */

void
tg__cancel_wait_add(tg__cancel_waiter *cw, pthread_mutex_t *mu,
		    pthread_cond_t *cv)
{
	tg__worker *w = tg__self();
	tg__pool *pool;

	cw->pool = NULL;
	if (w == NULL || w->current == NULL)
		return;
	pool = w->pool;
	cw->pool = pool;
	cw->mu = mu;
	cw->cv = cv;
	/* seq_cst RMW: before the waiter's seq_cst epoch load in
	 * tg__cancel_wait_cancelled; pairs with the canceller's epoch RMW
	 * then seq_cst load of nwaiters (store->load, both ways). */
	tg_atomic_faa_seqcst_u32(&pool->nwaiters, 1);
	pthread_mutex_lock(&pool->waiters_lock);
	cw->prev = NULL;
	cw->next = pool->waiters;
	if (pool->waiters != NULL)
		pool->waiters->prev = cw;
	pool->waiters = cw;
	pthread_mutex_unlock(&pool->waiters_lock);
}

void
tg__cancel_wait_remove(tg__cancel_waiter *cw)
{
	tg__pool *pool = cw->pool;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->waiters_lock);
	if (cw->prev != NULL)
		cw->prev->next = cw->next;
	else
		pool->waiters = cw->next;
	if (cw->next != NULL)
		cw->next->prev = cw->prev;
	pthread_mutex_unlock(&pool->waiters_lock);
	/* relaxed: only a hint for cancellers now. */
	tg_atomic_faa_relaxed_u32(&pool->nwaiters, (uint32_t)-1);
	cw->pool = NULL;
}

bool
tg__cancel_wait_cancelled(void)
{
	tg__worker *w = tg__self();
	tg__gcore *scope;

	if (w == NULL || (scope = tg__current_scope(w)) == NULL)
		return false;
	/* seq_cst: the load side of the store->load pair with the
	 * canceller (see tg__cancel_wait_add). */
	(void)tg_atomic_load_seqcst_u64(&w->pool->cancel_epoch);
	return tg__scope_cancelled(w->pool, scope);
}

void
tg__cancel_waiters_wake(tg__pool *pool)
{
	tg__cancel_waiter *cw;

	pthread_mutex_lock(&pool->waiters_lock);
	for (cw = pool->waiters; cw != NULL; cw = cw->next) {
		/* Under the waiter's mutex: it is either before its check
		 * (which then sees the cancellation) or inside its wait. */
		pthread_mutex_lock(cw->mu);
		pthread_cond_broadcast(cw->cv);
		pthread_mutex_unlock(cw->mu);
	}
	pthread_mutex_unlock(&pool->waiters_lock);
}

/* ------------------------------------------------------------------ */
/* tg_sleep                                                             */

static struct timespec
timespec_of(int64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000),
		.tv_nsec = (long)(ns % 1000000000),
	};

	return ts;
}

/* Outside tasks: a plain sleep until deadline (CLOCK_MONOTONIC). */
static void
plain_sleep_until(int64_t deadline)
{
	struct timespec ts = timespec_of(deadline);

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

tg_error *
tg_sleep(int64_t ns)
{
	tg__worker *w = tg__self();
	int64_t deadline;
	pthread_condattr_t attr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	tg__cancel_waiter cw;
	bool cancelled;

	if (ns <= 0) {
		if (tg_cancelled())
			return tg__error_cancelled(__FILE__, __LINE__, __func__);
		return NULL;
	}
	deadline = tg_now_ns() + ns;
	if (w == NULL || w->current == NULL) {
		plain_sleep_until(deadline);
		return NULL;
	}
	if (tg__cancel_wait_cancelled())
		return tg__error_cancelled(__FILE__, __LINE__, __func__);
	if (pthread_condattr_init(&attr) != 0)
		return tg_error_oom();
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&cv, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		return tg_error_oom();
	}
	pthread_condattr_destroy(&attr);
	if (pthread_mutex_init(&mu, NULL) != 0) {
		pthread_cond_destroy(&cv);
		return tg_error_oom();
	}
	(void)tg_blocking_begin(); /* fails only past the depth bound */
	tg__cancel_wait_add(&cw, &mu, &cv);
	pthread_mutex_lock(&mu);
	while (!(cancelled = tg__cancel_wait_cancelled()) &&
	       tg_now_ns() < deadline) {
		struct timespec ts = timespec_of(deadline);

		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
	tg__cancel_wait_remove(&cw);
	(void)tg_blocking_end();
	pthread_mutex_destroy(&mu);
	pthread_cond_destroy(&cv);
	if (cancelled)
		return tg__error_cancelled(__FILE__, __LINE__, __func__);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The starvation detector                                              */

/* CPU time of w's thread in ns; -1 where it cannot be read. */
static int64_t
thread_cpu_ns(const tg__worker *w)
{
	return tg__thread_cpu_ns(w->thread);
}

/* Did w's thread run on a CPU for a good part of the time it has been
 * in its current task?  A task that computes for longer than the bound
 * is not starving anyone (more threads would only share its CPUs); one
 * that sleeps in a system call, or spins with sleeps, uses almost none.
 * Where CPU time cannot be read, the answer is no. */
static bool
computing(const tg__worker *w)
{
	int64_t cpu = thread_cpu_ns(w);
	int64_t wall = tg_now_ns() - w->seen_wall_ns;

	if (cpu < 0 || w->seen_cpu_ns < 0)
		return false;
	return (cpu - w->seen_cpu_ns) * TG__MONITOR_CPU_SHARE >= wall;
}

/* One look at the workers (monitor thread).  Returns whether any ran a
 * task. */
static bool
monitor_look(tg__pool *pool, uint64_t *epoch_seen)
{
	bool any_busy = false, all_stuck = true;
	int n, i, counted = 0;
	/* relaxed: compared with the last look only. */
	uint64_t epoch = tg_atomic_load_relaxed_u64(&pool->cancel_epoch);

	/* A cancellation made where locks cannot be taken (SIGINT) wakes
	 * the waiters here.  seq_cst: as the canceller's read of nwaiters. */
	if (epoch != *epoch_seen &&
	    tg_atomic_load_seqcst_u32(&pool->nwaiters) != 0)
		tg__cancel_waiters_wake(pool);
	*epoch_seen = epoch;
	if (pool->starvation_ns <= 0)
		return false;
	pthread_mutex_lock(&pool->comp_lock);
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++) {
		tg__worker *w = pool->workers[i];
		/* relaxed: the owner's tg__set_current; a changed value is
		 * all that matters. */
		void *cur = tg_atomic_load_relaxed_ptr((void **)&w->current);

		if (i >= pool->nworkers && w->slot_state == SLOT_FREE)
			continue;
		counted++;
		if (cur == NULL) {
			all_stuck = false;
			w->seen_current = NULL;
			w->seen_same = 0;
			continue;
		}
		any_busy = true;
		if (cur != w->seen_current) {
			w->seen_current = cur;
			w->seen_same = 0;
			w->seen_wall_ns = tg_now_ns();
			w->seen_cpu_ns = thread_cpu_ns(w);
			all_stuck = false;
		} else if (++w->seen_same < TG__MONITOR_LOOKS ||
			   computing(w)) {
			all_stuck = false;
		}
	}
	if (all_stuck && counted > 0) {
		/* Every worker has run one task for the whole bound.  Ask
		 * them all to share (a task that checkpoints will). */
		for (i = 0; i < n; i++) {
			tg__worker *w = pool->workers[i];

			tg__deque_request(&w->dq);
			/* release: as ask_for_work (worker.c). */
			tg_atomic_store_release_u32(&w->attention, 1);
			w->seen_same = 0;
		}
	}
	pthread_mutex_unlock(&pool->comp_lock);
	if (all_stuck && counted > 0)
		tg__compensate(pool, true);
	return any_busy;
}

static void *
monitor_thread(void *arg)
{
	tg__pool *pool = arg;
	/* With the detector off, it still broadcasts after SIGINT. */
	int64_t tick = (pool->starvation_ns > 0 ? pool->starvation_ns
						 : TG_STARVATION_NS_DEFAULT) /
		       TG__MONITOR_LOOKS;
	uint64_t epoch_seen = 0;
	bool busy = true;

	if (tick < TG__MONITOR_TICK_MIN_NS)
		tick = TG__MONITOR_TICK_MIN_NS;
	pthread_mutex_lock(&pool->monitor_lock);
	while (!pool->monitor_stop) {
		int64_t wait = busy ? tick : tick * TG__MONITOR_IDLE_FACTOR;
		struct timespec ts = timespec_of(tg_now_ns() + wait);

		pthread_cond_timedwait(&pool->monitor_cond, &pool->monitor_lock,
				       &ts);
		if (pool->monitor_stop)
			break;
		pthread_mutex_unlock(&pool->monitor_lock);
		busy = monitor_look(pool, &epoch_seen);
		pthread_mutex_lock(&pool->monitor_lock);
	}
	pthread_mutex_unlock(&pool->monitor_lock);
	return NULL;
}

int
tg__monitor_start(tg__pool *pool)
{
	pthread_condattr_t attr;

	/* The condition variable waits on CLOCK_MONOTONIC (tg_now_ns). */
	pthread_cond_destroy(&pool->monitor_cond);
	if (pthread_condattr_init(&attr) != 0)
		return TG_EAGAIN;
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&pool->monitor_cond, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		/* Leave a valid condition variable for destroy. */
		pthread_cond_init(&pool->monitor_cond, NULL);
		return TG_EAGAIN;
	}
	pthread_condattr_destroy(&attr);
	if (pthread_create(&pool->monitor, NULL, monitor_thread, pool) != 0)
		return TG_EAGAIN;
	pool->monitor_started = true;
	return TG_OK;
}

void
tg__monitor_stop(tg__pool *pool)
{
	if (!pool->monitor_started)
		return;
	pthread_mutex_lock(&pool->monitor_lock);
	pool->monitor_stop = true;
	pthread_cond_signal(&pool->monitor_cond);
	pthread_mutex_unlock(&pool->monitor_lock);
	pthread_join(pool->monitor, NULL);
	pool->monitor_started = false;
}
