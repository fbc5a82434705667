/*
 * test_error_group.c - error group nodes: construction (ExceptionGroup or
 * BaseExceptionGroup by the children, bad arguments, the join's message),
 * leaf iteration in order, the out-of-memory stand-in groups (children
 * kept, fatal errors first, the reserve's slots reused and all busy), and
 * every allocation of a small tree failed in turn.  Single errors, notes,
 * causes and reference counts: test_error.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_alloc.h"

#include "taskgroup/error.h"

#include "error_internal.h"

/* ------------------------------------------------------------------ */
/* Group nodes                                                          */

static void
test_error_group_new_basic(void **state)
{
	tg_error *kids[3] = { TG_RAISE(&tg_ValueError, "1"),
			      TG_RAISE(&tg_TypeError, "int"),
			      TG_RAISE(&tg_ValueError, "2") };
	tg_error *k0 = kids[0];
	tg_error *g = tg_error_group_new("simple eg", 3, kids);

	(void)state;
	assert_true(tg_error_is_group(g));
	assert_ptr_equal(tg_error_type_of(g), &tg_ExceptionGroup);
	assert_true(tg_error_is(g, &tg_Exception));
	assert_string_equal(tg_error_message(g), "simple eg");
	assert_int_equal(tg_error_count(g), 3);
	assert_int_equal(tg_error_leaf_count(g), 3);
	assert_ptr_equal(tg_error_child(g, 0), k0);
	assert_null(tg_error_child(g, 3));
	tg_error_decref(g);
}

static void
test_error_group_base_when_child_not_exception(void **state)
{
	tg_error *kids[2] = { TG_RAISE(&tg_ValueError, "1"),
			      TG_RAISE(&tg_Interrupt, "2") };
	tg_error *g = tg_error_group_new("beg", 2, kids);
	tg_error *outer_kids[1] = { g };
	tg_error *outer;

	(void)state;
	assert_ptr_equal(tg_error_type_of(g), &tg_BaseExceptionGroup);
	assert_false(tg_error_is(g, &tg_Exception));
	assert_true(tg__error_is_fatal(g));
	outer = tg_error_group_new("outer", 1, outer_kids);
	assert_ptr_equal(tg_error_type_of(outer), &tg_BaseExceptionGroup);
	assert_true(tg__error_is_fatal(outer));
	tg_error_decref(outer);
}

static void
test_error_group_rejects_bad_args(void **state)
{
	tg_error *a = TG_RAISE(&tg_ValueError, "a");
	tg_error *kids[2] = { a, NULL };

	(void)state;
	assert_null(tg_error_group_new(NULL, 1, kids));
	assert_null(tg_error_group_new("m", 0, kids));
	assert_null(tg_error_group_new("m", 1, NULL));
	assert_null(tg_error_group_new("m", 2, kids));
	tg_error_decref(a); /* nothing was consumed */
}

static void
test_error_join_group_message(void **state)
{
	tg_error *kids[2] = { TG_RAISE(&tg_ValueError, "a"),
			      TG_RAISE(&tg_Interrupt, "b") };
	tg_error *g = tg__error_group_for_join(2, kids);

	(void)state;
	assert_string_equal(tg_error_message(g),
			    "unhandled errors in a task group");
	assert_ptr_equal(tg_error_type_of(g), &tg_BaseExceptionGroup);
	assert_true(tg__error_is_fatal(g));
	tg_error_decref(g);
}

static int
collect(tg_error *leaf, void *ctx)
{
	char *out = ctx;

	strcat(out, tg_error_message(leaf));
	return strcmp(tg_error_message(leaf), "stop") == 0 ? 7 : 0;
}

