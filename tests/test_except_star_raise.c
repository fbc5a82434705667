/*
 * test_except_star_raise.c - raising in except* clauses, ported from
 * CPython's Lib/test/test_except_star.py: TestExceptStarRaise,
 * TestExceptStarRaiseFrom (both since 3.11.4: a single raised error
 * propagates as it is), TestExceptStarExceptionGroupSubclass (codes on
 * group nodes, with test_exception_group.py's derive-and-new case),
 * TestExceptStar_WeirdLeafExceptions and _WeirdExceptionGroupSubclass
 * (identity, not equality), and the examples of PEP 654.  Helpers:
 * test_except_star.h.
 */
#include "test_except_star.h"

/* ------------------------------------------------------------------ */
/* TestExceptStarRaise and TestExceptStarRaiseFrom                      */

/* test_raise_named / test_raise_unnamed (from: raise TypeError(3) from
 * e). */
static void
raise_one_of_two(bool from, bool named)
{
	tg_error *orig = with_metadata(group("eg", 2, leaf(&tg_ValueError, "1"),
					     leaf(&tg_OSError, "2")));
	tg_error *exc, *raised, *ctx;

	if (named) {
		TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
		{
			tg_error *n = leaf(&tg_TypeError, "3");

			if (from)
				assert_int_equal(tg_except_star_raise_from(
							 &st, n, tg_error_incref(e)),
						 TG_OK);
			else
				assert_int_equal(tg_except_star_raise(&st, n),
						 TG_OK);
		}
		exc = tg_except_star_end(&st);
	} else {
		tg_except_star st;
		tg_error *e;

		tg_except_star_begin(&st, tg_error_incref(orig));
		e = tg_except_star_clause(&st, T_OS, 1);
		assert_non_null(e);
		if (from)
			tg_except_star_raise_from(&st, leaf(&tg_TypeError, "3"),
						  tg_error_incref(e));
		else
			tg_except_star_raise(&st, leaf(&tg_TypeError, "3"));
		exc = tg_except_star_end(&st);
	}
	assert_string_equal(shape(exc), "[TypeError:3,eg[ValueError:1]]");
	assert_ptr_equal(tg_error_type_of(exc), &tg_ExceptionGroup);
	raised = tg_error_child(exc, 0);
	ctx = tg_error_context(raised);
	assert_string_equal(shape(ctx), "eg[OSError:2]");
	assert_metadata_equal(orig, ctx);
	if (from)
		assert_ptr_equal(tg_error_cause(raised), ctx);
	else
		assert_null(tg_error_cause(raised));
	/* assertMetadataNotEqual(orig, exc): the new group has none. */
	assert_null(tg_error_cause(exc));
	assert_null(tg_error_context(exc));
	assert_int_equal(tg_error_note_count(exc), 0);
	/* The part that propagates keeps the original's metadata. */
	assert_metadata_equal(orig, tg_error_child(exc, 1));
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_raise_named(void **state)
{
	(void)state;
	raise_one_of_two(false, true);
}

static void
test_raise_unnamed(void **state)
{
	(void)state;
	raise_one_of_two(false, false);
}

static void
test_raise_from_named(void **state)
{
	(void)state;
	raise_one_of_two(true, true);
}

static void
test_raise_from_unnamed(void **state)
{
	(void)state;
	raise_one_of_two(true, false);
}

/* test_raise_handle_all_raise_one_*: except* (TypeError, ValueError)
 * handles everything and raises SyntaxError(3): since 3.11.4 it
 * propagates as it is, its context the group it was raised from. */
static void
raise_handle_all_raise_one(bool from, bool named)
{
	tg_error *orig = with_metadata(group("eg", 2, leaf(&tg_TypeError, "1"),
					     leaf(&tg_ValueError, "2")));
	const tg_error_type *const tv[] = { &tg_TypeError, &tg_ValueError };
	tg_error *exc;

	if (named) {
		TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError, &tg_ValueError)
		{
			tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "3"),
						  from ? tg_error_incref(e)
						       : NULL);
		}
		exc = tg_except_star_end(&st);
	} else {
		tg_except_star st;
		tg_error *e;

		tg_except_star_begin(&st, tg_error_incref(orig));
		e = tg_except_star_clause(&st, tv, 2);
		tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "3"),
					  from ? tg_error_incref(e) : NULL);
		exc = tg_except_star_end(&st);
	}
	assert_string_equal(shape(exc), "SyntaxError:3");
	assert_string_equal(shape(tg_error_context(exc)),
			    "eg[TypeError:1,ValueError:2]");
	assert_metadata_equal(orig, tg_error_context(exc));
	if (from)
		assert_ptr_equal(tg_error_cause(exc), tg_error_context(exc));
	else
		assert_null(tg_error_cause(exc));
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_raise_handle_all_raise_one_named(void **state)
{
	(void)state;
	raise_handle_all_raise_one(false, true);
}

