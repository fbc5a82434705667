/*
 * worker.c - what a worker thread does: run frames, find work (own deque,
 * then stealing, then the injection queue), spin, park; plus the per-worker
 * frame cache and task ids.
 *
 * Theory of operation
 * -------------------
 * A worker pops its own deque LIFO and steals FIFO from a random victim,
 * trying first the worker that last stole from it (its "leapfrog hint":
 * whoever stole our tasks is likely to hold their children).  An idle
 * worker spins for TG__SPIN_POLLS polls, then parks on the pool's event
 * count (park.h).  Wake-ups:
 *  - a root injected from outside always wakes sleepers (seq_cst protocol);
 *  - a spawn wakes sleepers only if the relaxed sleeper hint is non-zero.
 *    A spawn that misses a sleeper that is just parking loses no work: the
 *    spawner itself runs its own deque before it can wait on anything, so
 *    the cost is parallelism for a moment, never progress;
 *  - a completion on a worker other than the group owner's wakes with the
 *    seq_cst protocol, because the owner may be parked in its join.
 *
 * Tiny steals.  A steal hands over one task, and it costs both sides
 * cache-line transfers (the slot, the frame going out and coming home, the
 * counters), about 50 ns each on a small VM.  For a flat batch of tasks of
 * a few nanoseconds the thief then slows the spawner down more than it
 * helps: tiny-task batches ran 4-10x slower on 2 workers than on 1.  So a
 * thief times each stolen task (tg__run_found: two clock reads, less than
 * the steal itself costs), and after TG__STEAL_TINY_STREAK
 * consecutive ones shorter than TG__STEAL_TINY_NS it pauses: no steals and
 * no requests for a while (20 us, doubling at each further tiny steal up
 * to 1 ms), so the spawner runs its batch undisturbed.  Only a stolen task
 * that ran longer ends the back-off: a thief that finds nothing to steal
 * keeps it, so a batch of tiny tasks that its spawner shares out bit by
 * bit does not restart the streak each time; work that comes later waits
 * for such a thief at most one pause (1 ms).
 * Never a matter of progress: a worker runs its own deque itself, so no
 * task waits for a steal.  A worker whose own deque is empty sleeps out
 * its pause parked with a deadline (woken early by new roots and by
 * shutdown); a joiner keeps waiting for its children as usual.
 */
#include <sched.h>
#include <string.h>

#include "taskgroup/blocking.h"

#include "alloc.h"
#include "error_internal.h"
#include "scheduler.h"

/* Next unreserved task id (ids start at 1; 0 means "none yet"). */
static TG_ATOMIC(uint64_t) id_counter = 1;


uint64_t
tg__frame_id(tg__frame *f)
{
	/* relaxed: the id is a number; nothing is published with it. */
	uint64_t id = tg_atomic_load_relaxed_u64(&f->id);
	uint64_t mine;

	if (id != 0)
		return id;
	/* relaxed: ids only need to be unique. */
	mine = tg_atomic_faa_relaxed_u64(&id_counter, 1);
	/* seq_cst CAS: one id per task when readers race (a task and a
	 * descendant on another thread); the loser's id goes unused. */
	if (tg_atomic_cas_seqcst_u64(&f->id, 0, mine))
		return mine;
	/* relaxed: the winner's id, written by the CAS that beat ours. */
	return tg_atomic_load_relaxed_u64(&f->id);
}

tg__frame *
tg__frame_alloc_slow(tg__worker *w)
{
	tg__frame *f;

	/* acquire (xchg): pairs with the release CAS in tg__frame_free_slow,
	 * so the returning worker's last writes to each frame are done. */
	f = tg_atomic_xchg_acqrel_ptr(&w->returned_frames, NULL);
	if (f != NULL) {
		/* The cache is empty: the rest of the list becomes it. */
		w->free_frames = f->next;
		return f;
	}
	f = tg__malloc(sizeof(*f));
	if (f != NULL) {
		/* Past the cap, a frame for this task only (freed at its
		 * end: tg__frame_free_slow). */
		if (w->frames_owned < TG__FRAMES_OWNED_MAX) {
			w->frames_owned++;
			f->home = w;
		} else {
			f->home = NULL;
		}
		f->run = NULL; /* a spawned frame, never a root, for life */
		f->open = NULL; /* at rest: see tg__run_body */
	}
	return f;
}

