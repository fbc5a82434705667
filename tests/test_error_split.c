/*
 * test_error_split.c - split, subgroup, derive and except*, ported from
 * CPython's Lib/test/test_exception_group.py and test_except_star.py.
 *
 * Trees are compared through shape(): a leaf is "Type:message", a group
 * "message[child,child]" (with "!" after the message when the group is a
 * BaseExceptionGroup), so a CPython template such as
 * ExceptionGroup("eg", [ValueError(1), TypeError(2)]) reads
 * "eg[ValueError:1,TypeError:2]".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_tree.h"

#include "test_alloc.h"

#include "taskgroup/error.h"

#include "error_internal.h"

/* ------------------------------------------------------------------ */
/* The counting, failing allocator: tests/test_alloc.h                 */


/* ------------------------------------------------------------------ */
/* Building and describing trees                                        */

static tg_error *
leaf(const tg_error_type *t, const char *msg)
{
	return TG_RAISE(t, "%s", msg);
}

static void
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

static const char *
shape(const tg_error *e)
{
	static char buf[4][1024];
	static int next;
	char *out = buf[next++ % 4];

	out[0] = '\0';
	shape_into(e, out, sizeof(buf[0]));
	return out;
}

/* CPython's create_simple_eg. */
static tg_error *
simple_eg(void)
{
	return group("simple eg", 3, leaf(&tg_ValueError, "1"),
		     leaf(&tg_TypeError, "int"), leaf(&tg_ValueError, "2"));
}

#define SIMPLE "simple eg[ValueError:1,TypeError:int,ValueError:2]"

/* CPython's NestedExceptionGroupSplitTest tree: level3(5). */
static tg_error *
level1(int i)
{
	char a[16], b[16];

	snprintf(a, sizeof(a), "%d", i);
	snprintf(b, sizeof(b), "%d", i + 1);
	return group("msg1", 3, leaf(&tg_ValueError, a),
		     leaf(&tg_TypeError, "int"), leaf(&tg_ValueError, b));
}

static tg_error *
nested_eg(void)
{
	tg_error *l2 = group("msg2", 3, level1(6), level1(7),
			     leaf(&tg_ValueError, "8"));
	tg_error *l3 = group("msg3", 2, l2, leaf(&tg_ValueError, "7"));

	assert_int_equal(tg_error_add_note(l3, "note1"), TG_OK);
	assert_int_equal(tg_error_add_note(l3, "note2"), TG_OK);
	assert_int_equal(tg_error_set_cause(l3, leaf(&tg_RuntimeError, "cause")),
			 TG_OK);
	return l3;
}

#define NESTED                                                               \
	"msg3[msg2[msg1[ValueError:6,TypeError:int,ValueError:7],"           \
	"msg1[ValueError:7,TypeError:int,ValueError:8],ValueError:8],"       \
	"ValueError:7]"

static bool
always(const tg_error *e, void *ctx)
{
	(void)e;
	(void)ctx;
	return true;
}

static bool
never(const tg_error *e, void *ctx)
{
	(void)e;
	(void)ctx;
	return false;
}

static bool
is_value_error(const tg_error *e, void *ctx)
{
	(void)ctx;
	return tg_error_is(e, &tg_ValueError);
}

static bool
value_or_type(const tg_error *e, void *ctx)
{
	(void)ctx;
	return tg_error_is(e, &tg_ValueError) || tg_error_is(e, &tg_TypeError);
}

/* ------------------------------------------------------------------ */
/* Construction (test_exception_group.py: InstanceCreation)             */

static void
test_error_split_eg_of_exceptions_is_exception_group(void **state)
{
	tg_error *eg = simple_eg();

	(void)state;
	assert_ptr_equal(tg_error_type_of(eg), &tg_ExceptionGroup);
	assert_string_equal(shape(eg), SIMPLE);
	tg_error_decref(eg);
}

static void
test_error_split_eg_of_base_exception_is_base_group(void **state)
{
	tg_error *eg = group("beg", 2, leaf(&tg_ValueError, "1"),
			     leaf(&tg_Interrupt, "2"));

	(void)state;
	assert_string_equal(shape(eg), "beg![ValueError:1,Interrupt:2]");
	tg_error_decref(eg);
}

