/*
 * error_tree.c - group nodes, split/subgroup, except* and leaf iteration.
 *
 * split follows CPython's exceptiongroup_split_recursive: the matcher is
 * tried on every node; a node that matches is taken whole (same node, new
 * reference); a leaf that does not goes to rest; a group that does not is
 * split child by child and each non-empty part is rebuilt ("derived") with
 * the original's message, notes (copied), cause, context, origin and
 * provenance.  Empty parts are NULL.  Leaves are shared, never copied.
 *
 * Out of memory while building a group node
 * -----------------------------------------
 * tg_error_group_new and the join node must not lose children.  When the
 * node cannot be allocated, a static reserve slot stands in: a group node
 * with the same message whose children are the first RESERVE_KEEP - 1
 * children (fatal and other non-Exception children first, so a Ctrl-C is
 * never the one released), followed by the immortal MemoryError so the
 * tree says what happened.  Children beyond that are released and counted
 * in the message ("... [out of memory: 3 more errors released]").  The
 * slot returns to the pool when the stand-in's last reference goes.  Only
 * when every slot is in use are the children released and the immortal
 * MemoryError returned alone.  docs/errors.md describes the same.
 */
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "alloc.h"
#include "blocks.h"
#include "atomic.h"
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
group_alloc(const char *message, size_t n, tg_error **children)
{
	tg__provenance cap;
	tg_error_provenance prov;
	err_spec spec = { tg__error_group_type(n, children), 0, message,
			  NULL, NULL, 0, n };
	tg_error *e;

	if (tg__provenance_capture(&cap)) {
		prov.task_id = cap.task_id;
		prov.task_name = cap.task_name;
		prov.worker = cap.worker;
		prov.depth = cap.depth;
		prov.chain = cap.chain;
		spec.prov = &prov;
		spec.prov_omitted = cap.omitted;
	}
	e = tg__error_alloc(&spec);
	if (e == NULL)
		return NULL;
	memcpy(e->children, children, n * sizeof(tg_error *));
	tg__error_seal(e);
	return e;
}

/* ------------------------------------------------------------------ */
/* The out-of-memory reserve                                            */

#define RESERVE_SLOTS 16
#define RESERVE_KEEP 32 /* children per stand-in, the MemoryError included */
#define RESERVE_MESSAGE 192

struct reserve_slot {
	tg_error node; /* first member: the node's address is the slot's */
	tg_error *children[RESERVE_KEEP];
	char message[RESERVE_MESSAGE];
	TG_ATOMIC(uint32_t) busy;
};

static struct reserve_slot reserve[RESERVE_SLOTS];

static struct reserve_slot *
reserve_claim(void)
{
	size_t i;

	/* seq_cst CAS (acquire included): pairs with the release store in
	 * tg__error_reserve_free, so the previous user's accesses to the
	 * slot happen before this user's writes. */
	for (i = 0; i < RESERVE_SLOTS; i++)
		if (tg_atomic_cas_seqcst_u32(&reserve[i].busy, 0, 1))
			return &reserve[i];
	return NULL;
}

void
tg__error_reserve_free(tg_error *e)
{
	struct reserve_slot *slot = (struct reserve_slot *)(void *)e;

	memset(&slot->node, 0, sizeof(slot->node));
	/* release: every access to the slot above happens before the next
	 * claimer's CAS sees it free (pairs with reserve_claim). */
	tg_atomic_store_release_u32(&slot->busy, 0);
}

/* Which children a stand-in keeps: the non-Exceptions first (fatal and
 * cancellation kinds), then the others, in order, up to budget in all. */
static bool
keep_child(tg_error *c, size_t *base_left, size_t *plain_left)
{
	size_t *left = tg_error_is(c, &tg_Exception) ? plain_left : base_left;

	if (*left == 0)
		return false;
	(*left)--;
	return true;
}

static void
reserve_budgets(size_t n, tg_error **children, size_t *base_left,
		size_t *plain_left)
{
	size_t i, bases = 0, budget = RESERVE_KEEP - 1;

	for (i = 0; i < n; i++)
		bases += !tg_error_is(children[i], &tg_Exception);
	*base_left = bases < budget ? bases : budget;
	*plain_left = budget - *base_left;
}

/* The stand-in group for children when no node could be allocated.
 * Consumes the children; never NULL. */
