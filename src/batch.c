/*
 * batch.c - tg_spawn_each: a batch of children described once, queued as
 * ranges that split when idle workers ask for work.
 *
 * Theory of operation
 * -------------------
 * A flat batch spawned child by child pays a frame, a push and a take per
 * child; on two workers a thief pays more to move a tiny child than to run
 * it (docs/benchmarks.md), so such a batch runs no faster on two workers
 * than on one.  tg_spawn_each queues one *range* instead: a frame (the
 * first member of a tg__range block) whose body runs the children
 * [lo, hi) one after another.  Each child is still a task of its own: it
 * runs with a frame on the range body's stack as the worker's current
 * task, with its own id, spawn key, provenance and cancellation scope (the
 * group), and it is skipped, with the rest of its range, once the group is
 * cancelled.
 *
 * Splitting is lazy (Lace's and TBB's auto partitioner do the same with
 * other triggers).  The running range is on the worker's stack of ranges
 * (w->batch).  Whenever the worker answers a thief's request with nothing
 * private left to share (tg__share_work: between children, at a
 * checkpoint, in a join), the upper half of the children not yet started
 * goes to a new range on the worker's deque, which the share publishes.
 * The thief that takes it splits it again when asked in turn.  So a batch
 * costs a block per worker that takes part, and work moves in halves.
 * Blocks come from a per-worker cache of ended ranges (range_alloc,
 * tg__batch_range_free), so steady calls allocate nothing.
 *
 * Counting.  The group counts frames: a batch of n takes n keys (children
 * keep spawn order in the error tree), counts n spawns and n - 1
 * completions at once (tg__group_batch_keys), so the range is one
 * outstanding frame; a split counts one more spawn (the new range, one more
 * frame).  The generic paths run, skip and count a range like any frame:
 * a range skipped as cancelled skips its children.
 *
 * Failures.  A failed child gets a frame of its own on the group's failed
 * list, a copy of its stack frame (the key says where it goes).  When no
 * frame can be had, the error stays with the range, and the range body
 * returns it as its own (several are grouped; the error tree's reserve
 * covers that group when memory is out), so nothing is lost.
 *
 * Groups with a limit or the first-success policy do work at every
 * child's end (a slot, a win), so their batches are spawned child by child
 * (group.c, tg__spawn_each_framewise); so are an eager group's, each
 * child running at its spawn.
 */
#include <stdint.h>

#include "taskgroup/group.h"

#include "alloc.h"
#include "batch.h"
#include "error_internal.h"
#include "scheduler.h"

/* A range being run: on its body's stack, pointed to by w->batch. */
struct tg__batch_run {
	tg__range *r;
	uint64_t next; /* first child not started */
	uint64_t hi;   /* end of what this run keeps (splits lower it) */
	bool running;  /* child next - 1 is running */
	struct tg__batch_run *outer; /* the range this one runs inside */
};

static tg_error *range_body(void *arg);

char tg__range_home;

/* A range block: w's cache first, else malloc.  NULL: no memory. */
static tg__range *
range_alloc(tg__worker *w)
{
	tg__range *r = w->free_ranges;

	if (r == NULL)
		return tg__malloc(sizeof(*r));
	w->free_ranges = (tg__range *)r->frame.next;
	w->free_ranges_n--;
	return r;
}

void
tg__batch_range_free(tg__frame *f)
{
	/* Whichever worker ends a range keeps its block: ranges move
	 * between workers with the splits, and no worker waits for them. */
	tg__worker *w = tg__self();

	if (w == NULL || w->free_ranges_n >= TG__RANGES_CACHED) {
		tg__free(f);
		return;
	}
	f->next = (tg__frame *)(void *)w->free_ranges; /* frame first */
	w->free_ranges = (tg__range *)f;
	w->free_ranges_n++;
}

void
tg__batch_cache_free(tg__worker *w)
{
	while (w->free_ranges != NULL) {
		tg__range *r = w->free_ranges;

		w->free_ranges = (tg__range *)r->frame.next;
		tg__free(r);
	}
	w->free_ranges_n = 0;
}

/* Fills the block r as the range of gc for the children [lo, hi) of a
 * batch of fn over args (child i: key key0 + i), every child named name
 * (NULL: unnamed; the range's own frame carries it too, as it stands for
 * a child whose error it keeps). */
