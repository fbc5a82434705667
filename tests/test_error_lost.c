/*
 * test_error_lost.c - counted losses: what the out-of-memory stand-ins say
 * about the errors they had to release (tg_error_lost_count,
 * tg_error_kept_count, tg_error_lost_untracked), in the tree, in the text
 * and in the JSON; the reserve's behaviour when all its slots are in use;
 * and that split, copies and release keep the counts.
 *
 * Every allocation fails while a stand-in is made (test_alloc.h), so the
 * group node is always the reserve's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_alloc.h"
#include "test_tree.h"

#include "taskgroup/error.h"

#include "error_internal.h"
#include "error_node.h"

/* The reserve's size (error_reserve.c). */
#define SLOTS 16

static tg_error *
leaf(const tg_error_type *t, const char *msg)
{
	return tg_error_new_at(t, 0, "src/lost.c", 7, "make", "%s", msg);
}

/* A group node made while every allocation fails: a stand-in. */
static tg_error *
oom_group(const char *msg, size_t n, tg_error **kids)
{
	tg_error *g;

	test_alloc_fail_all = 1;
	g = tg_error_group_new(msg, n, kids);
	test_alloc_fail_all = 0;
	return g;
}

static const tg_error *
marker_of(const tg_error *g)
{
	return tg_error_child(g, tg_error_count(g) - 1);
}

/* raised == kept + lost for a tree built from `raised` errors. */
static void
assert_accounts_for(const tg_error *e, size_t raised)
{
	assert_int_equal(tg_error_kept_count(e) + tg_error_lost_count(e),
			 raised);
}

/* ------------------------------------------------------------------ */
/* Counts                                                               */

static void
test_error_lost_counts_of_plain_errors(void **state)
{
	tg_error *v = leaf(&tg_ValueError, "v");
	tg_error *own = leaf(&tg_MemoryError, "my own");
	tg_error *g;

	(void)state;
	assert_int_equal(tg_error_lost_count(NULL), 0);
	assert_int_equal(tg_error_kept_count(NULL), 0);
	assert_int_equal(tg_error_lost_count(v), 0);
	assert_int_equal(tg_error_kept_count(v), 1);
	/* A MemoryError you raise is an error like any other. */
	assert_int_equal(tg_error_lost_count(own), 0);
	assert_int_equal(tg_error_kept_count(own), 1);
	/* The preallocated one stands for the error that could not be
	 * made. */
	assert_int_equal(tg_error_lost_count(tg_error_oom()), 1);
	assert_int_equal(tg_error_kept_count(tg_error_oom()), 0);
	g = group("g", 3, v, own, tg_error_oom());
	assert_int_equal(tg_error_lost_count(g), 1);
	assert_int_equal(tg_error_kept_count(g), 2);
	assert_int_equal(tg_error_leaf_count(g), 3);
	tg_error_decref(g);
}

/* Released children that are groups count their leaves, and the
 * stand-ins inside them count what they counted. */
