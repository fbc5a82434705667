/*
 * taskgroup/group.h - task groups (asyncio.TaskGroup on a thread pool).
 *
 *     tg_group g;
 *     tg_group_init(&g, NULL);              // async with TaskGroup() as g:
 *     tg_spawn(&g, work, &item[0]);         //     g.create_task(work(...))
 *     tg_spawn(&g, work, &item[1]);
 *     tg_error *err = tg_group_join(&g, NULL);   // leaving the block
 *
 * A group is opened inside a task (the body of tg_run, a runner, or any
 * child, at any depth) and joined by that same task, in nesting order.
 * Children run in parallel on the pool's workers.  tg_group_join returns
 * only when every child, and every child's children, has finished; a
 * joining worker runs pending tasks meanwhile instead of sleeping.
 *
 * Errors: join returns NULL when nothing failed, else a group node
 * "unhandled errors in a task group (N sub-errors)" with the children's
 * errors in spawn order (children spawned by the owning task first, in the
 * order it spawned them; then children spawned into the group by other
 * tasks) and the body's error last.  Cancellations are never leaves.
 *
 * Fail-fast (the default policy): the first error that is not a
 * cancellation cancels the group: children not yet started are skipped
 * (counted as cancelled, never run), running children and the body see
 * tg_cancelled() at their next checkpoint, nested groups inherit it.
 */
#ifndef TASKGROUP_GROUP_H
#define TASKGROUP_GROUP_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task: returns NULL on success or an error it hands over. */
typedef tg_error *(*tg_task_fn)(void *arg);

/* The group handle, in caller storage (a local of the owning task, say).
 * Opaque; its size is part of the ABI.  The shared state lives in a block
 * from the owning worker's cache, so a child never touches this storage. */
typedef struct tg_group {
	uint64_t tg__opaque[4];
} tg_group;

enum tg_policy {
	/* The first real error cancels the group (asyncio.TaskGroup). */
	TG_POLICY_FAIL_FAST = 0,
	/* Nothing is cancelled by a failure; every child runs and every error
	 * is kept (gather(return_exceptions=True), a supervisor). */
	TG_POLICY_COLLECT_ALL = 1
};

typedef struct tg_group_options {
	int policy;       /* enum tg_policy; 0 = fail-fast */
	const char *name; /* for traces; NULL = none; must outlive the group */
} tg_group_options;

/*
 * Opens a group owned by the calling task.  opts may be NULL (defaults).
 * Errors: TG_EINVAL (g NULL, or an unknown policy), TG_ENOTASK (the caller
 * is not running a task: groups need a pool, use tg_run), TG_ENOMEM.
 * If the enclosing scope is already cancelled the group starts cancelled.
 * Thread-safety: g belongs to the calling task until joined.
 */
TG_API int tg_group_init(tg_group *g, const tg_group_options *opts);

/*
 * Schedules fn(arg) as a child of g.  TG_OK means fn will run exactly
 * once, or be skipped as cancelled before it starts (fail-fast abort);
 * never dropped.  Any error means fn never runs and arg stays the
 * caller's.  Errors: TG_EINVAL (g or fn NULL, g never initialised),
 * TG_EFINISHED (g already joined), TG_ESHUTTINGDOWN (g is aborting or
 * cancelled), TG_ENOTASK (caller runs no task), TG_ENOMEM.
 * Thread-safety: callable from the owning task and from any task running
 * inside g (children may spawn siblings into it, also while the owner
 * waits in tg_group_join); from elsewhere only while the caller knows g
 * is open.  When the caller's worker already holds many queued tasks the
 * child runs at once, inside tg_spawn, which bounds the memory a huge
 * flat batch needs.
 *
 * name (tg_spawn_named) labels the task in traces and errors; it must
 * outlive the task (a string literal, say); errors copy it.  site is the
 * spawn site recorded for provenance (TG_SITE(); may be NULL).
 */
TG_API int tg_spawn_at(tg_group *g, tg_task_fn fn, void *arg,
		       const tg_site *site);
TG_API int tg_spawn_named_at(tg_group *g, tg_task_fn fn, void *arg,
			     const char *name, const tg_site *site);

/* tg_spawn(&g, fn, arg), recording the spawn site.  (tg_spawn)(...)
 * calls the plain function, which records none. */
#define tg_spawn(g, fn, arg) tg_spawn_at((g), (fn), (arg), TG_SITE())
#define tg_spawn_named(g, fn, arg, name)                                     \
	tg_spawn_named_at((g), (fn), (arg), (name), TG_SITE())
TG_API int(tg_spawn)(tg_group *g, tg_task_fn fn, void *arg);

/*
 * Waits for every child (and their children), then returns NULL or the
 * group's error (new reference; see the header comment).  body_err is the
 * body's own error, consumed; NULL for none; a non-cancellation body error
 * aborts the group first (fail-fast), as an exception leaving
 * `async with` does.  Cancellation results:
 *   - cancelled by tg_group_cancel only: NULL (unless children failed);
 *   - cancelled because an enclosing scope was cancelled, with no real
 *     errors: a CancelledError, so the cancellation travels up.
 * Misuse returns a RuntimeError whose tg_error_code is the status, and
 * consumes body_err into it as a child: TG_EINVAL (g NULL or never
 * initialised), TG_EFINISHED (joined already), TG_ENOTOWNER (caller is not
 * the task that opened g), TG_ESTATE (a group opened inside g by the same
 * task is still open: join the innermost first).
 *
 * A task that returns while a group it opened is still open has it joined
 * by the runtime as it returns (so no child outlives it); the group's
 * errors plus a RuntimeError naming the group are added to the task's
 * result.  The handle's storage must not be used after that.
 */
TG_API tg_error *tg_group_join(tg_group *g, tg_error *body_err);

/*
 * Python 3.15's TaskGroup.cancel(): cancels g's children and body without
 * producing an error of its own; the group still waits for its children
 * and still reports those that fail while unwinding.  Idempotent; valid at
 * any time after init, and a no-op after join.  Returns TG_OK or TG_EINVAL
 * (g NULL or never initialised).  Thread-safety: callable from any task or
 * thread while g is open.
 */
TG_API int tg_group_cancel(tg_group *g);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_GROUP_H */
