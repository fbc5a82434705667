/*
 * group_spawn.c - spawning into a group: tg_spawn and its forms, the
 * spawn keys (the order of a group's errors), and tg_spawn_each's
 * one-frame-per-child path.  group.c opens and joins; the counting rules
 * both rely on are in group.c's theory of operation.
 */
#include "taskgroup/cancel.h"
#include "taskgroup/group.h"

#include "alloc.h"
#include "error_internal.h"
#include "group_handle.h"
#include "scheduler.h"

/* Remote spawns get keys after every owner spawn. */
#define REMOTE_KEY_BASE (UINT64_C(1) << 63)

/* The fields of a spawned frame that do not depend on who spawns it. */
static inline void
frame_fill(tg__frame *f, tg_task_fn fn, void *arg, tg__gcore *gc,
	   const char *name, const tg_site *site)
{
	f->fn = fn;
	f->arg = arg;
	f->group = gc; /* non-NULL: not a root, so f->run is never read */
	f->name = name;
	f->site = site;
}

uint64_t
tg__group_keys(tg__worker *w, tg__gcore *gc, uint64_t n)
{
	uint64_t key;

	if (gc->owner == w->current) {
		/* The owning task itself (so on the owner's thread). */
		key = gc->spawned_local;
		gc->spawned_local += n;
		return key;
	}
	/* Any other task, also one the owner's thread runs while it helps:
	 * its spawns come after the owner's in the error order.  relaxed:
	 * the spawner's own completion (a seq_cst RMW on its group, or
	 * program order on the owner's thread) publishes the count. */
	return REMOTE_KEY_BASE +
	       tg_atomic_faa_relaxed_u64(&gc->spawned_remote, n);
}

uint64_t
tg__group_batch_keys(tg__worker *w, tg__gcore *gc, uint64_t n)
{
	uint64_t key = tg__group_keys(w, gc, n);

	/* n spawns counted, one frame to wait for: n - 1 done now. */
	if (key < REMOTE_KEY_BASE) {
		gc->done_local += n - 1; /* the owner's thread, as the keys */
	} else if (n > 1) {
		/* seq_cst RMW, as every done_remote count (tg__finish_frame):
		 * after the spawn count above in this thread's order, so a
		 * joiner that reads this count reads the spawns too
		 * (group_done reads done before spawned). */
		tg_atomic_faa_seqcst_u64(&gc->done_remote, n - 1);
	}
	return key;
}

void
tg__group_count_frame(tg__worker *w, tg__gcore *gc)
{
	if (gc->owner_worker == w) {
		/* The owner's thread: a gap in its keys, which only order. */
		gc->spawned_local++;
	} else {
		/* relaxed: as a remote spawn, published by the spawner's own
		 * completion (tg__group_keys). */
		tg_atomic_faa_relaxed_u64(&gc->spawned_remote, 1);
	}
}

/* The rest of a spawn once f is filled (frame_fill): its id and key, then
 * pending (the group is at its limit: f starts when a slot frees) or
 * queued. */
static void
spawn_frame(tg__worker *w, tg__gcore *gc, tg__frame *f, bool pending,
	    bool eager)
{
	/* relaxed: no id yet (tg__frame_id); published with the frame. */
	tg_atomic_store_relaxed_u64(&f->id, 0);
	f->key = tg__group_keys(w, gc, 1);
	if (pending)
		tg__limit_pending_push(w, gc, f);
	else if (eager)
		/* An eager child runs now, on the spawner's stack, as the
		 * child it is (its own frame, id and key; its group as scope;
		 * counted and finished as any child).  It is in the group's
		 * subtree, so this is deadlock-free by the helping rule
		 * (design.md, "Blocking"); skipped if the group was cancelled
		 * since. */
		tg__run_frame(w, f);
	else
		tg__launch(w, f);
}

/* The spawn proper, once g is known open.  wait: over a limited group's
 * limit, queue the child as pending (tg_spawn) or refuse (tg_try_spawn). */
static inline __attribute__((always_inline)) int
spawn(tg__gcore *gc, tg_task_fn fn, void *arg, const char *name,
      const tg_site *site, bool wait, bool eager)
{
	tg__worker *w = tg__self();
	tg__frame *f;
	bool pending = false;

	if (fn == NULL)
		return TG_EINVAL;
	if (w == NULL || w->current == NULL)
		return TG_ENOTASK;
	if (tg__scope_cancelled(w->pool, gc))
		return TG_ESHUTTINGDOWN;
	if (gc->limit != 0 && !tg__limit_slot_take(gc)) {
		if (!wait)
			return TG_EAGAIN;
		pending = true;
	}
	f = tg__frame_alloc(w);
	if (f == NULL) {
		if (gc->limit != 0 && !pending)
			tg__limit_release(w, gc);
		return TG_ENOMEM;
	}
	frame_fill(f, fn, arg, gc, name, site);
	spawn_frame(w, gc, f, pending, eager || gc->eager);
	return TG_OK;
}

/* tg_spawn_at when its fast path does not apply: the general spawn. */
static TG__COLD int
spawn_slow(tg_group *g, tg_task_fn fn, void *arg, const tg_site *site)
{
	tg__gcore *gc = open_core(g);

	/* An eager group's children run at once, by the eager path. */
	if (gc != NULL && gc->eager)
		return tg_spawn_eager_at(g, fn, arg, site);
	/* Answer what set the attention word, so that the next spawn can
	 * take the fast path again. */
	tg__attend(tg__self());

	if (gc == NULL)
		return closed_status(g);
	return spawn(gc, fn, arg, NULL, site, true, false);
}

