/*
 * test_misuse.c - the misuse table: one test per row, each asserting the
 * status code or error type that the public headers document for that
 * misuse, and that nothing leaks (the suite also runs under ASan/LSan and
 * TSan).
 *
 * Rows: NULL for every pointer argument (groups, spawn, try-spawn, join,
 * cancel, deadlines, winner, runners, errors, printing, allocator, task
 * info), uninitialised handles, spawn after join, join twice, a group never
 * joined, join by a task that is not the owner, join out of nesting order,
 * a runner destroyed mid-run, called or destroyed from its own task, tg_run
 * from a task, deadlines in the past, negative or overflowing, an expired
 * deadline rescheduled, deadline calls after join or by another task, bad
 * thread counts and TG_THREADS values, tg_group_winner misuse, bad
 * concurrency limits, try-spawn at the limit, a child spawning into its own
 * full limited group, unknown policies, spawns into a cancelled group or
 * from a thread that runs no task.
 *
 * Code running on worker threads checks with CHECK* (test_check.h), never
 * with cmocka's assert_*; results are reported once the run is back.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "test_check.h"

static tg_runner *runner; /* two workers, shared by the rows that need one */

static int
setup(void **state)
{
	(void)state;
	return tg_runner_create(&runner, &(tg_runner_config){ .threads = 2 }) ==
			       TG_OK
		       ? 0
		       : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return tg_runner_destroy(runner) == TG_OK ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Helpers                                                            */

static atomic_int ran; /* how many times count_run ran */

static tg_error *
count_run(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return NULL;
}

static tg_error *
fail_code(void *arg)
{
	return TG_RAISE_CODE(&tg_ValueError, (int)(intptr_t)arg, "child %d",
			     (int)(intptr_t)arg);
}

/* Runs fn(arg) as a root task of the shared runner; the task returns NULL
 * and reports with CHECK. */
static void
run_checked_on(tg_runner *r, tg_task_fn fn, void *arg)
{
	tg_error *err;

	check_reset();
	atomic_store(&ran, 0);
	err = tg_runner_run(r, fn, arg);
	if (err != NULL) {
		tg_error_print(err, stderr);
		tg_error_decref(err);
		fail_msg("the task returned an error");
	}
	check_report();
}

static void
run_checked(tg_task_fn fn, void *arg)
{
	run_checked_on(runner, fn, arg);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for *flag to become non-zero.  The guard only keeps a broken
 * library from hanging the suite: it is no timing assertion. */
static bool
wait_flag(atomic_int *flag)
{
	double give_up = now_s() + 30.0;

	while (atomic_load(flag) == 0) {
		if (now_s() > give_up)
			return false;
		sched_yield();
	}
	return true;
}

/* Waits until the calling task sees its scope cancelled (same guard). */
static bool
wait_cancelled(void)
{
	double give_up = now_s() + 30.0;

	while (!tg_cancelled()) {
		if (now_s() > give_up)
			return false;
		sched_yield();
	}
	return true;
}

/* Is body kept inside err (as a child or as its context)? */
static bool
holds(const tg_error *err, const tg_error *body)
{
	size_t i;

	if (tg_error_context(err) == body)
		return true;
	for (i = 0; i < tg_error_count(err); i++)
		if (tg_error_child(err, i) == body)
			return true;
	return false;
}

/* A misuse report: a RuntimeError with the status as its code. */
static bool
is_usage(const tg_error *err, int status)
{
	return tg_error_is(err, &tg_RuntimeError) &&
	       tg_error_code(err) == status;
}

struct leaf_search {
	const tg_error_type *type;
	int code;
	const char *text; /* message must contain it; NULL: any */
	int found;
};

static int
find_leaf(tg_error *leaf, void *ctx)
{
	struct leaf_search *s = ctx;

	if (tg_error_is(leaf, s->type) && tg_error_code(leaf) == s->code &&
	    (s->text == NULL ||
	     strstr(tg_error_message(leaf), s->text) != NULL))
		s->found++;
	return 0;
}

static int
count_leaves(const tg_error *err, const tg_error_type *type, int code,
	     const char *text)
{
	struct leaf_search s = { type, code, text, 0 };

	tg_error_foreach_leaf(err, find_leaf, &s);
	return s.found;
}

/* ---------------------------------------------------------------- */
/* Groups: NULL and uninitialised handles                             */

static tg_error *
group_init_null_body(void *arg)
{
	(void)arg;
	CHECK_STATUS(tg_group_init(NULL, NULL), TG_EINVAL);
	CHECK_STATUS(tg_group_init(NULL, &(tg_group_options){ 0 }), TG_EINVAL);
	return NULL;
}

static void
test_misuse_group_init_null(void **state)
{
	(void)state;
	run_checked(group_init_null_body, NULL);
}

static void
test_misuse_group_init_outside_task(void **state)
{
	tg_group g;

	(void)state;
	assert_int_equal(tg_group_init(&g, NULL), TG_ENOTASK);
	assert_int_equal(tg_group_init(&g, &(tg_group_options){ 0 }),
			 TG_ENOTASK);
}

static tg_error *
spawn_null_group_body(void *arg)
{
	(void)arg;
	CHECK_STATUS(tg_spawn(NULL, count_run, NULL), TG_EINVAL);
	CHECK_STATUS((tg_spawn)(NULL, count_run, NULL), TG_EINVAL);
	CHECK_STATUS(tg_spawn_at(NULL, count_run, NULL, NULL), TG_EINVAL);
	CHECK_STATUS(tg_spawn_named(NULL, count_run, NULL, "x"), TG_EINVAL);
	CHECK_STATUS(tg_spawn_named_at(NULL, count_run, NULL, NULL, NULL),
		     TG_EINVAL);
	return NULL;
}

static void
test_misuse_spawn_null_group(void **state)
{
	(void)state;
	run_checked(spawn_null_group_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

static tg_error *
spawn_null_fn_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, NULL, NULL), TG_EINVAL);
	CHECK_STATUS((tg_spawn)(&g, NULL, NULL), TG_EINVAL);
	CHECK_STATUS(tg_spawn_at(&g, NULL, NULL, NULL), TG_EINVAL);
	CHECK_STATUS(tg_spawn_named(&g, NULL, NULL, "x"), TG_EINVAL);
	/* A NULL name and a NULL site are allowed. */
	CHECK_STATUS(tg_spawn_named_at(&g, count_run, NULL, NULL, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 1);
	return NULL;
}

static void
test_misuse_spawn_null_fn(void **state)
{
	(void)state;
	run_checked(spawn_null_fn_body, NULL);
}

static tg_error *
uninitialised_body(void *arg)
{
	tg_group zero, junk;
	tg_error *body, *err;

	(void)arg;
	memset(&zero, 0, sizeof(zero));
	memset(&junk, 0xa5, sizeof(junk));
	CHECK_STATUS(tg_spawn(&zero, count_run, NULL), TG_EINVAL);
	CHECK_STATUS(tg_spawn(&junk, count_run, NULL), TG_EINVAL);
	CHECK_STATUS(tg_group_cancel(&zero), TG_EINVAL);
	CHECK_STATUS(tg_group_cancel(&junk), TG_EINVAL);
	body = TG_RAISE(&tg_ValueError, "handed in");
	err = tg_group_join(&zero, body);
	CHECK(is_usage(err, TG_EINVAL));
	CHECK(holds(err, body));
	tg_error_decref(err);
	err = tg_group_join(&junk, NULL);
	CHECK(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_group_uninitialised(void **state)
{
	(void)state;
	run_checked(uninitialised_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

static tg_error *
join_null_body(void *arg)
{
	tg_error *body = TG_RAISE(&tg_ValueError, "handed in");
	tg_error *err = tg_group_join(NULL, body);

	(void)arg;
	CHECK(is_usage(err, TG_EINVAL));
	CHECK(holds(err, body)); /* consumed into the report, not lost */
	tg_error_decref(err);
	err = tg_group_join(NULL, NULL);
	CHECK(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_join_null(void **state)
{
	tg_error *err;

	(void)state;
	run_checked(join_null_body, NULL);
	/* Outside any task too. */
	err = tg_group_join(NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
}

static void
test_misuse_cancel_null(void **state)
{
	(void)state;
	assert_int_equal(tg_group_cancel(NULL), TG_EINVAL);
}

/* group.h: "Misuse returns a RuntimeError whose tg_error_code is the
 * status, and consumes body_err into it (kept as its context)". */
static tg_error *
body_err_as_context_body(void *arg)
{
	tg_error *body = TG_RAISE(&tg_ValueError, "handed in");
	tg_error *err = tg_group_join(NULL, body);

	(void)arg;
	CHECK(is_usage(err, TG_EINVAL));
	CHECK(tg_error_context(err) == body);
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_join_body_err_kept_as_context(void **state)
{
	(void)state;
	run_checked(body_err_as_context_body, NULL);
}

/* ---------------------------------------------------------------- */
/* Groups: order of operations                                        */

static tg_error *
spawn_after_join_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_EFINISHED);
	CHECK_STATUS((tg_spawn)(&g, count_run, NULL), TG_EFINISHED);
	CHECK_STATUS(tg_spawn_named(&g, count_run, NULL, "late"), TG_EFINISHED);
	/* EFINISHED wins over the NULL function: the group is the problem. */
	return NULL;
}

static void
test_misuse_spawn_after_join(void **state)
{
	(void)state;
	run_checked(spawn_after_join_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

static tg_error *
join_twice_body(void *arg)
{
	tg_group g;
	tg_error *body, *err;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	body = TG_RAISE(&tg_ValueError, "handed in");
	err = tg_group_join(&g, body);
	CHECK(is_usage(err, TG_EFINISHED));
	CHECK(holds(err, body));
	tg_error_decref(err);
	err = tg_group_join(&g, NULL);
	CHECK(is_usage(err, TG_EFINISHED));
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_join_twice(void **state)
{
	(void)state;
	run_checked(join_twice_body, NULL);
	assert_int_equal(atomic_load(&ran), 1);
}

static tg_error *
cancel_after_join_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_cancel(&g), TG_OK); /* a no-op after join */
	CHECK(!tg_cancelled());
	return NULL;
}

static void
test_misuse_cancel_after_join(void **state)
{
	(void)state;
	run_checked(cancel_after_join_body, NULL);
}

/* A group never joined: the runtime joins it as the task returns, keeps
 * its errors and adds a RuntimeError (TG_ESTATE) naming the group. */
static tg_error *
forgets_to_join(void *arg)
{
	tg_group g;

	/* Collect-all: with fail-fast, another worker could run the
	 * failing child before count_run starts, and count_run would be
	 * skipped (or its spawn refused) instead of run by the runtime's
	 * join, which is what the test checks. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						  .name = "forgotten",
						  .policy =
							  TG_POLICY_COLLECT_ALL }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, fail_code, (void *)(intptr_t)5), TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_OK);
	/* Optionally fail too: the task's own error is kept as well. */
	return arg != NULL ? TG_RAISE_CODE(&tg_TypeError, 6, "own error") : NULL;
}

static tg_error *
parent_of_forgetful(void *arg)
{
	tg_group g;

	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						  .policy = TG_POLICY_COLLECT_ALL }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, forgets_to_join, arg), TG_OK);
	return tg_group_join(&g, NULL);
}

static tg_error *
forgets_two(void *arg)
{
	tg_group outer, inner;

	(void)arg;
	CHECK_STATUS(tg_group_init(&outer, &(tg_group_options){ .name = "outer" }),
		     TG_OK);
	CHECK_STATUS(tg_group_init(&inner, &(tg_group_options){ .name = "inner" }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&inner, count_run, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&outer, count_run, NULL), TG_OK);
	return NULL;
}

static void
test_misuse_group_never_joined(void **state)
{
	tg_error *err;

	(void)state;
	/* In a child: its parent's join carries the report. */
	check_reset();
	atomic_store(&ran, 0);
	err = tg_runner_run(runner, parent_of_forgetful, NULL);
	check_report();
	assert_non_null(err);
	assert_int_equal(count_leaves(err, &tg_ValueError, 5, NULL), 1);
	assert_int_equal(count_leaves(err, &tg_RuntimeError, TG_ESTATE,
				      "forgotten"),
			 1);
	assert_int_equal(tg_error_leaf_count(err), 2);
	assert_int_equal(atomic_load(&ran), 1); /* the child ran (joined) */
	tg_error_decref(err);

	/* The task's own error is kept next to the report. */
	check_reset();
	err = tg_runner_run(runner, parent_of_forgetful, (void *)1);
	check_report();
	assert_int_equal(count_leaves(err, &tg_TypeError, 6, NULL), 1);
	assert_int_equal(count_leaves(err, &tg_ValueError, 5, NULL), 1);
	assert_int_equal(count_leaves(err, &tg_RuntimeError, TG_ESTATE, NULL),
			 1);
	tg_error_decref(err);

	/* A root task: the run's result carries it. */
	check_reset();
	err = tg_runner_run(runner, forgets_to_join, NULL);
	check_report();
	assert_int_equal(count_leaves(err, &tg_ValueError, 5, NULL), 1);
	assert_int_equal(count_leaves(err, &tg_RuntimeError, TG_ESTATE,
				      "forgotten"),
			 1);
	tg_error_decref(err);

	/* Two nested groups left open: both joined, both reported. */
	check_reset();
	atomic_store(&ran, 0);
	err = tg_runner_run(runner, forgets_two, NULL);
	check_report();
	assert_int_equal(atomic_load(&ran), 2);
	assert_int_equal(count_leaves(err, &tg_RuntimeError, TG_ESTATE,
				      "inner"),
			 1);
	assert_int_equal(count_leaves(err, &tg_RuntimeError, TG_ESTATE,
				      "outer"),
			 1);
	tg_error_decref(err);
}

/* Join by a task that is not the owner, and by a thread that runs no
 * task. */
static tg_error *
join_someone_elses(void *arg)
{
	tg_error *body = TG_RAISE(&tg_ValueError, "handed in");
	tg_error *err = tg_group_join(arg, body);

	CHECK(is_usage(err, TG_ENOTOWNER));
	CHECK(holds(err, body));
	tg_error_decref(err);
	return NULL;
}

static void *
join_from_plain_thread(void *arg)
{
	return tg_group_join(arg, NULL);
}

static tg_error *
join_not_owner_body(void *arg)
{
	tg_group g, side;
	pthread_t t;
	void *res;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_OK);
	CHECK_STATUS(tg_group_init(&side, NULL), TG_OK);
	/* A sibling task (in another group of the same owner) ... */
	CHECK_STATUS(tg_spawn(&side, join_someone_elses, &g), TG_OK);
	CHECK(tg_group_join(&side, NULL) == NULL);
	/* ... and a child of g itself. */
	CHECK_STATUS(tg_spawn(&g, join_someone_elses, &g), TG_OK);
	/* A thread that is no task at all. */
	CHECK_INT(pthread_create(&t, NULL, join_from_plain_thread, &g), 0);
	CHECK_INT(pthread_join(t, &res), 0);
	CHECK(is_usage(res, TG_ENOTOWNER));
	tg_error_decref(res);
	/* The owner still joins normally. */
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 1);
	return NULL;
}

static void
test_misuse_join_not_owner(void **state)
{
	(void)state;
	run_checked(join_not_owner_body, NULL);
}

static tg_error *
join_out_of_order_body(void *arg)
{
	tg_group outer, inner;
	tg_error *body, *err;

	(void)arg;
	CHECK_STATUS(tg_group_init(&outer, NULL), TG_OK);
	CHECK_STATUS(tg_group_init(&inner, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&inner, count_run, NULL), TG_OK);
	body = TG_RAISE(&tg_ValueError, "handed in");
	err = tg_group_join(&outer, body);
	CHECK(is_usage(err, TG_ESTATE));
	CHECK(holds(err, body));
	tg_error_decref(err);
	/* Nothing was joined: both are still open, in the right order. */
	CHECK_STATUS(tg_spawn(&outer, count_run, NULL), TG_OK);
	CHECK(tg_group_join(&inner, NULL) == NULL);
	CHECK(tg_group_join(&outer, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 2);
	return NULL;
}

static void
test_misuse_join_out_of_order(void **state)
{
	(void)state;
	run_checked(join_out_of_order_body, NULL);
}

static tg_error *
spawn_into_cancelled_body(void *arg)
{
	tg_group g, h, s;
	tg_error *err;

	(void)arg;
	/* Cancelled explicitly. */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_cancel(&g), TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_ESHUTTINGDOWN);
	CHECK_STATUS(tg_spawn_named(&g, count_run, NULL, "x"), TG_ESHUTTINGDOWN);
	CHECK(tg_group_join(&g, NULL) == NULL);
	/* Aborting because a child failed (fail-fast).  The failing child is
	 * spawned last, so the join of s below runs it first (LIFO) unless a
	 * thief already took it; either way it has started when that join
	 * returns, and its failure is then awaited.  s is nested in h, so it
	 * is cancelled with h: its join gives NULL or a CancelledError. */
	CHECK_STATUS(tg_group_init(&h, NULL), TG_OK);
	CHECK_STATUS(tg_group_init(&s, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&s, count_run, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&h, fail_code, (void *)(intptr_t)1), TG_OK);
	err = tg_group_join(&s, NULL);
	CHECK(err == NULL || tg_error_is(err, &tg_CancelledError));
	tg_error_decref(err);
	CHECK(wait_cancelled());
	CHECK_STATUS(tg_spawn(&h, count_run, NULL), TG_ESHUTTINGDOWN);
	CHECK_STATUS(tg_spawn_named(&h, count_run, NULL, "x"), TG_ESHUTTINGDOWN);
	err = tg_group_join(&h, NULL);
	CHECK_INT(count_leaves(err, &tg_ValueError, 1, NULL), 1);
	CHECK_INT(tg_error_leaf_count(err), 1);
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_spawn_into_cancelled(void **state)
{
	(void)state;
	run_checked(spawn_into_cancelled_body, NULL);
}

struct plain_spawn {
	tg_group *g;
	int spawn_rc;
	int cancel_rc;
};

static void *
spawn_from_plain_thread(void *arg)
{
	struct plain_spawn *p = arg;

	p->spawn_rc = tg_spawn(p->g, count_run, NULL);
	/* Cancel is allowed from any thread while g is open. */
	p->cancel_rc = tg_group_cancel(p->g);
	return NULL;
}

static tg_error *
spawn_from_non_task_body(void *arg)
{
	tg_group g;
	pthread_t t;
	struct plain_spawn p = { &g, 1, 1 };

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_INT(pthread_create(&t, NULL, spawn_from_plain_thread, &p), 0);
	CHECK_INT(pthread_join(t, NULL), 0);
	CHECK_STATUS(p.spawn_rc, TG_ENOTASK);
	CHECK_STATUS(p.cancel_rc, TG_OK);
	CHECK(tg_cancelled());
	CHECK(tg_group_join(&g, NULL) == NULL); /* explicit cancel: no error */
	return NULL;
}

static void
test_misuse_spawn_from_non_task_thread(void **state)
{
	(void)state;
	run_checked(spawn_from_non_task_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

static tg_error *
policy_body(void *arg)
{
	static const int bad[] = { 3, 4, -1, 99, INT_MAX, INT_MIN };
	tg_group g;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
							.policy = bad[i] }),
			     TG_EINVAL);
	/* The known ones are accepted. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_FAIL_FAST }),
		     TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_COLLECT_ALL }),
		     TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	return NULL;
}

static void
test_misuse_unknown_policy(void **state)
{
	(void)state;
	run_checked(policy_body, NULL);
}

/* ---------------------------------------------------------------- */
/* Concurrency limits and tg_try_spawn                                 */

static tg_error *
limit_body(void *arg)
{
	static const int bad[] = { -1, -1000, INT_MIN };
	tg_group g;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
							.limit = bad[i] }),
			     TG_EINVAL);
	CHECK(!tg_cancelled());
	/* 0 (no limit) and the largest limit are accepted. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 0 }),
		     TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.limit = TG_GROUP_LIMIT_MAX }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 1);
	return NULL;
}

static void
test_misuse_negative_limit(void **state)
{
	(void)state;
	run_checked(limit_body, NULL);
}

static tg_error *
try_spawn_null_body(void *arg)
{
	tg_group g, zero;

	(void)arg;
	memset(&zero, 0, sizeof(zero));
	CHECK_STATUS(tg_try_spawn(NULL, count_run, NULL), TG_EINVAL);
	CHECK_STATUS(tg_try_spawn_at(NULL, count_run, NULL, NULL), TG_EINVAL);
	CHECK_STATUS(tg_try_spawn(&zero, count_run, NULL), TG_EINVAL);
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 1 }),
		     TG_OK);
	CHECK_STATUS(tg_try_spawn(&g, NULL, NULL), TG_EINVAL);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_EFINISHED);
	return NULL;
}

static void
test_misuse_try_spawn_null(void **state)
{
	(void)state;
	run_checked(try_spawn_null_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

static atomic_int release_blocker;

static tg_error *
blocker(void *arg)
{
	(void)arg;
	CHECK(wait_flag(&release_blocker));
	return NULL;
}

static tg_error *
try_spawn_at_limit_body(void *arg)
{
	tg_group g;

	(void)arg;
	atomic_store(&release_blocker, 0);
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 1 }),
		     TG_OK);
	/* The blocker holds the only slot, queued or running. */
	CHECK_STATUS(tg_spawn(&g, blocker, NULL), TG_OK);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_EAGAIN);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_EAGAIN);
	atomic_store(&release_blocker, 1);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 0); /* refused means never run */
	/* With room, it spawns. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 2 }),
		     TG_OK);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_INT(atomic_load(&ran), 1);
	/* A cancelled limited group refuses as tg_spawn does. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 1 }),
		     TG_OK);
	CHECK_STATUS(tg_group_cancel(&g), TG_OK);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_ESHUTTINGDOWN);
	CHECK(tg_group_join(&g, NULL) == NULL);
	return NULL;
}

static void
test_misuse_try_spawn_at_limit(void **state)
{
	(void)state;
	run_checked(try_spawn_at_limit_body, NULL);
}

struct own_limit {
	tg_group *g;
	int spawn_rc, try_rc;
};

static tg_error *
spawn_into_own_full_group(void *arg)
{
	struct own_limit *o = arg;

	/* This child holds the only slot: the spawn is queued (pending) and
	 * starts once this child has finished; try-spawn refuses. */
	o->try_rc = tg_try_spawn(o->g, count_run, NULL);
	o->spawn_rc = tg_spawn(o->g, count_run, NULL);
	return NULL;
}