static void
test_error_leaf_iteration_order(void **state)
{
	tg_error *inner_kids[2] = { TG_RAISE(&tg_ValueError, "b"),
				    TG_RAISE(&tg_ValueError, "c") };
	tg_error *kids[3] = { TG_RAISE(&tg_ValueError, "a"),
			      tg_error_group_new("in", 2, inner_kids),
			      TG_RAISE(&tg_ValueError, "d") };
	tg_error *g = tg_error_group_new("out", 3, kids);
	tg_error *stop_kids[3] = { TG_RAISE(&tg_ValueError, "x"),
				   TG_RAISE(&tg_ValueError, "stop"),
				   TG_RAISE(&tg_ValueError, "y") };
	tg_error *s = tg_error_group_new("s", 3, stop_kids);
	char buf[32] = "";

	(void)state;
	assert_int_equal(tg_error_foreach_leaf(g, collect, buf), 0);
	assert_string_equal(buf, "abcd");
	assert_int_equal(tg_error_leaf_count(g), 4);
	buf[0] = '\0';
	assert_int_equal(tg_error_foreach_leaf(s, collect, buf), 7);
	assert_string_equal(buf, "xstop");
	buf[0] = '\0';
	assert_int_equal(tg_error_foreach_leaf(kids[0], collect, buf), 0);
	assert_string_equal(buf, "a");
	assert_int_equal(tg_error_foreach_leaf(NULL, collect, buf), 0);
	tg_error_decref(g);
	tg_error_decref(s);
}

/* ------------------------------------------------------------------ */
/* Out of memory while grouping                                         */

static void
test_error_group_oom_stand_in_keeps_children(void **state)
{
	tg_error *kids[3] = { TG_RAISE(&tg_ValueError, "a"),
			      TG_RAISE(&tg_TypeError, "b"),
			      TG_RAISE(&tg_ValueError, "c") };
	tg_error *k[3] = { kids[0], kids[1], kids[2] };
	tg_error *g;

	(void)state;
	test_alloc_fail_all = 1;
	g = tg__error_group_for_join(3, kids);
	test_alloc_fail_all = 0;
	assert_true(tg_error_is_group(g));
	assert_string_equal(tg_error_message(g),
			    "unhandled errors in a task group");
	assert_int_equal(tg_error_count(g), 4);
	assert_ptr_equal(tg_error_child(g, 0), k[0]);
	assert_ptr_equal(tg_error_child(g, 1), k[1]);
	assert_ptr_equal(tg_error_child(g, 2), k[2]);
	/* The last child is the stand-in's MemoryError: nothing released. */
	assert_true(tg_error_is(tg_error_child(g, 3), &tg_MemoryError));
	assert_string_equal(tg_error_message(tg_error_child(g, 3)),
			    "out of memory");
	assert_int_equal(tg_error_lost_count(tg_error_child(g, 3)), 0);
	assert_int_equal(tg_error_lost_count(g), 0);
	assert_int_equal(tg_error_kept_count(g), 3);
	assert_ptr_equal(tg_error_type_of(g), &tg_ExceptionGroup);
	/* the stand-in is an ordinary error: it can be shared and noted */
	assert_int_equal(tg_error_add_note(g, "noted"), TG_OK);
	tg_error_decref(g);
	assert_int_equal(test_alloc_live, 0);
}

static void
test_error_group_oom_stand_in_keeps_fatal_first(void **state)
{
	enum { N = 40 };
	tg_error *kids[N];
	tg_error *g;
	size_t i;

	(void)state;
	for (i = 0; i < N - 1; i++)
		kids[i] = TG_RAISE(&tg_ValueError, "%zu", i);
	kids[N - 1] = TG_RAISE(&tg_Interrupt, "ctrl-c");
	test_alloc_fail_all = 1;
	g = tg_error_group_new("many", N, kids);
	test_alloc_fail_all = 0;
	assert_int_equal(tg_error_count(g), 32);
	assert_ptr_equal(tg_error_type_of(g), &tg_BaseExceptionGroup);
	assert_true(tg__error_is_fatal(g));
	assert_true(tg_error_is(tg_error_child(g, 30), &tg_Interrupt));
	assert_true(tg_error_is(tg_error_child(g, 31), &tg_MemoryError));
	assert_int_equal(tg_error_lost_count(tg_error_child(g, 31)), 9);
	assert_string_equal(tg_error_message(tg_error_child(g, 31)),
			    "out of memory: 9 errors lost");
	assert_int_equal(tg_error_lost_count(g), 9);
	assert_int_equal(tg_error_kept_count(g), 31);
	assert_string_equal(tg_error_message(g),
			    "many [out of memory: 9 more errors released]");
	tg_error_decref(g);
}

