/*
 * test_policy.c - group policies and the concurrency limit: first-success
 * (winner, errors only if all fail, fatal errors kept), collect-all versus
 * fail-fast, errgroup's SetLimit (never more than N children running,
 * spawns over the limit queued, try-spawn refuses).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

#include "test_runners.h"

/* ---------------------------------------------------------------- */
/* First-success                                                      */

struct attempt {
	int index;
	bool fail;
	bool wait; /* wait for cancellation before answering */
	int result;
};

static tg_error *
attempt(void *arg)
{
	struct attempt *a = arg;

	if (a->wait) {
		while (!tg_cancelled())
			tg_atomic_pause();
		return tg_checkpoint_at(__FILE__, __LINE__, __func__);
	}
	if (a->fail)
		return TG_RAISE_CODE(&tg_OSError, a->index, "attempt %d",
				     a->index);
	a->result = 100 + a->index;
	return NULL;
}

struct race {
	struct attempt a[8];
	int n;
	tg_runner *runner;
	tg_error *body_err;
};

static tg_error *
run_race(void *arg)
{
	struct race *r = arg;
	tg_group_options opts = { .policy = TG_POLICY_FIRST_SUCCESS };
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, &opts), TG_OK);
	for (i = 0; i < r->n; i++)
		tg_spawn(&g, attempt, &r->a[i]);
	return tg_group_join(&g, r->body_err);
}

static tg_error *
race_and_check_winner(void *arg)
{
	struct race *r = arg;
	tg_group_options opts = { .policy = TG_POLICY_FIRST_SUCCESS };
	tg_group g;
	void *won = NULL;
	tg_error *err;
	int i;

	assert_int_equal(tg_group_init(&g, &opts), TG_OK);
	assert_int_equal(tg_group_winner(&g, &won), TG_ESTATE);
	for (i = 0; i < r->n; i++)
		tg_spawn(&g, attempt, &r->a[i]);
	err = tg_group_join(&g, NULL);
	assert_null(err); /* a success hides the failures */
	assert_int_equal(tg_group_winner(&g, &won), TG_OK);
	assert_ptr_equal(won, &r->a[2]);
	assert_int_equal(r->a[2].result, 102);
	return NULL;
}

static void
test_policy_first_success_winner_cancels_the_rest(void **state)
{
	/* Attempts 0, 1 fail, 2 succeeds, 3..5 wait for the cancellation
	 * that the success causes (so they can only end if it happened). */
	struct race r = { .n = 6 };
	int i;

	(void)state;
	for (i = 0; i < r.n; i++)
		r.a[i] = (struct attempt){ i, i < 2, i > 2, 0 };
	assert_null(tg_runner_run(runner2, race_and_check_winner, &r));
	assert_null(tg_runner_run(runner4, race_and_check_winner, &r));
}

static void
test_policy_first_success_reports_errors_only_if_all_fail(void **state)
{
	struct race r = { .n = 5 };
	tg_error *err;
	int i;

	(void)state;
	for (i = 0; i < r.n; i++)
		r.a[i] = (struct attempt){ i, true, false, 0 };
	err = tg_runner_run(runner2, run_race, &r);
	/* Failures cancel nothing: all five ran, all five kept, in order. */
	assert_true(tg_error_is_group(err));
	assert_int_equal(tg_error_count(err), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(tg_error_code(tg_error_child(err, i)), i);
	tg_error_decref(err);
}

static tg_error *
no_children(void *arg)
{
	tg_group_options opts = { .policy = TG_POLICY_FIRST_SUCCESS };
	tg_group g, ff;
	void *won = &won;

	(void)arg;
	tg_group_init(&g, &opts);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_group_winner(&g, &won), TG_ENOENT);
	assert_ptr_equal(won, &won); /* untouched */
	assert_int_equal(tg_group_winner(&g, NULL), TG_EINVAL);
	assert_int_equal(tg_group_winner(NULL, &won), TG_EINVAL);
	tg_group_init(&ff, NULL);
	assert_null(tg_group_join(&ff, NULL));
	assert_int_equal(tg_group_winner(&ff, &won), TG_ESTATE);
	return NULL;
}

static void
test_policy_first_success_without_children_has_no_winner(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, no_children, NULL));
}

/* The body's error is always reported, even with a winner. */
static void
test_policy_first_success_keeps_the_body_error(void **state)
{
	struct race r = { .n = 2 };
	tg_error *err;

	(void)state;
	r.a[0] = (struct attempt){ 0, false, false, 0 };
	r.a[1] = (struct attempt){ 1, true, false, 0 };
	r.body_err = TG_RAISE(&tg_TypeError, "body");
	err = tg_runner_run(runner1, run_race, &r);
	assert_int_equal(tg_error_count(err), 1);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_TypeError));
	tg_error_decref(err);
}

