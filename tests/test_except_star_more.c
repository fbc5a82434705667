/*
 * test_except_star_more.c - the except* statement beyond CPython's
 * cases: leaves told apart by identity, a leaf twice in a tree, raising
 * eg itself, the context rules, several outcomes in one clause, misuse,
 * more clauses than the statement holds inline, the single clause
 * (TG_EXCEPT_STAR) beside it, a 10^5-level tree on a 64 KiB stack, and
 * every allocation failing in turn (once, and from then on).  Helpers:
 * test_except_star.h.
 */
#include "test_except_star.h"

/* ------------------------------------------------------------------ */
/* Beyond CPython's cases                                               */

/* Leaves are told apart by identity, not by type and message: a and b
 * print alike (b's type is a ValueError subtype printed "ValueError"),
 * the clause on b's type handles b, and a is what is left. */
TG_DEFINE_ERROR_TYPE(t_ValueError2, "ValueError", &tg_ValueError);

static void
test_except_star_reraise_by_identity(void **state)
{
	tg_error *a = leaf(&tg_ValueError, "same");
	tg_error *b = leaf(&t_ValueError2, "same");
	tg_error *orig = group("eg", 3, tg_error_incref(b),
			       leaf(&tg_TypeError, "t"), tg_error_incref(a));
	const tg_error_type *const only_b[] = { &t_ValueError2 };
	tg_except_star st;
	tg_error *exc;

	(void)state;
	tg_except_star_begin(&st, tg_error_incref(orig));
	assert_non_null(tg_except_star_clause(&st, T_TYPE, 1));
	tg_except_star_reraise(&st);
	assert_string_equal(shape(tg_except_star_clause(&st, only_b, 1)),
			    "eg[ValueError:same]");
	/* b handled, a left, t re-raised */
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:t,ValueError:same]");
	assert_ptr_equal(tg_error_child(exc, 1), a);
	tg_error_decref(exc);
	tg_error_decref(orig);
	tg_error_decref(a);
	tg_error_decref(b);
}

/* The same leaf twice in a tree: kept or handled together, as CPython's
 * set of ids does. */
static void
test_except_star_shared_leaf_twice(void **state)
{
	tg_error *x = leaf(&tg_ValueError, "x");
	tg_error *orig = group("eg", 4, tg_error_incref(x),
			       leaf(&tg_TypeError, "t"),
			       group("in", 2, tg_error_incref(x),
				     leaf(&tg_OSError, "o")),
			       leaf(&tg_RuntimeError, "r"));
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		assert_string_equal(shape(e), "eg[ValueError:x,in[ValueError:x]]");
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError, &tg_TypeError)
	{
		(void)e;
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "eg[ValueError:x,in[ValueError:x],RuntimeError:r]");
	assert_ptr_equal(tg_error_child(exc, 0), x);
	assert_ptr_equal(tg_error_child(tg_error_child(exc, 1), 0), x);
	tg_error_decref(exc);
	tg_error_decref(orig);
	tg_error_decref(x);
}

/* Python's raise e (the clause's own eg): a new raise, so it is grouped
 * with the rest, not merged back. */
static void
test_except_star_raise_eg_itself(void **state)
{
	tg_error *exc, *seen = NULL;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 2, leaf(&tg_ValueError, "1"),
				       leaf(&tg_TypeError, "2")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		seen = e;
		assert_int_equal(tg_except_star_raise(&st, tg_error_incref(e)),
				 TG_OK);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "[eg[ValueError:1],eg[TypeError:2]]");
	assert_ptr_equal(tg_error_child(exc, 0), seen);
	assert_null(tg_error_context(seen)); /* not its own context */
	tg_error_decref(exc);
}

/* A raised error that is shared, or already has a context, keeps what
 * it has; a fatal raised error makes the new group a
 * BaseExceptionGroup. */