static tg_error *
own_limit_body(void *arg)
{
	tg_group g;
	struct own_limit o = { &g, 1, 1 };

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){ .limit = 1 }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, spawn_into_own_full_group, &o), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(o.try_rc, TG_EAGAIN);
	CHECK_STATUS(o.spawn_rc, TG_OK);
	CHECK_INT(atomic_load(&ran), 1);
	return NULL;
}

static void
test_misuse_spawn_into_own_full_limit_is_queued(void **state)
{
	(void)state;
	run_checked(own_limit_body, NULL);
}

static tg_error *
try_spawn_after_join_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_try_spawn(&g, count_run, NULL), TG_EFINISHED);
	return NULL;
}

static void
test_misuse_try_spawn_after_join(void **state)
{
	(void)state;
	run_checked(try_spawn_after_join_body, NULL);
	assert_int_equal(atomic_load(&ran), 0);
}

/* ---------------------------------------------------------------- */
/* Deadlines                                                          */

static void
test_misuse_deadline_null(void **state)
{
	tg_group zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(tg_group_set_deadline(NULL, tg_now_ns()), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(NULL, 1000), TG_EINVAL);
	assert_true(tg_group_deadline(NULL) == TG_DEADLINE_NONE);
	assert_false(tg_group_expired(NULL));
	assert_int_equal(tg_group_set_deadline(&zero, tg_now_ns()), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(&zero, 1000), TG_EINVAL);
	assert_true(tg_group_deadline(&zero) == TG_DEADLINE_NONE);
	assert_false(tg_group_expired(&zero));
}