static tg_error *
reserve_group(const char *message, size_t n, tg_error **children)
{
	struct reserve_slot *slot = reserve_claim();
	size_t i, kept = 0, base_left, plain_left;
	tg_error *e;

	if (slot == NULL) {
		for (i = 0; i < n; i++)
			tg_error_decref(children[i]);
		return tg_error_oom();
	}
	reserve_budgets(n, children, &base_left, &plain_left);
	for (i = 0; i < n; i++) {
		if (keep_child(children[i], &base_left, &plain_left))
			slot->children[kept++] = children[i];
		else
			tg_error_decref(children[i]);
	}
	slot->children[kept++] = tg_error_oom();
	if (kept - 1 == n)
		snprintf(slot->message, sizeof(slot->message), "%s", message);
	else
		snprintf(slot->message, sizeof(slot->message),
			 "%s [out of memory: %zu more errors released]",
			 message, n - (kept - 1));
	e = &slot->node;
	e->refs = 1;
	e->flags = ERR_RESERVED;
	e->type = tg__error_group_type(kept, slot->children);
	e->message = slot->message;
	e->children = slot->children;
	e->n_children = kept;
	e->worker = -1;
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
tg_error_group_new(const char *message, size_t n, tg_error **children)
{
	tg_error *e;

	if (message == NULL || !children_valid(n, children))
		return NULL;
	e = group_alloc(message, n, children);
	return e != NULL ? e : reserve_group(message, n, children);
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

static int split_node(const tg_error *e, const matcher *m, tg_error **match,
		      tg_error **rest);

/* The parts of a group that does not match itself.  mk and rk have room
 * for every child (rk NULL when rest is not wanted). */
static int
split_children(const tg_error *e, const matcher *m, tg_error **mk,
	       tg_error **rk, size_t *nm, size_t *nr)
{
	size_t i;
	tg_error *cm, *cr;

	*nm = *nr = 0;
	for (i = 0; i < e->n_children; i++) {
		if (split_node(e->children[i], m, &cm, rk ? &cr : NULL) !=
		    TG_OK) {
			release_all(*nm, mk);
			if (rk != NULL)
				release_all(*nr, rk);
			return TG_ENOMEM;
		}
		if (cm != NULL)
			mk[(*nm)++] = cm;
		if (rk != NULL && cr != NULL)
			rk[(*nr)++] = cr;
	}
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

static int
split_group(const tg_error *e, const matcher *m, tg_error **match,
	    tg_error **rest)
{
	size_t n = e->n_children, nm, nr;
	tg_error **parts = tg__malloc((rest ? 2 : 1) * n * sizeof(tg_error *));
	tg_error **rk;
	int rc;

	if (parts == NULL)
		return TG_ENOMEM;
	rk = rest != NULL ? parts + n : NULL;
	rc = split_children(e, m, parts, rk, &nm, &nr);
	if (rc == TG_OK)
		rc = derive_parts(e, parts, nm, rk, nr, match, rest);
	tg__free(parts);
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
	matcher m = { type, NULL, NULL };

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
	matcher m = { NULL, pred, ctx };

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
	matcher m = { type, NULL, NULL };

	return subgroup_with(e, &m, status);
}

tg_error *
tg_error_subgroup_pred(const tg_error *e, tg_error_pred pred, void *ctx,
		       int *status)
{
	matcher m = { NULL, pred, ctx };

	return subgroup_with(e, &m, status);
}

/* ------------------------------------------------------------------ */
/* except*                                                              */

/* A bare error that matches an except* clause, wrapped as CPython does:
 * ExceptionGroup("", [e]).  NULL when out of memory. */
static tg_error *
wrap_bare(tg_error *e)
{
	tg_error *kids[1] = { e };
	tg_error *g = group_alloc("", 1, kids);

	if (g != NULL)
		tg_error_incref(e);
	return g;
}

tg_error *
tg_error_except_star_take(tg_error **errp, const tg_error_type *type)
{
	tg_error *e, *match, *rest;

	if (errp == NULL || *errp == NULL || type == NULL ||
	    (type->flags & TG_ERROR_TYPE_GROUP) != 0)
		return NULL;
	e = *errp;
	if (e->n_children == 0) {
		if (!tg_error_is(e, type) || (match = wrap_bare(e)) == NULL)
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

int
tg_error_foreach_leaf(const tg_error *e, int (*fn)(tg_error *leaf, void *ctx),
		      void *ctx)
{
	size_t i;
	int rc;

	if (e == NULL || fn == NULL)
		return 0;
	if (e->n_children == 0)
		return fn((tg_error *)e, ctx);
	for (i = 0; i < e->n_children; i++)
		if ((rc = tg_error_foreach_leaf(e->children[i], fn, ctx)) != 0)
			return rc;
	return 0;
}
