/*
 * test_timeout.c - asyncio.Timeout's contract on a group's deadline
 * (issue 20, section 3), as its owner sees it:
 *   - the deadline stays readable after the join (Timeout.when() after the
 *     block), and expired keeps its answer;
 *   - a negative relative timeout means already expired
 *     (asyncio.timeout(-11)); only a timeout whose sum overflows is
 *     refused (TG_EINVAL);
 *   - the TimeoutError of a group's own deadline has the CancelledError it
 *     converted as its cause, in tg_error_print's text and in the JSON;
 *   - the timer never keeps a joined group (checked on the pool's heap).
 * Other tasks and plain threads that read and move the deadline:
 * test_timeout_movers.c.
 * Outcomes only: children wait for their cancellation by polling
 * checkpoints, so a broken timer hangs (ctest's timeout), never flakes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "taskgroup.h"

#include "test_deadline.h"
#include "test_eager_all.h"
#include "test_runners.h"
#include "test_timer_heap.h"

/* ------------------------------------------------------------------ */
/* Readable after join                                                  */

static tg_error *
read_after_join(void *arg)
{
	tg_group g;
	tg_error *err;
	int64_t d;

	(void)arg;
	/* Not expired: the deadline it had, expired false. */
	d = tg_now_ns() + HOUR;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, d), TG_OK);
	tg_spawn(&g, succeed, NULL);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_group_deadline(&g), d);
	assert_false(tg_group_expired(&g));
	assert_int_equal(tg_group_deadline(&g), d); /* a read changes nothing */

	/* Expired: the deadline that passed, expired true, both repeatable. */
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, 2 * MS), TG_OK);
	d = tg_group_deadline(&g);
	tg_spawn(&g, wait_for_cancel, NULL);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	assert_int_equal(tg_group_deadline(&g), d);
	assert_true(tg_group_expired(&g));
	assert_true(tg_group_expired(&g));

	/* Removed before the join: none. */
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_deadline(&g, d + HOUR), TG_OK);
	assert_int_equal(tg_group_set_deadline(&g, TG_DEADLINE_NONE), TG_OK);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	assert_false(tg_group_expired(&g));

	/* Never given one (the join's fast path): none, and the handle's
	 * earlier answers are gone with the earlier group. */
	tg_group_init(&g, NULL);
	tg_spawn(&g, succeed, NULL);
	assert_null(tg_group_join(&g, NULL));
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	assert_false(tg_group_expired(&g));

	/* Real errors won: expired still says the deadline passed. */
	tg_group_init(&g, NULL);
	/* Eager: the child would wait inside its spawn for a timeout set
	 * after it, so the timeout comes first (here and below). */
	if (TEST_EAGER)
		assert_int_equal(tg_group_set_timeout(&g, 2 * MS), TG_OK);
	tg_spawn(&g, fail_after_cancel, NULL);
	if (!TEST_EAGER)
		assert_int_equal(tg_group_set_timeout(&g, 2 * MS), TG_OK);
	d = tg_group_deadline(&g);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_ValueError));
	tg_error_decref(err);
	assert_true(tg_group_expired(&g));
	assert_int_equal(tg_group_deadline(&g), d);
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

static void
test_timeout_deadline_and_expired_readable_after_join(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, read_after_join, NULL));
	assert_null(tg_runner_run(runner2, read_after_join, NULL));
}

/* An outer cancellation won over the expired deadline: the join reports a
 * CancelledError (no cause), and expired is true after the join, as
 * Timeout.expired() is when the timeout fired. */
static tg_error *
outer_wins(void *arg)
{
	tg_group outer, g;
	tg_error *err;

	(void)arg;
	tg_group_init(&outer, NULL);
	tg_group_cancel(&outer);
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, -1), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_CancelledError));
	assert_null(tg_error_cause(err));
	assert_true(tg_group_expired(&g));
	assert_true(tg_group_deadline(&g) != TG_DEADLINE_NONE);
	assert_null(tg_group_join(&outer, err));
	return NULL;
}

static void
test_timeout_expired_after_join_when_outer_cancellation_won(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, outer_wins, NULL));
}

/* ------------------------------------------------------------------ */
/* Negative timeouts, overflow                                          */