static void
test_error_split_nested_group_fields(void **state)
{
	tg_error *eg = nested_eg();

	(void)state;
	assert_string_equal(shape(eg), NESTED);
	assert_int_equal(tg_error_leaf_count(eg), 8);
	assert_int_equal(tg_error_count(eg), 2);
	tg_error_decref(eg);
}

/* ------------------------------------------------------------------ */
/* subgroup (ExceptionGroupSubgroupTests)                               */

static void
test_error_split_subgroup_bad_args(void **state)
{
	tg_error *eg = simple_eg();
	int st = 0;

	(void)state;
	assert_null(tg_error_subgroup(eg, NULL, &st));
	assert_int_equal(st, TG_EINVAL);
	assert_null(tg_error_subgroup_pred(eg, NULL, NULL, &st));
	assert_int_equal(st, TG_EINVAL);
	assert_null(tg_error_subgroup(NULL, &tg_ValueError, &st));
	assert_int_equal(st, TG_EINVAL);
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_type_passthrough(void **state)
{
	const tg_error_type *ts[] = { &tg_BaseException, &tg_Exception,
				      &tg_BaseExceptionGroup,
				      &tg_ExceptionGroup };
	tg_error *eg = simple_eg();
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		tg_error *s = tg_error_subgroup(eg, ts[i], NULL);

		assert_ptr_equal(s, eg);
		tg_error_decref(s);
	}
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_type_no_match(void **state)
{
	tg_error *eg = simple_eg();
	int st = -99;

	(void)state;
	assert_null(tg_error_subgroup(eg, &tg_OSError, &st));
	assert_int_equal(st, TG_OK);
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_type_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *v = tg_error_subgroup(eg, &tg_ValueError, NULL);
	tg_error *t = tg_error_subgroup(eg, &tg_TypeError, NULL);

	(void)state;
	assert_string_equal(shape(v), "simple eg[ValueError:1,ValueError:2]");
	assert_string_equal(shape(t), "simple eg[TypeError:int]");
	assert_ptr_not_equal(v, eg);
	tg_error_decref(v);
	tg_error_decref(t);
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_predicate_passthrough(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *s = tg_error_subgroup_pred(eg, always, NULL, NULL);

	(void)state;
	assert_ptr_equal(s, eg);
	tg_error_decref(s);
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_predicate_no_match(void **state)
{
	tg_error *eg = simple_eg();

	(void)state;
	assert_null(tg_error_subgroup_pred(eg, never, NULL, NULL));
	tg_error_decref(eg);
}

static void
test_error_split_subgroup_by_predicate_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *v = tg_error_subgroup_pred(eg, is_value_error, NULL, NULL);
	tg_error *both = tg_error_subgroup_pred(eg, value_or_type, NULL, NULL);

	(void)state;
	assert_string_equal(shape(v), "simple eg[ValueError:1,ValueError:2]");
	/* the group itself does not match; every child does: a rebuilt
	 * group with all of them, as CPython's (ValueError, TypeError). */
	assert_string_equal(shape(both), SIMPLE);
	assert_ptr_not_equal(both, eg);
	tg_error_decref(v);
	tg_error_decref(both);
	tg_error_decref(eg);
}

/* ------------------------------------------------------------------ */
/* split (ExceptionGroupSplitTests)                                     */

static void
test_error_split_bad_args(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m = eg, *r = eg;

	(void)state;
	assert_int_equal(tg_error_split(eg, NULL, &m, &r), TG_EINVAL);
	assert_null(m);
	assert_null(r);
	assert_int_equal(tg_error_split(NULL, &tg_ValueError, &m, &r),
			 TG_EINVAL);
	assert_int_equal(tg_error_split(eg, &tg_ValueError, NULL, &r),
			 TG_EINVAL);
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &m, NULL),
			 TG_EINVAL);
	assert_int_equal(tg_error_split_pred(eg, NULL, NULL, &m, &r),
			 TG_EINVAL);
	tg_error_decref(eg);
}