static void
test_except_star_raise_context_rules(void **state)
{
	tg_error *shared = leaf(&tg_RuntimeError, "shared");
	tg_error *had = leaf(&tg_RuntimeError, "had");
	tg_error *prior = leaf(&tg_OSError, "prior");
	tg_error *exc;

	(void)state;
	tg__error_set_context(had, tg_error_incref(prior));
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 3, leaf(&tg_ValueError, "1"),
				       leaf(&tg_TypeError, "2"),
				       leaf(&tg_OSError, "3")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_raise(&st, tg_error_incref(shared));
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		tg_except_star_raise(&st, had);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		tg_except_star_raise(&st, leaf(&tg_Interrupt, "^C"));
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "!"
			    "[RuntimeError:shared,RuntimeError:had,Interrupt:^C]");
	assert_null(tg_error_context(shared));
	assert_ptr_equal(tg_error_context(tg_error_child(exc, 1)), prior);
	assert_string_equal(shape(tg_error_context(tg_error_child(exc, 2))),
			    "eg[OSError:3]");
	tg_error_decref(exc);
	tg_error_decref(shared);
	tg_error_decref(prior);
}

/* A clause may raise and re-raise, and raise several errors (Python's
 * clause raises once): all are kept, raised ones first. */
static void
test_except_star_raise_and_reraise_in_one_clause(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 2, leaf(&tg_ValueError, "1"),
				       leaf(&tg_TypeError, "2")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_raise(&st, leaf(&tg_RuntimeError, "a"));
		tg_except_star_reraise(&st);
		tg_except_star_reraise(&st);
		tg_except_star_raise(&st, leaf(&tg_RuntimeError, "b"));
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(
		shape(exc),
		"[RuntimeError:a,RuntimeError:b,eg[ValueError:1,TypeError:2]]");
	tg_error_decref(exc);
}

/* Outcomes outside a clause, NULL arguments, end and release twice. */
static void
test_except_star_misuse(void **state)
{
	tg_except_star st;
	tg_error *e;

	(void)state;
	assert_int_equal(tg_except_star_begin(NULL, NULL), TG_EINVAL);
	assert_null(tg_except_star_clause(NULL, T_TYPE, 1));
	assert_null(tg_except_star_clause_end(NULL));
	assert_int_equal(tg_except_star_reraise(NULL), TG_EINVAL);
	assert_int_equal(tg_except_star_raise(NULL, NULL), TG_EINVAL);
	assert_int_equal(tg_except_star_raise(NULL, leaf(&tg_ValueError, "x")),
			 TG_EINVAL);
	assert_int_equal(tg_except_star_raise_from(NULL, NULL,
						   leaf(&tg_ValueError, "c")),
			 TG_EINVAL);
	assert_null(tg_except_star_end(NULL));
	tg_except_star_release(NULL);

	tg_except_star_begin(&st, group("eg", 2, leaf(&tg_ValueError, "1"),
					leaf(&tg_TypeError, "2")));
	/* no clause running */
	assert_int_equal(tg_except_star_reraise(&st), TG_ESTATE);
	assert_int_equal(tg_except_star_raise(&st, leaf(&tg_ValueError, "x")),
			 TG_ESTATE);
	e = tg_except_star_clause(&st, T_VALUE, 1);
	assert_non_null(e);
	assert_int_equal(tg_except_star_raise(&st, NULL), TG_EINVAL);
	/* a cause that would make a cycle: raised without it */
	{
		tg_error *n = leaf(&tg_RuntimeError, "n");

		assert_int_equal(tg_except_star_raise_from(&st, n,
							   tg_error_incref(n)),
				 TG_EINVAL);
	}
	tg_except_star_clause_end(&st);
	assert_int_equal(tg_except_star_reraise(&st), TG_ESTATE);
	e = tg_except_star_end(&st);
	assert_string_equal(shape(e), "[RuntimeError:n,eg[TypeError:2]]");
	tg_error_decref(e);
	assert_null(tg_except_star_end(&st));
	tg_except_star_release(&st);
	assert_null(tg_except_star_clause(&st, T_TYPE, 1));
	assert_int_equal(tg_except_star_reraise(&st), TG_ESTATE);

	/* Nothing to handle. */
	tg_except_star_begin(&st, NULL);
	assert_null(tg_except_star_clause(&st, T_TYPE, 1));
	assert_null(tg_except_star_end(&st));

	/* Abandoned mid-clause: everything released (teardown counts). */
	tg_except_star_begin(&st, group("eg", 2, leaf(&tg_ValueError, "1"),
					leaf(&tg_TypeError, "2")));
	tg_except_star_clause(&st, T_VALUE, 1);
	tg_except_star_raise(&st, leaf(&tg_RuntimeError, "r"));
	tg_except_star_reraise(&st);
	tg_except_star_release(&st);
	tg_except_star_release(&st);
	assert_null(tg_except_star_end(&st));
}