static tg_error *
deadline_in_past_body(void *arg)
{
	int64_t when = arg != NULL ? 0 : tg_now_ns() - 1;
	tg_group g;
	tg_error *err;

	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK(!tg_cancelled());
	CHECK(!tg_group_expired(&g));
	CHECK_STATUS(tg_group_set_deadline(&g, when), TG_OK);
	/* Cancelled at once: the body sees it, spawns are refused. */
	CHECK(tg_cancelled());
	CHECK(tg_group_expired(&g));
	CHECK_STATUS(tg_spawn(&g, count_run, NULL), TG_ESHUTTINGDOWN);
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	CHECK(!tg_cancelled()); /* back in the enclosing scope */
	CHECK(tg_group_expired(&g)); /* readable after join */
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_deadline_in_past(void **state)
{
	(void)state;
	run_checked(deadline_in_past_body, NULL);
	run_checked(deadline_in_past_body, (void *)1); /* deadline 0 */
	assert_int_equal(atomic_load(&ran), 0);
}

static tg_error *
deadline_negative_body(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_deadline(&g, -1), TG_EINVAL);
	CHECK_STATUS(tg_group_set_deadline(&g, INT64_MIN), TG_EINVAL);
	/* Nothing changed. */
	CHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
	CHECK(!tg_group_expired(&g));
	CHECK(!tg_cancelled());
	CHECK(tg_group_join(&g, NULL) == NULL);
	/* A negative timeout is accepted (asyncio.timeout(-11)): already
	 * expired (test_timeout.c). */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_timeout(&g, INT64_MIN), TG_OK);
	CHECK(tg_group_expired(&g));
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_deadline_negative(void **state)
{
	(void)state;
	run_checked(deadline_negative_body, NULL);
}

