/*
 * test_cancel.c - cancellation: the oneTBB bound (after the first failure
 * at most one body per worker starts), direction (down to descendants
 * only, errors only up), level-triggered checkpoints, joins that block
 * while cancelled, fatal errors promoted to the root with the rest
 * attached, a cancellation storm with an exactly-once oracle (run under
 * TSan in CI), and the runner's opt-in Ctrl-C handling.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"
#include "platform.h"

#include "test_eager_all.h"
#include "test_runners.h"

static tg_error *
wait_for_cancel(void *arg)
{
	(void)arg;
	for (;;)
		TG_CHECKPOINT();
}

/* ---------------------------------------------------------------- */
/* The oneTBB bound                                                   */

#define BOUND_N 20000

static struct {
	uint64_t started, slipped, ran_after;
	int fail_at;
} bound;

static tg_error *
bound_child(void *arg)
{
	int i = (int)(intptr_t)arg;

	/* A body that starts although its group is already cancelled got
	 * past the pre-start check just before the cancellation: at most
	 * one per worker can. */
	if (tg_cancelled())
		tg_atomic_faa_seqcst_u64(&bound.slipped, 1);
	tg_atomic_faa_seqcst_u64(&bound.started, 1);
	if (i == bound.fail_at)
		return TG_RAISE_CODE(&tg_ValueError, i, "child %d fails", i);
	return NULL;
}

static tg_error *
bound_root(void *arg)
{
	tg_group g;
	intptr_t i;

	(void)arg;
	tg_group_init(&g, NULL);
	for (i = 0; i < BOUND_N; i++)
		if (tg_spawn(&g, bound_child, (void *)i) != TG_OK)
			break;
	return tg_group_join(&g, NULL);
}

static void
test_cancel_bound_after_first_failure(void **state)
{
	tg_runner *runners[3] = { runner1, runner2, runner4 };
	int workers[3] = { 1, 2, 4 };
	int r, round;

	(void)state;
	for (r = 0; r < 3; r++) {
		for (round = 0; round < 5; round++) {
			tg_error *err;

			bound.started = bound.slipped = 0;
			bound.fail_at = BOUND_N / 10 + round;
			err = tg_runner_run(runners[r], bound_root, NULL);
			assert_int_equal(tg_error_count(err), 1);
			assert_int_equal(tg_error_code(tg_error_child(err, 0)),
					 bound.fail_at);
			tg_error_decref(err);
			assert_true(bound.slipped <= (uint64_t)workers[r]);
		}
	}
}

/* A large flat batch still queued at the join runs oldest first: with
 * one worker, a failure at index 10 of 1000 stops the batch there, as a
 * serial loop would (the early-exit benchmark). */
static uint64_t batch_started;

static tg_error *
batch_child(void *arg)
{
	intptr_t i = (intptr_t)arg;

	tg_atomic_faa_seqcst_u64(&batch_started, 1);
	return i == 10 ? TG_RAISE_CODE(&tg_ValueError, 10, "ten") : NULL;
}

static tg_error *
batch_root(void *arg)
{
	tg_group g;
	intptr_t i;

	(void)arg;
	tg_group_init(&g, NULL);
	for (i = 0; i < 1000; i++)
		assert_spawn_ok(tg_spawn(&g, batch_child, (void *)i));
	return tg_group_join(&g, NULL);
}

static void
test_cancel_batch_runs_oldest_first_and_stops_at_the_failure(void **state)
{
	tg_error *err;

	(void)state;
	batch_started = 0;
	err = tg_runner_run(runner1, batch_root, NULL);
	assert_int_equal(tg_error_count(err), 1);
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), 10);
	tg_error_decref(err);
	assert_int_equal(batch_started, 11);
}

/* Past the per-worker queue limit (8192) a spawn runs the oldest queued
 * children first, so a batch of 20,000 on one worker still starts in
 * spawn order, and a failure at index 5,000 (which runs while the loop is
 * still spawning, from a spawn that found the queue full) stops it exactly
 * there: 5,001 bodies, no more, and the spawn loop is told
 * TG_ESHUTTINGDOWN. */
