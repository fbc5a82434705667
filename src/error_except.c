/*
 * error_except.c - the except* statement (error.h, tg_except_star_*):
 * clauses that handle, re-raise or raise, and the result CPython
 * propagates for them.
 *
 * Theory of operation
 * -------------------
 * CPython compiles try/except* into: a list of what the clauses raise or
 * re-raise, each clause matching (CHECK_EG_MATCH: split) the rest the
 * clauses before it left; at the end the rest that no clause matched is
 * appended and _PyExc_PrepReraiseStar(orig, list) gives the result.  It
 * tells re-raised errors from raised ones by their metadata (a part split
 * from orig has orig's traceback, cause, context and notes; a bare raise
 * keeps them, any other raise gives a new traceback), takes the subgroup
 * of orig whose leaves (by identity) are in the re-raised errors
 * (exception_group_projection), and, when something was raised, wraps
 * raised + [that subgroup] in ExceptionGroup("", ...), or returns the
 * single one as it is (since 3.11.4, gh-103590).  A naked orig (not a
 * group) matches at most one clause, whose outcome is the result.
 *
 * Here the clause says which it is: tg_except_star_reraise puts the
 * clause's match on the kept list, tg_except_star_raise the new error on
 * the raised list.  At the end the rest joins the kept list and:
 *  - no kept part: nothing to project;
 *  - one kept part (the common cases: nothing matched, so the part is
 *    orig itself; or only the rest, or only one re-raised match): it is
 *    the projection already, since split keeps orig's shape, order and
 *    metadata and shares its leaves;
 *  - kept parts holding every leaf of orig: orig itself;
 *  - otherwise the leaves of the kept parts, sorted by address, are the
 *    set the projection (tg__error_subgroup_whole) keeps; a group all of
 *    whose children come back is kept whole rather than rebuilt (CPython
 *    rebuilds every group: equal, another object).
 * None of this allocates in the first three cases.
 *
 * A clause that names a group type fails the statement (XS_FAILED:
 * CPython's TypeError from check_except_star_type_valid, whose context
 * is orig, is the result).  A clause that cannot be matched for want of
 * memory stops it (XS_STOPPED): no later clause runs, so that none can
 * take what this one was written for (an except* Exception after it,
 * say), and end gives what the statement holds.
 *
 * Storage: both lists live in the statement (caller storage) for their
 * first TG__EXCEPT_STAR_INLINE items and move to the heap beyond.  When
 * the heap cannot grow, a list is folded: its items become the children
 * of one tg_error_group_new("", ...), which never fails (the reserve
 * stands in and counts).  A folded kept list has the same leaves, so the
 * projection is unchanged; a folded raised list nests the raised errors
 * one level deeper.  docs/errors.md ("Out of memory") lists every case.
 */
#include <stdlib.h>
#include <string.h>

#include "taskgroup/error.h"

#include "alloc.h"
#include "atomic.h"
#include "error_internal.h"
#include "error_node.h"

enum {
	XS_DONE = 0,         /* ended, released (or zeroed storage) */
	XS_OPEN = 0x5eca,    /* begun: clauses may run */
	XS_STOPPED = 0x5709, /* no memory to match a clause: no more run */
	XS_FAILED = 0x7e77   /* a clause named a bad type: failure holds
				the TypeError */
};

#define BAD_TYPE_MESSAGE                                                     \
	"catching ExceptionGroup with except* is not allowed. Use except "   \
	"instead."

/* ------------------------------------------------------------------ */
/* The statement's lists                                                */

static void
vec_init(tg__errvec *v)
{
	v->heap = NULL;
	v->n = 0;
	v->cap = TG__EXCEPT_STAR_INLINE;
}

static tg_error **
vec_items(tg__errvec *v)
{
	return v->heap != NULL ? v->heap : v->inl;
}

