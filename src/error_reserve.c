/*
 * error_reserve.c - the out-of-memory reserve: what stands in for an
 * error node that could not be allocated, and the count of the errors it
 * had to release ("nothing lost without counting it").
 *
 * Stand-in groups
 * ---------------
 * tg_error_group_new and the join node must not lose children.  When the
 * node cannot be allocated, a static reserve slot stands in: a group node
 * with the same message whose children are the first RESERVE_KEEP - 1
 * children (fatal and other non-Exception children first, so a Ctrl-C is
 * never the one released), followed by the slot's marker: a MemoryError
 * leaf that counts the errors released with the children that did not fit
 * (tg_error_lost_count) and names the first TG__LOST_NAMED of them (type,
 * raise site, task and spawn site, copied into the slot before they are
 * released).  The group's message says the same ("... [out of memory: 3
 * more errors released]").  A slot returns to the pool when both its
 * nodes are gone (the marker can outlive its group: split shares leaves).
 *
 * When every slot is in use, a single child is returned as it is (kept,
 * only not grouped); of several, a child that is itself a stand-in
 * nobody else holds takes the others in (room permitting) and counts the
 * rest on its own marker, so the count stays in the tree; only when there
 * is no such child are the children released, the preallocated
 * MemoryError returned (it stands for one error) and the others counted
 * process-wide (tg_error_lost_untracked).
 *
 * Misuse reports
 * --------------
 * A report that cannot be allocated while an error was handed over with
 * it is built in a slot too (a RuntimeError leaf), so neither is lost.
 *
 * docs/errors.md ("Out of memory") describes the same.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "taskgroup/error.h"

#include "atomic.h"
#include "error_node.h"

#define RESERVE_SLOTS 16
#define RESERVE_KEEP 32 /* children per stand-in, the marker included */
#define RESERVE_MESSAGE 192
/* Leaves of a released child looked at for names: enough to find a few
 * real errors among stand-ins, bounded so that releasing a huge subtree
 * under memory exhaustion stays cheap. */
#define NAME_LOOKS 16

struct reserve_slot {
	tg_error node;   /* the stand-in group, or a misuse report */
	tg_error marker; /* the group's counting MemoryError */
	tg_error *children[RESERVE_KEEP];
	char message[RESERVE_MESSAGE];
	size_t base_len; /* of the group's own message, in message */
	size_t released; /* children the group released */
	char marker_message[64];
	tg__lost named[TG__LOST_NAMED];
	size_t n_named;
	/* Nodes of this slot still alive (0: free).  Changed only through
	 * the atomic shim. */
	TG_ATOMIC(uint32_t) busy;
};

static struct reserve_slot reserve[RESERVE_SLOTS];

/* Errors released with no stand-in to count them. */
static TG_ATOMIC(uint64_t) untracked;

uint64_t
tg_error_lost_untracked(void)
{
	/* relaxed: a statistic; nothing is published with it. */
	return tg_atomic_load_relaxed_u64(&untracked);
}

static void
count_untracked(size_t n)
{
	/* relaxed: as above. */
	if (n > 0)
		tg_atomic_faa_relaxed_u64(&untracked, (uint64_t)n);
}

/* A free slot, claimed for nodes nodes; NULL when all are in use. */
static struct reserve_slot *
reserve_claim(uint32_t nodes)
{
	size_t i;

	/* seq_cst CAS (acquire included): pairs with the release half of
	 * the decrements in tg__error_reserve_free, so the previous users'
	 * accesses to the slot happen before this user's writes. */
	for (i = 0; i < RESERVE_SLOTS; i++)
		if (tg_atomic_cas_seqcst_u32(&reserve[i].busy, 0, nodes))
			return &reserve[i];
	return NULL;
}

static struct reserve_slot *
slot_of(const tg_error *e)
{
	if ((e->flags & ERR_MARKER) != 0)
		return (struct reserve_slot *)(void *)((char *)e -
			offsetof(struct reserve_slot, marker));
	return (struct reserve_slot *)(void *)e; /* node is the first member */
}

void
tg__error_reserve_free(tg_error *e)
{
	struct reserve_slot *slot = slot_of(e);

	/* Each node clears only its own part: the group and its marker may
	 * die on different threads at once. */
	if ((e->flags & ERR_MARKER) != 0) {
		memset(slot->named, 0, sizeof(slot->named));
		slot->n_named = 0;
	}
	memset(e, 0, sizeof(*e));
	/* acq_rel: the release half orders this node's accesses to the
	 * slot before the claim that finds it free (reserve_claim); the
	 * acquire half, on the last node out, orders the other node's. */
	tg_atomic_faa_acqrel_u32(&slot->busy, (uint32_t)-1);
}

const tg__lost *
tg__error_lost_named(const tg_error *e, size_t *n)
{
	struct reserve_slot *slot;

	*n = 0;
	if (e == NULL || (e->flags & ERR_MARKER) == 0)
		return NULL;
	slot = slot_of(e);
	*n = slot->n_named;
	return slot->named;
}