/*
 * The fast path: the group's owner spawning into its open, unlimited
 * group, with its worker's attention word clear, a cached frame and room
 * on its deque.  Every check falls through to spawn_slow, which repeats
 * the whole spawn, so this path only has to be right when all of them
 * pass.  It makes no call except in tail position, so the compiler saves
 * no registers.
 *
 * The clear attention word stands for two checks (see tg__attend): no
 * thief asked this worker for work, and the running task's scope is not
 * cancelled, so neither is gc, which the task opened inside it.
 */
TG__HOT_ALIGN int
tg_spawn_at(tg_group *g, tg_task_fn fn, void *arg, const tg_site *site)
{
	/* tg__no_worker on other threads: its attention word is set. */
	tg__worker *w = tg__self_or_none();
	tg__gcore *gc;
	tg__frame *f;

	if (__builtin_expect(!handle_open(g) || fn == NULL, 0))
		return spawn_slow(g, fn, arg, site);
	gc = handle_of(g)->core;
	if (__builtin_expect(gc->spawn_owner != w->current ||
				     tg__attention(w) ||
				     w->free_frames == NULL ||
				     !tg__deque_has_room(&w->dq),
			     0))
		return spawn_slow(g, fn, arg, site);
	f = tg__frame_alloc(w);
	frame_fill(f, fn, arg, gc, NULL, site);
	f->key = gc->spawned_local++;
	/* relaxed: as in spawn_frame. */
	tg_atomic_store_relaxed_u64(&f->id, 0);
	tg__deque_push_room(&w->dq, f);
	return TG_OK;
}

int
tg_try_spawn_at(tg_group *g, tg_task_fn fn, void *arg, const tg_site *site)
{
	tg__gcore *gc = open_core(g);

	if (gc == NULL)
		return closed_status(g);
	return spawn(gc, fn, arg, NULL, site, false, false);
}

int
tg_spawn_named_at(tg_group *g, tg_task_fn fn, void *arg, const char *name,
		  const tg_site *site)
{
	tg__gcore *gc = open_core(g);

	if (gc == NULL)
		return closed_status(g);
	return spawn(gc, fn, arg, name, site, true, false);
}

/* tg_spawn_eager_at when its fast path does not apply. */
static TG__COLD int
eager_slow(tg_group *g, tg_task_fn fn, void *arg, const tg_site *site)
{
	tg__gcore *gc = open_core(g);

	tg__attend(tg__self()); /* as spawn_slow */
	if (gc == NULL)
		return closed_status(g);
	return spawn(gc, fn, arg, NULL, site, true, true);
}

/*
 * The eager fast path: the owner spawning into its open group without
 * hooks (no limit, not first-success), with its attention word clear (so
 * gc is not cancelled: see tg_spawn_at) and a cached frame.  The child
 * runs at once through the join loop's own runner (tg__run_body), which
 * counts a success with a local increment; a failure, a child on another
 * thread's group, anything else takes eager_slow, which repeats the
 * whole spawn.  Queue, take and steal checks are what it saves.
 */
TG__HOT_ALIGN int
tg_spawn_eager_at(tg_group *g, tg_task_fn fn, void *arg, const tg_site *site)
{
	tg__worker *w = tg__self_or_none();
	tg__gcore *gc;
	tg__frame *f;

	if (__builtin_expect(!handle_open(g) || fn == NULL, 0))
		return eager_slow(g, fn, arg, site);
	gc = handle_of(g)->core;
	if (__builtin_expect(gc->owner != w->current || gc->hooks != 0 ||
				     tg__attention(w) ||
				     w->free_frames == NULL,
			     0))
		return eager_slow(g, fn, arg, site);
	f = tg__frame_alloc(w);
	frame_fill(f, fn, arg, gc, NULL, site);
	f->key = gc->spawned_local++;
	/* relaxed: as in spawn_frame. */
	tg_atomic_store_relaxed_u64(&f->id, 0);
	tg__run_body(w, f, gc, false, true);
	return TG_OK;
}

int
tg_spawn_eager_named_at(tg_group *g, tg_task_fn fn, void *arg,
			const char *name, const tg_site *site)
{
	tg__gcore *gc = open_core(g);

	if (gc == NULL)
		return closed_status(g);
	return spawn(gc, fn, arg, name, site, true, true);
}

int(tg_spawn)(tg_group *g, tg_task_fn fn, void *arg)
{
	return tg_spawn_at(g, fn, arg, NULL);
}

tg__gcore *
tg__group_core(tg_group *g, int *status)
{
	tg__gcore *gc = open_core(g);

	if (gc == NULL)
		*status = closed_status(g);
	return gc;
}

int
tg__spawn_each_framewise(tg__worker *w, tg__gcore *gc, tg_task_fn fn,
			 void *args, size_t count, size_t stride,
			 const char *name, const tg_site *site)
{
	tg__frame *frames = NULL, *f;
	size_t i;

	/* Every frame first, so that the call is all or nothing. */
	for (i = 0; i < count; i++) {
		f = tg__frame_alloc(w);
		if (f == NULL) {
			while (frames != NULL) {
				f = frames;
				frames = f->next;
				tg__frame_free(w, f);
			}
			return TG_ENOMEM;
		}
		f->next = frames;
		frames = f;
	}
	for (i = 0; i < count; i++) {
		f = frames;
		frames = f->next;
		frame_fill(f, fn, tg__batch_arg(args, stride, i), gc, name,
			   site);
		/* Over the limit the child waits (tg_spawn, not try). */
		spawn_frame(w, gc, f, gc->limit != 0 && !tg__limit_slot_take(gc),
			    gc->eager);
	}
	return TG_OK;
}