/* Room for one more item; false when the heap could not grow. */
static bool
vec_room(tg__errvec *v)
{
	tg_error **grown;
	size_t cap;

	if (v->n < v->cap)
		return true;
	if (v->cap > SIZE_MAX / 2 / sizeof(tg_error *))
		return false;
	cap = v->cap * 2;
	grown = tg__malloc(cap * sizeof(tg_error *));
	if (grown == NULL)
		return false;
	memcpy(grown, vec_items(v), v->n * sizeof(tg_error *));
	tg__free(v->heap);
	v->heap = grown;
	v->cap = cap;
	return true;
}

/* The items become the children of one group (never fails: the reserve
 * stands in when memory is out). */
static void
vec_fold(tg__errvec *v)
{
	tg_error **items = vec_items(v);
	tg_error *g;

	if (v->n < 2)
		return;
	g = tg_error_group_new("", v->n, items);
	items[0] = g;
	v->n = 1;
}

/* Appends e (consumed).  TG_OK, or TG_ENOMEM: e is appended all the
 * same, after the items before it were folded into one. */
static int
vec_add(tg__errvec *v, tg_error *e, bool *folded)
{
	int rc = TG_OK;

	if (!vec_room(v)) {
		vec_fold(v);
		if (folded != NULL)
			*folded = true;
		rc = TG_ENOMEM;
	}
	vec_items(v)[v->n++] = e;
	return rc;
}

/* Releases the items and the heap block. */
static void
vec_release(tg__errvec *v)
{
	tg_error **items = vec_items(v);
	size_t i;

	for (i = 0; i < v->n; i++)
		tg_error_decref(items[i]);
	tg__free(v->heap);
	vec_init(v);
}

/* Forgets the items (taken over by the caller) and frees the heap
 * block. */
static void
vec_forget(tg__errvec *v)
{
	tg__free(v->heap);
	vec_init(v);
}

/* ------------------------------------------------------------------ */
/* Begin, clauses, outcomes                                             */

int
tg_except_star_begin(tg_except_star *st, tg_error *err)
{
	if (st == NULL)
		return TG_EINVAL;
	st->orig = err;
	st->rest = tg_error_incref(err);
	st->eg = NULL;
	st->failure = NULL;
	st->state = XS_OPEN;
	st->reraise = false;
	st->folded = false;
	vec_init(&st->kept);
	vec_init(&st->raised);
	return TG_OK;
}

/* A clause's types. */
typedef struct type_list {
	const tg_error_type *const *v;
	size_t n;
} type_list;

/* The clause's matcher: e is an instance of one of the types. */
static bool
any_type(const tg_error *e, void *ctx)
{
	const type_list *types = ctx;
	size_t i;

	for (i = 0; i < types->n; i++)
		if (tg_error_is(e, types->v[i]))
			return true;
	return false;
}

/* Python's check_except_star_type_valid: types, none of them a group
 * type (a NULL stands for what is not a type at all). */
static bool
types_valid(const type_list *types)
{
	size_t i;

	if (types->v == NULL || types->n == 0)
		return false;
	for (i = 0; i < types->n; i++)
		if (types->v[i] == NULL || tg__error_type_is_group(types->v[i]))
			return false;
	return true;
}

/* A clause named a bad type: Python's TypeError ends the statement, with
 * the handled error as its context; what the clauses raised or re-raised
 * is dropped, as CPython drops its list. */
static void
fail(tg_except_star *st)
{
	tg_error *te = tg_error_new_at(&tg_TypeError, TG_EINVAL, NULL, 0, NULL,
				       "%s", BAD_TYPE_MESSAGE);

	if (te == tg_error_oom())
		/* The report with orig as its context, in a reserve slot if
		 * need be, so that orig is not lost. */
		te = tg__error_usage(TG_EINVAL, st->orig, "%s",
				     BAD_TYPE_MESSAGE);
	else
		tg__error_set_context(te, st->orig);
	st->orig = NULL;
	tg_error_decref(st->rest);
	st->rest = NULL;
	vec_release(&st->kept);
	vec_release(&st->raised);
	st->failure = te;
	st->state = XS_FAILED;
}

tg_error *
tg_except_star_clause_end(tg_except_star *st)
{
	tg_error *eg;

	if (st == NULL || (eg = st->eg) == NULL)
		return NULL;
	st->eg = NULL;
	if (st->reraise)
		(void)vec_add(&st->kept, eg, &st->folded);
	else
		tg_error_decref(eg);
	st->reraise = false;
	return NULL;
}

