/*
 * test_alloc_sweep.c - allocation-failure sweep over whole scenarios.
 *
 * For each scenario the allocations N of a clean run are counted with a
 * thread-safe counting allocator (test_atomic_alloc.h); then, for every k
 * in 1..N+1, the scenario runs again (a) with only the k-th allocation
 * failing and (b) with every allocation from the k-th on failing.
 *
 * tg_set_allocator may only change while no runner exists (common.h), so
 * each run installs the failing allocator first, creates a fresh runner
 * (disarmed), arms the failure just before tg_runner_run and disarms it
 * when the run is back.  The runner-creation scenario arms it before
 * tg_runner_create instead.
 *
 * What every run must give:
 *  - no crash, no hang, nothing leaked (the allocator's live count is 0
 *    once the runner is destroyed; LSan in the ASan build);
 *  - a well-formed result: group nodes are join nodes (or their
 *    out-of-memory stand-ins) with children, every MemoryError is a
 *    stand-in (the preallocated one, or a stand-in group's marker, which
 *    counts what it released), and the children of a group node all come
 *    from one
 *    task group (each scenario's errors carry group * 1000 + index as
 *    their code);
 *  - "memory events" = TG_ENOMEM statuses the tasks saw plus MemoryErrors
 *    in the result (leaves, causes, contexts): at most one when a single
 *    allocation failed; when there are none the result is exactly the
 *    clean one (nothing dropped silently); otherwise every other leaf is
 *    one the scenario can produce;
 *  - nothing lost without counting it: every error the tasks raise
 *    (counted where they hand a leaf over: raise_code, the notes, the
 *    join results that are leaves, such as a TimeoutError or the
 *    MemoryError standing for a CancelledError that could not be made)
 *    is either kept in the result or counted as lost by a stand-in:
 *    raised == tg_error_kept_count + tg_error_lost_count (+ the errors
 *    tg_error_lost_untracked counted during the run), at every failure
 *    point, and the two counts agree with a walk of the leaves;
 *  - the pool stays usable: the same runner then gives the clean result,
 *    and after the allocator is restored a new runner does too.
 *
 * Printing and JSON are documented to allocate nothing: the format
 * scenario counts their allocations and prints under exhaustion.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "test_atomic_alloc.h"
#include "test_check.h"

/* What is being run, for failure messages. */
static char vctx[160];
/* Runs whose counts were checked, and the errors they counted as lost
 * (printed per scenario: evidence that losses were exercised). */
static long counted_checks;
static size_t counted_lost;
static uint64_t counted_untracked;

#define VCHECK(cond)                                                         \
	((cond) ? (void)0                                                    \
		: check_fail(__FILE__, __LINE__, "[%s] CHECK(%s) failed",   \
			     vctx, #cond))
#define VCHECK_STATUS(a, b)                                                  \
	do {                                                                 \
		int vcheck_a_ = (a), vcheck_b_ = (b);                        \
		if (vcheck_a_ != vcheck_b_)                                  \
			check_fail(__FILE__, __LINE__,                       \
				   "[%s] %s == %s failed (%s != %s)", vctx,  \
				   #a, #b, tg_status_name(vcheck_a_),        \
				   tg_status_name(vcheck_b_));               \
	} while (0)

/* ---------------------------------------------------------------- */
/* What the scenarios' tasks report                                   */

static struct outcome {
	atomic_int mem;    /* TG_ENOMEM statuses seen by the tasks */
	atomic_int eagain; /* tg_try_spawn refused at the limit */
	atomic_int w_ran;  /* first-success: the succeeding child ran */
	atomic_int raised; /* errors handed to the library (see handed) */
	atomic_int root_ran; /* the root task started */
	atomic_int waiter_failed; /* deadline: the waiter returned an error */
	int winner_rc;     /* first-success: tg_group_winner's status */
	void *winner_arg;
	int w_slot; /* the succeeding child's argument */
} out;

#define WINNER_NOT_ASKED 12345

static void
outcome_reset(void)
{
	atomic_store(&out.mem, 0);
	atomic_store(&out.eagain, 0);
	atomic_store(&out.w_ran, 0);
	atomic_store(&out.raised, 0);
	atomic_store(&out.root_ran, 0);
	atomic_store(&out.waiter_failed, 0);
	out.winner_rc = WINNER_NOT_ASKED;
	out.winner_arg = NULL;
}

/* rc of a call that may run out of memory: TG_OK, or TG_ENOMEM counted. */
static bool
ok_or_nomem(int rc)
{
	if (rc == TG_ENOMEM) {
		atomic_fetch_add(&out.mem, 1);
		return false;
	}
	VCHECK_STATUS(rc, TG_OK);
	return rc == TG_OK;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * e, a new error that a task returns or hands to a join as the body's
 * error, counted as raised unless it is a cancellation (never kept, by
 * design).  Where the library raises an error for a task (a join's
 * TimeoutError or CancelledError, the RuntimeError for a group left
 * open), the scenario counts it where it can tell: a join's result is not
 * counted in general, since a group, or the MemoryError that stands for
 * one when even the reserve is used up, holds errors counted already.
 */
static tg_error *
handed(tg_error *e)
{
	if (e != NULL && !tg_error_is_group(e) &&
	    !tg_error_is(e, &tg_CancelledError))
		atomic_fetch_add(&out.raised, 1);
	return e;
}

/* ---------------------------------------------------------------- */
/* Tasks                                                              */

static tg_error *
succeed(void *arg)
{
	(void)arg;
	return NULL;
}

static tg_error *
raise_code(void *arg)
{
	int code = (int)(intptr_t)arg;

	return handed(TG_RAISE_CODE(&tg_ValueError, code, "child %d", code));
}

#define CODE(c) ((void *)(intptr_t)(c))

static const tg_group_options collect_all = {
	.policy = TG_POLICY_COLLECT_ALL
};
static const tg_group_options first_success = {
	.policy = TG_POLICY_FIRST_SUCCESS
};
static const tg_group_options limited = {
	.policy = TG_POLICY_COLLECT_ALL, .limit = 2
};

/* Flat: 8 children, the odd ones fail (group 1). */
static tg_error *
flat_root(void *arg)
{
	tg_group g;
	int i;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	for (i = 0; i < 8; i++)
		ok_or_nomem(tg_spawn(&g, i % 2 ? raise_code : succeed,
				     CODE(1000 + i)));
	return tg_group_join(&g, NULL);
}

/* A batch: one child, 8 children of one tg_spawn_each (the odd ones
 * fail), one more child; every other one fails (group 1). */
static const int batch_codes[8] = { 1000, 1001, 1002, 1003,
				    1004, 1005, 1006, 1007 };

static tg_error *
batch_child(void *arg)
{
	int code = *(const int *)arg;

	return code % 2 ? raise_code(CODE(code)) : NULL;
}

static tg_error *
batch_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1009)));
	ok_or_nomem(tg_spawn_each(&g, batch_child, (void *)batch_codes, 8,
				  sizeof(batch_codes[0])));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1011)));
	return tg_group_join(&g, NULL);
}