static void
test_error_split_by_type_passthrough(void **state)
{
	const tg_error_type *ts[] = { &tg_BaseException, &tg_Exception,
				      &tg_BaseExceptionGroup,
				      &tg_ExceptionGroup };
	tg_error *eg = simple_eg();
	tg_error *m, *r;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(tg_error_split(eg, ts[i], &m, &r), TG_OK);
		assert_ptr_equal(m, eg);
		assert_null(r);
		tg_error_decref(m);
	}
	tg_error_decref(eg);
}

static void
test_error_split_by_type_no_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_OSError, &m, &r), TG_OK);
	assert_null(m);
	assert_string_equal(shape(r), SIMPLE);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_by_type_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &m, &r), TG_OK);
	assert_string_equal(shape(m), "simple eg[ValueError:1,ValueError:2]");
	assert_string_equal(shape(r), "simple eg[TypeError:int]");
	tg_error_decref(m);
	tg_error_decref(r);
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r), TG_OK);
	assert_string_equal(shape(m), "simple eg[TypeError:int]");
	assert_string_equal(shape(r), "simple eg[ValueError:1,ValueError:2]");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_by_predicate_passthrough(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split_pred(eg, always, NULL, &m, &r), TG_OK);
	assert_ptr_equal(m, eg);
	assert_null(r);
	tg_error_decref(m);
	tg_error_decref(eg);
}

static void
test_error_split_by_predicate_no_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split_pred(eg, never, NULL, &m, &r), TG_OK);
	assert_null(m);
	assert_string_equal(shape(r), SIMPLE);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_by_predicate_match(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split_pred(eg, is_value_error, NULL, &m, &r),
			 TG_OK);
	assert_string_equal(shape(m), "simple eg[ValueError:1,ValueError:2]");
	assert_string_equal(shape(r), "simple eg[TypeError:int]");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_leaf_itself(void **state)
{
	tg_error *e = leaf(&tg_ValueError, "x");
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(e, &tg_ValueError, &m, &r), TG_OK);
	assert_ptr_equal(m, e);
	assert_null(r);
	tg_error_decref(m);
	assert_int_equal(tg_error_split(e, &tg_TypeError, &m, &r), TG_OK);
	assert_null(m);
	assert_ptr_equal(r, e);
	tg_error_decref(r);
	tg_error_decref(e);
}

static void
test_error_split_shares_leaves(void **state)
{
	tg_error *eg = simple_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &m, &r), TG_OK);
	assert_ptr_equal(tg_error_child(m, 0), tg_error_child(eg, 0));
	assert_ptr_equal(tg_error_child(m, 1), tg_error_child(eg, 2));
	assert_ptr_equal(tg_error_child(r, 0), tg_error_child(eg, 1));
	tg_error_decref(eg);
	/* the parts keep the shared leaves alive */
	assert_string_equal(shape(m), "simple eg[ValueError:1,ValueError:2]");
	tg_error_decref(m);
	tg_error_decref(r);
}

static void
test_error_split_leaves_original_unchanged(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r), TG_OK);
	assert_string_equal(shape(eg), NESTED);
	assert_int_equal(tg_error_note_count(eg), 2);
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

/* ------------------------------------------------------------------ */
/* Nested groups (NestedExceptionGroupSplitTest)                        */

static void
test_error_split_nested_by_type(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &m, &r), TG_OK);
	assert_string_equal(shape(m),
			    "msg3[msg2[msg1[ValueError:6,ValueError:7],"
			    "msg1[ValueError:7,ValueError:8],ValueError:8],"
			    "ValueError:7]");
	assert_string_equal(shape(r),
			    "msg3[msg2[msg1[TypeError:int],msg1[TypeError:int]]]");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_nested_match_nothing_and_everything(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_OSError, &m, &r), TG_OK);
	assert_null(m);
	assert_string_equal(shape(r), NESTED);
	assert_ptr_not_equal(r, eg);
	tg_error_decref(r);
	assert_int_equal(tg_error_split_pred(eg, value_or_type, NULL, &m, &r),
			 TG_OK);
	assert_string_equal(shape(m), NESTED);
	assert_null(r);
	tg_error_decref(m);
	tg_error_decref(eg);
}

