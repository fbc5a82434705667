/*
 * test_except_star.c - the except* statement (error.h, tg_except_star_*)
 * against CPython's Lib/test/test_except_star.py (3.11.4 and later: a
 * single raised error is not wrapped, gh-103590): TestInvalidExceptStar,
 * the valid cases of TestBreakContinueReturnInExceptStarBlock,
 * TestExceptStarSplitSemantics and TestExceptStarReraise.  Raising, codes,
 * the odd leaves and groups and PEP 654's examples are in
 * test_except_star_raise.c; the cases beyond CPython's, depth and memory
 * exhaustion in test_except_star_more.c; early exits under LeakSanitizer
 * in test_except_star_leaks.c.  Shared helpers: test_except_star.h.
 */
#include "test_except_star.h"

/* ------------------------------------------------------------------ */
/* TestInvalidExceptStar                                                */

static void
test_except_star_ExceptionGroup_is_runtime_error_single(void **state)
{
	tg_error *orig = leaf(&tg_OSError, "blah"), *exc;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, orig);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ExceptionGroup)
	{
		ran++;
	}
	exc = tg_except_star_end(&st);
	assert_int_equal(ran, 0);
	assert_ptr_equal(tg_error_type_of(exc), &tg_TypeError);
	assert_int_equal(tg_error_code(exc), TG_EINVAL);
	assert_non_null(strstr(tg_error_message(exc), "except*"));
	assert_ptr_equal(tg_error_context(exc), orig);
	tg_error_decref(exc);
}

static void
test_except_star_ExceptionGroup_is_runtime_error_tuple(void **state)
{
	tg_error *orig = group("eg", 1, leaf(&tg_ValueError, "42")), *exc;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, orig);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_TypeError, &tg_ExceptionGroup)
	{
		ran++;
	}
	exc = tg_except_star_end(&st);
	assert_int_equal(ran, 0);
	assert_ptr_equal(tg_error_type_of(exc), &tg_TypeError);
	assert_ptr_equal(tg_error_context(exc), orig);
	tg_error_decref(exc);
}

static void
test_except_star_invalid_exception_type(void **state)
{
	const tg_error_type *const none[] = { NULL };
	const tg_error_type *const mixed[] = { &tg_ValueError, NULL };
	const tg_error_type *const derived[] = { &t_MyEG };
	const tg_error_type *const *bad[] = { none, mixed, derived, NULL };
	const size_t n[] = { 1, 2, 1, 1 };
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		tg_error *orig = leaf(&tg_ValueError, "v"), *exc;
		tg_except_star st;

		assert_int_equal(tg_except_star_begin(&st, orig), TG_OK);
		assert_null(tg_except_star_clause(&st, bad[i], n[i]));
		exc = tg_except_star_end(&st);
		assert_ptr_equal(tg_error_type_of(exc), &tg_TypeError);
		assert_ptr_equal(tg_error_context(exc), orig);
		tg_error_decref(exc);
	}
	/* n == 0 is no type at all (Python's bare except* is a syntax
	 * error). */
	{
		tg_error *exc;
		tg_except_star st;

		tg_except_star_begin(&st, leaf(&tg_ValueError, "v"));
		assert_null(tg_except_star_clause(&st, T_VALUE, 0));
		exc = tg_except_star_end(&st);
		assert_ptr_equal(tg_error_type_of(exc), &tg_TypeError);
		tg_error_decref(exc);
	}
}

/* CPython checks a clause's types whenever the try body raised, even
 * when earlier clauses left nothing to match; what earlier clauses raised
 * is dropped with the statement.  Nothing raised: no check. */
static void
test_except_star_bad_type_after_everything_matched(void **state)
{
	tg_error *orig = group("eg", 2, leaf(&tg_ValueError, "1"),
			       leaf(&tg_TypeError, "2"));
	tg_error *exc;
	int later = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, orig);
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_Exception)
	{
		tg_except_star_raise(&st, leaf(&t_SyntaxError, "dropped"));
	}
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_BaseExceptionGroup)
	{
		later++;
	}
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_Exception)
	{
		later++;
	}
	exc = tg_except_star_end(&st);
	assert_int_equal(later, 0);
	assert_ptr_equal(tg_error_type_of(exc), &tg_TypeError);
	assert_ptr_equal(tg_error_context(exc), orig);
	tg_error_decref(exc);

	{
		TG_EXCEPT_STAR_BEGIN(ok, NULL);
		TG_EXCEPT_STAR_CLAUSE(&ok, eg, &tg_ExceptionGroup)
		{
			later++;
		}
		assert_null(tg_except_star_end(&ok));
		assert_int_equal(later, 0);
	}
}