static void
test_raise_handle_all_raise_one_unnamed(void **state)
{
	(void)state;
	raise_handle_all_raise_one(false, false);
}

static void
test_raise_from_handle_all_raise_one_named(void **state)
{
	(void)state;
	raise_handle_all_raise_one(true, true);
}

static void
test_raise_from_handle_all_raise_one_unnamed(void **state)
{
	(void)state;
	raise_handle_all_raise_one(true, false);
}

/* test_raise_handle_all_raise_two_*. */
static void
raise_handle_all_raise_two(bool from, bool named)
{
	tg_error *orig = with_metadata(group("eg", 2, leaf(&tg_TypeError, "1"),
					     leaf(&tg_ValueError, "2")));
	tg_error *exc, *c0, *c1;

	if (named) {
		TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
		{
			tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "3"),
						  from ? tg_error_incref(e)
						       : NULL);
		}
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
		{
			tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "4"),
						  from ? tg_error_incref(e)
						       : NULL);
		}
		exc = tg_except_star_end(&st);
	} else {
		tg_except_star st;
		tg_error *e;

		tg_except_star_begin(&st, tg_error_incref(orig));
		e = tg_except_star_clause(&st, T_TYPE, 1);
		tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "3"),
					  from ? tg_error_incref(e) : NULL);
		e = tg_except_star_clause(&st, T_VALUE, 1);
		tg_except_star_raise_from(&st, leaf(&t_SyntaxError, "4"),
					  from ? tg_error_incref(e) : NULL);
		exc = tg_except_star_end(&st);
	}
	assert_string_equal(shape(exc), "[SyntaxError:3,SyntaxError:4]");
	c0 = tg_error_child(exc, 0);
	c1 = tg_error_child(exc, 1);
	assert_string_equal(shape(tg_error_context(c0)), "eg[TypeError:1]");
	assert_string_equal(shape(tg_error_context(c1)), "eg[ValueError:2]");
	assert_metadata_equal(orig, tg_error_context(c0));
	assert_metadata_equal(orig, tg_error_context(c1));
	assert_ptr_equal(tg_error_cause(c0), from ? tg_error_context(c0) : NULL);
	assert_ptr_equal(tg_error_cause(c1), from ? tg_error_context(c1) : NULL);
	assert_null(tg_error_cause(exc));
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_raise_handle_all_raise_two_named(void **state)
{
	(void)state;
	raise_handle_all_raise_two(false, true);
}

static void
test_raise_handle_all_raise_two_unnamed(void **state)
{
	(void)state;
	raise_handle_all_raise_two(false, false);
}

static void
test_raise_from_handle_all_raise_two_named(void **state)
{
	(void)state;
	raise_handle_all_raise_two(true, true);
}

static void
test_raise_from_handle_all_raise_two_unnamed(void **state)
{
	(void)state;
	raise_handle_all_raise_two(true, false);
}

/* ------------------------------------------------------------------ */
/* TestExceptStarExceptionGroupSubclass (codes on group nodes)          */

/* EG("nested", [TypeError(2)], 101) raised from None inside
 * EG("eg", [ValueError(1), nested], 42). */
static tg_error *
coded_eg(void)
{
	tg_error *nested = tg_error_group_new_code(
		"nested", 101, 1, (tg_error *[]){ leaf(&tg_TypeError, "2") });

	return tg_error_group_new_code(
		"eg", 42, 2,
		(tg_error *[]){ leaf(&tg_ValueError, "1"), nested });
}