static void
test_error_split_nested_keeps_metadata_per_part(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;
	tg_error *parts[2];
	size_t i;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r), TG_OK);
	parts[0] = m;
	parts[1] = r;
	for (i = 0; i < 2; i++) {
		tg_error *p = parts[i];

		assert_string_equal(tg_error_message(p), "msg3");
		assert_ptr_equal(tg_error_cause(p), tg_error_cause(eg));
		assert_ptr_equal(tg_error_context(p), tg_error_context(eg));
		assert_int_equal(tg_error_note_count(p), 2);
		assert_string_equal(tg_error_note(p, 0), "note1");
		assert_string_equal(tg_error_note(p, 1), "note2");
		assert_ptr_not_equal(tg_error_note(p, 0), tg_error_note(eg, 0));
		assert_ptr_equal(tg_error_origin_of(p).file,
				 tg_error_origin_of(eg).file);
		assert_int_equal(tg_error_provenance_of(p).task_id,
				 tg_error_provenance_of(eg).task_id);
	}
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_copies_notes(void **state)
{
	tg_error *eg = group("eg", 2, leaf(&tg_ValueError, "1"),
			     leaf(&tg_TypeError, "2"));
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_add_note(eg, "note1"), TG_OK);
	assert_int_equal(tg_error_add_note(eg, "note2"), TG_OK);
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r), TG_OK);
	/* each part has its own list: annotate them independently */
	assert_int_equal(tg_error_add_note(m, "match"), TG_OK);
	assert_int_equal(tg_error_add_note(r, "rest"), TG_OK);
	assert_int_equal(tg_error_add_note(eg, "eg"), TG_OK);
	assert_int_equal(tg_error_note_count(m), 3);
	assert_int_equal(tg_error_note_count(r), 3);
	assert_int_equal(tg_error_note_count(eg), 3);
	assert_string_equal(tg_error_note(m, 2), "match");
	assert_string_equal(tg_error_note(r, 2), "rest");
	assert_string_equal(tg_error_note(eg, 2), "eg");
	assert_string_equal(tg_error_note(m, 0), "note1");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_base_exception_group(void **state)
{
	tg_error *beg = group("beg", 2, leaf(&tg_ValueError, "1"),
			      leaf(&tg_Interrupt, "2"));
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(beg, &tg_TypeError, &m, &r), TG_OK);
	assert_null(m);
	assert_string_equal(shape(r), "beg![ValueError:1,Interrupt:2]");
	tg_error_decref(r);
	/* match ValueErrors: the part narrows to ExceptionGroup, as derive
	 * does through BaseExceptionGroup's constructor */
	assert_int_equal(tg_error_split(beg, &tg_ValueError, &m, &r), TG_OK);
	assert_string_equal(shape(m), "beg[ValueError:1]");
	assert_string_equal(shape(r), "beg![Interrupt:2]");
	tg_error_decref(m);
	tg_error_decref(r);
	assert_int_equal(tg_error_split(beg, &tg_Interrupt, &m, &r), TG_OK);
	assert_string_equal(shape(m), "beg![Interrupt:2]");
	assert_string_equal(shape(r), "beg[ValueError:1]");
	assert_true(tg__error_is_fatal(m));
	assert_false(tg__error_is_fatal(r));
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(beg);
}

/* A predicate that matches group nodes by message: groups are tested. */
static bool
message_is(const tg_error *e, void *ctx)
{
	return strcmp(tg_error_message(e), ctx) == 0;
}

static void
test_error_split_nested_full_match_keeps_identity(void **state)
{
	tg_error *inner = group("inner", 2, leaf(&tg_ValueError, "a"),
				leaf(&tg_ValueError, "b"));
	tg_error *eg = group("outer", 2, tg_error_incref(inner),
			     leaf(&tg_TypeError, "t"));
	tg_error *m, *r;

	(void)state;
	/* the inner group matches as a whole: taken as is, not rebuilt */
	assert_int_equal(tg_error_split_pred(eg, message_is, "inner", &m, &r),
			 TG_OK);
	assert_ptr_equal(tg_error_child(m, 0), inner);
	assert_string_equal(shape(m), "outer[inner[ValueError:a,ValueError:b]]");
	assert_string_equal(shape(r), "outer[TypeError:t]");
	tg_error_decref(m);
	tg_error_decref(r);
	/* every leaf matches but the group does not: rebuilt */
	assert_int_equal(tg_error_split_pred(eg, is_value_error, NULL, &m, &r),
			 TG_OK);
	assert_ptr_not_equal(tg_error_child(m, 0), inner);
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(inner);
	tg_error_decref(eg);
}