static void
test_error_lost_stand_in_counts_released_errors(void **state)
{
	enum { N = 40 };
	tg_error *kids[N], *inner_kids[2], *inner, *g;
	size_t i;

	(void)state;
	/* An inner stand-in that lost 2 of its 33 children... */
	{
		tg_error *k[33];

		for (i = 0; i < 33; i++)
			k[i] = leaf(&tg_ValueError, "inner");
		inner = oom_group("inner", 33, k);
		assert_int_equal(tg_error_lost_count(inner), 2);
		assert_accounts_for(inner, 33);
	}
	/* ... released, with a group of three and an immortal MemoryError,
	 * by an outer one. */
	inner_kids[0] = leaf(&tg_TypeError, "t");
	inner_kids[1] = leaf(&tg_TypeError, "t");
	for (i = 0; i < 31; i++)
		kids[i] = leaf(&tg_OSError, "kept");
	kids[31] = inner;                                    /* 33 */
	kids[32] = group("three", 3, leaf(&tg_ValueError, "a"),
			 leaf(&tg_ValueError, "b"),
			 leaf(&tg_ValueError, "c"));                 /* 3 */
	kids[33] = group("two", 2, inner_kids[0], inner_kids[1]); /* 2 */
	kids[34] = tg_error_oom();                           /* 1 */
	for (i = 35; i < N; i++)
		kids[i] = leaf(&tg_ValueError, "late");          /* 5 */
	g = oom_group("outer", N, kids);
	assert_int_equal(tg_error_count(g), 32);
	assert_int_equal(tg_error_kept_count(g), 31);
	assert_int_equal(tg_error_lost_count(g), 33 + 3 + 2 + 1 + 5);
	assert_int_equal(tg_error_lost_count(marker_of(g)), 44);
	assert_true(tg_error_is(marker_of(g), &tg_MemoryError));
	assert_string_equal(tg_error_message(marker_of(g)),
			    "out of memory: 44 errors lost");
	assert_string_equal(tg_error_message(g),
			    "outer [out of memory: 44 more errors released]");
	assert_accounts_for(g, 31 + 33 + 3 + 2 + 1 + 5);
	tg_error_decref(g);
}

static void
test_error_lost_one_error_singular(void **state)
{
	tg_error *kids[32];
	tg_error *g;
	size_t i;

	(void)state;
	for (i = 0; i < 32; i++)
		kids[i] = leaf(&tg_ValueError, "x");
	g = oom_group("g", 32, kids);
	assert_string_equal(tg_error_message(marker_of(g)),
			    "out of memory: 1 error lost");
	assert_string_equal(tg_error_message(g),
			    "g [out of memory: 1 more error released]");
	tg_error_decref(g);
}

/* ------------------------------------------------------------------ */
/* Names, in the text and the JSON                                      */

static tg_error *
task_leaf(const tg_error_type *t, uint64_t task, const char *name)
{
	static const char file[] = "/very/long/path/to/the/sources/of/the/"
				   "program/fetch.c";
	tg_spawn_site chain[1] = { { "main.c", 31, "main", task, name } };
	tg_error_provenance prov = { task, name, 0, 1, chain };
	tg_error_origin origin = { file, 12, "fetch_one" };
	err_spec spec = { t, 0, "failed", &origin, &prov, 0, 0 };
	tg_error *e = tg__error_alloc(&spec);

	assert_non_null(e);
	return e;
}

static tg_error *
named_stand_in(void)
{
	tg_error *kids[37];
	size_t i;

	for (i = 0; i < 31; i++)
		kids[i] = leaf(&tg_OSError, "kept");
	kids[31] = task_leaf(&tg_ValueError, 12, "fetch a");
	kids[32] = tg_error_oom(); /* nothing to name */
	kids[33] = task_leaf(&tg_TypeError, 13, NULL);
	kids[34] = leaf(&tg_ValueError, "outside any task");
	for (i = 35; i < 37; i++)
		kids[i] = task_leaf(&tg_ValueError, 20 + i, "later");
	return oom_group("join", 37, kids);
}