/* Nested: three children each open a group (2, 3, 4) of three failing
 * grandchildren; one more child fails directly (group 1). */
static tg_error *
nested_child(void *arg)
{
	int id = (int)(intptr_t)arg;
	tg_group g;
	int i;

	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	for (i = 0; i < 3; i++)
		ok_or_nomem(tg_spawn(&g, raise_code, CODE(id * 1000 + i)));
	return tg_group_join(&g, NULL);
}

static tg_error *
nested_root(void *arg)
{
	tg_group g;
	int k;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	for (k = 0; k < 3; k++)
		ok_or_nomem(tg_spawn(&g, nested_child, CODE(2 + k)));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1009)));
	return tg_group_join(&g, NULL);
}

/* Errors with notes and a cause, and the body's error (group 1). */
static void
add_note_or_nomem(tg_error *e, const char *note)
{
	ok_or_nomem(tg_error_add_note(e, "%s", note));
}

static tg_error *
noted_value(void *arg)
{
	tg_error *e = TG_RAISE_CODE(&tg_ValueError, 1000, "bad value %d", 7);

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	add_note_or_nomem(e, "first note");
	add_note_or_nomem(e, "second note");
	return handed(e);
}

static tg_error *
noted_errno(void *arg)
{
	tg_error *e = tg_error_from_errno(ENOENT, "opening %s", "missing.txt");

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	VCHECK_STATUS(tg_error_set_cause(e, TG_RAISE_CODE(&tg_TypeError, 1001,
							  "the cause")),
		      TG_OK);
	add_note_or_nomem(e, "while counting lines");
	return handed(e);
}

static tg_error *
noted_runtime(void *arg)
{
	tg_error *e = TG_RAISE_CODE(&tg_RuntimeError, 1002, "runtime");

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	add_note_or_nomem(e, "a note");
	return handed(e);
}

static tg_error *
notes_root(void *arg)
{
	tg_group g;
	tg_error *body;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, noted_value, NULL));
	ok_or_nomem(tg_spawn_named(&g, noted_errno, NULL, "counter"));
	ok_or_nomem(tg_spawn(&g, noted_runtime, NULL));
	body = TG_RAISE_CODE(&tg_TypeError, 1003, "the body");
	if (body != tg_error_oom())
		add_note_or_nomem(body, "body note");
	return tg_group_join(&g, handed(body));
}

/* Fail-fast on one worker: x runs first (spawned last), spawns the
 * failing sibling into the outer group and joins its own group, whose
 * join runs that sibling first (LIFO): the outer group is cancelled, x's
 * group with it (its child is skipped, its join makes a CancelledError),
 * and the outer group's other children are skipped. */
static tg_group *ff_outer;

