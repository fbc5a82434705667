/*
 * test_blocking.c - tasks that block: blocking regions and compensating
 * workers, tg_sleep, joins that cannot deadlock by helping, and the
 * starvation detector.  Every test that could hang runs under a watchdog
 * (alarm): a hang fails the program instead of stalling ctest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <taskgroup.h>

#include "atomic.h"

/* A hang is a failure: SIGALRM's default action ends the program. */
#define WATCHDOG_S 120

static tg_runner *
new_runner(int threads, int64_t starvation_ns)
{
	tg_runner *r = NULL;

	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = threads,
						      .starvation_ns =
							      starvation_ns }),
			 TG_OK);
	return r;
}

/* ---------------------------------------------------------------- */
/* Regions                                                            */

static tg_error *
region_misuse(void *arg)
{
	int i;

	(void)arg;
	if (tg_blocking_depth() != 0 || tg_blocking_end() != TG_ESTATE)
		return TG_RAISE(&tg_RuntimeError, "end without begin");
	for (i = 0; i < 3; i++)
		if (tg_blocking_begin() != TG_OK)
			return TG_RAISE(&tg_RuntimeError, "begin");
	if (tg_blocking_depth() != 3)
		return TG_RAISE(&tg_RuntimeError, "depth %d",
				tg_blocking_depth());
	for (i = 0; i < 3; i++)
		if (tg_blocking_end() != TG_OK)
			return TG_RAISE(&tg_RuntimeError, "end");
	if (tg_blocking_end() != TG_ESTATE)
		return TG_RAISE(&tg_RuntimeError, "one end too many");
	return NULL;
}

static tg_error *
leave_region_open(void *arg)
{
	(void)arg;
	return tg_blocking_begin() == TG_OK
		       ? NULL
		       : TG_RAISE(&tg_RuntimeError, "begin");
}

static tg_error *
depth_is_zero(void *arg)
{
	(void)arg;
	return tg_blocking_depth() == 0
		       ? NULL
		       : TG_RAISE(&tg_RuntimeError, "depth %d",
				  tg_blocking_depth());
}

