/*
 * error_walk.c - what the error module's walks share so that no
 * operation recurses once per level of a tree: a stack of items that
 * starts on the C stack and grows on the heap, and leaf k of a tree found
 * with no stack at all.
 *
 * Why not recursion: a tree may be as deep as memory allows, and a task
 * runs on a worker's stack of fixed size (tg_runner_config.stack_size);
 * the recursive split overflowed a 256 KiB stack at 2,000 levels and the
 * recursive release at 10,000 (issue 21).  An explicit stack costs one
 * item per level, on the heap, and only past the first few levels.
 */
#include <string.h>

#include "alloc.h"
#include "error_node.h"

void
tg__wstack_init(tg__wstack *s, void *first, size_t cap, size_t size)
{
	s->items = first;
	s->n = 0;
	s->cap = cap;
	s->size = size;
	s->heap = false;
}

void *
tg__wstack_push(tg__wstack *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap * 2;
		char *grown;

		if (cap < s->cap || cap > SIZE_MAX / s->size)
			return NULL;
		grown = tg__malloc(cap * s->size);
		if (grown == NULL)
			return NULL;
		memcpy(grown, s->items, s->n * s->size);
		if (s->heap)
			tg__free(s->items);
		s->items = grown;
		s->cap = cap;
		s->heap = true;
	}
	return s->items + s->n++ * s->size;
}

void
tg__wstack_fini(tg__wstack *s)
{
	if (s->heap)
		tg__free(s->items);
	s->items = NULL;
	s->n = s->cap = 0;
	s->heap = false;
}

const tg_error *
tg__error_kth_leaf(const tg_error *e, size_t k)
{
	size_t i;

	if (e == NULL || k >= e->n_leaves)
		return NULL;
	/* Every group's n_leaves is the sum of its children's (seal), so
	 * the child holding leaf k is the one where the running sum passes
	 * k; it holds leaf k - (the leaves before it). */
	while (e->n_children > 0) {
		for (i = 0; i < e->n_children; i++) {
			const tg_error *c = e->children[i];

			if (k < c->n_leaves)
				break;
			k -= c->n_leaves;
		}
		if (i == e->n_children)
			return NULL; /* counts disagree: cannot happen */
		e = e->children[i];
	}
	return e;
}