#define LONG_BATCH 20000
static struct {
	int64_t next;     /* the index the next body must have */
	bool in_order;
	int64_t fail_at;  /* -1: none fails */
	int64_t spawned;  /* spawns that returned TG_OK */
	int refused;      /* the status that ended the loop early */
} long_batch;

static tg_error *
long_child(void *arg)
{
	intptr_t i = (intptr_t)arg;

	/* one worker: plain fields, this thread only */
	if (i != long_batch.next)
		long_batch.in_order = false;
	long_batch.next = i + 1;
	return i == long_batch.fail_at ? TG_RAISE(&tg_ValueError, "fail")
				       : NULL;
}

static tg_error *
long_root(void *arg)
{
	tg_group g;
	intptr_t i;
	int rc;

	(void)arg;
	tg_group_init(&g, NULL);
	for (i = 0; i < LONG_BATCH; i++) {
		rc = tg_spawn(&g, long_child, (void *)i);
		if (rc != TG_OK) {
			long_batch.refused = rc;
			break;
		}
		long_batch.spawned++;
	}
	return tg_group_join(&g, NULL);
}

static void
test_cancel_batch_past_queue_limit_keeps_spawn_order(void **state)
{
	int64_t fails[2] = { -1, 5000 };
	int k;
	tg_error *err;

	(void)state;
	for (k = 0; k < 2; k++) {
		memset(&long_batch, 0, sizeof(long_batch));
		long_batch.in_order = true;
		long_batch.fail_at = fails[k];
		err = tg_runner_run(runner1, long_root, NULL);
		assert_true(long_batch.in_order);
		if (fails[k] < 0) {
			assert_null(err);
			assert_int_equal(long_batch.next, LONG_BATCH);
			assert_int_equal(long_batch.spawned, LONG_BATCH);
			continue;
		}
		assert_int_equal(tg_error_count(err), 1);
		tg_error_decref(err);
		assert_int_equal(long_batch.next, fails[k] + 1);
		assert_int_equal(long_batch.refused, TG_ESHUTTINGDOWN);
		assert_true(long_batch.spawned < LONG_BATCH);
	}
}

/* A batch whose oldest children were made public before the join (here a
 * blocking region after 300 spawns publishes the queue, as a thief's
 * request or spawns made while workers look for work do) still runs in
 * spawn order: the join claims the public ones oldest first, then runs
 * the private rest reversed, and a failure at index 10 stops it there. */
static tg_error *
published_root(void *arg)
{
	tg_group g;
	intptr_t i;

	(void)arg;
	tg_group_init(&g, NULL);
	for (i = 0; i < 1000; i++) {
		if (i == 300) {
			assert_int_equal(tg_blocking_begin(), TG_OK);
			assert_int_equal(tg_blocking_end(), TG_OK);
		}
		assert_spawn_ok(tg_spawn(&g, long_child, (void *)i));
	}
	return tg_group_join(&g, NULL);
}

static void
test_cancel_batch_published_in_part_keeps_spawn_order(void **state)
{
	int64_t fails[3] = { -1, 10, 500 };
	int k;
	tg_error *err;

	(void)state;
	for (k = 0; k < 3; k++) {
		memset(&long_batch, 0, sizeof(long_batch));
		long_batch.in_order = true;
		long_batch.fail_at = fails[k];
		err = tg_runner_run(runner1, published_root, NULL);
		assert_true(long_batch.in_order);
		if (fails[k] < 0) {
			assert_null(err);
			assert_int_equal(long_batch.next, 1000);
			continue;
		}
		assert_int_equal(tg_error_count(err), 1);
		tg_error_decref(err);
		assert_int_equal(long_batch.next, fails[k] + 1);
	}
}

/* ---------------------------------------------------------------- */
/* Direction                                                          */

static struct {
	uint64_t sibling_done, sibling_saw_cancel;
	bool parent_cancelled_in_body;
} dir;

