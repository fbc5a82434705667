/*
 * test_cancel_deep.c - cancellation through deep trees of scopes (cancel.c,
 * "the scope tree"): a failure climbing thousands of nested groups costs a
 * bounded number of scope links per level (tg_runner_stats' scope_steps,
 * a count, never a time), cancellations reach registered scopes far below
 * and stop at their subtree, and a run's SIGINT reaches a registered scope
 * 40 levels down.  Pools of 1 and 2 workers; the waiting tasks sleep in
 * tg_sleep (a blocking region) or spin on checkpoints.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"
#include "platform.h"

/* Every level of a deep chain runs beneath its parent's join on one
 * worker: a few hundred bytes each, so 64 MiB is room to spare. */
#define DEEP_STACK ((size_t)64 << 20)

static tg_runner *
deep_runner(int threads)
{
	tg_runner *r = NULL;
	tg_runner_config cfg = { .threads = threads,
				 .stack_size = DEEP_STACK };

	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	return r;
}

static uint64_t
scope_steps(tg_runner *r)
{
	tg_runner_stats_t st;

	assert_int_equal(tg_runner_stats(r, &st), TG_OK);
	return st.scope_steps;
}

/* ---------------------------------------------------------------- */
/* A failure that climbs                                              */

static long climb_depth;

/* Level i opens a fail-fast group and spawns level i + 1 into it; the
 * last level raises.  Each join finds its group cancelled by the failure
 * below and hands an ExceptionGroup one level deeper up. */
static tg_error *
climb(void *arg)
{
	long i = (long)(intptr_t)arg;
	tg_group g;

	if (i == climb_depth)
		return TG_RAISE(&tg_RuntimeError, "bottom");
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, climb, (void *)(intptr_t)(i + 1)), TG_OK);
	return tg_group_join(&g, NULL);
}

static long
chain_length(const tg_error *e)
{
	long d = 0;

	while (tg_error_is_group(e)) {
		assert_int_equal(tg_error_count(e), 1);
		e = tg_error_child(e, 0);
		d++;
	}
	assert_true(tg_error_is(e, &tg_RuntimeError));
	return d;
}

/* Steps per level of a climb of depth levels on r. */
static double
climb_steps_per_level(tg_runner *r, long depth)
{
	uint64_t before = scope_steps(r);
	tg_error *err;

	climb_depth = depth;
	err = tg_runner_run(r, climb, (void *)1);
	assert_int_equal(chain_length(err), depth - 1);
	tg_error_decref(err);
	return (double)(scope_steps(r) - before) / (double)depth;
}

/* With a walk to the root per check (the quadratic version), 4,000
 * levels cost about 2,000 steps per level; a check bounded at any depth
 * costs a few.  Twice the depth must not double the cost per level. */
static void
test_cancel_deep_climb_costs_bounded_steps_per_level(void **state)
{
	int threads;

	(void)state;
	for (threads = 1; threads <= 2; threads++) {
		tg_runner *r = deep_runner(threads);
		double at2k = climb_steps_per_level(r, 2000);
		double at4k = climb_steps_per_level(r, 4000);

		printf("threads=%d steps per level: %.1f at 2,000, %.1f at "
		       "4,000\n",
		       threads, at2k, at4k);
		assert_true(at2k < 64.0);
		assert_true(at4k < 64.0);
		assert_true(at4k < 2.0 * at2k + 8.0);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
	}
}

/* ---------------------------------------------------------------- */
/* Cancelling a scope far above a waiting task                        */

#define CHAIN 200

typedef struct chain {
	/* The group each level opened (cancel targets), set before the
	 * level spawns the next. */
	tg_group *groups[CHAIN];
	uint32_t bottom_waiting; /* the bottom task is in its loop */
	uint32_t bottom_done;    /* it saw its scope cancelled */
	uint32_t side_done;      /* the side task ended, not cancelled */
	int use_sleep;                /* wait in tg_sleep, else checkpoints */
} chain;

static chain ch;

/* Waits until its scope is cancelled: in tg_sleep (which then returns a
 * CancelledError) or polling tg_cancelled. */
static void
wait_cancelled(void)
{
	if (ch.use_sleep) {
		tg_error *err;

		while ((err = tg_sleep(1000 * 1000 * 1000)) == NULL)
			;
		assert_true(tg_error_is(err, &tg_CancelledError));
		tg_error_decref(err);
		return;
	}
	while (!tg_cancelled())
		usleep(50);
}

static tg_error *
chain_level(void *arg)
{
	long i = (long)(intptr_t)arg;
	tg_group g;

	if (i == CHAIN) {
		tg_atomic_faa_seqcst_u32(&ch.bottom_waiting, 1);
		wait_cancelled();
		tg_atomic_faa_seqcst_u32(&ch.bottom_done, 1);
		return NULL;
	}
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	ch.groups[i] = &g;
	assert_int_equal(tg_spawn(&g, chain_level, (void *)(intptr_t)(i + 1)),
			 TG_OK);
	return tg_group_join(&g, NULL);
}

