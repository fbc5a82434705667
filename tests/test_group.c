/*
 * test_group.c - task groups: spawn/join, nesting, error collection in
 * spawn order, fail-fast and collect-all, cancel, misuse, the allocation-free
 * steady state.  Each test runs its scenario as a root task of a runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"
#include "test_eager_all.h"

/* One worker and no compensating workers (a hand-off that would need
 * one runs in place instead): a deterministic order. */
static tg_runner *runner1;
static tg_runner *runner2; /* two workers */

static int
setup(void **state)
{
	tg_runner_config one = { .threads = 1, .max_blocking = -1 };
	tg_runner_config two = { .threads = 2 };

	(void)state;
	if (tg_runner_create(&runner1, &one) != TG_OK)
		return -1;
	return tg_runner_create(&runner2, &two) == TG_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return tg_runner_destroy(runner1) | tg_runner_destroy(runner2);
}

/* ---------------------------------------------------------------- */

static tg_error *
count_up(void *arg)
{
	tg_atomic_faa_acqrel_u64(arg, 1);
	return NULL;
}

struct many {
	uint64_t counter;
	int n;
};

static tg_error *
spawn_many(void *arg)
{
	struct many *m = arg;
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	for (i = 0; i < m->n; i++)
		assert_int_equal(tg_spawn(&g, count_up, &m->counter), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_group_join_waits_for_every_child(void **state)
{
	struct many m = { 0, 100000 };

	(void)state;
	assert_null(tg_runner_run(runner2, spawn_many, &m));
	assert_int_equal(m.counter, 100000);
	m.counter = 0;
	assert_null(tg_runner_run(runner1, spawn_many, &m));
	assert_int_equal(m.counter, 100000);
}

/* fib with a group per node: nested groups at every depth. */
struct fib {
	int n;
	long result; /* plain: read after join (happens-before via join) */
};

static tg_error *
fib_task(void *arg)
{
	struct fib *f = arg;
	struct fib a, b;
	tg_group g;
	tg_error *err;

	if (f->n < 2) {
		f->result = f->n;
		return NULL;
	}
	a.n = f->n - 1;
	b.n = f->n - 2;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	tg_spawn(&g, fib_task, &a);
	tg_spawn(&g, fib_task, &b);
	err = tg_group_join(&g, NULL);
	f->result = a.result + b.result;
	return err;
}

static void
test_group_nested_groups_fib(void **state)
{
	struct fib f = { 22, 0 };

	(void)state;
	assert_null(tg_runner_run(runner2, fib_task, &f));
	assert_int_equal(f.result, 17711);
	f.result = 0;
	assert_null(tg_runner_run(runner1, fib_task, &f));
	assert_int_equal(f.result, 17711);
}

/* ---------------------------------------------------------------- */
/* Errors                                                             */

static tg_error *
fail_with_index(void *arg)
{
	return TG_RAISE_CODE(&tg_ValueError, (int)(intptr_t)arg, "child %d",
			     (int)(intptr_t)arg);
}

struct errs {
	int n;
	int policy;
	tg_error *body_err;
};

static tg_error *
spawn_failing(void *arg)
{
	struct errs *e = arg;
	tg_group_options o = { .policy = e->policy };
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, &o), TG_OK);
	for (i = 0; i < e->n; i++)
		assert_spawn_ok(tg_spawn(&g, fail_with_index,
					 (void *)(intptr_t)i));
	return tg_group_join(&g, e->body_err);
}

static void
test_group_collect_all_keeps_every_error_in_spawn_order(void **state)
{
	struct errs e = { 1000, TG_POLICY_COLLECT_ALL, NULL };
	tg_error *err;
	size_t i;

	(void)state;
	err = tg_runner_run(runner2, spawn_failing, &e);
	assert_non_null(err);
	assert_true(tg_error_is(err, &tg_ExceptionGroup));
	assert_int_equal(tg_error_count(err), 1000);
	for (i = 0; i < 1000; i++) {
		tg_error *c = tg_error_child(err, i);

		assert_true(tg_error_is(c, &tg_ValueError));
		assert_int_equal(tg_error_code(c), (int)i);
	}
	tg_error_decref(err);
}