static void
test_except_star_EG_subclass(void **state)
{
	tg_error *veg = NULL, *teg;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, coded_eg());
	TG_EXCEPT_STAR_CLAUSE(&st, eg, &tg_ValueError)
	{
		veg = tg_error_incref(eg);
	}
	teg = tg_except_star_end(&st);
	assert_string_equal(shape(veg), "eg[ValueError:1]");
	assert_string_equal(shape(teg), "eg[nested[TypeError:2]]");
	assert_metadata_equal(veg, teg);
	assert_int_equal(tg_error_code(veg), 42);
	assert_int_equal(tg_error_code(teg), 42);
	assert_int_equal(tg_error_code(tg_error_child(teg, 0)), 101);
	tg_error_decref(veg);
	tg_error_decref(teg);
}

/* test_falsy_exception_group_subclass: the parts a clause sees and what
 * propagates (Python's __bool__ has no C counterpart). */
static void
test_falsy_exception_group_subclass(void **state)
{
	tg_error *tes = NULL, *ves = NULL, *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 2, leaf(&tg_TypeError, "1"),
				       leaf(&tg_ValueError, "2")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		tes = tg_error_incref(e);
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		ves = tg_error_incref(e);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1]");
	assert_string_equal(shape(tes), "eg[TypeError:1]");
	assert_string_equal(shape(ves), "eg[ValueError:2]");
	/* One kept part: the re-raised match itself. */
	assert_ptr_equal(exc, tes);
	tg_error_decref(tes);
	tg_error_decref(ves);
	tg_error_decref(exc);
}

/* test_exception_group.py, test_split_ExceptionGroup_subclass_derive_
 * and_new_overrides: every part split from a coded group keeps its
 * code, nested ones theirs. */
static void
test_split_ExceptionGroup_subclass_derive_and_new_overrides(void **state)
{
	tg_error *eg = coded_eg(), *match, *rest;
	const tg_error_type *const vt[] = { &tg_ValueError, &tg_TypeError };
	tg_except_star st;

	(void)state;
	assert_int_equal(tg_error_code(eg), 42);
	/* Match nothing */
	assert_int_equal(tg_error_split(eg, &tg_OSError, &match, &rest), TG_OK);
	assert_null(match);
	assert_string_equal(shape(rest), "eg[ValueError:1,nested[TypeError:2]]");
	assert_int_equal(tg_error_code(rest), 42);
	assert_int_equal(tg_error_code(tg_error_child(rest, 1)), 101);
	tg_error_decref(rest);
	/* Match everything, (ValueError, TypeError): as a clause */
	tg_except_star_begin(&st, tg_error_incref(eg));
	match = tg_error_incref(tg_except_star_clause(&st, vt, 2));
	assert_null(tg_except_star_end(&st));
	assert_string_equal(shape(match),
			    "eg[ValueError:1,nested[TypeError:2]]");
	assert_int_equal(tg_error_code(match), 42);
	assert_int_equal(tg_error_code(tg_error_child(match, 1)), 101);
	tg_error_decref(match);
	/* Match ValueErrors */
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &match, &rest),
			 TG_OK);
	assert_string_equal(shape(match), "eg[ValueError:1]");
	assert_int_equal(tg_error_code(match), 42);
	assert_string_equal(shape(rest), "eg[nested[TypeError:2]]");
	assert_int_equal(tg_error_code(rest), 42);
	assert_int_equal(tg_error_code(tg_error_child(rest, 0)), 101);
	tg_error_decref(match);
	tg_error_decref(rest);
	/* Match TypeErrors */
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &match, &rest),
			 TG_OK);
	assert_string_equal(shape(match), "eg[nested[TypeError:2]]");
	assert_int_equal(tg_error_code(match), 42);
	assert_int_equal(tg_error_code(tg_error_child(match, 0)), 101);
	assert_string_equal(shape(rest), "eg[ValueError:1]");
	assert_int_equal(tg_error_code(rest), 42);
	tg_error_decref(match);
	tg_error_decref(rest);
	/* subgroup too */
	match = tg_error_subgroup(eg, &tg_TypeError, NULL);
	assert_int_equal(tg_error_code(match), 42);
	assert_int_equal(tg_error_code(tg_error_child(match, 0)), 101);
	tg_error_decref(match);
	tg_error_decref(eg);
}