static tg_error *
negative_timeouts(void *arg)
{
	static const int64_t timeouts[] = { -1, -11, -HOUR, INT64_MIN };
	tg_group g;
	tg_error *err;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t after;

		tg_group_init(&g, NULL);
		assert_int_equal(tg_group_set_timeout(&g, timeouts[i]), TG_OK);
		after = tg_now_ns();
		/* Already expired, inside the call; the deadline is in the
		 * past (0 when the sum would be negative). */
		assert_true(tg_group_expired(&g));
		assert_true(tg_cancelled());
		assert_true(tg_group_deadline(&g) >= 0);
		assert_true(tg_group_deadline(&g) < after);
		assert_int_equal(tg_spawn(&g, succeed, NULL), TG_ESHUTTINGDOWN);
		/* A fired timeout cannot be rescheduled, negative or not. */
		assert_int_equal(tg_group_set_timeout(&g, -1), TG_ESTATE);
		assert_int_equal(tg_group_set_timeout(&g, HOUR), TG_ESTATE);
		err = tg_group_join(&g, NULL);
		assert_true(tg_error_is(err, &tg_TimeoutError));
		tg_error_decref(err);
		assert_true(tg_group_expired(&g));
	}
	/* A negative timeout moves a far deadline into the past (not
	 * eager: the child would wait inside its spawn for the move). */
	if (TEST_EAGER)
		return NULL;
	tg_group_init(&g, NULL);
	assert_int_equal(tg_group_set_timeout(&g, HOUR), TG_OK);
	tg_spawn(&g, wait_for_cancel, NULL);
	assert_int_equal(tg_group_set_timeout(&g, -11), TG_OK);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	tg_error_decref(err);
	return NULL;
}

static void
test_timeout_negative_timeout_means_already_expired(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner1, negative_timeouts, NULL));
	assert_null(tg_runner_run(runner2, negative_timeouts, NULL));
}

static tg_error *
overflow(void *arg)
{
	tg_group g;
	int64_t big;

	(void)arg;
	tg_group_init(&g, NULL);
	/* Sums that overflow (or reach TG_DEADLINE_NONE) are refused and
	 * change nothing. */
	assert_int_equal(tg_group_set_timeout(&g, INT64_MAX), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(&g, INT64_MAX - 1), TG_EINVAL);
	assert_int_equal(tg_group_set_timeout(&g, INT64_MAX - tg_now_ns()),
			 TG_EINVAL);
	assert_int_equal(tg_group_deadline(&g), TG_DEADLINE_NONE);
	assert_false(tg_group_expired(&g));
	assert_false(tg_cancelled());
	/* One that fits is accepted: a deadline short of TG_DEADLINE_NONE. */
	big = INT64_MAX - tg_now_ns() - HOUR;
	assert_int_equal(tg_group_set_timeout(&g, big), TG_OK);
	assert_true(tg_group_deadline(&g) != TG_DEADLINE_NONE);
	assert_true(tg_group_deadline(&g) >= big);
	/* A refused move keeps the deadline it had. */
	{
		int64_t d = tg_group_deadline(&g);

		assert_int_equal(tg_group_set_timeout(&g, INT64_MAX),
				 TG_EINVAL);
		assert_int_equal(tg_group_deadline(&g), d);
	}
	tg_spawn(&g, succeed, NULL);
	assert_null(tg_group_join(&g, NULL));
	assert_false(tg_group_expired(&g));
	assert_int_equal(timer_entries(), 0);
	return NULL;
}

static void
test_timeout_only_an_overflowing_timeout_is_refused(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, overflow, NULL));
}

/* ------------------------------------------------------------------ */
/* TimeoutError from CancelledError                                     */

/* After `"key":` (spaces allowed) in json, the object's "type" value. */
static bool
object_type_after(const char *json, const char *key, const char *type)
{
	const char *p = strstr(json, key);

	if (p == NULL)
		return false;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p != '{')
		return false;
	p = strstr(p, "\"type\"");
	if (p == NULL)
		return false;
	p += strlen("\"type\"");
	while (*p == ' ' || *p == ':')
		p++;
	return strncmp(p, type, strlen(type)) == 0;
}

static void
check_cause_chain_output(const tg_error *err)
{
	char text[8192], printed[8192], json[8192];
	const char *cancel, *direct, *timeout;
	FILE *f;
	size_t n;

	n = tg_error_format(err, text, sizeof(text));
	assert_true(n < sizeof(text));
	/* Python's layout: the cause first, then the line, then the error. */
	cancel = strstr(text, "CancelledError");
	direct = strstr(text, "The above exception was the direct cause of "
			      "the following exception:");
	timeout = strstr(text, "TimeoutError");
	assert_non_null(cancel);
	assert_non_null(direct);
	assert_non_null(timeout);
	assert_true(cancel < direct);
	assert_true(direct < timeout);
	assert_non_null(strstr(timeout, "the task group's deadline expired"));

	/* tg_error_print writes the same text. */
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(tg_error_print(err, f), TG_OK);
	rewind(f);
	n = fread(printed, 1, sizeof(printed) - 1, f);
	printed[n] = '\0';
	fclose(f);
	assert_string_equal(printed, text);

	n = tg_error_to_json(err, json, sizeof(json));
	assert_true(n < sizeof(json));
	assert_true(object_type_after(json, "", "\"TimeoutError\""));
	assert_true(strstr(json, "\"TimeoutError\"") <
		    strstr(json, "\"cause\""));
	assert_true(object_type_after(json, "\"cause\"", "\"CancelledError\""));
}