static tg_error *
ff_x(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, NULL)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	ok_or_nomem(tg_spawn(ff_outer, raise_code, CODE(1001)));
	err = tg_group_join(&g, NULL);
	VCHECK(err == NULL || tg_error_is(err, &tg_CancelledError) ||
	       err == tg_error_oom());
	/* The group has no failing child: a leaf is the join's own, a
	 * CancelledError (dropped by the outer group) or the MemoryError
	 * that stands for one. */
	return handed(err);
}

static tg_error *
failfast_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, NULL)))
		return NULL;
	ff_outer = &g;
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	ok_or_nomem(tg_spawn(&g, ff_x, NULL));
	return tg_group_join(&g, NULL);
}

/* Collect-all with more than 32 failures (the join's array of children
 * is allocated, not on the stack). */
static tg_error *
collect_root(void *arg)
{
	tg_group g;
	int i;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	for (i = 0; i < 34; i++)
		ok_or_nomem(tg_spawn(&g, raise_code, CODE(1000 + i)));
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	return tg_group_join(&g, NULL);
}

/* Wide and nested: 36 children each join a group (2 .. 37) of two
 * failing grandchildren.  The root's join has more children than a
 * stand-in keeps, so when its node cannot be made, what it releases are
 * groups: their leaves are counted (and named) on the marker. */
static tg_error *
pair_child(void *arg)
{
	int id = (int)(intptr_t)arg;
	tg_group g;

	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(id * 1000)));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(id * 1000 + 1)));
	return tg_group_join(&g, NULL);
}

static tg_error *
wide_nested_root(void *arg)
{
	tg_group g;
	int k;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	for (k = 0; k < 36; k++)
		ok_or_nomem(tg_spawn(&g, pair_child, CODE(2 + k)));
	return tg_group_join(&g, NULL);
}

/* First-success on one worker: 1002 and 1001 fail, then the succeeding
 * child wins and 1000 is skipped; join gives NULL. */
static tg_error *
winning_child(void *arg)
{
	(void)arg;
	atomic_store(&out.w_ran, 1);
	return NULL;
}

static tg_error *
first_success_root(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &first_success)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1000)));
	ok_or_nomem(tg_spawn(&g, winning_child, &out.w_slot));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1001)));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1002)));
	err = tg_group_join(&g, NULL);
	out.winner_rc = tg_group_winner(&g, &out.winner_arg);
	return err;
}

static bool
first_success_possible(const tg_error *leaf)
{
	int c = tg_error_code(leaf);

	return tg_error_is(leaf, &tg_ValueError) && c >= 1000 && c <= 1002;
}

static void
first_success_extra(const tg_error *result)
{
	if (out.winner_rc == WINNER_NOT_ASKED)
		return; /* the group could not be opened */
	VCHECK(out.winner_rc == TG_OK || out.winner_rc == TG_ENOENT);
	if (out.winner_rc == TG_OK) {
		VCHECK(out.winner_arg == &out.w_slot);
		VCHECK(atomic_load(&out.w_ran) == 1);
		VCHECK(result == NULL); /* errors reported only without a winner */
	} else {
		VCHECK(atomic_load(&out.w_ran) == 0);
	}
}

/* Deadlines: group 2 gets a 1 ms timeout and a child that waits to be
 * cancelled (the timer thread and its heap); group 3 a deadline in the
 * past.  Both joins give a TimeoutError. */
static tg_error *
wait_to_be_cancelled(void *arg)
{
	double give_up = now_s() + 30.0; /* hang guard, not a timing test */
	tg_error *err;

	(void)arg;
	while (!tg_cancelled()) {
		if (now_s() > give_up) {
			VCHECK(!"the deadline never fired");
			return NULL;
		}
		sched_yield();
	}
	err = handed(tg_checkpoint_at(__FILE__, __LINE__, __func__));
	if (err != NULL && !tg_error_is(err, &tg_CancelledError))
		atomic_store(&out.waiter_failed, 1);
	return err;
}

static tg_error *
future_deadline(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	/* Children first: the deadline may pass as soon as it is set. */
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	ok_or_nomem(tg_spawn(&g, wait_to_be_cancelled, NULL));
	if (!ok_or_nomem(tg_group_set_timeout(&g, 1000000))) {
		/* No deadline: nothing else would end the waiter. */
		VCHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
		VCHECK_STATUS(tg_group_cancel(&g), TG_OK);
	}
	/* With no failed child, a leaf result is the join's TimeoutError
	 * (or the MemoryError standing for it). */
	err = tg_group_join(&g, NULL);
	return atomic_load(&out.waiter_failed) ? err : handed(err);
}

static tg_error *
past_deadline(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	VCHECK_STATUS(tg_group_set_deadline(&g, 0), TG_OK);
	VCHECK_STATUS(tg_spawn(&g, succeed, NULL), TG_ESHUTTINGDOWN);
	/* No child: the result is the join's TimeoutError (or the
	 * MemoryError standing for it). */
	return handed(tg_group_join(&g, NULL));
}