/* Codes and notes survive a projection that rebuilds some groups and
 * keeps others whole. */
static void
test_except_star_projection_keeps_codes(void **state)
{
	tg_error *inner = tg_error_group_new_code(
		"inner", 7, 2,
		(tg_error *[]){ leaf(&tg_TypeError, "t"),
				leaf(&tg_OSError, "o") });
	tg_error *whole = tg_error_group_new_code(
		"whole", 8, 1, (tg_error *[]){ leaf(&tg_ValueError, "w") });
	tg_error *orig = tg_error_group_new_code(
		"top", 9, 4,
		(tg_error *[]){ leaf(&tg_ValueError, "v"), inner, whole,
				leaf(&tg_OSError, "o2") });
	tg_error *exc;

	(void)state;
	assert_int_equal(tg_error_add_note(orig, "top note"), TG_OK);
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(orig));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		/* handled */
		assert_string_equal(shape(e), "top[inner[OSError:o],OSError:o2]");
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "top[ValueError:v,inner[TypeError:t],whole[ValueError:w]]");
	assert_metadata_equal(orig, exc);
	assert_int_equal(tg_error_code(exc), 9);
	assert_int_equal(tg_error_code(tg_error_child(exc, 1)), 7);
	/* whole kept all its leaves: the node itself. */
	assert_ptr_equal(tg_error_child(exc, 2), whole);
	assert_int_equal(tg_error_code(tg_error_child(exc, 2)), 8);
	tg_error_decref(exc);
	tg_error_decref(orig);
}

static void
test_error_group_new_code_rules(void **state)
{
	tg_error *g;

	(void)state;
	/* Bad arguments: NULL, nothing consumed. */
	assert_null(tg_error_group_new_code(NULL, 1, 1,
					    (tg_error *[]){ tg_error_oom() }));
	assert_null(tg_error_group_new_code("g", 1, 0, NULL));
	/* A plain group has code 0; the code is printed in the JSON. */
	g = group("g", 1, leaf(&tg_ValueError, "v"));
	assert_int_equal(tg_error_code(g), 0);
	tg_error_decref(g);
	g = tg_error_group_new_code("g", -5, 1,
				    (tg_error *[]){ leaf(&tg_ValueError, "v") });
	assert_int_equal(tg_error_code(g), -5);
	assert_ptr_equal(tg_error_type_of(g), &tg_ExceptionGroup);
	{
		char json[2048];

		tg_error_to_json(g, json, sizeof(json));
		assert_non_null(strstr(json, "\"message\":\"g\",\"code\":-5"));
	}
	/* A noted copy keeps it. */
	g = tg_error_with_note(g, "n");
	assert_int_equal(tg_error_code(g), -5);
	tg_error_decref(g);
}

/* Out of memory the stand-in carries the code: a node of its own. */
static void
test_error_group_new_code_stand_in(void **state)
{
	tg_error *kids[2], *g;

	(void)state;
	kids[0] = leaf(&tg_ValueError, "a");
	kids[1] = leaf(&tg_TypeError, "b");
	xs_calls = 0;
	xs_fail_at = 0;
	g = tg_error_group_new_code("coded", 77, 2, kids);
	disarm();
	assert_int_equal(tg_error_code(g), 77);
	assert_int_equal(tg_error_kept_count(g), 2);
	assert_int_equal(tg_error_lost_count(g), 0);
	tg_error_decref(g);
	/* A single child under a full reserve would come back as it is: the
	 * code is not forced onto it (here the reserve has room: a
	 * stand-in). */
	kids[0] = leaf(&tg_ValueError, "solo");
	xs_calls = 0;
	xs_fail_at = 0;
	g = tg_error_group_new_code("coded", 78, 1, kids);
	disarm();
	assert_true(tg_error_is_group(g));
	assert_int_equal(tg_error_code(g), 78);
	assert_int_equal(tg_error_code(tg_error_child(g, 0)), 0);
	tg_error_decref(g);
}

/* ------------------------------------------------------------------ */
/* TestExceptStar_WeirdLeafExceptions / _WeirdExceptionGroupSubclass    */

