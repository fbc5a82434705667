/*
 * test_except_star_leaks.c - leaving except* clauses and statements
 * early (break, continue, return, goto) leaks nothing.
 *
 * The library's allocator is routed to malloc for the whole program: a
 * tg_allocator of thin wrappers around malloc (tg_set_allocator; any
 * allocator other than the C library's own four functions turns the
 * error slabs off, so every error block is a malloc block of its own).
 * With the default allocator an error that leaked would sit in a slab
 * the library still reaches, and LeakSanitizer would not see it.  Each
 * test then checks two things:
 *  - the wrappers' count of live blocks is back where it started (every
 *    build);
 *  - under AddressSanitizer, __lsan_do_recoverable_leak_check() finds
 *    nothing (the first test makes sure it would: a block hidden from it
 *    on purpose is reported, then freed).
 *
 * Built twice (tests/CMakeLists.txt): as is, where TG_AUTO_CLEANUP is 1
 * and the macros' cleanups do the releasing, and as
 * test_except_star_leaks_c11 with -DTG_NO_AUTO_CLEANUP, where the tests
 * make the releases error.h documents for plain C11 (#if !TG_AUTO_CLEANUP
 * below) before each early exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_tree.h"

#include "taskgroup/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_LSAN 1
#endif
#endif

#ifdef TEST_LSAN
#include <sanitizer/lsan_interface.h>

/* Leak detection on unless ASAN_OPTIONS says otherwise. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=1";
}
#endif

/* ------------------------------------------------------------------ */
/* The allocator: malloc, counted                                       */

static long live;

static void *
count_malloc(size_t n)
{
	void *p = malloc(n);

	live += p != NULL;
	return p;
}

static void *
count_calloc(size_t c, size_t n)
{
	void *p = calloc(c, n);

	live += p != NULL;
	return p;
}

static void *
count_realloc(void *old, size_t n)
{
	void *p = realloc(old, n);

	live += p != NULL && old == NULL;
	return p;
}

static void
count_free(void *p)
{
	live -= p != NULL;
	free(p);
}

static const tg_allocator to_malloc = { count_malloc, count_calloc,
					 count_realloc, count_free };

static long live_before;
static int lsan_active = -1; /* unknown until the canary ran */

static int
setup(void **state)
{
	(void)state;
	live_before = live;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (live != live_before) {
		fprintf(stderr, "%ld blocks leaked\n", live - live_before);
		return -1;
	}
#ifdef TEST_LSAN
	if (lsan_active == 1 && __lsan_do_recoverable_leak_check() != 0) {
		fprintf(stderr, "LeakSanitizer found a leak\n");
		return -1;
	}
#endif
	return 0;
}

static tg_error *
leaf(const tg_error_type *t, const char *msg)
{
	return TG_RAISE(t, "%s", msg);
}

static tg_error *
three(void)
{
	return group("eg", 3, leaf(&tg_TypeError, "1"),
		     leaf(&tg_ValueError, "2"), leaf(&tg_OSError, "3"));
}

/* ------------------------------------------------------------------ */
/* The canary: LeakSanitizer is on and sees what this program leaks     */

#ifdef TEST_LSAN
static volatile uintptr_t hidden;

static __attribute__((noinline)) void
leak_one(void)
{
	hidden = ~(uintptr_t)leaf(&tg_RuntimeError, "canary");
}

static __attribute__((noinline)) void
scrub_stack(void)
{
	volatile char junk[4096];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = 0;
}
#endif

static void
test_leaks_lsan_sees_a_leak(void **state)
{
	(void)state;
#ifdef TEST_LSAN
	leak_one();
	scrub_stack();
	print_message("a leak report for a RuntimeError \"canary\" may "
		      "follow: it is this test's, on purpose\n");
	lsan_active = __lsan_do_recoverable_leak_check() != 0;
	tg_error_decref((tg_error *)~hidden);
	if (!lsan_active)
		skip(); /* detect_leaks=0: the live counts still check */
#else
	lsan_active = 0;
	skip(); /* not an ASan build: the live counts check */
#endif
}

/* ------------------------------------------------------------------ */
/* The statement                                                        */