static void
test_error_group_oom_slots_are_reused(void **state)
{
	int round;

	(void)state;
	for (round = 0; round < 100; round++) {
		tg_error *kids[1] = { TG_RAISE(&tg_ValueError, "a") };
		tg_error *g;

		test_alloc_fail_all = 1;
		g = tg_error_group_new("g", 1, kids);
		test_alloc_fail_all = 0;
		assert_int_equal(tg_error_count(g), 2);
		tg_error_decref(g);
	}
}

static void
test_error_group_oom_all_slots_busy(void **state)
{
	enum { HELD = 16 };
	tg_error *held[HELD];
	tg_error *kids[2], *b;
	tg_error *g;
	uint64_t untracked;
	int i;

	(void)state;
	for (i = 0; i < HELD; i++) {
		kids[0] = TG_RAISE(&tg_ValueError, "a");
		test_alloc_fail_all = 1;
		held[i] = tg_error_group_new("g", 1, kids);
		test_alloc_fail_all = 0;
		assert_int_equal(tg_error_count(held[i]), 2);
	}
	/* One child: kept as it is, only not grouped. */
	kids[0] = TG_RAISE(&tg_ValueError, "b");
	b = kids[0];
	test_alloc_fail_all = 1;
	g = tg_error_group_new("g", 1, kids);
	test_alloc_fail_all = 0;
	assert_ptr_equal(g, b);
	tg_error_decref(g);
	/* Several, none a stand-in: released, and the MemoryError stands
	 * for one of them; the other is counted process-wide. */
	kids[0] = TG_RAISE(&tg_ValueError, "c");
	kids[1] = TG_RAISE(&tg_ValueError, "d");
	untracked = tg_error_lost_untracked();
	test_alloc_fail_all = 1;
	g = tg_error_group_new("g", 2, kids);
	test_alloc_fail_all = 0;
	assert_ptr_equal(g, tg_error_oom());
	assert_int_equal(tg_error_lost_count(g), 1);
	assert_int_equal(tg_error_lost_untracked() - untracked, 1);
	for (i = 0; i < HELD; i++)
		tg_error_decref(held[i]);
}

/* Builds a small tree with notes and a cause; returns it or the failure
 * visible in it. */
static tg_error *
build_scenario(void)
{
	tg_error *kids[2];
	tg_error *g, *c;

	kids[0] = TG_RAISE(&tg_ValueError, "a");
	kids[1] = tg_error_from_errno(ENOENT, "'%s'", "f.txt");
	(void)tg_error_add_note(kids[0], "note a");
	g = tg__error_group_for_join(2, kids);
	c = TG_RAISE(&tg_RuntimeError, "outer");
	(void)tg_error_set_cause(c, g);
	return tg_error_with_note(c, "n %d", 1);
}

static void
test_error_every_allocation_failed_in_turn(void **state)
{
	long k, total;
	tg_error *e;

	(void)state;
	test_alloc_calls = 0;
	e = build_scenario();
	total = test_alloc_calls;
	tg_error_decref(e);
	assert_true(total > 5);
	for (k = 0; k < total; k++) {
		test_alloc_calls = 0;
		test_alloc_fail_at = k;
		e = build_scenario();
		test_alloc_fail_at = -1;
		assert_non_null(e);
		assert_true(tg_error_is(e, &tg_Exception));
		tg_error_decref(e);
		assert_int_equal(test_alloc_live, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, test_alloc_setup, test_alloc_teardown)
		T(test_error_group_new_basic),
		T(test_error_group_base_when_child_not_exception),
		T(test_error_group_rejects_bad_args),
		T(test_error_join_group_message),
		T(test_error_leaf_iteration_order),
		T(test_error_group_oom_stand_in_keeps_children),
		T(test_error_group_oom_stand_in_keeps_fatal_first),
		T(test_error_group_oom_slots_are_reused),
		T(test_error_group_oom_all_slots_busy),
		T(test_error_every_allocation_failed_in_turn),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