static tg_error *
deadline_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, future_deadline, NULL));
	ok_or_nomem(tg_spawn(&g, past_deadline, NULL));
	return tg_group_join(&g, NULL);
}

/* A concurrency limit of 2: spawns over it run queued children first;
 * a try-spawn at the limit is refused, then spawned normally. */
static tg_error *
limit_root(void *arg)
{
	tg_group g;
	int i, rc;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &limited)))
		return NULL;
	for (i = 0; i < 6; i++)
		ok_or_nomem(tg_spawn(&g, i % 2 ? raise_code : succeed,
				     CODE(1000 + i)));
	rc = tg_try_spawn(&g, raise_code, CODE(1006));
	if (rc == TG_EAGAIN) {
		atomic_fetch_add(&out.eagain, 1);
		ok_or_nomem(tg_spawn(&g, raise_code, CODE(1006)));
	} else {
		ok_or_nomem(rc);
	}
	return tg_group_join(&g, NULL);
}

static void
limit_extra_clean(const tg_error *result)
{
	(void)result;
	VCHECK(atomic_load(&out.eagain) == 1);
}

/* A child returns with its group (2) open: the runtime joins it and
 * reports a RuntimeError (TG_ESTATE) next to its errors. */
static tg_error *
forgetful(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &(tg_group_options){
						      .name = "forgotten" })))
		return NULL;
	/* Returning with the group open, the runtime raises a RuntimeError
	 * for this task (or the MemoryError that stands for it). */
	atomic_fetch_add(&out.raised, 1);
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(2000)));
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	return NULL;
}

static tg_error *
abandoned_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, forgetful, NULL));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1001)));
	return tg_group_join(&g, NULL);
}

/* ---------------------------------------------------------------- */
/* Looking at a result                                                */

struct scenario;
static tg_error *run_root(void *arg);

struct sig {
	const tg_error_type *type;
	int code;
	size_t notes;
};

#define MAX_LEAVES 256

struct walk {
	struct sig leaves[MAX_LEAVES];
	size_t n;
	int oom; /* MemoryErrors anywhere (leaves, causes, contexts) */
	const struct scenario *sc;
};

static int
sig_cmp(const void *a, const void *b)
{
	const struct sig *x = a, *y = b;

	if (x->type != y->type)
		return (uintptr_t)x->type < (uintptr_t)y->type ? -1 : 1;
	if (x->code != y->code)
		return x->code < y->code ? -1 : 1;
	if (x->notes != y->notes)
		return x->notes < y->notes ? -1 : 1;
	return 0;
}

static bool
is_join_message(const char *m)
{
	return m != NULL &&
	       (strncmp(m, "unhandled errors in a task group", 32) == 0 ||
		strncmp(m, "task returned with an open task group", 37) == 0 ||
		/* batch.c: failures kept without memory for their records */
		strncmp(m, "errors of a batch kept without memory", 37) == 0);
}

static void walk_error(const tg_error *e, struct walk *w, bool as_leaf);

/* Causes and contexts: MemoryErrors there count, nothing else. */
static void
walk_side(const tg_error *e, struct walk *w)
{
	if (e != NULL)
		walk_error(e, w, false);
}

static void
walk_error(const tg_error *e, struct walk *w, bool as_leaf)
{
	size_t i, leaves = 0;
	int group_id = -1;

	walk_side(tg_error_cause(e), w);
	walk_side(tg_error_context(e), w);
	if (!tg_error_is_group(e)) {
		VCHECK(tg_error_leaf_count(e) == 1);
		VCHECK(!tg_error_is(e, &tg_CancelledError) || !as_leaf);
		if (tg_error_is(e, &tg_MemoryError)) {
			/* A stand-in: it keeps no error of its own. */
			VCHECK(tg_error_kept_count(e) == 0);
			w->oom++;
		}
		if (!as_leaf)
			return;
		VCHECK(w->n < MAX_LEAVES);
		if (w->n < MAX_LEAVES) {
			w->leaves[w->n].type = tg_error_type_of(e);
			w->leaves[w->n].code = tg_error_code(e);
			w->leaves[w->n].notes = tg_error_note_count(e);
			w->n++;
		}
		return;
	}
	VCHECK(tg_error_is(e, &tg_BaseExceptionGroup));
	if (as_leaf)
		VCHECK(is_join_message(tg_error_message(e)));
	for (i = 0; i < tg_error_count(e); i++) {
		const tg_error *c = tg_error_child(e, i);

		VCHECK(c != NULL);
		if (c == NULL)
			continue;
		leaves += tg_error_leaf_count(c);
		/* The right group: a node's coded leaves share one group. */
		if (!tg_error_is_group(c) && tg_error_code(c) >= 1000) {
			if (group_id < 0)
				group_id = tg_error_code(c) / 1000;
			VCHECK(tg_error_code(c) / 1000 == group_id);
		}
		walk_error(c, w, as_leaf);
	}
	VCHECK(tg_error_leaf_count(e) == leaves);
}