/* 10^5 children failing at once, on every worker: the lock-free failure
 * list keeps each error exactly once, and the join sorts them back into
 * spawn order. */
static void
test_group_100k_failures_kept_once_in_spawn_order(void **state)
{
	struct errs e = { 100000, TG_POLICY_COLLECT_ALL, NULL };
	tg_error *err;
	size_t i;

	(void)state;
	err = tg_runner_run(runner2, spawn_failing, &e);
	assert_int_equal(tg_error_count(err), 100000);
	assert_int_equal(tg_error_leaf_count(err), 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal(tg_error_code(tg_error_child(err, i)), (int)i);
	tg_error_decref(err);
}

static void
test_group_body_error_comes_last(void **state)
{
	struct errs e = { 3, TG_POLICY_COLLECT_ALL, NULL };
	tg_error *err;

	(void)state;
	e.body_err = TG_RAISE(&tg_TypeError, "body");
	err = tg_runner_run(runner1, spawn_failing, &e);
	assert_int_equal(tg_error_count(err), 4);
	assert_true(tg_error_is(tg_error_child(err, 3), &tg_TypeError));
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), 0);
	tg_error_decref(err);
}

static void
test_group_fail_fast_skips_children_not_started(void **state)
{
	/* One worker, LIFO: the last child spawned runs first, fails, and
	 * every other child is skipped before it starts.  Eager: the first
	 * runs inside its spawn, fails, and every later spawn is refused. */
	struct errs e = { 50, TG_POLICY_FAIL_FAST, NULL };
	tg_error *err;

	(void)state;
	err = tg_runner_run(runner1, spawn_failing, &e);
	assert_int_equal(tg_error_count(err), 1);
	assert_int_equal(tg_error_code(tg_error_child(err, 0)),
			 TEST_EAGER ? 0 : 49);
	tg_error_decref(err);
}

static uint64_t started_after_cancel;

static tg_error *
note_start(void *arg)
{
	(void)arg;
	tg_atomic_faa_acqrel_u64(&started_after_cancel, 1);
	return NULL;
}

static tg_error *
body_fails(void *arg)
{
	tg_group g;
	tg_error *err;
	int i;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	for (i = 0; i < 10; i++)
		tg_spawn(&g, note_start, NULL);
	/* The body's error aborts the group before the join helps. */
	err = tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "body"));
	return err;
}

static void
test_group_body_error_aborts_unstarted_children(void **state)
{
	tg_error *err;

	(void)state;
	started_after_cancel = 0;
	err = tg_runner_run(runner1, body_fails, NULL);
	assert_int_equal(tg_error_count(err), 1);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_RuntimeError));
	/* Eager children ran inside their spawns, before the body failed. */
	assert_int_equal(started_after_cancel, TEST_EAGER ? 10 : 0);
	tg_error_decref(err);
}

/* A failing grandchild: the nested group's node nests in the outer one. */
static tg_error *
nested_failure(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, fail_with_index, (void *)(intptr_t)7);
	return tg_group_join(&g, NULL);
}

static tg_error *
outer_of_nested(void *arg)
{
	tg_group g;
	tg_group_options o = { .policy = TG_POLICY_COLLECT_ALL };

	(void)arg;
	tg_group_init(&g, &o);
	tg_spawn(&g, nested_failure, NULL);
	tg_spawn(&g, fail_with_index, (void *)(intptr_t)1);
	return tg_group_join(&g, NULL);
}

static void
test_group_nested_errors_nest(void **state)
{
	tg_error *err, *inner;

	(void)state;
	err = tg_runner_run(runner2, outer_of_nested, NULL);
	assert_int_equal(tg_error_count(err), 2);
	inner = tg_error_child(err, 0);
	assert_true(tg_error_is_group(inner));
	assert_int_equal(tg_error_count(inner), 1);
	assert_int_equal(tg_error_code(tg_error_child(inner, 0)), 7);
	assert_int_equal(tg_error_leaf_count(err), 2);
	tg_error_decref(err);
}