/* ------------------------------------------------------------------ */
/* Naming what is released                                              */

static void
copy_head(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= len)
		n = len - 1;
	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

/* A path keeps its end, where the file name is. */
static void
copy_tail(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n < len) {
		copy_head(dst, len, src);
		return;
	}
	memcpy(dst, "...", 3);
	memcpy(dst + 3, src + n - (len - 4), len - 4);
	dst[len - 1] = '\0';
}

static void
name_leaf(struct reserve_slot *slot, const tg_error *leaf)
{
	tg__lost *l = &slot->named[slot->n_named++];

	l->type = leaf->type;
	l->task_id = leaf->task_id;
	l->line = leaf->origin.line;
	copy_head(l->task_name, sizeof(l->task_name), leaf->task_name);
	copy_tail(l->file, sizeof(l->file), leaf->origin.file);
	copy_head(l->func, sizeof(l->func), leaf->origin.func);
	if (leaf->depth > 0) {
		l->spawn_line = leaf->chain[0].line;
		copy_tail(l->spawn_file, sizeof(l->spawn_file),
			  leaf->chain[0].file);
		copy_head(l->spawn_func, sizeof(l->spawn_func),
			  leaf->chain[0].func);
	} else {
		l->spawn_line = 0;
		l->spawn_file[0] = l->spawn_func[0] = '\0';
	}
}

/* The names a marker kept, into slot while it has room. */
static void
copy_names(struct reserve_slot *slot, const tg_error *marker)
{
	size_t n, i;
	const tg__lost *below = tg__error_lost_named(marker, &n);

	for (i = 0; i < n && slot->n_named < TG__LOST_NAMED; i++)
		slot->named[slot->n_named++] = below[i];
}

/* Names the first errors of e, about to be released, while the slot has
 * room: real leaves, and the names the markers below kept (a stand-in's
 * own marker, its last leaf, even when it is past the leaves looked at).
 * Finds the leaves with no stack (tg__error_kth_leaf): memory is out. */
static void
name_released(struct reserve_slot *slot, const tg_error *e)
{
	size_t k;

	for (k = 0; k < e->n_leaves && k < NAME_LOOKS; k++) {
		const tg_error *leaf = tg__error_kth_leaf(e, k);

		if (slot->n_named == TG__LOST_NAMED || leaf == NULL)
			return;
		if ((leaf->flags & ERR_MARKER) != 0)
			copy_names(slot, leaf);
		else if (leaf->n_stubs == 0)
			name_leaf(slot, leaf);
	}
	if (e->n_leaves > NAME_LOOKS &&
	    (e->flags & (ERR_RESERVED | ERR_MARKER)) == ERR_RESERVED &&
	    e->n_children > 0)
		copy_names(slot, e->children[e->n_children - 1]);
}

/* Counts and names e, then releases it. */
static size_t
release_counted(struct reserve_slot *slot, tg_error *e)
{
	size_t n = tg__error_represented(e);

	name_released(slot, e);
	tg_error_decref(e);
	return n;
}

/* ------------------------------------------------------------------ */
/* Stand-in groups                                                      */

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
reserve_budgets(size_t n, tg_error *const *children, size_t budget,
		size_t *base_left, size_t *plain_left)
{
	size_t i, bases = 0;

	for (i = 0; i < n; i++)
		bases += !tg_error_is(children[i], &tg_Exception);
	*base_left = bases < budget ? bases : budget;
	*plain_left = budget - *base_left;
}

/* The group's message and its marker's, for what was released so far
 * (the marker counts the errors). */
static void
write_messages(struct reserve_slot *slot)
{
	size_t lost = slot->marker.n_lost, n = slot->base_len, k;
	char suffix[64];

	if (slot->released > 0) {
		/* The group's own message (already in place), cut where the
		 * suffix needs the room. */
		k = (size_t)snprintf(suffix, sizeof(suffix),
				     " [out of memory: %zu more error%s "
				     "released]",
				     lost, lost == 1 ? "" : "s");
		if (n > sizeof(slot->message) - 1 - k)
			n = sizeof(slot->message) - 1 - k;
		memcpy(slot->message + n, suffix, k + 1);
		slot->base_len = n; /* what is left of it, for a fold */
	}
	if (lost == 0)
		snprintf(slot->marker_message, sizeof(slot->marker_message),
			 "out of memory");
	else
		snprintf(slot->marker_message, sizeof(slot->marker_message),
			 "out of memory: %zu error%s lost", lost,
			 lost == 1 ? "" : "s");
}

/* The stand-in's nodes, once slot->children[0..kept) (the marker last)
 * are in place. */
static tg_error *
seal_stand_in(struct reserve_slot *slot, size_t kept)
{
	tg_error *e = &slot->node;

	e->type = tg__error_group_type(kept, slot->children);
	e->children = slot->children;
	e->n_children = kept;
	tg__error_seal(e);
	return e;
}

