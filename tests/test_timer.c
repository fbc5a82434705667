/*
 * test_timer.c - group deadlines (asyncio.timeout / timeout_at): expiry
 * cancels the group and only the owner of the expired deadline reports a
 * TimeoutError; outer cancellations are never swallowed (gh-134471,
 * gh-155433); rescheduling; deadlines in the past; misuse.  Outcomes only:
 * children wait for their cancellation by polling checkpoints, so a test
 * that passes proves the timer fired, and a broken timer hangs (ctest's
 * timeout).  The children and MS, shared with test_timeout.c and
 * test_timeout_movers.c: test_deadline.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "test_deadline.h"

static tg_runner *runner1;
static tg_runner *runner2;

static int
setup(void **state)
{
	tg_runner_config one = { .threads = 1 }, two = { .threads = 2 };

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

/* A group with a 20 ms timeout and children that wait for it. */
static tg_error *
times_out(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	assert_int_equal(tg_group_init(&g, NULL), TG_OK);
	assert_false(tg_group_expired(&g));
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	assert_int_equal(tg_group_set_timeout(&g, 20 * MS), TG_OK);
	assert_true(tg_group_deadline(&g) != TG_DEADLINE_NONE);
	assert_int_equal(tg_spawn(&g, wait_for_cancel, NULL), TG_OK);
	assert_int_equal(tg_spawn(&g, wait_for_cancel, NULL), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_group_expired(&g)); /* readable after join */
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_expiry_cancels_and_join_reports_timeout(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, times_out, NULL));
	assert_null(tg_runner_run(runner2, times_out, NULL));
}

/* The body itself waits in a checkpoint loop: its CancelledError becomes
 * the group's TimeoutError. */
static tg_error *
body_times_out(void *arg)
{
	tg_group g;
	tg_error *body = NULL, *err;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 5 * MS), TG_OK);
	while (body == NULL)
		body = tg_checkpoint_at(__FILE__, __LINE__, __func__);
	err = tg_group_join(&g, body);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_body_cancellation_becomes_timeout(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, body_times_out, NULL));
}

/* A deadline that does not expire changes nothing; one removed with
 * TG_DEADLINE_NONE never fires. */
static tg_error *
finishes_in_time(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 3600 * 1000 * MS), TG_OK);
	tg_spawn(&g, succeed, NULL);
	err = tg_group_join(&g, NULL);
	assert_null(err);
	assert_false(tg_group_expired(&g));

	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 1 * MS), TG_OK);
	assert_int_equal(tg_group_set_deadline(&g, TG_DEADLINE_NONE), TG_OK);
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	tg_spawn(&g, succeed, NULL);
	err = tg_group_join(&g, NULL);
	assert_null(err);
	assert_false(tg_group_expired(&g));
	return NULL;
}

static void
test_timer_unexpired_or_removed_deadline_is_harmless(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, finishes_in_time, NULL));
}

/* Rescheduling: a far deadline moved close fires; a close one moved far
 * lets the children finish. */
static tg_error *
reschedules(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 3600 * 1000 * MS), TG_OK);
	tg_spawn(&g, wait_for_cancel, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 10 * MS), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_reschedule_moves_the_deadline(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, reschedules, NULL));
}

/* A deadline in the past cancels at once: spawns are refused, the join
 * reports the timeout, and the expired deadline cannot be rescheduled. */
static tg_error *
past_deadline(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, tg_now_ns() - 1000), TG_OK);
	assert_true(tg_group_expired(&g));
	assert_true(tg_cancelled());
	assert_int_equal(tg_spawn(&g, succeed, NULL), TG_ESHUTTINGDOWN);
	assert_int_equal(tg_group_set_timeout(&g, 10 * MS), TG_ESTATE);
	assert_int_equal(tg_group_set_deadline(&g, TG_DEADLINE_NONE),
			 TG_ESTATE);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	/* timeout(0) too */
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 0), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_past_deadline_expires_at_once(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, past_deadline, NULL));
}

/* Real errors win over the timeout (fail_after_cancel: test_deadline.h). */
static tg_error *
errors_win(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, fail_after_cancel, NULL);
	tg_group_set_timeout(&g, 5 * MS);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is_group(err));
	assert_int_equal(tg_error_count(err), 1);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_ValueError));
	assert_true(tg_group_expired(&g));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_real_errors_win_over_timeout(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, errors_win, NULL));
}

/* Nested: only the group that owns the expired deadline converts.  The
 * inner group (no deadline of its own) reports a CancelledError, which
 * the outer body hands to the outer join, which turns it into its own
 * TimeoutError. */