/* ---------------------------------------------------------------- */
/* Cancellation                                                       */

static tg_error *
wait_for_cancel(void *arg)
{
	(void)arg;
	while (!tg_cancelled())
		tg_atomic_pause();
	TG_CHECKPOINT();
	return TG_RAISE(&tg_RuntimeError, "unreachable");
}

static tg_error *
cancel_explicitly(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	assert_false(tg_cancelled());
	assert_int_equal(tg_group_cancel(&g), TG_OK);
	assert_int_equal(tg_group_cancel(&g), TG_OK); /* idempotent */
	assert_true(tg_cancelled()); /* the body sees it too */
	err = tg_group_join(&g, NULL);
	assert_false(tg_cancelled()); /* back in the enclosing scope */
	assert_int_equal(tg_group_cancel(&g), TG_OK); /* no-op after join */
	assert_int_equal(tg_spawn(&g, count_up, NULL), TG_EFINISHED);
	return err;
}

static void
test_group_cancel_ends_without_error(void **state)
{
	(void)state;
	TEST_SKIP_IF_EAGER(); /* the child waits for its spawner's cancel */
	assert_null(tg_runner_run(runner2, cancel_explicitly, NULL));
	assert_null(tg_runner_run(runner1, cancel_explicitly, NULL));
}

/* A join runs (or skips) what its task queued since the group opened:
 * the group's children, and a child the task spawned meanwhile into an
 * enclosing group, which runs inside the inner join as another group's
 * task.  With the inner group cancelled, its queued children are skipped
 * and the outer one's still runs; a limited inner group (hooks) gives
 * each skipped child's slot back.  One worker: the order is LIFO. */
struct mixed {
	bool cancel_inner;
	bool bystander; /* the inner child that runs first cancels a group
			 * of its own (which sets every worker's attention
			 * word, not the inner group's scope) */
	int limit; /* of the inner group; 0: none */
	bool in_place; /* no worker can take a hand-off (runner1) */
	uint64_t outer_ran, inner_ran;
	tg_error *inner_err, *outer_err;
};

/* Counts, then cancels and joins a group of its own: the join that runs
 * it resumes with its worker's attention word set, and no scope of its
 * cancelled. */