/* ------------------------------------------------------------------ */
/* TestBreakContinueReturnInExceptStarBlock (the valid ones)            */

static int
twice(int x)
{
	return 2 * x;
}

static void
test_break_continue_in_except_star_block_valid(void **state)
{
	tg_error *exc = NULL;
	int count = 0, i = 0, r = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, leaf(&tg_ValueError, "42"));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_Exception)
	{
		for (i = 0; i < 5; i++) {
			if (i == 0)
				continue;
			if (i == 4)
				break;
			count++;
		}
		r = twice(3); /* test_return_in_except_star_block_valid */
		exc = tg_error_incref(e);
	}
	assert_null(tg_except_star_end(&st));
	assert_int_equal(count, 3);
	assert_int_equal(i, 4);
	assert_int_equal(r, 6);
	assert_ptr_equal(tg_error_type_of(exc), &tg_ExceptionGroup);
	tg_error_decref(exc);
}

/* ------------------------------------------------------------------ */
/* TestExceptStarSplitSemantics                                         */

static void
test_no_match_single_type(void **state)
{
	(void)state;
	split_case(group("test1", 2, leaf(&tg_ValueError, "V"),
			 leaf(&tg_TypeError, "T")),
		   &t_SyntaxError, NULL, "test1[ValueError:V,TypeError:T]");
}

static void
test_match_single_type(void **state)
{
	(void)state;
	split_case(group("test2", 2, leaf(&tg_ValueError, "V1"),
			 leaf(&tg_ValueError, "V2")),
		   &tg_ValueError, "test2[ValueError:V1,ValueError:V2]", NULL);
}

static void
test_match_single_type_partial_match(void **state)
{
	(void)state;
	split_case(group("test3", 3, leaf(&tg_ValueError, "V1"),
			 leaf(&tg_OSError, "OS"), leaf(&tg_ValueError, "V2")),
		   &tg_ValueError, "test3[ValueError:V1,ValueError:V2]",
		   "test3[OSError:OS]");
}

static void
test_match_single_type_nested(void **state)
{
	(void)state;
	split_case(group("g1", 3, leaf(&tg_ValueError, "V1"),
			 leaf(&tg_OSError, "OS1"),
			 group("g2", 3, leaf(&tg_OSError, "OS2"),
			       leaf(&tg_ValueError, "V2"),
			       leaf(&tg_TypeError, "T"))),
		   &tg_ValueError, "g1[ValueError:V1,g2[ValueError:V2]]",
		   "g1[OSError:OS1,g2[OSError:OS2,TypeError:T]]");
}

static void
test_match_type_tuple_nested(void **state)
{
	tg_error *exc = group("h1", 3, leaf(&tg_ValueError, "V1"),
			      leaf(&tg_OSError, "OS1"),
			      group("h2", 3, leaf(&tg_OSError, "OS2"),
				    leaf(&tg_ValueError, "V2"),
				    leaf(&tg_TypeError, "T")));
	const tg_error_type *const vt[] = { &tg_ValueError, &tg_TypeError };
	const char *m = "h1[ValueError:V1,h2[ValueError:V2,TypeError:T]]";
	const char *r = "h1[OSError:OS1,h2[OSError:OS2]]";
	tg_error *match = NULL, *rest;

	(void)state;
	split_unnamed(exc, vt, 2, m, r);
	TG_EXCEPT_STAR_BEGIN(st, exc);
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError, &tg_TypeError)
	{
		match = tg_error_incref(e);
	}
	rest = tg_except_star_end(&st);
	assert_string_equal(shape(match), m);
	assert_string_equal(shape(rest), r);
	tg_error_decref(match);
	tg_error_decref(rest);
}

static void
test_empty_groups_removed(void **state)
{
	(void)state;
	split_case(group("eg", 3, group("i1", 1, leaf(&tg_ValueError, "V1")),
			 group("i2", 2, leaf(&tg_ValueError, "V2"),
			       leaf(&tg_TypeError, "T1")),
			 group("i3", 1, leaf(&tg_TypeError, "T2"))),
		   &tg_TypeError, "eg[i2[TypeError:T1],i3[TypeError:T2]]",
		   "eg[i1[ValueError:V1],i2[ValueError:V2]]");
}

static void
test_singleton_groups_are_kept(void **state)
{
	(void)state;
	split_case(group("j1", 1,
			 group("j2", 2,
			       group("j3", 1, leaf(&tg_ValueError, "V1")),
			       group("j4", 1, leaf(&tg_TypeError, "T")))),
		   &tg_TypeError, "j1[j2[j4[TypeError:T]]]",
		   "j1[j2[j3[ValueError:V1]]]");
}