static tg_error *
timeout_overflow_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_timeout(&g, INT64_MAX), TG_EINVAL);
	/* Overflows by a second, however late the call reads the clock. */
	CHECK_STATUS(tg_group_set_timeout(&g, INT64_MAX - tg_now_ns() +
						      1000000000),
		     TG_EINVAL);
	CHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
	CHECK(!tg_group_expired(&g));
	CHECK(!tg_cancelled());
	CHECK(tg_group_join(&g, NULL) == NULL);
	return NULL;
}

static void
test_misuse_timeout_overflow(void **state)
{
	(void)state;
	run_checked(timeout_overflow_body, NULL);
}

static tg_error *
reschedule_expired_body(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	/* Expired at once (deadline in the past). */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_deadline(&g, tg_now_ns() - 1), TG_OK);
	CHECK_STATUS(tg_group_set_deadline(&g, tg_now_ns() + 60000000000),
		     TG_ESTATE);
	CHECK_STATUS(tg_group_set_timeout(&g, 60000000000), TG_ESTATE);
	CHECK(tg_group_expired(&g));
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	/* Expired by the timer. */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_timeout(&g, 1000000), TG_OK); /* 1 ms */
	CHECK(wait_cancelled());
	CHECK(tg_group_expired(&g));
	CHECK_STATUS(tg_group_set_timeout(&g, 60000000000), TG_ESTATE);
	CHECK_STATUS(tg_group_set_deadline(&g, tg_now_ns() + 60000000000),
		     TG_ESTATE);
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_misuse_reschedule_expired_deadline(void **state)
{
	(void)state;
	run_checked(reschedule_expired_body, NULL);
}

static tg_error *
deadline_after_join_body(void *arg)
{
	tg_group g;
	int64_t when = tg_now_ns() + 60000000000; /* a minute away */
	tg_error *err;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
	CHECK_STATUS(tg_group_set_deadline(&g, when), TG_OK);
	CHECK(tg_group_deadline(&g) == when);
	CHECK_STATUS(tg_group_set_deadline(&g, TG_DEADLINE_NONE), TG_OK);
	CHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
	CHECK_STATUS(tg_group_set_deadline(&g, when), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_set_deadline(&g, when), TG_EFINISHED);
	CHECK_STATUS(tg_group_set_timeout(&g, 1000), TG_EFINISHED);
	CHECK(tg_group_deadline(&g) == when); /* Timeout.when() after */
	CHECK(!tg_group_expired(&g));
	/* An expired group stays expired after its join. */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_set_deadline(&g, 0), TG_OK);
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	CHECK(tg_group_expired(&g));
	CHECK(tg_group_deadline(&g) == 0);
	return NULL;
}

static void
test_misuse_deadline_after_join(void **state)
{
	(void)state;
	run_checked(deadline_after_join_body, NULL);
}

static tg_error *
set_parents_deadline(void *arg)
{
	CHECK_STATUS(tg_group_set_deadline(arg, tg_now_ns() + 1000000000),
		     TG_ENOTOWNER);
	CHECK_STATUS(tg_group_set_deadline(arg, 0), TG_ENOTOWNER);
	CHECK_STATUS(tg_group_set_timeout(arg, 1000000000), TG_ENOTOWNER);
	CHECK(!tg_cancelled());
	return NULL;
}

static tg_error *
deadline_not_owner_body(void *arg)
{
	tg_group g;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, set_parents_deadline, &g), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK(!tg_group_expired(&g));
	return NULL;
}

static void
test_misuse_deadline_not_owner(void **state)
{
	(void)state;
	run_checked(deadline_not_owner_body, NULL);
}

/* ---------------------------------------------------------------- */
/* First-success winner                                               */

static tg_error *
winner_null_body(void *arg)
{
	tg_group g, zero;
	void *p = NULL;
	int slot = 0;

	(void)arg;
	memset(&zero, 0, sizeof(zero));
	CHECK_STATUS(tg_group_winner(NULL, &p), TG_EINVAL);
	CHECK_STATUS(tg_group_winner(&zero, &p), TG_EINVAL);
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_FIRST_SUCCESS }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, count_run, &slot), TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_winner(&g, NULL), TG_EINVAL);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_OK);
	CHECK(p == &slot);
	return NULL;
}

