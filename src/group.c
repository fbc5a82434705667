/*
 * group.c - task groups: open, join with help, cancel (spawning:
 * group_spawn.c).
 *
 * Theory of operation
 * -------------------
 * The caller's tg_group is a handle; the shared state is a group core
 * (scheduler.h) from the owning worker's cache, so children never touch the
 * caller's storage and a group the owner forgets to join can still be
 * joined safely by the runtime when the owner returns.
 *
 * Counting without locked instructions on the common path: a spawn made
 * on the owner's thread bumps an owner-only counter, as does a child that
 * finishes on the owner's thread (popped from its own deque, not stolen).
 * Spawns and completions on other threads use the shared counters with
 * seq_cst read-modify-writes.  The group is done when
 *     spawned_local + spawned_remote == done_local + done_remote.
 * A remote spawn is made by a task inside the group's subtree (or by one
 * that otherwise knows the group is open), so it happens before that
 * task's own completion is counted; the joiner reads done_remote before
 * spawned_remote, so it cannot see a completion without the spawns that
 * preceded it.
 *
 * Errors: a failing child pushes its frame on the core's lock-free failed
 * list (worker.c); the joiner takes the whole list once the group is done,
 * sorts it by spawn key and builds the group node, the body's error last.
 */
#include <errno.h>

#include "taskgroup/cancel.h"
#include "taskgroup/group.h"

#include "alloc.h"
#include "error_internal.h"
#include "group_handle.h"
#include "scheduler.h"

/* Cores in a worker's cache are at rest: no failures, no cancel bits,
 * remote counters 0, equal local counters, default options (fail-fast, no
 * limit, no hooks, no name), join_flags 0, and owner_worker the worker
 * whose cache holds them (a core never changes worker: the join that
 * frees it runs on the thread that opened it).  Fresh cores get this from
 * calloc and core_alloc, recycled ones because the join restores whatever
 * its group changed.  So the init fast path writes only what depends on
 * where the group opens. */
tg__gcore *
tg__gcore_new(void)
{
	void *raw;
	tg__gcore *gc = tg__calloc_line(sizeof(*gc), &raw);

	if (gc == NULL)
		return NULL;
	gc->raw = raw;
	gc->deadline = TG_DEADLINE_NONE;
	gc->heap_pos = SIZE_MAX;
	return gc;
}

static inline tg__gcore *
core_alloc(tg__worker *w)
{
	tg__gcore *gc = w->free_cores;

	if (gc != NULL) {
		w->free_cores = gc->next_free;
		return gc;
	}
	/* Cores stay in the worker's list until the pool is destroyed. */
	gc = tg__gcore_new();
	if (gc == NULL)
		return NULL;
	gc->owner_worker = w;
	gc->all_next = w->all_cores;
	w->all_cores = gc;
	return gc;
}

static inline void
core_free(tg__worker *w, tg__gcore *gc)
{
	gc->next_free = w->free_cores;
	w->free_cores = gc;
}

/* Opens gc, a core of w at rest (core_alloc) with its options set, for
 * the running task cur of w, in the enclosing scope scope, with the memo
 * seeded for epoch (cancelled: the enclosing scope is), and points g's
 * handle at it.  The local counters keep their (equal) values: keys only
 * order one group's children. */
static inline __attribute__((always_inline)) void
core_open(tg__worker *w, tg__frame *cur, tg__gcore *gc, tg__gcore *scope,
	  uint64_t epoch, bool cancelled, tg_group *g)
{
	handle *h = handle_of(g);

	gc->owner = cur;
	/* The spawn fast path's gate: a core at rest has no limit, and
	 * init_slow clears it for a limited group. */
	gc->spawn_owner = cur;
	gc->enclosing = cur->open;
	gc->parent_scope = scope;
	gc->depth = cur->group->depth + 1;
	gc->dq_mark = w->dq.bottom;
	/* relaxed: the core reaches other threads inside the frames of its
	 * children, published by the deque's release store of split. */
	tg_atomic_store_relaxed_u64(&gc->memo, epoch << 1 | cancelled);
	cur->open = gc;
	h->core = gc;
	/* relaxed: same publication as the core. */
	tg_atomic_store_relaxed_u64(&h->state, HANDLE_OPEN);
}