/* ---------------------------------------------------------------- */
/* Scenarios                                                          */

struct scenario {
	const char *name;
	int threads;
	tg_task_fn root;
	/* A leaf this scenario can produce (NULL: one of the clean run's). */
	bool (*possible)(const tg_error *leaf);
	/* Extra checks on every run, and on clean runs only (may be NULL). */
	void (*extra)(const tg_error *result);
	void (*extra_clean)(const tg_error *result);
};

/* The clean run's leaves, sorted. */
static struct walk clean;

/* Every run's root task: the scenario's root, noting that it started. */
static tg_error *
run_root(void *arg)
{
	const struct scenario *sc = arg;

	atomic_store(&out.root_ran, 1);
	return sc->root(NULL);
}

static struct walk *
walk_result(const tg_error *result, const struct scenario *sc)
{
	static struct walk w;

	memset(&w, 0, sizeof(w));
	w.sc = sc;
	if (result != NULL)
		walk_error(result, &w, true);
	qsort(w.leaves, w.n, sizeof(w.leaves[0]), sig_cmp);
	return &w;
}

static bool
same_leaves(const struct walk *a, const struct walk *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (sig_cmp(&a->leaves[i], &b->leaves[i]) != 0)
			return false;
	return true;
}

struct possible_ctx {
	const struct scenario *sc;
	int bad;
};

static int
check_possible(tg_error *leaf, void *arg)
{
	struct possible_ctx *p = arg;
	size_t i;

	if (tg_error_is(leaf, &tg_MemoryError))
		return 0;
	if (p->sc->possible != NULL) {
		if (!p->sc->possible(leaf))
			p->bad++;
		return 0;
	}
	for (i = 0; i < clean.n; i++)
		if (clean.leaves[i].type == tg_error_type_of(leaf) &&
		    clean.leaves[i].code == tg_error_code(leaf) &&
		    tg_error_note_count(leaf) <= clean.leaves[i].notes)
			return 0;
	p->bad++;
	return 0;
}

/* Printing works on any result, and allocates nothing, so this runs
 * while the failure is still armed. */
static void
print_result(const tg_error *result)
{
	static char text[1 << 18], json[1 << 18];
	size_t n;

	n = tg_error_format(result, text, sizeof(text));
	VCHECK(n < sizeof(text) && strlen(text) == n);
	VCHECK(result == NULL || n > 0);
	n = tg_error_to_json(result, json, sizeof(json));
	VCHECK(n < sizeof(json) && strlen(json) == n);
	VCHECK(result != NULL ? json[0] == '{' : strcmp(json, "null") == 0);
}

/* The leaves of a result: kept errors, and what the stand-ins count. */
struct counted {
	size_t kept, lost;
};

static int
count_leaf(tg_error *leaf, void *arg)
{
	struct counted *c = arg;

	if (tg_error_is(leaf, &tg_MemoryError))
		c->lost += tg_error_lost_count(leaf);
	else
		c->kept++;
	return 0;
}

/* Nothing lost without counting it: every error raised is kept or
 * counted, in the result or (beyond the reserve) process-wide. */
static void
check_counted(const struct scenario *sc, const tg_error *result,
	      uint64_t untracked)
{
	long raised = atomic_load(&out.raised);
	struct counted c = { 0, 0 };
	size_t kept = tg_error_kept_count(result);
	size_t lost = tg_error_lost_count(result);

	if (sc != NULL && sc->root == first_success_root &&
	    out.winner_rc == TG_OK)
		return; /* a success drops the failures, by design */
	if (!atomic_load(&out.root_ran) && result != NULL &&
	    !tg_error_is_group(result))
		raised++; /* the run could not start: its MemoryError */
	tg_error_foreach_leaf(result, count_leaf, &c);
	VCHECK(c.kept == kept);
	VCHECK(c.lost == lost);
	if ((uint64_t)raised != kept + lost + untracked)
		check_fail(__FILE__, __LINE__,
			   "[%s] %ld errors raised, %zu kept + %zu counted "
			   "lost + %llu untracked",
			   vctx, raised, kept, lost,
			   (unsigned long long)untracked);
	counted_checks++;
	counted_lost += lost;
	counted_untracked += untracked;
}

static void
validate(const struct scenario *sc, const tg_error *result, int mode,
	 long failed, uint64_t untracked)
{
	struct walk *w = walk_result(result, sc);
	int events = atomic_load(&out.mem) + w->oom;
	struct possible_ctx p = { sc, 0 };

	check_counted(sc, result, untracked);
	if (sc->extra != NULL)
		sc->extra(result);
	if (mode == TA_FAIL_ONCE)
		VCHECK(events <= 1);
	if (failed == 0)
		VCHECK(events == 0);
	if (events == 0) {
		/* Nothing reported: nothing may be missing either. */
		VCHECK(same_leaves(w, &clean));
		if (sc->extra_clean != NULL)
			sc->extra_clean(result);
	} else {
		tg_error_foreach_leaf(result, check_possible, &p);
		VCHECK(p.bad == 0);
	}
}