static bool
record_visit(const tg_error *e, void *ctx)
{
	strcat(ctx, tg_error_is_group(e) ? "G" : "L");
	return false;
}

static void
test_error_split_predicate_sees_groups(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;
	char visits[64] = "";

	(void)state;
	assert_int_equal(tg_error_split_pred(eg, message_is, "msg1", &m, &r),
			 TG_OK);
	assert_string_equal(shape(m),
			    "msg3[msg2[msg1[ValueError:6,TypeError:int,"
			    "ValueError:7],msg1[ValueError:7,TypeError:int,"
			    "ValueError:8]]]");
	assert_ptr_equal(tg_error_child(tg_error_child(m, 0), 0),
			 tg_error_child(tg_error_child(eg, 0), 0));
	assert_string_equal(shape(r), "msg3[msg2[ValueError:8],ValueError:7]");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(tg_error_subgroup_pred(eg, record_visit, visits, NULL));
	/* preorder: every node, groups included */
	assert_string_equal(visits, "GGGLLLGLLLLL");
	tg_error_decref(eg);
}

static void
test_error_split_prunes_empty_groups(void **state)
{
	tg_error *eg = group("top", 3, group("only-v", 1, leaf(&tg_ValueError,
								   "1")),
			     group("mixed", 2, leaf(&tg_ValueError, "2"),
				   leaf(&tg_TypeError, "3")),
			     group("only-t", 1, leaf(&tg_TypeError, "4")));
	tg_error *m, *r;

	(void)state;
	assert_int_equal(tg_error_split(eg, &tg_ValueError, &m, &r), TG_OK);
	assert_string_equal(shape(m), "top[only-v[ValueError:1],"
				      "mixed[ValueError:2]]");
	assert_string_equal(shape(r), "top[mixed[TypeError:3],"
				      "only-t[TypeError:4]]");
	tg_error_decref(m);
	tg_error_decref(r);
	tg_error_decref(eg);
}

static void
test_error_split_matches_subtypes(void **state)
{
	tg_error *eg = group("io", 3, tg_error_from_errno(ENOENT, "a"),
			     tg_error_from_errno(EACCES, "b"),
			     leaf(&tg_ValueError, "c"));
	tg_error *m = tg_error_subgroup(eg, &tg_OSError, NULL);

	(void)state;
	assert_int_equal(tg_error_count(m), 2);
	assert_true(tg_error_is(tg_error_child(m, 0), &tg_FileNotFoundError));
	assert_true(tg_error_is(tg_error_child(m, 1), &tg_PermissionError));
	tg_error_decref(m);
	tg_error_decref(eg);
}

static void
test_error_split_oom_fails_cleanly(void **state)
{
	tg_error *eg = nested_eg();
	tg_error *m, *r;
	long k, total;

	(void)state;
	test_alloc_calls = 0;
	assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r), TG_OK);
	total = test_alloc_calls;
	tg_error_decref(m);
	tg_error_decref(r);
	for (k = 0; k < total; k++) {
		long before = test_alloc_live;

		test_alloc_calls = 0;
		test_alloc_fail_at = k;
		assert_int_equal(tg_error_split(eg, &tg_TypeError, &m, &r),
				 TG_ENOMEM);
		test_alloc_fail_at = -1;
		assert_null(m);
		assert_null(r);
		assert_int_equal(test_alloc_live, before);
	}
	assert_string_equal(shape(eg), NESTED);
	tg_error_decref(eg);
}

/* ------------------------------------------------------------------ */
/* except* (test_except_star.py)                                        */