/* Back to the default options (the at-rest state). */
static inline void
core_defaults(tg__gcore *gc)
{
	gc->policy = TG_POLICY_FAIL_FAST;
	gc->limit = 0;
	gc->hooks = 0;
	gc->eager = false;
	gc->name = NULL;
}

/* Is g a group cur has open (an `async with` entered twice)?  Storage
 * that merely looks open (left over from an earlier frame) names a core
 * that is not on cur's chain of open groups; the pointer is compared,
 * never followed. */
static bool
still_open(const tg__frame *cur, tg_group *g)
{
	const tg__gcore *gc;
	handle *h = handle_of(g);

	/* relaxed: g is the calling task's (or garbage). */
	if (tg_atomic_load_relaxed_u64(&h->state) != HANDLE_OPEN)
		return false;
	for (gc = cur->open; gc != NULL; gc = gc->enclosing)
		if (gc == h->core)
			return true;
	return false;
}

/* tg_group_init when its fast path does not apply: the general init. */
static TG__COLD int
init_slow(tg_group *g, const tg_group_options *opts)
{
	tg__worker *w = tg__self();
	tg__gcore *gc, *scope;
	uint64_t epoch;
	bool cancelled;
	int policy = opts != NULL ? opts->policy : TG_POLICY_FAIL_FAST;
	int limit = opts != NULL ? opts->limit : 0;

	/* One unsigned compare covers negative and unknown policies. */
	if (g == NULL || limit < 0 ||
	    (unsigned)policy > (unsigned)TG_POLICY_FIRST_SUCCESS)
		return TG_EINVAL;
	if (w == NULL || w->current == NULL)
		return TG_ENOTASK;
	if (still_open(w->current, g))
		return TG_ESTATE;
	gc = core_alloc(w);
	if (gc == NULL)
		return TG_ENOMEM;
	if (opts != NULL && (policy != TG_POLICY_FAIL_FAST || limit != 0 ||
			     opts->name != NULL || opts->eager)) {
		/* Not the defaults: the join restores them. */
		gc->join_flags |= TG__JOIN_OPTIONS;
		gc->policy = policy;
		gc->limit = (uint32_t)limit;
		gc->hooks = (limit != 0 ? TG__HOOK_LIMIT : 0) |
			    (policy == TG_POLICY_FIRST_SUCCESS
				     ? TG__HOOK_FIRST_SUCCESS
				     : 0);
		gc->name = opts->name;
		gc->eager = opts->eager;
	}
	/* Seed the memo: a new scope is cancelled exactly when its enclosing
	 * scope is.  The epoch is read first, so the memo can only be older
	 * than the answer, never newer. */
	scope = tg__current_scope(w);
	epoch = tg_atomic_load_acquire_u64(&w->pool->cancel_epoch);
	cancelled = scope != NULL && tg__scope_cancelled(w->pool, scope);
	core_open(w, w->current, gc, scope, epoch, cancelled, g);
	if (gc->limit != 0 || gc->eager)
		gc->spawn_owner = NULL; /* a slot first, or run at once */
	return TG_OK;
}

/*
 * The fast path: default options, a cached core, and an enclosing scope
 * (every task has one) whose fresh memo says "not cancelled" (so the new
 * scope's memo is the same "not cancelled" at this epoch).  Anything
 * else: init_slow.
 */