/* return from inside a clause, the statement not ended. */
static int
return_from_clause(tg_error *err, int when)
{
	TG_EXCEPT_STAR_BEGIN(st, err);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError)
	{
		tg_except_star_reraise(&st);
		if (when == 0) {
#if !TG_AUTO_CLEANUP
			tg_except_star_release(&st);
#endif
			return -1;
		}
	}
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ValueError)
	{
		tg_except_star_raise(&st, leaf(&tg_RuntimeError, "r"));
		if (when == 1) {
#if !TG_AUTO_CLEANUP
			tg_except_star_release(&st);
#endif
			return -2;
		}
	}
	/* between clauses */
	if (when == 2) {
#if !TG_AUTO_CLEANUP
		tg_except_star_release(&st);
#endif
		return -3;
	}
	tg_error_decref(tg_except_star_end(&st));
	return 0;
}

static void
test_leaks_return_from_a_clause(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		assert_int_equal(return_from_clause(three(), 0), -1);
		assert_int_equal(return_from_clause(three(), 1), -2);
		assert_int_equal(return_from_clause(three(), 2), -3);
		assert_int_equal(return_from_clause(three(), 3), 0);
		/* a naked error, wrapped for the clause */
		assert_int_equal(return_from_clause(leaf(&tg_TypeError, "n"),
						    0),
				 -1);
	}
}

/* return tg_except_star_end(&st) from inside a clause: the result is
 * the caller's, nothing else stays behind (no release needed). */
static tg_error *
end_from_clause(tg_error *err)
{
	TG_EXCEPT_STAR_BEGIN(st, err);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ValueError)
	{
		tg_except_star_raise_from(&st, leaf(&tg_RuntimeError, "new"),
					  tg_error_incref(eg));
		return tg_except_star_end(&st);
	}
	return tg_except_star_end(&st);
}

static void
test_leaks_return_end_from_a_clause(void **state)
{
	tg_error *r;

	(void)state;
	r = end_from_clause(three());
	assert_int_equal(tg_error_count(r), 2);
	assert_true(tg_error_is(tg_error_child(r, 0), &tg_RuntimeError));
	tg_error_decref(r);
}

/* goto out of the statement's scope. */
static void
test_leaks_goto_out_of_a_clause(void **state)
{
	int i, gone = 0;

	(void)state;
	for (i = 0; i < 10; i++) {
		{
			TG_EXCEPT_STAR_BEGIN(st, three());
			TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_OSError)
			{
				tg_except_star_raise(
					&st, leaf(&tg_RuntimeError, "r"));
#if !TG_AUTO_CLEANUP
				tg_except_star_release(&st);
#endif
				goto out;
			}
			tg_error_decref(tg_except_star_end(&st));
		}
	out:
		gone++;
	}
	assert_int_equal(gone, 10);
}

/* break and continue end the clause; the statement goes on and nothing
 * is lost: the clause's outcome so far stands (no release in any build). */
static void
test_leaks_break_and_continue_in_a_clause(void **state)
{
	tg_error *r;
	int after = 0;

	(void)state;
	{
		TG_EXCEPT_STAR_BEGIN(st, three());
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError)
		{
			tg_except_star_reraise(&st);
			break;
			after++; /* not reached */
		}
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ValueError)
		{
			tg_except_star_raise(&st, leaf(&tg_RuntimeError, "r"));
			continue;
		}
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_OSError)
		{
			if (eg != NULL)
				break; /* handled */
		}
		r = tg_except_star_end(&st);
	}
	assert_int_equal(after, 0);
	/* [RuntimeError:r, eg[TypeError:1]] */
	assert_int_equal(tg_error_count(r), 2);
	assert_true(tg_error_is(tg_error_child(r, 0), &tg_RuntimeError));
	assert_int_equal(tg_error_leaf_count(tg_error_child(r, 1)), 1);
	tg_error_decref(r);
}

/* A statement in a loop body whose clause wants to leave the loop: break
 * in the clause ends the clause only; the loop is left after end. */