static void
test_misuse_winner_null(void **state)
{
	void *p;

	(void)state;
	assert_int_equal(tg_group_winner(NULL, NULL), TG_EINVAL);
	assert_int_equal(tg_group_winner(NULL, &p), TG_EINVAL);
	run_checked(winner_null_body, NULL);
}

static tg_error *
winner_before_join_body(void *arg)
{
	tg_group g;
	void *p = NULL;
	int slot = 0;

	(void)arg;
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_FIRST_SUCCESS }),
		     TG_OK);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_ESTATE);
	CHECK_STATUS(tg_spawn(&g, count_run, &slot), TG_OK);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_ESTATE);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_OK);
	CHECK(p == &slot);
	return NULL;
}

static void
test_misuse_winner_before_join(void **state)
{
	(void)state;
	run_checked(winner_before_join_body, NULL);
}

static tg_error *
winner_wrong_policy_body(void *arg)
{
	static const int policies[] = { TG_POLICY_FAIL_FAST,
					TG_POLICY_COLLECT_ALL };
	tg_group g;
	void *p = NULL;
	int slot = 0;
	size_t i;

	(void)arg;
	for (i = 0; i < 2; i++) {
		CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
							.policy = policies[i] }),
			     TG_OK);
		CHECK_STATUS(tg_spawn(&g, count_run, &slot), TG_OK);
		CHECK_STATUS(tg_group_winner(&g, &p), TG_ESTATE);
		CHECK(tg_group_join(&g, NULL) == NULL);
		CHECK_STATUS(tg_group_winner(&g, &p), TG_ESTATE);
	}
	return NULL;
}

static void
test_misuse_winner_wrong_policy(void **state)
{
	(void)state;
	run_checked(winner_wrong_policy_body, NULL);
}

static tg_error *
winner_no_success_body(void *arg)
{
	tg_group g;
	void *p = NULL;
	tg_error *err;

	(void)arg;
	/* Every child failed: their errors are reported, no winner. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_FIRST_SUCCESS }),
		     TG_OK);
	CHECK_STATUS(tg_spawn(&g, fail_code, (void *)(intptr_t)1), TG_OK);
	CHECK_STATUS(tg_spawn(&g, fail_code, (void *)(intptr_t)2), TG_OK);
	err = tg_group_join(&g, NULL);
	CHECK(tg_error_is(err, &tg_ExceptionGroup));
	CHECK_INT(count_leaves(err, &tg_ValueError, 1, NULL), 1);
	CHECK_INT(count_leaves(err, &tg_ValueError, 2, NULL), 1);
	tg_error_decref(err);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_ENOENT);
	/* No child at all. */
	CHECK_STATUS(tg_group_init(&g, &(tg_group_options){
						.policy = TG_POLICY_FIRST_SUCCESS }),
		     TG_OK);
	CHECK(tg_group_join(&g, NULL) == NULL);
	CHECK_STATUS(tg_group_winner(&g, &p), TG_ENOENT);
	return NULL;
}

static void
test_misuse_winner_no_success(void **state)
{
	(void)state;
	run_checked(winner_no_success_body, NULL);
}

/* ---------------------------------------------------------------- */
/* Runners                                                            */

static tg_runner *const sentinel = (tg_runner *)(uintptr_t)0x5e471e1;

static void
test_misuse_runner_create_null(void **state)
{
	tg_runner *r;

	(void)state;
	assert_int_equal(tg_runner_create(NULL, NULL), TG_EINVAL);
	assert_int_equal(tg_runner_create(NULL, &(tg_runner_config){
							 .threads = 1 }),
			 TG_EINVAL);
	/* cfg NULL means defaults. */
	assert_int_equal(tg_runner_create(&r, NULL), TG_OK);
	assert_true(tg_runner_threads(r) >= 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static void
test_misuse_runner_run_null(void **state)
{
	tg_error *err;

	(void)state;
	atomic_store(&ran, 0);
	err = tg_runner_run(NULL, count_run, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = (tg_runner_run)(NULL, count_run, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = tg_runner_run(runner, NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = tg_runner_run_at(runner, NULL, NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = tg_runner_run(NULL, NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	/* A NULL site is fine. */
	assert_null(tg_runner_run_at(runner, count_run, NULL, NULL));
	assert_int_equal(atomic_load(&ran), 1);
}

static void
test_misuse_runner_destroy_null(void **state)
{
	(void)state;
	assert_int_equal(tg_runner_destroy(NULL), TG_EINVAL);
	assert_int_equal(tg_runner_threads(NULL), 0);
}

static void
test_misuse_run_null_fn(void **state)
{
	tg_error *err;

	(void)state;
	err = tg_run(NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = (tg_run)(NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
	err = tg_run_at(NULL, NULL, NULL);
	assert_true(is_usage(err, TG_EINVAL));
	tg_error_decref(err);
}

static atomic_int run_started, release_run;

static tg_error *
block_until_released(void *arg)
{
	(void)arg;
	atomic_store(&run_started, 1);
	CHECK(wait_flag(&release_run));
	return NULL;
}

static void *
run_in_thread(void *arg)
{
	return tg_runner_run(arg, block_until_released, NULL);
}

static void
test_misuse_runner_destroy_mid_run(void **state)
{
	tg_runner *r;
	pthread_t t;
	void *result;

	(void)state;
	check_reset();
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 1 }),
			 TG_OK);
	atomic_store(&run_started, 0);
	atomic_store(&release_run, 0);
	assert_int_equal(pthread_create(&t, NULL, run_in_thread, r), 0);
	assert_true(wait_flag(&run_started));
	assert_int_equal(tg_runner_destroy(r), TG_EBUSY);
	assert_int_equal(tg_runner_destroy(r), TG_EBUSY); /* nothing freed */
	/* Once the run is over the runner works and can be destroyed. */
	atomic_store(&release_run, 1);
	assert_int_equal(pthread_join(t, &result), 0);
	assert_null(result);
	assert_null(tg_runner_run(r, count_run, NULL));
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	check_report();
}

struct self_call {
	tg_runner *r;
};

static tg_error *
call_own_runner(void *arg)
{
	struct self_call *s = arg;
	tg_error *err;

	err = tg_runner_run(s->r, count_run, NULL);
	CHECK(is_usage(err, TG_EDEADLK));
	tg_error_decref(err);
	err = (tg_runner_run)(s->r, count_run, NULL);
	CHECK(is_usage(err, TG_EDEADLK));
	tg_error_decref(err);
	CHECK_INT(atomic_load(&ran), 0); /* fn never ran */
	return NULL;
}

static tg_error *
child_calls_own_runner(void *arg)
{
	tg_group g;

	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_spawn(&g, call_own_runner, arg), TG_OK);
	return tg_group_join(&g, NULL);
}

static void
test_misuse_runner_run_from_own_task(void **state)
{
	tg_runner *r;
	struct self_call s;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 2 }),
			 TG_OK);
	s.r = r;
	run_checked_on(r, call_own_runner, &s);        /* the root task */
	run_checked_on(r, child_calls_own_runner, &s); /* a nested task */
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static tg_error *
destroy_own_runner(void *arg)
{
	struct self_call *s = arg;

	CHECK_STATUS(tg_runner_destroy(s->r), TG_EDEADLK);
	return NULL;
}

static void
test_misuse_runner_destroy_from_own_task(void **state)
{
	tg_runner *r;
	struct self_call s;

	(void)state;
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 1 }),
			 TG_OK);
	s.r = r;
	run_checked_on(r, destroy_own_runner, &s);
	/* Refused, so nothing happened: the runner still works. */
	assert_null(tg_runner_run(r, count_run, NULL));
	assert_int_equal(tg_runner_destroy(r), TG_OK);
}