TG__HOT_ALIGN int
tg_group_init(tg_group *g, const tg_group_options *opts)
{
	/* tg__no_worker on other threads: no current task, so init_slow. */
	tg__worker *w = tg__self_or_none();
	tg__frame *cur;
	tg__gcore *gc, *scope;
	uint64_t epoch;

#ifdef TG_TEST_EAGER_ALL
	/* The tests' every-spawn-eager build (tests/CMakeLists.txt): every
	 * group as if opened with .eager = 1; never in the real library. */
	tg_group_options o = opts != NULL ? *opts : (tg_group_options){ 0 };

	o.eager = 1;
	return init_slow(g, &o);
#endif
	/* relaxed (state): g is the calling task's; an open-looking handle
	 * goes to init_slow, which refuses one that is still open. */
	if (__builtin_expect(g == NULL, 0) || __builtin_expect(opts != NULL, 0) ||
	    __builtin_expect(tg_atomic_load_relaxed_u64(&handle_of(g)->state) ==
				     HANDLE_OPEN,
			     0))
		return init_slow(g, opts);
	cur = w->current;
	gc = w->free_cores;
	if (__builtin_expect(cur == NULL || gc == NULL, 0))
		return init_slow(g, opts);
	/* tg__current_scope: most groups are their task's first.  Never
	 * NULL: every task has a group (a root: its run's root scope). */
	scope = __builtin_expect(cur->open == NULL, 1) ? cur->group : cur->open;
	/* acquire / relaxed: as in tg__scope_cancelled; the epoch first, as
	 * in init_slow.  Not the attention word (tg__attention), as spawn
	 * and join use: the new memo must be right for the epoch it names,
	 * and a canceller sets the word only after bumping the epoch, so a
	 * clear word read with a new epoch proves nothing about it. */
	epoch = tg_atomic_load_acquire_u64(&w->pool->cancel_epoch);
	if (__builtin_expect(tg_atomic_load_relaxed_u64(&scope->memo) !=
				     epoch << 1,
			     0))
		return init_slow(g, opts);
	w->free_cores = gc->next_free;
	core_open(w, cur, gc, scope, epoch, false, g);
	return TG_OK;
}

static bool
group_done(tg__gcore *gc)
{
	/* seq_cst: pairs with the seq_cst increment of done_remote in
	 * tg__finish_frame (worker.c), both as the acquire side of the
	 * children's writes and as the park re-check (park.h).  Read before
	 * spawned_remote (see the theory above). */
	uint64_t done = tg_atomic_load_seqcst_u64(&gc->done_remote);
	/* relaxed: ordered after the load above, whose acquire covers the
	 * spawns made before the completions it counts. */
	uint64_t spawned = tg_atomic_load_relaxed_u64(&gc->spawned_remote);

	return gc->spawned_local + spawned == gc->done_local + done;
}

static bool
children_pending(void *gc)
{
	return !group_done(gc);
}

/* f, which the join of gc found, runs here only when it is in gc's
 * subtree: anything else could wait for the task beneath us (a sibling
 * of ours waiting for our group's cancellation, which needs us to
 * return), so it goes to a worker with an empty stack (design.md,
 * "Blocking").  stolen: as tg__find_work says. */
static void
run_or_hand_off(tg__worker *w, tg__frame *f, tg__gcore *gc, bool stolen)
{
	if (f->group == gc || tg__in_subtree(f, gc) || !tg__handoff(w, f))
		tg__run_found(w, f, stolen);
}

/* Helps until every child of gc has finished: runs its own deque, steals
 * (leapfrog hint first), and parks only when nothing is runnable. */
static void
wait_children_slow(tg__worker *w, tg__gcore *gc)
{
	unsigned polls = 0;
	tg__join_stall stall = {0, false};

	/* A worker that waits must not hold work others could run: the
	 * tasks queued beneath this group (of the groups beneath us on this
	 * stack) go public, for workers that may run them. */
	tg__publish(w, false);
	while (!group_done(gc)) {
		/* Shares with a thief that asked, takes above the mark,
		 * steals along the leapfrog chain. */
		bool stolen;
		tg__frame *f = tg__find_work_for_join(w, gc, &stolen);

		if (f != NULL) {
			tg__join_unstall(w, &stall);
			run_or_hand_off(w, f, gc, stolen);
			polls = 0;
			continue;
		}
		/* The poll budget is spent: a join that stays without work
		 * it may run counts as blocked (work outside its subtree
		 * gets a compensator; blocking.c). */
		if (polls + 1 >= TG__SPIN_POLLS)
			tg__join_stalled(w, &stall);
		tg__idle(w, &polls, false, children_pending, gc);
	}
	tg__join_unstall(w, &stall);
}