/* ---------------------------------------------------------------- */
/* Concurrency limit                                                  */

struct limited {
	int limit;
	int n;
	uint64_t running;
	uint64_t max_running;
	uint64_t ran;
};

static tg_error *
limited_child(void *arg)
{
	struct limited *l = arg;
	uint64_t now = tg_atomic_faa_seqcst_u64(&l->running, 1) + 1;
	uint64_t seen;
	int spin;

	do {
		seen = tg_atomic_load_relaxed_u64(&l->max_running);
	} while (now > seen &&
		 !tg_atomic_cas_seqcst_u64(&l->max_running, seen, now));
	for (spin = 0; spin < 2000; spin++)
		tg_atomic_pause();
	tg_atomic_faa_seqcst_u64(&l->ran, 1);
	tg_atomic_faa_seqcst_u64(&l->running, (uint64_t)-1);
	return NULL;
}

static tg_error *
spawn_limited(void *arg)
{
	struct limited *l = arg;
	tg_group_options opts = { .limit = l->limit };
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, &opts), TG_OK);
	for (i = 0; i < l->n; i++)
		assert_int_equal(tg_spawn(&g, limited_child, l), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_policy_limit_bounds_running_children(void **state)
{
	tg_runner *runners[3] = { runner1, runner2, runner4 };
	int limits[3] = { 1, 2, 3 };
	int i, j;

	(void)state;
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			struct limited l = { .limit = limits[j], .n = 2000 };

			assert_null(tg_runner_run(runners[i], spawn_limited, &l));
			assert_int_equal(l.ran, 2000);
			assert_true(l.max_running <= (uint64_t)limits[j]);
		}
	}
}

/* Children spawn their own children into the same limited group (a
 * binary tree of 511 nodes, limit 3): spawns over the limit are queued,
 * never waited for on a thread's stack, and every node runs exactly
 * once. */
#define TREE_NODES 511
static struct {
	tg_group *g;
	uint64_t runs[TREE_NODES];
	uint64_t running, max_running;
} tree;

static tg_error *
tree_node(void *arg)
{
	intptr_t i = (intptr_t)arg;
	intptr_t k;
	uint64_t now = tg_atomic_faa_seqcst_u64(&tree.running, 1) + 1;
	uint64_t seen;

	do {
		seen = tg_atomic_load_relaxed_u64(&tree.max_running);
	} while (now > seen &&
		 !tg_atomic_cas_seqcst_u64(&tree.max_running, seen, now));
	tg_atomic_faa_seqcst_u64(&tree.runs[i], 1);
	for (k = 2 * i + 1; k <= 2 * i + 2 && k < TREE_NODES; k++)
		assert_int_equal(tg_spawn(tree.g, tree_node, (void *)k), TG_OK);
	tg_atomic_faa_seqcst_u64(&tree.running, (uint64_t)-1);
	return NULL;
}