static void
test_error_lost_names_in_text(void **state)
{
	tg_error *g = named_stand_in();
	static char text[1 << 15];
	const char *at;

	(void)state;
	assert_int_equal(tg_error_lost_count(g), 6);
	tg_error_format(g, text, sizeof(text));
	/* The 16th child is "and N more" in the drawing: print the marker
	 * alone. */
	tg_error_format(marker_of(g), text, sizeof(text));
	assert_string_equal(
		text,
		"MemoryError: out of memory: 6 errors lost\n"
		"  lost: ValueError raised at ...g/path/to/the/sources/of/the/program/fetch.c:12"
		" in fetch_one (task 12 \"fetch a\", spawned at main.c:31 in "
		"main)\n"
		"  lost: TypeError raised at ...g/path/to/the/sources/of/the/program/fetch.c:12"
		" in fetch_one (task 13, spawned at main.c:31 in main)\n"
		"  lost: ValueError raised at src/lost.c:7 in make\n"
		"  lost: ValueError raised at ...g/path/to/the/sources/of/the/program/fetch.c:12"
		" in fetch_one (task 55 \"later\", spawned at main.c:31 in "
		"main)\n"
		"  and 2 more lost\n");
	/* Inside a group the lines carry the margin. */
	{
		tg_error *kids[2] = { leaf(&tg_ValueError, "v"),
				      tg_error_incref((tg_error *)marker_of(g)) };
		tg_error *small = group("small", 2, kids[0], kids[1]);

		tg_error_format(small, text, sizeof(text));
		at = strstr(text, "    | MemoryError: out of memory: 6 errors "
				  "lost\n    |   lost: ValueError raised at");
		assert_non_null(at);
		assert_non_null(strstr(text, "    |   and 2 more lost\n"));
		tg_error_decref(small);
	}
	tg_error_decref(g);
}

static void
test_error_lost_names_in_json(void **state)
{
	tg_error *g = named_stand_in();
	static char json[1 << 16];

	(void)state;
	tg_error_to_json(marker_of(g), json, sizeof(json));
	assert_non_null(strstr(
		json,
		"\"leaf_count\":1,\"lost_count\":6,\"lost_errors\":[{\"type\":"
		"\"ValueError\",\"file\":\"...g/path/to/the/sources/of/the/program/fetch.c\","
		"\"line\":12,\"func\":\"fetch_one\",\"task_id\":12,"
		"\"task_name\":\"fetch a\",\"spawn_site\":{\"file\":\"main.c\","
		"\"line\":31,\"func\":\"main\"}},{\"type\":\"TypeError\""));
	assert_non_null(strstr(json, "\"task_id\":0,\"task_name\":null,"
				     "\"spawn_site\":null}"));
	tg_error_to_json(g, json, sizeof(json));
	assert_non_null(strstr(json, "\"leaf_count\":32,\"lost_count\":6,"
				     "\"children\":["));
	tg_error_decref(g);
}

/* A released stand-in's names carry over to the one that releases it. */
static void
test_error_lost_names_carry_over(void **state)
{
	tg_error *inner_kids[33], *outer_kids[32], *inner, *g;
	size_t n, i;
	const tg__lost *named;

	(void)state;
	for (i = 0; i < 32; i++)
		inner_kids[i] = leaf(&tg_OSError, "kept");
	inner_kids[32] = task_leaf(&tg_ValueError, 77, "deep");
	inner = oom_group("inner", 33, inner_kids);
	for (i = 0; i < 31; i++)
		outer_kids[i] = leaf(&tg_OSError, "kept");
	outer_kids[31] = inner;
	g = oom_group("outer", 32, outer_kids);
	/* inner stood for 33: 31 kept and 2 it counted. */
	assert_int_equal(tg_error_lost_count(g), 33);
	named = tg__error_lost_named(marker_of(g), &n);
	assert_non_null(named);
	/* The first errors of inner, in order: its kept OSErrors. */
	assert_int_equal(n, TG__LOST_NAMED);
	assert_ptr_equal(named[0].type, &tg_OSError);
	assert_ptr_equal(named[3].type, &tg_OSError);
	tg_error_decref(g);
	/* A released stand-in with no kept error of its own among the
	 * first leaves passes its names on. */
	for (i = 0; i < 32; i++)
		inner_kids[i] = tg_error_oom();
	inner_kids[32] = task_leaf(&tg_ValueError, 77, "deep");
	inner = oom_group("inner", 33, inner_kids);
	for (i = 0; i < 31; i++)
		outer_kids[i] = leaf(&tg_OSError, "kept");
	outer_kids[31] = inner;
	g = oom_group("outer", 32, outer_kids);
	assert_int_equal(tg_error_lost_count(g), 33);
	named = tg__error_lost_named(marker_of(g), &n);
	assert_int_equal(n, 1);
	assert_int_equal(named[0].task_id, 77);
	assert_string_equal(named[0].task_name, "deep");
	tg_error_decref(g);
}

