/*
 * test_worker.c - what a worker does between tasks: sharing work with a
 * thief from a full queue, and the back-off of thieves from tiny tasks
 * (worker.c, "Tiny steals").  Outcomes only: who ran what while the
 * spawner was still spawning, what the back-off's state is after a given
 * sequence of steals, and that nothing is lost or run twice while thieves
 * pause.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sched.h>

#include "taskgroup.h"

#include "atomic.h"
#include "scheduler.h"

/* Safety bound on every wait below (never reached when the code works). */
#define WAIT_LIMIT_NS (INT64_C(30) * 1000000000)

/* ------------------------------------------------------------------ */
/* A full queue still shares                                            */

/*
 * The spawner's other worker is kept busy (the blocker) until the
 * spawner's queue is full and its spawns have started to overflow, so the
 * thief's request for work arrives while no push can succeed.  From then
 * on, each batch task the spawner runs itself waits (up to 2 ms) for a
 * batch task to run elsewhere.  The test asserts that one did while the
 * spawner was still spawning: a full queue answered the request.  (Before
 * the fix, nothing answered it until the join, and these waits added up
 * to 4 s.)
 */
#define FULL_EXTRA 2000

static struct {
	int spawner_worker;
	TG_ATOMIC(uint32_t) phase; /* 0, 1: blocker running, 2: queue full */
	TG_ATOMIC(uint32_t) spawning;
	TG_ATOMIC(uint32_t) other_ran;
	TG_ATOMIC(uint32_t) ran_while_spawning;
	TG_ATOMIC(uint64_t) ran;
} full;

static tg_error *
full_blocker(void *arg)
{
	int64_t start = tg_now_ns();

	(void)arg;
	/* release/acquire: only a flag between two test threads. */
	tg_atomic_store_release_u32(&full.phase, 1);
	while (tg_atomic_load_acquire_u32(&full.phase) != 2 &&
	       tg_now_ns() - start < WAIT_LIMIT_NS)
		sched_yield();
	return NULL;
}

static tg_error *
full_batch_task(void *arg)
{
	int64_t start;

	(void)arg;
	tg_atomic_faa_seqcst_u64(&full.ran, 1);
	if (tg_current_worker() != full.spawner_worker) {
		if (tg_atomic_load_acquire_u32(&full.spawning))
			tg_atomic_store_release_u32(&full.ran_while_spawning,
						    1);
		tg_atomic_store_release_u32(&full.other_ran, 1);
		return NULL;
	}
	if (tg_atomic_load_acquire_u32(&full.phase) != 2)
		return NULL; /* the queue is still filling */
	start = tg_now_ns();
	while (!tg_atomic_load_acquire_u32(&full.other_ran) &&
	       tg_now_ns() - start < 2000000)
		tg_atomic_pause();
	return NULL;
}

static tg_error *
full_root(void *arg)
{
	tg_group blockers, batch;
	tg_error *err;
	int64_t start = tg_now_ns();
	int i, n = TG__QUEUE_MAX + 64 + FULL_EXTRA;

	(void)arg;
	full.spawner_worker = tg_current_worker();
	assert_int_equal(tg_group_init(&blockers, NULL), TG_OK);
	assert_int_equal(tg_spawn(&blockers, full_blocker, NULL), TG_OK);
	/* Checkpoints share with the other worker when it asks. */
	while (tg_atomic_load_acquire_u32(&full.phase) != 1 &&
	       tg_now_ns() - start < WAIT_LIMIT_NS) {
		(void)tg_cancelled();
		sched_yield();
	}
	assert_int_equal(tg_atomic_load_acquire_u32(&full.phase), 1);

	assert_int_equal(tg_group_init(&batch, NULL), TG_OK);
	tg_atomic_store_release_u32(&full.spawning, 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(tg_spawn(&batch, full_batch_task, NULL),
				 TG_OK);
		if (i == TG__QUEUE_MAX + 64) /* overflowing: free the thief */
			tg_atomic_store_release_u32(&full.phase, 2);
	}
	tg_atomic_store_release_u32(&full.spawning, 0);
	err = tg_group_join(&batch, NULL);
	assert_null(err);
	return tg_group_join(&blockers, NULL);
}