/* A run on r with nothing failing must give the clean result. */
static void
run_clean_on(const struct scenario *sc, tg_runner *r)
{
	tg_error *err;

	uint64_t untracked = tg_error_lost_untracked();

	outcome_reset();
	err = tg_runner_run(r, run_root, (void *)sc);
	validate(sc, err, TA_COUNT, 0, tg_error_lost_untracked() - untracked);
	tg_error_decref(err);
}

static tg_runner *
new_runner(int threads)
{
	tg_runner *r = NULL;

	VCHECK_STATUS(tg_runner_create(&r, &(tg_runner_config){
						   .threads = threads }),
		      TG_OK);
	return r;
}

/* Counts the allocations of a clean run (the largest of a few runs when
 * more than one worker makes the count vary) and keeps its leaves. */
static long
count_allocations(const struct scenario *sc)
{
	long n = 0;
	int rep, reps = sc->threads > 1 ? 4 : 1;

	for (rep = 0; rep < reps; rep++) {
		tg_runner *r;
		tg_error *err;
		struct walk *w;

		assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
		r = new_runner(sc->threads);
		assert_non_null(r);
		outcome_reset();
		ta_arm(TA_COUNT, 0);
		err = tg_runner_run(r, run_root, (void *)sc);
		if (ta_calls() > n)
			n = ta_calls();
		ta_disarm();
		w = walk_result(err, sc);
		VCHECK(atomic_load(&out.mem) == 0 && w->oom == 0);
		check_counted(sc, err, 0);
		if (rep == 0) {
			clean = *w;
			if (sc->extra != NULL)
				sc->extra(err);
			if (sc->extra_clean != NULL)
				sc->extra_clean(err);
		} else {
			VCHECK(same_leaves(w, &clean));
		}
		tg_error_decref(err);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
		assert_int_equal(tg_reset_allocator(), TG_OK);
		assert_int_equal(ta_live(), 0);
	}
	return n;
}

static void
sweep(const struct scenario *sc)
{
	static const int modes[] = { TA_FAIL_ONCE, TA_FAIL_FROM };
	long n, k;
	size_t m;

	check_reset();
	counted_checks = 0;
	counted_lost = 0;
	counted_untracked = 0;
	snprintf(vctx, sizeof(vctx), "%s clean", sc->name);
	n = count_allocations(sc);
	check_report();
	assert_true(n > 0);
	print_message("%s: %ld allocations in a clean run, %ld failing runs\n",
		      sc->name, n, 2 * (n + 1));
	for (m = 0; m < 2; m++) {
		for (k = 1; k <= n + 1; k++) {
			tg_runner *r;
			tg_error *err;
			long failed;
			uint64_t untracked;

			snprintf(vctx, sizeof(vctx), "%s, %s k=%ld of N=%ld",
				 sc->name,
				 modes[m] == TA_FAIL_ONCE ? "only" : "from", k,
				 n);
			assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
			r = new_runner(sc->threads);
			if (r == NULL)
				break;
			outcome_reset();
			untracked = tg_error_lost_untracked();
			ta_arm(modes[m], k);
			err = tg_runner_run(r, run_root, (void *)sc);
			print_result(err); /* still armed */
			failed = ta_failed();
			ta_disarm();
			validate(sc, err, modes[m], failed,
				 tg_error_lost_untracked() - untracked);
			tg_error_decref(err);
			/* The same pool still works. */
			run_clean_on(sc, r);
			VCHECK_STATUS(tg_runner_destroy(r), TG_OK);
			VCHECK_STATUS(tg_reset_allocator(), TG_OK);
			VCHECK(ta_live() == 0);
			/* And so does a new one on the C library's allocator. */
			r = new_runner(sc->threads);
			if (r != NULL) {
				run_clean_on(sc, r);
				VCHECK_STATUS(tg_runner_destroy(r), TG_OK);
			}
		}
	}
	print_message("%s: raised == kept + counted lost in %ld runs; %zu "
		      "errors counted lost in trees, %llu untracked\n",
		      sc->name, counted_checks, counted_lost,
		      (unsigned long long)counted_untracked);
	check_report();
}

#define SCENARIO_TEST(ident, threads_, root_, possible_, extra_, extra_clean_) \
	static void test_alloc_sweep_##ident(void **state)                    \
	{                                                                     \
		static const struct scenario sc = { #ident, (threads_), (root_),\
						    (possible_), (extra_),      \
						    (extra_clean_) };           \
		(void)state;                                                  \
		sweep(&sc);                                                   \
	}