/* ------------------------------------------------------------------ */
/* The reserve's slots                                                  */

static void
hold_slots(tg_error **held, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		tg_error *k[1] = { leaf(&tg_ValueError, "held") };

		held[i] = oom_group("held", 1, k);
		assert_int_equal(tg_error_count(held[i]), 2);
	}
}

static void
release_slots(tg_error **held, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tg_error_decref(held[i]);
}

/* With every slot in use, a stand-in nobody else holds takes the other
 * children in, and counts what does not fit. */
static void
test_error_lost_full_reserve_folds_into_a_private_stand_in(void **state)
{
	tg_error *held[SLOTS - 1], *kids[40], *s, *g;
	size_t i;

	(void)state;
	hold_slots(held, SLOTS - 1);
	for (i = 0; i < 2; i++)
		kids[i] = leaf(&tg_ValueError, "in s");
	s = oom_group("s", 2, kids); /* the last slot */
	assert_int_equal(tg_error_count(s), 3);
	kids[0] = leaf(&tg_ValueError, "sibling");
	kids[1] = s;
	kids[2] = leaf(&tg_Interrupt, "ctrl-c");
	g = oom_group("join", 3, kids);
	assert_ptr_equal(g, s);
	/* s's two, the Interrupt first of the others, then the sibling,
	 * then the marker. */
	assert_int_equal(tg_error_count(g), 5);
	assert_true(tg_error_is(tg_error_child(g, 2), &tg_Interrupt));
	assert_true(tg_error_is(tg_error_child(g, 3), &tg_ValueError));
	assert_ptr_equal(tg_error_type_of(g), &tg_BaseExceptionGroup);
	assert_int_equal(tg_error_lost_count(g), 0);
	assert_accounts_for(g, 4);
	/* Full: the rest is counted on its marker. */
	for (i = 0; i < 30; i++)
		kids[i] = leaf(&tg_OSError, "more");
	kids[30] = g;
	g = oom_group("join", 31, kids);
	assert_ptr_equal(g, s);
	assert_int_equal(tg_error_count(g), 32);
	assert_int_equal(tg_error_lost_count(g), 3);
	assert_accounts_for(g, 34);
	assert_string_equal(tg_error_message(g),
			    "s [out of memory: 3 more errors released]");
	assert_string_equal(tg_error_message(marker_of(g)),
			    "out of memory: 3 errors lost");
	tg_error_decref(g);
	release_slots(held, SLOTS - 1);
	assert_int_equal(test_alloc_live, 0);
}

/* A shared stand-in is not changed: the children are released, counted
 * outside any tree, and the MemoryError stands for one. */
static void
test_error_lost_full_reserve_counts_untracked(void **state)
{
	tg_error *held[SLOTS], *kids[3], *g;
	uint64_t before;

	(void)state;
	hold_slots(held, SLOTS);
	kids[0] = tg_error_incref(held[0]); /* shared: not folded into */
	kids[1] = leaf(&tg_ValueError, "a");
	kids[2] = group("two", 2, leaf(&tg_ValueError, "b"),
			leaf(&tg_ValueError, "c"));
	before = tg_error_lost_untracked();
	g = oom_group("join", 3, kids);
	assert_ptr_equal(g, tg_error_oom());
	/* 1 (held[0]'s ValueError) + 1 + 2 released; the MemoryError
	 * stands for one of them. */
	assert_int_equal(tg_error_lost_untracked() - before, 3);
	/* A misuse report with every slot in use: its attached error too. */
	before = tg_error_lost_untracked();
	test_alloc_fail_all = 1;
	g = tg__error_usage(TG_EINVAL, leaf(&tg_ValueError, "handed"), "x");
	test_alloc_fail_all = 0;
	assert_ptr_equal(g, tg_error_oom());
	assert_int_equal(tg_error_lost_untracked() - before, 1);
	release_slots(held, SLOTS);
	assert_int_equal(test_alloc_live, 0);
}