/* A task outside the chain: in the root's group, beside level 1.  It
 * waits (in tg_sleep, which would return a CancelledError) until the
 * chain's bottom has seen its cancellation, and checks that its own
 * scope, beside the cancelled one, is not cancelled. */
static tg_error *
side_task(void *arg)
{
	(void)arg;
	while (tg_atomic_load_seqcst_u32(&ch.bottom_done) == 0)
		assert_null(tg_sleep(100 * 1000));
	assert_false(tg_cancelled());
	tg_atomic_faa_seqcst_u32(&ch.side_done, 1);
	return NULL;
}

/* Makes the pool's epoch move many times (each cancellation anywhere
 * does), so that the waiting bottom's checks take the slow path and
 * register its chain of scopes in the tree. */
static tg_error *
churn(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 200; i++) {
		tg_group g;

		assert_int_equal(tg_group_init(&g, NULL), TG_OK);
		tg_group_cancel(&g);
		assert_null(tg_group_join(&g, NULL));
		usleep(20);
	}
	return NULL;
}

static long cancel_level; /* which level's group the root cancels */

static tg_error *
chain_root(void *arg)
{
	tg_group outer, g;
	tg_error *err;

	(void)arg;
	assert_int_equal(tg_group_init(&outer, NULL), TG_OK);
	assert_int_equal(tg_spawn(&outer, side_task, NULL), TG_OK);
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	ch.groups[0] = &g;
	assert_int_equal(tg_spawn(&g, chain_level, (void *)1), TG_OK);
	/* Let the chain grow to the bottom (a thief or a compensating
	 * worker runs it while this task waits here)... */
	while (tg_atomic_load_seqcst_u32(&ch.bottom_waiting) == 0)
		assert_null(tg_sleep(100 * 1000));
	/* ...move the epoch so that its scopes register... */
	assert_null(churn(NULL));
	/* ...and cancel a group far above the bottom. */
	assert_int_equal(tg_group_cancel(ch.groups[cancel_level]), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_null(err); /* cancellations are not failures */
	assert_true(tg_atomic_load_seqcst_u32(&ch.bottom_done) != 0);
	return tg_group_join(&outer, NULL);
}

static void
test_cancel_deep_reaches_a_registered_scope_far_below(void **state)
{
	static const long levels[] = { 0, 1, CHAIN / 2, CHAIN - 1 };
	int threads, sleep_mode;
	size_t k;

	(void)state;
	for (threads = 1; threads <= 2; threads++)
		for (sleep_mode = 0; sleep_mode <= 1; sleep_mode++)
			for (k = 0; k < sizeof levels / sizeof levels[0]; k++) {
				tg_runner *r = deep_runner(threads);
				uint64_t before = scope_steps(r);

				memset(&ch, 0, sizeof ch);
				ch.use_sleep = sleep_mode;
				cancel_level = levels[k];
				assert_null(tg_runner_run(r, chain_root, NULL));
				assert_true(tg_atomic_load_seqcst_u32(
						    &ch.side_done) != 0);
				/* The chain registered: its checks took the
				 * tree's O(1) answers, not 200-link walks
				 * (200 epochs x 200 links = 40,000). */
				assert_true(scope_steps(r) - before < 20000);
				assert_int_equal(tg_runner_destroy(r), TG_OK);
			}
}

/* ---------------------------------------------------------------- */
/* SIGINT reaches a registered scope                                  */

static tg_error *
interrupt_root(void *arg)
{
	(void)arg;
	/* chain_root without the cancel: the bottom waits for the SIGINT
	 * that cancels the run's root scope, which no push reaches (a
	 * signal handler takes no lock): registered scopes read their
	 * root's bits. */
	tg_group g;

	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, chain_level, (void *)1), TG_OK);
	while (tg_atomic_load_seqcst_u32(&ch.bottom_waiting) == 0)
		assert_null(tg_sleep(100 * 1000));
	assert_null(churn(NULL));
	raise(SIGINT);
	return tg_group_join(&g, NULL);
}

static void
test_cancel_deep_sigint_reaches_a_registered_scope(void **state)
{
	tg_runner_config cfg = { .threads = 2, .handle_sigint = true,
				 .stack_size = DEEP_STACK };
	tg_runner *r;
	tg_error *err;

	(void)state;
	if (!tg__main_thread_known)
		skip(); /* the portable platform file: no SIGINT handling */
	assert_int_equal(tg_runner_create(&r, &cfg), TG_OK);
	memset(&ch, 0, sizeof ch);
	ch.use_sleep = 0; /* checkpoints: the signal's own wake-up path */
	err = tg_runner_run(r, interrupt_root, NULL);
	assert_true(tg_error_is(err, &tg_Interrupt));
	assert_true(tg_atomic_load_seqcst_u32(&ch.bottom_done) != 0);
	tg_error_decref(err);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_cancel_deep_climb_costs_bounded_steps_per_level),
		cmocka_unit_test(
			test_cancel_deep_reaches_a_registered_scope_far_below),
		cmocka_unit_test(
			test_cancel_deep_sigint_reaches_a_registered_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