static void
test_leaks_break_out_of_a_loop_around_the_statement(void **state)
{
	int i, rounds = 0;

	(void)state;
	for (i = 0; i < 100; i++) {
		bool stop = false;

		rounds++;
		TG_EXCEPT_STAR_BEGIN(st, three());
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_Exception)
		{
			stop = i == 5;
			break;
		}
		assert_null(tg_except_star_end(&st));
		if (stop)
			break;
	}
	assert_int_equal(rounds, 6);
}

/* return from a clause of a statement nested in a clause of another. */
static int
nested_return(void)
{
	TG_EXCEPT_STAR_BEGIN(outer, three());
	TG_EXCEPT_STAR_CLAUSE(&outer, eg, &tg_ValueError)
	{
		TG_EXCEPT_STAR_BEGIN(inner,
				     group("in", 2, leaf(&tg_OSError, "a"),
					   leaf(&tg_TypeError, "b")));
		TG_EXCEPT_STAR_CLAUSE(&inner, e2, &tg_OSError)
		{
			tg_except_star_raise(&inner,
					     leaf(&tg_RuntimeError, "x"));
#if !TG_AUTO_CLEANUP
			tg_except_star_release(&inner);
			tg_except_star_release(&outer);
#endif
			return 1;
		}
		tg_error_decref(tg_except_star_end(&inner));
	}
	tg_error_decref(tg_except_star_end(&outer));
	return 0;
}

static void
test_leaks_return_from_nested_statements(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(nested_return(), 1);
}

/* A statement that fails (a group type in a clause) and is then left. */
static int
failed_then_return(void)
{
	TG_EXCEPT_STAR_BEGIN(st, three());
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError)
	{
		tg_except_star_raise(&st, leaf(&tg_RuntimeError, "r"));
	}
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ExceptionGroup)
	{
		return 2; /* never runs */
	}
#if !TG_AUTO_CLEANUP
	tg_except_star_release(&st);
#endif
	return 1;
}

static void
test_leaks_failed_statement_left(void **state)
{
	(void)state;
	assert_int_equal(failed_then_return(), 1);
}

/* ------------------------------------------------------------------ */
/* The single clause, TG_EXCEPT_STAR                                    */

static int
old_clause_exits(tg_error **errp, int how)
{
	int i;

	for (i = 0; i < 3; i++) {
		TG_EXCEPT_STAR(errp, &tg_TypeError, eg)
		{
			if (how == 0) {
#if !TG_AUTO_CLEANUP
				tg_error_decref(eg);
#endif
				break;
			}
			if (how == 1) {
#if !TG_AUTO_CLEANUP
				tg_error_decref(eg);
#endif
				return 1;
			}
#if !TG_AUTO_CLEANUP
			tg_error_decref(eg);
#endif
			goto out;
		}
	}
	return 0;
out:
	return 2;
}

static void
test_leaks_old_macro_break_return_goto(void **state)
{
	int how;

	(void)state;
	for (how = 0; how < 3; how++) {
		tg_error *err = three();

		assert_int_equal(old_clause_exits(&err, how),
				 how == 0 ? 0 : how);
		/* TypeError handled, the rest left */
		assert_int_equal(tg_error_leaf_count(err), 2);
		tg_error_decref(err);
	}
}

static void
test_leaks_auto_cleanup_setting(void **state)
{
	(void)state;
#if defined(TG_NO_AUTO_CLEANUP)
	assert_int_equal(TG_AUTO_CLEANUP, 0);
#elif defined(__GNUC__) || defined(__clang__)
	assert_int_equal(TG_AUTO_CLEANUP, 1);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_leaks_lsan_sees_a_leak),
		T(test_leaks_auto_cleanup_setting),
		T(test_leaks_return_from_a_clause),
		T(test_leaks_return_end_from_a_clause),
		T(test_leaks_goto_out_of_a_clause),
		T(test_leaks_break_and_continue_in_a_clause),
		T(test_leaks_break_out_of_a_loop_around_the_statement),
		T(test_leaks_return_from_nested_statements),
		T(test_leaks_failed_statement_left),
		T(test_leaks_old_macro_break_return_goto),
#undef T
	};
	int rc;

	if (tg_set_allocator(&to_malloc) != TG_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tg_reset_allocator();
	return rc;
}