static void
marker_init(struct reserve_slot *slot)
{
	tg_error *m = &slot->marker;

	m->refs = 1; /* the group's */
	m->flags = ERR_RESERVED | ERR_MARKER;
	m->type = &tg_MemoryError;
	m->code = ENOMEM;
	m->message = slot->marker_message;
	m->n_leaves = 1;
	m->n_stubs = 1;
	m->worker = -1;
	tg__error_seal(m);
}

/* True while the caller's reference to e is the only one. */
static bool
private_node(const tg_error *e)
{
	/* acquire: pairs with the acq_rel decrement of any thread that
	 * dropped its reference, so its reads happen before our changes. */
	return tg_atomic_load_acquire_u32(&e->refs) == 1;
}

/* A child of children that is a stand-in group only the caller holds,
 * with its own marker (also unshared) last; NULL when none. */
static tg_error *
private_stand_in(size_t n, tg_error **children)
{
	size_t i;

	for (i = 0; i < n; i++) {
		tg_error *c = children[i];
		struct reserve_slot *slot;

		if ((c->flags & (ERR_RESERVED | ERR_MARKER)) != ERR_RESERVED ||
		    c->n_children == 0 || !private_node(c))
			continue;
		slot = slot_of(c);
		if (c->children[c->n_children - 1] == &slot->marker &&
		    private_node(&slot->marker))
			return c;
	}
	return NULL;
}

/* No slot is free: into is a private stand-in among children, which
 * takes the others in while it has room (non-Exceptions first) and
 * counts the rest on its marker.  Consumes the children; returns into. */
static tg_error *
fold_into(tg_error *into, size_t n, tg_error **children)
{
	struct reserve_slot *slot = slot_of(into);
	size_t i, kept = into->n_children - 1, lost = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			tg_error *c = children[i];

			if (c == into ||
			    tg_error_is(c, &tg_Exception) != (pass == 1))
				continue;
			if (kept < RESERVE_KEEP - 1) {
				slot->children[kept++] = c;
				continue;
			}
			lost = tg__error_count_add(lost,
						   release_counted(slot, c));
			slot->released++;
		}
	}
	slot->children[kept++] = &slot->marker;
	slot->marker.n_lost = tg__error_count_add(slot->marker.n_lost, lost);
	write_messages(slot);
	return seal_stand_in(slot, kept);
}

/* No slot and no private stand-in: the children go, counted outside
 * any tree, and the preallocated MemoryError (one error) stands in. */
static tg_error *
release_untracked(size_t n, tg_error **children)
{
	size_t i, lost = 0;

	for (i = 0; i < n; i++) {
		lost = tg__error_count_add(lost,
					   tg__error_represented(children[i]));
		tg_error_decref(children[i]);
	}
	count_untracked(lost > 0 ? lost - 1 : 0);
	return tg_error_oom();
}

tg_error *
tg__error_reserve_group(const char *message, int code, size_t n,
			tg_error **children)
{
	struct reserve_slot *slot = reserve_claim(2);
	size_t i, kept = 0, lost = 0, base_left, plain_left;
	tg_error *e;

	if (slot == NULL) {
		tg_error *into;

		if (n == 1)
			return children[0]; /* kept whole, only not grouped */
		into = private_stand_in(n, children);
		return into != NULL ? fold_into(into, n, children)
				    : release_untracked(n, children);
	}
	e = &slot->node;
	e->refs = 1;
	e->flags = ERR_RESERVED;
	e->message = slot->message;
	e->worker = -1;
	e->code = code; /* a node of its own: the group's code */
	copy_head(slot->message, sizeof(slot->message), message);
	slot->base_len = strlen(slot->message);
	slot->n_named = 0;
	slot->released = 0;
	marker_init(slot);
	reserve_budgets(n, children, RESERVE_KEEP - 1, &base_left,
			&plain_left);
	for (i = 0; i < n; i++) {
		if (keep_child(children[i], &base_left, &plain_left)) {
			slot->children[kept++] = children[i];
		} else {
			lost = tg__error_count_add(
				lost, release_counted(slot, children[i]));
			slot->released++;
		}
	}
	slot->children[kept++] = &slot->marker;
	slot->marker.n_lost = lost;
	write_messages(slot);
	return seal_stand_in(slot, kept);
}

/* ------------------------------------------------------------------ */
/* Misuse reports                                                       */

tg_error *
tg__error_reserve_usage(int status, const char *message, tg_error *attached)
{
	struct reserve_slot *slot = reserve_claim(1);
	tg_error *e;

	if (slot == NULL) {
		count_untracked(tg__error_represented(attached));
		tg_error_decref(attached);
		return tg_error_oom();
	}
	e = &slot->node;
	copy_head(slot->message, sizeof(slot->message), message);
	e->refs = 1;
	e->flags = ERR_RESERVED;
	e->type = &tg_RuntimeError;
	e->code = status;
	e->message = slot->message;
	e->context = attached;
	e->n_leaves = 1;
	e->worker = -1;
	tg__error_seal(e);
	return e;
}
