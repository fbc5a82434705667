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
	TG_POLICY_COLLECT_ALL = 1,
	/* The first child that succeeds cancels the rest (happy eyeballs);
	 * failures cancel nothing.  Join reports children's errors only if
	 * no child succeeded (fatal errors and the body's error always);
	 * tg_group_winner tells which child won. */
	TG_POLICY_FIRST_SUCCESS = 2
};

typedef struct tg_group_options {
	int policy;       /* enum tg_policy; 0 = fail-fast */
	const char *name; /* for traces; NULL = none; must outlive the group */
	/* errgroup's SetLimit: at most `limit` children of this group
	 * started and unfinished at once; 0 = no limit.  tg_spawn over the
	 * limit never waits: the child is queued in the group and starts
	 * (in spawn order) when a running child ends, so no thread blocks
	 * and no spawn can deadlock; tg_try_spawn returns TG_EAGAIN
	 * instead. */
	int limit;
	/* Python 3.12's eager task factory: non-zero, every child (tg_spawn,
	 * tg_try_spawn, tg_spawn_each and the named forms) runs at once,
	 * inside the spawn call, on the spawner's thread (see
	 * tg_spawn_eager); 0 = queued. */
	int eager;
} tg_group_options;

/* Largest concurrency limit accepted. */
#define TG_GROUP_LIMIT_MAX 0x7fffffff

/*
 * Opens a group owned by the calling task.  opts may be NULL (defaults).
 * Errors: TG_EINVAL (g NULL, an unknown policy, a negative limit),
 * TG_ENOTASK (the caller
 * is not running a task: groups need a pool, use tg_run), TG_ESTATE (g is
 * a group the calling task has open and not joined yet: the same
 * `async with` entered twice; the open group is untouched), TG_ENOMEM.
 * A handle that was joined may be opened again.
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
 * is open.  When the caller's worker already holds many queued tasks
 * (8192), tg_spawn runs tasks itself before it returns, which bounds the
 * memory a huge flat batch needs: in a pool of one worker the 64 oldest
 * queued tasks (so the batch keeps its spawn order), then it queues the
 * child; with more workers, the child at once.
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
 * Eager spawn (asyncio's eager_task_factory): fn(arg) runs as a child of
 * g at once, inside this call, on the calling thread, and the call
 * returns when it has finished; a child that returns without blocking is
 * never queued, which saves the queue's push, take and steal checks.
 * It is a child of g in every respect: its own id and spawn key (so the
 * error tree has the same children in the same order as with tg_spawn),
 * tg_current_task() inside it is the child, its checkpoints see g's
 * cancellation, and its failure is recorded and, under fail-fast,
 * cancels g before the call returns (later spawns get TG_ESHUTTINGDOWN).
 * Returns TG_OK when the child ran (whatever it returned: its error goes
 * to g, as a queued child's does) and the errors of tg_spawn otherwise
 * (a cancelled group refuses, and fn never runs).  A limited group at
 * its limit queues the child as tg_spawn does, to start when a slot
 * frees.
 * Where C differs from Python: a C task cannot suspend half-way and be
 * queued, so an eager child runs to its end inside the call; one that
 * waits for a sibling spawned after it would wait for ever (spawn the
 * waiters queued).  A child that blocks should do so in a blocking region
 * (tg_blocking_begin, tg_sleep, tg_barrier_wait): the region publishes
 * the spawner's queued children and starts a compensating worker, so an
 * eager spawn cannot starve the pool, on one worker included.  Eager
 * children nest on the spawner's stack as plain calls do.
 * Thread-safety: as tg_spawn.
 */
TG_API int tg_spawn_eager_at(tg_group *g, tg_task_fn fn, void *arg,
			     const tg_site *site);
TG_API int tg_spawn_eager_named_at(tg_group *g, tg_task_fn fn, void *arg,
				   const char *name, const tg_site *site);
#define tg_spawn_eager(g, fn, arg)                                           \
	tg_spawn_eager_at((g), (fn), (arg), TG_SITE())
#define tg_spawn_eager_named(g, fn, arg, name)                               \
	tg_spawn_eager_named_at((g), (fn), (arg), (name), TG_SITE())

/* The most children one tg_spawn_each accepts: 2^48 (SIZE_MAX where
 * size_t is narrower). */
#if SIZE_MAX > 0xffffffffu
#define TG_SPAWN_EACH_MAX ((size_t)1 << 48)
#else
#define TG_SPAWN_EACH_MAX SIZE_MAX
#endif

