/*
 * error_tree.c - group nodes, split/subgroup, the single except* clause
 * (TG_EXCEPT_STAR) and leaf iteration.  The except* statement is in
 * error_except.c; its projection (tg__error_subgroup_whole) is the split
 * below with one more rule: a group whose children all come back
 * unchanged is kept whole.
 *
 * split follows CPython's exceptiongroup_split_recursive: the matcher is
 * tried on every node; a node that matches is taken whole (same node, new
 * reference); a leaf that does not goes to rest; a group that does not is
 * split child by child and each non-empty part is rebuilt ("derived") with
 * the original's message, code, notes (copied), cause, context, origin and
 * provenance (CPython's derive and metadata copy; the code stands for an
 * attribute that an ExceptionGroup subclass copies in its derive, as
 * test_exception_group.py's EG does).  Empty parts are NULL.  Leaves are
 * shared, never copied.
 * Unlike CPython's, the walk is iterative (error_node.h, "Depth"): the
 * groups being split wait on a tg__wstack, so any depth splits on any
 * stack, in the same order, with the same allocations, as the recursion
 * did.
 *
 * When a group node cannot be allocated, tg_error_group_new takes a
 * stand-in from the out-of-memory reserve (error_reserve.c).
 */
#include <string.h>

#include "taskgroup/error.h"

#include "alloc.h"
#include "blocks.h"
#include "error_internal.h"
#include "error_node.h"
#include "provenance.h"

#define JOIN_MESSAGE "unhandled errors in a task group"

/* ------------------------------------------------------------------ */
/* Group nodes                                                          */

const tg_error_type *
tg__error_group_type(size_t n, tg_error *const *children)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!tg_error_is(children[i], &tg_Exception))
			return &tg_BaseExceptionGroup;
	return &tg_ExceptionGroup;
}

/* A heap group node over children (consumed on success only), with the
 * calling task's provenance.  NULL when out of memory. */
static tg_error *
group_alloc(const char *message, int code, size_t n, tg_error **children)
{
	tg__provenance cap;
	tg_error_provenance prov;
	err_spec spec = { tg__error_group_type(n, children), code, message,
			  NULL, NULL, 0, n };
	tg_error *e;

	tg__error_spec_capture(&spec, &cap, &prov);
	e = tg__error_alloc(&spec);
	if (e == NULL)
		return NULL;
	memcpy(e->children, children, n * sizeof(tg_error *));
	tg__error_seal(e);
	return e;
}