static tg_error *
count_and_cancel_bystander(void *arg)
{
	tg_group own;

	count_up(arg);
	if (tg_group_init(&own, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "bystander init");
	if (tg_group_cancel(&own) != TG_OK)
		return tg_group_join(&own, TG_RAISE(&tg_RuntimeError,
						    "bystander cancel"));
	return tg_group_join(&own, NULL);
}

static tg_error *
mixed_queue(void *arg)
{
	struct mixed *m = arg;
	tg_group outer, inner;
	tg_group_options opts = { .limit = m->limit };
	int i;

	if (tg_group_init(&outer, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "outer init");
	if (tg_group_init(&inner, m->limit != 0 ? &opts : NULL) != TG_OK)
		return tg_group_join(&outer, TG_RAISE(&tg_RuntimeError,
						      "inner init"));
	for (i = 0; i < 3; i++) {
		/* inner, outer, inner, outer, inner (the last runs first) */
		tg_task_fn fn = i == 2 && m->bystander
					? count_and_cancel_bystander
					: count_up;

		if (tg_spawn(&inner, fn, &m->inner_ran) != TG_OK ||
		    (i < 2 &&
		     tg_spawn(&outer, count_up, &m->outer_ran) != TG_OK)) {
			m->inner_err = tg_group_join(&inner, NULL);
			return tg_group_join(&outer, TG_RAISE(&tg_RuntimeError,
							      "tg_spawn"));
		}
	}
	if (m->cancel_inner && tg_group_cancel(&inner) != TG_OK) {
		m->inner_err = tg_group_join(&inner, NULL);
		return tg_group_join(&outer, TG_RAISE(&tg_RuntimeError,
						      "tg_group_cancel"));
	}
	/* The outer children queued inside the inner group are not the
	 * inner join's to run (they could wait for us to return: design.md,
	 * "Blocking"): it hands them off to a worker with an empty stack,
	 * and they run exactly once, before the outer join returns.  With
	 * no worker to take them (runner1: one worker, no compensation) the
	 * join runs them itself, the only way left. */
	m->inner_err = tg_group_join(&inner, NULL);
	if (m->in_place && tg_atomic_load_acquire_u64(&m->outer_ran) != 2)
		return tg_group_join(&outer, TG_RAISE(&tg_RuntimeError,
						      "outer children not run"));
	m->outer_err = tg_group_join(&outer, NULL);
	return NULL;
}

static void
test_group_join_hands_off_tasks_of_enclosing_groups_queued_inside_it(void **state)
{
	int cancel, limit, bystander;

	(void)state;
	for (cancel = 0; cancel < 2; cancel++) {
		for (limit = 0; limit <= 8; limit += 8) {
			for (bystander = 0; bystander < 2; bystander++) {
				struct mixed m = { .cancel_inner = cancel,
						   .bystander = bystander,
						   .limit = limit,
						   .in_place = true };

				assert_null(tg_runner_run(runner1, mixed_queue,
							  &m));
				/* tg_group_cancel: no error */
				assert_null(m.inner_err);
				assert_null(m.outer_err);
				assert_int_equal(m.outer_ran, 2);
				/* Eager: they ran before the cancel. */
				assert_int_equal(m.inner_ran,
						 cancel && !TEST_EAGER ? 0 : 3);
			}
		}
	}
}

/* The same with compensation (a fresh one-worker runner): the inner join
 * hands the outer children to a compensating worker, and every child
 * still runs exactly once. */
static void
test_group_join_hand_off_runs_each_task_once(void **state)
{
	tg_runner *r;
	int round;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 1 }),
			 TG_OK);
	for (round = 0; round < 50; round++) {
		struct mixed m = { .limit = round % 2 ? 8 : 0 };

		assert_null(tg_runner_run(r, mixed_queue, &m));
		assert_null(m.inner_err);
		assert_null(m.outer_err);
		assert_int_equal(m.outer_ran, 2);
		assert_int_equal(m.inner_ran, 3);
	}
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* A nested group inside a child of a failing group returns a
 * CancelledError, which its parent drops (cancellations are never
 * leaves): the outer group reports only the real failure. */
static tg_error *
inner_waits(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_CancelledError));
	return err;
}

static tg_error *
outer_fails(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, inner_waits, NULL);
	tg_spawn(&g, fail_with_index, (void *)(intptr_t)3);
	return tg_group_join(&g, NULL);
}

static void
test_group_cancellation_flows_to_nested_groups(void **state)
{
	tg_error *err;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* inner_waits waits for a later sibling */
	err = tg_runner_run(runner2, outer_fails, NULL);
	assert_int_equal(tg_error_count(err), 1);
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), 3);
	tg_error_decref(err);
	err = tg_runner_run(runner1, outer_fails, NULL);
	assert_int_equal(tg_error_count(err), 1);
	tg_error_decref(err);
}

static tg_error *
spawn_into_cancelled(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_group_cancel(&g);
	assert_int_equal(tg_spawn(&g, count_up, NULL), TG_ESHUTTINGDOWN);
	return tg_group_join(&g, NULL);
}

static void
test_group_spawn_refused_while_shutting_down(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, spawn_into_cancelled, NULL));
}

/* ---------------------------------------------------------------- */
/* Misuse                                                             */

