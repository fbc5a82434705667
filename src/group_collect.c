/*
 * group_collect.c - what a join builds from its group's failed list: the
 * failures sorted by spawn key into one error node, the body's error last
 * (or nested groups of 32 from the stack when no array can be had), and
 * a first-success group's non-fatal failures dropped.  Split from group.c:
 * only the join's slow path calls in here.
 */
#include "taskgroup/error.h"

#include "alloc.h"
#include "error_internal.h"
#include "scheduler.h"

/* tg__collect() when no array for the children can be had: nested groups of
 * at most 32 built from the stack, each holding the previous one first, so
 * nothing is lost and the leaves keep spawn order depth-first. */
static tg_error *
collect_chunked(tg__worker *w, tg__frame *sorted, tg_error *body_err)
{
	tg_error *chunk[32];
	tg_error *acc = NULL;
	size_t k;

	while (sorted != NULL) {
		k = 0;
		if (acc != NULL)
			chunk[k++] = acc;
		while (sorted != NULL && k < 32) {
			tg__frame *next = sorted->next;

			chunk[k++] = sorted->error;
			tg__frame_free(w, sorted);
			sorted = next;
		}
		acc = tg__error_group_for_join(k, chunk);
	}
	if (body_err == NULL)
		return acc;
	if (acc == NULL)
		return tg__error_group_for_join(1, &body_err);
	chunk[0] = acc;
	chunk[1] = body_err;
	return tg__error_group_for_join(2, chunk);
}

/* Sorts a failed-frame list by spawn key (merge sort on the list itself:
 * no allocation, stable). */
static tg__frame *
sort_by_key(tg__frame *list)
{
	tg__frame *a = NULL, *b = NULL, *f, *head = NULL, **tail = &head;
	int flip = 0;

	if (list == NULL || list->next == NULL)
		return list;
	while (list != NULL) { /* split alternately */
		f = list;
		list = list->next;
		if (flip ^= 1) {
			f->next = a;
			a = f;
		} else {
			f->next = b;
			b = f;
		}
	}
	a = sort_by_key(a);
	b = sort_by_key(b);
	while (a != NULL && b != NULL) {
		tg__frame **smaller = a->key <= b->key ? &a : &b;

		*tail = *smaller;
		tail = &(*smaller)->next;
		*smaller = (*smaller)->next;
	}
	*tail = a != NULL ? a : b;
	return head;
}

/* Builds the join result from the failed frames (any order) plus the
 * body's error (may be NULL), freeing the frames: children in spawn
 * order, the body's error last.  Small sets use the stack. */
tg_error *
tg__collect(tg__worker *w, tg__frame *failed, tg_error *body_err)
{
	tg_error *stack_children[32];
	tg_error **children = stack_children;
	tg_error *result;
	size_t n = 0, i;
	tg__frame *f;

	failed = sort_by_key(failed);
	for (f = failed; f != NULL; f = f->next)
		n++;
	if (n + 1 > 32) {
		children = tg__malloc((n + 1) * sizeof(*children));
		if (children == NULL)
			return collect_chunked(w, failed, body_err);
	}
	for (i = 0; failed != NULL; failed = f) {
		f = failed->next;
		children[i++] = failed->error;
		tg__frame_free(w, failed);
	}
	if (body_err != NULL)
		children[n++] = body_err;
	result = tg__error_group_for_join(n, children);
	if (children != stack_children)
		tg__free(children);
	return result;
}

/* Drops the failures of a first-success group that has a winner: only
 * fatal errors survive a success.  Returns the remaining list. */
tg__frame *
tg__drop_nonfatal(tg__worker *w, tg__frame *failed)
{
	tg__frame *keep = NULL, *next;

	for (; failed != NULL; failed = next) {
		next = failed->next;
		if (tg__error_is_fatal(failed->error)) {
			failed->next = keep;
			keep = failed;
		} else {
			tg_error_decref(failed->error);
			tg__frame_free(w, failed);
		}
	}
	return keep;
}

