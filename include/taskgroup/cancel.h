/*
 * taskgroup/cancel.h - cooperative cancellation checkpoints.
 *
 * Cancellation is level-triggered: once the current scope (the innermost
 * open group of the running task, else the group the task belongs to) or
 * any enclosing scope is cancelled, every later checkpoint in it says so.
 * A checkpoint costs a thread-local read and one load of the pool's
 * cancellation epoch; the scope chain is consulted only after some group
 * of the pool was cancelled (see docs/design.md, "Cancellation").
 */
#ifndef TASKGROUP_CANCEL_H
#define TASKGROUP_CANCEL_H

#include <stdbool.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True if the calling task's scope is cancelled.  false outside tasks.
 * Thread-safe (it reads the calling thread's own state). */
TG_API bool tg_cancelled(void);

/* NULL, or a new CancelledError recording where the checkpoint is, when the
 * calling task's scope is cancelled (NULL outside tasks).  Thread-safe, as
 * tg_cancelled.  If the error cannot be allocated, the preallocated
 * MemoryError comes back instead (still non-NULL). */
TG_API tg_error *tg_checkpoint_at(const char *file, int line, const char *func);

/* The `await` point: returns a CancelledError from the enclosing task
 * function when its scope is cancelled.  Use it in functions returning
 * tg_error *. */
#define TG_CHECKPOINT()                                                      \
	do {                                                                 \
		if (tg_cancelled())                                          \
			return tg_checkpoint_at(__FILE__, __LINE__, __func__); \
	} while (0)

#ifdef __cplusplus
}
#endif

#endif /* TASKGROUP_CANCEL_H */