static tg_error *
inner_without_deadline(void *arg)
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
outer_with_deadline(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_group_set_timeout(&g, 10 * MS);
	tg_spawn(&g, inner_without_deadline, NULL);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timer_only_the_owner_of_the_deadline_converts(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, outer_with_deadline, NULL));
	assert_null(tg_runner_run(runner1, outer_with_deadline, NULL));
}

/* gh-134471 / gh-155433: an inner group whose own deadline also expired
 * still reports CancelledError when an outer scope was cancelled: the
 * outer cancellation is never swallowed by the inner timeout. */
static tg_error *
inner_with_expired_deadline(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	/* The outer group is cancelled already (the caller waited). */
	assert_true(tg_cancelled());
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 0), TG_OK);
	assert_true(tg_group_expired(&g));
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_CancelledError));
	return err;
}

static tg_error *
outer_cancelled(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_group_cancel(&g);
	/* Runs in the owner's task, inside the cancelled scope. */
	err = inner_with_expired_deadline(NULL);
	err = tg_group_join(&g, err);
	/* Cancelled by tg_group_cancel only: no error of its own. */
	assert_null(err);
	return NULL;
}

static void
test_timer_outer_cancellation_is_not_swallowed(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, outer_cancelled, NULL));
}

/* Many groups with deadlines at once, some expiring, some not: the heap
 * keeps every one. */
static tg_error *
one_of_many(void *arg)
{
	intptr_t i = (intptr_t)arg;
	tg_group g;
	tg_error *err;

	tg_group_init(&g, NULL);
	if (i % 2 == 0) {
		tg_group_set_timeout(&g, (int64_t)(i % 7) * MS);
		tg_spawn(&g, wait_for_cancel, NULL);
		err = tg_group_join(&g, NULL);
		assert_true(tg_error_is(err, &tg_TimeoutError));
		tg_error_decref(err);
	} else {
		tg_group_set_timeout(&g, 3600 * 1000 * MS);
		tg_spawn(&g, succeed, NULL);
		assert_null(tg_group_join(&g, NULL));
	}
	return NULL;
}

static tg_error *
many_deadlines(void *arg)
{
	tg_group g;
	intptr_t i;

	(void)arg;
	tg_group_init(&g, NULL);
	for (i = 0; i < 200; i++)
		tg_spawn(&g, one_of_many, (void *)i);
	return tg_group_join(&g, NULL);
}

static void
test_timer_many_deadlines_at_once(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, many_deadlines, NULL));
}

/* Misuse: documented codes. */
static tg_error *
misuse(void *arg)
{
	tg_group g, never;

	(void)arg;
	assert_int_equal(tg_group_set_deadline(NULL, 0), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(NULL, 0), TG_EINVAL);
	assert_int_equal(tg_group_deadline(NULL), TG_DEADLINE_NONE);
	assert_false(tg_group_expired(NULL));
	((uint64_t *)&never)[0] = 0;
	assert_int_equal(tg_group_set_timeout(&never, 0), TG_EINVAL);
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, -1), TG_EINVAL);
	/* A negative timeout is accepted (test_timeout.c); only one whose
	 * sum overflows is refused. */
	assert_int_equal(tg_group_set_timeout(&g, INT64_MAX), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(&g, INT64_MAX - 1), TG_EINVAL);
	assert_false(tg_group_expired(&g));
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_group_set_timeout(&g, MS), TG_EFINISHED);
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	return NULL;
}

/* The owner gave g no deadline: another task may not give it one (it
 * may move one the owner gave: test_timeout_movers.c). */
static tg_error *
set_from_child(void *arg)
{
	assert_int_equal(tg_group_set_timeout(arg, MS), TG_ENOTOWNER);
	assert_int_equal(tg_group_deadline(arg), TG_DEADLINE_NONE);
	return NULL;
}

static tg_error *
not_owner(void *arg)
{
	tg_group g;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, set_from_child, &g);
	return tg_group_join(&g, NULL);
}

static void
test_timer_misuse_gets_defined_codes(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, misuse, NULL));
	assert_null(tg_runner_run(runner2, not_owner, NULL));
	assert_true(tg_now_ns() > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_expiry_cancels_and_join_reports_timeout),
		cmocka_unit_test(test_timer_body_cancellation_becomes_timeout),
		cmocka_unit_test(test_timer_unexpired_or_removed_deadline_is_harmless),
		cmocka_unit_test(test_timer_reschedule_moves_the_deadline),
		cmocka_unit_test(test_timer_past_deadline_expires_at_once),
		cmocka_unit_test(test_timer_real_errors_win_over_timeout),
		cmocka_unit_test(test_timer_only_the_owner_of_the_deadline_converts),
		cmocka_unit_test(test_timer_outer_cancellation_is_not_swallowed),
		cmocka_unit_test(test_timer_many_deadlines_at_once),
		cmocka_unit_test(test_timer_misuse_gets_defined_codes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