static tg_error *
run_inside_task(void *arg)
{
	tg_error *err;

	(void)arg;
	err = tg_run(count_run, NULL);
	CHECK(is_usage(err, TG_EDEADLK));
	tg_error_decref(err);
	err = (tg_run)(count_run, NULL);
	CHECK(is_usage(err, TG_EDEADLK));
	tg_error_decref(err);
	CHECK_INT(atomic_load(&ran), 0);
	return NULL;
}

static void
test_misuse_run_from_task(void **state)
{
	(void)state;
	run_checked(run_inside_task, NULL);
}

/* TG_THREADS is saved and restored around the rows that change it. */
static char *saved_threads_env;

static void
save_threads_env(void)
{
	const char *v = getenv("TG_THREADS");

	saved_threads_env = v != NULL ? strdup(v) : NULL;
}

static void
restore_threads_env(void)
{
	if (saved_threads_env != NULL)
		setenv("TG_THREADS", saved_threads_env, 1);
	else
		unsetenv("TG_THREADS");
	free(saved_threads_env);
	saved_threads_env = NULL;
}

static void
test_misuse_runner_zero_threads(void **state)
{
	tg_runner *r = sentinel;

	(void)state;
	/* 0 means "the default", so -1 is the pool with no thread. */
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = -1 }),
			 TG_EINVAL);
	assert_ptr_equal(r, sentinel); /* *out set only on success */
	save_threads_env();
	unsetenv("TG_THREADS");
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){ .threads = 0 }),
			 TG_OK);
	assert_true(tg_runner_threads(r) >= 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	restore_threads_env();
}

static void
test_misuse_runner_absurd_threads(void **state)
{
	static const int bad[] = { TG_MAX_THREADS + 1, INT_MAX, INT_MIN, -2 };
	tg_runner *r = sentinel;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
								.threads = bad[i] }),
				 TG_EINVAL);
		assert_ptr_equal(r, sentinel);
	}
}

static void
test_misuse_runner_bad_stack_size(void **state)
{
	/* Below the minimum (0 is the default, not a size), and too large
	 * to round up to whole pages. */
	static const size_t bad[] = { 1, 4096, TG_STACK_SIZE_MIN - 1,
				      SIZE_MAX, SIZE_MAX - 1 };
	tg_runner *r = sentinel;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
								.threads = 2,
								.stack_size =
									bad[i] }),
				 TG_EINVAL);
		assert_ptr_equal(r, sentinel);
	}
	/* A size no thread can be given (half the address space): the
	 * threads cannot be created, TG_EAGAIN, nothing kept. */
	assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
						      .threads = 2,
						      .stack_size =
							      SIZE_MAX / 2 }),
			 TG_EAGAIN);
	assert_ptr_equal(r, sentinel);
}

static void
test_misuse_bad_tg_threads_env(void **state)
{
	static const char *bad[] = {
		"0",    "-1",  "1025", "abc", "3x", "0x10", "4.5",
		"99999999999999999999", "-99999999999999999999",
	};
	tg_runner *r = sentinel;
	tg_error *err;
	size_t i;

	(void)state;
	save_threads_env();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("TG_THREADS", bad[i], 1);
		if (tg_runner_create(&r, NULL) != TG_EINVAL) {
			if (r != sentinel)
				tg_runner_destroy(r);
			restore_threads_env();
			fail_msg("TG_THREADS=\"%s\" was accepted", bad[i]);
		}
		assert_ptr_equal(r, sentinel);
		err = tg_run(count_run, NULL);
		if (!is_usage(err, TG_EINVAL)) {
			tg_error_decref(err);
			restore_threads_env();
			fail_msg("tg_run with TG_THREADS=\"%s\" did not report "
				 "TG_EINVAL", bad[i]);
		}
		tg_error_decref(err);
		/* An explicit count does not read the variable. */
		assert_int_equal(tg_runner_create(&r, &(tg_runner_config){
								.threads = 1 }),
				 TG_OK);
		assert_int_equal(tg_runner_destroy(r), TG_OK);
		r = sentinel;
	}
	setenv("TG_THREADS", "1", 1);
	assert_int_equal(tg_runner_create(&r, NULL), TG_OK);
	assert_int_equal(tg_runner_threads(r), 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	restore_threads_env();
}

/* runner.h: "TG_THREADS set but not a number in 1..TG_MAX_THREADS" is
 * TG_EINVAL; an empty value is set and is not a number. */
static void
test_misuse_empty_tg_threads_env(void **state)
{
	tg_runner *r = sentinel;
	int rc;

	(void)state;
	save_threads_env();
	setenv("TG_THREADS", "", 1);
	rc = tg_runner_create(&r, NULL);
	/* Documented: an empty TG_THREADS counts as unset (the CPU count). */
	assert_int_equal(rc, TG_OK);
	assert_true(tg_runner_threads(r) >= 1);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	restore_threads_env();
}

/* ---------------------------------------------------------------- */
/* Allocator hook, task info, status strings                          */

static void *
my_malloc(size_t n)
{
	return malloc(n);
}

static void
test_misuse_set_allocator_null(void **state)
{
	tg_allocator a = { my_malloc, calloc, realloc, free };
	tg_allocator b;

	(void)state;
	assert_int_equal(tg_set_allocator(NULL), TG_EINVAL);
	b = a;
	b.malloc_fn = NULL;
	assert_int_equal(tg_set_allocator(&b), TG_EINVAL);
	b = a;
	b.calloc_fn = NULL;
	assert_int_equal(tg_set_allocator(&b), TG_EINVAL);
	b = a;
	b.realloc_fn = NULL;
	assert_int_equal(tg_set_allocator(&b), TG_EINVAL);
	b = a;
	b.free_fn = NULL;
	assert_int_equal(tg_set_allocator(&b), TG_EINVAL);
}

static void
test_misuse_set_allocator_while_runner_alive(void **state)
{
	tg_allocator a = { my_malloc, calloc, realloc, free };

	(void)state;
	/* The shared runner is alive. */
	assert_int_equal(tg_set_allocator(&a), TG_EBUSY);
	assert_int_equal(tg_reset_allocator(), TG_EBUSY);
	/* A NULL allocator is still a bad argument. */
	assert_int_equal(tg_set_allocator(NULL), TG_EINVAL);
}

static tg_error *
current_task_null_body(void *arg)
{
	(void)arg;
	CHECK_STATUS(tg_current_task(NULL), TG_EINVAL);
	return NULL;
}

static void
test_misuse_current_task_null(void **state)
{
	tg_task_info info;

	(void)state;
	assert_int_equal(tg_current_task(NULL), TG_EINVAL);
	assert_int_equal(tg_current_task(&info), TG_ENOTASK);
	run_checked(current_task_null_body, NULL);
}

static tg_error *
checkpoint_null_site_body(void *arg)
{
	tg_group g;
	tg_error *e;

	(void)arg;
	CHECK(tg_checkpoint_at(NULL, 0, NULL) == NULL); /* not cancelled */
	CHECK_STATUS(tg_group_init(&g, NULL), TG_OK);
	CHECK_STATUS(tg_group_cancel(&g), TG_OK);
	e = tg_checkpoint_at(NULL, 0, NULL);
	CHECK(tg_error_is(e, &tg_CancelledError));
	tg_error_decref(e);
	CHECK(tg_group_join(&g, NULL) == NULL);
	return NULL;
}