static void
test_naked_exception_matched_wrapped1(void **state)
{
	(void)state;
	split_case(leaf(&tg_ValueError, "V"), &tg_ValueError,
		   "[ValueError:V]", NULL);
}

static void
test_naked_exception_matched_wrapped2(void **state)
{
	(void)state;
	split_case(leaf(&tg_ValueError, "V"), &tg_Exception, "[ValueError:V]",
		   NULL);
}

static void
test_exception_group_except_star_Exception_not_wrapped(void **state)
{
	(void)state;
	split_case(group("eg", 1, leaf(&tg_ValueError, "V")), &tg_Exception,
		   "eg[ValueError:V]", NULL);
}

static void
test_plain_exception_not_matched(void **state)
{
	(void)state;
	split_case(leaf(&tg_ValueError, "V"), &tg_TypeError, NULL,
		   "ValueError:V");
}

static void
test_match__supertype(void **state)
{
	(void)state;
	split_case(group("st", 2, leaf(&tg_BlockingIOError, "io"),
			 leaf(&tg_TypeError, "T")),
		   &tg_OSError, "st[BlockingIOError:io]", "st[TypeError:T]");
}

static void
test_multiple_matches_named(void **state)
{
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("mmn", 2, leaf(&tg_OSError, "os"),
				       leaf(&tg_BlockingIOError, "io")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_BlockingIOError)
	{
		ran++;
		assert_string_equal(shape(e), "mmn[BlockingIOError:io]");
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		ran++;
		assert_string_equal(shape(e), "mmn[OSError:os]");
	}
	assert_null(tg_except_star_end(&st));
	assert_int_equal(ran, 2);
}

static void
test_multiple_matches_unnamed(void **state)
{
	const tg_error_type *const bio[] = { &tg_BlockingIOError };
	tg_except_star st;
	tg_error *e;

	(void)state;
	tg_except_star_begin(&st, group("mmu", 2, leaf(&tg_OSError, "os"),
					leaf(&tg_BlockingIOError, "io")));
	e = tg_except_star_clause(&st, bio, 1);
	assert_string_equal(shape(e), "mmu[BlockingIOError:io]");
	/* The next clause closes this one. */
	e = tg_except_star_clause(&st, T_OS, 1);
	assert_string_equal(shape(e), "mmu[OSError:os]");
	assert_null(tg_except_star_end(&st));
}

static void
test_first_match_wins_named(void **state)
{
	int os = 0, bio = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("fst", 1,
				       leaf(&tg_BlockingIOError, "io")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		os++;
		assert_string_equal(shape(e), "fst[BlockingIOError:io]");
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_BlockingIOError)
	{
		bio++;
	}
	assert_null(tg_except_star_end(&st));
	assert_int_equal(os, 1);
	assert_int_equal(bio, 0);
}

static void
test_first_match_wins_unnamed(void **state)
{
	const tg_error_type *const bio[] = { &tg_BlockingIOError };
	tg_except_star st;

	(void)state;
	tg_except_star_begin(&st,
			     group("fstu", 1, leaf(&tg_BlockingIOError, "io")));
	assert_string_equal(shape(tg_except_star_clause(&st, T_OS, 1)),
			    "fstu[BlockingIOError:io]");
	tg_except_star_clause_end(&st);
	assert_null(tg_except_star_clause(&st, bio, 1));
	assert_null(tg_except_star_end(&st));
}

static void
test_nested_except_stars(void **state)
{
	int inner = 0;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("n", 1,
				       leaf(&tg_BlockingIOError, "io")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_BlockingIOError)
	{
		TG_EXCEPT_STAR_BEGIN(in, group("n", 1,
					       leaf(&tg_ValueError, "io")));
		TG_EXCEPT_STAR_CLAUSE(&in, e2, &tg_ValueError)
		{
			inner++;
		}
		assert_null(tg_except_star_end(&in));
		assert_string_equal(shape(e), "n[BlockingIOError:io]");
	}
	assert_null(tg_except_star_end(&st));
	assert_int_equal(inner, 1);
}

static void
test_nested_in_loop(void **state)
{
	int i, ran = 0;

	(void)state;
	for (i = 0; i < 2; i++) {
		TG_EXCEPT_STAR_BEGIN(st,
				     group("nl", 1,
					   leaf(&tg_BlockingIOError, "io")));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_BlockingIOError)
		{
			ran++;
		}
		assert_null(tg_except_star_end(&st));
	}
	assert_int_equal(ran, 2);
}

/* ------------------------------------------------------------------ */
/* TestExceptStarReraise                                                */