void
tg__frame_free_slow(tg__frame *f)
{
	tg__worker *home = f->home;
	void *head;

	if (home == NULL) {
		/* Made past the cap, or a root's: back to malloc. */
		tg__free(f);
		return;
	}
	if (home == TG__RANGE_HOME) {
		tg__batch_range_free(f); /* a batch's range block */
		return;
	}
	/* Another worker's frame (a stolen task): send it home, so the
	 * spawner keeps reusing its frames instead of calling malloc. */
	do {
		/* relaxed: the CAS re-validates. */
		head = tg_atomic_load_relaxed_ptr(&home->returned_frames);
		f->next = head;
		/* seq_cst CAS (release side): publishes f->next and our last
		 * use of f.  Pairs with the exchange in frame_alloc_slow. */
	} while (!tg_atomic_cas_seqcst_ptr(&home->returned_frames, head, f));
}

void
tg__share_work(tg__worker *w)
{
	/* Nothing private: a running batch gives half of what is left. */
	if (w->batch != NULL && tg__deque_private_empty(&w->dq))
		tg__batch_split(w);
	if (tg__deque_share(&w->dq))
		tg__park_wake(&w->pool->park);
}

void
tg__feed_hungry(tg__worker *w)
{
	if (tg__deque_share_all(&w->dq))
		tg__park_wake(&w->pool->park);
	/* relaxed: the owner's own word; only its own fast paths act on it
	 * (tg__attend clears it and looks again). */
	tg_atomic_store_relaxed_u32(&w->attention, 1);
}

/* w starts (on) or stops (off) looking for work: pool->hungry. */
static void
set_hungry(tg__worker *w, bool *hungry, bool on)
{
	if (*hungry == on)
		return;
	*hungry = on;
	/* relaxed: a hint for spawners (tg__pool_hungry). */
	tg_atomic_faa_relaxed_u32(&w->pool->hungry, on ? 1 : (uint32_t)-1);
}

