/*
 * test_except_star.h - what the except* statement's test programs
 * (test_except_star.c, test_except_star_raise.c, test_except_star_more.c)
 * share: a counting allocator that fails at one point or from one point
 * on (set as the library's allocator by the fixtures), trees and their
 * shape() strings, CPython's assertMetadataEqual, and the split cases'
 * driver.  Include it once per test program (it defines static state).
 *
 * Trees are compared through shape(): a leaf is "Type:message", a group
 * "message[child,child]" ("!" after the message for a
 * BaseExceptionGroup), so CPython's template
 * ExceptionGroup("", [TypeError(3), ExceptionGroup("eg", [ValueError(1)])])
 * reads "[TypeError:3,eg[ValueError:1]]".
 *
 * CPython's "named" and "unnamed" forms of a case (except* T as e, and
 * except* T with sys.exception()) are the macro form
 * (TG_EXCEPT_STAR_CLAUSE) and the plain function form
 * (tg_except_star_clause / tg_except_star_clause_end) here.
 */
#ifndef TG_TEST_EXCEPT_STAR_H
#define TG_TEST_EXCEPT_STAR_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tree.h"

#include "taskgroup/error.h"

#include "error_internal.h"

/* ------------------------------------------------------------------ */
/* A counting allocator that fails from a point on (or at one point)    */

static long xs_live, xs_calls, xs_fail_at = -1, xs_fail_from = -1;

static inline int
xs_fail(void)
{
	long n = xs_calls++;

	return n == xs_fail_at || (xs_fail_from >= 0 && n >= xs_fail_from);
}

static inline void *
xs_malloc(size_t n)
{
	void *p = xs_fail() ? NULL : malloc(n);

	xs_live += p != NULL;
	return p;
}

static inline void *
xs_calloc(size_t c, size_t n)
{
	void *p = xs_fail() ? NULL : calloc(c, n);

	xs_live += p != NULL;
	return p;
}

static inline void *
xs_realloc(void *old, size_t n)
{
	void *p = xs_fail() ? NULL : realloc(old, n);

	xs_live += p != NULL && old == NULL;
	return p;
}

static inline void
xs_free(void *p)
{
	xs_live -= p != NULL;
	free(p);
}

static const tg_allocator xs_allocator = { xs_malloc, xs_calloc, xs_realloc,
					   xs_free };

static inline void
disarm(void)
{
	xs_fail_at = xs_fail_from = -1;
}

static inline int
setup(void **state)
{
	(void)state;
	xs_live = xs_calls = 0;
	disarm();
	return tg_set_allocator(&xs_allocator) == TG_OK ? 0 : -1;
}

static inline int
teardown(void **state)
{
	(void)state;
	disarm();
	if (xs_live != 0) {
		fprintf(stderr, "leaked %ld blocks\n", xs_live);
		return -1;
	}
	return tg_reset_allocator();
}

/* ------------------------------------------------------------------ */
/* Trees                                                                */

TG_DEFINE_ERROR_TYPE(t_SyntaxError, "SyntaxError", &tg_Exception);
TG_DEFINE_ERROR_TYPE(t_Bad, "Bad", &tg_ValueError);

static inline tg_error *
leaf(const tg_error_type *t, const char *msg)
{
	return TG_RAISE(t, "%s", msg);
}

static inline void
shape_into(const tg_error *e, char *out, size_t len)
{
	size_t i, used = strlen(out);

	if (e == NULL) {
		snprintf(out + used, len - used, "NULL");
		return;
	}
	if (!tg_error_is_group(e)) {
		snprintf(out + used, len - used, "%s:%s",
			 tg_error_type_of(e)->name, tg_error_message(e));
		return;
	}
	snprintf(out + used, len - used, "%s%s[", tg_error_message(e),
		 tg_error_type_of(e) == &tg_BaseExceptionGroup ? "!" : "");
	for (i = 0; i < tg_error_count(e); i++) {
		if (i > 0)
			strncat(out, ",", len - strlen(out) - 1);
		shape_into(tg_error_child(e, i), out, len);
	}
	strncat(out, "]", len - strlen(out) - 1);
}

static inline const char *
shape(const tg_error *e)
{
	static char buf[8][1024];
	static int next;
	char *out = buf[next++ % 8];

	out[0] = '\0';
	shape_into(e, out, sizeof(buf[0]));
	return out;
}