static tg_error *
misuse(void *arg)
{
	tg_group g, inner;
	tg_error *err;

	(void)arg;
	assert_int_equal(tg_group_init(NULL, NULL), TG_EINVAL);
	assert_int_equal(
		tg_group_init(&g, &(tg_group_options){ .policy = 99 }),
		TG_EINVAL);
	memset(&g, 0, sizeof(g));
	assert_int_equal(tg_spawn(&g, count_up, NULL), TG_EINVAL);
	assert_int_equal(tg_spawn(NULL, count_up, NULL), TG_EINVAL);
	assert_int_equal(tg_group_cancel(NULL), TG_EINVAL);
	err = tg_group_join(NULL, NULL);
	assert_int_equal(tg_error_code(err), TG_EINVAL);
	tg_error_decref(err);

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, NULL, NULL), TG_EINVAL);
	/* Joining out of nesting order is refused; the body error handed in
	 * is kept inside the report, not lost. */
	assert_int_equal(tg_group_init(&inner, NULL), TG_OK);
	err = tg_group_join(&g, TG_RAISE(&tg_ValueError, "handed in"));
	assert_int_equal(tg_error_code(err), TG_ESTATE);
	assert_true(tg_error_is(tg_error_context(err), &tg_ValueError));
	tg_error_decref(err);
	assert_null(tg_group_join(&inner, NULL));
	assert_null(tg_group_join(&g, NULL));
	/* Join twice, spawn after join. */
	err = tg_group_join(&g, NULL);
	assert_int_equal(tg_error_code(err), TG_EFINISHED);
	tg_error_decref(err);
	assert_int_equal(tg_spawn(&g, count_up, NULL), TG_EFINISHED);
	return NULL;
}

static void
test_group_misuse_gets_defined_results(void **state)
{
	tg_group g;
	tg_error *err;

	(void)state;
	/* Outside any task. */
	assert_int_equal(tg_group_init(&g, NULL), TG_ENOTASK);
	assert_null(tg_runner_run(runner1, misuse, NULL));
	err = tg_runner_run(runner2, misuse, NULL);
	assert_null(err);
}

static tg_group *shared_group;

static tg_error *
join_someone_elses(void *arg)
{
	tg_error *err = tg_group_join(shared_group, NULL);

	(void)arg;
	assert_int_equal(tg_error_code(err), TG_ENOTOWNER);
	tg_error_decref(err);
	return NULL;
}

static tg_error *
owner_of_shared(void *arg)
{
	tg_group g, side;

	(void)arg;
	tg_group_init(&g, NULL);
	shared_group = &g;
	tg_group_init(&side, NULL);
	tg_spawn(&side, join_someone_elses, NULL);
	assert_null(tg_group_join(&side, NULL));
	return tg_group_join(&g, NULL);
}

static void
test_group_join_by_other_task_is_refused(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, owner_of_shared, NULL));
}

static tg_error *
forgets_to_join(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, fail_with_index, (void *)(intptr_t)5);
	return NULL; /* no join */
}

static tg_error *
parent_of_forgetful(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, &(tg_group_options){ .policy = TG_POLICY_COLLECT_ALL });
	tg_spawn(&g, forgets_to_join, NULL);
	return tg_group_join(&g, NULL);
}

static int
find_code(tg_error *leaf, void *ctx)
{
	int *found = ctx;

	if (tg_error_is(leaf, &tg_ValueError) && tg_error_code(leaf) == 5)
		found[0] = 1;
	if (tg_error_is(leaf, &tg_RuntimeError) &&
	    tg_error_code(leaf) == TG_ESTATE)
		found[1] = 1;
	return 0;
}

static void
test_group_never_joined_is_joined_and_reported(void **state)
{
	tg_error *err;
	int found[2] = { 0, 0 };

	(void)state;
	err = tg_runner_run(runner2, parent_of_forgetful, NULL);
	assert_non_null(err);
	tg_error_foreach_leaf(err, find_code, found);
	assert_true(found[0]); /* the child's error was kept */
	assert_true(found[1]); /* and the misuse reported */
	tg_error_decref(err);
}

/* ---------------------------------------------------------------- */
/* Tests with an allocator of their own                              */