static tg_error *
sibling_child(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		if (tg_cancelled())
			tg_atomic_faa_seqcst_u64(&dir.sibling_saw_cancel, 1);
	tg_atomic_faa_seqcst_u64(&dir.sibling_done, 1);
	return NULL;
}

/* Group B fails (and is cancelled by its failure); group C, its sibling,
 * runs to completion untouched. */
static tg_error *
group_b(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	return tg_group_join(&g, TG_RAISE(&tg_ValueError, "B fails"));
}

static tg_error *
group_c(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;
	int i;

	(void)arg;
	tg_group_init(&g, &collect);
	for (i = 0; i < 100; i++)
		tg_spawn(&g, sibling_child, NULL);
	return tg_group_join(&g, NULL);
}

static tg_error *
direction_root(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group a;
	tg_error *err;

	(void)arg;
	tg_group_init(&a, &collect);
	tg_spawn(&a, group_b, NULL);
	tg_spawn(&a, group_c, NULL);
	err = tg_group_join(&a, NULL);
	/* The error went up into A; A itself was never cancelled (collect
	 * all), so this task is not either. */
	dir.parent_cancelled_in_body = tg_cancelled();
	return err;
}

static void
test_cancel_flows_down_errors_flow_up(void **state)
{
	tg_runner *runners[2] = { runner1, runner4 };
	int r;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* group_b's child waits for its body */
	for (r = 0; r < 2; r++) {
		tg_error *err;

		dir.sibling_done = dir.sibling_saw_cancel = 0;
		err = tg_runner_run(runners[r], direction_root, NULL);
		/* A: [B: [ValueError]] */
		assert_int_equal(tg_error_count(err), 1);
		assert_true(tg_error_is_group(tg_error_child(err, 0)));
		assert_true(tg_error_is(
			tg_error_child(tg_error_child(err, 0), 0),
			&tg_ValueError));
		tg_error_decref(err);
		assert_int_equal(dir.sibling_done, 100);
		assert_int_equal(dir.sibling_saw_cancel, 0);
		assert_false(dir.parent_cancelled_in_body);
	}
}

/* ---------------------------------------------------------------- */
/* Level-triggered checkpoints; blocking joins                          */

static uint64_t unwound, started_slow;

static tg_error *
unwinds_slowly(void *arg)
{
	int i;

	(void)arg;
	tg_atomic_faa_seqcst_u64(&started_slow, 1);
	while (!tg_cancelled())
		tg_atomic_pause();
	/* Level-triggered: every later check says so too. */
	for (i = 0; i < 100; i++)
		assert_true(tg_cancelled());
	for (i = 0; i < 10000; i++)
		tg_atomic_pause();
	tg_atomic_faa_seqcst_u64(&unwound, 1);
	return tg_checkpoint_at(__FILE__, __LINE__, __func__);
}

/* A task blocked in the join of its nested group while an outer group is
 * cancelled: the join still waits for every child, then the task sees
 * the cancellation. */
static tg_error *
blocked_in_join(void *arg)
{
	tg_group g;
	tg_error *err;
	uint64_t accepted = 0;
	int i;

	(void)arg;
	tg_group_init(&g, NULL);
	/* Refused (TG_ESHUTTINGDOWN) once the outer cancel has happened. */
	for (i = 0; i < 8; i++)
		accepted += tg_spawn(&g, unwinds_slowly, NULL) == TG_OK;
	err = tg_group_join(&g, NULL);
	/* Every child that started has finished before the join returned
	 * (the ones skipped never started, so never count). */
	assert_true(unwound <= accepted);
	assert_int_equal(unwound, tg_atomic_load_seqcst_u64(&started_slow));
	assert_true(tg_error_is(err, &tg_CancelledError));
	assert_true(tg_cancelled());
	return err;
}

static tg_error *
cancel_outer_later(void *arg)
{
	tg_group *outer = arg;
	int i;

	for (i = 0; i < 10000; i++)
		tg_atomic_pause();
	tg_group_cancel(outer);
	return NULL;
}

