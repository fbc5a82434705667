/*
 * test_runner_destroy.c - runs and destroys racing a destroy of the same
 * runner (runner.h, tg_runner_destroy): a racing run starts first (the
 * destroy says TG_EBUSY and is retried) or gets TG_ESTATE; one of two
 * racing destroys wins; nothing touches freed memory (CI runs this under
 * ThreadSanitizer and AddressSanitizer).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "atomic.h"

static tg_error *
noop(void *arg)
{
	(void)arg;
	return NULL;
}

typedef struct racer {
	tg_runner *r;
	pthread_t thread;
	uint64_t runs_ok;
	int saw_estate;
	int saw_other;
} racer;

/* Runs on r until a run is refused with TG_ESTATE, RUNS_MAX runs at
 * most (so that the destroy, retried while it says TG_EBUSY, gets its
 * turn).  Until the test creates another runner, a destroyed runner's
 * shell stays closed (runner.h). */
#define RUNS_MAX 50

static void *
run_until_refused(void *arg)
{
	racer *x = arg;

	while (x->runs_ok < RUNS_MAX) {
		tg_error *err = tg_runner_run(x->r, noop, NULL);

		if (err == NULL) {
			x->runs_ok++;
			continue;
		}
		if (tg_error_code(err) == TG_ESTATE)
			x->saw_estate = 1;
		else
			x->saw_other = 1;
		tg_error_decref(err);
		return NULL;
	}
	return NULL;
}

#define RACERS 3
#define ROUNDS 200

static void
test_runner_destroy_races_runs(void **state)
{
	uint64_t total = 0;
	int round, i, rc, busy = 0, refused = 0;

	(void)state;
	for (round = 0; round < ROUNDS; round++) {
		tg_runner *r;
		racer x[RACERS] = { 0 };

		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
							      .threads = 1 +
								 round % 2 }),
				 TG_OK);
		for (i = 0; i < RACERS; i++) {
			x[i].r = r;
			assert_int_equal(pthread_create(&x[i].thread, NULL,
							run_until_refused,
							&x[i]),
					 0);
		}
		/* Let some runs start on most rounds, none on others. */
		if (round % 4 != 0)
			assert_null(tg_runner_run(r, noop, NULL));
		while ((rc = tg_runner_destroy(r)) == TG_EBUSY) {
			busy++;
			sched_yield();
		}
		assert_int_equal(rc, TG_OK);
		for (i = 0; i < RACERS; i++) {
			assert_int_equal(pthread_join(x[i].thread, NULL), 0);
			assert_true(x[i].saw_estate ||
				    x[i].runs_ok == RUNS_MAX);
			assert_false(x[i].saw_other);
			refused += x[i].saw_estate;
			total += x[i].runs_ok;
		}
	}
	printf("%d rounds: %llu racing runs completed, %d racers refused "
	       "with TG_ESTATE, %d destroys said TG_EBUSY first\n",
	       ROUNDS, (unsigned long long)total, refused, busy);
	/* Most racers come after the destroy: refusals must have been
	 * seen (a run that started first makes the destroy wait). */
	assert_true(refused > 0);
}

typedef struct destroyer {
	tg_runner *r;
	uint32_t *go;
	int rc;
} destroyer;

static void *
destroy_when_told(void *arg)
{
	destroyer *d = arg;

	while (tg_atomic_load_seqcst_u32(d->go) == 0)
		tg_atomic_pause();
	d->rc = tg_runner_destroy(d->r);
	return NULL;
}

static void
test_runner_destroy_twice_at_once_one_wins(void **state)
{
	int round;

	(void)state;
	for (round = 0; round < 100; round++) {
		uint32_t go = 0;
		destroyer a = { 0 }, b = { 0 };
		pthread_t ta, tb;
		tg_runner *r;

		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
							      .threads = 1 }),
				 TG_OK);
		a.r = b.r = r;
		a.go = b.go = &go;
		assert_int_equal(pthread_create(&ta, NULL, destroy_when_told,
						&a),
				 0);
		assert_int_equal(pthread_create(&tb, NULL, destroy_when_told,
						&b),
				 0);
		tg_atomic_faa_seqcst_u32(&go, 1);
		assert_int_equal(pthread_join(ta, NULL), 0);
		assert_int_equal(pthread_join(tb, NULL), 0);
		/* Exactly one destroyed it; the other was told it was being
		 * (or had been) destroyed. */
		assert_true((a.rc == TG_OK && b.rc == TG_ESTATE) ||
			    (a.rc == TG_ESTATE && b.rc == TG_OK));
	}
}

static void
test_runner_destroy_again_is_refused(void **state)
{
	tg_runner *r, *r2;
	tg_error *err;

	(void)state;
	assert_int_equal(tg_runner_create(&r, NULL), TG_OK);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	/* Until another runner is created, the shell stays closed. */
	assert_int_equal(tg_runner_destroy(r), TG_ESTATE);
	err = tg_runner_run(r, noop, NULL);
	assert_int_equal(tg_error_code(err), TG_ESTATE);
	tg_error_decref(err);
	/* A new runner may reuse the shell; it works as any runner. */
	assert_int_equal(tg_runner_create(&r2, NULL), TG_OK);
	assert_null(tg_runner_run(r2, noop, NULL));
	assert_int_equal(tg_runner_destroy(r2), TG_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runner_destroy_races_runs),
		cmocka_unit_test(test_runner_destroy_twice_at_once_one_wins),
		cmocka_unit_test(test_runner_destroy_again_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