/* The marker is a leaf: split shares it, so it can outlive its group;
 * the slot is free only when both are gone. */
static void
test_error_lost_marker_outlives_its_group(void **state)
{
	tg_error *held[SLOTS], *kids[1], *g, *m, *r, *lone;

	(void)state;
	kids[0] = leaf(&tg_ValueError, "v");
	g = oom_group("g", 1, kids);
	assert_int_equal(tg_error_split(g, &tg_MemoryError, &m, &r), TG_OK);
	assert_ptr_equal(tg_error_child(m, 0), marker_of(g));
	tg_error_decref(g);
	tg_error_decref(r);
	/* m (a heap group) holds the marker: its slot is still taken. */
	hold_slots(held, SLOTS - 1);
	kids[0] = leaf(&tg_ValueError, "lone");
	lone = kids[0];
	g = oom_group("g", 1, kids);
	assert_ptr_equal(g, lone); /* no slot: a single child as it is */
	tg_error_decref(g);
	assert_string_equal(tg_error_message(tg_error_child(m, 0)),
			    "out of memory");
	tg_error_decref(m); /* now the slot is free */
	kids[0] = leaf(&tg_ValueError, "v");
	g = oom_group("g", 1, kids);
	assert_int_equal(tg_error_count(g), 2);
	tg_error_decref(g);
	release_slots(held, SLOTS - 1);
	assert_int_equal(test_alloc_live, 0);
}

/* ------------------------------------------------------------------ */
/* Counts through split and copies                                      */

static void
test_error_lost_split_and_copy_keep_counts(void **state)
{
	tg_error *kids[35], *g, *m, *r, *copy;
	size_t i;

	(void)state;
	for (i = 0; i < 35; i++)
		kids[i] = leaf(i % 2 ? &tg_ValueError : &tg_TypeError, "x");
	g = oom_group("g", 35, kids);
	assert_accounts_for(g, 35);
	assert_int_equal(tg_error_split(g, &tg_ValueError, &m, &r), TG_OK);
	assert_int_equal(tg_error_kept_count(m) + tg_error_kept_count(r),
			 tg_error_kept_count(g));
	/* MemoryError is no ValueError: the marker went to rest. */
	assert_int_equal(tg_error_lost_count(m), 0);
	assert_int_equal(tg_error_lost_count(r), 4);
	tg_error_decref(m);
	tg_error_decref(r);
	/* A noted copy of the marker keeps its count, not its names. */
	copy = tg_error_with_note(tg_error_incref((tg_error *)marker_of(g)),
				  "noted");
	assert_ptr_not_equal(copy, marker_of(g));
	assert_int_equal(tg_error_lost_count(copy), 4);
	assert_int_equal(tg_error_kept_count(copy), 0);
	{
		size_t n;

		assert_null(tg__error_lost_named(copy, &n));
		assert_int_equal(n, 0);
	}
	tg_error_decref(copy);
	/* And of the preallocated one. */
	copy = tg_error_with_note(tg_error_oom(), "noted");
	assert_int_equal(tg_error_lost_count(copy), 1);
	assert_int_equal(tg_error_kept_count(copy), 0);
	tg_error_decref(copy);
	tg_error_decref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, test_alloc_setup, test_alloc_teardown)
		T(test_error_lost_counts_of_plain_errors),
		T(test_error_lost_stand_in_counts_released_errors),
		T(test_error_lost_one_error_singular),
		T(test_error_lost_names_in_text),
		T(test_error_lost_names_in_json),
		T(test_error_lost_names_carry_over),
		T(test_error_lost_full_reserve_folds_into_a_private_stand_in),
		T(test_error_lost_full_reserve_counts_untracked),
		T(test_error_lost_marker_outlives_its_group),
		T(test_error_lost_split_and_copy_keep_counts),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