/* wait_queued when w's attention word is set: answer it (tg__attend:
 * share with a thief that asked, look at gc's scope chain).  gc live:
 * one step of the loop (take the newest queued task and run it).  gc
 * cancelled: it stays so until this join ends (level-triggered), so every
 * child of gc still queued is skipped here, each in a few instructions
 * and without a look at the word (the owner counts it: gc->owner_worker
 * is w); other groups' tasks run (tg__run_frame looks at their scopes).
 * false when the rest was stolen. */
static TG__COLD bool
wait_attended(tg__worker *w, tg__gcore *gc)
{
	tg__frame *f;
	/* relaxed: a hint, as every read of want. */
	bool asked = tg__deque_wanted(&w->dq);

	if (!tg__attend(w)) {
		/* A thief asked, and the child we run next may block
		 * without a checkpoint (a read, a sleep): everything else
		 * queued here goes public now, or idle workers would wait
		 * for it as long as the child blocks (design.md,
		 * "Blocking").  Only here, where a request came: the join's
		 * fast loop never pays for it. */
		if (asked)
			tg__publish(w, false);
		f = tg__deque_take(&w->dq);
		if (f == NULL)
			return false;
		if (f->group == gc)
			tg__run_body(w, f, gc, true, false);
		else
			run_or_hand_off(w, f, gc, false);
		return true;
	}
	while (w->dq.bottom > gc->dq_mark) {
		f = tg__deque_take(&w->dq);
		if (f == NULL)
			return false;
		if (f->group != gc) {
			run_or_hand_off(w, f, gc, false);
		} else if (gc->hooks == 0) {
			gc->done_local++; /* skipped: cancelled, never run */
			tg__frame_free(w, f);
		} else {
			tg__finish_frame(w, f, NULL, false); /* hooks */
		}
	}
	return true;
}

/* The fast part: what this task queued since the group opened (above
 * dq_mark: the group's children, and tasks its helpers spawned into other
 * groups), LIFO from the private end of the deque, without the shared
 * counters; then, if children are still out (stolen), the slow loop.
 * gc is the running task's scope (its innermost open group: every join
 * checks that), so a clear attention word (tg__attention) says at once
 * that no thief asked and gc is not cancelled; a set one sends the step
 * to wait_attended, which also skips a cancelled group's queued
 * children.  no_hooks: the caller knows gc->hooks is 0. */
static inline __attribute__((always_inline)) void
wait_queued(tg__worker *w, tg__gcore *gc, bool no_hooks)
{
	while (w->dq.bottom > gc->dq_mark) {
		tg__frame *f;

		if (__builtin_expect(tg__attention(w), 0)) {
			if (!wait_attended(w, gc))
				break; /* the rest was stolen */
			continue;
		}
		f = tg__deque_take(&w->dq);
		if (f == NULL)
			break; /* the rest was stolen */
		if (__builtin_expect(f->group == gc, 1))
			tg__run_body(w, f, gc, true, no_hooks);
		else
			run_or_hand_off(w, f, gc, false);
	}
}

static inline __attribute__((always_inline)) void
wait_children(tg__worker *w, tg__gcore *gc)
{
	wait_queued(w, gc, false);
	if (!group_done(gc))
		wait_children_slow(w, gc);
}

/* Was gc cancelled, by itself or from outside?  Fills *own (its own
 * bits) and *outside (an enclosing scope is cancelled).  With a fresh memo
 * saying "not cancelled", neither needs a look (the common case). */