/* CPython's assertMetadataEqual: the same cause and context (and, here,
 * the same notes and code) as orig. */
static inline void
assert_metadata_equal(const tg_error *orig, const tg_error *e)
{
	size_t i;

	assert_non_null(e);
	assert_ptr_equal(tg_error_cause(e), tg_error_cause(orig));
	assert_ptr_equal(tg_error_context(e), tg_error_context(orig));
	assert_int_equal(tg_error_code(e), tg_error_code(orig));
	assert_int_equal(tg_error_note_count(e), tg_error_note_count(orig));
	for (i = 0; i < tg_error_note_count(e); i++)
		assert_string_equal(tg_error_note(e, i), tg_error_note(orig, i));
}

/* An original with metadata to check: a cause and a note. */
static inline tg_error *
with_metadata(tg_error *eg)
{
	assert_int_equal(tg_error_set_cause(eg, leaf(&tg_RuntimeError, "cause")),
			 TG_OK);
	assert_int_equal(tg_error_add_note(eg, "orig note"), TG_OK);
	return eg;
}

static const tg_error_type *const T_TYPE[] = { &tg_TypeError };
static const tg_error_type *const T_VALUE[] = { &tg_ValueError };
static const tg_error_type *const T_OS[] = { &tg_OSError };


/* except* 42 and except* (ValueError, 42): in C, what is not a type is
 * NULL; a type derived from a group type is a group type too. */
TG_DEFINE_ERROR_TYPE(t_MyEG, "MyEG", &tg_ExceptionGroup);

static inline tg_error *
eg_tvo(void)
{
	return group("eg", 3, leaf(&tg_TypeError, "1"),
		     leaf(&tg_ValueError, "2"), leaf(&tg_OSError, "3"));
}

/* doSplitTestNamed / doSplitTestUnnamed: except* types as e: the match
 * the clause sees and what propagates. */
static inline void
split_named(tg_error *exc, const tg_error_type *t, const char *match_shape,
	    const char *rest_shape)
{
	tg_error *match = NULL, *rest;
	int ran = 0;

	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(exc));
	TG_EXCEPT_STAR_CLAUSE(&st, e, t)
	{
		ran++;
		match = tg_error_incref(e);
	}
	rest = tg_except_star_end(&st);
	assert_int_equal(ran, match_shape != NULL);
	assert_string_equal(shape(match), match_shape ? match_shape : "NULL");
	assert_string_equal(shape(rest), rest_shape ? rest_shape : "NULL");
	tg_error_decref(match);
	tg_error_decref(rest);
}

static inline void
split_unnamed(tg_error *exc, const tg_error_type *const *types, size_t n,
	      const char *match_shape, const char *rest_shape)
{
	tg_error *match = NULL, *rest, *e;
	tg_except_star st;

	assert_int_equal(tg_except_star_begin(&st, tg_error_incref(exc)), TG_OK);
	if ((e = tg_except_star_clause(&st, types, n)) != NULL) {
		match = tg_error_incref(e);
		tg_except_star_clause_end(&st);
	}
	rest = tg_except_star_end(&st);
	assert_string_equal(shape(match), match_shape ? match_shape : "NULL");
	assert_string_equal(shape(rest), rest_shape ? rest_shape : "NULL");
	tg_error_decref(match);
	tg_error_decref(rest);
}

/* doSplitTest: both forms, on their own, inside an except* handler and
 * inside a clause of another statement.  Consumes exc. */
static inline void
split_case(tg_error *exc, const tg_error_type *t, const char *match_shape,
	   const char *rest_shape)
{
	const tg_error_type *const types[] = { t };

	split_named(exc, t, match_shape, rest_shape);
	split_unnamed(exc, types, 1, match_shape, rest_shape);
	{
		TG_EXCEPT_STAR_BEGIN(outer,
				     group("eg", 2, leaf(&tg_TypeError, "1"),
					   leaf(&tg_ValueError, "2")));
		TG_EXCEPT_STAR_CLAUSE(&outer, e, &tg_Exception)
		{
			split_named(exc, t, match_shape, rest_shape);
			split_unnamed(exc, types, 1, match_shape, rest_shape);
		}
		assert_null(tg_except_star_end(&outer));
	}
	tg_error_decref(exc);
}


#endif /* TG_TEST_EXCEPT_STAR_H */