static tg_error *
blocking_root(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, blocked_in_join, NULL);
	tg_spawn(&g, cancel_outer_later, &g);
	return tg_group_join(&g, NULL);
}

static void
test_cancel_join_blocks_then_task_sees_cancel(void **state)
{
	int round;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* waits for a later sibling */
	for (round = 0; round < 20; round++) {
		unwound = started_slow = 0;
		assert_null(tg_runner_run(round % 2 ? runner1 : runner4,
					  blocking_root, NULL));
	}
}

/* Spawning from a child while the owner waits in join: allowed until
 * the group aborts, refused after. */
static uint64_t late_spawns_ok, late_spawns_refused;

static tg_error *
noop(void *arg)
{
	(void)arg;
	return NULL;
}

static tg_error *
spawns_sibling(void *arg)
{
	tg_group *g = arg;
	int rc = tg_spawn(g, noop, NULL);

	tg_atomic_faa_seqcst_u64(rc == TG_OK ? &late_spawns_ok
					     : &late_spawns_refused, 1);
	if (rc != TG_OK)
		assert_int_equal(rc, TG_ESHUTTINGDOWN);
	return NULL;
}

static tg_error *
fail_now(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_ValueError, "abort");
}

static tg_error *
sibling_spawner_root(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, spawns_sibling, &g);
	tg_spawn(&g, spawns_sibling, &g);
	err = tg_group_join(&g, NULL);
	assert_null(err);
	/* Abort first, then a child tries: refused. */
	tg_group_init(&g, NULL);
	tg_spawn(&g, spawns_sibling, &g);
	tg_spawn(&g, fail_now, NULL); /* runs first: LIFO, one worker */
	err = tg_group_join(&g, NULL);
	assert_int_equal(tg_error_count(err), 1);
	tg_error_decref(err);
	return NULL;
}

static void
test_cancel_spawn_from_child_allowed_until_abort(void **state)
{
	(void)state;
	late_spawns_ok = late_spawns_refused = 0;
	assert_null(tg_runner_run(runner1, sibling_spawner_root, NULL));
	/* The third spawns_sibling was skipped (never started) or refused;
	 * eager, it ran inside its spawn, before fail_now was spawned. */
	assert_int_equal(late_spawns_ok, TEST_EAGER ? 3 : 2);
	assert_true(late_spawns_refused <= 1);
}

/* ---------------------------------------------------------------- */
/* Fatal errors                                                       */

static tg_error *
interrupt_child(void *arg)
{
	(void)arg;
	return TG_RAISE(&tg_Interrupt, "stop");
}

static tg_error *
value_child(void *arg)
{
	return TG_RAISE_CODE(&tg_ValueError, (int)(intptr_t)arg, "value");
}

static tg_error *
fatal_inner(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;

	(void)arg;
	tg_group_init(&g, &collect);
	/* One worker runs these LIFO: both ValueErrors before the
	 * Interrupt, which then cancels nothing left to run.  Eager
	 * children run in spawn order: the Interrupt is spawned last. */
	if (!TEST_EAGER)
		tg_spawn(&g, interrupt_child, NULL);
	tg_spawn(&g, value_child, (void *)1);
	tg_spawn(&g, value_child, (void *)2);
	if (TEST_EAGER)
		tg_spawn(&g, interrupt_child, NULL);
	return tg_group_join(&g, NULL);
}

static int
count_leaves(tg_error *leaf, void *ctx)
{
	(void)leaf;
	++*(int *)ctx;
	return 0;
}

static void
test_cancel_fatal_error_is_the_root_with_the_rest_attached(void **state)
{
	tg_error *err, *ctx;
	int n = 0;

	(void)state;
	err = tg_runner_run(runner1, fatal_inner, NULL);
	assert_true(tg_error_is(err, &tg_Interrupt));
	assert_false(tg_error_is_group(err));
	ctx = tg_error_context(err);
	assert_non_null(ctx);
	tg_error_foreach_leaf(ctx, count_leaves, &n);
	assert_int_equal(n, 2); /* both ValueErrors, the Interrupt not twice */
	tg_error_decref(err);
}