static inline void
cancel_state(tg__pool *pool, tg__gcore *gc, uint64_t *own, bool *outside)
{
	if (tg__scope_surely_live(pool, gc)) {
		*own = 0;
		*outside = false;
		return;
	}
	/* relaxed: every writer of the bits has finished (joined) or is
	 * ordered by the epoch load above. */
	*own = tg_atomic_load_relaxed_u64(&gc->cancel);
	*outside = gc->parent_scope != NULL &&
		   tg__scope_cancelled(pool, gc->parent_scope);
}

static const char *
gc_name_prefix(const char *name)
{
	return name != NULL ? " in group \"" : "";
}

/* What a join learned besides its error, for the handle. */
typedef struct join_facts {
	uint64_t flags; /* JOINED_* */
	void *winner_arg;
	int64_t deadline; /* with JOINED_DEADLINE */
} join_facts;

/* A join that finds at least this many of its children still queued on
 * its own worker runs them oldest first. */
#define BATCH_FIFO_MIN 64

/* Claims at most this many public items at a time (one CAS on top). */
#define FIFO_CHUNK 16

/* The oldest-first pass of a join with BATCH_FIFO_MIN or more queued:
 * the oldest of them may be public already (a thief's request, the
 * starvation detector's, or spawns made while workers looked for work
 * published them), so they are claimed from the top, oldest first, and
 * run before the private rest, which is then reversed for the join's
 * LIFO loop.  Only while top is at or above the group's mark: below it
 * lie older tasks of the groups beneath us on this stack, which this join
 * may not run (then the public part is left to thieves, and only the
 * private part runs in order). */
static TG__COLD void
run_oldest_first(tg__worker *w, tg__gcore *gc)
{
	void *oldest[FIFO_CHUNK];
	int n, i;

	for (;;) {
		int64_t t = tg__deque_top(&w->dq);
		int64_t pub = w->dq.split_owner - t;

		if (t < gc->dq_mark || pub <= 0)
			break;
		n = tg__deque_take_oldest(&w->dq, oldest,
					  pub < FIFO_CHUNK ? (int)pub
							   : FIFO_CHUNK);
		if (n == 0)
			break; /* thieves kept winning: they run them */
		for (i = 0; i < n; i++) {
			tg__frame *f = oldest[i];

			if (tg__deque_wanted(&w->dq))
				tg__share_work(w);
			if (f->group == gc)
				tg__run_frame(w, f); /* skipped if cancelled */
			else
				run_or_hand_off(w, f, gc, false);
		}
	}
	tg__deque_reverse_private(&w->dq, gc->dq_mark);
}

/* The TimeoutError of a group whose own deadline expired, raised from
 * the CancelledError it converts (Python's `raise TimeoutError from
 * CancelledError`): the body's when it handed one (consumed), else one
 * made here. */
static TG__COLD tg_error *
timeout_error(const char *name, tg_error *cancel)
{
	tg_error *e = tg_error_new_at(&tg_TimeoutError, ETIMEDOUT, __FILE__,
				      __LINE__, __func__,
				      "the task group's deadline expired%s%s%s",
				      gc_name_prefix(name),
				      name != NULL ? name : "",
				      name != NULL ? "\"" : "");

	if (cancel == NULL)
		cancel = tg__error_cancelled(__FILE__, __LINE__, __func__);
	if (tg__error_is_cancel(cancel))
		(void)tg_error_set_cause(e, cancel); /* consumes it */
	else
		tg_error_decref(cancel); /* out of memory: no cause */
	return e;
}