static void
test_misuse_checkpoint_null_site(void **state)
{
	(void)state;
	/* Outside tasks: never cancelled, no error. */
	assert_false(tg_cancelled());
	assert_false((tg_cancelled)());
	assert_null(tg_checkpoint_at(NULL, 0, NULL));
	run_checked(checkpoint_null_site_body, NULL);
}

static void
test_misuse_status_strings(void **state)
{
	static const int unknown[] = { 1, -12, -100, INT_MIN, INT_MAX };
	int s;
	size_t i;

	(void)state;
	for (s = TG_OK; s >= TG_ENOENT; s--) {
		assert_non_null(tg_strerror(s));
		assert_string_not_equal(tg_strerror(s), "unknown status");
		assert_non_null(tg_status_name(s));
		assert_memory_equal(tg_status_name(s), "TG_", 3);
	}
	assert_string_equal(tg_status_name(TG_ENOENT), "TG_ENOENT");
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(tg_strerror(unknown[i]), "unknown status");
		assert_non_null(tg_status_name(unknown[i]));
	}
}

/* ---------------------------------------------------------------- */
/* Errors: NULL arguments                                             */

/* A NULL format, passed through a variable so the compiler lets it be. */
static const char *volatile null_fmt;

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif

static void
test_misuse_error_new_null(void **state)
{
	tg_error *e;

	(void)state;
	e = tg_error_new_at(NULL, 0, __FILE__, __LINE__, __func__, "x");
	assert_true(tg_error_is(e, &tg_TypeError));
	tg_error_decref(e);
	e = TG_RAISE(&tg_ExceptionGroup, "a group type as a leaf");
	assert_true(tg_error_is(e, &tg_TypeError));
	tg_error_decref(e);
	e = TG_RAISE(&tg_BaseExceptionGroup, "a group type as a leaf");
	assert_true(tg_error_is(e, &tg_TypeError));
	tg_error_decref(e);
	/* NULL file, function and format: undocumented, must not crash. */
	e = tg_error_new_at(&tg_ValueError, 0, NULL, 0, NULL, "x");
	assert_true(tg_error_is(e, &tg_ValueError));
	tg_error_decref(e);
	e = tg_error_new_at(&tg_ValueError, 0, NULL, 0, NULL, null_fmt);
	assert_non_null(e);
	tg_error_decref(e);
	e = tg_error_from_errno_at(ENOENT, NULL, 0, NULL, "x");
	assert_true(tg_error_is(e, &tg_FileNotFoundError));
	tg_error_decref(e);
	e = tg_error_from_errno_at(ENOENT, NULL, 0, NULL, null_fmt);
	assert_non_null(e);
	tg_error_decref(e);
}

static void
test_misuse_error_group_new_null(void **state)
{
	tg_error *kids[2], *g;

	(void)state;
	kids[0] = TG_RAISE(&tg_ValueError, "a");
	kids[1] = TG_RAISE(&tg_ValueError, "b");
	assert_null(tg_error_group_new(NULL, 2, kids));
	assert_null(tg_error_group_new("m", 0, kids));
	assert_null(tg_error_group_new("m", 2, NULL));
	assert_null(tg_error_group_new(NULL, 0, NULL));
	/* The children are still ours (nothing consumed): a group made from
	 * them now takes them over. */
	g = tg_error_group_new("m", 2, kids);
	assert_int_equal(tg_error_count(g), 2);
	tg_error_decref(g);
	/* An array holding NULL: refused, nothing consumed. */
	kids[0] = TG_RAISE(&tg_ValueError, "c");
	kids[1] = NULL;
	assert_null(tg_error_group_new("m", 2, kids));
	tg_error_decref(kids[0]);
}

static void
test_misuse_error_refcount_null(void **state)
{
	(void)state;
	assert_null(tg_error_incref(NULL));
	tg_error_decref(NULL);
	/* The preallocated MemoryError is immortal. */
	assert_ptr_equal(tg_error_incref(tg_error_oom()), tg_error_oom());
	tg_error_decref(tg_error_oom());
	tg_error_decref(tg_error_oom());
	assert_true(tg_error_is(tg_error_oom(), &tg_MemoryError));
}

static void
test_misuse_error_notes_null(void **state)
{
	tg_error *e, *f;

	(void)state;
	assert_int_equal(tg_error_add_note(NULL, "x"), TG_EINVAL);
	e = TG_RAISE(&tg_ValueError, "e");
	assert_int_equal(tg_error_add_note(e, null_fmt), TG_EINVAL);
	assert_int_equal(tg_error_note_count(e), 0);
	assert_null(tg_error_with_note(NULL, "x"));
	/* A NULL format for with_note: undocumented, must not crash or
	 * lose e. */
	f = tg_error_with_note(e, null_fmt);
	assert_non_null(f);
	tg_error_decref(f);
	/* The immortal MemoryError takes no note. */
	assert_int_equal(tg_error_add_note(tg_error_oom(), "x"), TG_ESTATE);
}

static void
test_misuse_error_set_cause_null(void **state)
{
	tg_error *e;

	(void)state;
	/* NULL e: EINVAL, and the cause is consumed anyway (LSan would see
	 * it leak otherwise). */
	assert_int_equal(tg_error_set_cause(NULL, TG_RAISE(&tg_ValueError, "c")),
			 TG_EINVAL);
	assert_int_equal(tg_error_set_cause(NULL, NULL), TG_EINVAL);
	/* A cycle: e as its own cause. */
	e = TG_RAISE(&tg_ValueError, "e");
	assert_int_equal(tg_error_set_cause(e, tg_error_incref(e)), TG_EINVAL);
	assert_null(tg_error_cause(e));
	tg_error_decref(e);
}

static void
test_misuse_error_readers_null(void **state)
{
	tg_error_origin o;
	tg_error_provenance p;

	(void)state;
	assert_null(tg_error_type_of(NULL));
	assert_null(tg_error_message(NULL));
	assert_int_equal(tg_error_code(NULL), 0);
	assert_false(tg_error_is(NULL, &tg_BaseException));
	assert_false(tg_error_is(tg_error_oom(), NULL));
	assert_false(tg_error_is_group(NULL));
	assert_int_equal(tg_error_count(NULL), 0);
	assert_null(tg_error_child(NULL, 0));
	assert_int_equal(tg_error_leaf_count(NULL), 0);
	assert_int_equal(tg_error_note_count(NULL), 0);
	assert_null(tg_error_note(NULL, 0));
	assert_null(tg_error_cause(NULL));
	assert_null(tg_error_context(NULL));
	o = tg_error_origin_of(NULL);
	assert_null(o.file);
	assert_null(o.func);
	assert_int_equal(o.line, 0);
	p = tg_error_provenance_of(NULL);
	assert_int_equal(p.task_id, 0);
	assert_int_equal(p.depth, 0);
	assert_null(p.chain);
	assert_null(p.task_name);
	assert_false(tg_error_type_is(NULL, &tg_BaseException));
	assert_false(tg_error_type_is(&tg_ValueError, NULL));
	assert_false(tg_error_type_is(NULL, NULL));
	assert_int_equal(tg_error_foreach_leaf(NULL, NULL, NULL), 0);
}

static int
never_called(tg_error *leaf, void *ctx)
{
	(void)leaf;
	(*(int *)ctx)++;
	return 1;
}

static bool
any_pred(const tg_error *e, void *ctx)
{
	(void)e;
	(void)ctx;
	return true;
}