static void
range_init(tg__range *r, tg__gcore *gc, tg_task_fn fn, void *args,
	   size_t stride, uint64_t key0, const char *name,
	   const tg_site *site, uint64_t lo, uint64_t hi)
{
	r->fn = fn;
	r->args = args;
	r->stride = stride;
	r->lo = lo;
	r->hi = hi;
	r->key0 = key0;
	r->frame.fn = range_body;
	r->frame.arg = r;
	r->frame.group = gc;
	r->frame.run = NULL;
	r->frame.key = key0 + lo;
	/* relaxed: no id yet (tg__frame_id); published by the deque. */
	tg_atomic_store_relaxed_u64(&r->frame.id, 0);
	r->frame.name = name;
	r->frame.site = site;
	r->frame.home = TG__RANGE_HOME; /* to a range cache at its end */
	r->frame.open = NULL;
	r->frame.error = NULL;
	r->frame.next = NULL;
}

/* Gives the children of run from mid on to a new range on w's deque. */
static void
give_from(tg__worker *w, struct tg__batch_run *run, uint64_t mid)
{
	tg__range *r = run->r, *half;

	half = range_alloc(w);
	if (half == NULL)
		return; /* no memory: this range keeps its children */
	range_init(half, r->frame.group, r->fn, r->args, r->stride, r->key0,
		   r->frame.name, r->frame.site, mid, run->hi);
	if (!tg__deque_push(&w->dq, &half->frame)) {
		tg__batch_range_free(&half->frame);
		return;
	}
	/* Counted before the share publishes it: until then it is private. */
	tg__group_count_frame(w, r->frame.group);
	run->hi = mid;
}

void
tg__batch_split(tg__worker *w)
{
	struct tg__batch_run *run = w->batch;
	uint64_t left = run->hi - run->next;

	/* Before a child starts, keep at least it: moving one child costs
	 * more than running it.  While a child runs, the rest may all go. */
	if (left == 0 || (left == 1 && !run->running))
		return;
	give_from(w, run, run->next + left / 2);
}

void
tg__batch_give_all(tg__worker *w)
{
	struct tg__batch_run *run;

	/* Every range on this stack is running a child (the innermost the
	 * one about to block, the others the ones that led to it): all the
	 * children none of them has started go. */
	for (run = w->batch; run != NULL; run = run->outer)
		if (run->running && run->hi > run->next)
			give_from(w, run, run->next);
}

/* A range starts while workers look for work (tg__pool_hungry): it gives
 * them halves at once, one per hungry worker while it has more than one
 * child left, and publishes them.  Waiting for their requests would
 * leave the rest to this worker if its first child blocks without a
 * checkpoint (a read, a sleep): nothing answers a request then. */
static TG__COLD void
feed_hungry(tg__worker *w, struct tg__batch_run *run)
{
	/* relaxed: a hint, as tg__pool_hungry. */
	uint32_t n = tg_atomic_load_relaxed_u32(&w->pool->hungry);

	for (; n > 0 && run->hi - run->next > 1; n--)
		give_from(w, run, run->next + (run->hi - run->next) / 2);
	tg__feed_hungry(w);
}

/* A failed child's error when no frame can be had for it: kept on the
 * range (*pending, grouped after the first) and reported as the range's
 * own error, under the key of the first. */
static void
keep_pending(tg__worker *w, tg__range *r, const tg__frame *child,
	     tg_error *err, tg_error **pending)
{
	if (*pending == NULL) {
		*pending = err;
		r->frame.key = child->key;
		/* relaxed: the child's id was set by this thread. */
		tg_atomic_store_relaxed_u64(&r->frame.id,
					    tg_atomic_load_relaxed_u64(&child->id));
		r->frame.arg = child->arg;
	} else {
		tg_error *parts[2] = { *pending, err };

		/* Takes both over; the reserve stands in without memory. */
		*pending = tg_error_group_new(
			"errors of a batch kept without memory", 2, parts);
	}
	tg__failure_cancel(w->pool, r->frame.group, err);
}