/* The join after the wait: every child has finished. */
static inline __attribute__((always_inline)) tg_error *
join_finish(tg__worker *w, tg__gcore *gc, tg_error *body_err,
	    tg_error *body_cancel, join_facts *facts)
{
	bool body_cancelled = body_cancel != NULL; /* the body's, consumed */
	bool outside, won = false;
	uint64_t own;
	tg__frame *failed;
	tg_error *result;
	const char *name;

	/* Off the timer before the core is read for the last time and
	 * recycled; the lock orders the timer's last write of the bits
	 * before the reads below (timer.c). */
	if (__builtin_expect(gc->join_flags & TG__JOIN_DEADLINE, 0))
		tg__timer_remove(w->pool, gc);

	/* acquire: pairs with the CAS pushes in record_failure.  Every child
	 * has been counted done, and each pushed before it was counted, so
	 * no push can race this read: no exchange (locked op) is needed. */
	failed = tg_atomic_load_acquire_ptr(&gc->failed);
	cancel_state(w->pool, gc, &own, &outside);

	/* Back in the enclosing scope. */
	w->current->open = gc->enclosing;

	facts->flags = 0;
	facts->winner_arg = NULL;
	facts->deadline = TG_DEADLINE_NONE;
	if (__builtin_expect(gc->hooks != 0, 0)) {
		/* relaxed: every child is counted done, and its count (seq_cst,
		 * or this thread) published its CAS and winner_arg store. */
		won = tg_atomic_load_relaxed_u32(&gc->won) != 0;
		if (gc->policy == TG_POLICY_FIRST_SUCCESS)
			facts->flags |= JOINED_FIRST_SUCCESS;
		if (won) {
			facts->flags |= JOINED_HAS_WINNER;
			facts->winner_arg = gc->winner_arg;
			tg_atomic_store_relaxed_u32(&gc->won, 0);
			gc->winner_arg = NULL;
		}
		/* Every child gave its slot back before it was counted. */
		tg_atomic_store_relaxed_u64(&gc->slots, 0);
	}
	/* Restore the at-rest state of the core (see core_alloc): only what
	 * this group changed.  Nothing else can touch the core any more. */
	if (failed != NULL)
		tg_atomic_store_relaxed_ptr(&gc->failed, NULL);
	name = NULL;
	if (own != 0) {
		if (own & TG__CANCEL_DEADLINE) {
			facts->flags |= JOINED_EXPIRED;
			name = gc->name; /* for the TimeoutError below */
		}
		tg_atomic_store_relaxed_u64(&gc->cancel, 0);
	}
	if ((tg_atomic_load_relaxed_u64(&gc->done_remote) |
	     tg_atomic_load_relaxed_u64(&gc->spawned_remote)) != 0) {
		/* relaxed: every remote writer has finished (counted). */
		tg_atomic_store_relaxed_u64(&gc->done_remote, 0);
		tg_atomic_store_relaxed_u64(&gc->spawned_remote, 0);
		/* The local counters differ by the remote ones. */
		gc->spawned_local = 0;
		gc->done_local = 0;
	}
	tg__scope_close(w->pool, gc);
	if (__builtin_expect(gc->join_flags != 0, 0)) {
		if (gc->join_flags & TG__JOIN_DEADLINE) {
			/* Kept in the handle (Timeout.when() after the block). */
			facts->flags |= JOINED_DEADLINE;
			facts->deadline = gc->deadline;
			gc->deadline = TG_DEADLINE_NONE;
		}
		if (gc->join_flags & TG__JOIN_OPTIONS)
			core_defaults(gc); /* name was read above */
		gc->join_flags = 0;
	}
	core_free(w, gc);

	if (won && failed != NULL)
		failed = tg__drop_nonfatal(w, failed);
	if (failed == NULL && body_err == NULL) {
		if (!outside && !body_cancelled && own == 0)
			return NULL; /* the common case */
		result = NULL;
	} else {
		result = tg__collect(w, failed, body_err);
		if (tg__error_is_fatal(result))
			result = tg__error_promote_fatal(result);
	}
	/* The timeout takes the body's CancelledError as its cause; every
	 * other outcome drops it. */
	if (result == NULL && !outside && (own & TG__CANCEL_DEADLINE))
		return timeout_error(name, body_cancel);
	if (body_cancel != NULL)
		tg_error_decref(body_cancel);
	if (result != NULL)
		return result; /* real errors win over cancellation */
	if (outside) /* an outer cancellation travels up, never a timeout */
		return tg__error_cancelled(__FILE__, __LINE__, __func__);
	if (body_cancelled && own == 0)
		return tg__error_cancelled(__FILE__, __LINE__, __func__);
	return NULL;
}