static void
test_misuse_error_split_null(void **state)
{
	tg_error *e, *m = NULL, *r = NULL, *keep;
	int calls = 0, status = 12345;

	(void)state;
	assert_int_equal(tg_error_foreach_leaf(NULL, never_called, &calls), 0);
	assert_int_equal(calls, 0);
	e = tg_error_group_new("g", 1,
			       (tg_error *[]){ TG_RAISE(&tg_ValueError, "v") });
	assert_int_equal(tg_error_split(NULL, &tg_ValueError, &m, &r), TG_EINVAL);
	assert_int_equal(tg_error_split(e, NULL, &m, &r), TG_EINVAL);
	assert_int_equal(tg_error_split(e, &tg_ValueError, NULL, &r), TG_EINVAL);
	assert_int_equal(tg_error_split(e, &tg_ValueError, &m, NULL), TG_EINVAL);
	assert_int_equal(tg_error_split_pred(NULL, any_pred, NULL, &m, &r),
			 TG_EINVAL);
	assert_int_equal(tg_error_split_pred(e, NULL, NULL, &m, &r), TG_EINVAL);
	assert_int_equal(tg_error_split_pred(e, any_pred, NULL, NULL, &r),
			 TG_EINVAL);
	assert_int_equal(tg_error_split_pred(e, any_pred, NULL, &m, NULL),
			 TG_EINVAL);
	/* subgroup: NULL result; the status is not TG_ENOMEM (what it is
	 * for bad arguments is not documented). */
	assert_null(tg_error_subgroup(NULL, &tg_ValueError, &status));
	assert_int_not_equal(status, TG_ENOMEM);
	assert_null(tg_error_subgroup(e, NULL, &status));
	assert_int_not_equal(status, TG_ENOMEM);
	assert_null(tg_error_subgroup(NULL, &tg_ValueError, NULL));
	assert_null(tg_error_subgroup_pred(NULL, any_pred, NULL, &status));
	assert_null(tg_error_subgroup_pred(e, NULL, NULL, NULL));
	/* except*: NULL errp, *errp NULL, type NULL, a group type: NULL and
	 * *errp unchanged. */
	assert_null(tg_error_except_star_take(NULL, &tg_ValueError));
	keep = NULL;
	assert_null(tg_error_except_star_take(&keep, &tg_ValueError));
	assert_null(keep);
	keep = e;
	assert_null(tg_error_except_star_take(&keep, NULL));
	assert_ptr_equal(keep, e);
	assert_null(tg_error_except_star_take(&keep, &tg_ExceptionGroup));
	assert_ptr_equal(keep, e);
	tg_error_decref(e);
}

static void
test_misuse_error_print_null(void **state)
{
	tg_error *e = TG_RAISE(&tg_ValueError, "v");
	char buf[64];
	FILE *f;
	size_t need;

	(void)state;
	assert_int_equal(tg_error_print(e, NULL), TG_EINVAL);
	assert_int_equal(tg_error_write_json(e, NULL), TG_EINVAL);
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(tg_error_print(NULL, f), TG_OK);
	fflush(f);
	assert_int_equal(ftell(f), 0); /* NULL prints nothing */
	assert_int_equal(tg_error_write_json(NULL, f), TG_OK);
	fflush(f);
	rewind(f);
	memset(buf, 0, sizeof(buf));
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) >= 4);
	assert_memory_equal(buf, "null", 4); /* "A NULL error is null" */
	fclose(f);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(tg_error_format(NULL, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], '\0');
	need = tg_error_format(e, NULL, 0); /* snprintf-like: just measure */
	assert_true(need > 0);
	assert_int_equal(tg_error_to_json(NULL, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "null");
	assert_true(tg_error_to_json(e, NULL, 0) > 0);
	tg_error_decref(e);
}

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* NULL / uninitialised */
		cmocka_unit_test(test_misuse_group_init_null),
		cmocka_unit_test(test_misuse_group_init_outside_task),
		cmocka_unit_test(test_misuse_spawn_null_group),
		cmocka_unit_test(test_misuse_spawn_null_fn),
		cmocka_unit_test(test_misuse_group_uninitialised),
		cmocka_unit_test(test_misuse_join_null),
		cmocka_unit_test(test_misuse_join_body_err_kept_as_context),
		cmocka_unit_test(test_misuse_cancel_null),
		cmocka_unit_test(test_misuse_try_spawn_null),
		cmocka_unit_test(test_misuse_deadline_null),
		cmocka_unit_test(test_misuse_winner_null),
		cmocka_unit_test(test_misuse_runner_create_null),
		cmocka_unit_test(test_misuse_runner_run_null),
		cmocka_unit_test(test_misuse_runner_destroy_null),
		cmocka_unit_test(test_misuse_run_null_fn),
		cmocka_unit_test(test_misuse_set_allocator_null),
		cmocka_unit_test(test_misuse_current_task_null),
		cmocka_unit_test(test_misuse_checkpoint_null_site),
		cmocka_unit_test(test_misuse_error_new_null),
		cmocka_unit_test(test_misuse_error_group_new_null),
		cmocka_unit_test(test_misuse_error_refcount_null),
		cmocka_unit_test(test_misuse_error_notes_null),
		cmocka_unit_test(test_misuse_error_set_cause_null),
		cmocka_unit_test(test_misuse_error_readers_null),
		cmocka_unit_test(test_misuse_error_split_null),
		cmocka_unit_test(test_misuse_error_print_null),
		cmocka_unit_test(test_misuse_status_strings),
		/* groups */
		cmocka_unit_test(test_misuse_spawn_after_join),
		cmocka_unit_test(test_misuse_join_twice),
		cmocka_unit_test(test_misuse_cancel_after_join),
		cmocka_unit_test(test_misuse_group_never_joined),
		cmocka_unit_test(test_misuse_join_not_owner),
		cmocka_unit_test(test_misuse_join_out_of_order),
		cmocka_unit_test(test_misuse_spawn_into_cancelled),
		cmocka_unit_test(test_misuse_spawn_from_non_task_thread),
		cmocka_unit_test(test_misuse_unknown_policy),
		/* limits */
		cmocka_unit_test(test_misuse_negative_limit),
		cmocka_unit_test(test_misuse_try_spawn_at_limit),
		cmocka_unit_test(test_misuse_try_spawn_after_join),
		cmocka_unit_test(test_misuse_spawn_into_own_full_limit_is_queued),
		/* deadlines */
		cmocka_unit_test(test_misuse_deadline_in_past),
		cmocka_unit_test(test_misuse_deadline_negative),
		cmocka_unit_test(test_misuse_timeout_overflow),
		cmocka_unit_test(test_misuse_reschedule_expired_deadline),
		cmocka_unit_test(test_misuse_deadline_after_join),
		cmocka_unit_test(test_misuse_deadline_not_owner),
		/* first-success */
		cmocka_unit_test(test_misuse_winner_before_join),
		cmocka_unit_test(test_misuse_winner_wrong_policy),
		cmocka_unit_test(test_misuse_winner_no_success),
		/* runners */
		cmocka_unit_test(test_misuse_runner_destroy_mid_run),
		cmocka_unit_test(test_misuse_runner_run_from_own_task),
		cmocka_unit_test(test_misuse_runner_destroy_from_own_task),
		cmocka_unit_test(test_misuse_run_from_task),
		cmocka_unit_test(test_misuse_runner_zero_threads),
		cmocka_unit_test(test_misuse_runner_absurd_threads),
		cmocka_unit_test(test_misuse_runner_bad_stack_size),
		cmocka_unit_test(test_misuse_bad_tg_threads_env),
		cmocka_unit_test(test_misuse_empty_tg_threads_env),
		cmocka_unit_test(test_misuse_set_allocator_while_runner_alive),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