static void
test_blocking_region_nesting_and_misuse(void **state)
{
	tg_runner *r = new_runner(1, 0);

	(void)state;
	/* Off workers: nothing to do, no error. */
	assert_int_equal(tg_blocking_begin(), TG_OK);
	assert_int_equal(tg_blocking_depth(), 0);
	assert_int_equal(tg_blocking_end(), TG_OK);
	assert_null(tg_runner_run(r, region_misuse, NULL));
	/* Bad bounds are refused. */
	{
		tg_runner *bad = NULL;

		assert_int_equal(tg_runner_create(&bad, &(tg_runner_config){
					     .threads = 1, .max_blocking = -2 }),
				 TG_EINVAL);
		assert_int_equal(tg_runner_create(&bad, &(tg_runner_config){
					     .threads = 1,
					     .max_blocking = TG_MAX_BLOCKING + 1 }),
				 TG_EINVAL);
		assert_int_equal(tg_runner_create(&bad, &(tg_runner_config){
					     .threads = 1, .starvation_ns = -2 }),
				 TG_EINVAL);
		assert_null(bad);
	}
	/* A root that returns inside a region has it closed for it. */
	assert_null(tg_runner_run(r, leave_region_open, NULL));
	assert_null(tg_runner_run(r, depth_is_zero, NULL));
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* A child that waits, inside a region, for a flag that only its sibling
 * (queued behind it on the same one-worker pool) sets. */
struct pair {
	TG_ATOMIC(uint32_t) flag;
};

static tg_error *
wait_for_flag(void *arg)
{
	struct pair *p = arg;

	if (tg_blocking_begin() != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "begin");
	while (tg_atomic_load_acquire_u32(&p->flag) == 0)
		usleep(100);
	(void)tg_blocking_end();
	return NULL;
}

static tg_error *
set_flag(void *arg)
{
	struct pair *p = arg;

	tg_atomic_store_release_u32(&p->flag, 1);
	return NULL;
}

static tg_error *
region_root(void *arg)
{
	tg_group g;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	/* LIFO: the waiter (spawned last) runs first, in the join. */
	if (tg_spawn(&g, set_flag, arg) != TG_OK ||
	    tg_spawn(&g, wait_for_flag, arg) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

static void
test_blocking_region_lets_a_one_worker_pool_run_the_siblings(void **state)
{
	/* The detector off: only the region's compensation can help. */
	tg_runner *r = new_runner(1, -1);
	int i;

	(void)state;
	alarm(WATCHDOG_S);
	for (i = 0; i < 200; i++) {
		struct pair p = { 0 };

		assert_null(tg_runner_run(r, region_root, &p));
	}
	alarm(0);
	{
		tg_runner_stats_t st;

		/* The only way the sibling ran: a compensating worker. */
		assert_int_equal(tg_runner_stats(r, &st), TG_OK);
		assert_true(st.compensations >= 1);
		assert_int_equal(st.blocked_now, 0);
		assert_true(st.threads_now >= 1);
		assert_int_equal(tg_runner_stats(NULL, &st), TG_EINVAL);
		assert_int_equal(tg_runner_stats(r, NULL), TG_EINVAL);
	}
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ---------------------------------------------------------------- */
/* tg_sleep                                                           */

static tg_error *
sleep_short(void *arg)
{
	int64_t t0 = tg_now_ns();
	tg_error *err = tg_sleep(2000000);

	(void)arg;
	if (err != NULL)
		return err;
	return tg_now_ns() - t0 >= 2000000
		       ? NULL
		       : TG_RAISE(&tg_RuntimeError, "woke early");
}

static tg_error *
sleep_long(void *arg)
{
	(void)arg;
	return tg_sleep((int64_t)60 * 1000000000); /* the watchdog's half */
}

static tg_error *
fail_soon(void *arg)
{
	(void)arg;
	usleep(5000);
	return TG_RAISE(&tg_ValueError, "fail");
}

static tg_error *
sleepers_cancelled(void *arg)
{
	tg_group g;
	int i, n = *(int *)arg;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn(&g, fail_soon, NULL) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	for (i = 0; i < n; i++)
		if (tg_spawn(&g, sleep_long, NULL) != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn"));
	return tg_group_join(&g, NULL);
}

static tg_error *
sleep_in_cancelled_scope(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	(void)tg_group_cancel(&g);
	err = tg_sleep(1000);
	if (err == NULL || !tg_error_is(err, &tg_CancelledError))
		return tg_group_join(&g, err != NULL
						 ? err
						 : TG_RAISE(&tg_RuntimeError,
							    "not cancelled"));
	tg_error_decref(err);
	err = tg_sleep(0);
	if (err == NULL)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
						  "sleep(0) not cancelled"));
	tg_error_decref(err);
	return tg_group_join(&g, NULL);
}

static void
test_sleep_sleeps_and_cancellation_wakes_it(void **state)
{
	static const int threads[] = { 1, 2, 8 };
	size_t t;

	(void)state;
	alarm(WATCHDOG_S);
	/* Outside tasks: a plain sleep. */
	assert_null(tg_sleep(1000));
	assert_null(tg_sleep(0));
	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		tg_runner *r = new_runner(threads[t], 0);
		int n = 8;
		tg_error *err;

		assert_null(tg_runner_run(r, sleep_short, NULL));
		assert_null(tg_runner_run(r, sleep_in_cancelled_scope, NULL));
		/* Eight children asleep for a minute and a sibling that
		 * fails: the sleepers wake at the cancellation, so the run
		 * ends long before the watchdog. */
		err = tg_runner_run(r, sleepers_cancelled, &n);
		assert_non_null(err);
		assert_true(tg_error_is(err, &tg_ExceptionGroup));
		assert_int_equal(tg_error_count(err), 1);
		tg_error_decref(err);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
	alarm(0);
}

/* Children that tg_sleep all finish, on pools smaller than the batch. */
static TG_ATOMIC(uint64_t) slept;

static tg_error *
sleep_and_count(void *arg)
{
	tg_error *err = tg_sleep(1000000);

	(void)arg;
	if (err == NULL)
		tg_atomic_faa_seqcst_u64(&slept, 1);
	return err;
}

static tg_error *
sleep_batch(void *arg)
{
	tg_group g;
	int i;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	for (i = 0; i < 32; i++)
		if (tg_spawn(&g, sleep_and_count, NULL) != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn"));
	return tg_group_join(&g, NULL);
}

static void
test_sleep_batch_completes(void **state)
{
	int threads;

	(void)state;
	alarm(WATCHDOG_S);
	for (threads = 1; threads <= 2; threads++) {
		tg_runner *r = new_runner(threads, 0);

		tg_atomic_store_relaxed_u64(&slept, 0);
		assert_null(tg_runner_run(r, sleep_batch, NULL));
		assert_int_equal(tg_atomic_load_acquire_u64(&slept), 32);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
	alarm(0);
}

/* ---------------------------------------------------------------- */
/* The join that must not deadlock by helping (issue 19)              */
/*
 *   root group:   spawn A, spawn block, spawn ok, spawn block; sleep 1 ms;
 *                 join
 *   A:            group [ spawn block, spawn fail ]; join
 *   block:        for (;;) { TG_CHECKPOINT(); usleep(20); }
 *   fail:         usleep(2000); return TypeError
 *
 * A's join must not run the root's `block` on top of itself (it waits
 * for the root's cancellation, which needs A to return).  On one worker
 * the `block` that runs first holds the only worker: the starvation
 * detector's compensator runs its failing cousin.
 */
static tg_error *
block(void *arg)
{
	(void)arg;
	for (;;) {
		TG_CHECKPOINT();
		usleep(20);
	}
}

static tg_error *
ok(void *arg)
{
	(void)arg;
	return NULL;
}

static tg_error *
fail_later(void *arg)
{
	(void)arg;
	usleep(2000);
	return TG_RAISE(&tg_TypeError, "r.0.1");
}

static tg_error *
task_a(void *arg)
{
	tg_group g;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn(&g, block, NULL) != TG_OK ||
	    tg_spawn(&g, fail_later, NULL) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

static tg_error *
deadlock_root(void *arg)
{
	tg_group g;
	static const tg_task_fn kids[] = { task_a, block, ok, block };
	size_t i;
	int rc;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		rc = tg_spawn(&g, kids[i], NULL);
		/* A's failure may already have cancelled g when this thread
		 * was kept from running for 2 ms (a loaded machine): then the
		 * rest is refused, as it must be, and the result is the same. */
		if (rc == TG_ESHUTTINGDOWN)
			break;
		if (rc != TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn: %s",
							  tg_status_name(rc)));
	}
	usleep(1000);
	return tg_group_join(&g, NULL);
}

/* Runs of the program per pool size (TG_DEADLOCK_RUNS overrides: the
 * issue's 10,000 are measured with it, see docs/design.md). */
static int
deadlock_runs(void)
{
	const char *env = getenv("TG_DEADLOCK_RUNS");

	return env != NULL && atoi(env) > 0 ? atoi(env) : 150;
}

static void
test_join_cannot_deadlock_by_helping(void **state)
{
	static const int threads[] = { 1, 2, 4, 8 };
	int runs = deadlock_runs();
	size_t t;

	(void)state;
	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		/* A 1 ms bound keeps the one-worker case quick. */
		tg_runner *r = new_runner(threads[t], 1000000);
		int i;

		alarm(WATCHDOG_S);
		for (i = 0; i < runs; i++) {
			tg_error *err = tg_runner_run(r, deadlock_root, NULL);
			const tg_error *leaf;

			/* root: ExceptionGroup [ A: ExceptionGroup [ TypeError ] ] */
			assert_non_null(err);
			assert_int_equal(tg_error_count(err), 1);
			leaf = tg_error_child(err, 0);
			assert_non_null(leaf);
			assert_int_equal(tg_error_count(leaf), 1);
			assert_true(tg_error_is(tg_error_child(leaf, 0),
						&tg_TypeError));
			tg_error_decref(err);
		}
		alarm(0);
		print_message("%d workers: %d runs\n", threads[t], runs);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
}

/* ---------------------------------------------------------------- */
/* A batch whose children block: tg_spawn_each runs its children in   */
/* ranges, and a child that blocks gives the range's other children   */
/* away (batch.c, tg__batch_give_all), so 8 parties of one batch meet  */
/* at a barrier on one worker.                                         */

static tg_barrier batch_barrier;

static tg_error *
batch_party(void *arg)
{
	int index;

	(void)arg;
	return tg_barrier_wait(&batch_barrier, &index);
}

static tg_error *
batch_barrier_root(void *arg)
{
	tg_group g;
	int n = *(int *)arg;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (tg_spawn_each(&g, batch_party, NULL, (size_t)n, 0) != TG_OK)
		return tg_group_join(&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	return tg_group_join(&g, NULL);
}

static void
test_batch_children_that_block_give_their_siblings_away(void **state)
{
	int threads, n = 8, round;

	(void)state;
	alarm(WATCHDOG_S);
	for (threads = 1; threads <= 2; threads++) {
		tg_runner *r = new_runner(threads, -1);

		assert_int_equal(tg_barrier_init(&batch_barrier, n), TG_OK);
		for (round = 0; round < 20; round++)
			assert_null(tg_runner_run(r, batch_barrier_root, &n));
		assert_int_equal(tg_barrier_destroy(&batch_barrier), TG_OK);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
	alarm(0);
}

/* ---------------------------------------------------------------- */
/* Work reaches idle workers without checkpoints: children that block */
/* in a plain sleep (no region, no checkpoint, so they can answer no   */
/* request) start on the idle workers, because a spawn (or a batch's   */
/* range) publishes what it queues while workers look for work.  Each  */
/* child waits until all have started; the starvation detector is off, */
/* so nothing else could move the private ones.                        */

static TG_ATOMIC(uint32_t) reach_started;
static TG_ATOMIC(uint32_t) reach_missed;
static int reach_n;

static tg_error *
reach_child(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	(void)arg;
	tg_atomic_faa_seqcst_u32(&reach_started, 1);
	/* 20 s: a child whose siblings stay private waits for ever. */
	for (i = 0; i < 20000; i++) {
		if (tg_atomic_load_seqcst_u32(&reach_started) >= (uint32_t)reach_n)
			return NULL;
		nanosleep(&ms, NULL);
	}
	tg_atomic_faa_seqcst_u32(&reach_missed, 1);
	return NULL;
}

static tg_error *
reach_root(void *arg)
{
	tg_group g;
	int i;
	bool each = *(bool *)arg;

	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	if (each) {
		if (tg_spawn_each(&g, reach_child, NULL, (size_t)reach_n, 0) !=
		    TG_OK)
			return tg_group_join(&g, TG_RAISE(&tg_RuntimeError,
							  "spawn_each"));
	} else {
		for (i = 0; i < reach_n; i++)
			if (tg_spawn(&g, reach_child, NULL) != TG_OK)
				return tg_group_join(
					&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	}
	return tg_group_join(&g, NULL);
}

/* Until every worker of r looks for work (tg_runner_stats): the state
 * the test is about, reached once the threads have started. */
static void
wait_all_looking(tg_runner *r)
{
	tg_runner_stats_t st;
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < 20000; i++) {
		assert_int_equal(tg_runner_stats(r, &st), TG_OK);
		if (st.looking_now >= tg_runner_threads(r))
			return;
		nanosleep(&ms, NULL);
	}
	fail_msg("the workers never all looked for work");
}

static void
test_plain_blocking_children_reach_idle_workers(void **state)
{
	int threads, round;
	bool each;

	(void)state;
	alarm(WATCHDOG_S);
	for (threads = 2; threads <= 4; threads += 2) {
		tg_runner *r;

		assert_int_equal(
			tg_runner_create(&r, &(tg_runner_config){
						     .threads = threads,
						     .max_blocking = -1,
						     .starvation_ns = -1 }),
			TG_OK);
		reach_n = threads;
		for (round = 0; round < 4; round++) {
			each = round % 2 == 1;
			wait_all_looking(r);
			tg_atomic_store_relaxed_u32(&reach_started, 0);
			assert_null(tg_runner_run(r, reach_root, &each));
			assert_int_equal(
				tg_atomic_load_seqcst_u32(&reach_missed), 0);
		}
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
	alarm(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocking_region_nesting_and_misuse),
		cmocka_unit_test(
			test_blocking_region_lets_a_one_worker_pool_run_the_siblings),
		cmocka_unit_test(test_sleep_sleeps_and_cancellation_wakes_it),
		cmocka_unit_test(test_sleep_batch_completes),
		cmocka_unit_test(test_join_cannot_deadlock_by_helping),
		cmocka_unit_test(
			test_batch_children_that_block_give_their_siblings_away),
		cmocka_unit_test(test_plain_blocking_children_reach_idle_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