SCENARIO_TEST(flat, 1, flat_root, NULL, NULL, NULL)
SCENARIO_TEST(flat_two_workers, 2, flat_root, NULL, NULL, NULL)
SCENARIO_TEST(nested, 1, nested_root, NULL, NULL, NULL)
SCENARIO_TEST(nested_two_workers, 2, nested_root, NULL, NULL, NULL)
SCENARIO_TEST(errors_with_notes, 1, notes_root, NULL, NULL, NULL)
SCENARIO_TEST(fail_fast, 1, failfast_root, NULL, NULL, NULL)
SCENARIO_TEST(collect_all, 2, collect_root, NULL, NULL, NULL)
SCENARIO_TEST(wide_nested, 1, wide_nested_root, NULL, NULL, NULL)
SCENARIO_TEST(never_joined, 1, abandoned_root, NULL, NULL, NULL)
SCENARIO_TEST(first_success, 1, first_success_root, first_success_possible,
	      first_success_extra, NULL)
SCENARIO_TEST(deadline, 1, deadline_root, NULL, NULL, NULL)
SCENARIO_TEST(limit, 1, limit_root, NULL, NULL, limit_extra_clean)
SCENARIO_TEST(batch, 1, batch_root, NULL, NULL, NULL)
SCENARIO_TEST(batch_two_workers, 2, batch_root, NULL, NULL, NULL)

/* ---------------------------------------------------------------- */
/* Creating the runner                                                */

static void
test_alloc_sweep_runner_create(void **state)
{
	static const int modes[] = { TA_FAIL_ONCE, TA_FAIL_FROM };
	const tg_runner_config cfg = { .threads = 2 };
	tg_runner *r;
	long n, k;
	size_t m;

	(void)state;
	check_reset();
	assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
	ta_arm(TA_COUNT, 0);
	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	n = ta_calls();
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(ta_live(), 0);
	assert_true(n > 0);
	for (m = 0; m < 2; m++) {
		for (k = 1; k <= n + 1; k++) {
			tg_runner *const none = (tg_runner *)&n;
			long failed;
			int rc;

			snprintf(vctx, sizeof(vctx),
				 "runner_create, %s k=%ld of N=%ld",
				 modes[m] == TA_FAIL_ONCE ? "only" : "from", k,
				 n);
			assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
			r = none;
			ta_arm(modes[m], k);
			rc = tg_runner_create(&r, &cfg);
			failed = ta_failed();
			ta_disarm();
			VCHECK(rc == TG_OK || rc == TG_ENOMEM);
			if (failed == 0)
				VCHECK_STATUS(rc, TG_OK);
			if (rc != TG_OK) {
				VCHECK(failed > 0);
				VCHECK(r == none); /* *out set only on success */
			} else {
				tg_error *err = tg_runner_run(r, succeed, NULL);

				VCHECK(err == NULL);
				tg_error_decref(err);
				VCHECK_STATUS(tg_runner_destroy(r), TG_OK);
			}
			/* No runner left: the allocator can change again. */
			VCHECK_STATUS(tg_reset_allocator(), TG_OK);
			VCHECK(ta_live() == 0);
			/* And a normal runner works. */
			r = new_runner(2);
			if (r != NULL) {
				tg_error *err = tg_runner_run(r, flat_root, NULL);

				VCHECK(tg_error_leaf_count(err) == 4);
				tg_error_decref(err);
				VCHECK_STATUS(tg_runner_destroy(r), TG_OK);
			}
		}
	}
	check_report();
}

/* tg_run: creation, the run and destruction in one call.  Out of memory
 * it gives the MemoryError; otherwise the root's result. */
static const struct scenario tg_run_flat = { "tg_run", 2, flat_root, NULL,
					     NULL, NULL };

static void
test_alloc_sweep_tg_run(void **state)
{
	static const int modes[] = { TA_FAIL_ONCE, TA_FAIL_FROM };
	const char *env = getenv("TG_THREADS");
	char *saved = env != NULL ? strdup(env) : NULL;
	tg_error *err;
	long n, k;
	size_t m;

	(void)state;
	check_reset();
	setenv("TG_THREADS", "2", 1);
	assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
	ta_arm(TA_COUNT, 0);
	err = tg_run(run_root, (void *)&tg_run_flat);
	n = ta_calls();
	ta_disarm();
	assert_int_equal(tg_error_leaf_count(err), 4);
	tg_error_decref(err);
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(ta_live(), 0);
	for (m = 0; m < 2; m++) {
		for (k = 1; k <= n + 1; k++) {
			long failed;

			snprintf(vctx, sizeof(vctx), "tg_run, %s k=%ld of N=%ld",
				 modes[m] == TA_FAIL_ONCE ? "only" : "from", k, n);
			uint64_t untracked = tg_error_lost_untracked();

			assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
			outcome_reset();
			ta_arm(modes[m], k);
			err = tg_run(run_root, (void *)&tg_run_flat);
			failed = ta_failed();
			ta_disarm();
			check_counted(&tg_run_flat, err,
				      tg_error_lost_untracked() - untracked);
			/* The runner cannot be made: exactly the MemoryError. */
			if (err == tg_error_oom())
				VCHECK(failed > 0);
			else
				VCHECK(failed > 0 || tg_error_leaf_count(err) == 4);
			{
				struct walk *w = walk_result(err, NULL);
				int events = atomic_load(&out.mem) + w->oom;

				if (modes[m] == TA_FAIL_ONCE)
					VCHECK(events <= 1);
				if (events == 0)
					VCHECK(w->n == 4);
			}
			tg_error_decref(err);
			VCHECK_STATUS(tg_reset_allocator(), TG_OK);
			VCHECK(ta_live() == 0);
		}
	}
	if (saved != NULL)
		setenv("TG_THREADS", saved, 1);
	else
		unsetenv("TG_THREADS");
	free(saved);
	check_report();
}