static void
test_reraise_unhashable_leaf(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 3, leaf(&tg_TypeError, "1"),
				       leaf(&t_Bad, "2"),
				       leaf(&tg_ValueError, "3")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
	{
		(void)e;
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &t_Bad)
	{
		tg_except_star_reraise(&st);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[Bad:2,ValueError:3]");
	tg_error_decref(exc);
}

static void
test_catch_unhashable_leaf_exception(void **state)
{
	(void)state;
	split_case(group("eg", 2, leaf(&tg_TypeError, "1"), leaf(&t_Bad, "2")),
		   &t_Bad, "eg[Bad:2]", "eg[TypeError:1]");
	split_case(group("eg", 2, leaf(&tg_TypeError, "1"), leaf(&t_Bad, "2")),
		   &tg_TypeError, "eg[TypeError:1]", "eg[Bad:2]");
	split_case(group("eg", 2, leaf(&tg_TypeError, "1"), leaf(&t_Bad, "2")),
		   &tg_OSError, NULL, "eg[TypeError:1,Bad:2]");
	split_case(group("eg", 2, leaf(&tg_TypeError, "1"), leaf(&t_Bad, "2")),
		   &tg_Exception, "eg[TypeError:1,Bad:2]", NULL);
}

static void
test_catch_unhashable_exception_group_subclass(void **state)
{
	tg_error *eg = group("eg", 2, leaf(&tg_TypeError, "1"),
			     group("nested", 1, leaf(&tg_ValueError, "2")));
	tg_error *rest, *match = NULL;

	(void)state;
	split_case(tg_error_incref(eg), &tg_TypeError, "eg[TypeError:1]",
		   "eg[nested[ValueError:2]]");
	/* none: the same node propagates */
	TG_EXCEPT_STAR_BEGIN(st, tg_error_incref(eg));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		fail();
	}
	rest = tg_except_star_end(&st);
	assert_ptr_equal(rest, eg);
	tg_error_decref(rest);
	/* all: the clause sees the node itself */
	TG_EXCEPT_STAR_BEGIN(st2, tg_error_incref(eg));
	TG_EXCEPT_STAR_CLAUSE(&st2, e, &tg_Exception)
	{
		match = tg_error_incref(e);
	}
	assert_null(tg_except_star_end(&st2));
	assert_ptr_equal(match, eg);
	tg_error_decref(match);
	tg_error_decref(eg);
}

static void
test_reraise_unhashable_eg(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("eg", 3, leaf(&tg_TypeError, "1"),
				       leaf(&tg_ValueError, "2"),
				       group("nested", 2,
					     leaf(&tg_ValueError, "3"),
					     leaf(&tg_OSError, "4"))));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		(void)e;
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		tg_except_star_reraise(&st);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[TypeError:1,nested[OSError:4]]");
	tg_error_decref(exc);
}

/* ------------------------------------------------------------------ */
/* PEP 654's examples                                                   */

TG_DEFINE_ERROR_TYPE(t_KeyError, "KeyError", &tg_Exception);

static tg_error *
pep_eg(void)
{
	return group("eg", 4, leaf(&tg_ValueError, "1"),
		     leaf(&tg_TypeError, "2"), leaf(&tg_OSError, "3"),
		     group("nested", 3, leaf(&tg_OSError, "4"),
			   leaf(&tg_TypeError, "5"), leaf(&tg_ValueError, "6")));
}

/* "Raising exceptions in an except* block": a bare raise merges back. */
static void
test_pep654_reraise_keeps_the_shape(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, pep_eg());
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		assert_string_equal(shape(e),
				    "eg[ValueError:1,nested[ValueError:6]]");
		tg_except_star_reraise(&st);
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		assert_string_equal(shape(e), "eg[OSError:3,nested[OSError:4]]");
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc), "eg[ValueError:1,TypeError:2,"
					"nested[TypeError:5,ValueError:6]]");
	tg_error_decref(exc);
}

/* raise e is a raise: its own group beside the re-raised and unhandled
 * rest. */
static void
test_pep654_raise_e_is_not_merged(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, pep_eg());
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_raise(&st, tg_error_incref(e));
	}
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_OSError)
	{
		tg_except_star_reraise(&st);
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "[eg[ValueError:1,nested[ValueError:6]],"
			    "eg[TypeError:2,OSError:3,"
			    "nested[OSError:4,TypeError:5]]]");
	tg_error_decref(exc);
}

