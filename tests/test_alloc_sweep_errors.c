/*
 * test_alloc_sweep_errors.c - allocation-failure sweep over the scenarios
 * whose errors are more than plain leaves: errors with notes and a cause
 * and the body's error, a group never joined (the runtime's RuntimeError),
 * first-success (a success drops the failures), deadlines (the join's
 * TimeoutError), and printing and JSON of results (which allocate
 * nothing, under exhaustion too).  The sweep and what every run must
 * give: test_sweep.h.  Creating the runner, tg_run and the groups'
 * scenarios: test_alloc_sweep.c.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "test_sweep.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Errors with notes and a cause, and the body's error (group 1). */
static void
add_note_or_nomem(tg_error *e, const char *note)
{
	ok_or_nomem(tg_error_add_note(e, "%s", note));
}

static tg_error *
noted_value(void *arg)
{
	tg_error *e = TG_RAISE_CODE(&tg_ValueError, 1000, "bad value %d", 7);

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	add_note_or_nomem(e, "first note");
	add_note_or_nomem(e, "second note");
	return handed(e);
}

static tg_error *
noted_errno(void *arg)
{
	tg_error *e = tg_error_from_errno(ENOENT, "opening %s", "missing.txt");

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	VCHECK_STATUS(tg_error_set_cause(e, TG_RAISE_CODE(&tg_TypeError, 1001,
							  "the cause")),
		      TG_OK);
	add_note_or_nomem(e, "while counting lines");
	return handed(e);
}

static tg_error *
noted_runtime(void *arg)
{
	tg_error *e = TG_RAISE_CODE(&tg_RuntimeError, 1002, "runtime");

	(void)arg;
	if (e == tg_error_oom())
		return handed(e);
	add_note_or_nomem(e, "a note");
	return handed(e);
}

static tg_error *
notes_root(void *arg)
{
	tg_group g;
	tg_error *body;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, noted_value, NULL));
	ok_or_nomem(tg_spawn_named(&g, noted_errno, NULL, "counter"));
	ok_or_nomem(tg_spawn(&g, noted_runtime, NULL));
	body = TG_RAISE_CODE(&tg_TypeError, 1003, "the body");
	if (body != tg_error_oom())
		add_note_or_nomem(body, "body note");
	return tg_group_join(&g, handed(body));
}

/* First-success: the root and its succeeding child are in test_sweep.h. */
static bool
first_success_possible(const tg_error *leaf)
{
	int c = tg_error_code(leaf);

	return tg_error_is(leaf, &tg_ValueError) && c >= 1000 && c <= 1002;
}

static void
first_success_extra(const tg_error *result)
{
	if (out.winner_rc == WINNER_NOT_ASKED)
		return; /* the group could not be opened */
	VCHECK(out.winner_rc == TG_OK || out.winner_rc == TG_ENOENT);
	if (out.winner_rc == TG_OK) {
		VCHECK(out.winner_arg == &out.w_slot);
		VCHECK(atomic_load(&out.w_ran) == 1);
		VCHECK(result == NULL); /* errors reported only without a winner */
	} else {
		VCHECK(atomic_load(&out.w_ran) == 0);
	}
}

/* Deadlines: group 2 gets a 1 ms timeout and a child that waits to be
 * cancelled (the timer thread and its heap); group 3 a deadline in the
 * past.  Both joins give a TimeoutError. */
static tg_error *
wait_to_be_cancelled(void *arg)
{
	double give_up = now_s() + 30.0; /* hang guard, not a timing test */
	tg_error *err;

	(void)arg;
	while (!tg_cancelled()) {
		if (now_s() > give_up) {
			VCHECK(!"the deadline never fired");
			return NULL;
		}
		sched_yield();
	}
	err = handed(tg_checkpoint_at(__FILE__, __LINE__, __func__));
	if (err != NULL && !tg_error_is(err, &tg_CancelledError))
		atomic_store(&out.waiter_failed, 1);
	return err;
}

static tg_error *
future_deadline(void *arg)
{
	tg_group g;
	tg_error *err;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	/* Children first: the deadline may pass as soon as it is set. */
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	ok_or_nomem(tg_spawn(&g, wait_to_be_cancelled, NULL));
	if (!ok_or_nomem(tg_group_set_timeout(&g, 1000000))) {
		/* No deadline: nothing else would end the waiter. */
		VCHECK(tg_group_deadline(&g) == TG_DEADLINE_NONE);
		VCHECK_STATUS(tg_group_cancel(&g), TG_OK);
	}
	/* With no failed child, a leaf result is the join's TimeoutError
	 * (or the MemoryError standing for it). */
	err = tg_group_join(&g, NULL);
	return atomic_load(&out.waiter_failed) ? err : handed(err);
}

static tg_error *
past_deadline(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	VCHECK_STATUS(tg_group_set_deadline(&g, 0), TG_OK);
	VCHECK_STATUS(tg_spawn(&g, succeed, NULL), TG_ESHUTTINGDOWN);
	/* No child: the result is the join's TimeoutError (or the
	 * MemoryError standing for it). */
	return handed(tg_group_join(&g, NULL));
}

static tg_error *
deadline_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, future_deadline, NULL));
	ok_or_nomem(tg_spawn(&g, past_deadline, NULL));
	return tg_group_join(&g, NULL);
}