/* More clauses than the statement keeps inline: the lists move to the
 * heap, the result is the same. */
static void
test_except_star_many_clauses(void **state)
{
	static char names[16][16]; /* "K" and any int: no truncation */
	tg_error_type ks[16];
	tg_error *kids[32], *orig, *exc;
	char want[2048] = "[", buf[40];
	tg_except_star st;
	int i;

	(void)state;
	for (i = 0; i < 16; i++) {
		snprintf(names[i], sizeof(names[i]), "K%d", i);
		ks[i] = (tg_error_type){ names[i], &tg_Exception, NULL, 0u };
	}
	for (i = 0; i < 32; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		kids[i] = leaf(&ks[i % 16], buf);
	}
	orig = tg_error_group_new("eg", 32, kids);
	tg_except_star_begin(&st, tg_error_incref(orig));
	for (i = 0; i < 16; i++) {
		const tg_error_type *const t[] = { &ks[i] };
		tg_error *e = tg_except_star_clause(&st, t, 1);

		assert_non_null(e);
		if (i % 2 == 0) {
			tg_except_star_reraise(&st);
		} else {
			snprintf(buf, sizeof(buf), "r%d", i);
			tg_except_star_raise(&st, leaf(&tg_RuntimeError, buf));
			tg_except_star_raise(&st, leaf(&tg_RuntimeError, buf));
		}
	}
	exc = tg_except_star_end(&st);
	for (i = 1; i < 16; i += 2) {
		snprintf(buf, sizeof(buf), "RuntimeError:r%d,", i);
		strcat(want, buf);
		strcat(want, buf);
	}
	strcat(want, "eg[");
	for (i = 0; i < 32; i++) {
		if ((i % 16) % 2 != 0)
			continue;
		snprintf(buf, sizeof(buf), "%sK%d:%d", i ? "," : "", i % 16, i);
		strcat(want, buf);
	}
	strcat(want, "]]");
	assert_string_equal(shape(exc), want);
	tg_error_decref(exc);
	tg_error_decref(orig);
}

/* The old single clause keeps working beside the statement, and a
 * statement can start from what it left. */
static void
test_except_star_old_macro_then_statement(void **state)
{
	tg_error *err = eg_tvo(), *exc;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_TypeError, eg)
	{
		ran++;
		assert_string_equal(shape(eg), "eg[TypeError:1]");
	}
	TG_EXCEPT_STAR(&err, &t_MyEG, eg)
	{
		ran += 100; /* a group type: refused */
	}
	TG_EXCEPT_STAR_BEGIN(st, err);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_OSError)
	{
		tg_except_star_reraise(&st);
	}
	exc = tg_except_star_end(&st);
	assert_int_equal(ran, 1);
	assert_string_equal(shape(exc), "eg[ValueError:2,OSError:3]");
	assert_ptr_equal(exc, err); /* everything it held was kept */
	tg_error_decref(exc);
}

/* Any depth, on a small stack: a chain of 100,000 groups, each with a
 * ValueError beside the next level, TypeError and OSError at the bottom;
 * OSError handled, the rest re-raised by two clauses, so the result is a
 * projection through every level.  Run on a thread with a 64 KiB stack,
 * as test_error_deep does. */
#define DEEP 100000

static void *
deep_run(void *arg)
{
	tg_error *e = group("bottom", 2, leaf(&tg_TypeError, "t"),
			    leaf(&tg_OSError, "o"));
	tg_error *exc, *n;
	size_t depth = 0;
	int i;

	for (i = 0; i < DEEP; i++)
		e = group("g", 2, leaf(&tg_ValueError, "v"), e);
	{
		TG_EXCEPT_STAR_BEGIN(st, e);
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_OSError)
		{
			(void)eg;
		}
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError)
		{
			tg_except_star_reraise(&st);
		}
		TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ValueError)
		{
			tg_except_star_reraise(&st);
		}
		exc = tg_except_star_end(&st);
	}
	for (n = exc; tg_error_count(n) == 2; n = tg_error_child(n, 1))
		depth++;
	*(size_t *)arg = depth;
	/* the bottom group kept only its TypeError */
	if (tg_error_count(n) != 1 ||
	    !tg_error_is(tg_error_child(n, 0), &tg_TypeError) ||
	    tg_error_leaf_count(exc) != DEEP + 1)
		*(size_t *)arg = 0;
	tg_error_decref(exc);
	return NULL;
}