static void
test_reraise_all_named(void **state)
{
	tg_error *orig = with_metadata(eg_tvo()), *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		assert_int_equal(tg_except_star_reraise(&st), TG_OK);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		assert_int_equal(tg_except_star_reraise(&st), TG_OK);
	}
	/* OSError not handled */
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "eg[TypeError:1,ValueError:2,OSError:3]");
	/* Every leaf kept: the original itself (CPython: an equal copy). */
	assert_ptr_equal(exc, orig);
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_reraise_all_unnamed(void **state)
{
	tg_error *orig = eg_tvo(), *exc;
	tg_except_star st;

	(void)state;
	tg_except_star_begin(&st, tg_error_incref(orig));
	assert_non_null(tg_except_star_clause(&st, T_TYPE, 1));
	tg_except_star_reraise(&st);
	assert_non_null(tg_except_star_clause(&st, T_VALUE, 1));
	tg_except_star_reraise(&st);
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "eg[TypeError:1,ValueError:2,OSError:3]");
	assert_ptr_equal(exc, orig);
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_reraise_some_handle_all_named(void **state)
{
	tg_error *orig = with_metadata(eg_tvo()), *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		(void)e; /* pass */
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1,OSError:3]");
	assert_metadata_equal(orig, exc);
	/* The leaves are the original's. */
	assert_ptr_equal(tg_error_child(exc, 0), tg_error_child(orig, 0));
	assert_ptr_equal(tg_error_child(exc, 1), tg_error_child(orig, 2));
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_reraise_partial_handle_all_unnamed(void **state)
{
	tg_except_star st;
	tg_error *exc;

	(void)state;
	tg_except_star_begin(&st, group("eg", 2, leaf(&tg_TypeError, "1"),
					leaf(&tg_ValueError, "2")));
	assert_non_null(tg_except_star_clause(&st, T_TYPE, 1));
	tg_except_star_reraise(&st);
	assert_non_null(tg_except_star_clause(&st, T_VALUE, 1));
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1]");
	tg_error_decref(exc);
}

static void
test_reraise_partial_handle_some_named(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, eg_tvo());
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		(void)e;
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1,OSError:3]");
	tg_error_decref(exc);
}

static void
test_reraise_partial_handle_some_unnamed(void **state)
{
	tg_except_star st;
	tg_error *exc;

	(void)state;
	tg_except_star_begin(&st, eg_tvo());
	tg_except_star_clause(&st, T_TYPE, 1);
	tg_except_star_reraise(&st);
	tg_except_star_clause(&st, T_VALUE, 1);
	tg_except_star_clause_end(&st);
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1,OSError:3]");
	tg_error_decref(exc);
}

static void
test_reraise_plain_exception_named(void **state)
{
	tg_error *orig = leaf(&tg_ValueError, "42"), *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, orig);
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_reraise(&st);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "[ValueError:42]");
	assert_ptr_equal(tg_error_type_of(exc), &tg_ExceptionGroup);
	assert_ptr_equal(tg_error_child(exc, 0), orig);
	tg_error_decref(exc);
}

static void
test_reraise_plain_exception_unnamed(void **state)
{
	tg_except_star st;
	tg_error *exc;

	(void)state;
	tg_except_star_begin(&st, leaf(&tg_ValueError, "42"));
	tg_except_star_clause(&st, T_VALUE, 1);
	tg_except_star_reraise(&st);
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "[ValueError:42]");
	tg_error_decref(exc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_except_star_ExceptionGroup_is_runtime_error_single),
		T(test_except_star_ExceptionGroup_is_runtime_error_tuple),
		T(test_except_star_invalid_exception_type),
		T(test_except_star_bad_type_after_everything_matched),
		T(test_break_continue_in_except_star_block_valid),
		T(test_no_match_single_type),
		T(test_match_single_type),
		T(test_match_single_type_partial_match),
		T(test_match_single_type_nested),
		T(test_match_type_tuple_nested),
		T(test_empty_groups_removed),
		T(test_singleton_groups_are_kept),
		T(test_naked_exception_matched_wrapped1),
		T(test_naked_exception_matched_wrapped2),
		T(test_exception_group_except_star_Exception_not_wrapped),
		T(test_plain_exception_not_matched),
		T(test_match__supertype),
		T(test_multiple_matches_named),
		T(test_multiple_matches_unnamed),
		T(test_first_match_wins_named),
		T(test_first_match_wins_unnamed),
		T(test_nested_except_stars),
		T(test_nested_in_loop),
		T(test_reraise_all_named),
		T(test_reraise_all_unnamed),
		T(test_reraise_some_handle_all_named),
		T(test_reraise_partial_handle_all_unnamed),
		T(test_reraise_partial_handle_some_named),
		T(test_reraise_partial_handle_some_unnamed),
		T(test_reraise_plain_exception_named),
		T(test_reraise_plain_exception_unnamed),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
