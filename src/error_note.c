/*
 * error_note.c - the changes an owner may make to an error (PEP 678
 * notes, the cause), the copy-on-write copy behind tg_error_with_note,
 * and the join's promotion of a fatal leaf to the root.
 */
#include <stdarg.h>
#include <string.h>

#include "taskgroup/error.h"

#include "blocks.h"
#include "atomic.h"
#include "error_internal.h"
#include "error_node.h"

/* True while the caller's reference is the only one. */
static bool
unshared(const tg_error *e)
{
	if ((e->flags & ERR_IMMORTAL) != 0)
		return false;
	/* acquire: pairs with the acq_rel decrement of any thread that
	 * dropped its reference, so its reads of e happen before the
	 * caller's changes. */
	return tg_atomic_load_acquire_u32(&e->refs) == 1;
}

/* ------------------------------------------------------------------ */
/* Notes and cause                                                      */

/* Appends note (taken over) to e's notes.  TG_OK or TG_ENOMEM (note
 * freed). */
static int
append_note(tg_error *e, char *note)
{
	size_t need = (e->n_notes + 1) * sizeof(char *);
	char **grown;

	if (note == NULL)
		return TG_ENOMEM;
	/* A block holds a class's worth: it moves only when it is full. */
	grown = tg__block_grow(e->notes, e->n_notes * sizeof(char *), need);
	if (grown == NULL) {
		tg__block_free(note);
		return TG_ENOMEM;
	}
	e->notes = grown;
	e->notes[e->n_notes++] = note;
	return TG_OK;
}

int
tg__error_copy_notes(tg_error *dst, const tg_error *src)
{
	size_t i;

	for (i = 0; i < src->n_notes; i++) {
		if (append_note(dst, tg__error_note_copy(src->notes[i])) != TG_OK) {
			tg__error_free_notes(dst);
			return TG_ENOMEM;
		}
	}
	return TG_OK;
}

int
tg_error_add_note(tg_error *e, const char *fmt, ...)
{
	va_list ap;
	char *note;

	if (e == NULL || fmt == NULL)
		return TG_EINVAL;
	if (!unshared(e))
		return TG_ESTATE;
	va_start(ap, fmt);
	note = tg__error_vformat(fmt, ap);
	va_end(ap);
	return append_note(e, note);
}

/* A private copy of e sharing its children, cause and context. */
static tg_error *
shallow_copy(const tg_error *e)
{
	tg_error_provenance prov = tg__error_prov(e);
	err_spec spec = { e->type, e->code, e->message,
			  e->origin.file ? &e->origin : NULL,
			  &prov, e->omitted, e->n_children };
	tg_error *c = tg__error_alloc(&spec);
	size_t i;

	if (c == NULL)
		return NULL;
	if (tg__error_copy_notes(c, e) != TG_OK) {
		tg__block_free(c);
		return NULL;
	}
	for (i = 0; i < e->n_children; i++)
		c->children[i] = tg_error_incref(e->children[i]);
	c->cause = tg_error_incref(e->cause);
	c->context = tg_error_incref(e->context);
	/* A copy of a stand-in leaf stands for what it stood for (seal
	 * recomputes both counts of a group from its children). */
	c->n_stubs = e->n_stubs;
	c->n_lost = e->n_lost;
	tg__error_seal(c);
	return c;
}

/* tg__error_promote_fatal's helpers: the first fatal leaf, and a
 * predicate matching one node by identity. */
static int
first_fatal(tg_error *leaf, void *ctx)
{
	if ((leaf->type->flags & TG_ERROR_TYPE_FATAL) == 0)
		return 0;
	*(const tg_error **)ctx = leaf;
	return 1;
}

static bool
is_node(const tg_error *e, void *node)
{
	return e == node;
}

tg_error *
tg__error_promote_fatal(tg_error *group)
{
	const tg_error *fatal = NULL;
	tg_error *match = NULL, *rest = NULL, *root, *ctx;

	tg_error_foreach_leaf(group, first_fatal, &fatal);
	if (fatal == NULL || fatal == group)
		return group;
	/* Out of memory below: the group itself still holds everything (and
	 * is a BaseExceptionGroup), so nothing is lost. */
	if (tg_error_split_pred(group, is_node, (void *)fatal, &match,
				&rest) != TG_OK)
		return group;
	tg_error_decref(match);
	root = shallow_copy(fatal);
	if (root == NULL) {
		tg_error_decref(rest);
		return group;
	}
	if (fatal->context != NULL && rest != NULL) {
		tg_error *parts[2] = { tg_error_incref(fatal->context), rest };

		ctx = tg__error_group_for_join(2, parts);
	} else {
		ctx = rest != NULL ? rest : tg_error_incref(fatal->context);
	}
	tg_error_decref(root->context); /* root is private: no reader */
	root->context = ctx;
	tg_error_decref(group);
	return root;
}

tg_error *
tg_error_with_note(tg_error *e, const char *fmt, ...)
{
	va_list ap;
	char *note;
	tg_error *target;

	if (e == NULL || fmt == NULL)
		return e;
	va_start(ap, fmt);
	note = tg__error_vformat(fmt, ap);
	va_end(ap);
	if (note == NULL)
		return e;
	target = unshared(e) ? e : shallow_copy(e);
	if (target == NULL) {
		tg__block_free(note);
		return e;
	}
	if (append_note(target, note) != TG_OK) {
		if (target != e)
			tg_error_decref(target);
		return e;
	}
	if (target != e)
		tg_error_decref(e);
	return target;
}

/* Pushes e (when not NULL) on a walk's stack of nodes; false when the
 * stack could not grow. */
static bool
push_node(tg__wstack *s, const tg_error *e)
{
	const tg_error **slot;

	if (e == NULL)
		return true;
	if ((slot = tg__wstack_push(s)) == NULL)
		return false;
	*slot = e;
	return true;
}

/* 1 if target is from itself, or is reachable from it through children,
 * cause or context; 0 if not; -1 when the walk's stack could not grow
 * (out of memory).  The nodes still to look at wait on a tg__wstack, so
 * a tree of any depth takes no more C stack. */
static int
reaches(const tg_error *from, const tg_error *target)
{
	const tg_error *first[32];
	tg__wstack todo;
	int found = 0;

	tg__wstack_init(&todo, first, 32, sizeof(first[0]));
	if (!push_node(&todo, from))
		found = -1;
	while (found == 0 && todo.n > 0) {
		const tg_error *n = *(const tg_error **)tg__wstack_top(&todo);
		size_t i;

		tg__wstack_pop(&todo);
		if (n == target) {
			found = 1;
			break;
		}
		/* Pushed in reverse, so that nodes are looked at in the order
		 * of a recursive walk: the children, the cause, the context. */
		if (!push_node(&todo, n->context) ||
		    !push_node(&todo, n->cause))
			found = -1;
		for (i = n->n_children; i-- > 0 && found == 0;)
			if (!push_node(&todo, n->children[i]))
				found = -1;
	}
	tg__wstack_fini(&todo);
	return found;
}

int
tg_error_set_cause(tg_error *e, tg_error *cause)
{
	int cycle = e != NULL ? reaches(cause, e) : 1;

	if (cycle != 0) {
		tg_error_decref(cause);
		return cycle < 0 ? TG_ENOMEM : TG_EINVAL;
	}
	if (!unshared(e)) {
		tg_error_decref(cause);
		return TG_ESTATE;
	}
	tg_error_decref(e->cause);
	e->cause = cause;
	return TG_OK;
}

