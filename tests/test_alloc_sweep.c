/*
 * test_alloc_sweep.c - allocation-failure sweep over whole scenarios:
 * creating the runner, tg_run, and groups (flat and nested on 1 and 2
 * workers, fail-fast, collect-all with more than 32 failures, wide and
 * nested, a concurrency limit, a tg_spawn_each batch on 1 and 2 workers).
 * The sweep (every k-th allocation failing, then every one from the k-th
 * on) and what every run must give: test_sweep.h.  The errors' scenarios
 * (notes and causes, a group never joined, first-success, deadlines,
 * printing): test_alloc_sweep_errors.c.
 */
#include "test_sweep.h"

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

/* ---------------------------------------------------------------- */
/* The scenarios                                                      */

SCENARIO_TEST(flat, 1, flat_root, NULL, NULL, NULL)
SCENARIO_TEST(flat_two_workers, 2, flat_root, NULL, NULL, NULL)
SCENARIO_TEST(nested, 1, nested_root, NULL, NULL, NULL)
SCENARIO_TEST(nested_two_workers, 2, nested_root, NULL, NULL, NULL)
SCENARIO_TEST(fail_fast, 1, failfast_root, NULL, NULL, NULL)
SCENARIO_TEST(collect_all, 2, collect_root, NULL, NULL, NULL)
SCENARIO_TEST(wide_nested, 1, wide_nested_root, NULL, NULL, NULL)
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
		cmocka_unit_test(test_alloc_sweep_fail_fast),
		cmocka_unit_test(test_alloc_sweep_collect_all),
		cmocka_unit_test(test_alloc_sweep_wide_nested),
		cmocka_unit_test(test_alloc_sweep_limit),
		cmocka_unit_test(test_alloc_sweep_batch),
		cmocka_unit_test(test_alloc_sweep_batch_two_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