static bool
children_valid(size_t n, tg_error **children)
{
	size_t i;

	if (n == 0 || children == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (children[i] == NULL)
			return false;
	return true;
}

tg_error *
tg_error_group_new_code(const char *message, int code, size_t n,
			tg_error **children)
{
	tg_error *e;

	if (message == NULL || !children_valid(n, children))
		return NULL;
	e = group_alloc(message, code, n, children);
	return e != NULL ? e
			 : tg__error_reserve_group(message, code, n, children);
}

tg_error *
tg_error_group_new(const char *message, size_t n, tg_error **children)
{
	return tg_error_group_new_code(message, 0, n, children);
}

tg_error *
tg__error_group_for_join(size_t n, tg_error **children)
{
	if (!children_valid(n, children))
		return tg__error_usage(TG_EINVAL, NULL,
				       "join group built from no errors");
	return tg_error_group_new(JOIN_MESSAGE, n, children);
}

/* ------------------------------------------------------------------ */
/* Split                                                                */

typedef struct matcher {
	const tg_error_type *type; /* or pred */
	tg_error_pred pred;
	void *ctx;
	/* A group whose every child comes back unchanged is kept whole (the
	 * same node) instead of rebuilt: except*'s projection. */
	bool keep_whole;
} matcher;

static bool
matches(const matcher *m, const tg_error *e)
{
	if (m->type != NULL)
		return tg_error_is(e, m->type);
	return m->pred(e, m->ctx);
}

static void
release_all(size_t n, tg_error **v)
{
	size_t i;

	for (i = 0; i < n; i++)
		tg_error_decref(v[i]);
}

/* CPython's derive + metadata copy: a node like orig over kids (consumed,
 * also on failure).  *out is NULL when n is 0.  TG_OK or TG_ENOMEM. */
static int
derive(const tg_error *orig, size_t n, tg_error **kids, tg_error **out)
{
	tg_error_provenance prov = tg__error_prov(orig);
	err_spec spec = { tg__error_group_type(n, kids), orig->code,
			  orig->message, orig->origin.file ? &orig->origin : NULL,
			  &prov, orig->omitted, n };
	tg_error *e;

	*out = NULL;
	if (n == 0)
		return TG_OK;
	e = tg__error_alloc(&spec);
	if (e == NULL || tg__error_copy_notes(e, orig) != TG_OK) {
		tg__block_free(e);
		release_all(n, kids);
		return TG_ENOMEM;
	}
	memcpy(e->children, kids, n * sizeof(tg_error *));
	e->cause = tg_error_incref(orig->cause);
	e->context = tg_error_incref(orig->context);
	tg__error_seal(e);
	*out = e;
	return TG_OK;
}

/* Builds both parts (kids consumed); on failure neither is kept. */
static int
derive_parts(const tg_error *e, tg_error **mk, size_t nm, tg_error **rk,
	     size_t nr, tg_error **match, tg_error **rest)
{
	if (derive(e, nm, mk, match) != TG_OK) {
		if (rk != NULL)
			release_all(nr, rk);
		return TG_ENOMEM;
	}
	if (rest != NULL && derive(e, nr, rk, rest) != TG_OK) {
		tg_error_decref(*match);
		*match = NULL;
		return TG_ENOMEM;
	}
	return TG_OK;
}

/* One group being split: the parts of its children so far, parts[0..nm)
 * for match and parts[n..n + nr) for rest (no rest: subgroup). */
typedef struct split_frame {
	const tg_error *e;
	size_t next; /* the child to look at next */
	tg_error **parts;
	size_t nm, nr;
} split_frame;

/* Starts splitting group e: a frame on s with room for every child's
 * parts.  false when out of memory. */
static bool
frame_open(tg__wstack *s, const tg_error *e, bool want_rest)
{
	size_t n = e->n_children;
	tg_error **parts = tg__malloc((want_rest ? 2 : 1) * n * sizeof(*parts));
	split_frame *f;

	if (parts == NULL)
		return false;
	if ((f = tg__wstack_push(s)) == NULL) {
		tg__free(parts);
		return false;
	}
	f->e = e;
	f->next = 0;
	f->parts = parts;
	f->nm = f->nr = 0;
	return true;
}

/* Every child of the frame's group came back as it is. */
static bool
unchanged(const split_frame *f)
{
	size_t i;

	if (f->nm != f->e->n_children)
		return false;
	for (i = 0; i < f->nm; i++)
		if (f->parts[i] != f->e->children[i])
			return false;
	return true;
}

/* Out of memory: releases every part made so far. */
static void
frames_release(tg__wstack *s, bool want_rest)
{
	split_frame *f;

	while ((f = tg__wstack_top(s)) != NULL) {
		release_all(f->nm, f->parts);
		if (want_rest)
			release_all(f->nr, f->parts + f->e->n_children);
		tg__free(f->parts);
		tg__wstack_pop(s);
	}
}

/* A group that does not match itself, split child by child.  Depth first,
 * as the recursion was: a child group is split completely (its frame on
 * top) before its next sibling is looked at, and its parts go to its
 * parent's frame. */
static int
split_group(const tg_error *e, const matcher *m, tg_error **match,
	    tg_error **rest)
{
	split_frame first[16];
	tg__wstack frames;
	bool want_rest = rest != NULL;
	int rc = TG_OK;

	tg__wstack_init(&frames, first, 16, sizeof(first[0]));
	if (!frame_open(&frames, e, want_rest))
		return TG_ENOMEM;
	for (;;) {
		split_frame *f = tg__wstack_top(&frames);
		size_t n = f->e->n_children;
		tg_error **rk = want_rest ? f->parts + n : NULL;
		tg_error *cm, *cr = NULL;

		if (f->next < n) {
			const tg_error *c = f->e->children[f->next++];

			if (matches(m, c))
				f->parts[f->nm++] = tg_error_incref((tg_error *)c);
			else if (c->n_children == 0 && rk != NULL)
				rk[f->nr++] = tg_error_incref((tg_error *)c);
			else if (c->n_children > 0 &&
				 !frame_open(&frames, c, want_rest)) {
				rc = TG_ENOMEM;
				break;
			}
			continue;
		}
		/* Every child looked at: this group's parts, for its parent
		 * (or the caller). */
		if (m->keep_whole && !want_rest && unchanged(f)) {
			release_all(f->nm, f->parts);
			cm = tg_error_incref((tg_error *)f->e);
			rc = TG_OK;
		} else {
			rc = derive_parts(f->e, f->parts, f->nm, rk, f->nr, &cm,
					  want_rest ? &cr : NULL);
		}
		tg__free(f->parts);
		tg__wstack_pop(&frames);
		if (rc != TG_OK)
			break;
		if ((f = tg__wstack_top(&frames)) == NULL) {
			*match = cm;
			if (rest != NULL)
				*rest = cr;
			break;
		}
		if (cm != NULL)
			f->parts[f->nm++] = cm;
		if (cr != NULL)
			f->parts[f->e->n_children + f->nr++] = cr;
	}
	if (rc != TG_OK)
		frames_release(&frames, want_rest);
	tg__wstack_fini(&frames);
	return rc;
}

/* split of one node.  rest NULL: subgroup (no rest built). */
static int
split_node(const tg_error *e, const matcher *m, tg_error **match,
	   tg_error **rest)
{
	*match = NULL;
	if (rest != NULL)
		*rest = NULL;
	if (matches(m, e)) {
		*match = tg_error_incref((tg_error *)e);
		return TG_OK;
	}
	if (e->n_children == 0) {
		if (rest != NULL)
			*rest = tg_error_incref((tg_error *)e);
		return TG_OK;
	}
	return split_group(e, m, match, rest);
}

static int
split_with(const tg_error *e, const matcher *m, tg_error **match,
	   tg_error **rest)
{
	if (match != NULL)
		*match = NULL;
	if (rest != NULL)
		*rest = NULL;
	if (e == NULL || match == NULL || rest == NULL)
		return TG_EINVAL;
	return split_node(e, m, match, rest);
}

int
tg_error_split(const tg_error *e, const tg_error_type *type, tg_error **match,
	       tg_error **rest)
{
	matcher m = { type, NULL, NULL, false };

	if (type == NULL) {
		split_with(NULL, &m, match, rest);
		return TG_EINVAL;
	}
	return split_with(e, &m, match, rest);
}

int
tg_error_split_pred(const tg_error *e, tg_error_pred pred, void *ctx,
		    tg_error **match, tg_error **rest)
{
	matcher m = { NULL, pred, ctx, false };

	if (pred == NULL) {
		split_with(NULL, &m, match, rest);
		return TG_EINVAL;
	}
	return split_with(e, &m, match, rest);
}

static tg_error *
subgroup_with(const tg_error *e, const matcher *m, int *status)
{
	tg_error *match = NULL;
	int rc = TG_EINVAL;

	if (e != NULL && (m->type != NULL || m->pred != NULL))
		rc = split_node(e, m, &match, NULL);
	if (status != NULL)
		*status = rc;
	return match;
}

tg_error *
tg_error_subgroup(const tg_error *e, const tg_error_type *type, int *status)
{
	matcher m = { type, NULL, NULL, false };

	return subgroup_with(e, &m, status);
}

tg_error *
tg_error_subgroup_pred(const tg_error *e, tg_error_pred pred, void *ctx,
		       int *status)
{
	matcher m = { NULL, pred, ctx, false };

	return subgroup_with(e, &m, status);
}

int
tg__error_subgroup_whole(const tg_error *e, tg_error_pred pred, void *ctx,
			 tg_error **match)
{
	matcher m = { NULL, pred, ctx, true };

	return split_node(e, &m, match, NULL);
}

/* ------------------------------------------------------------------ */
/* except*                                                              */

bool
tg__error_type_is_group(const tg_error_type *type)
{
	return (type->flags & TG_ERROR_TYPE_GROUP) != 0 ||
	       tg_error_type_is(type, &tg_BaseExceptionGroup);
}

tg_error *
tg__error_wrap_bare(tg_error *e)
{
	tg_error *kids[1] = { e };
	tg_error *g = group_alloc("", 0, 1, kids);

	if (g != NULL)
		tg_error_incref(e);
	return g;
}

tg_error *
tg_error_except_star_take(tg_error **errp, const tg_error_type *type)
{
	tg_error *e, *match, *rest;

	if (errp == NULL || *errp == NULL || type == NULL ||
	    tg__error_type_is_group(type))
		return NULL;
	e = *errp;
	if (e->n_children == 0) {
		if (!tg_error_is(e, type) ||
		    (match = tg__error_wrap_bare(e)) == NULL)
			return NULL;
		*errp = NULL;
		tg_error_decref(e);
		return match;
	}
	if (tg_error_split(e, type, &match, &rest) != TG_OK)
		return NULL;
	if (match == NULL) {
		tg_error_decref(rest);
		return NULL;
	}
	*errp = rest;
	tg_error_decref(e);
	return match;
}

/* ------------------------------------------------------------------ */
/* Leaves                                                               */

/* One group whose leaves are being visited. */
typedef struct leaf_frame {
	const tg_error *e;
	size_t next; /* the child to visit next */
} leaf_frame;

/* The rest of the walk when its stack cannot grow: leaves k, k + 1, ...
 * of e, each found from the root (tg__error_kth_leaf).  Slower (depth
 * times width per leaf) but it needs no memory, so the walk still visits
 * every leaf, in the same order. */
static int
foreach_from(const tg_error *e, size_t k, int (*fn)(tg_error *, void *),
	     void *ctx)
{
	int rc = 0;

	for (; rc == 0 && k < e->n_leaves; k++)
		rc = fn((tg_error *)tg__error_kth_leaf(e, k), ctx);
	return rc;
}

int
tg_error_foreach_leaf(const tg_error *e, int (*fn)(tg_error *leaf, void *ctx),
		      void *ctx)
{
	leaf_frame first[16], *f;
	tg__wstack frames;
	size_t visited = 0;
	int rc = 0;

	if (e == NULL || fn == NULL)
		return 0;
	if (e->n_children == 0)
		return fn((tg_error *)e, ctx);
	tg__wstack_init(&frames, first, 16, sizeof(first[0]));
	f = tg__wstack_push(&frames);
	f->e = e;
	f->next = 0;
	while (rc == 0 && (f = tg__wstack_top(&frames)) != NULL) {
		const tg_error *c;

		if (f->next == f->e->n_children) {
			tg__wstack_pop(&frames);
			continue;
		}
		c = f->e->children[f->next++];
		if (c->n_children == 0) {
			rc = fn((tg_error *)c, ctx);
			visited++;
		} else if ((f = tg__wstack_push(&frames)) != NULL) {
			f->e = c;
			f->next = 0;
		} else {
			rc = foreach_from(e, visited, fn, ctx);
			break;
		}
	}
	tg__wstack_fini(&frames);
	return rc;
}