/* Nested: the inner group's promoted Interrupt is promoted again by the
 * outer group, keeping the inner context and the outer siblings. */
static tg_error *
fatal_outer(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;

	(void)arg;
	tg_group_init(&g, &collect);
	/* value_child runs first: LIFO, or eager and spawned first. */
	if (TEST_EAGER)
		tg_spawn(&g, value_child, (void *)3);
	tg_spawn(&g, fatal_inner, NULL);
	if (!TEST_EAGER)
		tg_spawn(&g, value_child, (void *)3);
	return tg_group_join(&g, NULL);
}

static void
test_cancel_fatal_error_nested_keeps_everything(void **state)
{
	tg_error *err;
	int n = 0;

	(void)state;
	err = tg_runner_run(runner1, fatal_outer, NULL);
	assert_true(tg_error_is(err, &tg_Interrupt));
	tg_error_foreach_leaf(tg_error_context(err), count_leaves, &n);
	assert_int_equal(n, 3);
	tg_error_decref(err);
}

/* A fatal error cancels even a collect-all group. */
static tg_error *
fatal_cancels_collect_all(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;

	(void)arg;
	tg_group_init(&g, &collect);
	tg_spawn(&g, wait_for_cancel, NULL);
	tg_spawn(&g, interrupt_child, NULL);
	return tg_group_join(&g, NULL);
}

static void
test_cancel_fatal_error_cancels_every_policy(void **state)
{
	tg_error *err;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* waits for a later sibling */
	err = tg_runner_run(runner2, fatal_cancels_collect_all, NULL);
	assert_true(tg_error_is(err, &tg_Interrupt));
	assert_null(tg_error_context(err));
	tg_error_decref(err);
}

/* ---------------------------------------------------------------- */
/* Storm: exactly once under racing cancellations                      */

#define STORM_TASKS 4096

static struct {
	uint64_t state[STORM_TASKS]; /* 0 spawned, 1 ran */
	uint64_t seed;
	uint64_t spawned, ran;
} storm;

static uint64_t
storm_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static tg_error *storm_node(void *arg);

/* Spawns a few children, maybe fails, maybe cancels its own group. */
static tg_error *
storm_node(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	uint64_t x = storm.seed ^ (id * 0x9e3779b97f4a7c15ULL) ^ 1;
	tg_group g;
	int k, kids;

	/* Exactly once: the CAS fails if this task already ran. */
	assert_true(tg_atomic_cas_seqcst_u64(&storm.state[id], 0, 1));
	tg_atomic_faa_seqcst_u64(&storm.ran, 1);
	kids = (int)(storm_rand(&x) % 4);
	if (kids == 0 || id * 4 + 4 >= STORM_TASKS)
		return storm_rand(&x) % 5 == 0
			       ? TG_RAISE_CODE(&tg_ValueError, (int)id, "fail")
			       : NULL;
	tg_group_init(&g, NULL);
	for (k = 1; k <= kids; k++) {
		uint64_t child = id * 4 + (uint64_t)k;

		if (tg_spawn(&g, storm_node, (void *)(uintptr_t)child) == TG_OK)
			tg_atomic_faa_seqcst_u64(&storm.spawned, 1);
	}
	if (storm_rand(&x) % 7 == 0)
		tg_group_cancel(&g);
	return tg_group_join(&g, storm_rand(&x) % 9 == 0
					 ? TG_RAISE(&tg_TypeError, "body")
					 : NULL);
}

