/*
 * test_run_leftovers.c - asyncio.run's leftovers (runner.h, tg_run_group):
 * children spawned into the run's leftovers group outlive the task that
 * spawned them; when main returns they are cancelled and waited for, and
 * their real errors join the run's result.  And tg_group_init on a handle
 * that is still open (an `async with` entered twice) is refused.  Pools of
 * 1 and 2 workers; leftovers that wait in checkpoints, in tg_sleep and at
 * a barrier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

static tg_runner *
runner_of(int threads)
{
	tg_runner *r = NULL;

	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = threads }),
			 TG_OK);
	return r;
}

static uint32_t started, ended;

/* Waits for cancellation: spinning on checkpoints (arg 0), in tg_sleep
 * (1) or at a barrier no one else reaches (2). */
static tg_error *
waits_for_cancel(void *arg)
{
	int how = (int)(intptr_t)arg;
	tg_error *err = NULL;

	tg_atomic_faa_seqcst_u32(&started, 1);
	if (how == 0) {
		while ((err = tg_checkpoint_at(__FILE__, __LINE__,
					       __func__)) == NULL)
			usleep(50);
	} else if (how == 1) {
		err = tg_sleep((int64_t)3600 * 1000000000);
	} else {
		tg_barrier b;
		int idx;

		assert_int_equal(tg_barrier_init(&b, 2), TG_OK);
		err = tg_barrier_wait(&b, &idx);
		assert_int_equal(tg_barrier_destroy(&b), TG_OK);
	}
	assert_true(tg_error_is(err, &tg_CancelledError));
	tg_atomic_faa_seqcst_u32(&ended, 1);
	return err;
}

static tg_error *
fails(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "leftover failed");
}

/* Spawns from a task two levels down, which has ended long before main
 * returns: the leftovers group is the run's, not the spawner's. */
static tg_error *
spawns_leftover(void *arg)
{
	tg_group *run = tg_run_group();

	assert_non_null(run);
	return tg_spawn(run, waits_for_cancel, arg) == TG_OK
		       ? NULL
		       : TG_RAISE(&tg_RuntimeError, "spawn refused");
}

static tg_error *
main_leaves_waiters(void *arg)
{
	tg_group g;

	assert_int_equal(tg_spawn(tg_run_group(), waits_for_cancel, arg),
			 TG_OK);
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, spawns_leftover, arg), TG_OK);
	assert_null(tg_group_join(&g, NULL));
	return NULL; /* the two waiters are still waiting */
}

static void
test_leftovers_waiting_for_cancel_are_cancelled(void **state)
{
	int threads, how;

	(void)state;
	assert_null(tg_run_group()); /* not in a task */
	for (threads = 1; threads <= 2; threads++)
		for (how = 0; how <= 2; how++) {
			tg_runner *r = runner_of(threads);

			started = ended = 0;
			/* Cancellations are not failures: the run's result
			 * is main's, NULL. */
			assert_null(tg_runner_run(r, main_leaves_waiters,
						  (void *)(intptr_t)how));
			/* Each either ran and saw the cancellation, or was
			 * skipped before it started. */
			assert_int_equal(ended, started);
			assert_int_equal(tg_runner_destroy(r), TG_OK);
		}
}

static tg_error *
fails_and_counts(void *arg)
{
	(void)arg;
	tg_atomic_faa_seqcst_u32(&started, 1);
	return TG_RAISE(&tg_ValueError, "leftover failed");
}

static tg_error *
main_leaves_a_counted_failure(void *arg)
{
	int main_fails = (int)(intptr_t)arg;

	assert_int_equal(tg_spawn(tg_run_group(), fails_and_counts, NULL),
			 TG_OK);
	while (tg_atomic_load_seqcst_u32(&started) == 0)
		assert_null(tg_sleep(1000 * 1000));
	if (main_fails)
		return TG_RAISE(&tg_TypeError, "main failed");
	return NULL;
}