/*
 * Spawns count children of g in one call: child i runs
 * fn((char *)args + i * stride), so pass an array and the size of its
 * element (stride 0: every child gets args itself).  The result is that of
 * count calls of tg_spawn in index order: each child is a task of its own
 * (its own id, its place in the error order, its cancellation: a child not
 * started when g is cancelled is skipped, never run), except that
 *   - it is all or nothing: TG_OK means every child will run or be
 *     skipped as cancelled; an error means none will;
 *   - the children are not queued one by one: g gets one range of them,
 *     which runs them in index order and gives the upper half of what it
 *     has not started to an idle worker that asks for work (that worker
 *     splits its half in turn).  A batch of any size costs a few blocks
 *     (one per call and one per split, never one per child, taken from
 *     the worker's cache of ended ranges once warm, so steady calls on
 *     one worker allocate nothing) and spreads over the pool.  As with
 *     tg_spawn, a child that waits for a sibling without joining must
 *     checkpoint (tg_cancelled) for the siblings behind it to be handed
 *     to other workers.
 * In a group with a limit or the first-success policy the children are
 * spawned one by one (a task frame each, all allocated before the first
 * is queued).
 * Errors: as tg_spawn_at (TG_EINVAL, TG_EFINISHED, TG_ESHUTTINGDOWN,
 * TG_ENOTASK, TG_ENOMEM), and TG_EINVAL for args NULL with stride not 0,
 * count above TG_SPAWN_EACH_MAX, or an element (count - 1) * stride bytes
 * past args beyond the address space.  count 0 spawns nothing (TG_OK when
 * tg_spawn would succeed).  site is the spawn site of every child
 * (TG_SITE(); may be NULL).  name (tg_spawn_each_named) labels every
 * child, as tg_spawn_named's does one: in traces and errors; it must
 * outlive the children.
 * Thread-safety: as tg_spawn_at.
 */
TG_API int tg_spawn_each_at(tg_group *g, tg_task_fn fn, void *args,
			    size_t count, size_t stride, const tg_site *site);
TG_API int tg_spawn_each_named_at(tg_group *g, tg_task_fn fn, void *args,
				  size_t count, size_t stride,
				  const char *name, const tg_site *site);
#define tg_spawn_each(g, fn, args, count, stride)                            \
	tg_spawn_each_at((g), (fn), (args), (count), (stride), TG_SITE())
#define tg_spawn_each_named(g, fn, args, count, stride, name)                \
	tg_spawn_each_named_at((g), (fn), (args), (count), (stride), (name), \
			       TG_SITE())

/*
 * errgroup's TryGo: tg_spawn that does not queue over the concurrency
 * limit.  Returns TG_EAGAIN, and fn never runs, when g is at its limit;
 * otherwise exactly as tg_spawn_at.
 */
TG_API int tg_try_spawn_at(tg_group *g, tg_task_fn fn, void *arg,
			   const tg_site *site);
#define tg_try_spawn(g, fn, arg) tg_try_spawn_at((g), (fn), (arg), TG_SITE())

/*
 * Waits for every child (and their children), then returns NULL or the
 * group's error (new reference; see the header comment).  body_err is the
 * body's own error, consumed; NULL for none; a non-cancellation body error
 * aborts the group first (fail-fast), as an exception leaving
 * `async with` does.  Cancellation results:
 *   - cancelled by tg_group_cancel only: NULL (unless children failed);
 *   - cancelled because an enclosing scope was cancelled, with no real
 *     errors: a CancelledError, so the cancellation travels up (an outer
 *     cancellation is never turned into a timeout);
 *   - else, if g's own deadline expired: a TimeoutError, caused by the
 *     CancelledError it converted (tg_group_set_deadline);
 *   - real errors always win over cancellation and timeout.
 * Fatal errors (tg_Interrupt and other FATAL types): the group still
 * cancels and waits for everything; the result is then the first fatal
 * error (depth first, spawn order) as the root, with every other error of
 * the group attached as its context (tg_error_context).
 * Misuse returns a RuntimeError whose tg_error_code is the status, and
 * consumes body_err into it (kept as its context): TG_EINVAL (g NULL or never
 * initialised), TG_EFINISHED (joined already), TG_ENOTOWNER (caller is not
 * the task that opened g), TG_ESTATE (a group opened inside g by the same
 * task is still open: join the innermost first).
 *
 * A task that returns while a group it opened is still open has it joined
 * by the runtime as it returns (so no child outlives it); the group's
 * errors plus a RuntimeError naming the group are added to the task's
 * result.  The handle's storage must not be used after that.
 * Thread-safety: the owning task only (TG_ENOTOWNER above), also while
 * other tasks and threads move g's deadline.
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

/* ------------------------------------------------------------------ */
/* Deadlines (asyncio.timeout / timeout_at)                             */