static void
test_cancel_storm_runs_each_task_at_most_once(void **state)
{
	tg_runner *runners[3] = { runner1, runner2, runner4 };
	int round;

	(void)state;
	for (round = 0; round < 60; round++) {
		tg_error *err;
		int i;

		for (i = 0; i < STORM_TASKS; i++)
			storm.state[i] = 0;
		storm.seed = 0x5eed0000u + (uint64_t)round;
		storm.spawned = 1; /* the root node */
		storm.ran = 0;
		err = tg_runner_run(runners[round % 3], storm_node, (void *)0);
		tg_error_decref(err);
		/* Every accepted task ran at most once (the CAS); those that
		 * did not run were skipped as cancelled. */
		assert_true(storm.ran <= storm.spawned);
		assert_true(storm.ran >= 1);
	}
	printf("storm seeds 0x5eed0000..+59\n");
}

/* ---------------------------------------------------------------- */
/* Ctrl-C                                                             */

static uint64_t ctrl_c_children_started, ctrl_c_children_done;
static uint64_t ctrl_c_value_failed;

static tg_error *
value_child_then_flag(void *arg)
{
	tg_atomic_faa_seqcst_u64(&ctrl_c_value_failed, 1);
	return TG_RAISE_CODE(&tg_ValueError, (int)(intptr_t)arg, "value");
}

static tg_error *
sends_sigint(void *arg)
{
	int times = (int)(intptr_t)arg, i;

	/* The real failure first, so that it is there to be attached. */
	while (tg_atomic_load_seqcst_u64(&ctrl_c_value_failed) == 0)
		tg_atomic_pause();
	for (i = 0; i < times; i++) {
		kill(getpid(), SIGINT);
		/* Pending SIGINTs merge: send the next one only once this
		 * one has been handled (it cancels our scope). */
		while (!tg_cancelled())
			tg_atomic_pause();
	}
	for (;;)
		TG_CHECKPOINT();
}

static tg_error *
waits_and_counts(void *arg)
{
	tg_error *err;

	(void)arg;
	tg_atomic_faa_seqcst_u64(&ctrl_c_children_started, 1);
	do {
		err = tg_checkpoint_at(__FILE__, __LINE__, __func__);
	} while (err == NULL);
	tg_atomic_faa_seqcst_u64(&ctrl_c_children_done, 1);
	return err;
}

/* Collect-all, so that the real failure does not cancel the group: only
 * the SIGINT can end the waiting children. */
static tg_error *
ctrl_c_root_collect(void *arg)
{
	tg_group_options collect = { .policy = TG_POLICY_COLLECT_ALL };
	tg_group g;

	tg_group_init(&g, &collect);
	/* The owner runs its deque LIFO (value first) and a thief steals
	 * FIFO (the sender first), so neither waits on a queued task. */
	tg_spawn(&g, sends_sigint, arg);
	tg_spawn(&g, waits_and_counts, NULL);
	tg_spawn(&g, waits_and_counts, NULL);
	tg_spawn(&g, value_child_then_flag, (void *)7);
	return tg_group_join(&g, NULL);
}