/* Finds a leaf of type t under e. */
static bool
has_leaf(const tg_error *e, const tg_error_type *t)
{
	size_t i;

	if (!tg_error_is_group(e))
		return tg_error_is(e, t);
	for (i = 0; i < tg_error_count(e); i++)
		if (has_leaf(tg_error_child(e, i), t))
			return true;
	return false;
}

static void
test_leftover_failures_join_the_result(void **state)
{
	int threads;

	(void)state;
	for (threads = 1; threads <= 2; threads++) {
		tg_runner *r = runner_of(threads);
		tg_error *err;

		/* Main succeeds: the result is the leftovers' error. */
		started = 0;
		err = tg_runner_run(r, main_leaves_a_counted_failure, NULL);
		assert_int_equal(tg_error_leaf_count(err), 1);
		assert_true(has_leaf(err, &tg_ValueError));
		tg_error_decref(err);
		/* Both fail: one group with both, nothing lost. */
		started = 0;
		err = tg_runner_run(r, main_leaves_a_counted_failure,
				    (void *)1);
		assert_true(tg_error_is_group(err));
		assert_int_equal(tg_error_leaf_count(err), 2);
		assert_true(has_leaf(err, &tg_ValueError));
		assert_true(has_leaf(err, &tg_TypeError));
		tg_error_decref(err);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
}

/* Main returns with a group of its own still open, and a leftover that
 * waits: the open group is joined (its error names it), then the
 * leftover is cancelled; nothing hangs. */
static tg_error *
main_abandons_a_group(void *arg)
{
	static tg_group g; /* outlives main: the runtime joins it */

	(void)arg;
	assert_int_equal(tg_spawn(tg_run_group(), waits_for_cancel, NULL),
			 TG_OK);
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, fails, NULL), TG_OK);
	return NULL;
}

static void
test_main_that_abandons_a_group_still_ends(void **state)
{
	tg_runner *r = runner_of(2);
	tg_error *err;

	(void)state;
	started = ended = 0;
	err = tg_runner_run(r, main_abandons_a_group, NULL);
	assert_true(has_leaf(err, &tg_ValueError));
	assert_true(has_leaf(err, &tg_RuntimeError)); /* "without joining" */
	tg_error_decref(err);
	assert_int_equal(ended, started);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ---------------------------------------------------------------- */
/* An `async with` entered twice                                      */

static tg_error *
opens_twice(void *arg)
{
	tg_group_options named = { .name = "twice" };
	tg_group g, inner;
	int with_opts = (int)(intptr_t)arg;

	assert_int_equal(tg_group_init(&g, with_opts ? &named : NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, fails, NULL), TG_OK);
	/* Refused on both paths, and the open group is untouched. */
	assert_int_equal(tg_group_init(&g, NULL), TG_ESTATE);
	assert_int_equal(tg_group_init(&g, &named), TG_ESTATE);
	/* Also from inside a group opened within it. */
	assert_int_equal(tg_group_init(&inner, NULL), TG_OK);
	assert_int_equal(tg_group_init(&g, NULL), TG_ESTATE);
	assert_null(tg_group_join(&inner, NULL));
	tg_error *err = tg_group_join(&g, NULL);
	assert_true(has_leaf(err, &tg_ValueError));
	tg_error_decref(err);
	/* Joined: it may be opened again. */
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_null(tg_group_join(&g, NULL));
	return NULL;
}

static void
test_init_of_an_open_group_is_refused(void **state)
{
	int threads;

	(void)state;
	for (threads = 1; threads <= 2; threads++) {
		tg_runner *r = runner_of(threads);

		assert_null(tg_runner_run(r, opens_twice, NULL));
		assert_null(tg_runner_run(r, opens_twice, (void *)1));
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leftovers_waiting_for_cancel_are_cancelled),
		cmocka_unit_test(test_leftover_failures_join_the_result),
		cmocka_unit_test(test_main_that_abandons_a_group_still_ends),
		cmocka_unit_test(test_init_of_an_open_group_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
