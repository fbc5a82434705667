/*
 * test_sweep.h - the allocation-failure sweep over whole scenarios, shared
 * by test_alloc_sweep.c (creating the runner, tg_run, and groups: flat,
 * nested, fail-fast, collect-all, wide, limited, batches) and
 * test_alloc_sweep_errors.c (the errors the scenarios and the library
 * make: notes and causes, a group never joined, deadlines, first-success,
 * printing).  Include it once per test program (it defines static state).
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
 * scenario (test_alloc_sweep_errors.c) counts their allocations and
 * prints under exhaustion.
 *
 * Besides the driver (sweep, and SCENARIO_TEST to name a scenario's
 * test), this holds what both programs' scenarios use: VCHECK, the
 * outcome the tasks report, handed, succeed, raise_code, CODE,
 * collect_all, and the first-success scenario's root, which check_counted
 * knows by name (its success drops the failures, by design).
 */
#ifndef TG_TEST_SWEEP_H
#define TG_TEST_SWEEP_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---------------------------------------------------------------- */
/* First-success's root (check_counted below knows it; the scenario's  */
/* other checks are in test_alloc_sweep_errors.c)                     */

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

#endif /* TG_TEST_SWEEP_H */