/* A child returns with its group (2) open: the runtime joins it and
 * reports a RuntimeError (TG_ESTATE) next to its errors. */
static tg_error *
forgetful(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &(tg_group_options){
						      .name = "forgotten" })))
		return NULL;
	/* Returning with the group open, the runtime raises a RuntimeError
	 * for this task (or the MemoryError that stands for it). */
	atomic_fetch_add(&out.raised, 1);
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(2000)));
	ok_or_nomem(tg_spawn(&g, succeed, NULL));
	return NULL;
}

static tg_error *
abandoned_root(void *arg)
{
	tg_group g;

	(void)arg;
	if (!ok_or_nomem(tg_group_init(&g, &collect_all)))
		return NULL;
	ok_or_nomem(tg_spawn(&g, forgetful, NULL));
	ok_or_nomem(tg_spawn(&g, raise_code, CODE(1001)));
	return tg_group_join(&g, NULL);
}

/* ---------------------------------------------------------------- */
/* The scenarios                                                      */

SCENARIO_TEST(errors_with_notes, 1, notes_root, NULL, NULL, NULL)
SCENARIO_TEST(never_joined, 1, abandoned_root, NULL, NULL, NULL)
SCENARIO_TEST(first_success, 1, first_success_root, first_success_possible,
	      first_success_extra, NULL)
SCENARIO_TEST(deadline, 1, deadline_root, NULL, NULL, NULL)

/* ---------------------------------------------------------------- */
/* Printing                                                           */

static void
print_all(const tg_error *e, char *text, size_t text_len, char *json,
	  size_t json_len, char *file_text, size_t file_len)
{
	FILE *f = tmpfile();
	size_t got;

	assert_non_null(f);
	tg_error_format(e, text, text_len);
	tg_error_to_json(e, json, json_len);
	assert_int_equal(tg_error_print(e, f), TG_OK);
	assert_int_equal(tg_error_write_json(e, f), TG_OK);
	fflush(f);
	rewind(f);
	got = fread(file_text, 1, file_len - 1, f);
	file_text[got] = '\0';
	fclose(f);
}

static void
test_alloc_sweep_error_formatting(void **state)
{
	static char ref_text[1 << 15], ref_json[1 << 15], ref_file[1 << 16];
	static char text[1 << 15], json[1 << 15], file_text[1 << 16];
	static const int modes[] = { TA_FAIL_ONCE, TA_FAIL_FROM };
	tg_error *trees[3];
	tg_runner *r;
	size_t t, m;
	long n, k;

	(void)state;
	check_reset();
	snprintf(vctx, sizeof(vctx), "error_formatting");
	assert_int_equal(tg_set_allocator(&ta_allocator), TG_OK);
	/* Results of two scenarios, and a stand-in group made out of
	 * memory. */
	r = new_runner(1);
	assert_non_null(r);
	trees[0] = tg_runner_run(r, notes_root, NULL);
	trees[1] = tg_runner_run(r, abandoned_root, NULL);
	assert_int_equal(tg_runner_destroy(r), TG_OK);
	{
		tg_error *kids[2] = { TG_RAISE(&tg_ValueError, "a"),
				      TG_RAISE(&tg_TypeError, "b") };

		ta_arm(TA_FAIL_FROM, 1);
		trees[2] = tg_error_group_new("made without memory", 2, kids);
		ta_disarm();
		assert_non_null(trees[2]);
		assert_int_equal(tg_error_count(trees[2]), 3);
		assert_true(tg_error_is(tg_error_child(trees[2], 2),
					&tg_MemoryError));
		assert_int_equal(tg_error_kept_count(trees[2]), 2);
	}
	for (t = 0; t < 3; t++) {
		assert_non_null(trees[t]);
		ta_arm(TA_COUNT, 0);
		print_all(trees[t], ref_text, sizeof(ref_text), ref_json,
			  sizeof(ref_json), ref_file, sizeof(ref_file));
		n = ta_calls();
		ta_disarm();
		/* errors.md: "Printing and JSON allocate nothing". */
		if (n != 0)
			check_fail(__FILE__, __LINE__,
				   "printing tree %zu made %ld allocations", t,
				   n);
		assert_true(strlen(ref_text) > 0);
		for (m = 0; m < 2; m++) {
			for (k = 1; k <= n + 1; k++) {
				ta_arm(modes[m], k);
				print_all(trees[t], text, sizeof(text), json,
					  sizeof(json), file_text,
					  sizeof(file_text));
				ta_disarm();
				VCHECK(strcmp(text, ref_text) == 0);
				VCHECK(strcmp(json, ref_json) == 0);
				VCHECK(strcmp(file_text, ref_file) == 0);
			}
		}
		tg_error_decref(trees[t]);
	}
	assert_int_equal(tg_reset_allocator(), TG_OK);
	assert_int_equal(ta_live(), 0);
	check_report();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_sweep_errors_with_notes),
		cmocka_unit_test(test_alloc_sweep_never_joined),
		cmocka_unit_test(test_alloc_sweep_error_formatting),
		cmocka_unit_test(test_alloc_sweep_first_success),
		cmocka_unit_test(test_alloc_sweep_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