static void
test_error_split_except_star_partial_match(void **state)
{
	tg_error *err = simple_eg();
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		ran++;
		assert_string_equal(shape(eg),
				    "simple eg[ValueError:1,ValueError:2]");
	}
	assert_int_equal(ran, 1);
	assert_string_equal(shape(err), "simple eg[TypeError:int]");
	tg_error_decref(err);
}

static void
test_error_split_except_star_several_clauses(void **state)
{
	tg_error *err = group("eg", 4, leaf(&tg_ValueError, "1"),
			      leaf(&tg_TypeError, "2"),
			      leaf(&tg_OSError, "3"), leaf(&tg_TypeError, "4"));
	int v = 0, t = 0, o = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		v += (int)tg_error_leaf_count(eg);
	}
	TG_EXCEPT_STAR(&err, &tg_TypeError, eg)
	{
		t += (int)tg_error_leaf_count(eg);
		assert_string_equal(shape(eg), "eg[TypeError:2,TypeError:4]");
	}
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		v += 100; /* already handled: never runs twice */
	}
	TG_EXCEPT_STAR(&err, &tg_OSError, eg)
	{
		o += (int)tg_error_leaf_count(eg);
	}
	assert_int_equal(v, 1);
	assert_int_equal(t, 2);
	assert_int_equal(o, 1);
	assert_null(err);
}

static void
test_error_split_except_star_full_match_same_group(void **state)
{
	tg_error *err = simple_eg();
	tg_error *orig = err;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_Exception, eg)
	{
		assert_ptr_equal(eg, orig);
	}
	assert_null(err);
}

static void
test_error_split_except_star_no_match_skips_clause(void **state)
{
	tg_error *err = simple_eg();
	tg_error *orig = err;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_OSError, eg)
	{
		ran++;
	}
	assert_int_equal(ran, 0);
	assert_ptr_equal(err, orig); /* unchanged, not a rebuilt copy */
	tg_error_decref(err);
}

static void
test_error_split_except_star_wraps_naked_error(void **state)
{
	tg_error *err = leaf(&tg_ValueError, "naked");
	tg_error *orig = err;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		ran++;
		assert_true(tg_error_is_group(eg));
		assert_ptr_equal(tg_error_type_of(eg), &tg_ExceptionGroup);
		assert_string_equal(tg_error_message(eg), "");
		assert_int_equal(tg_error_count(eg), 1);
		assert_ptr_equal(tg_error_child(eg, 0), orig);
	}
	assert_int_equal(ran, 1);
	assert_null(err);
}

static void
test_error_split_except_star_naked_unmatched(void **state)
{
	tg_error *err = leaf(&tg_ValueError, "naked");
	tg_error *orig = err;
	int ran = 0;

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_TypeError, eg)
	{
		ran++;
	}
	assert_int_equal(ran, 0);
	assert_ptr_equal(err, orig);
	tg_error_decref(err);
}

static void
test_error_split_except_star_naked_base_exception(void **state)
{
	tg_error *err = leaf(&tg_Interrupt, "^C");

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_Interrupt, eg)
	{
		assert_ptr_equal(tg_error_type_of(eg), &tg_BaseExceptionGroup);
	}
	assert_null(err);
}

static void
test_error_split_except_star_refuses_group_type(void **state)
{
	tg_error *err = simple_eg();
	tg_error *orig = err;

	(void)state;
	assert_null(tg_error_except_star_take(&err, &tg_ExceptionGroup));
	assert_null(tg_error_except_star_take(&err, NULL));
	assert_null(tg_error_except_star_take(NULL, &tg_ValueError));
	assert_ptr_equal(err, orig);
	tg_error_decref(err);
}

static void
test_error_split_except_star_nested_keeps_shape(void **state)
{
	tg_error *err = nested_eg();

	(void)state;
	TG_EXCEPT_STAR(&err, &tg_TypeError, eg)
	{
		assert_string_equal(
			shape(eg),
			"msg3[msg2[msg1[TypeError:int],msg1[TypeError:int]]]");
	}
	assert_string_equal(shape(err),
			    "msg3[msg2[msg1[ValueError:6,ValueError:7],"
			    "msg1[ValueError:7,ValueError:8],ValueError:8],"
			    "ValueError:7]");
	assert_int_equal(tg_error_note_count(err), 2);
	tg_error_decref(err);
}