/* "Chaining": part of "one" is the context of the raised "two", the
 * other part goes with it into the new group. */
static void
test_pep654_chaining(void **state)
{
	tg_error *exc;

	(void)state;
	TG_EXCEPT_STAR_BEGIN(st, group("one", 2, leaf(&tg_ValueError, "a"),
				       leaf(&tg_TypeError, "b")));
	TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
	{
		tg_except_star_raise(&st, group("two", 2, leaf(&t_KeyError, "x"),
						leaf(&t_KeyError, "y")));
	}
	exc = tg_except_star_end(&st);
	assert_string_equal(shape(exc),
			    "[two[KeyError:x,KeyError:y],one[TypeError:b]]");
	assert_string_equal(shape(tg_error_context(tg_error_child(exc, 0))),
			    "one[ValueError:a]");
	tg_error_decref(exc);
}

/* "Raising New Exceptions": a naked error raised from a naked match is
 * the result as it is, caused by the wrapper; a raised error is not
 * matched by a later clause. */
static void
test_pep654_raising_new_exceptions(void **state)
{
	tg_error *exc;
	int never = 0;

	(void)state;
	{
		TG_EXCEPT_STAR_BEGIN(st, leaf(&tg_TypeError, "bad type"));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
		{
			tg_except_star_raise_from(
				&st, leaf(&tg_ValueError, "bad value"),
				tg_error_incref(e));
		}
		exc = tg_except_star_end(&st);
	}
	assert_string_equal(shape(exc), "ValueError:bad value");
	assert_string_equal(shape(tg_error_cause(exc)), "[TypeError:bad type]");
	tg_error_decref(exc);
	{
		TG_EXCEPT_STAR_BEGIN(st, leaf(&tg_TypeError, "1"));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_TypeError)
		{
			tg_except_star_raise(&st, leaf(&tg_ValueError, "2"));
		}
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
		{
			never++;
		}
		exc = tg_except_star_end(&st);
	}
	assert_int_equal(never, 0);
	assert_string_equal(shape(exc), "ValueError:2");
	tg_error_decref(exc);
	/* raise KeyError('x') from an EG("eg", [ValueError('a'),
	 * TypeError('b')]) */
	{
		TG_EXCEPT_STAR_BEGIN(st, group("eg", 2,
					       leaf(&tg_ValueError, "a"),
					       leaf(&tg_TypeError, "b")));
		TG_EXCEPT_STAR_CLAUSE(&st, e, &tg_ValueError)
		{
			tg_except_star_raise(&st, leaf(&t_KeyError, "x"));
		}
		exc = tg_except_star_end(&st);
	}
	assert_string_equal(shape(exc), "[KeyError:x,eg[TypeError:b]]");
	assert_string_equal(shape(tg_error_context(tg_error_child(exc, 0))),
			    "eg[ValueError:a]");
	tg_error_decref(exc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_raise_named),
		T(test_raise_unnamed),
		T(test_raise_handle_all_raise_one_named),
		T(test_raise_handle_all_raise_one_unnamed),
		T(test_raise_handle_all_raise_two_named),
		T(test_raise_handle_all_raise_two_unnamed),
		T(test_raise_from_named),
		T(test_raise_from_unnamed),
		T(test_raise_from_handle_all_raise_one_named),
		T(test_raise_from_handle_all_raise_one_unnamed),
		T(test_raise_from_handle_all_raise_two_named),
		T(test_raise_from_handle_all_raise_two_unnamed),
		T(test_except_star_EG_subclass),
		T(test_falsy_exception_group_subclass),
		T(test_split_ExceptionGroup_subclass_derive_and_new_overrides),
		T(test_except_star_projection_keeps_codes),
		T(test_error_group_new_code_rules),
		T(test_error_group_new_code_stand_in),
		T(test_reraise_unhashable_leaf),
		T(test_catch_unhashable_leaf_exception),
		T(test_catch_unhashable_exception_group_subclass),
		T(test_reraise_unhashable_eg),
		T(test_pep654_reraise_keeps_the_shape),
		T(test_pep654_raise_e_is_not_merged),
		T(test_pep654_chaining),
		T(test_pep654_raising_new_exceptions),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