static void
test_except_star_deep_tree_small_stack(void **state)
{
	pthread_attr_t attr;
	pthread_t t;
	size_t depth = 0;

	(void)state;
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
	assert_int_equal(pthread_create(&t, &attr, deep_run, &depth), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&attr);
	assert_int_equal(depth, DEEP);
}

/* ------------------------------------------------------------------ */
/* Out of memory                                                        */

/* A scenario: a statement over an original built before the failures
 * are armed. */
typedef tg_error *(*scenario_fn)(tg_error *orig);

static tg_error *
sc_raise_reraise(tg_error *orig)
{
	TG_EXCEPT_STAR_BEGIN(st, orig);
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "new"),
					  tg_error_incref(e));
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_BlockingIOError)
	{
		tg_except_star_reraise(&st);
	}
	return tg_except_star_end(&st);
}

static tg_error *
sc_many(tg_error *orig)
{
	tg_except_star st;
	int i;

	tg_except_star_begin(&st, orig);
	for (i = 0; i < 9; i++) {
		const tg_error_type *const t[] = { i % 3 == 0   ? &tg_TypeError
						   : i % 3 == 1 ? &tg_ValueError
								: &tg_OSError };

		if (tg_except_star_clause(&st, t, 1) == NULL)
			continue;
		if (i == 2)
			tg_except_star_reraise(&st);
	}
	/* the clauses above each ran at most once; raise from a last one */
	if (tg_except_star_clause(&st, (const tg_error_type *const[]){
					       &tg_RuntimeError }, 1) != NULL) {
		for (i = 0; i < 9; i++)
			tg_except_star_raise(&st, leaf(&t_SyntaxError, "m"));
		tg_except_star_reraise(&st);
	}
	return tg_except_star_end(&st);
}

/* Eight clauses that each re-raise: more kept parts than the statement
 * keeps inline. */
static tg_error *
sc_many_reraise(tg_error *orig)
{
	static const tg_error_type *const types[8] = {
		&tg_TypeError,	       &tg_ValueError,
		&tg_FileExistsError,   &tg_FileNotFoundError,
		&tg_PermissionError,   &tg_TimeoutError,
		&tg_ChildProcessError, &tg_ProcessLookupError
	};
	tg_except_star st;
	int i;

	tg_except_star_begin(&st, orig);
	for (i = 0; i < 8; i++) {
		if (tg_except_star_clause(&st, &types[i], 1) == NULL)
			continue;
		if (i != 3)
			tg_except_star_reraise(&st);
	}
	return tg_except_star_end(&st);
}

static tg_error *
orig_for_many_reraise(void)
{
	return group("top", 4,
		     group("a", 3, leaf(&tg_TypeError, "t"),
			   leaf(&tg_ValueError, "v"),
			   leaf(&tg_FileExistsError, "fe")),
		     group("b", 2, leaf(&tg_FileNotFoundError, "fnf"),
			   leaf(&tg_PermissionError, "p")),
		     group("c", 3, leaf(&tg_TimeoutError, "to"),
			   leaf(&tg_ChildProcessError, "cp"),
			   leaf(&tg_ProcessLookupError, "pl")),
		     leaf(&tg_RuntimeError, "r"));
}

static tg_error *
orig_for_sweep(void)
{
	return group("top", 4, leaf(&tg_TypeError, "t1"),
		     group("mid", 3, leaf(&tg_ValueError, "v1"),
			   leaf(&tg_BlockingIOError, "b1"),
			   leaf(&tg_TypeError, "t2")),
		     leaf(&tg_OSError, "o1"), leaf(&tg_RuntimeError, "r1"));
}

/* A tree's leaves, by address. */
typedef struct leaves {
	const tg_error *v[64];
	size_t n;
} leaves;

static int
collect_leaf(tg_error *leaf_e, void *ctx)
{
	leaves *l = ctx;

	if (l->n < 64)
		l->v[l->n++] = leaf_e;
	return 0;
}

static bool
has_leaf(const leaves *l, const tg_error *e)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == e)
			return true;
	return false;
}

/* Every failure point, once and from then on: nothing leaks, and every
 * leaf of the original that the clean run propagates propagates here too
 * (a clause skipped for want of memory leaves more behind, and raises
 * nothing).  Errors the clauses raise may be the MemoryError, or missing
 * with their clause; nothing is counted as lost unless memory failed. */