/* The end of child i (its frame `child`) with error err (taken over). */
static void
child_failed(tg__worker *w, tg__range *r, const tg__frame *child,
	     tg_error *err, tg_error **pending)
{
	tg__frame *rec;
	struct tg__worker *home;

	if (tg__error_is_cancel(err)) {
		/* Cancellations are never leaves (DESIGN.md 2.4). */
		tg_error_decref(err);
		return;
	}
	rec = tg__frame_alloc(w);
	if (rec == NULL) {
		keep_pending(w, r, child, err, pending);
		return;
	}
	/* The child's frame, ended (open NULL), with rec's own home. */
	home = rec->home;
	*rec = *child;
	rec->home = home;
	tg__record_failure(w->pool, child->group, rec, err);
}

/*
 * The body of a range's frame (w->current): runs its children in index
 * order while its group is not cancelled.  Returns NULL, or the errors no
 * frame could be had for (keep_pending).
 */
static tg_error *
range_body(void *arg)
{
	tg__range *r = arg;
	tg__worker *w = tg__self();
	tg__frame *self = w->current;
	tg__gcore *gc = r->frame.group;
	tg_error *pending = NULL;
	struct tg__batch_run run = { r, r->lo, r->hi, false, w->batch };
	tg__frame child = {
		.fn = r->fn,
		.group = gc,
		.name = r->frame.name,
		.site = r->frame.site,
	};

	w->batch = &run;
	if (__builtin_expect(tg__pool_hungry(w->pool), 0))
		feed_hungry(w, &run);
	while (run.next < run.hi) {
		uint64_t i = run.next;
		tg_error *err;

		/* The attention word (tg__attention): clear, no thief asked
		 * and gc (the range's scope: w->current is the range) is not
		 * cancelled.  Set: answer it, which shares (and may split:
		 * run.hi drops) and looks at gc. */
		if (__builtin_expect(tg__attention(w), 0) && tg__attend(w))
			break; /* the rest is skipped, never run */
		run.next = i + 1;
		run.running = true;
		child.arg = tg__batch_arg(r->args, r->stride, i);
		child.key = r->key0 + i;
		/* relaxed: no id yet (tg__frame_id).  The last child and all
		 * its descendants have ended, so no one else reads it now. */
		tg_atomic_store_relaxed_u64(&child.id, 0);
		tg__set_current(w, &child);
		err = r->fn(child.arg);
		if (__builtin_expect(child.open != NULL, 0))
			err = tg__join_abandoned(w, &child, err);
		tg__set_current(w, self);
		run.running = false;
		if (__builtin_expect(err != NULL, 0))
			child_failed(w, r, &child, err, &pending);
	}
	w->batch = run.outer;
	return pending;
}

int
tg_spawn_each_named_at(tg_group *g, tg_task_fn fn, void *args, size_t count,
		       size_t stride, const char *name, const tg_site *site)
{
	tg__worker *w = tg__self();
	int status = TG_OK;
	tg__gcore *gc = tg__group_core(g, &status);
	tg__range *r;
	uint64_t key0;

	if (gc == NULL)
		return status;
	if (fn == NULL || count > TG_SPAWN_EACH_MAX ||
	    (args == NULL && stride != 0) ||
	    (count > 1 && stride != 0 &&
	     (uintptr_t)(count - 1) > (UINTPTR_MAX - (uintptr_t)args) / stride))
		return TG_EINVAL;
	if (w == NULL || w->current == NULL)
		return TG_ENOTASK;
	if (tg__scope_cancelled(w->pool, gc))
		return TG_ESHUTTINGDOWN;
	if (count == 0)
		return TG_OK;
	if (gc->hooks != 0 || gc->eager)
		return tg__spawn_each_framewise(w, gc, fn, args, count, stride,
						name, site);
	r = range_alloc(w);
	if (r == NULL)
		return TG_ENOMEM;
	/* Keys only now: nothing can fail from here on. */
	key0 = tg__group_batch_keys(w, gc, count);
	range_init(r, gc, fn, args, stride, key0, name, site, 0, count);
	tg__launch(w, &r->frame);
	return TG_OK;
}

int
tg_spawn_each_at(tg_group *g, tg_task_fn fn, void *args, size_t count,
		 size_t stride, const tg_site *site)
{
	return tg_spawn_each_named_at(g, fn, args, count, stride, NULL, site);
}