static void
test_cancel_ctrl_c_cancels_the_run_and_returns_interrupt(void **state)
{
	tg_runner_config cfg = { .threads = 2, .handle_sigint = true };
	struct sigaction now;
	tg_runner *r;
	tg_error *err, *ctx;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* the sender waits for a later sibling */
	/* The portable platform file cannot tell the main thread, so the
	 * handling stays off there (runner.h). */
	if (!tg__main_thread_known)
		skip();
	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	ctrl_c_children_done = ctrl_c_children_started = 0;
	ctrl_c_value_failed = 0;
	err = tg_runner_run(r, ctrl_c_root_collect, (void *)1);
	assert_true(tg_error_is(err, &tg_Interrupt));
	/* Each waiting child either never started (skipped: cancelled while
	 * queued) or saw the cancellation and ended. */
	assert_int_equal(ctrl_c_children_done, ctrl_c_children_started);
	/* What had failed is attached: the group with the ValueError. */
	ctx = tg_error_context(err);
	assert_non_null(ctx);
	assert_int_equal(tg_error_leaf_count(ctx), 1);
	tg_error_decref(err);
	/* The default action is back once the run returned. */
	assert_int_equal(sigaction(SIGINT, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_DFL);
	/* The runner is still usable, and a new run can be interrupted. */
	ctrl_c_children_started = ctrl_c_children_done = 0;
	ctrl_c_value_failed = 0;
	err = tg_runner_run(r, ctrl_c_root_collect, (void *)1);
	assert_true(tg_error_is(err, &tg_Interrupt));
	tg_error_decref(err);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static volatile sig_atomic_t user_handler_calls;

static void
user_handler(int sig)
{
	(void)sig;
	user_handler_calls++;
}

static tg_error *
raise_once_and_finish(void *arg)
{
	(void)arg;
	/* raise, not kill(getpid()): the signal goes to this thread and its
	 * handler has run when raise returns, so before the run ends.  A
	 * process-directed SIGINT may run the handler on another thread
	 * after the run has returned (seen under load). */
	raise(SIGINT);
	return NULL;
}

static void
test_cancel_ctrl_c_leaves_a_user_handler_alone(void **state)
{
	tg_runner_config cfg = { .threads = 2, .handle_sigint = true };
	struct sigaction sa = { .sa_handler = user_handler }, old;
	tg_runner *r;

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGINT, &sa, &old), 0);
	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	user_handler_calls = 0;
	assert_null(tg_runner_run(r, raise_once_and_finish, NULL));
	assert_int_equal(user_handler_calls, 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	assert_int_equal(sigaction(SIGINT, &old, NULL), 0);
}

/* The child process of the test below (this program run with
 * --ctrl-c-twice): a run that gets two SIGINTs. */
static int
ctrl_c_twice_child(void)
{
	tg_runner_config cfg = { .threads = 2, .handle_sigint = true };
	tg_runner *r;
	tg_error *err;

	if (tg_runner_create(&r, &cfg) != TG_OK)
		return 3;
	err = tg_runner_run(r, ctrl_c_root_collect, (void *)2);
	tg_error_decref(err);
	return 4; /* not reached: the second SIGINT ends the process */
}

/* The second SIGINT restores the default action and re-raises it: the
 * process ends by SIGINT.  Run in a fresh process (fork alone would copy
 * this multi-threaded one, which TSan refuses). */
static void
test_cancel_ctrl_c_twice_ends_the_process(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	TEST_SKIP_IF_EAGER(); /* the sender waits for a later sibling */
	if (!tg__main_thread_known)
		skip(); /* no handling: the first SIGINT would end it */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_cancel", "--ctrl-c-twice",
		      (char *)NULL);
		_exit(5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGINT);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_bound_after_first_failure),
		cmocka_unit_test(test_cancel_batch_runs_oldest_first_and_stops_at_the_failure),
		cmocka_unit_test(test_cancel_batch_past_queue_limit_keeps_spawn_order),
		cmocka_unit_test(test_cancel_batch_published_in_part_keeps_spawn_order),
		cmocka_unit_test(test_cancel_flows_down_errors_flow_up),
		cmocka_unit_test(test_cancel_join_blocks_then_task_sees_cancel),
		cmocka_unit_test(test_cancel_spawn_from_child_allowed_until_abort),
		cmocka_unit_test(test_cancel_fatal_error_is_the_root_with_the_rest_attached),
		cmocka_unit_test(test_cancel_fatal_error_nested_keeps_everything),
		cmocka_unit_test(test_cancel_fatal_error_cancels_every_policy),
		cmocka_unit_test(test_cancel_storm_runs_each_task_at_most_once),
		cmocka_unit_test(test_cancel_ctrl_c_cancels_the_run_and_returns_interrupt),
		cmocka_unit_test(test_cancel_ctrl_c_leaves_a_user_handler_alone),
		cmocka_unit_test(test_cancel_ctrl_c_twice_ends_the_process),
	};

	if (argc == 2 && strcmp(argv[1], "--ctrl-c-twice") == 0)
		return ctrl_c_twice_child();
	return cmocka_run_group_tests(tests, setup, teardown);
}