static void
sweep(scenario_fn fn, tg_error *orig)
{
	tg_error *clean;
	long degraded = 0;
	char clean_shape[1024];
	leaves in_orig = { { 0 }, 0 }, in_clean = { { 0 }, 0 };
	long total, k, checked = 0;
	size_t i;
	int mode;

	tg_error_foreach_leaf(orig, collect_leaf, &in_orig);
	clean = fn(tg_error_incref(orig));
	assert_non_null(clean);
	assert_int_equal(tg_error_lost_count(clean), 0);
	tg_error_foreach_leaf(clean, collect_leaf, &in_clean);
	strcpy(clean_shape, shape(clean));
	xs_calls = 0;
	tg_error_decref(fn(tg_error_incref(orig)));
	total = xs_calls;
	assert_true(total > 0);
	for (mode = 0; mode < 2; mode++) {
		for (k = 0; k <= total; k++) {
			long live = xs_live;
			leaves in_got = { { 0 }, 0 };
			tg_error *got;

			xs_calls = 0;
			if (mode == 0)
				xs_fail_at = k;
			else
				xs_fail_from = k;
			got = fn(tg_error_incref(orig));
			disarm();
			assert_non_null(got);
			tg_error_foreach_leaf(got, collect_leaf, &in_got);
			for (i = 0; i < in_clean.n; i++)
				if (has_leaf(&in_orig, in_clean.v[i]))
					assert_true(has_leaf(&in_got,
							     in_clean.v[i]));
			/* Only the original's leaves and what the clauses
			 * raise (or MemoryErrors standing for them). */
			for (i = 0; i < in_got.n; i++)
				assert_true(has_leaf(&in_orig, in_got.v[i]) ||
					    tg_error_is(in_got.v[i],
							&t_SyntaxError) ||
					    tg_error_is(in_got.v[i],
							&tg_MemoryError));
			degraded += strcmp(shape(got), clean_shape) != 0;
			tg_error_decref(got);
			assert_int_equal(xs_live, live);
			checked++;
		}
	}
	print_message("%ld failure points checked (%ld allocations), %ld "
		      "results other than the clean one\n",
		      checked, total, degraded);
	tg_error_decref(clean);
	tg_error_decref(orig);
}

static void
test_except_star_oom_sweep_raise_reraise(void **state)
{
	(void)state;
	sweep(sc_raise_reraise, orig_for_sweep());
}

static void
test_except_star_oom_sweep_many(void **state)
{
	(void)state;
	sweep(sc_many, orig_for_sweep());
}

static void
test_except_star_oom_sweep_many_reraise(void **state)
{
	(void)state;
	sweep(sc_many_reraise, orig_for_many_reraise());
}

/* Under exhaustion: the clause is skipped (its errors propagate,
 * unhandled), raising still keeps the error. */
static void
test_except_star_oom_everything_fails(void **state)
{
	tg_error *orig = orig_for_sweep(), *exc;
	int ran = 0;

	(void)state;
	xs_fail_from = 0;
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		ran++;
	}
	exc = tg_except_star_end(&st);
	disarm();
	assert_int_equal(ran, 0);
	assert_ptr_equal(exc, orig);
	tg_error_decref(exc);
	/* A naked error needs its wrapper: no memory, no clause. */
	{
		tg_error *naked = leaf(&tg_ValueError, "n");

		xs_fail_from = 0;
		TG_EXCEPT_STAR_BEGIN(st2, naked);
		TG_EXCEPT_STAR_CLAUSE(&st2, e, &tg_ValueError)
		{
			ran++;
		}
		exc = tg_except_star_end(&st2);
		disarm();
		assert_int_equal(ran, 0);
		assert_ptr_equal(exc, naked);
		tg_error_decref(exc);
	}
	tg_error_decref(orig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_except_star_reraise_by_identity),
		T(test_except_star_shared_leaf_twice),
		T(test_except_star_raise_eg_itself),
		T(test_except_star_raise_context_rules),
		T(test_except_star_raise_and_reraise_in_one_clause),
		T(test_except_star_misuse),
		T(test_except_star_many_clauses),
		T(test_except_star_old_macro_then_statement),
		T(test_except_star_deep_tree_small_stack),
		T(test_except_star_oom_sweep_raise_reraise),
		T(test_except_star_oom_sweep_many),
		T(test_except_star_oom_sweep_many_reraise),
		T(test_except_star_oom_everything_fails),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
