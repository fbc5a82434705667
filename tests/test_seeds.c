/*
 * test_seeds.c - the scenarios of the tutorial the project started from
 * (shared/seeds: "Python 3.11 Preview: Task and Exception Groups"), run
 * through the real demo code: docs/examples/count_lines.c is included here
 * with its main() renamed, and its tasks count the sample files in
 * docs/examples/data on a real pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define main count_lines_main
#include "../docs/examples/count_lines.c"
#undef main

/* docs/examples/data, found from this file's path. */
static char data_dir[2048];

static const char *
data_file(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", data_dir, name);

	assert_true(n > 0 && (size_t)n < len);
	return buf;
}

static tg_error *
count(const char **names, int n, int policy)
{
	static char paths[8][4096];
	struct file_job jobs[8];
	struct all_files all = { n, jobs, policy };
	int i;

	for (i = 0; i < n; i++) {
		jobs[i].file_num = i + 1;
		jobs[i].file_name = names[i][0] == '/'
					    ? names[i]
					    : data_file(names[i], paths[i],
							sizeof(paths[i]));
	}
	return tg_run(count_all_files, &all);
}

static void
test_seeds_three_bad_files_give_three_leaves(void **state)
{
	const char *names[] = { "wrong_name.txt", "empty_file.txt",
				"not_utf8.txt" };
	tg_error *err;

	(void)state;
	err = count(names, 3, TG_POLICY_COLLECT_ALL);
	assert_non_null(err);
	assert_true(tg_error_is(err, &tg_ExceptionGroup));
	assert_int_equal(tg_error_count(err), 3);
	/* Spawn order, whatever finished first. */
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_FileNotFoundError));
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_OSError));
	assert_int_equal(tg_error_code(tg_error_child(err, 0)), ENOENT);
	assert_true(tg_error_is(tg_error_child(err, 1), &UnboundLocalError));
	assert_true(tg_error_is(tg_error_child(err, 1), &NameError));
	assert_true(tg_error_is(tg_error_child(err, 2), &tg_UnicodeDecodeError));
	assert_true(tg_error_is(tg_error_child(err, 2), &tg_ValueError));
	assert_non_null(strstr(tg_error_message(tg_error_child(err, 2)),
			       "can't decode byte 0xe5 in position 2: "
			       "invalid continuation byte"));
	tg_error_decref(err);
}

static void
test_seeds_except_star_handles_the_decoding_error_only(void **state)
{
	const char *names[] = { "wrong_name.txt", "empty_file.txt",
				"not_utf8.txt" };
	tg_error *err;
	int handled = 0;

	(void)state;
	err = count(names, 3, TG_POLICY_COLLECT_ALL);
	TG_EXCEPT_STAR(&err, &tg_UnicodeDecodeError, eg) {
		handled++;
		assert_int_equal(tg_error_leaf_count(eg), 1);
		assert_true(tg_error_is(tg_error_child(eg, 0),
					&tg_UnicodeDecodeError));
	}
	assert_int_equal(handled, 1);
	/* The rest keeps the group's shape: two leaves, same message. */
	assert_non_null(err);
	assert_int_equal(tg_error_leaf_count(err), 2);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_FileNotFoundError));
	assert_true(tg_error_is(tg_error_child(err, 1), &UnboundLocalError));
	/* A second clause for the same type finds nothing left. */
	TG_EXCEPT_STAR(&err, &tg_UnicodeDecodeError, again) {
		(void)again;
		fail();
	}
	TG_EXCEPT_STAR(&err, &tg_OSError, eg) {
		assert_int_equal(tg_error_leaf_count(eg), 1);
	}
	TG_EXCEPT_STAR(&err, &tg_Exception, eg) {
		assert_int_equal(tg_error_leaf_count(eg), 1);
	}
	assert_null(err); /* everything handled */
}

static void
test_seeds_thirteen_lines_are_too_scary(void **state)
{
	const char *names[] = { "rot13.txt", "poem.txt" };
	tg_error *err;
	char text[4096];

	(void)state;
	err = count(names, 2, TG_POLICY_FAIL_FAST);
	assert_int_equal(tg_error_count(err), 1);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_RuntimeError));
	assert_string_equal(tg_error_message(tg_error_child(err, 0)),
			    "Files with thirteen lines are too scary!");
	tg_error_format(err, text, sizeof(text));
	assert_non_null(strstr(text, "ExceptionGroup: unhandled errors in a "
				     "task group (1 sub-error)"));
	assert_non_null(strstr(text, "RuntimeError: Files with thirteen lines "
				     "are too scary!"));
	/* The leaf knows which task raised it and where it was spawned. */
	assert_non_null(strstr(text, "count_all_files"));
	assert_non_null(strstr(text, "rot13.txt"));
	tg_error_decref(err);
}

static void
test_seeds_good_files_give_no_error(void **state)
{
	const char *names[] = { "poem.txt", "tasks.txt" };

	(void)state;
	assert_null(count(names, 2, TG_POLICY_FAIL_FAST));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeds_three_bad_files_give_three_leaves),
		cmocka_unit_test(test_seeds_except_star_handles_the_decoding_error_only),
		cmocka_unit_test(test_seeds_thirteen_lines_are_too_scary),
		cmocka_unit_test(test_seeds_good_files_give_no_error),
	};
	const char *here = __FILE__;
	const char *slash = strrchr(here, '/');
	int dir_len = slash != NULL ? (int)(slash - here) : 1;

	/* __FILE__ is <source>/tests/test_seeds.c in CMake builds. */
	if (snprintf(data_dir, sizeof(data_dir), "%.*s/../docs/examples/data",
		     dir_len, slash != NULL ? here : ".") >= (int)sizeof(data_dir))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