static void
test_error_split_except_star_oom_leaves_error(void **state)
{
	tg_error *err = simple_eg();
	tg_error *orig = err;
	int ran = 0;

	(void)state;
	test_alloc_calls = 0;
	test_alloc_fail_at = 0;
	TG_EXCEPT_STAR(&err, &tg_ValueError, eg)
	{
		ran++;
	}
	test_alloc_fail_at = -1;
	assert_int_equal(ran, 0);
	assert_ptr_equal(err, orig);
	tg_error_decref(err);
}

/* The tutorial's count_lines run: a missing file, an empty file, a file
 * that is not UTF-8; except* UnicodeDecodeError handles one leaf. */
static void
test_error_split_count_lines_scenario(void **state)
{
	tg_error *kids[3] = {
		tg_error_from_errno(ENOENT, "'%s'", "wrong_name.txt"),
		leaf(&tg_ValueError, "empty_file.txt has no lines"),
		leaf(&tg_UnicodeDecodeError,
		     "'utf-8' codec can't decode byte 0xe5 in position 2: "
		     "invalid continuation byte"),
	};
	tg_error *err = tg__error_group_for_join(3, kids);
	int bad_encoding = 0;

	(void)state;
	assert_int_equal(tg_error_leaf_count(err), 3);
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_FileNotFoundError));
	TG_EXCEPT_STAR(&err, &tg_UnicodeDecodeError, eg)
	{
		bad_encoding += (int)tg_error_leaf_count(eg);
	}
	assert_int_equal(bad_encoding, 1);
	assert_int_equal(tg_error_leaf_count(err), 2);
	assert_string_equal(tg_error_message(err),
			    "unhandled errors in a task group");
	assert_true(tg_error_is(tg_error_child(err, 0), &tg_FileNotFoundError));
	assert_true(tg_error_is(tg_error_child(err, 1), &tg_ValueError));
	tg_error_decref(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, test_alloc_setup, test_alloc_teardown)
		T(test_error_split_eg_of_exceptions_is_exception_group),
		T(test_error_split_eg_of_base_exception_is_base_group),
		T(test_error_split_nested_group_fields),
		T(test_error_split_subgroup_bad_args),
		T(test_error_split_subgroup_by_type_passthrough),
		T(test_error_split_subgroup_by_type_no_match),
		T(test_error_split_subgroup_by_type_match),
		T(test_error_split_subgroup_by_predicate_passthrough),
		T(test_error_split_subgroup_by_predicate_no_match),
		T(test_error_split_subgroup_by_predicate_match),
		T(test_error_split_bad_args),
		T(test_error_split_by_type_passthrough),
		T(test_error_split_by_type_no_match),
		T(test_error_split_by_type_match),
		T(test_error_split_by_predicate_passthrough),
		T(test_error_split_by_predicate_no_match),
		T(test_error_split_by_predicate_match),
		T(test_error_split_leaf_itself),
		T(test_error_split_shares_leaves),
		T(test_error_split_leaves_original_unchanged),
		T(test_error_split_nested_by_type),
		T(test_error_split_nested_match_nothing_and_everything),
		T(test_error_split_nested_keeps_metadata_per_part),
		T(test_error_split_copies_notes),
		T(test_error_split_base_exception_group),
		T(test_error_split_nested_full_match_keeps_identity),
		T(test_error_split_predicate_sees_groups),
		T(test_error_split_prunes_empty_groups),
		T(test_error_split_matches_subtypes),
		T(test_error_split_oom_fails_cleanly),
		T(test_error_split_except_star_partial_match),
		T(test_error_split_except_star_several_clauses),
		T(test_error_split_except_star_full_match_same_group),
		T(test_error_split_except_star_no_match_skips_clause),
		T(test_error_split_except_star_wraps_naked_error),
		T(test_error_split_except_star_naked_unmatched),
		T(test_error_split_except_star_naked_base_exception),
		T(test_error_split_except_star_refuses_group_type),
		T(test_error_split_except_star_nested_keeps_shape),
		T(test_error_split_except_star_oom_leaves_error),
		T(test_error_split_count_lines_scenario),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