/* No body error: the join makes the CancelledError it converts. */
static tg_error *
cause_made_by_join(void *arg)
{
	tg_group g;
	tg_error *err;
	tg_group_options named = { .name = "fetch" };

	(void)arg;
	tg_group_init(&g, &named);
	tg_group_set_timeout(&g, 2 * MS);
	tg_spawn(&g, wait_for_cancel, NULL);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	assert_non_null(strstr(tg_error_message(err), "\"fetch\""));
	assert_true(tg_error_is(tg_error_cause(err), &tg_CancelledError));
	assert_null(tg_error_cause(tg_error_cause(err)));
	check_cause_chain_output(err);
	tg_error_decref(err);

	/* Expired inside the call, nothing spawned: the same. */
	tg_group_init(&g, NULL);
	tg_group_set_timeout(&g, -11);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(tg_error_cause(err), &tg_CancelledError));
	check_cause_chain_output(err);
	tg_error_decref(err);
	return NULL;
}

/* The body hands its CancelledError (from a checkpoint) to the join: that
 * very error becomes the cause. */
static tg_error *
cause_is_the_bodys(void *arg)
{
	tg_group g;
	tg_error *body = NULL, *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_group_set_timeout(&g, 2 * MS);
	tg_spawn(&g, wait_for_cancel, NULL);
	while (body == NULL)
		body = tg_checkpoint_at("body.c", 42, "body");
	assert_true(tg_error_is(body, &tg_CancelledError));
	tg_error_incref(body); /* to compare after the join */
	err = tg_group_join(&g, body);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	assert_ptr_equal(tg_error_cause(err), body);
	tg_error_decref(body);
	check_cause_chain_output(err);
	{
		char text[8192];

		tg_error_format(err, text, sizeof(text));
		assert_non_null(strstr(text, "body.c"));
	}
	tg_error_decref(err);
	return NULL;
}

/* Nested: the inner group's CancelledError (its parent expired), handed
 * to the outer join by the body, is the outer TimeoutError's cause. */
static tg_error *
inner(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_spawn(&g, wait_for_cancel, NULL);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is(err, &tg_CancelledError));
	assert_null(tg_error_cause(err));
	return err;
}

static tg_error *
cause_from_nested(void *arg)
{
	tg_group g;
	tg_error *err, *body;

	(void)arg;
	tg_group_init(&g, NULL);
	tg_group_set_timeout(&g, 2 * MS);
	body = inner(NULL); /* in the owner's task, inside g */
	err = tg_group_join(&g, body);
	assert_true(tg_error_is(err, &tg_TimeoutError));
	assert_true(tg_error_is(tg_error_cause(err), &tg_CancelledError));
	check_cause_chain_output(err);
	tg_error_decref(err);
	return NULL;
}

/* Real errors win: no TimeoutError, and the errors have no cause. */
static tg_error *
no_cause_when_errors_win(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	tg_group_init(&g, NULL);
	if (TEST_EAGER) /* as in read_after_join */
		tg_group_set_timeout(&g, 2 * MS);
	tg_spawn(&g, fail_after_cancel, NULL);
	if (!TEST_EAGER)
		tg_group_set_timeout(&g, 2 * MS);
	err = tg_group_join(&g, NULL);
	assert_true(tg_error_is_group(err));
	assert_null(tg_error_cause(err));
	tg_error_decref(err);
	return NULL;
}

static void
test_timeout_timeout_error_is_caused_by_the_cancellation(void **state)
{
	(void)state;
	assert_null(tg_runner_run(runner2, cause_made_by_join, NULL));
	assert_null(tg_runner_run(runner1, cause_made_by_join, NULL));
	assert_null(tg_runner_run(runner2, cause_is_the_bodys, NULL));
	assert_null(tg_runner_run(runner2, cause_from_nested, NULL));
	assert_null(tg_runner_run(runner2, no_cause_when_errors_win, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_deadline_and_expired_readable_after_join),
		cmocka_unit_test(test_timeout_expired_after_join_when_outer_cancellation_won),
		cmocka_unit_test(test_timeout_negative_timeout_means_already_expired),
		cmocka_unit_test(test_timeout_only_an_overflowing_timeout_is_refused),
		cmocka_unit_test(test_timeout_timeout_error_is_caused_by_the_cancellation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