/* The allocator can only change while no runner exists: the shared
 * runners go, `a` is installed, and *r is a new one-worker runner. */
static void
own_allocator_runner(const tg_allocator *a, tg_runner **r)
{
	assert_int_equal(tg_runner_destroy(runner1), TG_OK);
	assert_int_equal(tg_runner_destroy(runner2), TG_OK);
	assert_int_equal(tg_set_allocator(a), TG_OK);
	/* No compensating workers: under load the starvation detector could
	 * take a long spawning loop for a stuck one and start a second
	 * thread, which would change what the tests count. */
	assert_int_equal(tg_runner_create(r, &(tg_runner_config){
						     .threads = 1,
						     .max_blocking = -1 }),
			 TG_OK);
}

/* Undoes own_allocator_runner once its runner is gone: the default
 * allocator and the shared runners come back. */
static void
own_allocator_restore(void **state)
{
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(setup(state), 0);
}

/* Undoes own_allocator_runner: r goes too. */
static void
own_allocator_done(tg_runner *r, void **state)
{
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	own_allocator_restore(state);
}

/* Steady state allocates nothing. */

static uint64_t allocations;

static void *
counting_malloc(size_t n)
{
	tg_atomic_faa_acqrel_u64(&allocations, 1);
	return malloc(n);
}

static void *
counting_calloc(size_t c, size_t n)
{
	tg_atomic_faa_acqrel_u64(&allocations, 1);
	return calloc(c, n);
}

static void *
counting_realloc(void *p, size_t n)
{
	tg_atomic_faa_acqrel_u64(&allocations, 1);
	return realloc(p, n);
}

static tg_error *
fib_rounds(void *arg)
{
	uint64_t *after_warmup = arg;
	struct fib f = { 16, 0 };
	struct many m = { 0, 1000 };
	int round;

	for (round = 0; round < 3; round++) {
		if (round == 2)
			*after_warmup = tg_atomic_load_acquire_u64(&allocations);
		assert_null(fib_task(&f));
		assert_null(spawn_many(&m));
	}
	return NULL;
}

static void
test_group_steady_state_allocates_nothing(void **state)
{
	tg_allocator counting = { counting_malloc, counting_calloc,
				  counting_realloc, free };
	tg_runner *r;
	uint64_t before = 0;

	/* The allocator can only change while no runner exists. */
	assert_int_equal(tg_set_allocator(&counting), TG_EBUSY);
	own_allocator_runner(&counting, &r);
	assert_null(tg_runner_run(r, fib_rounds, &before));
	/* Round 3 (after the warm-up, inside the same run) allocated
	 * nothing: frames and group cores came from the worker's caches. */
	assert_int_equal(tg_atomic_load_acquire_u64(&allocations) - before, 0);
	own_allocator_done(r, state);
}

/* Frames made for a burst go back to malloc once the burst is over: a
 * limited group whose 40,000 children all wait as pending (each holds a
 * frame) leaves at most about a queue's worth of them cached. */
static atomic_long live_blocks, peak_blocks;

static void
live_add(long d)
{
	long now = atomic_fetch_add(&live_blocks, d) + d;
	long peak = atomic_load(&peak_blocks);

	while (now > peak &&
	       !atomic_compare_exchange_weak(&peak_blocks, &peak, now))
		;
}

static void *
live_malloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL)
		live_add(1);
	return p;
}

static void *
live_calloc(size_t c, size_t n)
{
	void *p = calloc(c, n);

	if (p != NULL)
		live_add(1);
	return p;
}

static void *
live_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q != NULL && p == NULL)
		live_add(1);
	return q;
}

static void
live_free(void *p)
{
	if (p != NULL)
		live_add(-1);
	free(p);
}

#define BURST 40000