/* The join proper, on a validated core owned by the current task. */
static inline __attribute__((always_inline)) tg_error *
join_core(tg__worker *w, tg__gcore *gc, tg_error *body_err, join_facts *facts)
{
	tg_error *body_cancel = NULL;

	if (body_err != NULL) {
		if (tg__error_is_cancel(body_err)) {
			body_cancel = body_err; /* a timeout's cause, maybe */
			body_err = NULL;
		} else if (gc->policy == TG_POLICY_FAIL_FAST ||
			   tg__error_is_fatal(body_err)) {
			/* An error leaving the body aborts the group, as an
			 * exception leaving `async with` does. */
			tg__scope_cancel(w->pool, gc, TG__CANCEL_FAILED);
		}
	}
	/* Batches run oldest first: a large flat batch still queued here runs
	 * in spawn order, as asyncio runs tasks, so a failure early in the
	 * batch stops it before the later children start (the early-exit
	 * benchmark).  Small sets keep LIFO, the newest (cache-warm) first. */
	if (__builtin_expect(w->dq.bottom - gc->dq_mark >= BATCH_FIFO_MIN, 0) &&
	    !tg__scope_cancelled(w->pool, gc)) /* all skipped anyway */
		run_oldest_first(w, gc);
	wait_children(w, gc);
	return join_finish(w, gc, body_err, body_cancel, facts);
}

/* join_core for the runtime's own joins (tasks that returned with a
 * group open): out of line. */
static tg_error *
join_core_slow(tg__worker *w, tg__gcore *gc, tg_error *body_err)
{
	join_facts facts;

	return join_core(w, gc, body_err, &facts);
}

/* The handle's state after a join. */
static void
set_joined(tg_group *g, const join_facts *facts)
{
	handle *h = handle_of(g);

	if (facts->flags & JOINED_HAS_WINNER)
		h->winner_arg = facts->winner_arg;
	if (facts->flags & JOINED_DEADLINE)
		h->deadline = facts->deadline;
	/* relaxed: see open_core. */
	tg_atomic_store_relaxed_u64(&h->state, HANDLE_JOINED | facts->flags);
}

/* The fast path's join after its own queue is empty, when something
 * happened: a child still out (stolen), a failure, a cancellation, a
 * remote spawn or completion. */
static TG__COLD tg_error *
join_finish_slow(tg__worker *w, tg_group *g, tg__gcore *gc)
{
	join_facts facts;
	tg_error *result;

	if (!group_done(gc))
		wait_children_slow(w, gc);
	result = join_finish(w, gc, NULL, NULL, &facts);

	set_joined(g, &facts);
	return result;
}

/* tg_group_join when its fast path does not apply: the general join, with
 * the usage errors. */
static TG__COLD tg_error *
join_slow(tg_group *g, tg_error *body_err)
{
	tg__worker *w = tg__self();
	tg__gcore *gc = open_core(g);
	join_facts facts;
	tg_error *result;
	int status;

	if (gc == NULL) {
		status = closed_status(g);
		return tg__error_usage(status, body_err,
				       "tg_group_join: %s",
				       status == TG_EFINISHED
					       ? "the group was already joined"
					       : "not an initialised group");
	}
	if (w == NULL || w->current != gc->owner)
		return tg__error_usage(TG_ENOTOWNER, body_err,
				       "tg_group_join: only the task that "
				       "opened the group may join it");
	if (w->current->open != gc)
		return tg__error_usage(TG_ESTATE, body_err,
				       "tg_group_join: a group opened inside "
				       "this one is still open; join it first");
	result = join_core(w, gc, body_err, &facts);
	set_joined(g, &facts);
	return result;
}