/* xorshift64*: victim selection only. */
static uint32_t
next_random(tg__worker *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

void
tg__failure_cancel(tg__pool *pool, tg__gcore *gc, const tg_error *err)
{
	if (gc->policy == TG_POLICY_FAIL_FAST || tg__error_is_fatal(err))
		tg__scope_cancel(pool, gc, TG__CANCEL_FAILED);
}

void
tg__record_failure(tg__pool *pool, tg__gcore *gc, tg__frame *f,
		   tg_error *err)
{
	void *head;

	f->error = err;
	do {
		/* relaxed: the CAS below is what publishes. */
		head = tg_atomic_load_relaxed_ptr(&gc->failed);
		f->next = head;
		/* seq_cst CAS (release side): publishes f->error and f->next.
		 * Pairs with the acquire exchange in the join's collect. */
	} while (!tg_atomic_cas_seqcst_ptr(&gc->failed, head, f));
	tg__failure_cancel(pool, gc, err);
}

/* First-success: f succeeded (ran == true) and may be the winner. */
static void
try_win(tg__pool *pool, tg__gcore *gc, tg__frame *f)
{
	/* seq_cst CAS: exactly one child wins.  Its plain store of the arg is
	 * published to the joiner by this child's done count (seq_cst RMW, or
	 * the owner's own thread). */
	if (tg_atomic_cas_seqcst_u32(&gc->won, 0, 1)) {
		gc->winner_arg = f->arg;
		tg__scope_cancel(pool, gc, TG__CANCEL_WON);
	}
}

/* The end of a task (or of a child skipped as cancelled) in the cases
 * that need more than a local count: a root, a failure, a group with
 * hooks, or a completion on a worker other than the group owner's.
 * ran: the body ran (false: skipped as cancelled).  After the count the
 * group may be joined and recycled at once: touch nothing of it
 * afterwards. */
void
tg__finish_frame(tg__worker *w, tg__frame *f, tg_error *err, bool ran)
{
	tg__gcore *gc = f->group;
	/* A success, not a cancellation (which is dropped below). */
	bool succeeded = ran && err == NULL;

	if (f->run != NULL) {
		/* A root: its run is waiting. */
		tg__run_complete(f->run, err);
		tg__frame_free(w, f);
		return;
	}
	if (err != NULL && tg__error_is_cancel(err)) {
		/* Cancellations are never leaves (DESIGN.md 2.4). */
		tg_error_decref(err);
		err = NULL;
	}
	if (err != NULL)
		tg__record_failure(w->pool, gc, f, err);
	if (gc->hooks != 0) {
		if ((gc->hooks & TG__HOOK_FIRST_SUCCESS) && succeeded)
			try_win(w->pool, gc, f);
		if (gc->hooks & TG__HOOK_LIMIT)
			tg__limit_release(w, gc);
	}
	if (gc->owner_worker == w) {
		gc->done_local++;
	} else {
		/* seq_cst RMW: publishes this task's writes (and its failure
		 * record) to the joiner, which reads done_remote with seq_cst;
		 * and orders the count before the sleeper check in
		 * tg__park_wake (the owner may be parked in its join). */
		tg_atomic_faa_seqcst_u64(&gc->done_remote, 1);
		tg__park_wake(&w->pool->park);
	}
	if (err == NULL)
		tg__frame_free(w, f);
}

void
tg__run_frame(tg__worker *w, tg__frame *f)
{
	if (tg__scope_cancelled(w->pool, f->group)) {
		/* Skipped: cancelled before it started; never runs. */
		tg__finish_frame(w, f, NULL, false);
		return;
	}
	tg__run_body(w, f, f->group, false, false);
}

static tg__frame *
inject_take(tg__pool *pool)
{
	tg__frame *f;

	/* relaxed: a hint; the list itself is read under the lock. */
	if (tg_atomic_load_relaxed_u64(&pool->inject_count) == 0)
		return NULL;
	pthread_mutex_lock(&pool->inject_lock);
	f = pool->inject_head;
	if (f != NULL) {
		pool->inject_head = f->next;
		if (pool->inject_head == NULL)
			pool->inject_tail = NULL;
		/* relaxed: under the lock; the count is only a hint. */
		tg_atomic_faa_relaxed_u64(&pool->inject_count, (uint64_t)-1);
	}
	pthread_mutex_unlock(&pool->inject_lock);
	return f;
}

/* Asks victim to share (its private items are invisible from here): the
 * request on its deque, and its attention word, which its fast paths
 * watch instead of the request (tg__attention). */
static void
ask_for_work(tg__worker *victim)
{
	tg__deque_request(&victim->dq);
	/* relaxed load: written only when clear, which keeps the line quiet
	 * while the victim is busy.  release store: a victim that sees it
	 * (the exchange in tg__attend) also sees the request.  A victim that
	 * clears an older setting before our request lands misses it until
	 * we ask again: a moment of parallelism, never work. */
	if (tg_atomic_load_relaxed_u32(&victim->attention) == 0)
		tg_atomic_store_release_u32(&victim->attention, 1);
}

/* ask_for_work to every other worker. */
static void
ask_everyone(tg__worker *w)
{
	int n = tg__pool_nused(w->pool), i;

	for (i = 0; i < n; i++)
		if (w->pool->workers[i] != w)
			ask_for_work(w->pool->workers[i]);
}

static tg__frame *
steal_from(tg__worker *w, tg__worker *victim)
{
	void *item;
	int tries;

	/* A lost race means someone else made progress; retry a little. */
	for (tries = 0; tries < 4; tries++) {
		switch (tg__deque_steal(&victim->dq, &item)) {
		case TG__STEAL_OK:
			/* relaxed: a scheduling hint only. */
			tg_atomic_store_relaxed_u32(&victim->last_thief,
						    (uint32_t)w->index);
			return item;
		case TG__STEAL_EMPTY:
			/* The steal asked the deque; the word too. */
			ask_for_work(victim);
			return NULL;
		case TG__STEAL_LOST:
			break;
		}
	}
	return NULL;
}

/* Is w pausing its steals (see "Tiny steals")?  Ends a pause whose time
 * is up. */
static bool
steal_paused(tg__worker *w)
{
	if (w->steal_resume_ns == 0)
		return false;
	if (tg_now_ns() < w->steal_resume_ns)
		return true;
	w->steal_resume_ns = 0;
	return false;
}

void
tg__steal_account(tg__worker *w, int64_t ran_ns, int64_t now)
{
	if (ran_ns >= TG__STEAL_TINY_NS) {
		w->tiny_steals = 0;
		w->steal_pause_ns = 0;
		return;
	}
	if (++w->tiny_steals < TG__STEAL_TINY_STREAK)
		return;
	w->tiny_steals = TG__STEAL_TINY_STREAK; /* no wrap */
	if (w->steal_pause_ns == 0)
		w->steal_pause_ns = TG__STEAL_PAUSE_MIN_NS;
	else if (w->steal_pause_ns < TG__STEAL_PAUSE_MAX_NS / 2)
		w->steal_pause_ns *= 2;
	else
		w->steal_pause_ns = TG__STEAL_PAUSE_MAX_NS;
	w->steal_resume_ns = now + w->steal_pause_ns;
}

void
tg__run_found(tg__worker *w, tg__frame *f, bool stolen)
{
	int64_t start, end;

	if (!stolen) {
		tg__run_frame(w, f);
		return;
	}
	start = tg_now_ns();
	tg__run_frame(w, f);
	end = tg_now_ns();
	tg__steal_account(w, end - start, end);
}

tg__frame *
tg__find_work(tg__worker *w, bool take_roots, bool *stolen)
{
	tg__pool *pool = w->pool;
	int n = tg__pool_nused(pool);
	tg__frame *f;
	uint32_t hint;
	int start, i;

	*stolen = false;
	if (tg__deque_wanted(&w->dq))
		tg__share_work(w);
	f = tg__deque_take(&w->dq);

	if (f != NULL || n == 1 || steal_paused(w))
		goto roots;
	/* relaxed: a hint (see steal_from). */
	hint = tg_atomic_load_relaxed_u32(&w->last_thief);
	if (hint < (uint32_t)n && hint != (uint32_t)w->index) {
		f = steal_from(w, pool->workers[hint]);
		if (f != NULL)
			goto stolen;
	}
	start = (int)(next_random(w) % (uint32_t)n);
	for (i = 0; i < n; i++) {
		tg__worker *victim = pool->workers[(start + i) % n];

		if (victim == w)
			continue;
		if (tg__deque_looks_empty(&victim->dq)) {
			/* Nothing public: ask for a share instead. */
			ask_for_work(victim);
			continue;
		}
		f = steal_from(w, victim);
		if (f != NULL)
			goto stolen;
	}
roots:
	if (f == NULL && take_roots)
		f = inject_take(pool);
	return f;
stolen:
	*stolen = true;
	return f;
}

bool
tg__pool_has_work(tg__pool *pool, bool roots)
{
	int i, n;

	/* seq_cst: the parking re-check (park.h) pairs with the injector's
	 * seq_cst increment. */
	if (roots && tg_atomic_load_seqcst_u64(&pool->inject_count) != 0)
		return true;
	n = tg__pool_nused(pool);
	for (i = 0; i < n; i++)
		if (!tg__deque_looks_empty(&pool->workers[i]->dq))
			return true;
	return false;
}

tg__frame *
tg__find_work_for_join(tg__worker *w, const tg__gcore *gc, bool *stolen)
{
	tg__pool *pool = w->pool;
	int n = tg__pool_nused(pool);
	tg__worker *v = w;
	tg__frame *f;
	int hop;

	*stolen = false;
	if (tg__deque_wanted(&w->dq))
		tg__share_work(w);
	/* Our own queue only above the group's mark: below it lie tasks
	 * of the groups beneath us on this stack. */
	if (w->dq.bottom > gc->dq_mark) {
		f = tg__deque_take(&w->dq);
		if (f != NULL)
			return f;
	}
	if (n == 1 || steal_paused(w))
		return NULL;
	/* Leapfrogging: the worker that last stole from us most likely
	 * runs our children, and its queue holds their descendants; if it
	 * has nothing public, whoever last stole from it, and so on. */
	for (hop = 0; hop < TG__LEAPFROG_HOPS; hop++) {
		/* relaxed: a hint (see steal_from). */
		uint32_t h = tg_atomic_load_relaxed_u32(&v->last_thief);
		tg__worker *victim;

		if (h >= (uint32_t)n || h == (uint32_t)w->index)
			break;
		victim = pool->workers[h];
		if (tg__deque_looks_empty(&victim->dq)) {
			ask_for_work(victim);
		} else {
			f = steal_from(w, victim);
			if (f != NULL) {
				*stolen = true;
				return f;
			}
		}
		v = victim;
	}
	return NULL;
}

static bool
stopping(tg__pool *pool)
{
	/* acquire: pairs with the seq_cst RMW in tg__pool_destroy. */
	return tg_atomic_load_acquire_u32(&pool->stop) != 0;
}

void
tg__idle(tg__worker *w, unsigned *polls, bool roots,
	 bool (*keep_waiting)(void *), void *arg)
{
	tg__pool *pool = w->pool;
	uint32_t snap;

	if (++*polls < TG__SPIN_POLLS) {
		tg_atomic_pause();
		if ((*polls & 63) == 0)
			sched_yield(); /* let an oversubscribed sibling run */
		return;
	}
	/* A last request to every worker before sleeping: one whose task
	 * runs on with private work (a child that blocks without a
	 * checkpoint comes next) answers it at its next spawn or join step
	 * and wakes us (design.md, "Blocking"). */
	ask_everyone(w);
	/* The park.h protocol: announce, re-check, then wait. */
	snap = tg__park_prepare(&pool->park);
	if (keep_waiting(arg) && !tg__pool_has_work(pool, roots))
		tg__park_wait(&pool->park, snap);
	tg__park_done(&pool->park);
	*polls = 0;
}

static bool
not_stopping(void *pool)
{
	return !stopping(pool);
}

/* A worker with nothing of its own to run, pausing its steals: parked
 * until the pause ends, or earlier for a new root or shutdown (both
 * wake every sleeper). */
static void
sleep_until(tg__worker *w, int64_t deadline_ns)
{
	tg__pool *pool = w->pool;
	uint32_t snap = tg__park_prepare(&pool->park);

	/* seq_cst (inject_count): the park.h re-check, as in
	 * tg__pool_has_work. */
	if (!stopping(pool) &&
	    tg_atomic_load_seqcst_u64(&pool->inject_count) == 0)
		tg__park_wait_until(&pool->park, snap, deadline_ns);
	tg__park_done(&pool->park);
}

static void
sleep_out_pause(tg__worker *w)
{
	sleep_until(w, w->steal_resume_ns);
}

/* A task at the top of a worker's stack returned with blocking regions
 * open (tg_blocking_end not called): they end with it. */
static void
close_blocking(tg__worker *w)
{
	w->blocking_depth = 1;
	(void)tg_blocking_end();
}

void
tg__worker_loop(tg__worker *w)
{
	unsigned polls = 0;
	int64_t surplus_since = 0;
	bool compensator = w->index >= w->pool->nworkers;
	bool idle = false, hungry = false;

	for (;;) {
		bool stolen;
		tg__frame *f = tg__find_work(w, true, &stolen);

		if (f != NULL) {
			if (idle) {
				/* relaxed: a hint for tg__handoff. */
				tg_atomic_faa_relaxed_u32(&w->pool->idle,
							  (uint32_t)-1);
				idle = false;
			}
			set_hungry(w, &hungry, false);
			tg__run_found(w, f, stolen);
			if (__builtin_expect(w->blocking_depth != 0, 0))
				close_blocking(w);
			polls = 0;
			surplus_since = 0;
			continue;
		}
		if (stopping(w->pool))
			break;
		if (!idle) {
			/* relaxed: a hint for tg__handoff. */
			tg_atomic_faa_relaxed_u32(&w->pool->idle, 1);
			idle = true;
		}
		if (compensator && tg__compensator_retire(w, &surplus_since))
			break;
		if (steal_paused(w)) {
			set_hungry(w, &hungry, false);
			sleep_out_pause(w);
			continue;
		}
		if (surplus_since != 0) {
			/* A surplus compensator: parked until its lingering
			 * ends, or earlier for new work. */
			set_hungry(w, &hungry, false);
			sleep_until(w, surplus_since + w->pool->linger_ns);
			continue;
		}
		set_hungry(w, &hungry, true);
		tg__idle(w, &polls, true, not_stopping, w->pool);
	}
	set_hungry(w, &hungry, false);
	if (idle)
		tg_atomic_faa_relaxed_u32(&w->pool->idle, (uint32_t)-1);
}