/* ---------------------------------------------------------------- */
/* Printing                                                           */

static void
print_all(const tg_error *e, char *text, size_t text_len, char *json,
	  size_t json_len, char *file_text, size_t file_len)
{
	FILE *f = tmpfile();
	size_t got;

	assert_non_null(f);
	tg_error_format(e, text, text_len);
	tg_error_to_json(e, json, json_len);
	assert_int_equal(tg_error_print(e, f), TG_OK);
	assert_int_equal(tg_error_write_json(e, f), TG_OK);
	fflush(f);
	rewind(f);
	got = fread(file_text, 1, file_len - 1, f);
	file_text[got] = '\0';
	fclose(f);
}

static void
test_alloc_sweep_error_formatting(void **state)
{
	static char ref_text[1 << 15], ref_json[1 << 15], ref_file[1 << 16];
	static char text[1 << 15], json[1 << 15], file_text[1 << 16];
	static const int modes[] = { TA_FAIL_ONCE, TA_FAIL_FROM };
	tg_error *trees[3];
	tg_runner *r;
	size_t t, m;
	long n, k;

	(void)state;
	check_reset();
	snprintf(vctx, sizeof(vctx), "error_formatting");
	assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
	/* Results of two scenarios, and a stand-in group made out of
	 * memory. */
	r = new_runner(1);
	assert_non_null(r);
	trees[0] = tg_runner_run(r, notes_root, NULL);
	trees[1] = tg_runner_run(r, abandoned_root, NULL);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	{
		tg_error *kids[2] = { TG_RAISE(&tg_ValueError, "a"),
				      TG_RAISE(&tg_TypeError, "b") };

		ta_arm(TA_FAIL_FROM, 1);
		trees[2] = tg_error_group_new("made without memory", 2, kids);
		ta_disarm();
		assert_non_null(trees[2]);
		assert_int_equal(tg_error_count(trees[2]), 3);
		assert_true(tg_error_is(tg_error_child(trees[2], 2),
					&tg_MemoryError));
		assert_int_equal(tg_error_kept_count(trees[2]), 2);
	}
	for (t = 0; t < 3; t++) {
		assert_non_null(trees[t]);
		ta_arm(TA_COUNT, 0);
		print_all(trees[t], ref_text, sizeof(ref_text), ref_json,
			  sizeof(ref_json), ref_file, sizeof(ref_file));
		n = ta_calls();
		ta_disarm();
		/* errors.md: "Printing and JSON allocate nothing". */
		if (n != 0)
			check_fail(__FILE__, __LINE__,
				   "printing tree %zu made %ld allocations", t,
				   n);
		assert_true(strlen(ref_text) > 0);
		for (m = 0; m < 2; m++) {
			for (k = 1; k <= n + 1; k++) {
				ta_arm(modes[m], k);
				print_all(trees[t], text, sizeof(text), json,
					  sizeof(json), file_text,
					  sizeof(file_text));
				ta_disarm();
				VCHECK(strcmp(text, ref_text) == 0);
				VCHECK(strcmp(json, ref_json) == 0);
				VCHECK(strcmp(file_text, ref_file) == 0);
			}
		}
		tg_error_decref(trees[t]);
	}
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(ta_live(), 0);
	check_report();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_sweep_runner_create),
		cmocka_unit_test(test_alloc_sweep_tg_run),
		cmocka_unit_test(test_alloc_sweep_flat),
		cmocka_unit_test(test_alloc_sweep_flat_two_workers),
		cmocka_unit_test(test_alloc_sweep_nested),
		cmocka_unit_test(test_alloc_sweep_nested_two_workers),
		cmocka_unit_test(test_alloc_sweep_errors_with_notes),
		cmocka_unit_test(test_alloc_sweep_fail_fast),
		cmocka_unit_test(test_alloc_sweep_collect_all),
		cmocka_unit_test(test_alloc_sweep_wide_nested),
		cmocka_unit_test(test_alloc_sweep_never_joined),
		cmocka_unit_test(test_alloc_sweep_error_formatting),
		cmocka_unit_test(test_alloc_sweep_first_success),
		cmocka_unit_test(test_alloc_sweep_deadline),
		cmocka_unit_test(test_alloc_sweep_limit),
		cmocka_unit_test(test_alloc_sweep_batch),
		cmocka_unit_test(test_alloc_sweep_batch_two_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