/*
 * The fast path: the owner joins its open group with no body error, no
 * hooks, no deadline and a small set queued.  It runs what is queued; if
 * then every child ran here and nothing else happened (no failure, no
 * cancellation, nothing spawned or counted remotely), the core goes back
 * to the cache as it is, already at rest.  Anything else takes the
 * general path (join_slow, join_finish_slow).
 */
TG__HOT_ALIGN tg_error *
tg_group_join(tg_group *g, tg_error *body_err)
{
	/* tg__no_worker on other threads: no current task, so join_slow. */
	tg__worker *w = tg__self_or_none();
	tg__gcore *gc;

	if (__builtin_expect(!handle_open(g) || body_err != NULL, 0))
		return join_slow(g, body_err);
	gc = handle_of(g)->core;
	if (__builtin_expect(w->current != gc->owner || w->current->open != gc ||
				     gc->join_flags != 0 ||
				     w->dq.bottom - gc->dq_mark >=
					     BATCH_FIFO_MIN,
			     0))
		return join_slow(g, body_err);
	/* No hooks here: a group with options has join_flags set. */
	wait_queued(w, gc, true);
	/* Done without a look at other threads' writes: with spawned_remote
	 * read 0, every spawn this thread has seen was its own (a child of a
	 * remote spawn reaches this thread only through a steal, which
	 * orders the spawn's count before it), so equal local counts mean
	 * every child ran here, and nothing needs the acquire of group_done.
	 * relaxed (failed list, remote counters): a non-zero or stale value
	 * only sends the join to join_finish_slow, which waits with
	 * group_done's seq_cst load and re-reads them.  scope_state: a
	 * registration in the scope tree (cancel.c) is made by a task in
	 * gc's subtree, whose end happens before this (tg__scope_close), and
	 * join_finish takes gc out of the tree.  A clear attention
	 * word says gc (the running task's scope) is not cancelled, so its
	 * cancel bits are clear and nothing outside it is cancelled either
	 * (tg__attention; cancel_state would find the same). */
	if (__builtin_expect(
		    gc->spawned_local != gc->done_local || tg__attention(w) ||
			    tg_atomic_load_relaxed_ptr(&gc->failed) != NULL ||
			    (tg_atomic_load_relaxed_u64(&gc->done_remote) |
			     tg_atomic_load_relaxed_u64(&gc->spawned_remote) |
			     tg_atomic_load_relaxed_u64(&gc->scope_state)) != 0,
		    0))
		return join_finish_slow(w, g, gc);
	w->current->open = gc->enclosing;
	core_free(w, gc);
	/* relaxed: see open_core. */
	tg_atomic_store_relaxed_u64(&handle_of(g)->state, HANDLE_JOINED);
	return NULL;
}

int
tg_group_cancel(tg_group *g)
{
	tg__gcore *gc = open_core(g);
	int status;

	if (gc == NULL) {
		status = closed_status(g);
		return status == TG_EFINISHED ? TG_OK : status;
	}
	tg__scope_cancel(gc->owner_worker->pool, gc, TG__CANCEL_EXPLICIT);
	return TG_OK;
}

tg_error *
tg__join_abandoned(tg__worker *w, tg__frame *f, tg_error *err)
{
	return tg__join_abandoned_inside(w, f, err, NULL);
}

tg_error *
tg__join_abandoned_inside(tg__worker *w, tg__frame *f, tg_error *err,
			  const tg__gcore *stop)
{
	tg_error *parts[3];
	size_t n = 0;

	while (f->open != NULL && f->open != stop) {
		tg__gcore *gc = f->open;
		const char *name = gc->name;
		tg_error *joined = join_core_slow(w, gc, NULL);

		if (err != NULL)
			parts[n++] = err;
		if (joined != NULL)
			parts[n++] = joined;
		parts[n++] = tg__error_usage(
			TG_ESTATE, NULL,
			"task returned without joining its task group%s%s%s",
			name != NULL ? " \"" : "", name != NULL ? name : "",
			name != NULL ? "\"" : "");
		err = tg_error_group_new("task returned with an open task group",
					 n, parts);
		n = 0;
	}
	return err;
}