/* No deadline. */
#define TG_DEADLINE_NONE INT64_MAX

/* The monotonic clock deadlines use (CLOCK_MONOTONIC), in nanoseconds.
 * Thread-safe. */
TG_API int64_t tg_now_ns(void);

/*
 * Sets, moves or (with TG_DEADLINE_NONE) removes g's deadline, an absolute
 * tg_now_ns() time (asyncio.timeout_at; moving it is Timeout.reschedule).
 * When it passes, g is cancelled as by tg_group_cancel, and its join
 * reports a TimeoutError whose cause (tg_error_cause) is the
 * CancelledError it converted: the body's, when the body handed one to
 * tg_group_join, else one made by the join (Python raises TimeoutError
 * from CancelledError).  Real errors or an outer cancellation take
 * precedence (see tg_group_join).  A deadline not in the future cancels
 * g at once, inside the call.  Only g's own deadline becomes a
 * TimeoutError: a nested group cancelled by its parent's expiry reports a
 * CancelledError, which the parent's join then turns into its timeout.
 * Errors: TG_EINVAL (g NULL or never initialised, deadline_ns < 0),
 * TG_EFINISHED (joined), TG_ENOTOWNER (the caller is not the task that
 * opened g, and that task has not given g a deadline yet), TG_ESTATE (g's
 * deadline already expired: a timeout that fired cannot be rescheduled,
 * as in asyncio), TG_ENOMEM, TG_EAGAIN (the pool's timer thread could not
 * be started).
 * Thread-safety: the first call must come from the owning task (as
 * `async with asyncio.timeout(None) as cm` makes the Timeout that other
 * tasks then reschedule; TG_DEADLINE_NONE is such a first call).  After
 * it, any task or thread may move or remove the deadline while g is
 * open: the call must return before g's join does (a task running inside
 * g, or a thread that one of g's tasks waits for, say).  Calls are
 * serialised by the pool's timer lock; the last one made before the
 * deadline passes wins.  Only the owner may join g.
 */
TG_API int tg_group_set_deadline(tg_group *g, int64_t deadline_ns);

/*
 * tg_group_set_deadline(g, tg_now_ns() + timeout_ns) (asyncio.timeout).
 * A negative timeout_ns is accepted, as asyncio.timeout(-11) is: a
 * deadline already past, so g expires inside the call.  Errors as
 * tg_group_set_deadline, except that TG_EINVAL is for g NULL or never
 * initialised, and for a timeout whose sum with tg_now_ns() overflows
 * int64_t or reaches TG_DEADLINE_NONE (the only timeout refused).
 * Thread-safety: as tg_group_set_deadline.
 */
TG_API int tg_group_set_timeout(tg_group *g, int64_t timeout_ns);

/*
 * g's deadline (Timeout.when()), TG_DEADLINE_NONE when it has none.  After
 * the join, the deadline g had when it was joined (even if it expired);
 * TG_DEADLINE_NONE for NULL, never-initialised handles and groups joined
 * without a deadline.  Thread-safety: while g is open, any task or thread
 * (as tg_group_set_deadline: before g's join returns; read under the
 * timer lock, so a racing move gives the old or the new value); after the
 * join, the owner or a thread ordered after the join.
 */
TG_API int64_t tg_group_deadline(const tg_group *g);

/*
 * True once g's own deadline has expired (Timeout.expired()), and from
 * then on: the answer stays after the join (whether or not the join
 * reported the TimeoutError: real errors or an outer cancellation may
 * have won).  false for NULL or never-initialised handles.
 * Thread-safety: as tg_group_deadline.
 */
TG_API bool tg_group_expired(const tg_group *g);

/*
 * First-success groups: after join, the arg of the child that succeeded
 * first (give each child its own argument block and have it write its
 * result there, as with pthread_create).  Returns TG_OK and sets *arg_out,
 * or TG_EINVAL (g or arg_out NULL, or never initialised), TG_ESTATE (not
 * joined yet, or g is not TG_POLICY_FIRST_SUCCESS), TG_ENOENT (no child
 * succeeded).  Thread-safety: the owning task.
 */
TG_API int tg_group_winner(const tg_group *g, void **arg_out);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_GROUP_H */