static tg_error *
pending_burst(void *arg)
{
	struct many *m = arg;
	tg_group g;
	int i;

	assert_int_equal(tg_group_init(&g, &(tg_group_options){ .limit = 1 }),
			 TG_OK);
	for (i = 0; i < m->n; i++)
		assert_int_equal(tg_spawn(&g, count_up, &m->counter), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_group_frames_of_a_burst_go_back_to_malloc(void **state)
{
	tg_allocator live = { live_malloc, live_calloc, live_realloc,
			      live_free };
	struct many m = { 0, BURST };
	long before;
	tg_runner *r;

	/* Its subject is queued pending frames; eager children run one at
	 * a time inside their spawns and never pile up. */
	TEST_SKIP_IF_EAGER();
	own_allocator_runner(&live, &r);
	before = atomic_load(&live_blocks);
	atomic_store(&peak_blocks, before);
	assert_null(tg_runner_run(r, pending_burst, &m));
	assert_int_equal(m.counter, BURST);
	/* Every pending child held its own frame at once... */
	assert_true(atomic_load(&peak_blocks) - before >= BURST);
	/* ...and after the join at most 2 queues' worth stay (16,384). */
	assert_true(atomic_load(&live_blocks) - before <= 2 * 8192 + 64);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	assert_int_equal(atomic_load(&live_blocks), 0); /* nothing leaked */
	own_allocator_restore(state);
}

/* Out of memory for the join's array of children: the errors are still
 * all there, nested in chunks, leaves in spawn order. */
static size_t fail_size; /* malloc of exactly this size fails, once */

static void *
malloc_failing_once(size_t n)
{
	if (n == fail_size) {
		fail_size = 0;
		return NULL;
	}
	return malloc(n);
}

static int
leaf_in_order(tg_error *leaf, void *ctx)
{
	int *next = ctx;

	assert_int_equal(tg_error_code(leaf), *next);
	(*next)++;
	return 0;
}

static void
test_group_join_without_memory_for_the_children_array_keeps_all(void **state)
{
	tg_allocator failing = { malloc_failing_once, calloc, realloc, free };
	struct errs e = { 100, TG_POLICY_COLLECT_ALL, NULL };
	tg_runner *r;
	tg_error *err;
	int next = 0;

	own_allocator_runner(&failing, &r);
	/* The join asks for (children + 1) pointers. */
	fail_size = (100 + 1) * sizeof(tg_error *);
	err = tg_runner_run(r, spawn_failing, &e);
	assert_int_equal(fail_size, 0); /* the failure did happen */
	assert_int_equal(tg_error_leaf_count(err), 100);
	tg_error_foreach_leaf(err, leaf_in_order, &next);
	assert_int_equal(next, 100);
	tg_error_decref(err);
	own_allocator_done(r, state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_join_waits_for_every_child),
		cmocka_unit_test(test_group_nested_groups_fib),
		cmocka_unit_test(test_group_collect_all_keeps_every_error_in_spawn_order),
		cmocka_unit_test(test_group_100k_failures_kept_once_in_spawn_order),
		cmocka_unit_test(test_group_body_error_comes_last),
		cmocka_unit_test(test_group_fail_fast_skips_children_not_started),
		cmocka_unit_test(test_group_body_error_aborts_unstarted_children),
		cmocka_unit_test(test_group_nested_errors_nest),
		cmocka_unit_test(test_group_cancel_ends_without_error),
		cmocka_unit_test(test_group_join_hands_off_tasks_of_enclosing_groups_queued_inside_it),
		cmocka_unit_test(test_group_join_hand_off_runs_each_task_once),
		cmocka_unit_test(test_group_cancellation_flows_to_nested_groups),
		cmocka_unit_test(test_group_spawn_refused_while_shutting_down),
		cmocka_unit_test(test_group_misuse_gets_defined_results),
		cmocka_unit_test(test_group_join_by_other_task_is_refused),
		cmocka_unit_test(test_group_never_joined_is_joined_and_reported),
		cmocka_unit_test(test_group_steady_state_allocates_nothing),
		cmocka_unit_test(test_group_join_without_memory_for_the_children_array_keeps_all),
		cmocka_unit_test(test_group_frames_of_a_burst_go_back_to_malloc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