tg_error *
tg_except_star_clause(tg_except_star *st, const tg_error_type *const *types,
		      size_t n)
{
	type_list list = { types, n };
	tg_error *e, *match = NULL, *rest = NULL;

	if (st == NULL)
		return NULL;
	tg_except_star_clause_end(st);
	if (st->state != XS_OPEN || st->orig == NULL)
		return NULL;
	/* CPython checks the types before it looks at what is left, so a
	 * bad clause fails the statement even when nothing is left. */
	if (!types_valid(&list)) {
		fail(st);
		return NULL;
	}
	if ((e = st->rest) == NULL)
		return NULL;
	/* No memory to match: this clause and the ones after it do not
	 * run (CPython's MemoryError would end the statement), so that a
	 * later clause cannot take what this one was written for; end gives
	 * what the statement holds, the rest unhandled. */
	if (e->n_children == 0) {
		/* Naked: wrapped when it matches (CPython's
		 * exception_group_match). */
		if (!any_type(e, &list))
			return NULL;
		if ((match = tg__error_wrap_bare(e)) == NULL) {
			st->state = XS_STOPPED;
			return NULL;
		}
	} else {
		if (tg_error_split_pred(e, any_type, &list, &match, &rest) !=
		    TG_OK) {
			st->state = XS_STOPPED;
			return NULL;
		}
		if (match == NULL) {
			/* Nothing matched: the rest stays the same node. */
			tg_error_decref(rest);
			return NULL;
		}
	}
	st->rest = rest;
	tg_error_decref(e);
	st->eg = match;
	st->reraise = false;
	return match;
}

int
tg_except_star_reraise(tg_except_star *st)
{
	if (st == NULL)
		return TG_EINVAL;
	if (st->state != XS_OPEN || st->eg == NULL)
		return TG_ESTATE;
	st->reraise = true;
	return TG_OK;
}

int
tg_except_star_raise(tg_except_star *st, tg_error *e)
{
	if (e == NULL)
		return TG_EINVAL;
	if (st == NULL || st->state != XS_OPEN || st->eg == NULL) {
		tg_error_decref(e);
		return st == NULL ? TG_EINVAL : TG_ESTATE;
	}
	/* Python's __context__: the exception being handled, set when the
	 * new one is raised.  Only an error the caller holds alone may
	 * change (which also rules out a cycle: eg could reach e only
	 * through a reference of its own).  acquire: pairs with the acq_rel
	 * decrement of a thread that dropped its reference. */
	if (e != st->eg && e->context == NULL &&
	    (e->flags & ERR_IMMORTAL) == 0 &&
	    tg_atomic_load_acquire_u32(&e->refs) == 1)
		tg__error_set_context(e, tg_error_incref(st->eg));
	return vec_add(&st->raised, e, NULL);
}

int
tg_except_star_raise_from(tg_except_star *st, tg_error *e, tg_error *cause)
{
	int cause_rc = TG_OK, rc;

	if (e == NULL) {
		tg_error_decref(cause);
		return TG_EINVAL;
	}
	if (cause != NULL)
		cause_rc = tg_error_set_cause(e, cause);
	rc = tg_except_star_raise(st, e);
	return rc != TG_OK ? rc : cause_rc;
}

/* ------------------------------------------------------------------ */
/* The result                                                           */

/* The leaves the projection keeps, sorted by address. */
typedef struct leaf_set {
	const tg_error **v;
	size_t n, cap;
} leaf_set;

static int
collect_leaf(tg_error *leaf, void *ctx)
{
	leaf_set *s = ctx;

	if (s->n < s->cap)
		s->v[s->n++] = leaf;
	return 0;
}

static int
cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const tg_error *const *)a;
	uintptr_t y = (uintptr_t)*(const tg_error *const *)b;

	return x < y ? -1 : x > y;
}

/* CPython's EXCEPTION_GROUP_MATCH_INSTANCE_IDS: a leaf in the set;
 * groups never match (they are looked into). */
