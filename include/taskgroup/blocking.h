/*
 * taskgroup/blocking.h - tasks that block: blocking regions (Java's
 * ForkJoinPool.managedBlock, Go's entry into a system call) and a
 * cancel-aware sleep (asyncio.sleep).
 *
 *     tg_blocking_begin();
 *     n = read(fd, buf, len);          // may wait for a long time
 *     tg_blocking_end();
 *
 * A worker that blocks holds its thread.  Inside a blocking region the
 * pool hands the worker's queued tasks to the others (they become
 * stealable at once) and, when fewer than tg_runner_config.threads
 * workers are then outside blocking regions, starts or wakes a
 * compensating worker, so that the pool keeps `threads` workers running
 * tasks.  Compensating workers are bounded (tg_runner_config.max_blocking);
 * when the blocking ends they finish what they run, park for a while and
 * exit.  tg_sleep, tg_barrier_wait and a join that has to wait for
 * children running elsewhere use the same machinery.
 *
 * Blocking the library does not see (a plain read or usleep) is caught
 * later by the pool's starvation detector (tg_runner_config.starvation_ns,
 * docs/design.md "Blocking"), which adds a compensating worker when
 * queued work has waited that long while every worker ran one task
 * without returning.  A region is cheaper and immediate: use one around
 * every call that may wait.
 *
 * A task inside a region stays cancellable only through its own
 * checkpoints: the region does not interrupt the call.  For a wait on
 * something of the task's own (a condition variable, a socket), wait in
 * slices and call tg_cancelled() between them, or have the code that
 * cancels also wake the wait (docs/cancellation.md, "Blocking calls";
 * docs/examples/cancellable_wait.c).
 */
#ifndef TASKGROUP_BLOCKING_H
#define TASKGROUP_BLOCKING_H

#include <stdint.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Enters a blocking region on the calling worker.  Regions nest: only the
 * outermost begin hands the queue over and counts the worker as blocked,
 * and only the matching end counts it back.  On threads that are not
 * workers of a pool (main, a runner's caller) it does nothing and returns
 * TG_OK, so code that may run either way needs no test.
 * Errors: TG_EINVAL when nested more than TG_BLOCKING_DEPTH_MAX deep
 * (nothing changes).  A compensating worker that cannot be started (no
 * thread, no memory, the max_blocking bound reached) is not an error: the
 * region is entered and the pool runs with fewer workers until it ends.
 * Thread-safety: acts on the calling thread's worker only.
 */
TG_API int tg_blocking_begin(void);

/*
 * Leaves the innermost blocking region of the calling worker.  Errors:
 * TG_ESTATE when the calling thread is a worker with no region open (an
 * unmatched end; nothing changes).  On threads that are not workers it
 * does nothing and returns TG_OK.  Thread-safety: as tg_blocking_begin.
 * A region must end in the task that began it: a task that returns with
 * regions open has them closed by the runtime (they count no longer).
 */
TG_API int tg_blocking_end(void);

/* Deepest nesting of blocking regions on one worker. */
#define TG_BLOCKING_DEPTH_MAX 1000

/* How many blocking regions the calling worker has open (0 when none,
 * and on threads that are not workers).  Thread-safe. */
TG_API int tg_blocking_depth(void);

/*
 * asyncio.sleep: sleeps ns nanoseconds (CLOCK_MONOTONIC) inside a
 * blocking region, so the worker's queued tasks run elsewhere meanwhile.
 * Returns NULL after the full time, or a new CancelledError as soon as
 * the calling task's scope is cancelled (before or during the sleep; the
 * wake is prompt: cancellation wakes the sleeper).  ns <= 0 is a
 * checkpoint that also lets other tasks run: it returns CancelledError if
 * the scope is cancelled, else NULL.  Outside tasks it is a plain sleep
 * that nothing cancels.  The preallocated MemoryError comes back where a
 * CancelledError cannot be allocated.  Thread-safe.
 */
TG_API tg_error *tg_sleep(int64_t ns);

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_BLOCKING_H */