static void
test_worker_full_queue_shares_with_thief(void **state)
{
	tg_runner *r;
	tg_runner_config cfg = { .threads = 2 };

	(void)state;
	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	assert_null(tg_runner_run(r, full_root, NULL));
	assert_int_equal(tg_atomic_load_acquire_u64(&full.ran),
			 TG__QUEUE_MAX + 64 + FULL_EXTRA);
	assert_int_equal(tg_atomic_load_acquire_u32(&full.ran_while_spawning),
			 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

/* ------------------------------------------------------------------ */
/* The back-off's bookkeeping                                           */

static void
test_worker_tiny_steals_start_a_pause(void **state)
{
	tg__worker w;
	int i;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (i = 1; i < TG__STEAL_TINY_STREAK; i++) {
		tg__steal_account(&w, TG__STEAL_TINY_NS - 1, 1000);
		assert_int_equal(w.steal_resume_ns, 0);
	}
	tg__steal_account(&w, 0, 1000);
	assert_int_equal(w.steal_pause_ns, TG__STEAL_PAUSE_MIN_NS);
	assert_int_equal(w.steal_resume_ns, 1000 + TG__STEAL_PAUSE_MIN_NS);
}

static void
test_worker_tiny_steals_double_the_pause_up_to_max(void **state)
{
	tg__worker w;
	int64_t expect = TG__STEAL_PAUSE_MIN_NS;
	int i;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (i = 0; i < TG__STEAL_TINY_STREAK; i++)
		tg__steal_account(&w, 10, 0);
	assert_int_equal(w.steal_pause_ns, expect);
	for (i = 0; i < 40; i++) {
		tg__steal_account(&w, 10, 5000);
		expect = expect * 2 > TG__STEAL_PAUSE_MAX_NS
				 ? TG__STEAL_PAUSE_MAX_NS
				 : expect * 2;
		assert_int_equal(w.steal_pause_ns, expect);
		assert_int_equal(w.steal_resume_ns, 5000 + expect);
	}
	assert_int_equal(w.steal_pause_ns, TG__STEAL_PAUSE_MAX_NS);
	/* The streak count saturates instead of wrapping. */
	assert_int_equal(w.tiny_steals, TG__STEAL_TINY_STREAK);
}

static void
test_worker_long_steal_ends_the_back_off(void **state)
{
	tg__worker w;
	int i;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (i = 0; i < TG__STEAL_TINY_STREAK + 3; i++)
		tg__steal_account(&w, 1, 0);
	assert_true(w.steal_pause_ns > TG__STEAL_PAUSE_MIN_NS);
	tg__steal_account(&w, TG__STEAL_TINY_NS, 0);
	assert_int_equal(w.steal_pause_ns, 0);
	assert_int_equal(w.tiny_steals, 0);
	/* A new streak starts from scratch. */
	for (i = 1; i < TG__STEAL_TINY_STREAK; i++)
		tg__steal_account(&w, 1, 0);
	tg__steal_account(&w, 1, 7);
	assert_int_equal(w.steal_pause_ns, TG__STEAL_PAUSE_MIN_NS);
	assert_int_equal(w.steal_resume_ns, 7 + TG__STEAL_PAUSE_MIN_NS);
}

/* ------------------------------------------------------------------ */
/* Tiny batches with pausing thieves lose nothing                       */

#define TINY_N 200000

static struct {
	TG_ATOMIC(uint32_t) seen[TINY_N];
	uint64_t out[TINY_N];
} tiny;

static tg_error *
tiny_task(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	/* relaxed: counted, read after the run (whose join orders it). */
	tg_atomic_faa_relaxed_u32(&tiny.seen[i], 1);
	tiny.out[i] = i * 2654435761u;
	return NULL;
}

/* A flat batch, then a fib-like tree: the thieves that paused on the
 * batch must still help with the tree (their pause ends). */
static tg_error *
tree_task(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;
	tg_group g;

	if (depth == 0)
		return NULL;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	(void)tg_spawn(&g, tree_task, (void *)(depth - 1));
	(void)tg_spawn(&g, tree_task, (void *)(depth - 1));
	return tg_group_join(&g, NULL);
}

static tg_error *
tiny_root(void *arg)
{
	tg_group g;
	uintptr_t i;
	int rc;

	(void)arg;
	if (tg_group_init(&g, NULL) != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "init");
	for (i = 0; i < TINY_N; i++) {
		rc = tg_spawn(&g, tiny_task, (void *)i);
		if (rc != TG_OK)
			return tg_group_join(
				&g, TG_RAISE(&tg_RuntimeError, "spawn"));
	}
	if (tg_group_join(&g, NULL) != NULL)
		return TG_RAISE(&tg_RuntimeError, "join");
	return tree_task((void *)(uintptr_t)14);
}

static void
check_tiny_batches(int threads)
{
	tg_runner *r;
	tg_runner_config cfg = { .threads = threads };
	int rep;
	uintptr_t i;

	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	for (rep = 1; rep <= 3; rep++) {
		assert_null(tg_runner_run(r, tiny_root, NULL));
		for (i = 0; i < TINY_N; i++) {
			if (tg_atomic_load_relaxed_u32(&tiny.seen[i]) !=
			    (uint32_t)rep)
				fail_msg("task %zu ran %u times after %d runs",
					 (size_t)i,
					 tg_atomic_load_relaxed_u32(
						 &tiny.seen[i]),
					 rep);
			assert_true(tiny.out[i] == i * 2654435761u);
		}
	}
	/* Destroy right away: a worker may be sleeping out a pause. */
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	memset(&tiny, 0, sizeof(tiny));
}

static void
test_worker_tiny_batches_with_pausing_thieves_lose_nothing(void **state)
{
	(void)state;
	check_tiny_batches(2);
	check_tiny_batches(4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_full_queue_shares_with_thief),
		cmocka_unit_test(test_worker_tiny_steals_start_a_pause),
		cmocka_unit_test(
			test_worker_tiny_steals_double_the_pause_up_to_max),
		cmocka_unit_test(test_worker_long_steal_ends_the_back_off),
		cmocka_unit_test(
			test_worker_tiny_batches_with_pausing_thieves_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