static bool
in_set(const tg_error *e, void *ctx)
{
	const leaf_set *s = ctx;

	if (e->n_children > 0)
		return false;
	return bsearch(&e, s->v, s->n, sizeof(s->v[0]), cmp_addr) != NULL;
}

/* The subgroup of orig (a group) holding the leaves of the n parts.
 * TG_OK (*out set) or TG_ENOMEM. */
static int
project(const tg_error *orig, tg_error **parts, size_t n, tg_error **out)
{
	leaf_set set = { NULL, 0, 0 };
	size_t i, total = 0;
	int rc;

	for (i = 0; i < n; i++)
		total = tg__error_count_add(total, parts[i]->n_leaves);
	if (total > SIZE_MAX / sizeof(set.v[0]))
		return TG_ENOMEM;
	set.v = tg__malloc(total * sizeof(set.v[0]));
	if (set.v == NULL)
		return TG_ENOMEM;
	set.cap = total;
	for (i = 0; i < n; i++)
		tg_error_foreach_leaf(parts[i], collect_leaf, &set);
	qsort(set.v, set.n, sizeof(set.v[0]), cmp_addr);
	rc = tg__error_subgroup_whole(orig, in_set, &set, out);
	tg__free(set.v);
	return rc;
}

/* What goes back in the original shape: the kept parts (consumed)
 * projected on orig.  NULL when nothing is kept. */
static tg_error *
kept_result(tg_except_star *st)
{
	tg_error **parts = vec_items(&st->kept), *out;
	size_t i, n = st->kept.n, total = 0;

	if (n == 0)
		return NULL;
	if (n == 1 && !st->folded) {
		out = parts[0];
		vec_forget(&st->kept);
		return out;
	}
	for (i = 0; i < n; i++)
		total = tg__error_count_add(total, parts[i]->n_leaves);
	if (st->orig->n_children > 0 && !st->folded &&
	    total == st->orig->n_leaves) {
		/* Every leaf is kept: orig itself (the parts are disjoint:
		 * each leaf went to one clause or stayed in the rest). */
		vec_release(&st->kept);
		return tg_error_incref(st->orig);
	}
	if (st->orig->n_children > 0 &&
	    project(st->orig, parts, n, &out) == TG_OK) {
		vec_release(&st->kept);
		return out;
	}
	/* No memory for the projection (or a naked orig, which keeps at
	 * most one part): the parts side by side, every error still in. */
	vec_fold(&st->kept);
	out = vec_items(&st->kept)[0];
	vec_forget(&st->kept);
	return out;
}

tg_error *
tg_except_star_end(tg_except_star *st)
{
	tg_error *kept, *result, **raised;

	if (st == NULL)
		return NULL;
	tg_except_star_clause_end(st);
	if (st->state == XS_FAILED) {
		result = st->failure;
		st->failure = NULL;
		st->state = XS_DONE;
		return result;
	}
	if (st->state != XS_OPEN && st->state != XS_STOPPED)
		return NULL;
	if (st->rest != NULL)
		(void)vec_add(&st->kept, st->rest, &st->folded);
	st->rest = NULL;
	kept = kept_result(st);
	if (st->raised.n == 0) {
		result = kept;
	} else {
		if (kept != NULL)
			(void)vec_add(&st->raised, kept, NULL);
		raised = vec_items(&st->raised);
		result = st->raised.n == 1
				 ? raised[0]
				 : tg_error_group_new("", st->raised.n, raised);
		vec_forget(&st->raised);
	}
	tg_error_decref(st->orig);
	st->orig = NULL;
	st->state = XS_DONE;
	return result;
}

void
tg_except_star_release(tg_except_star *st)
{
	if (st == NULL || (st->state != XS_OPEN && st->state != XS_STOPPED &&
			   st->state != XS_FAILED))
		return;
	tg_error_decref(st->eg);
	tg_error_decref(st->orig);
	tg_error_decref(st->rest);
	tg_error_decref(st->failure);
	st->eg = st->orig = st->rest = st->failure = NULL;
	vec_release(&st->kept);
	vec_release(&st->raised);
	st->state = XS_DONE;
}