static tg_error *
tree_root(void *arg)
{
	tg_group_options opts = { .limit = 3 };
	tg_group g;

	(void)arg;
	tree.g = &g;
	tg_group_init(&g, &opts);
	assert_int_equal(tg_spawn(&g, tree_node, (void *)0), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_policy_limit_lets_children_spawn_siblings(void **state)
{
	tg_runner *runners[3] = { runner1, runner2, runner4 };
	int r, i;

	(void)state;
	for (r = 0; r < 3; r++) {
		for (i = 0; i < TREE_NODES; i++)
			tree.runs[i] = 0;
		tree.max_running = 0;
		assert_null(tg_runner_run(runners[r], tree_root, NULL));
		for (i = 0; i < TREE_NODES; i++)
			assert_int_equal(tree.runs[i], 1);
		assert_true(tree.max_running <= 3);
	}
}

/* Limit 1: the only child spawns into its own group while it holds the
 * one slot.  A blocking spawn would wait for itself (errgroup deadlocks
 * here); the child is queued instead and runs once its spawner ends. */
static uint64_t queued_ran;

static tg_error *
queued_child(void *arg)
{
	(void)arg;
	tg_atomic_faa_seqcst_u64(&queued_ran, 1);
	return NULL;
}

static tg_error *
spawn_into_own_group(void *arg)
{
	tg_group *g = arg;

	assert_int_equal(tg_spawn(g, queued_child, NULL), TG_OK);
	/* Still holding the slot: it cannot have started. */
	assert_int_equal(tg_atomic_load_seqcst_u64(&queued_ran), 0);
	return NULL;
}

static tg_error *
self_spawn(void *arg)
{
	tg_group_options opts = { .limit = 1 };
	tg_group g;

	(void)arg;
	tg_group_init(&g, &opts);
	assert_int_equal(tg_spawn(&g, spawn_into_own_group, &g), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_policy_limit_spawn_into_own_full_group_is_queued(void **state)
{
	(void)state;
	queued_ran = 0;
	assert_null(tg_runner_run(runner1, self_spawn, NULL));
	assert_int_equal(queued_ran, 1);
	queued_ran = 0;
	assert_null(tg_runner_run(runner2, self_spawn, NULL));
	assert_int_equal(queued_ran, 1);
}

/* try-spawn: refused at the limit, fn never runs; accepted again once a
 * slot frees (after the join, all are free). */
static uint64_t try_ran;

static tg_error *
try_child(void *arg)
{
	(void)arg;
	while (!tg_cancelled())
		tg_atomic_pause();
	tg_atomic_faa_seqcst_u64(&try_ran, 1);
	return NULL;
}

static tg_error *
try_spawns(void *arg)
{
	tg_group_options opts = { .limit = 2 };
	tg_group g;

	(void)arg;
	tg_group_init(&g, &opts);
	assert_int_equal(tg_try_spawn(&g, try_child, NULL), TG_OK);
	assert_int_equal(tg_try_spawn(&g, try_child, NULL), TG_OK);
	/* Two slots held by children that wait for the cancellation. */
	assert_int_equal(tg_try_spawn(&g, try_child, NULL), TG_EAGAIN);
	assert_int_equal(tg_try_spawn(&g, try_child, NULL), TG_EAGAIN);
	tg_group_cancel(&g);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_try_spawn(&g, try_child, NULL), TG_EFINISHED);
	return NULL;
}

static void
test_policy_try_spawn_refuses_at_the_limit(void **state)
{
	(void)state;
	try_ran = 0;
	assert_null(tg_runner_run(runner2, try_spawns, NULL));
	/* Both accepted children either ran (and saw the cancel) or were
	 * skipped before starting; none of the refused ones ran. */
	assert_true(try_ran <= 2);
}

/* A child queued over the limit when the group is cancelled before a
 * slot frees is skipped: it never runs. */
static tg_error *
wait_then_cancelled(void *arg)
{
	tg_group_options opts = { .limit = 1 };
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, &opts);
	assert_int_equal(tg_spawn(&g, try_child, NULL), TG_OK);
	assert_int_equal(tg_group_set_timeout(&g, 5 * 1000 * 1000), TG_OK);
	/* Full until the deadline cancels the group and try_child ends. */
	assert_int_equal(tg_spawn(&g, queued_child, NULL), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_policy_limit_queued_child_skipped_on_cancel(void **state)
{
	(void)state;
	queued_ran = 0;
	assert_null(tg_runner_run(runner2, wait_then_cancelled, NULL));
	assert_null(tg_runner_run(runner1, wait_then_cancelled, NULL));
	assert_int_equal(queued_ran, 0);
}

static tg_error *
bad_options(void *arg)
{
	tg_group_options neg = { .limit = -1 }, pol = { .policy = 3 };
	tg_group g;

	(void)arg;
	assert_int_equal(tg_group_init(&g, &neg), TG_EINVAL);
	assert_int_equal(tg_group_init(&g, &pol), TG_EINVAL);
	assert_int_equal(tg_try_spawn(NULL, try_child, NULL), TG_EINVAL);
	return NULL;
}

static void
test_policy_bad_options_are_refused(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, bad_options, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_first_success_winner_cancels_the_rest),
		cmocka_unit_test(test_policy_first_success_reports_errors_only_if_all_fail),
		cmocka_unit_test(test_policy_first_success_without_children_has_no_winner),
		cmocka_unit_test(test_policy_first_success_keeps_the_body_error),
		cmocka_unit_test(test_policy_limit_bounds_running_children),
		cmocka_unit_test(test_policy_limit_lets_children_spawn_siblings),
		cmocka_unit_test(test_policy_limit_spawn_into_own_full_group_is_queued),
		cmocka_unit_test(test_policy_try_spawn_refuses_at_the_limit),
		cmocka_unit_test(test_policy_limit_queued_child_skipped_on_cancel),
		cmocka_unit_test(test_policy_bad_options_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
